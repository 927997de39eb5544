/*
 * plugin/plugin.h - the plugin's state and the functions the Mosquitto
 * glue files (plugin.c, auth.c, stats.c) share.
 *
 * All plugin state lives in one struct dance_plugin, passed to Mosquitto
 * as userdata and to every callback. Everything in it is touched on the
 * broker thread only, except the cache, the matcher, the worker pool and
 * the message pipeline with its key and replay caches, which are
 * thread-safe (see workers.c, pipeline.c).
 */
#ifndef DANCE_PLUGIN_PLUGIN_H
#define DANCE_PLUGIN_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "dance/cache.h"
#include "dance/dane.h"
#include "dance/error.h"
#include "dance/jws.h"
#include "dance/keycache.h"
#include "dance/replay.h"
#include "dance/token.h"
#include "clients.h"
#include "decide.h"
#include "guard.h"
#include "options.h"
#include "pipeline.h"
#include "replayfile.h"
#include "waitbudget.h"
#include "workers.h"

/* Counters published under $SYS/broker/dance/ (see stats.c). Broker
 * thread only; the cache and worker pool keep their own. */
typedef struct dance_stats {
    uint64_t accepted;
    uint64_t refused[DANCE_V_COUNT];    /* by reason */
    uint64_t deferred[DANCE_V_COUNT];   /* by reason (fallback defer) */
    uint64_t revocations;               /* connected clients disconnected */
    uint64_t rechecks;                  /* re-checks completed */
    uint64_t recheck_failures;          /* re-checks that could not decide */
    uint64_t bypass;                    /* clients acting without our decision */
    uint64_t token_accepted;            /* of accepted: by a token */
    uint64_t token_expiries;            /* token clients disconnected at exp */
} dance_stats;

/* Message verification counters (message.c, published by stats.c). Broker
 * thread only; the pipeline counts its queue and drops itself. */
typedef struct dance_msg_stats {
    uint64_t verified;
    uint64_t refused[DANCE_STATUS_COUNT];   /* by dance_status */
    uint64_t publish_failures;  /* copies/diagnostics Mosquitto did not take */
} dance_msg_stats;

/* One pending kick: client id plus the registry entry it is for. */
typedef struct dance_kick {
    char *client_id;
    const void *key;
    uint64_t token;
    bool expiry;                    /* token expired (else: revoked) */
} dance_kick;

struct dance_plugin {
    mosquitto_plugin_id_t *pid;
    dance_plugin_config cfg;
    dance_resolver_config resolver_cfg;     /* views into cfg */
    dance_matcher *matcher;
    dance_cache *cache;
    dance_workers *workers;
    dance_clients *clients;
    dance_wait_budget wait_budget;  /* broker thread's waiting on DNS (auth.c) */
    dance_stats stats;

    unsigned registered;            /* bit (1 << event) per registered callback */
    uint64_t started_ms;
    uint64_t first_auth_ms;         /* first BASIC_AUTH, for the TICK watchdog */
    bool tick_seen;                 /* TICK arrives: global plugin, good */
    bool warned_no_tick;
    bool reload_window;             /* from RELOAD to the next TICK */
    bool revalidate_now;            /* start a round at the next TICK */
    uint64_t next_round_ms;
    uint64_t next_stats_ms;

    dance_kick *kicks;              /* revocations to carry out at TICK */
    size_t kick_count, kick_cap;

    /* reserved trees and the bypass check (guard.c); the prefixes are
     * guarded whether or not messages are verified */
    size_t verified_prefix_len, rejected_prefix_len;
    bool acl_defer;                 /* an ACL decider follows: defer to it */
    const void *last_disconnected;  /* DISCONNECT seen this loop iteration */
    const void *last_admitted;      /* BASIC_AUTH passed this loop iteration */
    const void *acl_write_client;   /* unregistered client of the last ACL
                                       WRITE; MESSAGE tells PUBLISH from bridge */
    uint64_t reserved_denied[DANCE_GUARD_PATH_COUNT];

    /* message verification (message.c); NULL/0 when off */
    bool verifying;
    dance_pipeline *pipeline;
    dance_jws_keycache *keycache;
    dance_replay *replay;
    dance_msg_stats mstats;
    char *topic_buf;                /* "<prefix><topic>" is built here */
    size_t topic_buf_cap;
    uint64_t log_window_ms;         /* rate limit of per-message log lines */
    unsigned log_lines;
    uint64_t log_suppressed;

    /* token authentication (auth.c); NULL/0 when off. The policy points
     * into cfg and at the caches below; workers read it (thread-safe). */
    dance_token_policy token_policy;
    dance_jws_keycache *token_keys;
    dance_replay *token_replay;
    int64_t next_token_expiry;      /* wall clock; 0: none to watch */
    /* the jti cache's file (plugin_opt_token_replay_file); NULL when not
     * kept. While its last write failed, token logins are refused
     * (token_replay_unsaved, set at TICK from the saver's status): a jti
     * accepted then could be accepted again after a restart. */
    dance_replay_saver *token_saver;
    bool token_replay_unsaved;
    uint64_t token_save_failures_seen;  /* failures already logged */
};

/* Monotonic milliseconds. */
uint64_t dance_plugin_now_ms(void);

/* plugin.c: queue the disconnect of e's client for the next TICK (kicks
 * run our DISCONNECT callback, which edits the registry). 0, or -1 on
 * ENOMEM. */
int dance_kick_queue(struct dance_plugin *p, const dance_client *e, bool expiry);

/* message.c: a log line that counts against the per-second cap of
 * per-message lines (a flood of bad messages cannot flood the log). */
void dance_log_limited(struct dance_plugin *p, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* auth.c: the MOSQ_EVT_BASIC_AUTH callback. */
int dance_auth_basic_cb(int event, void *event_data, void *userdata);

/* auth.c: s escaped for a quoted log field (dance_escape; NULL as "-"):
 * client ids, usernames and topics are client-controlled. Returns buf. */
const char *dance_log_safe(const char *s, char *buf, size_t buflen);

/* message.c: message verification. start builds the caches and the
 * pipeline when verify_topics is set (else does nothing) and returns 0,
 * or -1 with a reason in err. stop joins the verify threads; free releases
 * the rest and must come after the worker pool is stopped (the pipeline
 * receives DNS answers from it). on_message is the MESSAGE hook: returns
 * MOSQ_ERR_SUCCESS (the message always goes on unchanged; the reserved
 * trees are guard.c's). tick drains
 * finished verifications and publishes the copies. */
int dance_messages_start(struct dance_plugin *p, char *err, size_t errlen);
void dance_messages_stop(struct dance_plugin *p);
void dance_messages_free(struct dance_plugin *p);
int dance_messages_on_message(struct dance_plugin *p, const struct mosquitto_evt_message *ed);
void dance_messages_tick(struct dance_plugin *p);

/* stats.c: publish every counter (retained) under $SYS/broker/dance/.
 * Broker thread (TICK) only. */
void dance_stats_publish(struct dance_plugin *p);

#endif
