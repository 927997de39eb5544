/*
 * plugin/kicks.h - the queue of clients to disconnect at the next TICK
 * (revoked, expired tokens, bypassing clients).
 *
 * A kick runs the plugin's DISCONNECT callback synchronously, which edits
 * the registry, so kicks are queued while the registry is walked (or a
 * callback of the broker's runs) and carried out at TICK, outside any
 * walk. Broker thread only.
 */
#ifndef DANCE_PLUGIN_KICKS_H
#define DANCE_PLUGIN_KICKS_H

#include <stdbool.h>
#include <stdint.h>
#include "clients.h"

typedef struct dance_kicks dance_kicks;

/* Disconnects carried out, by cause ($SYS counters). */
typedef struct dance_kicks_counters {
    uint64_t revocations;           /* connected clients disconnected */
    uint64_t token_expiries;        /* token clients disconnected at exp */
} dance_kicks_counters;

dance_kicks *dance_kicks_new(dance_clients *clients);  /* NULL on ENOMEM */
void dance_kicks_free(dance_kicks *k);                  /* NULL-safe */

/* dance_kicks_queue - queue the disconnect of e's client for the next
 * TICK: for an expired token (expiry) or else a revocation. 0, or -1 on
 * ENOMEM. */
int dance_kicks_queue(dance_kicks *k, const dance_client *e, bool expiry);

/* dance_kicks_run - disconnect the queued clients whose registry entry
 * is still the one they were queued for, and drop those entries. */
void dance_kicks_run(dance_kicks *k);

void dance_kicks_get_counters(const dance_kicks *k, dance_kicks_counters *out);

#endif
