/*
 * plugin/pipeline.h - verification of signed (JWS) messages off the broker
 * thread. Design notes are in pipeline.c.
 *
 * submit, drain, stats, start, stop and free are called from the broker
 * (host) thread only. Outcomes come back in mdp_pipeline_drain, which
 * the plugin calls from TICK, in the order the messages of each sender
 * were submitted. Pure: no Mosquitto headers.
 */
#ifndef MDP_PIPELINE_H
#define MDP_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dance/cache.h"
#include "dance/jws.h"
#include "workers.h"

typedef struct mdp_pipeline mdp_pipeline;

typedef struct mdp_pipeline_config {
    unsigned threads;               /* verify threads (one queue each), >= 1 */
    size_t queue_max;               /* messages between submit and drain */
    size_t max_payload;             /* bytes; larger messages: too_large */
    /* Template for every message; its topic is set per message. What it
     * points to (allow-list, matcher, key and replay caches) is shared and
     * must outlive the pipeline. */
    dance_jws_policy policy;
    dance_cache *cache;             /* shared TLSA cache */
    mdp_workers *workers;         /* DNS lookups for cold senders */
    size_t dns_reserve;             /* DNS queue slots left to others
                                       (CONNECT lookups): a cold sender's
                                       lookup is only queued while more
                                       than this many are free */
    size_t queue_bytes;             /* bytes held between submit and drain
                                       (mdp_pipeline_msg_cost each); 0:
                                       no byte bound */
    unsigned lookup_rate;           /* cold-sender lookups per second per
                                       publisher; 0: no limit */
    unsigned lookup_burst;          /* lookups a rested publisher may start
                                       at once (>= 1 with lookup_rate) */
    dance_clock_fn clock;           /* monotonic ms; NULL: the real one */
    void *clock_ctx;
} mdp_pipeline_config;

/* At most this many publishers have lookup budgets at once (see
 * pipeline.c, "Lookup budgets"); a new publisher beyond it gets no cold
 * lookups (rate_limited) until budgets are reclaimed. */
#define MDP_PIPELINE_PUBLISHERS_MAX 65536u
/* Longest publisher key kept; longer ones share a budget by prefix. */
#define MDP_PIPELINE_PUBLISHER_KEY_MAX 256u

/* Who published a message, for the lookup budget. name is the identity
 * the plugin authenticated (authenticated true) or else the client id;
 * the two never share a budget. NULL name: one shared budget. */
typedef struct mdp_pipeline_publisher {
    const char *name;
    bool authenticated;
    /* a forwarder's copy (another broker's verified message, verified
     * again): charged to no budget, since that broker bounded its own
     * publishers and a cold cache here must not refuse its senders; the
     * outcome says forwarded */
    bool forwarded;
} mdp_pipeline_publisher;

/* One finished message, as mdp_pipeline_drain reports it. Pointers are
 * valid during the callback only. */
typedef struct mdp_msg_outcome {
    const char *topic;              /* as published */
    const unsigned char *payload;   /* as published (JWS text or COSE_Sign1
                                       binary: payload_len bytes, no NUL) */
    size_t payload_len;
    int qos;
    bool retain;
    bool forwarded;                 /* submitted with publisher forwarded */
    const dance_jws_result *result; /* verdict, sender, alg, key source,
                                       reason; its payload is NULL */
} mdp_msg_outcome;

typedef void (*mdp_msg_outcome_fn)(void *ctx, const mdp_msg_outcome *o);

typedef enum mdp_pipeline_submit_result {
    MDP_PIPELINE_QUEUED,          /* comes back from drain */
    MDP_PIPELINE_REFUSED,         /* refused on the spot, refusal filled */
    MDP_PIPELINE_DROPPED,         /* not verified (mdp_pipeline_drop
                                       says why); counted */
    MDP_PIPELINE_SUBMIT_COUNT
} mdp_pipeline_submit_result;

