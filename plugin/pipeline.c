/*
 * plugin/pipeline.c - signed messages verified on worker threads, in
 * per-sender order, without ever waiting for DNS on the broker thread.
 *
 * Why: a signature check costs 15-60 us (ES256, Ed25519, RS256 on this
 * class of machine) and a cold key costs a DNSSEC-validated lookup of
 * milliseconds to seconds. Mosquitto runs the MESSAGE callback on its one
 * broker thread, so only the cheap steps happen there (mdp_pipeline_
 * submit: parse, allow-list, header policy) and the rest here.
 *
 * Stages and threads:
 *   broker thread   submit: parse (JWS or COSE_Sign1, told apart by the
 *                   first byte) + header checks; refusals reported at
 *                   once. The message goes to the queue of verify thread
 *                   hash(owner name) % threads ("shard"); the threads, their
 *                   queues and the completion list are a mdp_pool
 *                   (threadpool.h) with one queue per thread.
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
 *                   (answer_cb): the group is marked ready and put first
 *                   in the shard's queue, so the verify thread runs its
 *                   messages, oldest first, before the rest of its queue.
 *   broker thread   TICK: mdp_pipeline_drain swaps the completion list
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
 * no room is refused as lookup_failure (try again later). Depth is also
 * bounded in bytes (queue_bytes, mdp_pipeline_msg_cost per message), so
 * many large messages parked behind one slow sender cannot take memory
 * in proportion to queue_max x max_payload.
 *
 * Lookup budgets: one authenticated client can sign as any number of
 * names under an allowed domain, each a cold lookup (several DNSSEC
 * queries) answered "no such name". Without a bound per publisher it
 * could fill the DNS queue ahead of everyone else's senders and make the
 * broker a query amplifier. So each publisher (its authenticated identity,
 * or its client id) has a budget of lookup_rate cold lookups per second
 * with bursts of lookup_burst, charged only when a lookup is really
 * started (park): messages of warm senders, of senders with a cached
 * negative answer, and of a sender whose lookup is already pending cost
 * nothing. A cold lookup over budget is refused as rate_limited. The
 * budget is a GCRA cell (a token bucket as one timestamp, tat_us): O(1),
 * no allocation. Budgets live in a hash table keyed by publisher, built
 * and swept on the broker thread only; a queued message holds a reference
 * to its publisher's budget (counted on the broker thread: taken at
 * submit, dropped at drain), so a verify thread can charge it without the
 * table. A budget with nothing queued whose bucket has refilled is no
 * different from a new one and is freed by the sweep in drain; a budget
 * still refilling stays, so reconnecting does not buy a fresh burst. At
 * most MDP_PIPELINE_PUBLISHERS_MAX budgets exist; a publisher that finds
 * the table full gets no cold lookups until it drains (fail closed).
 *
 * Locks: the pool's own guard the queues and the completion list; each
 * shard's `lock` guards its groups; none is held while verifying.
 * `count_lock` guards the lookups count. `pub_lock` guards every budget's
 * tat_us and the rate_limited count (held for a charge, and by the sweep).
 * Ownership: a message belongs to its shard queue, then to the verify
 * thread (or a group), then to the completion list, then to drain, which
 * frees it.
 */
#include "pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dance/cose.h"
#include "dance/error.h"
#include "dance/hashtab.h"
#include "threadpool.h"

/* Budget sweep period (drain), milliseconds. */
#define PUB_SWEEP_MS 1000u
#define PUB_BUCKETS_MIN 64u

/* Publisher kinds: never the same budget across kinds. */
enum { PUB_SHARED, PUB_CLIENT_ID, PUB_IDENTITY };

/* One publisher's lookup budget. */
struct pl_pub {
    dance_hashtab_node hnode;       /* in pubs (broker thread) */
    unsigned kind;
    size_t refs;                    /* queued messages (broker thread) */
    uint64_t tat_us;                /* GCRA theoretical arrival time (pub_lock) */
    char name[];                    /* at most MDP_PIPELINE_PUBLISHER_KEY_MAX */
};

