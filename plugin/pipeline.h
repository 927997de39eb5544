/*
 * plugin/pipeline.h - verification of signed (JWS) messages off the broker
 * thread. Design notes are in pipeline.c.
 *
 * submit, drain, stats, start, stop and free are called from the broker
 * (host) thread only. Outcomes come back in dance_pipeline_drain, which
 * the plugin calls from TICK, in the order the messages of each sender
 * were submitted. Pure: no Mosquitto headers.
 */
#ifndef DANCE_PLUGIN_PIPELINE_H
#define DANCE_PLUGIN_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dance/cache.h"
#include "dance/jws.h"
#include "workers.h"

typedef struct dance_pipeline dance_pipeline;

typedef struct dance_pipeline_config {
    unsigned threads;               /* verify threads (one queue each), >= 1 */
    size_t queue_max;               /* messages between submit and drain */
    size_t max_payload;             /* bytes; larger messages: too_large */
    /* Template for every message; its topic is set per message. What it
     * points to (allow-list, matcher, key and replay caches) is shared and
     * must outlive the pipeline. */
    dance_jws_policy policy;
    dance_cache *cache;             /* shared TLSA cache */
    dance_workers *workers;         /* DNS lookups for cold senders */
    size_t dns_reserve;             /* DNS queue slots left to others
                                       (CONNECT lookups): a cold sender's
                                       lookup is only queued while more
                                       than this many are free */
} dance_pipeline_config;

/* One finished message, as dance_pipeline_drain reports it. Pointers are
 * valid during the callback only. */
typedef struct dance_msg_outcome {
    const char *topic;              /* as published */
    const unsigned char *payload;   /* as published (the JWS) */
    size_t payload_len;
    int qos;
    bool retain;
    const dance_jws_result *result; /* verdict, sender, alg, key source,
                                       reason; its payload is NULL */
} dance_msg_outcome;

typedef void (*dance_msg_outcome_fn)(void *ctx, const dance_msg_outcome *o);

typedef enum dance_pipeline_submit_result {
    DANCE_PIPELINE_QUEUED,          /* comes back from drain */
    DANCE_PIPELINE_REFUSED,         /* refused on the spot, refusal filled */
    DANCE_PIPELINE_DROPPED,         /* queue full or out of memory; counted */
    DANCE_PIPELINE_SUBMIT_COUNT
} dance_pipeline_submit_result;

typedef struct dance_pipeline_stats {
    size_t depth;                   /* submitted, not yet drained */
    uint64_t submitted;             /* queued for verification */
    uint64_t dropped;               /* queue full or out of memory */
    uint64_t lookups;               /* DNS lookups queued for cold senders */
} dance_pipeline_stats;

/* dance_pipeline_start - start cfg->threads verify threads. cfg is copied.
 * Returns NULL with a reason in err. */
dance_pipeline *dance_pipeline_start(const dance_pipeline_config *cfg,
                                     char *err, size_t errlen);

/* dance_pipeline_submit - everything that needs no key, on the calling
 * (broker) thread: size, structure and protected header (dance_jws_parse),
 * allow-list, iat and topic binding (dance_jws_check), owner name. A
 * message that fails is REFUSED with *refusal filled (refusal must start
 * zeroed or be a previously used result; its payload stays NULL); no DNS
 * query is made for it. Otherwise the message (topic and payload copied)
 * joins the queue of its sender's verify thread and is QUEUED. DROPPED
 * when queue_max messages are already between submit and drain, or on
 * allocation failure. */
dance_pipeline_submit_result dance_pipeline_submit(dance_pipeline *pl, const char *topic,
                                                   const void *payload, size_t len,
                                                   int qos, bool retain,
                                                   dance_jws_result *refusal);

/* dance_pipeline_drain - hand every finished message to fn, in the order
 * they finished (per sender: the order they were submitted), and free
 * them. Returns how many. */
size_t dance_pipeline_drain(dance_pipeline *pl, dance_msg_outcome_fn fn, void *ctx);

void dance_pipeline_get_stats(dance_pipeline *pl, dance_pipeline_stats *out);

/* dance_pipeline_stop - stop and join the verify threads (a message being
 * verified is finished first). The structure stays valid for answers of
 * lookups still running on the worker pool: stop the pipeline, then the
 * worker pool, then free the pipeline. NULL-safe, idempotent. */
void dance_pipeline_stop(dance_pipeline *pl);

/* dance_pipeline_free - stop if needed and free every message still held
 * without reporting it. NULL-safe. */
void dance_pipeline_free(dance_pipeline *pl);

#endif