/* Why a message was dropped from verification. */
typedef enum mdp_pipeline_drop {
    MDP_PIPELINE_DROP_QUEUE_FULL,     /* "queue_full": queue_max messages held */
    MDP_PIPELINE_DROP_QUEUE_BYTES,    /* "queue_bytes": queue_bytes would be passed */
    MDP_PIPELINE_DROP_NO_MEMORY,      /* "out_of_memory" */
    MDP_PIPELINE_DROP_COUNT
} mdp_pipeline_drop;

/* "queue_full", "queue_bytes", "out_of_memory"; "unknown" out of range. */
const char *mdp_pipeline_drop_name(mdp_pipeline_drop d);

typedef struct mdp_pipeline_stats {
    size_t depth;                   /* submitted, not yet drained */
    size_t bytes;                   /* their cost (mdp_pipeline_msg_cost) */
    size_t publishers;              /* lookup budgets held now */
    uint64_t submitted;             /* queued for verification */
    uint64_t dropped;               /* all drops (sum of dropped_by) */
    uint64_t dropped_by[MDP_PIPELINE_DROP_COUNT];
    uint64_t lookups;               /* DNS lookups queued for cold senders */
    uint64_t rate_limited;          /* cold lookups refused: budget used up */
} mdp_pipeline_stats;

/* mdp_pipeline_msg_cost - the bytes a message of topic_len and
 * payload_len is counted as against queue_bytes: twice the payload (the
 * copy kept for publishing and the parsed copy), the topic and a fixed
 * per-message overhead. Cannot fail. */
size_t mdp_pipeline_msg_cost(size_t topic_len, size_t payload_len);

/* mdp_pipeline_start - start cfg->threads verify threads. cfg is copied.
 * Returns NULL with a reason in err. */
mdp_pipeline *mdp_pipeline_start(const mdp_pipeline_config *cfg,
                                     char *err, size_t errlen);

/* mdp_pipeline_submit - everything that needs no key, on the calling
 * (broker) thread: size, structure and protected header (dance_jws_parse),
 * allow-list, iat and topic binding (dance_jws_check), owner name. A
 * message that fails is REFUSED with *refusal filled (refusal must start
 * zeroed or be a previously used result; its payload stays NULL); no DNS
 * query is made for it. Otherwise the message (topic and payload copied)
 * joins the queue of its sender's verify thread and is QUEUED; if its
 * sender is cold, the lookup is charged to pub's budget (NULL: the shared
 * one) and refused as rate_limited when that is used up. DROPPED, with
 * the reason in *why when why is not NULL, when queue_max messages or
 * queue_bytes are already held between submit and drain, or on allocation
 * failure. */
mdp_pipeline_submit_result mdp_pipeline_submit(mdp_pipeline *pl,
                                                   const mdp_pipeline_publisher *pub,
                                                   const char *topic,
                                                   const void *payload, size_t len,
                                                   int qos, bool retain,
                                                   dance_jws_result *refusal,
                                                   mdp_pipeline_drop *why);

/* mdp_pipeline_drain - hand every finished message to fn, in the order
 * they finished (per sender: the order they were submitted), and free
 * them; about once a second also frees the lookup budgets of publishers
 * that have nothing queued and a full budget. Returns how many messages. */
size_t mdp_pipeline_drain(mdp_pipeline *pl, mdp_msg_outcome_fn fn, void *ctx);

void mdp_pipeline_get_stats(mdp_pipeline *pl, mdp_pipeline_stats *out);

/* mdp_pipeline_stop - stop and join the verify threads (a message being
 * verified is finished first). The structure stays valid for answers of
 * lookups still running on the worker pool: stop the pipeline, then the
 * worker pool, then free the pipeline. NULL-safe, idempotent. */
void mdp_pipeline_stop(mdp_pipeline *pl);

/* mdp_pipeline_free - stop if needed and free every message still held
 * without reporting it. NULL-safe. */
void mdp_pipeline_free(mdp_pipeline *pl);

#endif
