/*
 * plugin/pipeline.c - signed messages verified on worker threads, in
 * per-sender order, without ever waiting for DNS on the broker thread.
 *
 * Why: a signature check costs 15-60 us (ES256, Ed25519, RS256 on this
 * class of machine) and a cold key costs a DNSSEC-validated lookup of
 * milliseconds to seconds. Mosquitto runs the MESSAGE callback on its one
 * broker thread, so only the cheap steps happen there (dance_pipeline_
 * submit: parse, allow-list, header policy) and the rest here.
 *
 * Stages and threads:
 *   broker thread   submit: parse + header checks; refusals reported at
 *                   once. The message goes to the queue of verify thread
 *                   hash(owner name) % threads ("shard").
 *   verify thread   takes its queue in FIFO order. Warm key (fresh cache
 *                   entry, dance_cache_acquire: no copy, no DNS): verify
 *                   and complete. Cold key: the message is parked in a
 *                   group for its owner name and one SENDER_FETCH job goes
 *                   to the plugin's DNS worker pool (workers.c, through the
 *                   shared cache and its single flight); later messages of
 *                   that sender join the group, messages of other senders
 *                   go on. So a slow DNS answer for one sender holds up
 *                   only that sender.
 *   DNS worker      fetches, then hands the answer to the shard
 *                   (answer_cb): the group is marked ready and the verify
 *                   thread runs its messages, oldest first, before taking
 *                   its queue again.
 *   broker thread   TICK: dance_pipeline_drain swaps the completion list
 *                   out and reports each message (the plugin publishes the
 *                   verified copy; Mosquitto's publish calls are not
 *                   thread-safe).
 *
 * Order: one sender always maps to one shard; a shard completes its
 * messages in queue order except that a parked sender's messages wait for
 * its answer, and every later message of that sender waits behind them in
 * the group. The completion list keeps append order. Hence per-sender
 * order from submit to drain; messages of different senders may overtake
 * each other.
 *
 * Bounds: depth (submitted, not yet drained) is counted on the broker
 * thread, which both submits and drains, and capped at queue_max; a
 * message over the cap is dropped before it is even parsed, and counted.
 * Groups hold queued messages only, so they are bounded too. Anyone who
 * may publish on a verified topic can name any sender under the allowed
 * domains, and each new name costs a lookup before any signature can be
 * checked; so cold-sender lookups never take the DNS queue's last
 * dns_reserve slots, which stay for CONNECT lookups. A sender that finds
 * no room is refused as lookup_failure (try again later).
 *
 * Locks: each shard's `lock` guards its queue, its groups and `stop`; the
 * verify thread holds it only to take work, never while verifying.
 * `done_lock` guards the completion list. Ownership: a message belongs to
 * its shard queue, then to the verify thread (or a group), then to the
 * completion list, then to drain, which frees it.
 */
#include "pipeline.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pl_job {
    struct pl_job *next;
    dance_jws *jws;                 /* freed once verified */
    char *topic;
    unsigned char *payload;
    size_t payload_len;
    int qos;
    bool retain;
    char owner[DANCE_NAME_MAX + 1];
    dance_jws_result res;
};

/* Messages of one cold sender, waiting for its DNS answer. */
struct pl_group {
    struct pl_group *next;
    char owner[DANCE_NAME_MAX + 1];
    struct pl_job *head, *tail;
    bool ready;                     /* answer is in */
    dance_tlsa_result answer;
};

struct pl_shard {
    dance_pipeline *pl;
    pthread_t thread;
    bool started;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pl_job *head, *tail;
    struct pl_group *groups;
    size_t ready;                   /* groups with ready set */
    bool stop;
};

struct dance_pipeline {
    dance_pipeline_config cfg;
    struct pl_shard *shards;
    bool stopped;

    /* broker thread only */
    size_t depth;
    uint64_t submitted, dropped;

    pthread_mutex_t done_lock;
    struct pl_job *done_head, *done_tail;
    uint64_t lookups;               /* under done_lock */
};

static void job_free(struct pl_job *j)
{
    if (j == NULL)
        return;
    dance_jws_free(j->jws);
    free(j->topic);
    free(j->payload);
    free(j->res.payload);
    free(j);
}

static void job_list_free(struct pl_job *j)
{
    while (j != NULL) {
        struct pl_job *next = j->next;
        job_free(j);
        j = next;
    }
}

/* owner_hash - FNV-1a; spreads senders over the shards. */
static uint32_t owner_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* ------------------------------------------------------ verify threads */

