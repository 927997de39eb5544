/*
 * plugin/workers.c - worker threads for the plugin's slow work.
 *
 * Why: Mosquitto 2.0 runs every plugin callback on its one broker thread.
 * A DNSSEC-validated TLSA lookup takes milliseconds to seconds, and a DANE
 * re-check of every connected client adds up; done on the broker thread,
 * either would stall every client. So the broker thread only queues jobs,
 * and N worker threads do them (the same shape as Redis' bio.c).
 *
 * Threads and ownership (the threads, their queue and the completion list
 * are a mdp_pool, threadpool.h, with one shared queue):
 *  - The host (broker) thread calls drain, start and stop; submit, room
 *    and stats may come from any thread (the message pipeline's verify
 *    threads submit SENDER_FETCH jobs).
 *  - Each worker thread owns one dance_resolver (getdns contexts are
 *    not thread-safe), built by start so that a broken resolver
 *    configuration stops the broker at start-up rather than failing later.
 *  - The cache and the matcher are shared; both are thread-safe.
 *  - A job belongs to the queue until a worker takes it, to that worker
 *    while it runs, then to the completion list, then to drain, which frees
 *    it after running its hook.
 *
 * Locks: the pool's own guard the queue and the completion list; no lock
 * is held while resolving or matching. `count_lock` guards the submitted
 * and dropped counters. Mosquitto gives plugins no wake-up pipe, so the
 * host polls: TICK calls mdp_workers_drain, which takes the completion
 * list whole and runs the hooks without a lock (hooks may submit new
 * jobs).
 *
 * Order: jobs start in FIFO order; with several threads they may finish in
 * any order, and drain runs completions in the order they finished.
 *
 * Bounds: the queue holds at most queue_max jobs; a job that does not fit
 * is dropped and counted (a refused CONNECT is retried by the client; a
 * skipped re-check is retried next round). A fetch for an owner that is
 * already queued or being fetched is not queued twice.
 *
 * Adding a job kind: add an enum value in workers.h, its fields to struct
 * mdp_job, a constructor, a run_ function and a case in job_run,
 * job_complete and job_free.
 */
#include "workers.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "threadpool.h"

struct mdp_job {
    mdp_job_type type;            /* first, as in Redis' bio jobs */
    mdp_pool_item item;           /* queue and completion list link */
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
    /* results */
    dance_status status;
    char reason[DANCE_REASON_MAX];
    mdp_verdict verdict;
};

struct mdp_worker {
    mdp_workers *pool;
    dance_resolver *resolver;       /* this thread's own */
};

struct mdp_workers {
    mdp_workers_config cfg;
    mdp_workers_hooks hooks;
    struct mdp_worker *workers;   /* one per pool thread */
    mdp_pool *threads;

    pthread_mutex_t count_lock;
    uint64_t submitted, dropped;
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
    free(j);
}

/* fetch_cb - dance_fetch_fn run by the cache on a worker thread. */
static void fetch_cb(void *ctx, const char *owner, dance_tlsa_result *out)
{
    struct mdp_worker *wk = ctx;

    dance_resolver_lookup_tlsa(wk->resolver, owner, out);
}

static void run_fetch(struct mdp_worker *wk, struct mdp_job *j)
{
    dance_tlsa_result res;

    memset(&res, 0, sizeof(res));
    dance_cache_fetch(wk->pool->cfg.cache, j->owner, fetch_cb, wk, &res);
    j->status = res.status;
    snprintf(j->reason, sizeof(j->reason), "%s", res.reason);
    dance_tlsa_result_clear(&res);
}

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

/* run_revalidate - through the cache, so a client is re-checked against
 * DNS at most once per TTL however often rounds run. */
static void run_revalidate(struct mdp_worker *wk, struct mdp_job *j)
{
    dance_tlsa_result res;

    memset(&res, 0, sizeof(res));
    dance_cache_fetch(wk->pool->cfg.cache, j->owner, fetch_cb, wk, &res);
    j->status = res.status;
    if (j->password != NULL)
        recheck_token(wk->pool, j, &res);
    else
        mdp_decide(wk->pool->cfg.matcher, j->leaf, j->identity,
                     wk->pool->cfg.idsrc, &res, &j->verdict);
    dance_tlsa_result_clear(&res);
}

/* run_sender_fetch - as run_fetch, and the answer itself goes to the
 * requester at once: answers the cache does not store (a lifetime of 0)
 * reach it too, and it need not wait for the next TICK. */
