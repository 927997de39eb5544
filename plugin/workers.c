/*
 * plugin/workers.c - the plugin's background work: TLSA lookups on one DNS
 * thread, DANE re-checks on worker threads.
 *
 * Why: Mosquitto 2.0 runs every plugin callback on its one broker thread.
 * A DNSSEC-validated TLSA lookup takes milliseconds to seconds, and a DANE
 * re-check of every connected client adds up; done on the broker thread,
 * either would stall every client. So the broker thread only queues jobs.
 * A lookup is nearly all waiting (the TLSA query, then DS and DNSKEY up the
 * chain), so lookups run on one asynchronous resolver (dance_resolver_async:
 * one getdns context, its event loop on its own thread, up to dns_inflight
 * lookups at once); the CPU work of re-checks runs on N worker threads
 * (a mdp_pool with one shared queue, the same shape as Redis' bio.c).
 *
 * A job's way:
 *  - submit (any thread) looks at the cache first, under dns_lock: a fresh
 *    entry answers at once (FETCH completes; SENDER_FETCH and REVALIDATE go
 *    to the worker threads with the entry); a lookup of the plugin's in
 *    flight for the name takes the job on; otherwise dance_cache_begin marks
 *    the cache's flight (so CONNECTs waiting in dance_cache_wait join it)
 *    and the lookup is submitted to the DNS thread.
 *  - dns_answered (DNS thread) completes the cache's flight with the answer
 *    (stored by the TTL rules, waiters woken) and ends the plugin's flight
 *    under dns_lock, then gives the answer to each job that waited for it:
 *    FETCH completes, SENDER_FETCH's answer function runs there and then,
 *    REVALIDATE goes to the worker threads with a copy.
 *  - Completed jobs go to the completion list; TICK calls mdp_workers_drain,
 *    which takes the list whole and runs the hooks on the broker thread
 *    without a lock (hooks may submit new jobs). Mosquitto gives plugins no
 *    wake-up pipe, so the host polls.
 *
 * Threads and ownership: the host (broker) thread calls drain, start and
 * stop; submit, room and stats may come from any thread (the message
 * pipeline's verify threads submit SENDER_FETCH jobs). Only the DNS thread
 * calls getdns. The cache and the matcher are shared and thread-safe. A job
 * belongs to whoever holds it: the submitter, a flight's list (dns_lock),
 * the pool's queue, a worker running it, then the completion list, then
 * drain, which frees it after running its hook.
 *
 * Locks: dns_lock guards the flights table; it is taken before the cache's
 * lock (acquire, begin, complete) and never while calling the pool,
 * the resolver's callbacks into the pipeline, or hooks. `count_lock` guards
 * the counters. No lock is held while resolving or matching.
 *
 * Bounds: jobs waiting (for a worker, or for a DNS slot beyond dns_inflight)
 * are at most queue_max; a job that does not fit is dropped and counted
 * (a refused CONNECT is retried by the client; a skipped re-check is
 * retried next round). Jobs that wait for a lookup already in flight take
 * no slot of their own. A FETCH for a name already being looked up is not
 * queued twice.
 *
 * Order: lookups start in FIFO order and finish in any order; drain runs
 * completions in the order they finished.
 *
 * Adding a job kind: add an enum value in workers.h, its fields to struct
 * mdp_job, a constructor, its cases in job_answer, run_item, job_complete
 * and job_free.
 */
#include "workers.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dance/error.h"
#include "dance/hashtab.h"
#include "threadpool.h"

struct mdp_job {
    mdp_job_type type;            /* first, as in Redis' bio jobs */
    mdp_pool_item item;           /* pool queue and completion list link */
    struct mdp_job *flight_next;  /* jobs waiting for one lookup */
    char *owner;                    /* FETCH, REVALIDATE, SENDER_FETCH */
    /* SENDER_FETCH */
    mdp_answer_fn answer_fn;
    void *answer_ctx;
    /* REVALIDATE */
    const void *client;
    uint64_t token;
    char *identity;
    X509 *leaf;                     /* one reference (certificate clients) */
    char *password;                 /* the token (token clients) */
    /* the answer a worker thread works with: a cache entry, or a copy of
     * what DNS said (SENDER_FETCH, REVALIDATE) */
    const dance_cache_entry *entry;
    dance_tlsa_result answer;
    /* results */
    dance_status status;
    char reason[DANCE_REASON_MAX];
    mdp_verdict verdict;
};