static void complete(dance_pipeline *pl, struct pl_job *j)
{
    /* The verified payload is not needed: subscribers get the JWS. */
    free(j->res.payload);
    j->res.payload = NULL;
    j->res.payload_len = 0;
    dance_jws_free(j->jws);
    j->jws = NULL;
    j->next = NULL;
    pthread_mutex_lock(&pl->done_lock);
    if (pl->done_tail != NULL)
        pl->done_tail->next = j;
    else
        pl->done_head = j;
    pl->done_tail = j;
    pthread_mutex_unlock(&pl->done_lock);
}

/* verify_job - the signature check (and replay cache) with a DNS answer in
 * any state; dance_jws_verify_dns maps non-secure answers to refusals. */
static void verify_job(dance_pipeline *pl, struct pl_job *j, dance_dns_status st,
                       const dance_tlsa_rrset *records, const char *dns_reason)
{
    dance_jws_policy pol = pl->cfg.policy;

    pol.topic = j->topic;
    dance_jws_verify_dns(j->jws, st, records, dns_reason, &pol, &j->res);
}

static void fail_job(dance_pipeline *pl, struct pl_job *j, dance_jws_status st,
                     const char *reason)
{
    dance_jws_policy pol = pl->cfg.policy;

    /* dance_jws_check fills sender and alg; the header passed at submit. */
    pol.topic = j->topic;
    dance_jws_check(j->jws, &pol, &j->res);
    j->res.status = st;
    snprintf(j->res.reason, sizeof(j->res.reason), "%s", reason);
}

static struct pl_group *find_group(struct pl_shard *sh, const char *owner)
{
    for (struct pl_group *g = sh->groups; g != NULL; g = g->next)
        if (strcmp(g->owner, owner) == 0)
            return g;
    return NULL;
}

static void unlink_group(struct pl_shard *sh, struct pl_group *g)
{
    for (struct pl_group **pp = &sh->groups; *pp != NULL; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            g->next = NULL;
            return;
        }
}

static void group_free(struct pl_group *g)
{
    if (g == NULL)
        return;
    job_list_free(g->head);
    dance_tlsa_result_clear(&g->answer);
    free(g);
}

/* answer_cb - on a DNS worker thread: the answer for a parked sender. */
static void answer_cb(void *ctx, const char *owner, const dance_tlsa_result *answer)
{
    struct pl_shard *sh = ctx;
    dance_tlsa_result copy;
    struct pl_group *g;

    memset(&copy, 0, sizeof(copy));
    if (dance_tlsa_result_copy(&copy, answer) != 0) {
        dance_tlsa_result_clear(&copy);
        snprintf(copy.reason, sizeof(copy.reason), "out of memory keeping the "
                 "TLSA answer for %s", owner);
    }
    pthread_mutex_lock(&sh->lock);
    g = find_group(sh, owner);
    if (g != NULL && !g->ready) {
        g->answer = copy;           /* moved */
        memset(&copy, 0, sizeof(copy));
        g->ready = true;
        sh->ready++;
        pthread_cond_signal(&sh->cond);
    }
    pthread_mutex_unlock(&sh->lock);
    dance_tlsa_result_clear(&copy);
}

/* run_group - a parked sender's messages, oldest first, with its answer. */
static void run_group(dance_pipeline *pl, struct pl_group *g)
{
    struct pl_job *j = g->head;

    g->head = g->tail = NULL;
    while (j != NULL) {
        struct pl_job *next = j->next;
        verify_job(pl, j, g->answer.status, &g->answer.records, g->answer.reason);
        complete(pl, j);
        j = next;
    }
    group_free(g);
}

/* park - start a group for j's cold sender and ask the DNS workers. */
static void park(struct pl_shard *sh, struct pl_job *j)
{
    dance_pipeline *pl = sh->pl;
    struct pl_group *g = calloc(1, sizeof(*g));
    dance_submit_result rc;
    char why[DANCE_REASON_MAX + DANCE_NAME_MAX];

    if (g == NULL) {
        fail_job(pl, j, DANCE_JWS_INTERNAL, "out of memory waiting for the "
                 "sender's TLSA records");
        complete(pl, j);
        return;
    }
    memcpy(g->owner, j->owner, sizeof(g->owner));
    j->next = NULL;
    g->head = g->tail = j;
    pthread_mutex_lock(&sh->lock);
    g->next = sh->groups;
    sh->groups = g;
    pthread_mutex_unlock(&sh->lock);

    /* Only this thread adds to groups, so until the submit returns the
     * group holds j alone; answer_cb only marks it ready. */
    if (dance_workers_room(pl->cfg.workers) > pl->cfg.dns_reserve)
        rc = dance_workers_submit_sender_fetch(pl->cfg.workers, g->owner, answer_cb, sh);
    else
        rc = DANCE_SUBMIT_FULL;
    if (rc == DANCE_SUBMIT_QUEUED) {
        pthread_mutex_lock(&pl->done_lock);
        pl->lookups++;
        pthread_mutex_unlock(&pl->done_lock);
        return;
    }
    pthread_mutex_lock(&sh->lock);
    unlink_group(sh, g);
    pthread_mutex_unlock(&sh->lock);
    snprintf(why, sizeof(why), "TLSA lookup for %s could not be queued: the DNS "
             "worker queue is full (plugin_opt_queue_size); try again later", g->owner);
    g->head = NULL;
    fail_job(pl, j, DANCE_JWS_LOOKUP_FAILED, why);
    complete(pl, j);
    group_free(g);
}

