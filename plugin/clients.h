/*
 * plugin/clients.h - registry of the clients the plugin let in, and the
 * bookkeeping of revalidation rounds over them.
 *
 * Entries are read through const pointers; only this module writes them.
 *
 * Broker thread only (no locks). Pure: no Mosquitto headers; the key is
 * the broker's client pointer, used as an opaque value and never
 * dereferenced here.
 *
 * Why keyed by pointer and not by client id: when a new connection takes
 * over a client id, Mosquitto authenticates the new connection first and
 * disconnects the old one afterwards, so the DISCONNECT that follows names
 * the same client id as the entry just made for the newcomer. Pointers of
 * two live connections always differ, so removing by pointer never drops
 * the newcomer's entry. Each entry also gets a token (unique for the
 * registry's life): a re-check result applies only to the entry it was
 * started for, not to a later one that reuses the same pointer.
 */
#ifndef MDP_CLIENTS_H
#define MDP_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

typedef struct mdp_client {
    const void *key;            /* broker client pointer (opaque) */
    uint64_t token;             /* unique per entry, never 0 */
    char *client_id;
    bool dane;                  /* true: authenticated by the plugin (certificate
                                   or token); false: deferred */
    char *identity;             /* DANE only */
    char *owner;                /* DANE only: TLSA owner name */
    X509 *leaf;                 /* certificate clients: one reference */
    char *password;             /* token clients: the token, for re-checks */
    int64_t expires;            /* token clients: exp (wall clock); else 0 */
    bool checking;              /* a re-check is queued or running */
    bool bypass;                /* acted without our BASIC_AUTH (guard.c):
                                   denied until disconnected */
    struct mdp_client *next;  /* hash chain (private) */
} mdp_client;

typedef struct mdp_clients mdp_clients;

mdp_clients *mdp_clients_new(void);              /* NULL on ENOMEM */
void mdp_clients_free(mdp_clients *r);           /* NULL-safe */

/* mdp_clients_add - register key, replacing any entry with that key.
 * Strings are copied; leaf (may be NULL) is taken over, also on failure.
 * identity and owner may be NULL for non-DANE entries. Returns the new
 * entry's token, or 0 on allocation failure (nothing registered). */
uint64_t mdp_clients_add(mdp_clients *r, const void *key,
                           const char *client_id, bool dane,
                           const char *identity, const char *owner, X509 *leaf);

/* mdp_clients_add_token - register a client admitted by a token (a DANE
 * entry without a certificate): the token text is kept for re-checks and
 * expires for the expiry disconnect. Returns the token, or 0 on ENOMEM. */
uint64_t mdp_clients_add_token(mdp_clients *r, const void *key,
                                 const char *client_id, const char *identity,
                                 const char *owner, const char *password,
                                 int64_t expires);

/* mdp_clients_add_bypass - register a client that acted without the
 * plugin's BASIC_AUTH (guard.h): denied until it disconnects. Returns the
 * token, or 0 on ENOMEM. */
uint64_t mdp_clients_add_bypass(mdp_clients *r, const void *key, const char *client_id);

/* mdp_clients_remove - drop key's entry; false when there was none. */
bool mdp_clients_remove(mdp_clients *r, const void *key);

/* mdp_clients_find - key's entry or NULL; valid until the next change. */
const mdp_client *mdp_clients_find(const mdp_clients *r, const void *key);

size_t mdp_clients_count(const mdp_clients *r);
size_t mdp_clients_dane_count(const mdp_clients *r);     /* both kinds */
size_t mdp_clients_token_count(const mdp_clients *r);

/* mdp_clients_expired - call fn for every token entry whose expires is
 * at or before now (fn must not change the registry) and return the
 * earliest expires still ahead of now, or 0 when none is. */
int64_t mdp_clients_expired(const mdp_clients *r, int64_t now,
                              void (*fn)(void *ctx, const mdp_client *e), void *ctx);

/* Revalidation rounds: a round is a snapshot of the DANE entries that
 * were registered when it started; entries are handed out one at a time
 * so the host can pace submission to the worker queue. */

/* mdp_clients_round_start - begin a round unless one is still handing
 * out entries. Returns 1 when started, 0 when one is active, -1 ENOMEM. */
int mdp_clients_round_start(mdp_clients *r);

bool mdp_clients_round_active(const mdp_clients *r);

/* mdp_clients_round_next - the next entry of the round that is still
 * registered and not already being checked, marked as checking; NULL when
 * the round is over (it then ends). */
const mdp_client *mdp_clients_round_next(mdp_clients *r);

/* mdp_clients_check_done - a re-check for (key, token) finished (or
 * could not be queued): clear the mark and return the entry, or NULL when
 * that entry is gone or was replaced meanwhile (then the result must be
 * ignored). */
const mdp_client *mdp_clients_check_done(mdp_clients *r, const void *key,
                                             uint64_t token);

#endif
