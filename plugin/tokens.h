/*
 * plugin/tokens.h - the state of token logins (plugin_opt_token_auth):
 * the token policy, its key and jti replay caches, the replay cache's
 * file and the expiry watch of connected token clients. auth.c checks
 * tokens against it; the DNS workers read the policy (thread-safe).
 *
 * Broker thread only, except the policy (read-only, shared).
 */
#ifndef MDP_TOKENS_H
#define MDP_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dance/dane.h"
#include "dance/jws.h"
#include "dance/token.h"
#include "clients.h"
#include "kicks.h"
#include "options.h"

typedef struct mdp_tokens mdp_tokens;

/* The jti cache's counters ($SYS auth/token/replay/...). */
typedef struct mdp_tokens_counters {
    dance_replay_stats replay;
    uint64_t save_failures;         /* failed writes of token_replay_file */
} mdp_tokens_counters;

/* mdp_tokens_start - the policy (pointing into cfg and at matcher) and
 * its caches; with token_replay_file, the file loaded, written once and
 * kept by a saver thread. Expired token clients of clients are queued on
 * kicks (token_disconnect_on_expiry). NULL with a reason in err. */
mdp_tokens *mdp_tokens_start(const mdp_plugin_config *cfg,
                                 const dance_matcher *matcher, mdp_clients *clients,
                                 mdp_kicks *kicks, char *err, size_t errlen);

/* mdp_tokens_free - write the replay file a last time (logged) and free
 * everything. NULL-safe. */
void mdp_tokens_free(mdp_tokens *t);

const dance_token_policy *mdp_tokens_policy(const mdp_tokens *t);

/* mdp_tokens_replay_unsaved - whether the replay file's last write
 * failed: token logins are then refused (a jti accepted now could be
 * accepted again after a restart). */
bool mdp_tokens_replay_unsaved(const mdp_tokens *t);

/* mdp_tokens_admitted - a token client was registered whose token
 * expires at exp (wall clock): watched when token_disconnect_on_expiry. */
void mdp_tokens_admitted(mdp_tokens *t, int64_t exp);

/* mdp_tokens_tick - queue the disconnect of token clients whose token
 * expired, and report the replay file's writes (each new failure, and the
 * recovery). */
void mdp_tokens_tick(mdp_tokens *t);

void mdp_tokens_get_counters(const mdp_tokens *t, mdp_tokens_counters *out);

#endif
