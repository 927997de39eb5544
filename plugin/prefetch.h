/*
 * plugin/prefetch.h - the warm start (plugin_opt_identities_file): at
 * start, look up the TLSA records of the identities admitted before the
 * restart (identities.h), before their devices come back.
 *
 * Prefetches are ordinary FETCH jobs (workers.h): the same single-flight
 * TLSA cache and DNS thread as a CONNECT, so a device arriving while its
 * prefetch is in flight joins that lookup, and an answer is an ordinary
 * DNSSEC-validated cache entry with its own TTL (a revoked device gets
 * the cached negative answer and is refused as it would be without it).
 *
 * Prefetch must not starve live CONNECTs: at most batch_max (half of
 * plugin_opt_dns_inflight) of its lookups are under way at once, and it
 * only queues while the work queue is less than half full. mdp_prefetch_tick,
 * called from TICK after the completions were drained, tops the batch up.
 *
 * Host (broker) thread only. No Mosquitto headers: part of
 * dance_plugin_core.
 */
#ifndef MDP_PREFETCH_H
#define MDP_PREFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "workers.h"

typedef struct mdp_prefetch mdp_prefetch;

/* What the prefetch did ($SYS prefetch/...). */
typedef struct mdp_prefetch_counters {
    uint64_t identities;        /* names to prefetch */
    uint64_t secure;            /* answered with secure records */
    uint64_t negative;          /* secure "no such record" (revoked) */
    uint64_t failed;            /* bogus, insecure, lookup failures */
    uint64_t pending;           /* not answered yet */
} mdp_prefetch_counters;

/* mdp_prefetch_new - prefetch the TLSA records at owners[0..n), the
 * owner names of identities[0..n) (both copied), at most batch_max (0: 1)
 * at once, while fewer than queue_reserve (0: 1)
 * jobs wait in the work queue. NULL on ENOMEM. */
mdp_prefetch *mdp_prefetch_new(const char *const *identities, const char *const *owners,
                               size_t n, size_t batch_max, size_t queue_reserve);

void mdp_prefetch_free(mdp_prefetch *pf);          /* NULL-safe */

/* mdp_prefetch_tick - queue more lookups on w, within the bounds. */
void mdp_prefetch_tick(mdp_prefetch *pf, mdp_workers *w);

/* mdp_prefetch_fetch_done - a FETCH finished (the workers' fetch_done
 * hook): counted when it is one of the prefetch's, and then *identity
 * names its identity (valid while pf lives; NULL when not counted). True
 * when it was the last one (the prefetch is complete; log it once). */
bool mdp_prefetch_fetch_done(mdp_prefetch *pf, const mdp_fetch_done *d,
                             const char **identity);

/* mdp_prefetch_asked - a device asks for owner (a cold CONNECT): when
 * the prefetch's lookup for it is under way, the device now waits on it. */
void mdp_prefetch_asked(mdp_prefetch *pf, const char *owner);

/* mdp_prefetch_unasked - the prefetch's lookups under way that no device
 * asked for yet. */
size_t mdp_prefetch_unasked(const mdp_prefetch *pf);

/* mdp_prefetch_complete - every name answered (or nothing to do). */
bool mdp_prefetch_complete(const mdp_prefetch *pf);

void mdp_prefetch_get_counters(const mdp_prefetch *pf, mdp_prefetch_counters *out);

#endif
