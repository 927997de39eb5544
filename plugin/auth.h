/*
 * plugin/auth.h - DANE and token client authentication at CONNECT
 * (MOSQ_EVT_BASIC_AUTH; see auth.c). Broker thread only.
 */
#ifndef DANCE_PLUGIN_AUTH_H
#define DANCE_PLUGIN_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include "dance/cache.h"
#include "dance/dane.h"
#include "clients.h"
#include "decide.h"
#include "guard.h"
#include "options.h"
#include "tokens.h"
#include "workers.h"

struct mosquitto_evt_basic_auth;

typedef struct dance_auth dance_auth;

/* What the decisions were ($SYS auth/...). */
typedef struct dance_auth_counters {
    uint64_t accepted;
    uint64_t refused[DANCE_V_COUNT];    /* by reason */
    uint64_t deferred[DANCE_V_COUNT];   /* by reason (fallback defer) */
    uint64_t token_accepted;            /* of accepted: by a token */
} dance_auth_counters;

/* What authentication works with; all must outlive it. */
typedef struct dance_auth_config {
    const dance_plugin_config *cfg;
    const dance_matcher *matcher;
    dance_cache *cache;
    dance_workers *workers;             /* cold lookups */
    dance_clients *clients;             /* admitted clients are registered */
    dance_tokens *tokens;               /* NULL: token logins off */
    dance_guard *guard;                 /* told of each admitted client */
} dance_auth_config;

dance_auth *dance_auth_new(const dance_auth_config *c);    /* NULL on ENOMEM */
void dance_auth_free(dance_auth *a);                        /* NULL-safe */

/* dance_auth_on_basic_auth - the BASIC_AUTH answer: MOSQ_ERR_SUCCESS,
 * MOSQ_ERR_PLUGIN_DEFER or MOSQ_ERR_AUTH; one log line per decision. */
int dance_auth_on_basic_auth(dance_auth *a, const struct mosquitto_evt_basic_auth *ed);

/* dance_auth_tick - TICK arrived (the plugin is global; a reload's
 * re-authentications are over). */
void dance_auth_tick(dance_auth *a);

/* dance_auth_reload - RELOAD: until the next TICK, BASIC_AUTH for
 * connected clients is answered from the registry. */
void dance_auth_reload(dance_auth *a);

void dance_auth_get_counters(const dance_auth *a, dance_auth_counters *out);

#endif
