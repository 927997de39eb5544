/*
 * dance/cache.h - thread-safe TLSA answer cache with single flight.
 *
 * Keyed by owner name. Positive answers live clamp(TTL, min_ttl, max_ttl),
 * secure negatives negative_ttl, insecure/bogus/failure failure_ttl (so a
 * dead or broken server is not hammered). Bounded: least recently used
 * entries are evicted. Concurrent misses for one name make one DNS query:
 * the first caller fetches, the others wait for its answer.
 *
 * The cache does not know how to resolve: callers pass a fetch function,
 * which runs without the cache lock held.
 */
#ifndef DANCE_CACHE_H
#define DANCE_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include "dance/resolver.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic clock in milliseconds; injectable for tests. */
typedef uint64_t (*dance_clock_fn)(void *ctx);
uint64_t dance_clock_monotonic_ms(void *ctx);

typedef struct dance_cache_config {
    size_t capacity;            /* max entries; 0: default 10000 */
    uint32_t min_ttl;           /* seconds; default 0 given as 0 */
    uint32_t max_ttl;           /* seconds; 0: default 3600 */
    uint32_t negative_ttl;      /* seconds for secure negatives */
    uint32_t failure_ttl;       /* seconds for failure/bogus/insecure; 0: not cached */
    dance_clock_fn clock;       /* NULL: dance_clock_monotonic_ms */
    void *clock_ctx;
} dance_cache_config;

typedef struct dance_cache_stats {
    uint64_t hits, misses, queries, failures, evictions;
    uint64_t entries;           /* current */
} dance_cache_stats;

typedef struct dance_cache dance_cache;

/* Fills out (cleared) with the answer for owner. Runs unlocked. */
typedef void (*dance_fetch_fn)(void *ctx, const char *owner, dance_tlsa_result *out);

dance_cache *dance_cache_new(const dance_cache_config *cfg);   /* NULL on ENOMEM */
void dance_cache_free(dance_cache *c);   /* no fetch may be running */

/* dance_cache_get - copy a fresh entry into out (cleared). Counts a hit or a
 * miss. Returns true on a hit; never waits, never fetches. */
bool dance_cache_get(dance_cache *c, const char *owner, dance_tlsa_result *out);

/* dance_cache_fetch - fresh entry, or wait for a fetch already in flight,
 * or call fetch(ctx, owner, ...) and store its answer. Always fills out.
 * Returns 0, or -1 on allocation failure (out then says FAILURE). */
int dance_cache_fetch(dance_cache *c, const char *owner,
                      dance_fetch_fn fetch, void *ctx, dance_tlsa_result *out);

/* dance_cache_wait - wait up to timeout_ms for a fresh entry for owner
 * (typically one a worker is fetching). Returns true and fills out when one
 * is there in time. Does not count hits/misses and does not fetch. */
bool dance_cache_wait(dance_cache *c, const char *owner, unsigned timeout_ms,
                      dance_tlsa_result *out);

/* dance_cache_in_flight - true while a fetch for owner is running. */
bool dance_cache_in_flight(dance_cache *c, const char *owner);

/* dance_cache_put - store an answer directly (TTL rules apply). 0 or -1. */
int dance_cache_put(dance_cache *c, const char *owner, const dance_tlsa_result *r);

void dance_cache_flush(dance_cache *c);   /* drop all entries (not in-flight marks) */
void dance_cache_get_stats(dance_cache *c, dance_cache_stats *out);

#ifdef __cplusplus
}
#endif
#endif