/* One lookup the plugin has in flight: the jobs waiting for its answer. */
typedef struct dns_flight {
    dance_hashtab_node hnode;
    mdp_workers *w;
    struct mdp_job *jobs, **jobs_tail;
    size_t key_len;
    char key[];                     /* the cache's key for the owner */
} dns_flight;

struct mdp_workers {
    mdp_workers_config cfg;
    mdp_workers_hooks hooks;
    mdp_pool *threads;
    dance_resolver_async *dns;

    pthread_mutex_t dns_lock;       /* guards flights */
    dance_hashtab flights;

    pthread_mutex_t count_lock;
    uint64_t submitted, dropped, completed;
};

static struct mdp_job *job_of(mdp_pool_item *it)
{
    return (struct mdp_job *)(void *)((char *)it - offsetof(struct mdp_job, item));
}

static void job_free(struct mdp_job *j)
{
    if (j == NULL)
        return;
    free(j->owner);
    free(j->identity);
    X509_free(j->leaf);
    free(j->password);
    dance_cache_entry_release(j->entry);
    dance_tlsa_result_clear(&j->answer);
    free(j);
}

/* job_finish - to the completion list, for drain */
static void job_finish(mdp_workers *w, struct mdp_job *j)
{
    pthread_mutex_lock(&w->count_lock);
    w->completed++;
    pthread_mutex_unlock(&w->count_lock);
    mdp_pool_done(w->threads, &j->item);
}

/* job_fail - the job's lookup could not even be made: it completes with
 * a failure (as a failed fetch would) */
static void job_fail(mdp_workers *w, struct mdp_job *j, const char *reason);

/* ------------------------------------------------------- the answers */

/* recheck_token - the verdict for a token client against the answer:
 * the token is parsed again here (cheap) rather than shared with the
 * registry entry, which the broker thread may free at any time. */
static void recheck_token(const mdp_workers *w, struct mdp_job *j,
                          const dance_tlsa_result *res)
{
    dance_token *tok = NULL;
    dance_token_result tr;
    mdp_verdict *v = &j->verdict;

    memset(v, 0, sizeof(*v));
    if (w->cfg.token_policy == NULL) {
        v->code = MDP_V_INTERNAL;
        snprintf(v->reason, sizeof(v->reason), "token re-check without a token policy");
        return;
    }
    if (dance_token_parse(j->password, strlen(j->password), j->identity, &tok, &tr)
        == DANCE_OK)
        dance_token_recheck(tok, res->status, &res->records, res->reason,
                            w->cfg.token_policy, &tr);
    dance_token_free(tok);
    v->code = mdp_verdict_of(tr.status);
    snprintf(v->reason, sizeof(v->reason), "token %s: %s",
             dance_status_name(tr.status), tr.reason);
    snprintf(v->record, sizeof(v->record), "%s", tr.key_source);
}

/* job_answer - what a job does with its answer (any thread but the
 * host's inside submit for FETCH; no lock held). res is the caller's. */
static void job_answer(mdp_workers *w, struct mdp_job *j, const dance_tlsa_result *res)
{
    j->status = res->status;
    snprintf(j->reason, sizeof(j->reason), "%s", res->reason);
    switch (j->type) {
    case MDP_JOB_FETCH:
        job_finish(w, j);
        return;
    case MDP_JOB_SENDER_FETCH:
        /* the answer itself goes to the requester at once: answers the
         * cache does not store (a lifetime of 0) reach it too, and it
         * need not wait for the next TICK */
        j->answer_fn(j->answer_ctx, j->owner, res);
        job_finish(w, j);
        return;
    case MDP_JOB_REVALIDATE:
        /* the matching is CPU work: a worker thread does it */
        if (dance_tlsa_result_copy(&j->answer, res) != 0) {
            dance_tlsa_result_clear(&j->answer);
            dance_set_err(j->answer.reason, sizeof(j->answer.reason), "TLSA "
                          "lookup for %s failed: out of memory keeping the answer",
                          j->owner);
        }
        (void)mdp_pool_push(w->threads, 0, &j->item, 0);
        return;
    case MDP_JOB_TYPE_COUNT:
        break;
    }
}

/* run_revalidate - a worker thread matches the client against the answer
 * (from the cache, so a client is re-checked against DNS at most once per
 * TTL however often rounds run) */
