/*
 * plugin/workers.h - the plugin's background work off the broker thread:
 * TLSA lookups on one DNS thread (many in flight), DANE re-checks on
 * worker threads. Design notes are in workers.c.
 *
 * start, stop and drain are called from the broker (host) thread; the
 * submit calls, room and stats from any thread (the message pipeline
 * submits from its verify threads). Completions run on the host thread inside
 * mdp_workers_drain, which the plugin calls from TICK; nothing here
 * calls Mosquitto.
 */
#ifndef MDP_WORKERS_H
#define MDP_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include "dance/cache.h"
#include "dance/dane.h"
#include "dance/resolver.h"
#include "dance/token.h"
#include "decide.h"

typedef enum mdp_job_type {
    MDP_JOB_FETCH,            /* warm the cache for one owner name */
    MDP_JOB_REVALIDATE,       /* re-check one connected client */
    MDP_JOB_SENDER_FETCH,     /* TLSA answer for a message sender, handed
                                   over as soon as it is there */
    MDP_JOB_TYPE_COUNT
} mdp_job_type;

typedef struct mdp_workers mdp_workers;

typedef struct mdp_workers_config {
    unsigned threads;                   /* >= 1: re-checks */
    size_t queue_max;                   /* jobs waiting; more are dropped */
    unsigned dns_inflight;              /* lookups at once; 0: 1 */
    const dance_resolver_config *resolver;  /* for the DNS thread */
    dance_cache *cache;                 /* shared, thread-safe */
    const dance_matcher *matcher;       /* shared, immutable */
    mdp_identity_source idsrc;
    const dance_token_policy *token_policy; /* shared, read-only; NULL:
                                           token re-checks refused */
} mdp_workers_config;

/* What a finished FETCH reports (pointers valid during the hook only). */
typedef struct mdp_fetch_done {
    const char *owner;
    dance_status status;
    const char *reason;
} mdp_fetch_done;

/* What a finished REVALIDATE reports (pointers valid during the hook). */
typedef struct mdp_revalidate_done {
    const void *client;             /* as submitted: the registry key */
    uint64_t token;                 /* as submitted */
    const char *identity;
    const char *owner;
    dance_status status;            /* of the DNS answer used */
    const mdp_verdict *verdict;
} mdp_revalidate_done;

typedef struct mdp_workers_hooks {
    void *ctx;
    void (*fetch_done)(void *ctx, const mdp_fetch_done *d);           /* may be NULL */
    void (*revalidate_done)(void *ctx, const mdp_revalidate_done *d); /* may be NULL */
} mdp_workers_hooks;

typedef enum mdp_submit_result {
    MDP_SUBMIT_QUEUED,
    MDP_SUBMIT_DUPLICATE,     /* same fetch already waiting or running */
    MDP_SUBMIT_FULL,          /* queue full: dropped and counted */
    MDP_SUBMIT_NOMEM,         /* dropped and counted */
    MDP_SUBMIT_RESULT_COUNT
} mdp_submit_result;

typedef struct mdp_workers_stats {
    uint64_t submitted, dropped, completed;
    size_t queued;              /* waiting now (for a worker or a DNS slot) */
    size_t running;             /* being worked on now (lookups in flight too) */
    size_t dns_queued;          /* lookups waiting for a DNS slot */
    size_t dns_inflight;        /* lookups in flight */
} mdp_workers_stats;

/* mdp_workers_start - build the DNS thread's resolver (errors such as a
 * bad trust anchor surface here, naming the reason) and start the threads.
 * Returns NULL with a reason in err. hooks is copied. */
mdp_workers *mdp_workers_start(const mdp_workers_config *cfg,
                                   const mdp_workers_hooks *hooks,
                                   char *err, size_t errlen);

/* mdp_workers_stop - stop and join the threads (a re-check in progress is
 * finished first; lookups in flight are cancelled), then free waiting jobs
 * and undrained completions without running their hooks. NULL-safe. */
void mdp_workers_stop(mdp_workers *w);

/* mdp_workers_submit_fetch - queue a cache fill for owner unless one is
 * already waiting in the queue or running in the cache. */
mdp_submit_result mdp_workers_submit_fetch(mdp_workers *w, const char *owner);

/* mdp_workers_submit_revalidate - queue a re-check of leaf as identity
 * against the (cached or fetched) TLSA answer for owner. Takes its own
 * reference on leaf. */
mdp_submit_result mdp_workers_submit_revalidate(mdp_workers *w,
                                                    const void *client, uint64_t token,
                                                    const char *identity,
                                                    const char *owner, X509 *leaf);

/* mdp_workers_submit_revalidate_token - queue a re-check of a client
 * admitted by a token: do the (cached or fetched) records for owner still
 * give the key that signed password (dance_token_recheck)? The strings are
 * copied. Completes through the revalidate_done hook like a certificate
 * re-check. */
mdp_submit_result mdp_workers_submit_revalidate_token(mdp_workers *w,
                                                          const void *client,
                                                          uint64_t token,
                                                          const char *identity,
                                                          const char *owner,
                                                          const char *password);

/* Receives a SENDER_FETCH answer on the DNS thread (or on a worker thread
 * when the cache had it; when the lookup cannot be made at all, inside the
 * submit call). answer is valid during the call only. Must not block for
 * long (it holds up every lookup) and must not call drain, stop or start. */
typedef void (*mdp_answer_fn)(void *ctx, const char *owner,
                                const dance_tlsa_result *answer);

/* mdp_workers_submit_sender_fetch - queue a lookup of owner through the
 * cache (a fresh entry answers at once; a lookup in flight is waited for,
 * not repeated) whose answer goes to fn(ctx, ...) as soon as it is there;
 * the completion on the host thread then runs the fetch_done hook. Never
 * merged with other jobs: the caller keeps one per owner. When the result
 * is not QUEUED, fn is never called. */
mdp_submit_result mdp_workers_submit_sender_fetch(mdp_workers *w, const char *owner,
                                                      mdp_answer_fn fn, void *ctx);

/* mdp_workers_drain - run the hooks of finished jobs, oldest first, on
 * the calling (host) thread; returns how many ran. The completion list is
 * swapped out under its lock and run unlocked, so hooks may submit jobs. */
size_t mdp_workers_drain(mdp_workers *w);

/* mdp_workers_room - how many more jobs the queue takes now. */
size_t mdp_workers_room(mdp_workers *w);

/* mdp_workers_lookups_pending - TLSA lookups of the plugin under way now
 * (in flight, or waiting for a DNS slot), one per name. */
size_t mdp_workers_lookups_pending(mdp_workers *w);

void mdp_workers_get_stats(mdp_workers *w, mdp_workers_stats *out);

#endif
