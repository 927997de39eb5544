/*
 * plugin/rechecks.h - revalidation of connected clients: rounds started
 * every revalidate_interval (or at once after a reload) whose re-checks
 * run on the DNS workers, and the workers' completions, which come back
 * at TICK. A client whose records no longer admit it is queued for a
 * disconnect. Broker thread only.
 */
#ifndef MDP_RECHECKS_H
#define MDP_RECHECKS_H

#include <stdbool.h>
#include <stdint.h>
#include "clients.h"
#include "kicks.h"
#include "options.h"
#include "workers.h"

typedef struct mdp_rechecks mdp_rechecks;

/* $SYS revalidate/... */
typedef struct mdp_rechecks_counters {
    uint64_t rechecks;                  /* re-checks completed */
    uint64_t recheck_failures;          /* re-checks that could not decide */
} mdp_rechecks_counters;

/* mdp_rechecks_new - the first round is due revalidate_interval after
 * now_ms. NULL on ENOMEM. */
mdp_rechecks *mdp_rechecks_new(const mdp_plugin_config *cfg, mdp_clients *clients,
                                   mdp_kicks *kicks, uint64_t now_ms);
void mdp_rechecks_free(mdp_rechecks *r);        /* NULL-safe */

/* mdp_rechecks_hooks - the worker pool's completion hooks, into r. */
void mdp_rechecks_hooks(mdp_rechecks *r, mdp_workers_hooks *out);

/* mdp_rechecks_tick - start a round when due and feed its entries to
 * workers, keeping half the queue free for CONNECT lookups. */
void mdp_rechecks_tick(mdp_rechecks *r, mdp_workers *workers, uint64_t now_ms);

/* mdp_rechecks_reload - start a round at the next TICK when rounds are
 * on; returns whether one will start. */
bool mdp_rechecks_reload(mdp_rechecks *r);

void mdp_rechecks_get_counters(const mdp_rechecks *r, mdp_rechecks_counters *out);

#endif
