/*
 * plugin/tokens.c - token login state (see tokens.h).
 *
 * The replay cache keeps a jti for the longest time a token can stay
 * acceptable (token.h), so every token is accepted at most once; its
 * capacity bounds memory under a login flood, and the per-identity share
 * keeps one identity's logins from evicting another's jtis (evictions are
 * counted). With token_replay_file the cache survives restarts.
 */
#include "tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "log.h"
#include "filesaver.h"

struct mdp_tokens {
    const mdp_plugin_config *cfg;
    mdp_clients *clients;
    mdp_kicks *kicks;
    /* The policy points into cfg and at the caches below. */
    dance_token_policy policy;
    dance_jws_keycache *keys;
    dance_replay *replay;
    int64_t next_expiry;            /* wall clock; 0: none to watch */
    /* the jti cache's file (plugin_opt_token_replay_file); NULL when not
     * kept. While its last write failed, token logins are refused
     * (replay_unsaved, set at TICK from the saver's status). */
    mdp_file_saver *saver;
    bool replay_unsaved;
    uint64_t save_failures_seen;    /* failures already logged */
};

static int replay_save(void *state, const char *path, char *err, size_t errlen)
{
    return dance_replay_save(state, path, err, errlen);
}

static bool replay_dirty(void *state)
{
    return dance_replay_dirty(state);
}

static const mdp_file_saver_ops replay_file_ops = {replay_save, replay_dirty};

/* open_replay_file - load the jti cache's file, write it back at once
 * (which proves that this process, already running as the user Mosquitto
 * drops to, can replace it: Mosquitto 2.0 initialises plugins after
 * dropping privileges) and start the thread that keeps it. -1 with a
 * reason naming the file and what to do. */
static int open_replay_file(mdp_tokens *t, char *err, size_t errlen)
{
    const char *path = t->cfg->token_replay_file;
    dance_replay_load_info info;
    char why[DANCE_REASON_MAX];

    if (dance_replay_load(t->replay, path, &info, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "plugin_opt_token_replay_file: %s. The file holds the "
                 "token ids already used; restore it, or remove it to start with an "
                 "empty cache (tokens used before, still within their lifetime, "
                 "could then be used once more)", why);
        return -1;
    }
    if (dance_replay_save(t->replay, path, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "plugin_opt_token_replay_file %s cannot be written by "
                 "the broker (uid %u): %s. The broker replaces it with a new file in "
                 "the same directory: make that directory writable by the user "
                 "Mosquitto runs as (e.g. /var/lib/mosquitto, owned by mosquitto)",
                 path, (unsigned)geteuid(), why);
        return -1;
    }
    t->saver = mdp_file_saver_start(&replay_file_ops, t->replay, path,
                                    MDP_FILE_SAVE_INTERVAL_MS, why, sizeof(why));
    if (t->saver == NULL) {
        snprintf(err, errlen, "plugin_opt_token_replay_file: %s", why);
        return -1;
    }
    if (info.missing)
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: token replay file %s created "
                             "(first start)", path);
    else
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: token replay file %s: %zu used "
                             "token ids loaded, %zu past their time dropped", path,
                             info.loaded, info.expired);
    return 0;
}

mdp_tokens *mdp_tokens_start(const mdp_plugin_config *cfg,
                                 const dance_matcher *matcher, mdp_clients *clients,
                                 mdp_kicks *kicks, char *err, size_t errlen)
{
    mdp_tokens *t = calloc(1, sizeof(*t));
    dance_token_policy *tp;

    if (t == NULL) {
        snprintf(err, errlen, "out of memory setting up token authentication");
        return NULL;
    }
    t->cfg = cfg;
    t->clients = clients;
    t->kicks = kicks;
    tp = &t->policy;
    tp->audience = cfg->token_audience;
    tp->max_lifetime = cfg->token_max_lifetime;
    tp->allow = cfg->allowlist;
    tp->service_label = cfg->tlsa_owner_label;
    tp->matcher = matcher;
    t->keys = dance_jws_keycache_new(cfg->key_cache_size);
    t->replay = dance_replay_new(MDP_OPT_TOKEN_REPLAY_CAPACITY,
                                 dance_token_replay_window(tp), NULL, NULL);
    if (t->keys == NULL || t->replay == NULL
        || dance_replay_set_share(t->replay, cfg->token_replay_per_identity) != 0) {
        snprintf(err, errlen, "out of memory setting up token authentication");
        mdp_tokens_free(t);
        return NULL;
    }
    tp->keys = t->keys;
    tp->replay = t->replay;
    if (cfg->token_replay_file != NULL) {
        if (open_replay_file(t, err, errlen) != 0) {
            mdp_tokens_free(t);
            return NULL;
        }
        return t;
    }
    mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: warning: plugin_opt_token_replay_file "
        "is not set, so token replay protection does not survive a restart: a token "
        "used before a restart can be used once more after it, within its lifetime. "
        "Set it to a file beside Mosquitto's persistence, e.g. "
        "plugin_opt_token_replay_file /var/lib/mosquitto/dance-jti.db");
    return t;
}