/* What a shard's queue holds: a message, or a group whose answer came. */
struct pl_item {
    mdp_pool_item link;           /* first: the pool's item is the pl_item */
    bool group;
};

struct pl_job {
    struct pl_item it;              /* first */
    struct pl_job *next;            /* in a group */
    dance_jws *jws;                 /* freed once verified */
    char *topic;
    unsigned char *payload;
    size_t payload_len;
    int qos;
    bool retain;
    bool forwarded;                 /* see mdp_pipeline_publisher */
    size_t cost;                    /* against queue_bytes */
    struct pl_pub *pub;             /* lookup budget (a reference); NULL:
                                       none (limit off, or no_budget) */
    bool no_budget;                 /* table full: no cold lookup */
    char owner[DANCE_NAME_MAX + 1];
    dance_jws_result res;
};

/* Messages of one cold sender, waiting for its DNS answer. */
struct pl_group {
    struct pl_item it;              /* first; queued once ready */
    struct pl_group *next;
    char owner[DANCE_NAME_MAX + 1];
    struct pl_job *head, *tail;
    bool ready;                     /* answer is in */
    dance_tlsa_result answer;
};

struct pl_shard {
    mdp_pipeline *pl;
    unsigned index;                 /* its queue and thread in the pool */
    pthread_mutex_t lock;
    struct pl_group *groups;
};

struct mdp_pipeline {
    mdp_pipeline_config cfg;
    struct pl_shard *shards;
    mdp_pool *threads;

    /* broker thread only */
    size_t depth, bytes;
    uint64_t submitted;
    uint64_t dropped_by[MDP_PIPELINE_DROP_COUNT];
    dance_hashtab pubs;             /* budget table */
    uint64_t next_sweep_ms;

    pthread_mutex_t count_lock;
    uint64_t lookups;               /* under count_lock */

    pthread_mutex_t pub_lock;
    uint64_t rate_limited;          /* under pub_lock */
};

const char *mdp_pipeline_drop_name(mdp_pipeline_drop d)
{
    switch (d) {
    case MDP_PIPELINE_DROP_QUEUE_FULL:  return "queue_full";
    case MDP_PIPELINE_DROP_QUEUE_BYTES: return "queue_bytes";
    case MDP_PIPELINE_DROP_NO_MEMORY:   return "out_of_memory";
    case MDP_PIPELINE_DROP_COUNT:       break;
    }
    return "unknown";
}

size_t mdp_pipeline_msg_cost(size_t topic_len, size_t payload_len)
{
    return sizeof(struct pl_job) + topic_len + 1 + 2 * payload_len;
}

static uint64_t pl_now_ms(mdp_pipeline *pl)
{
    return pl->cfg.clock != NULL ? pl->cfg.clock(pl->cfg.clock_ctx)
                                 : dance_clock_monotonic_ms(NULL);
}

/* job_free - free j; its budget reference is dropped by the caller on
 * the broker thread (unref_job), or with the whole table at free. */
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

static void complete(mdp_pipeline *pl, struct pl_job *j)
{
    /* The verified payload is not needed: subscribers get the message
     * as published (JWS or COSE_Sign1). */
    free(j->res.payload);
    j->res.payload = NULL;
    j->res.payload_len = 0;
    dance_jws_free(j->jws);
    j->jws = NULL;
    j->next = NULL;
    mdp_pool_done(pl->threads, &j->it.link);
}

/* verify_job - the signature check (and replay cache) with a DNS answer in
 * any state; dance_jws_verify_dns maps non-secure answers to refusals. */
static void verify_job(mdp_pipeline *pl, struct pl_job *j, dance_status st,
                       const dance_tlsa_rrset *records, const char *dns_reason)
{
    dance_jws_policy pol = pl->cfg.policy;

    pol.topic = j->topic;
    dance_jws_verify_dns(j->jws, st, records, dns_reason, &pol, &j->res);
}