static void run_revalidate(mdp_workers *w, struct mdp_job *j)
{
    j->status = j->answer.status;
    if (j->password != NULL)
        recheck_token(w, j, &j->answer);
    else
        mdp_decide(w->cfg.matcher, j->leaf, j->identity, w->cfg.idsrc,
                   &j->answer, &j->verdict);
}

/* run_item - a worker thread: a job with its answer at hand */
static void run_item(void *ctx, unsigned thread, mdp_pool_item *it)
{
    mdp_workers *w = ctx;
    struct mdp_job *j = job_of(it);

    (void)thread;
    if (j->entry != NULL) {
        /* a cache hit at submit: the copy is made here, off the host thread */
        (void)dance_cache_entry_to_result(j->entry, &j->answer);
        dance_cache_entry_release(j->entry);
        j->entry = NULL;
        if (j->type == MDP_JOB_SENDER_FETCH) {
            dance_tlsa_result res = j->answer;

            memset(&j->answer, 0, sizeof(j->answer));
            job_answer(w, j, &res);
            dance_tlsa_result_clear(&res);
            return;
        }
    }
    if (j->type == MDP_JOB_REVALIDATE)
        run_revalidate(w, j);
    job_finish(w, j);
}

/* --------------------------------------------------------- lookups */

typedef struct dns_lookup_key {
    const char *key;
    size_t len;
} dns_lookup_key;

static bool flight_match(const dance_hashtab_node *n, const void *ctx)
{
    const dns_flight *f = DANCE_HASHTAB_ENTRY(n, dns_flight, hnode);
    const dns_lookup_key *k = ctx;

    return f->key_len == k->len && memcmp(f->key, k->key, k->len) == 0;
}

/* flight_find - with dns_lock held */
static dns_flight *flight_find(mdp_workers *w, const char *key, size_t len,
                               uint64_t hash)
{
    dns_lookup_key k = { key, len };
    dance_hashtab_node *n = dance_hashtab_find(&w->flights, hash, flight_match, &k);

    return n != NULL ? DANCE_HASHTAB_ENTRY(n, dns_flight, hnode) : NULL;
}

static void flight_add_job(dns_flight *f, struct mdp_job *j)
{
    j->flight_next = NULL;
    *f->jobs_tail = j;
    f->jobs_tail = &j->flight_next;
}

/* flight_answer - hand answer to every job of f and free f (no lock held).
 * cancelled: the plugin is stopping; the jobs go without their hooks. */
static void flight_answer(dns_flight *f, dance_tlsa_result *answer, bool cancelled)
{
    struct mdp_job *j, *next;

    for (j = f->jobs; j != NULL; j = next) {
        next = j->flight_next;
        j->flight_next = NULL;
        if (cancelled)
            job_free(j);
        else
            job_answer(f->w, j, answer);
    }
    free(f);
}

/* dns_answered - the DNS thread's answer for a flight of ours */
static void dns_answered(void *arg, const char *owner, dance_tlsa_result *answer,
                         int cancelled)
{
    dns_flight *f = arg;
    mdp_workers *w = f->w;

    (void)owner;
    /* Under dns_lock: a submit sees either this flight or what the cache
     * made of its answer, never neither (which would start a second
     * lookup for nothing). complete also normalises the answer, so every
     * job gets exactly what the cache's waiters get. */
    pthread_mutex_lock(&w->dns_lock);
    dance_hashtab_remove(&w->flights, &f->hnode);
    (void)dance_cache_complete(w->cfg.cache, f->key, answer);
    pthread_mutex_unlock(&w->dns_lock);
    flight_answer(f, answer, cancelled != 0);
}

/* dns_start - with dns_lock held: a new flight for key with j as its first
 * job, the cache's flight already begun. On failure the cache's flight
 * is completed with the failure and j fails; returns with dns_lock
 * released either way. */
