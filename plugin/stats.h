/*
 * plugin/stats.h - the plugin's counters as retained $SYS messages
 * (stats.c). Each module fills its own counters; this reads them all.
 */
#ifndef MDP_STATS_H
#define MDP_STATS_H

#include "dance/cache.h"
#include "auth.h"
#include "clients.h"
#include "guard.h"
#include "kicks.h"
#include "message.h"
#include "rechecks.h"
#include "tokens.h"
#include "warmstart.h"
#include "workers.h"

/* Where the counters come from. */
typedef struct mdp_stats_sources {
    mdp_auth *auth;
    mdp_clients *clients;
    dance_cache *cache;
    mdp_workers *workers;
    mdp_guard *guard;
    mdp_kicks *kicks;
    mdp_rechecks *rechecks;
    mdp_tokens *tokens;           /* NULL: token logins off */
    mdp_messages *messages;
    mdp_warmstart *warmstart;     /* NULL: no identities_file */
} mdp_stats_sources;

/* mdp_stats_publish - publish every counter (retained) under
 * $SYS/broker/dance/. Broker thread (TICK) only. */
void mdp_stats_publish(const mdp_stats_sources *src);

#endif
