/*
 * plugin/workers.h - the plugin's worker threads: slow work (DNS lookups,
 * DANE re-checks) off the broker thread. Design notes are in workers.c.
 *
 * start, stop and drain are called from the broker (host) thread; the
 * submit calls, room and stats from any thread (the message pipeline
 * submits from its verify threads). Completions run on the host thread inside
 * dance_workers_drain, which the plugin calls from TICK; nothing here
 * calls Mosquitto.
 */
#ifndef DANCE_PLUGIN_WORKERS_H
#define DANCE_PLUGIN_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include "dance/cache.h"
#include "dance/dane.h"
#include "dance/resolver.h"
#include "dance/token.h"
#include "decide.h"

typedef enum dance_job_type {
    DANCE_JOB_FETCH,            /* warm the cache for one owner name */
    DANCE_JOB_REVALIDATE,       /* re-check one connected client */
    DANCE_JOB_SENDER_FETCH,     /* TLSA answer for a message sender, handed
                                   over on the worker thread */
    DANCE_JOB_TYPE_COUNT
} dance_job_type;

typedef struct dance_workers dance_workers;

typedef struct dance_workers_config {
    unsigned threads;                   /* >= 1 */
    size_t queue_max;                   /* jobs waiting; more are dropped */
    const dance_resolver_config *resolver;  /* each thread builds its own */
    dance_cache *cache;                 /* shared, thread-safe */
    const dance_matcher *matcher;       /* shared, immutable */
    dance_identity_source idsrc;
    const dance_token_policy *token_policy; /* shared, read-only; NULL:
                                           token re-checks refused */
} dance_workers_config;

/* What a finished FETCH reports (pointers valid during the hook only). */
typedef struct dance_fetch_done {
    const char *owner;
    dance_status status;
    const char *reason;
} dance_fetch_done;

/* What a finished REVALIDATE reports (pointers valid during the hook). */
typedef struct dance_revalidate_done {
    const void *client;             /* as submitted: the registry key */
    uint64_t token;                 /* as submitted */
    const char *identity;
    const char *owner;
    dance_status status;            /* of the DNS answer used */
    const dance_verdict *verdict;
} dance_revalidate_done;

typedef struct dance_workers_hooks {
    void *ctx;
    void (*fetch_done)(void *ctx, const dance_fetch_done *d);           /* may be NULL */
    void (*revalidate_done)(void *ctx, const dance_revalidate_done *d); /* may be NULL */
} dance_workers_hooks;

typedef enum dance_submit_result {
    DANCE_SUBMIT_QUEUED,
    DANCE_SUBMIT_DUPLICATE,     /* same fetch already waiting or running */
    DANCE_SUBMIT_FULL,          /* queue full: dropped and counted */
    DANCE_SUBMIT_NOMEM,         /* dropped and counted */
    DANCE_SUBMIT_RESULT_COUNT
} dance_submit_result;

typedef struct dance_workers_stats {
    uint64_t submitted, dropped, completed;
    size_t queued;              /* waiting now */
    size_t running;             /* being worked on now */
} dance_workers_stats;

/* dance_workers_start - build one resolver per thread (errors such as a
 * bad trust anchor surface here, naming the reason) and start the threads.
 * Returns NULL with a reason in err. hooks is copied. */
dance_workers *dance_workers_start(const dance_workers_config *cfg,
                                   const dance_workers_hooks *hooks,
                                   char *err, size_t errlen);

/* dance_workers_stop - stop and join the threads (a job in progress is
 * finished first, so this can take up to one lookup timeout), then free
 * waiting jobs and undrained completions without running their hooks.
 * NULL-safe. */
void dance_workers_stop(dance_workers *w);

/* dance_workers_submit_fetch - queue a cache fill for owner unless one is
 * already waiting in the queue or running in the cache. */
dance_submit_result dance_workers_submit_fetch(dance_workers *w, const char *owner);

/* dance_workers_submit_revalidate - queue a re-check of leaf as identity
 * against the (cached or fetched) TLSA answer for owner. Takes its own
 * reference on leaf. */
dance_submit_result dance_workers_submit_revalidate(dance_workers *w,
                                                    const void *client, uint64_t token,
                                                    const char *identity,
                                                    const char *owner, X509 *leaf);

/* dance_workers_submit_revalidate_token - queue a re-check of a client
 * admitted by a token: do the (cached or fetched) records for owner still
 * give the key that signed password (dance_token_recheck)? The strings are
 * copied. Completes through the revalidate_done hook like a certificate
 * re-check. */
dance_submit_result dance_workers_submit_revalidate_token(dance_workers *w,
                                                          const void *client,
                                                          uint64_t token,
                                                          const char *identity,
                                                          const char *owner,
                                                          const char *password);

/* Receives a SENDER_FETCH answer on the worker thread that fetched it.
 * answer is valid during the call only. Must not block for long (it holds
 * up that worker) and must not call drain, stop or start. */
typedef void (*dance_answer_fn)(void *ctx, const char *owner,
                                const dance_tlsa_result *answer);

/* dance_workers_submit_sender_fetch - queue a lookup of owner through the
 * cache (a fresh entry answers at once; a fetch in flight is waited for,
 * not repeated) whose answer goes to fn(ctx, ...) on the worker thread;
 * the completion on the host thread then runs the fetch_done hook. Never
 * merged with other jobs: the caller keeps one per owner. When the result
 * is not QUEUED, fn is never called. */
dance_submit_result dance_workers_submit_sender_fetch(dance_workers *w, const char *owner,
                                                      dance_answer_fn fn, void *ctx);

/* dance_workers_drain - run the hooks of finished jobs, oldest first, on
 * the calling (host) thread; returns how many ran. The completion list is
 * swapped out under its lock and run unlocked, so hooks may submit jobs. */
size_t dance_workers_drain(dance_workers *w);

/* dance_workers_room - how many more jobs the queue takes now. */
size_t dance_workers_room(dance_workers *w);

void dance_workers_get_stats(dance_workers *w, dance_workers_stats *out);

#endif