static void fail_job(mdp_pipeline *pl, struct pl_job *j, dance_status st,
                     const char *reason)
{
    dance_jws_policy pol = pl->cfg.policy;

    /* dance_jws_check fills sender and alg; the header passed at submit. */
    pol.topic = j->topic;
    dance_jws_check(j->jws, &pol, &j->res);
    j->res.status = st;
    dance_set_err(j->res.reason, sizeof(j->res.reason), "%s", reason);
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
        dance_set_err(copy.reason, sizeof(copy.reason), "out of memory keeping the "
                 "TLSA answer for %s", owner);
    }
    pthread_mutex_lock(&sh->lock);
    g = find_group(sh, owner);
    if (g != NULL && !g->ready) {
        g->answer = copy;           /* moved */
        memset(&copy, 0, sizeof(copy));
        g->ready = true;
    } else {
        g = NULL;
    }
    pthread_mutex_unlock(&sh->lock);
    dance_tlsa_result_clear(&copy);
    /* Only the shard's thread unlinks groups, and not before it takes
     * this item: g stays valid until then. */
    if (g != NULL)
        mdp_pool_push_front(sh->pl->threads, sh->index, &g->it.link);
}

/* run_group - a parked sender's messages, oldest first, with its answer. */
static void run_group(mdp_pipeline *pl, struct pl_group *g)
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

/* GCRA emission interval and tolerance, microseconds. */
static uint64_t pub_interval_us(const mdp_pipeline *pl)
{
    return 1000000u / pl->cfg.lookup_rate;
}

/* charge - take one cold lookup from j's budget (verify thread). true
 * when allowed, or when the limit is off. */
static bool charge(mdp_pipeline *pl, struct pl_job *j)
{
    uint64_t t, tau, now, tat;
    bool ok;

    if (pl->cfg.lookup_rate == 0 || j->forwarded)
        return true;                    /* forwarded: charged to no budget */
    if (j->pub == NULL) {               /* no_budget */
        pthread_mutex_lock(&pl->pub_lock);
        pl->rate_limited++;
        pthread_mutex_unlock(&pl->pub_lock);
        return false;
    }
    t = pub_interval_us(pl);
    tau = (uint64_t)(pl->cfg.lookup_burst - 1) * t;
    now = pl_now_ms(pl) * 1000u;
    pthread_mutex_lock(&pl->pub_lock);
    tat = j->pub->tat_us > now ? j->pub->tat_us : now;
    ok = tat - now <= tau;
    if (ok)
        j->pub->tat_us = tat + t;
    else
        pl->rate_limited++;
    pthread_mutex_unlock(&pl->pub_lock);
    return ok;
}

/* refund - give back a charge whose lookup could not be queued. */
static void refund(mdp_pipeline *pl, struct pl_job *j)
{
    uint64_t t;

    if (pl->cfg.lookup_rate == 0 || j->pub == NULL)
        return;
    t = pub_interval_us(pl);
    pthread_mutex_lock(&pl->pub_lock);
    j->pub->tat_us = j->pub->tat_us > t ? j->pub->tat_us - t : 0;
    pthread_mutex_unlock(&pl->pub_lock);
}

/* rate_limited_reason - the refusal text, naming j's publisher (a client
 * id is client-chosen: the plugin filters reasons before logging them). */
static void rate_limited_reason(const mdp_pipeline *pl, const struct pl_job *j,
                                char *buf, size_t buflen)
{
    if (j->pub == NULL)
        dance_set_err(buf, buflen, "no TLSA lookup made for %s: %u publishers already "
                 "hold lookup budgets (the most the plugin keeps); warm senders "
                 "still verify, try again later", j->owner,
                 MDP_PIPELINE_PUBLISHERS_MAX);
    else
        dance_set_err(buf, buflen, "no TLSA lookup made for %s: %s%.64s%s has used its "
                 "budget of cold sender lookups (plugin_opt_sender_lookups_per_client "
                 "%u/%u); warm senders still verify, try again later", j->owner,
                 j->pub->kind == PUB_IDENTITY ? "identity " :
                 j->pub->kind == PUB_CLIENT_ID ? "client id \"" : "the shared publisher",
                 j->pub->name, j->pub->kind == PUB_CLIENT_ID ? "\"" : "",
                 pl->cfg.lookup_rate, pl->cfg.lookup_burst);
}

