/*
 * dance/cache.h - thread-safe TLSA answer cache with single flight.
 *
 * Keyed by owner name. Positive answers live clamp(TTL, min_ttl, max_ttl),
 * except that min_ttl never raises the TTL past the answer's sig_ttl (the
 * time left until its first RRSIG expires; unknown, 0: not raised at all),
 * secure negatives negative_ttl, insecure/bogus/failure failure_ttl (so a
 * dead or broken server is not hammered). Bounded: least recently used
 * entries are evicted. Concurrent misses for one name make one DNS query:
 * the first caller fetches, the others wait for its answer.
 *
 * The cache does not know how to resolve: callers pass a fetch function,
 * which runs without the cache lock held.
 *
 * Owner names: the key is the name with ASCII case folded and one trailing
 * dot stripped (callers normally pass dance_name_normalize output). Empty
 * names and names over DANCE_CACHE_OWNER_MAX octets are refused.
 *
 * Answers handed out (copies and entry handles) carry the TTL the fetch
 * returned, not the time left in the cache. An answer whose lifetime is 0
 * (failure_ttl 0, negative_ttl 0, or TTL 0 with min_ttl 0) is handed to the
 * caller and to everyone waiting for that fetch, but not stored; the newest
 * answer for a name always replaces (or, when not storable, removes) an
 * older entry.
 *
 * Flush: entries go, fetches in flight keep running and their waiters get
 * their answers, but an answer from a fetch that began before a flush is
 * not stored (it may come from the configuration the flush is discarding).
 * An answer for a name that was evicted meanwhile is stored as usual.
 *
 * Clock: the injectable clock drives expiry only; dance_cache_wait timeouts
 * use the real monotonic clock.
 */
#ifndef DANCE_CACHE_H
#define DANCE_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include "dance/clock.h"
#include "dance/resolver.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest owner name accepted as a key (a DNS name in text form). */
#define DANCE_CACHE_OWNER_MAX 253

typedef struct dance_cache_config {
    size_t capacity;            /* max entries; 0: default 10000 */
    uint32_t min_ttl;           /* seconds; default 0 given as 0; capped per
                                   answer by its sig_ttl (resolver.h) */
    uint32_t max_ttl;           /* seconds; 0: default 3600; wins over min_ttl */
    uint32_t negative_ttl;      /* seconds for secure negatives */
    uint32_t failure_ttl;       /* seconds for failure/bogus/insecure; 0: not cached */
    dance_clock_fn clock;       /* NULL: dance_clock_monotonic_ms */
    void *clock_ctx;
} dance_cache_config;

typedef struct dance_cache_stats {
    uint64_t hits, misses;      /* lookups by get/acquire/fetch */
    uint64_t queries;           /* calls of a fetch function */
    uint64_t failures;          /* fetched answers with status LOOKUP_FAILED */
    uint64_t evictions;         /* unexpired entries dropped for room */
    uint64_t entries;           /* held now (expired ones go lazily) */
} dance_cache_stats;

typedef struct dance_cache dance_cache;

/* Fills out (cleared) with the answer for owner. Runs unlocked. */
typedef void (*dance_fetch_fn)(void *ctx, const char *owner, dance_tlsa_result *out);

/* dance_cache_key - the cache's key for owner: ASCII case folded, one
 * trailing dot off. Returns its length, or 0 for a NULL, empty or too long
 * owner (one the cache refuses). For callers that track lookups per owner
 * name beside the cache. */
size_t dance_cache_key(const char *owner, char key[DANCE_CACHE_OWNER_MAX + 1]);

dance_cache *dance_cache_new(const dance_cache_config *cfg);   /* NULL on ENOMEM */
/* dance_cache_free - NULL-safe. No fetch or wait may be running. Entry
 * handles still held stay valid until released. */
void dance_cache_free(dance_cache *c);

/* dance_cache_get - copy a fresh entry into out (cleared). Counts a hit or a
 * miss. Returns true on a hit; never waits, never fetches. When the copy
 * cannot be allocated it returns false with out saying LOOKUP_FAILED. */
bool dance_cache_get(dance_cache *c, const char *owner, dance_tlsa_result *out);

/* dance_cache_fetch - fresh entry, or wait for a fetch already in flight,
 * or call fetch(ctx, owner, ...) and store its answer. Always fills out.
 * Counts a hit (fresh entry) or a miss, like dance_cache_get; fetch is
 * called with the cache's key (folded owner). Returns 0, or -1 on
 * allocation failure or an unusable owner (out then says LOOKUP_FAILED). */
