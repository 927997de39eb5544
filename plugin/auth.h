/*
 * plugin/auth.h - DANE and token client authentication at CONNECT
 * (MOSQ_EVT_BASIC_AUTH; see auth.c). Broker thread only.
 */
#ifndef MDP_AUTH_H
#define MDP_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include "dance/cache.h"
#include "dance/dane.h"
#include "clients.h"
#include "decide.h"
#include "guard.h"
#include "warmstart.h"
#include "options.h"
#include "tokens.h"
#include "workers.h"

struct mosquitto_evt_basic_auth;

typedef struct mdp_auth mdp_auth;

/* What the decisions were ($SYS auth/...). */
typedef struct mdp_auth_counters {
    uint64_t accepted;
    uint64_t refused[MDP_V_COUNT];    /* by reason */
    uint64_t deferred[MDP_V_COUNT];   /* by reason (fallback defer) */
    uint64_t token_accepted;            /* of accepted: by a token */
} mdp_auth_counters;

/* What authentication works with; all must outlive it. */
typedef struct mdp_auth_config {
    const mdp_plugin_config *cfg;
    const dance_matcher *matcher;
    dance_cache *cache;
    mdp_workers *workers;             /* cold lookups */
    mdp_clients *clients;             /* admitted clients are registered */
    mdp_tokens *tokens;               /* NULL: token logins off */
    mdp_guard *guard;                 /* told of each admitted client */
    mdp_warmstart *warmstart;         /* admitted identities are noted
                                           there; NULL: no identities_file */
} mdp_auth_config;

mdp_auth *mdp_auth_new(const mdp_auth_config *c);    /* NULL on ENOMEM */
void mdp_auth_free(mdp_auth *a);                        /* NULL-safe */

/* mdp_auth_on_basic_auth - the BASIC_AUTH answer: MOSQ_ERR_SUCCESS,
 * MOSQ_ERR_PLUGIN_DEFER or MOSQ_ERR_AUTH; one log line per decision. */
int mdp_auth_on_basic_auth(mdp_auth *a, const struct mosquitto_evt_basic_auth *ed);

/* mdp_auth_tick - TICK arrived (the plugin is global; a reload's
 * re-authentications are over). */
void mdp_auth_tick(mdp_auth *a);

/* mdp_auth_reload - RELOAD: until the next TICK, BASIC_AUTH for
 * connected clients is answered from the registry. */
void mdp_auth_reload(mdp_auth *a);

void mdp_auth_get_counters(const mdp_auth *a, mdp_auth_counters *out);

#endif