static void dns_start(mdp_workers *w, struct mdp_job *j, const char *key,
                      size_t len, uint64_t hash)
{
    dns_flight *f = malloc(sizeof(*f) + len + 1);
    dance_tlsa_result res;

    if (f != NULL) {
        f->w = w;
        f->jobs = NULL;
        f->jobs_tail = &f->jobs;
        f->key_len = len;
        memcpy(f->key, key, len + 1);
        flight_add_job(f, j);
        dance_hashtab_insert(&w->flights, &f->hnode, hash);
        if (dance_resolver_async_submit(w->dns, key, dns_answered, f) == 0) {
            pthread_mutex_unlock(&w->dns_lock);
            return;
        }
        dance_hashtab_remove(&w->flights, &f->hnode);
    }
    /* the cache's flight must end, or its waiters wait for nothing */
    memset(&res, 0, sizeof(res));
    dance_tlsa_result_clear(&res);
    dance_set_err(res.reason, sizeof(res.reason), "TLSA lookup for %s failed: "
                  "%s", key, f == NULL ? "out of memory" : "the DNS thread is stopping");
    (void)dance_cache_complete(w->cfg.cache, key, &res);
    pthread_mutex_unlock(&w->dns_lock);
    free(f);
    job_fail(w, j, res.reason);
    dance_tlsa_result_clear(&res);
}

static void job_fail(mdp_workers *w, struct mdp_job *j, const char *reason)
{
    dance_tlsa_result res;

    memset(&res, 0, sizeof(res));
    dance_tlsa_result_clear(&res);
    snprintf(res.reason, sizeof(res.reason), "%s", reason);
    job_answer(w, j, &res);
}

/* dns_attach - j needs the TLSA answer for its owner: from a fresh entry,
 * from the plugin's lookup in flight for the name, or from a new lookup.
 * Counts a cache hit or miss, as a fetch through the cache did. j is
 * taken. */
static void dns_attach(mdp_workers *w, struct mdp_job *j)
{
    char key[DANCE_CACHE_OWNER_MAX + 1];
    size_t len = dance_cache_key(j->owner, key);
    const dance_cache_entry *e;
    dns_flight *f;
    uint64_t hash;
    int begun = 0;

    if (len == 0) {
        char why[DANCE_REASON_MAX];

        dance_set_err(why, sizeof(why), "cannot look up TLSA for '%s': not a "
                      "usable owner name", j->owner);
        job_fail(w, j, why);
        return;
    }
    hash = dance_hashtab_hash(&w->flights, key, len);
    pthread_mutex_lock(&w->dns_lock);
    e = dance_cache_acquire(w->cfg.cache, key);
    if (e == NULL && (f = flight_find(w, key, len, hash)) != NULL) {
        flight_add_job(f, j);
        pthread_mutex_unlock(&w->dns_lock);
        return;
    }
    if (e == NULL) {
        begun = dance_cache_begin(w->cfg.cache, key);
        if (begun == 1) {
            dns_start(w, j, key, len, hash);
            return;
        }
        /* 0: an answer or a fetch came from outside the plugin's DNS
         * thread meanwhile (nothing in the plugin does that) */
        if (begun == 0)
            e = dance_cache_acquire(w->cfg.cache, key);
    }
    pthread_mutex_unlock(&w->dns_lock);
    if (e == NULL) {
        char why[DANCE_REASON_MAX];

        dance_set_err(why, sizeof(why), "TLSA lookup for %s failed: %s", key,
                      begun < 0 ? "out of memory"
                                : "another lookup for the name is in flight");
        job_fail(w, j, why);
        return;
    }
    if (j->type == MDP_JOB_FETCH) {
        j->status = dance_cache_entry_status(e);
        snprintf(j->reason, sizeof(j->reason), "%s", dance_cache_entry_reason(e));
        dance_cache_entry_release(e);
        job_finish(w, j);
        return;
    }
    j->entry = e;                       /* the copy is a worker's job */
    (void)mdp_pool_push(w->threads, 0, &j->item, 0);
}

/* ---------------------------------------------------------- submit */

static size_t queued_now(mdp_workers *w)
{
    dance_resolver_async_stats ds;
    mdp_pool_stats ps;

    mdp_pool_get_stats(w->threads, &ps);
    dance_resolver_async_get_stats(w->dns, &ds);
    return ps.queued + ds.queued;
}

/* enqueue - take j on unless queue_max jobs wait already. Takes j. */
static mdp_submit_result enqueue(mdp_workers *w, struct mdp_job *j)
{
    if (queued_now(w) >= w->cfg.queue_max) {
        pthread_mutex_lock(&w->count_lock);
        w->dropped++;
        pthread_mutex_unlock(&w->count_lock);
        job_free(j);
        return MDP_SUBMIT_FULL;
    }
    /* counted first: the answer may complete j before attach returns */
    pthread_mutex_lock(&w->count_lock);
    w->submitted++;
    pthread_mutex_unlock(&w->count_lock);
    dns_attach(w, j);
    return MDP_SUBMIT_QUEUED;
}