int dance_cache_fetch(dance_cache *c, const char *owner,
                      dance_fetch_fn fetch, void *ctx, dance_tlsa_result *out);

/*
 * Asynchronous flights: the single flight of dance_cache_fetch for a lookup
 * that runs elsewhere (an asynchronous resolver) instead of in a fetch
 * function on the calling thread.
 */

/* dance_cache_begin - start a flight for owner. Returns 1 when the caller
 * must now look owner up and then call dance_cache_complete exactly once
 * (there was no fresh entry and no fetch in flight; the flight is marked,
 * so dance_cache_in_flight says true and dance_cache_fetch and
 * dance_cache_wait callers join it); 0 when a fresh entry is there or a
 * fetch for owner is already in flight (nothing to start); -1 for an
 * unusable owner or on allocation failure (no flight). Counts a query when
 * it returns 1, and no hit or miss. */
int dance_cache_begin(dance_cache *c, const char *owner);

/* dance_cache_complete - the answer of the lookup that dance_cache_begin
 * (returning 1) started: answer is normalised in place as dance_cache_fetch
 * hands it out (records and TTL only for a secure answer, an impossible
 * status made a failure), stored by the TTL rules (not when the cache was
 * flushed since the begin), handed to everyone waiting for the flight, and
 * the flight ends. Returns 0, or -1 on allocation failure (answer then
 * says LOOKUP_FAILED and the waiters get that failure too). Without a
 * flight for owner it stores the answer like dance_cache_put. */
int dance_cache_complete(dance_cache *c, const char *owner, dance_tlsa_result *answer);

/* dance_cache_wait - wait up to timeout_ms for a fresh entry for owner, or
 * for the answer of a fetch for owner that is running or starts while we
 * wait (so it works even when the worker has not picked the job up yet).
 * Returns true and fills out when an answer is there in time; false with
 * out cleared (LOOKUP_FAILED) otherwise. Does not count hits/misses and does not
 * fetch. */
bool dance_cache_wait(dance_cache *c, const char *owner, unsigned timeout_ms,
                      dance_tlsa_result *out);

/* dance_cache_in_flight - true while a fetch for owner is running. */
bool dance_cache_in_flight(dance_cache *c, const char *owner);

/* dance_cache_put - store an answer directly (TTL rules apply). 0 or -1. */
int dance_cache_put(dance_cache *c, const char *owner, const dance_tlsa_result *r);

void dance_cache_flush(dance_cache *c);   /* drop all entries (not in-flight marks) */
void dance_cache_get_stats(dance_cache *c, dance_cache_stats *out);

/*
 * Entry handles: the cheap hit path (no copy, no allocation).
 *
 * An entry is immutable and reference counted. dance_cache_acquire returns
 * a reference the caller must give back with dance_cache_entry_release
 * (from any thread, without the cache lock). A handle stays valid after the
 * entry expires, is evicted or flushed, and after dance_cache_free; the
 * records it shows never change.
 */
typedef struct dance_cache_entry dance_cache_entry;

/* dance_cache_acquire - reference to the fresh entry for owner, or NULL.
 * Counts a hit or a miss like dance_cache_get; never waits or fetches. */
const dance_cache_entry *dance_cache_acquire(dance_cache *c, const char *owner);

/* dance_cache_entry_release - drop a reference; NULL-safe. */
void dance_cache_entry_release(const dance_cache_entry *e);

dance_status dance_cache_entry_status(const dance_cache_entry *e);
uint32_t dance_cache_entry_ttl(const dance_cache_entry *e);      /* as fetched */
/* Records of a secure (DANCE_OK) answer (empty set otherwise); owned by the entry. */
const dance_tlsa_rrset *dance_cache_entry_records(const dance_cache_entry *e);
const char *dance_cache_entry_reason(const dance_cache_entry *e); /* never NULL */
const char *dance_cache_entry_owner(const dance_cache_entry *e);  /* the key */

/* dance_cache_entry_to_result - deep copy into out (cleared or zeroed).
 * Returns 0, or -1 on allocation failure (out then says LOOKUP_FAILED). */
int dance_cache_entry_to_result(const dance_cache_entry *e, dance_tlsa_result *out);

#ifdef __cplusplus
}
#endif
#endif
