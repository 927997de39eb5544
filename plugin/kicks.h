/*
 * plugin/kicks.h - the queue of clients to disconnect at the next TICK
 * (revoked, expired tokens, bypassing clients).
 *
 * A kick runs the plugin's DISCONNECT callback synchronously, which edits
 * the registry, so kicks are queued while the registry is walked (or a
 * callback of the broker's runs) and carried out at TICK, outside any
 * walk. Broker thread only.
 */
#ifndef MDP_KICKS_H
#define MDP_KICKS_H

#include <stdbool.h>
#include <stdint.h>
#include "clients.h"

typedef struct mdp_kicks mdp_kicks;

/* Disconnects carried out, by cause ($SYS counters). */
typedef struct mdp_kicks_counters {
    uint64_t revocations;           /* connected clients disconnected */
    uint64_t token_expiries;        /* token clients disconnected at exp */
} mdp_kicks_counters;

mdp_kicks *mdp_kicks_new(mdp_clients *clients);  /* NULL on ENOMEM */
void mdp_kicks_free(mdp_kicks *k);                  /* NULL-safe */

/* mdp_kicks_queue - queue the disconnect of e's client for the next
 * TICK: for an expired token (expiry) or else a revocation. 0, or -1 on
 * ENOMEM. */
int mdp_kicks_queue(mdp_kicks *k, const mdp_client *e, bool expiry);

/* mdp_kicks_run - disconnect the queued clients whose registry entry
 * is still the one they were queued for, and drop those entries. */
void mdp_kicks_run(mdp_kicks *k);

void mdp_kicks_get_counters(const mdp_kicks *k, mdp_kicks_counters *out);

#endif
