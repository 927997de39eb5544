/*
 * plugin/kicks.c - the queue of disconnects carried out at TICK (see
 * kicks.h).
 */
#include "kicks.h"

#include <stdlib.h>
#include <string.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

/* One pending kick: client id plus the registry entry it is for. */
typedef struct kick {
    char *client_id;
    const void *key;
    uint64_t token;
    bool expiry;                    /* token expired (else: revoked) */
} kick;

struct mdp_kicks {
    mdp_clients *clients;
    kick *list;
    size_t count, cap;
    mdp_kicks_counters counters;
};

mdp_kicks *mdp_kicks_new(mdp_clients *clients)
{
    mdp_kicks *k = calloc(1, sizeof(*k));

    if (k != NULL)
        k->clients = clients;
    return k;
}

void mdp_kicks_free(mdp_kicks *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->count; i++)
        free(k->list[i].client_id);
    free(k->list);
    free(k);
}

int mdp_kicks_queue(mdp_kicks *k, const mdp_client *e, bool expiry)
{
    if (k->count == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 16;
        kick *nk = realloc(k->list, nc * sizeof(*nk));
        if (nk == NULL)
            return -1;
        k->list = nk;
        k->cap = nc;
    }
    k->list[k->count].client_id = strdup(e->client_id);
    if (k->list[k->count].client_id == NULL)
        return -1;
    k->list[k->count].key = e->key;
    k->list[k->count].token = e->token;
    k->list[k->count].expiry = expiry;
    k->count++;
    return 0;
}

void mdp_kicks_run(mdp_kicks *k)
{
    for (size_t i = 0; i < k->count; i++) {
        kick *q = &k->list[i];
        const mdp_client *e = mdp_clients_find(k->clients, q->key);

        /* Only if the entry is still the one the verdict was for. */
        if (e != NULL && e->token == q->token) {
            if (mosquitto_kick_client_by_clientid(q->client_id, false) == MOSQ_ERR_SUCCESS) {
                if (q->expiry)
                    k->counters.token_expiries++;
                else
                    k->counters.revocations++;
            }
            /* Whether or not Mosquitto still knew the id, the entry
             * must not be re-checked again. */
            e = mdp_clients_find(k->clients, q->key);
            if (e != NULL && e->token == q->token)
                mdp_clients_remove(k->clients, q->key);
        }
        free(q->client_id);
    }
    k->count = 0;
}

void mdp_kicks_get_counters(const mdp_kicks *k, mdp_kicks_counters *out)
{
    *out = k->counters;
}