/* park - start a group for j's cold sender and ask the DNS workers. */
static void park(struct pl_shard *sh, struct pl_job *j)
{
    mdp_pipeline *pl = sh->pl;
    struct pl_group *g;
    mdp_submit_result rc;
    bool charged = false;
    char why[DANCE_REASON_MAX + DANCE_NAME_MAX];

    /* Before the DNS queue room: a flood must not even take slots. */
    if (mdp_workers_room(pl->cfg.workers) > pl->cfg.dns_reserve) {
        if (!charge(pl, j)) {
            rate_limited_reason(pl, j, why, sizeof(why));
            fail_job(pl, j, DANCE_RATE_LIMITED, why);
            complete(pl, j);
            return;
        }
        charged = true;
    }
    g = calloc(1, sizeof(*g));
    if (g != NULL)
        g->it.group = true;
    if (g == NULL) {
        if (charged)
            refund(pl, j);
        fail_job(pl, j, DANCE_INTERNAL, "out of memory waiting for the "
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
    if (charged)
        rc = mdp_workers_submit_sender_fetch(pl->cfg.workers, g->owner, answer_cb, sh);
    else
        rc = MDP_SUBMIT_FULL;
    if (rc == MDP_SUBMIT_QUEUED) {
        pthread_mutex_lock(&pl->count_lock);
        pl->lookups++;
        pthread_mutex_unlock(&pl->count_lock);
        return;
    }
    if (charged)
        refund(pl, j);
    pthread_mutex_lock(&sh->lock);
    unlink_group(sh, g);
    pthread_mutex_unlock(&sh->lock);
    dance_set_err(why, sizeof(why), "TLSA lookup for %s could not be queued: the DNS "
             "worker queue is full (plugin_opt_queue_size); try again later", g->owner);
    g->head = NULL;
    fail_job(pl, j, DANCE_LOOKUP_FAILED, why);
    complete(pl, j);
    group_free(g);
}

static void run_job(struct pl_shard *sh, struct pl_job *j)
{
    mdp_pipeline *pl = sh->pl;
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

/* run_item - a verify thread's next item: a group whose answer came in
 * (unlinked now; later messages of its sender no longer join it), or a
 * message, which waits in its sender's group when one is parked. */
static void run_item(void *ctx, unsigned thread, mdp_pool_item *item)
{
    mdp_pipeline *pl = ctx;
    struct pl_shard *sh = &pl->shards[thread];
    struct pl_item *it = (struct pl_item *)(void *)item;
    struct pl_job *j;
    struct pl_group *waiting;

    if (it->group) {
        struct pl_group *g = (struct pl_group *)(void *)it;
        pthread_mutex_lock(&sh->lock);
        unlink_group(sh, g);
        pthread_mutex_unlock(&sh->lock);
        run_group(pl, g);
        return;
    }
    j = (struct pl_job *)(void *)it;
    j->next = NULL;
    pthread_mutex_lock(&sh->lock);
    /* Behind a parked message of the same sender: wait with it. */
    waiting = find_group(sh, j->owner);
    if (waiting != NULL) {
        waiting->tail->next = j;
        waiting->tail = j;
        j = NULL;
    }
    pthread_mutex_unlock(&sh->lock);
    if (j != NULL)
        run_job(sh, j);
}

/* ------------------------------------------------------- broker thread */

/* pub_hash - the table's keyed hash over kind and name (names may be
 * client chosen: the key keeps chains from being aimed at); n is at most
 * MDP_PIPELINE_PUBLISHER_KEY_MAX. */
static uint64_t pub_hash(const mdp_pipeline *pl, unsigned kind, const char *name,
                         size_t n)
{
    char key[1 + MDP_PIPELINE_PUBLISHER_KEY_MAX];

    key[0] = (char)kind;
    memcpy(key + 1, name, n);
    return dance_hashtab_hash(&pl->pubs, key, n + 1);
}

typedef struct pub_key {
    unsigned kind;
    const char *name;
    size_t n;
} pub_key;

static bool pub_is(const dance_hashtab_node *node, const void *ctx)
{
    const struct pl_pub *p = DANCE_HASHTAB_ENTRY(node, const struct pl_pub, hnode);
    const pub_key *k = ctx;

    return p->kind == k->kind && strncmp(p->name, k->name, k->n) == 0 &&
           p->name[k->n] == '\0';
}

/* pub_ref - a reference to who's budget, made when missing. NULL with
 * *full set when the table is full, NULL alone on allocation failure. */
static struct pl_pub *pub_ref(mdp_pipeline *pl, const mdp_pipeline_publisher *who,
                              bool *full)
{
    unsigned kind = who == NULL || who->name == NULL ? PUB_SHARED
                  : who->authenticated ? PUB_IDENTITY : PUB_CLIENT_ID;
    const char *name = kind == PUB_SHARED ? "" : who->name;
    size_t n = strnlen(name, MDP_PIPELINE_PUBLISHER_KEY_MAX);
    uint64_t h = pub_hash(pl, kind, name, n);
    pub_key k = { kind, name, n };
    dance_hashtab_node *node = dance_hashtab_find(&pl->pubs, h, pub_is, &k);
    struct pl_pub *p;

    *full = false;
    if (node != NULL) {
        p = DANCE_HASHTAB_ENTRY(node, struct pl_pub, hnode);
        p->refs++;
        return p;
    }
    if (dance_hashtab_count(&pl->pubs) >= MDP_PIPELINE_PUBLISHERS_MAX) {
        *full = true;
        return NULL;
    }
    p = malloc(sizeof(*p) + n + 1);
    if (p == NULL)
        return NULL;
    p->kind = kind;
    p->refs = 1;
    p->tat_us = 0;
    memcpy(p->name, name, n);
    p->name[n] = '\0';
    /* the table doubles its chains as budgets come, up to one chain per
     * budget; when it cannot, chains just get longer */
    dance_hashtab_insert(&pl->pubs, &p->hnode, h);
    return p;
}

/* pub_sweep - free budgets with nothing queued that have fully refilled
 * (no different from a new one). About once per PUB_SWEEP_MS. */
static void pub_sweep(mdp_pipeline *pl)
{
    uint64_t now = pl_now_ms(pl);
    dance_hashtab_iter it;
    dance_hashtab_node *node;

    if (dance_hashtab_count(&pl->pubs) == 0 || now < pl->next_sweep_ms)
        return;
    pl->next_sweep_ms = now + PUB_SWEEP_MS;
    pthread_mutex_lock(&pl->pub_lock);
    dance_hashtab_iter_init(&it, &pl->pubs);
    while ((node = dance_hashtab_iter_next(&it)) != NULL) {
        struct pl_pub *p = DANCE_HASHTAB_ENTRY(node, struct pl_pub, hnode);
        if (p->refs == 0 && p->tat_us <= now * 1000u) {
            dance_hashtab_remove(&pl->pubs, node);
            free(p);
        }
    }
    pthread_mutex_unlock(&pl->pub_lock);
}

static mdp_pipeline_submit_result drop(mdp_pipeline *pl, struct pl_job *j,
                                         mdp_pipeline_drop reason,
                                         mdp_pipeline_drop *why)
{
    if (j != NULL && j->pub != NULL)
        j->pub->refs--;
    job_free(j);
    pl->dropped_by[reason]++;
    if (why != NULL)
        *why = reason;
    return MDP_PIPELINE_DROPPED;
}

mdp_pipeline_submit_result mdp_pipeline_submit(mdp_pipeline *pl,
                                                   const mdp_pipeline_publisher *pub,
                                                   const char *topic,
                                                   const void *payload, size_t len,
                                                   int qos, bool retain,
                                                   dance_jws_result *refusal,
                                                   mdp_pipeline_drop *dropped)
{
    dance_jws_policy pol = pl->cfg.policy;
    struct pl_job *j;
    dance_jws *jws = NULL;
    dance_status st;
    size_t cost = mdp_pipeline_msg_cost(strlen(topic), len);
    char why[DANCE_REASON_MAX];

    /* Over a cap nothing is even parsed: overload must stay cheap. */
    if (pl->depth >= pl->cfg.queue_max)
        return drop(pl, NULL, MDP_PIPELINE_DROP_QUEUE_FULL, dropped);
    if (pl->cfg.queue_bytes > 0 && cost > pl->cfg.queue_bytes - pl->bytes)
        return drop(pl, NULL, MDP_PIPELINE_DROP_QUEUE_BYTES, dropped);

    dance_jws_result_clear(refusal);
    /* JWS or COSE_Sign1, by the first byte; both parse into one object
     * that every later step (policy, key, replay, signature) takes. */
    st = dance_message_parse(payload, len, pl->cfg.max_payload, &jws, refusal->sender,
                             refusal->reason, sizeof(refusal->reason));
    if (st != DANCE_OK) {
        refusal->status = st;
        return MDP_PIPELINE_REFUSED;
    }
    pol.topic = topic;
    if (dance_jws_check(jws, &pol, refusal) != DANCE_OK) {
        dance_jws_free(jws);
        return MDP_PIPELINE_REFUSED;
    }

    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        dance_jws_free(jws);
        return drop(pl, NULL, MDP_PIPELINE_DROP_NO_MEMORY, dropped);
    }
    j->jws = jws;
    if (dance_owner_name(dance_jws_get_header(jws)->sender, pol.service_label,
                         j->owner, sizeof(j->owner), why, sizeof(why)) != 0) {
        refusal->status = DANCE_BAD_SENDER;
        dance_set_err(refusal->reason, sizeof(refusal->reason), "no TLSA owner name "
                 "for %.100s: %.100s", dance_jws_get_header(jws)->sender, why);
        job_free(j);
        return MDP_PIPELINE_REFUSED;
    }
    if (pl->cfg.lookup_rate > 0 && (pub == NULL || !pub->forwarded)) {
        j->pub = pub_ref(pl, pub, &j->no_budget);
        if (j->pub == NULL && !j->no_budget)
            return drop(pl, j, MDP_PIPELINE_DROP_NO_MEMORY, dropped);
    }
    j->topic = strdup(topic);
    j->payload = malloc(len > 0 ? len : 1);
    if (j->topic == NULL || j->payload == NULL)
        return drop(pl, j, MDP_PIPELINE_DROP_NO_MEMORY, dropped);
    memcpy(j->payload, payload, len);
    j->payload_len = len;
    j->qos = qos;
    j->retain = retain;
    j->forwarded = pub != NULL && pub->forwarded;
    j->cost = cost;

    (void)mdp_pool_push(pl->threads, owner_hash(j->owner) % pl->cfg.threads,
                          &j->it.link, 0);     /* unbounded: depth bounds it */
    pl->depth++;
    pl->bytes += cost;
    pl->submitted++;
    return MDP_PIPELINE_QUEUED;
}

size_t mdp_pipeline_drain(mdp_pipeline *pl, mdp_msg_outcome_fn fn, void *ctx)
{
    mdp_pool_item *item = mdp_pool_take_done(pl->threads), *next_item;
    size_t n = 0;

    for (; item != NULL; item = next_item) {
        struct pl_job *list = (struct pl_job *)(void *)item;
        mdp_msg_outcome o;

        next_item = item->next;
        o.topic = list->topic;
        o.payload = list->payload;
        o.payload_len = list->payload_len;
        o.qos = list->qos;
        o.retain = list->retain;
        o.forwarded = list->forwarded;
        o.result = &list->res;
        if (fn != NULL)
            fn(ctx, &o);
        if (list->pub != NULL)
            list->pub->refs--;
        pl->bytes -= list->cost;
        job_free(list);
        pl->depth--;
        n++;
    }
    pub_sweep(pl);
    return n;
}

void mdp_pipeline_get_stats(mdp_pipeline *pl, mdp_pipeline_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->depth = pl->depth;
    out->bytes = pl->bytes;
    out->publishers = dance_hashtab_count(&pl->pubs);
    out->submitted = pl->submitted;
    for (int d = 0; d < MDP_PIPELINE_DROP_COUNT; d++) {
        out->dropped_by[d] = pl->dropped_by[d];
        out->dropped += pl->dropped_by[d];
    }
    pthread_mutex_lock(&pl->count_lock);
    out->lookups = pl->lookups;
    pthread_mutex_unlock(&pl->count_lock);
    pthread_mutex_lock(&pl->pub_lock);
    out->rate_limited = pl->rate_limited;
    pthread_mutex_unlock(&pl->pub_lock);
}

void mdp_pipeline_stop(mdp_pipeline *pl)
{
    if (pl == NULL)
        return;
    mdp_pool_stop(pl->threads);
}

/* free_item - a message still queued or completed; a queued group is
 * freed with its shard's groups. */
static void free_item(void *ctx, mdp_pool_item *item)
{
    struct pl_item *it = (struct pl_item *)(void *)item;

    (void)ctx;
    if (!it->group)
        job_free((struct pl_job *)(void *)it);
}

void mdp_pipeline_free(mdp_pipeline *pl)
{
    dance_hashtab_iter it;
    dance_hashtab_node *node;

    if (pl == NULL)
        return;
    mdp_pool_free(pl->threads, free_item, NULL);
    for (unsigned i = 0; i < pl->cfg.threads; i++) {
        struct pl_shard *sh = &pl->shards[i];
        while (sh->groups != NULL) {
            struct pl_group *g = sh->groups;
            sh->groups = g->next;
            group_free(g);
        }
        pthread_mutex_destroy(&sh->lock);
    }
    dance_hashtab_iter_init(&it, &pl->pubs);
    while ((node = dance_hashtab_iter_next(&it)) != NULL)
        free(DANCE_HASHTAB_ENTRY(node, struct pl_pub, hnode));
    dance_hashtab_destroy(&pl->pubs);
    pthread_mutex_destroy(&pl->count_lock);
    pthread_mutex_destroy(&pl->pub_lock);
    free(pl->shards);
    free(pl);
}

mdp_pipeline *mdp_pipeline_start(const mdp_pipeline_config *cfg,
                                     char *err, size_t errlen)
{
    mdp_pipeline *pl;
    mdp_pool_config pc;

    if (cfg->threads == 0 || cfg->queue_max == 0 || cfg->cache == NULL ||
        cfg->workers == NULL || cfg->lookup_rate > 1000000u ||
        (cfg->lookup_rate > 0 && cfg->lookup_burst == 0)) {
        snprintf(err, errlen, "message pipeline: invalid configuration");
        return NULL;
    }
    pl = calloc(1, sizeof(*pl));
    if (pl == NULL || (pl->shards = calloc(cfg->threads, sizeof(*pl->shards))) == NULL ||
        dance_hashtab_init(&pl->pubs, PUB_BUCKETS_MIN, MDP_PIPELINE_PUBLISHERS_MAX) != 0) {
        if (pl != NULL)
            free(pl->shards);
        free(pl);
        snprintf(err, errlen, "message pipeline: out of memory");
        return NULL;
    }
    pl->cfg = *cfg;
    pthread_mutex_init(&pl->count_lock, NULL);
    pthread_mutex_init(&pl->pub_lock, NULL);
    for (unsigned i = 0; i < cfg->threads; i++) {
        pl->shards[i].pl = pl;
        pl->shards[i].index = i;
        pthread_mutex_init(&pl->shards[i].lock, NULL);
    }

    /* one queue per verify thread: a sender always goes to one thread */
    memset(&pc, 0, sizeof(pc));
    pc.threads = cfg->threads;
    pc.queues = cfg->threads;
    pc.run = run_item;
    pc.ctx = pl;
    pc.name = "message pipeline";
    pl->threads = mdp_pool_start(&pc, err, errlen);
    if (pl->threads == NULL) {
        mdp_pipeline_free(pl);
        return NULL;
    }
    return pl;
}