static void run_job(struct pl_shard *sh, struct pl_job *j)
{
    dance_pipeline *pl = sh->pl;
    const dance_cache_entry *e = dance_cache_acquire(pl->cfg.cache, j->owner);

    if (e == NULL) {
        park(sh, j);
        return;
    }
    verify_job(pl, j, dance_cache_entry_status(e), dance_cache_entry_records(e),
               dance_cache_entry_reason(e));
    dance_cache_entry_release(e);
    complete(pl, j);
}

/* take_ready - unlink the first ready group (lock held). */
static struct pl_group *take_ready(struct pl_shard *sh)
{
    for (struct pl_group *g = sh->groups; g != NULL; g = g->next)
        if (g->ready) {
            unlink_group(sh, g);
            sh->ready--;
            return g;
        }
    return NULL;
}

static void *shard_main(void *arg)
{
    struct pl_shard *sh = arg;

    for (;;) {
        struct pl_group *g = NULL;
        struct pl_job *j = NULL;

        pthread_mutex_lock(&sh->lock);
        while (!sh->stop && sh->head == NULL && sh->ready == 0)
            pthread_cond_wait(&sh->cond, &sh->lock);
        if (sh->stop) {
            pthread_mutex_unlock(&sh->lock);
            return NULL;
        }
        if (sh->ready > 0) {
            g = take_ready(sh);
        } else {
            struct pl_group *waiting;
            j = sh->head;
            sh->head = j->next;
            if (sh->head == NULL)
                sh->tail = NULL;
            j->next = NULL;
            /* Behind a parked message of the same sender: wait with it. */
            waiting = find_group(sh, j->owner);
            if (waiting != NULL) {
                waiting->tail->next = j;
                waiting->tail = j;
                j = NULL;
            }
        }
        pthread_mutex_unlock(&sh->lock);

        if (g != NULL)
            run_group(sh->pl, g);
        else if (j != NULL)
            run_job(sh, j);
    }
}

/* ------------------------------------------------------- broker thread */

static dance_pipeline_submit_result drop(dance_pipeline *pl, struct pl_job *j)
{
    job_free(j);
    pl->dropped++;
    return DANCE_PIPELINE_DROPPED;
}

dance_pipeline_submit_result dance_pipeline_submit(dance_pipeline *pl, const char *topic,
                                                   const void *payload, size_t len,
                                                   int qos, bool retain,
                                                   dance_jws_result *refusal)
{
    dance_jws_policy pol = pl->cfg.policy;
    struct pl_job *j;
    struct pl_shard *sh;
    dance_jws *jws = NULL;
    dance_jws_status st;
    char why[DANCE_REASON_MAX];

    /* Over the cap nothing is even parsed: overload must stay cheap. */
    if (pl->depth >= pl->cfg.queue_max)
        return drop(pl, NULL);

    dance_jws_result_clear(refusal);
    st = dance_jws_parse(payload, len, pl->cfg.max_payload, &jws, refusal->sender,
                         refusal->reason, sizeof(refusal->reason));
    if (st != DANCE_JWS_OK) {
        refusal->status = st;
        return DANCE_PIPELINE_REFUSED;
    }
    pol.topic = topic;
    if (dance_jws_check(jws, &pol, refusal) != DANCE_JWS_OK) {
        dance_jws_free(jws);
        return DANCE_PIPELINE_REFUSED;
    }

    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        dance_jws_free(jws);
        return drop(pl, NULL);
    }
    j->jws = jws;
    if (dance_owner_name(dance_jws_get_header(jws)->sender, pol.service_label,
                         j->owner, sizeof(j->owner), why, sizeof(why)) != 0) {
        refusal->status = DANCE_JWS_BAD_SENDER;
        snprintf(refusal->reason, sizeof(refusal->reason), "no TLSA owner name "
                 "for %.100s: %.100s", dance_jws_get_header(jws)->sender, why);
        job_free(j);
        return DANCE_PIPELINE_REFUSED;
    }
    j->topic = strdup(topic);
    j->payload = malloc(len > 0 ? len : 1);
    if (j->topic == NULL || j->payload == NULL)
        return drop(pl, j);
    memcpy(j->payload, payload, len);
    j->payload_len = len;
    j->qos = qos;
    j->retain = retain;

    sh = &pl->shards[owner_hash(j->owner) % pl->cfg.threads];
    pthread_mutex_lock(&sh->lock);
    if (sh->tail != NULL)
        sh->tail->next = j;
    else
        sh->head = j;
    sh->tail = j;
    pthread_cond_signal(&sh->cond);
    pthread_mutex_unlock(&sh->lock);
    pl->depth++;
    pl->submitted++;
    return DANCE_PIPELINE_QUEUED;
}

