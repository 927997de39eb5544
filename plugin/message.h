/*
 * plugin/message.h - signed message verification (message.c): the MESSAGE
 * hook's verification part, the verify pipeline it feeds, and the
 * verified copies and diagnostics published at TICK.
 *
 * Broker thread only (the pipeline does its work on threads of its own).
 */
#ifndef DANCE_PLUGIN_MESSAGE_H
#define DANCE_PLUGIN_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dance/cache.h"
#include "dance/dane.h"
#include "dance/jws.h"
#include "clients.h"
#include "log.h"
#include "options.h"
#include "pipeline.h"
#include "workers.h"

struct mosquitto_evt_message;

typedef struct dance_messages dance_messages;

/* Message verification counters, broker thread only; the pipeline counts
 * its queue and drops itself. */
typedef struct dance_msg_stats {
    uint64_t verified;
    uint64_t refused[DANCE_STATUS_COUNT];   /* by dance_status */
    uint64_t publish_failures;  /* copies/diagnostics Mosquitto did not take */
} dance_msg_stats;

/* What stats.c publishes under messages/ (when verifying). */
typedef struct dance_messages_counters {
    dance_msg_stats msg;
    dance_pipeline_stats pipeline;
    bool has_replay;                /* replay_window set */
    dance_replay_stats replay;
} dance_messages_counters;

/* dance_messages_start - the per-message log cap and, when verify_topics
 * is set, the key and replay caches and the pipeline (DNS through
 * workers and cache). NULL with a reason in err. */
dance_messages *dance_messages_start(const dance_plugin_config *cfg,
                                     const dance_matcher *matcher, dance_cache *cache,
                                     dance_workers *workers, dance_clients *clients,
                                     char *err, size_t errlen);

/* dance_messages_stop - join the verify threads. NULL-safe. */
void dance_messages_stop(dance_messages *m);

/* dance_messages_free - the rest; after the worker pool is stopped (the
 * pipeline receives DNS answers from it). NULL-safe. */
void dance_messages_free(dance_messages *m);

bool dance_messages_verifying(const dance_messages *m);

/* dance_messages_log - the cap on per-message log lines, which the guard's
 * denials count against too. */
dance_log_limiter *dance_messages_log(dance_messages *m);

/* dance_messages_on_message - the MESSAGE hook's verification: returns
 * MOSQ_ERR_SUCCESS (the message always goes on unchanged; the reserved
 * trees are guard.c's). */
int dance_messages_on_message(dance_messages *m, const struct mosquitto_evt_message *ed);

/* dance_messages_tick - drain finished verifications and publish the
 * copies. */
void dance_messages_tick(dance_messages *m);

void dance_messages_get_counters(const dance_messages *m, dance_messages_counters *out);

#endif