void mdp_tokens_free(mdp_tokens *t)
{
    if (t == NULL)
        return;
    dance_jws_keycache_free(t->keys);
    if (t->saver != NULL) {
        char err[DANCE_REASON_MAX];
        if (mdp_file_saver_stop(t->saver, err, sizeof(err)) != 0)
            mosquitto_log_printf(MOSQ_LOG_ERR, "dance: could not write the token "
                "replay file at shutdown: %s; tokens accepted in the last %u s may "
                "be accepted once more after the restart", err,
                MDP_FILE_SAVE_INTERVAL_MS / 1000u);
        else
            mosquitto_log_printf(MOSQ_LOG_INFO, "dance: token replay file %s written",
                                 t->cfg->token_replay_file);
        t->saver = NULL;
    }
    dance_replay_free(t->replay);
    free(t);
}

const dance_token_policy *mdp_tokens_policy(const mdp_tokens *t)
{
    return &t->policy;
}

bool mdp_tokens_replay_unsaved(const mdp_tokens *t)
{
    return t->replay_unsaved;
}

void mdp_tokens_admitted(mdp_tokens *t, int64_t exp)
{
    if (t->cfg->token_disconnect_on_expiry
        && (t->next_expiry == 0 || exp < t->next_expiry))
        t->next_expiry = exp;
}

/* expired_cb - a token client whose token's exp has passed */
static void expired_cb(void *ctx, const mdp_client *e)
{
    mdp_tokens *t = ctx;
    char cid[128];

    mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: token expired identity=%s "
        "client_id=\"%s\"; disconnecting (plugin_opt_token_disconnect_on_expiry on)",
        e->identity, mdp_log_safe(e->client_id, cid, sizeof(cid)));
    if (mdp_kicks_queue(t->kicks, e, true) != 0) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: out of memory queueing the "
                             "disconnect of %s; retrying", e->identity);
        t->next_expiry = -1;            /* look again at the next TICK */
    }
}

/* expire - with token_disconnect_on_expiry, queue the disconnect of token
 * clients whose token has expired. The registry is only walked when the
 * earliest known expiry has come (next_expiry; lowered for each new token
 * client). */
static void expire(mdp_tokens *t)
{
    int64_t now, next;

    /* every TICK, i.e. every broker loop iteration: no clock read unless
     * there is an expiry to watch */
    if (!t->cfg->token_disconnect_on_expiry || t->next_expiry == 0)
        return;
    now = (int64_t)time(NULL);
    if (now < t->next_expiry)
        return;
    t->next_expiry = 0;
    next = mdp_clients_expired(t->clients, now, expired_cb, t);
    if (t->next_expiry == 0)
        t->next_expiry = next;
    else
        t->next_expiry = now;           /* a kick could not be queued */
}

/* watch_saver - report the token replay file's writes: each new failure
 * (at most one line per write interval), and the recovery. Token logins
 * are refused while the last write failed (auth.c). */
static void watch_saver(mdp_tokens *t)
{
    mdp_file_saver_status st;

    if (t->saver == NULL)
        return;
    mdp_file_saver_get_status(t->saver, &st);
    if (!st.ok && st.failures != t->save_failures_seen)
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: cannot write the token replay "
            "file: %s; token logins are refused until it can be written (used "
            "token ids would be forgotten at a restart)", st.err);
    else if (st.ok && t->replay_unsaved)
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: token replay file %s written "
            "again; token logins accepted", t->cfg->token_replay_file);
    t->save_failures_seen = st.failures;
    t->replay_unsaved = !st.ok;
}

void mdp_tokens_tick(mdp_tokens *t)
{
    expire(t);
    watch_saver(t);
}

void mdp_tokens_get_counters(const mdp_tokens *t, mdp_tokens_counters *out)
{
    mdp_file_saver_status ss;

    memset(out, 0, sizeof(*out));
    dance_replay_get_stats(t->replay, &out->replay);
    memset(&ss, 0, sizeof(ss));
    if (t->saver != NULL)
        mdp_file_saver_get_status(t->saver, &ss);
    out->save_failures = ss.failures;
}