size_t dance_pipeline_drain(dance_pipeline *pl, dance_msg_outcome_fn fn, void *ctx)
{
    struct pl_job *list, *next;
    size_t n = 0;

    pthread_mutex_lock(&pl->done_lock);
    list = pl->done_head;
    pl->done_head = pl->done_tail = NULL;
    pthread_mutex_unlock(&pl->done_lock);

    for (; list != NULL; list = next) {
        dance_msg_outcome o;

        next = list->next;
        o.topic = list->topic;
        o.payload = list->payload;
        o.payload_len = list->payload_len;
        o.qos = list->qos;
        o.retain = list->retain;
        o.result = &list->res;
        if (fn != NULL)
            fn(ctx, &o);
        job_free(list);
        pl->depth--;
        n++;
    }
    return n;
}

void dance_pipeline_get_stats(dance_pipeline *pl, dance_pipeline_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->depth = pl->depth;
    out->submitted = pl->submitted;
    out->dropped = pl->dropped;
    pthread_mutex_lock(&pl->done_lock);
    out->lookups = pl->lookups;
    pthread_mutex_unlock(&pl->done_lock);
}

void dance_pipeline_stop(dance_pipeline *pl)
{
    if (pl == NULL || pl->stopped)
        return;
    for (unsigned i = 0; i < pl->cfg.threads; i++) {
        struct pl_shard *sh = &pl->shards[i];
        pthread_mutex_lock(&sh->lock);
        sh->stop = true;
        pthread_cond_broadcast(&sh->cond);
        pthread_mutex_unlock(&sh->lock);
    }
    for (unsigned i = 0; i < pl->cfg.threads; i++)
        if (pl->shards[i].started) {
            pthread_join(pl->shards[i].thread, NULL);
            pl->shards[i].started = false;
        }
    pl->stopped = true;
}

void dance_pipeline_free(dance_pipeline *pl)
{
    if (pl == NULL)
        return;
    dance_pipeline_stop(pl);
    for (unsigned i = 0; i < pl->cfg.threads; i++) {
        struct pl_shard *sh = &pl->shards[i];
        job_list_free(sh->head);
        while (sh->groups != NULL) {
            struct pl_group *g = sh->groups;
            sh->groups = g->next;
            group_free(g);
        }
        pthread_mutex_destroy(&sh->lock);
        pthread_cond_destroy(&sh->cond);
    }
    job_list_free(pl->done_head);
    pthread_mutex_destroy(&pl->done_lock);
    free(pl->shards);
    free(pl);
}

dance_pipeline *dance_pipeline_start(const dance_pipeline_config *cfg,
                                     char *err, size_t errlen)
{
    dance_pipeline *pl;
    sigset_t all, old;
    int rc = 0;

    if (cfg->threads == 0 || cfg->queue_max == 0 || cfg->cache == NULL ||
        cfg->workers == NULL) {
        snprintf(err, errlen, "message pipeline: invalid configuration");
        return NULL;
    }
    pl = calloc(1, sizeof(*pl));
    if (pl == NULL || (pl->shards = calloc(cfg->threads, sizeof(*pl->shards))) == NULL) {
        free(pl);
        snprintf(err, errlen, "message pipeline: out of memory");
        return NULL;
    }
    pl->cfg = *cfg;
    pthread_mutex_init(&pl->done_lock, NULL);
    for (unsigned i = 0; i < cfg->threads; i++) {
        pl->shards[i].pl = pl;
        pthread_mutex_init(&pl->shards[i].lock, NULL);
        pthread_cond_init(&pl->shards[i].cond, NULL);
    }

    /* Verify threads block every signal: Mosquitto's handlers must run on
     * the broker thread (as for the DNS workers). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned i = 0; i < cfg->threads; i++) {
        rc = pthread_create(&pl->shards[i].thread, NULL, shard_main, &pl->shards[i]);
        if (rc != 0)
            break;
        pl->shards[i].started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "message pipeline: cannot start a thread: %s", strerror(rc));
        dance_pipeline_free(pl);
        return NULL;
    }
    return pl;
}