static mdp_submit_result count_nomem(mdp_workers *w, struct mdp_job *j)
{
    job_free(j);
    pthread_mutex_lock(&w->count_lock);
    w->dropped++;
    pthread_mutex_unlock(&w->count_lock);
    return MDP_SUBMIT_NOMEM;
}

/* fetch_running - a lookup for owner is in flight (the plugin's, or any
 * fetch through the cache) */
static bool fetch_running(mdp_workers *w, const char *owner)
{
    char key[DANCE_CACHE_OWNER_MAX + 1];
    size_t len = dance_cache_key(owner, key);
    bool running;

    if (len == 0)
        return false;
    pthread_mutex_lock(&w->dns_lock);
    running = flight_find(w, key, len, dance_hashtab_hash(&w->flights, key, len))
              != NULL;
    pthread_mutex_unlock(&w->dns_lock);
    return running || dance_cache_in_flight(w->cfg.cache, owner);
}

mdp_submit_result mdp_workers_submit_fetch(mdp_workers *w, const char *owner)
{
    struct mdp_job *j;

    if (fetch_running(w, owner))
        return MDP_SUBMIT_DUPLICATE;

    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return count_nomem(w, NULL);
    j->type = MDP_JOB_FETCH;
    j->owner = strdup(owner);
    if (j->owner == NULL)
        return count_nomem(w, j);
    return enqueue(w, j);
}

/* revalidate_job - a REVALIDATE job with the fields both kinds of client
 * share; NULL on ENOMEM (counted, nothing left allocated) */
static struct mdp_job *revalidate_job(mdp_workers *w, const void *client,
                                        uint64_t token, const char *identity,
                                        const char *owner)
{
    struct mdp_job *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        (void)count_nomem(w, NULL);
        return NULL;
    }
    j->type = MDP_JOB_REVALIDATE;
    j->client = client;
    j->token = token;
    j->owner = strdup(owner);
    j->identity = strdup(identity);
    if (j->owner == NULL || j->identity == NULL) {
        (void)count_nomem(w, j);
        return NULL;
    }
    return j;
}

mdp_submit_result mdp_workers_submit_revalidate(mdp_workers *w,
                                                    const void *client, uint64_t token,
                                                    const char *identity,
                                                    const char *owner, X509 *leaf)
{
    struct mdp_job *j = revalidate_job(w, client, token, identity, owner);

    if (j == NULL)
        return MDP_SUBMIT_NOMEM;
    if (X509_up_ref(leaf) != 1)
        return count_nomem(w, j);
    j->leaf = leaf;
    return enqueue(w, j);
}

mdp_submit_result mdp_workers_submit_revalidate_token(mdp_workers *w,
                                                          const void *client,
                                                          uint64_t token,
                                                          const char *identity,
                                                          const char *owner,
                                                          const char *password)
{
    struct mdp_job *j = revalidate_job(w, client, token, identity, owner);

    if (j == NULL)
        return MDP_SUBMIT_NOMEM;
    if ((j->password = strdup(password)) == NULL)
        return count_nomem(w, j);
    return enqueue(w, j);
}

mdp_submit_result mdp_workers_submit_sender_fetch(mdp_workers *w, const char *owner,
                                                      mdp_answer_fn fn, void *ctx)
{
    struct mdp_job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return count_nomem(w, NULL);
    j->type = MDP_JOB_SENDER_FETCH;
    j->answer_fn = fn;
    j->answer_ctx = ctx;
    j->owner = strdup(owner);
    if (j->owner == NULL)
        return count_nomem(w, j);
    return enqueue(w, j);
}

/* ----------------------------------------------------------- host side */

/* job_complete - host thread, from drain. */
static void job_complete(mdp_workers *w, struct mdp_job *j)
{
    switch (j->type) {
    case MDP_JOB_FETCH:
    case MDP_JOB_SENDER_FETCH:
        if (w->hooks.fetch_done != NULL) {
            mdp_fetch_done d = {j->owner, j->status, j->reason};
            w->hooks.fetch_done(w->hooks.ctx, &d);
        }
        return;
    case MDP_JOB_REVALIDATE:
        if (w->hooks.revalidate_done != NULL) {
            mdp_revalidate_done d = {j->client, j->token, j->identity,
                                       j->owner, j->status, &j->verdict};
            w->hooks.revalidate_done(w->hooks.ctx, &d);
        }
        return;
    case MDP_JOB_TYPE_COUNT:
        break;
    }
}