static void run_sender_fetch(struct mdp_worker *wk, struct mdp_job *j)
{
    dance_tlsa_result res;

    memset(&res, 0, sizeof(res));
    dance_cache_fetch(wk->pool->cfg.cache, j->owner, fetch_cb, wk, &res);
    j->status = res.status;
    snprintf(j->reason, sizeof(j->reason), "%s", res.reason);
    j->answer_fn(j->answer_ctx, j->owner, &res);
    dance_tlsa_result_clear(&res);
}

static void job_run(struct mdp_worker *wk, struct mdp_job *j)
{
    switch (j->type) {
    case MDP_JOB_FETCH: run_fetch(wk, j); return;
    case MDP_JOB_REVALIDATE: run_revalidate(wk, j); return;
    case MDP_JOB_SENDER_FETCH: run_sender_fetch(wk, j); return;
    case MDP_JOB_TYPE_COUNT: break;
    }
}

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

/* run_item - a pool thread runs one job, then hands it to drain. */
static void run_item(void *ctx, unsigned thread, mdp_pool_item *it)
{
    mdp_workers *w = ctx;
    struct mdp_job *j = job_of(it);

    job_run(&w->workers[thread], j);   /* unlocked: DNS and OpenSSL take their time */
    mdp_pool_done(w->threads, &j->item);
}

/* enqueue - append j, or drop it when the queue is full. Takes j. */
static mdp_submit_result enqueue(mdp_workers *w, struct mdp_job *j)
{
    /* counted first: a fast worker may finish j before push returns */
    pthread_mutex_lock(&w->count_lock);
    w->submitted++;
    pthread_mutex_unlock(&w->count_lock);
    if (mdp_pool_push(w->threads, 0, &j->item, w->cfg.queue_max))
        return MDP_SUBMIT_QUEUED;
    pthread_mutex_lock(&w->count_lock);
    w->submitted--;
    w->dropped++;
    pthread_mutex_unlock(&w->count_lock);
    job_free(j);
    return MDP_SUBMIT_FULL;
}

static mdp_submit_result count_nomem(mdp_workers *w, struct mdp_job *j)
{
    job_free(j);
    pthread_mutex_lock(&w->count_lock);
    w->dropped++;
    pthread_mutex_unlock(&w->count_lock);
    return MDP_SUBMIT_NOMEM;
}

/* same_fetch - a waiting FETCH job for the owner name ctx */
static bool same_fetch(void *ctx, const mdp_pool_item *it)
{
    const struct mdp_job *q = job_of((mdp_pool_item *)it);

    return q->type == MDP_JOB_FETCH && strcmp(q->owner, (const char *)ctx) == 0;
}

mdp_submit_result mdp_workers_submit_fetch(mdp_workers *w, const char *owner)
{
    struct mdp_job *j;

    /* Linear scan: the queue is bounded and fetches are only queued on
     * cache misses, so it stays short in practice. */
    if (mdp_pool_find(w->threads, same_fetch, (void *)owner) ||
        dance_cache_in_flight(w->cfg.cache, owner))
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

size_t mdp_workers_room(mdp_workers *w)
{
    return mdp_pool_room(w->threads, w->cfg.queue_max);
}

void mdp_workers_get_stats(mdp_workers *w, mdp_workers_stats *out)
{
    mdp_pool_stats ps;

    mdp_pool_get_stats(w->threads, &ps);
    pthread_mutex_lock(&w->count_lock);
    out->submitted = w->submitted;
    out->dropped = w->dropped;
    pthread_mutex_unlock(&w->count_lock);
    out->completed = ps.completed;
    out->queued = ps.queued;
    out->running = ps.running;
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
    /* joins the threads first: they use the resolvers */
    mdp_pool_free(w->threads, free_item, NULL);
    for (unsigned i = 0; i < w->cfg.threads; i++)
        dance_resolver_free(w->workers[i].resolver);
    pthread_mutex_destroy(&w->count_lock);
    free(w->workers);
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
    w->workers = calloc(cfg->threads, sizeof(*w->workers));
    if (w->workers == NULL) {
        free(w);
        snprintf(err, errlen, "worker pool: out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->count_lock, NULL);

    for (unsigned i = 0; i < cfg->threads; i++) {
        w->workers[i].pool = w;
        w->workers[i].resolver = dance_resolver_new(cfg->resolver, err, errlen);
        if (w->workers[i].resolver == NULL) {
            mdp_workers_stop(w);
            return NULL;
        }
    }
    memset(&pc, 0, sizeof(pc));
    pc.threads = cfg->threads;
    pc.queues = 1;
    pc.run = run_item;
    pc.ctx = w;
    pc.name = "worker pool";
    w->threads = mdp_pool_start(&pc, err, errlen);
    if (w->threads == NULL) {
        mdp_workers_stop(w);
        return NULL;
    }
    return w;
}
