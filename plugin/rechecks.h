/*
 * plugin/rechecks.h - revalidation of connected clients: rounds started
 * every revalidate_interval (or at once after a reload) whose re-checks
 * run on the DNS workers, and the workers' completions, which come back
 * at TICK. A client whose records no longer admit it is queued for a
 * disconnect. Broker thread only.
 */
#ifndef DANCE_PLUGIN_RECHECKS_H
#define DANCE_PLUGIN_RECHECKS_H

#include <stdbool.h>
#include <stdint.h>
#include "clients.h"
#include "kicks.h"
#include "options.h"
#include "workers.h"

typedef struct dance_rechecks dance_rechecks;

/* $SYS revalidate/... */
typedef struct dance_rechecks_counters {
    uint64_t rechecks;                  /* re-checks completed */
    uint64_t recheck_failures;          /* re-checks that could not decide */
} dance_rechecks_counters;

/* dance_rechecks_new - the first round is due revalidate_interval after
 * now_ms. NULL on ENOMEM. */
dance_rechecks *dance_rechecks_new(const dance_plugin_config *cfg, dance_clients *clients,
                                   dance_kicks *kicks, uint64_t now_ms);
void dance_rechecks_free(dance_rechecks *r);        /* NULL-safe */

/* dance_rechecks_hooks - the worker pool's completion hooks, into r. */
void dance_rechecks_hooks(dance_rechecks *r, dance_workers_hooks *out);

/* dance_rechecks_tick - start a round when due and feed its entries to
 * workers, keeping half the queue free for CONNECT lookups. */
void dance_rechecks_tick(dance_rechecks *r, dance_workers *workers, uint64_t now_ms);

/* dance_rechecks_reload - start a round at the next TICK when rounds are
 * on; returns whether one will start. */
bool dance_rechecks_reload(dance_rechecks *r);

void dance_rechecks_get_counters(const dance_rechecks *r, dance_rechecks_counters *out);

#endif
