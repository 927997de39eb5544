/*
 * plugin/message.h - signed message verification (message.c): the MESSAGE
 * hook's verification part, the verify pipeline it feeds, and the
 * verified copies and diagnostics published at TICK.
 *
 * Broker thread only (the pipeline does its work on threads of its own).
 */
#ifndef MDP_MESSAGE_H
#define MDP_MESSAGE_H

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

struct mosquitto_evt_acl_check;
struct mosquitto_evt_message;

typedef struct mdp_messages mdp_messages;

/* Message verification counters, broker thread only; the pipeline counts
 * its queue and drops itself. */
typedef struct mdp_msg_stats {
    uint64_t verified;
    uint64_t refused[DANCE_STATUS_COUNT];   /* by dance_status */
    uint64_t publish_failures;  /* copies/diagnostics Mosquitto did not take */
    uint64_t forwarded;         /* copies from forwarders received */
    uint64_t forwarded_verified;/*   of which verified (also in verified) */
    uint64_t encrypted_passed;  /* JWEs delivered unverified (encrypted pass) */
} mdp_msg_stats;

/* What stats.c publishes under messages/ (when verifying). */
typedef struct mdp_messages_counters {
    mdp_msg_stats msg;
    mdp_pipeline_stats pipeline;
    bool has_replay;                /* replay_window set */
    bool forwarding;                /* forwarders set */
    dance_replay_stats replay;
} mdp_messages_counters;

/* mdp_messages_start - the per-message log cap and, when verify_topics
 * is set, the key and replay caches and the pipeline (DNS through
 * workers and cache). NULL with a reason in err. */
mdp_messages *mdp_messages_start(const mdp_plugin_config *cfg,
                                     const dance_matcher *matcher, dance_cache *cache,
                                     mdp_workers *workers, mdp_clients *clients,
                                     char *err, size_t errlen);

/* mdp_messages_stop - join the verify threads. NULL-safe. */
void mdp_messages_stop(mdp_messages *m);

/* mdp_messages_free - the rest; after the worker pool is stopped (the
 * pipeline receives DNS answers from it). NULL-safe. */
void mdp_messages_free(mdp_messages *m);

bool mdp_messages_verifying(const mdp_messages *m);

/* mdp_messages_log - the cap on per-message log lines, which the guard's
 * denials count against too. */
mdp_log_limiter *mdp_messages_log(mdp_messages *m);

/* mdp_messages_on_message - the MESSAGE hook's verification: returns
 * MOSQ_ERR_SUCCESS (the message goes on unchanged; the reserved trees are
 * guard.c's), or MOSQ_ERR_ACL_DENIED for a copy under forwarded_prefix,
 * which is verified but never delivered as is. Call it after the guard,
 * which lets only forwarders write there. */
int mdp_messages_on_message(mdp_messages *m, const struct mosquitto_evt_message *ed);

/* mdp_messages_on_acl_write - the ACL_CHECK hook's part (WRITE: a client's
 * PUBLISH or will): MOSQ_ERR_ACL_DENIED for an encrypted message (JWE) on
 * a verify_topics topic with plugin_opt_encrypted refuse, counted, logged
 * and diagnosed as "encrypted"; MOSQ_ERR_SUCCESS otherwise (no opinion:
 * the caller decides). */
int mdp_messages_on_acl_write(mdp_messages *m, const struct mosquitto_evt_acl_check *ed);

/* mdp_messages_tick - drain finished verifications and publish the
 * copies; warn (once a minute at most; now_ms: the plugin's clock) when
 * the replay cache forgot messages early. */
void mdp_messages_tick(mdp_messages *m, uint64_t now_ms);

void mdp_messages_get_counters(const mdp_messages *m, mdp_messages_counters *out);

#endif
