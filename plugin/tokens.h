/*
 * plugin/tokens.h - the state of token logins (plugin_opt_token_auth):
 * the token policy, its key and jti replay caches, the replay cache's
 * file and the expiry watch of connected token clients. auth.c checks
 * tokens against it; the DNS workers read the policy (thread-safe).
 *
 * Broker thread only, except the policy (read-only, shared).
 */
#ifndef DANCE_PLUGIN_TOKENS_H
#define DANCE_PLUGIN_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dance/dane.h"
#include "dance/jws.h"
#include "dance/token.h"
#include "clients.h"
#include "kicks.h"
#include "options.h"

typedef struct dance_tokens dance_tokens;

/* The jti cache's counters ($SYS auth/token/replay/...). */
typedef struct dance_tokens_counters {
    dance_replay_stats replay;
    uint64_t save_failures;         /* failed writes of token_replay_file */
} dance_tokens_counters;

/* dance_tokens_start - the policy (pointing into cfg and at matcher) and
 * its caches; with token_replay_file, the file loaded, written once and
 * kept by a saver thread. Expired token clients of clients are queued on
 * kicks (token_disconnect_on_expiry). NULL with a reason in err. */
dance_tokens *dance_tokens_start(const dance_plugin_config *cfg,
                                 const dance_matcher *matcher, dance_clients *clients,
                                 dance_kicks *kicks, char *err, size_t errlen);

/* dance_tokens_free - write the replay file a last time (logged) and free
 * everything. NULL-safe. */
void dance_tokens_free(dance_tokens *t);

const dance_token_policy *dance_tokens_policy(const dance_tokens *t);

/* dance_tokens_replay_unsaved - whether the replay file's last write
 * failed: token logins are then refused (a jti accepted now could be
 * accepted again after a restart). */
bool dance_tokens_replay_unsaved(const dance_tokens *t);

/* dance_tokens_admitted - a token client was registered whose token
 * expires at exp (wall clock): watched when token_disconnect_on_expiry. */
void dance_tokens_admitted(dance_tokens *t, int64_t exp);

/* dance_tokens_tick - queue the disconnect of token clients whose token
 * expired, and report the replay file's writes (each new failure, and the
 * recovery). */
void dance_tokens_tick(dance_tokens *t);

void dance_tokens_get_counters(const dance_tokens *t, dance_tokens_counters *out);

#endif