size_t mdp_workers_drain(mdp_workers *w)
{
    mdp_pool_item *list = mdp_pool_take_done(w->threads), *next;
    size_t n = 0;

    for (; list != NULL; list = next) {
        struct mdp_job *j = job_of(list);

        next = list->next;
        job_complete(w, j);
        job_free(j);
        n++;
    }
    return n;
}

size_t mdp_workers_lookups_pending(mdp_workers *w)
{
    size_t n;

    pthread_mutex_lock(&w->dns_lock);
    n = dance_hashtab_count(&w->flights);
    pthread_mutex_unlock(&w->dns_lock);
    return n;
}

size_t mdp_workers_room(mdp_workers *w)
{
    size_t q = queued_now(w);

    return q < w->cfg.queue_max ? w->cfg.queue_max - q : 0;
}

void mdp_workers_get_stats(mdp_workers *w, mdp_workers_stats *out)
{
    dance_resolver_async_stats ds;
    mdp_pool_stats ps;

    mdp_pool_get_stats(w->threads, &ps);
    dance_resolver_async_get_stats(w->dns, &ds);
    pthread_mutex_lock(&w->count_lock);
    out->submitted = w->submitted;
    out->dropped = w->dropped;
    out->completed = w->completed;
    pthread_mutex_unlock(&w->count_lock);
    out->queued = ps.queued + ds.queued;
    out->running = ps.running + ds.inflight;
    out->dns_queued = ds.queued;
    out->dns_inflight = ds.inflight;
}

static void free_item(void *ctx, mdp_pool_item *it)
{
    (void)ctx;
    job_free(job_of(it));
}

void mdp_workers_stop(mdp_workers *w)
{
    if (w == NULL)
        return;
    /* Worker threads first (a re-check being run is finished); then the
     * DNS thread, which cancels what is in flight: those jobs go without
     * their hooks, and the cache's flights end. What the DNS thread hands
     * to the stopped pool meanwhile waits there and is freed with it. */
    mdp_pool_stop(w->threads);
    dance_resolver_async_stop(w->dns);
    mdp_pool_free(w->threads, free_item, NULL);
    dance_hashtab_destroy(&w->flights);
    pthread_mutex_destroy(&w->dns_lock);
    pthread_mutex_destroy(&w->count_lock);
    free(w);
}

mdp_workers *mdp_workers_start(const mdp_workers_config *cfg,
                                   const mdp_workers_hooks *hooks,
                                   char *err, size_t errlen)
{
    mdp_workers *w;
    mdp_pool_config pc;

    if (cfg->threads == 0 || cfg->queue_max == 0 || cfg->cache == NULL ||
        cfg->matcher == NULL || cfg->resolver == NULL) {
        snprintf(err, errlen, "worker pool: invalid configuration");
        return NULL;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        snprintf(err, errlen, "worker pool: out of memory");
        return NULL;
    }
    w->cfg = *cfg;
    if (hooks != NULL)
        w->hooks = *hooks;
    if (dance_hashtab_init(&w->flights, 64, 1u << 20) != 0) {
        free(w);
        snprintf(err, errlen, "worker pool: out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->dns_lock, NULL);
    pthread_mutex_init(&w->count_lock, NULL);

    /* a broken resolver configuration stops the broker at start-up rather
     * than failing every lookup later */
    w->dns = dance_resolver_async_start(cfg->resolver,
                                        cfg->dns_inflight > 0 ? cfg->dns_inflight : 1,
                                        err, errlen);
    if (w->dns == NULL)
        goto fail;
    memset(&pc, 0, sizeof(pc));
    pc.threads = cfg->threads;
    pc.queues = 1;
    pc.run = run_item;
    pc.ctx = w;
    pc.name = "worker pool";
    w->threads = mdp_pool_start(&pc, err, errlen);
    if (w->threads == NULL)
        goto fail;
    return w;

fail:
    dance_resolver_async_stop(w->dns);
    dance_hashtab_destroy(&w->flights);
    pthread_mutex_destroy(&w->dns_lock);
    pthread_mutex_destroy(&w->count_lock);
    free(w);
    return NULL;
}
