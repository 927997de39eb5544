/*
 * plugin/stats.h - the plugin's counters as retained $SYS messages
 * (stats.c). Each module fills its own counters; this reads them all.
 */
#ifndef DANCE_PLUGIN_STATS_H
#define DANCE_PLUGIN_STATS_H

#include "dance/cache.h"
#include "auth.h"
#include "clients.h"
#include "guard.h"
#include "kicks.h"
#include "message.h"
#include "rechecks.h"
#include "tokens.h"
#include "workers.h"

/* Where the counters come from. */
typedef struct dance_stats_sources {
    dance_auth *auth;
    dance_clients *clients;
    dance_cache *cache;
    dance_workers *workers;
    dance_guard *guard;
    dance_kicks *kicks;
    dance_rechecks *rechecks;
    dance_tokens *tokens;           /* NULL: token logins off */
    dance_messages *messages;
} dance_stats_sources;

/* dance_stats_publish - publish every counter (retained) under
 * $SYS/broker/dance/. Broker thread (TICK) only. */
void dance_stats_publish(const dance_stats_sources *src);

#endif
