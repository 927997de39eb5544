/*
 * plugin/plugin.c - Mosquitto plugin entry points (API v5) and the event
 * callbacks other than BASIC_AUTH (auth.c).
 *
 * init: options -> environment checks (per_listener_settings,
 * use_identity/subject_as_username) -> matcher, cache, registry, workers ->
 * callbacks. Any failure logs one line naming what to fix and returns an
 * error, which stops the broker: a security plugin that silently does
 * nothing is worse than one that refuses to start.
 *
 * TICK (broker thread, about every 100 ms) is where background work comes
 * back: completions of worker jobs, verified messages (message.c), kicks
 * of revoked clients, revalidation rounds and $SYS metrics. mosquitto_kick_client_* and
 * mosquitto_broker_publish* are not thread-safe, which is why none of this
 * happens on the workers.
 */
#define _GNU_SOURCE 1           /* dladdr, RTLD_NODELETE */
#include "plugin.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "confscan.h"

#define EVENT_BIT(ev) (1u << (unsigned)(ev))

/* The plugin exports only these three symbols (see plugin/exports.map). */
int mosquitto_plugin_version(int supported_version_count, const int *supported_versions);
int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count);
int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options,
                             int option_count);

uint64_t dance_plugin_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- worker completions (run from TICK via dance_workers_drain) ---- */

static void fetch_done_hook(void *ctx, const dance_fetch_done *d)
{
    (void)ctx;
    /* A failed background lookup explains later "lookup pending" or
     * "lookup_failure" refusals; successes are logged per decision. */
    if (dance_dns_answer_rank(d->status) < dance_dns_answer_rank(DANCE_NO_RECORD))
        mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: TLSA lookup for %s: %s: %s",
                             d->owner, dance_dns_answer_name(d->status), d->reason);
}

int dance_kick_queue(struct dance_plugin *p, const dance_client *e, bool expiry)
{
    if (p->kick_count == p->kick_cap) {
        size_t nc = p->kick_cap ? p->kick_cap * 2 : 16;
        dance_kick *nk = realloc(p->kicks, nc * sizeof(*nk));
        if (nk == NULL)
            return -1;
        p->kicks = nk;
        p->kick_cap = nc;
    }
    p->kicks[p->kick_count].client_id = strdup(e->client_id);
    if (p->kicks[p->kick_count].client_id == NULL)
        return -1;
    p->kicks[p->kick_count].key = e->key;
    p->kicks[p->kick_count].token = e->token;
    p->kicks[p->kick_count].expiry = expiry;
    p->kick_count++;
    return 0;
}

static void revalidate_done_hook(void *ctx, const dance_revalidate_done *d)
{
    struct dance_plugin *p = ctx;
    const dance_verdict *v = d->verdict;
    dance_client *e = dance_clients_check_done(p->clients, d->client, d->token);
    char cid[128];

    if (e == NULL)
        return;                 /* disconnected or replaced meanwhile */
    p->stats.rechecks++;
    switch (v->code) {
    case DANCE_V_ACCEPTED:
        return;
    case DANCE_V_LOOKUP_FAILURE:
    case DANCE_V_PENDING:
    case DANCE_V_INTERNAL:
        /* Could not decide: a temporary DNS failure is never read as
         * "no TLSA record". The client stays; the next round retries. */
        p->stats.recheck_failures++;
        mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: re-check of identity=%s "
            "client_id=\"%s\" undecided (%s): %s; keeping the client",
            d->identity, dance_log_safe(e->client_id, cid, sizeof(cid)),
            dance_verdict_name(v->code), v->reason);
        return;
    default:
        break;
    }
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: revoked identity=%s "
        "client_id=\"%s\" reason=%s record=\"%s\": %s; disconnecting",
        d->identity, dance_log_safe(e->client_id, cid, sizeof(cid)),
        dance_verdict_name(v->code), v->record, v->reason);
    if (dance_kick_queue(p, e, false) != 0)
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: out of memory queueing the "
                             "disconnect of %s; retrying next round", d->identity);
}

/* run_kicks - disconnect revoked clients. A kick runs our DISCONNECT
 * callback synchronously, which edits the registry, so the list is built
 * first and carried out here, outside any registry walk. */
static void run_kicks(struct dance_plugin *p)
{
    for (size_t i = 0; i < p->kick_count; i++) {
        dance_kick *k = &p->kicks[i];
        dance_client *e = dance_clients_find(p->clients, k->key);

        /* Only if the entry is still the one the verdict was for. */
        if (e != NULL && e->token == k->token) {
            if (mosquitto_kick_client_by_clientid(k->client_id, false) == MOSQ_ERR_SUCCESS) {
                if (k->expiry)
                    p->stats.token_expiries++;
                else
                    p->stats.revocations++;
            }
            /* Whether or not Mosquitto still knew the id, the entry
             * must not be re-checked again. */
            e = dance_clients_find(p->clients, k->key);
            if (e != NULL && e->token == k->token)
                dance_clients_remove(p->clients, k->key);
        }
        free(k->client_id);
    }
    p->kick_count = 0;
}

/* schedule_rechecks - start a round when due and feed its entries to the
 * workers, keeping half the queue free for CONNECT lookups. */
static void schedule_rechecks(struct dance_plugin *p, uint64_t now)
{
    size_t reserve = p->cfg.queue_size / 2;

    if (p->cfg.revalidate_interval == 0)
        return;
    if (p->revalidate_now || now >= p->next_round_ms) {
        if (dance_clients_round_start(p->clients) >= 0) {
            p->revalidate_now = false;
            p->next_round_ms = now + (uint64_t)p->cfg.revalidate_interval * 1000u;
        }
    }
    while (dance_clients_round_active(p->clients) &&
           dance_workers_room(p->workers) > reserve) {
        dance_client *e = dance_clients_round_next(p->clients);
        dance_submit_result sr;
        if (e == NULL)
            break;
        if (e->password != NULL)
            sr = dance_workers_submit_revalidate_token(p->workers, e->key, e->token,
                                                       e->identity, e->owner,
                                                       e->password);
        else
            sr = dance_workers_submit_revalidate(p->workers, e->key, e->token,
                                                 e->identity, e->owner, e->leaf);
        if (sr != DANCE_SUBMIT_QUEUED)
            e->checking = false;
    }
}

/* expired_cb - a token client whose token's exp has passed */
static void expired_cb(void *ctx, dance_client *e)
{
    struct dance_plugin *p = ctx;
    char cid[128];

    mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: token expired identity=%s "
        "client_id=\"%s\"; disconnecting (plugin_opt_token_disconnect_on_expiry on)",
        e->identity, dance_log_safe(e->client_id, cid, sizeof(cid)));
    if (dance_kick_queue(p, e, true) != 0) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: out of memory queueing the "
                             "disconnect of %s; retrying", e->identity);
        p->next_token_expiry = -1;      /* look again at the next TICK */
    }
}

/* expire_tokens - with token_disconnect_on_expiry, disconnect token
 * clients whose token has expired. The registry is only walked when the
 * earliest known expiry has come (next_token_expiry; auth.c lowers it for
 * each new token client). */
static void expire_tokens(struct dance_plugin *p)
{
    int64_t now, next;

    /* every TICK, i.e. every broker loop iteration: no clock read unless
     * there is an expiry to watch */
    if (!p->cfg.token_disconnect_on_expiry || p->next_token_expiry == 0)
        return;
    now = (int64_t)time(NULL);
    if (now < p->next_token_expiry)
        return;
    p->next_token_expiry = 0;
    next = dance_clients_expired(p->clients, now, expired_cb, p);
    if (p->next_token_expiry == 0)
        p->next_token_expiry = next;
    else
        p->next_token_expiry = now;     /* a kick could not be queued */
}

/* watch_token_saver - report the token replay file's writes: each new
 * failure (at most one line per write interval), and the recovery. Token
 * logins are refused while the last write failed (auth.c). */
static void watch_token_saver(struct dance_plugin *p)
{
    dance_replay_saver_status st;

    if (p->token_saver == NULL)
        return;
    dance_replay_saver_get_status(p->token_saver, &st);
    if (!st.ok && st.failures != p->token_save_failures_seen)
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: cannot write the token replay "
            "file: %s; token logins are refused until it can be written (used "
            "token ids would be forgotten at a restart)", st.err);
    else if (st.ok && p->token_replay_unsaved)
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: token replay file %s written "
            "again; token logins accepted", p->cfg.token_replay_file);
    p->token_save_failures_seen = st.failures;
    p->token_replay_unsaved = !st.ok;
}

static int tick_cb(int event, void *event_data, void *userdata)
{
    struct dance_plugin *p = userdata;
    uint64_t now = dance_plugin_now_ms();

    (void)event;
    (void)event_data;
    p->tick_seen = true;
    p->reload_window = false;
    dance_guard_tick(p);

    dance_workers_drain(p->workers);
    dance_messages_tick(p);
    expire_tokens(p);
    watch_token_saver(p);
    run_kicks(p);
    schedule_rechecks(p, now);
    if (p->cfg.stats_interval > 0 && now >= p->next_stats_ms) {
        dance_stats_publish(p);
        p->next_stats_ms = now + (uint64_t)p->cfg.stats_interval * 1000u;
    }
    return MOSQ_ERR_SUCCESS;
}

/* reload_cb - SIGHUP: flush the cache and keep serving. Plugin options
 * are not re-read by Mosquitto 2.0. Mosquitto re-runs BASIC_AUTH for every
 * connected client right after this event; auth.c answers those from the
 * registry until the next TICK and the workers re-check them. */
static int reload_cb(int event, void *event_data, void *userdata)
{
    struct dance_plugin *p = userdata;

    (void)event;
    (void)event_data;
    dance_cache_flush(p->cache);
    p->reload_window = true;
    p->revalidate_now = p->cfg.revalidate_interval > 0;
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: reload: TLSA cache flushed%s "
        "(plugin options are only read at start)",
        p->revalidate_now ? ", re-checking connected clients" : "");
    return MOSQ_ERR_SUCCESS;
}

static int disconnect_cb(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_disconnect *ed = event_data;
    struct dance_plugin *p = userdata;

    (void)event;
    dance_guard_disconnected(p, ed->client);
    dance_clients_remove(p->clients, ed->client);
    return MOSQ_ERR_SUCCESS;
}

/* message_cb - the guard on the reserved trees and against clients that
 * bypassed authentication (guard.c), then signed message verification
 * (message.c). Never changes the message. */
static int message_cb(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_message *ed = event_data;
    struct dance_plugin *p = userdata;
    int rc;

    (void)event;
    rc = dance_guard_on_message(p, ed);
    if (rc != MOSQ_ERR_SUCCESS)
        return rc;
    return dance_messages_on_message(p, ed);
}

/* ---- init / cleanup ---- */

static const struct {
    int event;
    MOSQ_FUNC_generic_callback cb;
    const char *name;
} callbacks[] = {
    {MOSQ_EVT_BASIC_AUTH, dance_auth_basic_cb, "BASIC_AUTH"},
    {MOSQ_EVT_TICK, tick_cb, "TICK"},
    {MOSQ_EVT_RELOAD, reload_cb, "RELOAD"},
    {MOSQ_EVT_DISCONNECT, disconnect_cb, "DISCONNECT"},
    {MOSQ_EVT_MESSAGE, message_cb, "MESSAGE"},
    {MOSQ_EVT_ACL_CHECK, dance_guard_acl_cb, "ACL_CHECK"},
};

static void unregister_all(struct dance_plugin *p)
{
    for (size_t i = 0; i < sizeof(callbacks) / sizeof(callbacks[0]); i++)
        if (p->registered & EVENT_BIT(callbacks[i].event)) {
            mosquitto_callback_unregister(p->pid, callbacks[i].event,
                                          callbacks[i].cb, NULL);
            p->registered &= ~EVENT_BIT(callbacks[i].event);
        }
}

static void plugin_free(struct dance_plugin *p)
{
    if (p == NULL)
        return;
    unregister_all(p);
    /* Verify threads first (they submit DNS jobs), then the DNS workers
     * (they use the cache and the matcher, and hand answers to the
     * pipeline), then the pipeline's memory. */
    dance_messages_stop(p);
    dance_workers_stop(p->workers);
    dance_messages_free(p);
    dance_jws_keycache_free(p->token_keys);
    if (p->token_saver != NULL) {
        char err[DANCE_REASON_MAX];
        if (dance_replay_saver_stop(p->token_saver, err, sizeof(err)) != 0)
            mosquitto_log_printf(MOSQ_LOG_ERR, "dance: could not write the token "
                "replay file at shutdown: %s; tokens accepted in the last %u s may "
                "be accepted once more after the restart", err,
                DANCE_REPLAY_SAVE_INTERVAL_MS / 1000u);
        else
            mosquitto_log_printf(MOSQ_LOG_INFO, "dance: token replay file %s written",
                                 p->cfg.token_replay_file);
        p->token_saver = NULL;
    }
    dance_replay_free(p->token_replay);
    for (size_t i = 0; i < p->kick_count; i++)
        free(p->kicks[i].client_id);
    free(p->kicks);
    dance_clients_free(p->clients);
    dance_cache_free(p->cache);
    dance_matcher_free(p->matcher);
    dance_plugin_config_clear(&p->cfg);
    free(p);
}

/* warn_plain_listeners - token authentication works over plain TCP, but
 * a token read off the wire can be used by whoever reads it first (once,
 * within its lifetime): say so at start for each kind of plain listener. */
static void warn_plain_listeners(const dance_confscan *scan)
{
    if (scan->plain_listeners > 0)
        mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: warning: plugin_opt_token_auth "
            "is on and %u listener%s without TLS (first: %s line %u): tokens sent "
            "there travel in clear and can be used by anyone who reads them "
            "before the device does. Give token devices a TLS listener "
            "(certfile/keyfile) and close the plain one.", scan->plain_listeners,
            scan->plain_listeners == 1 ? " has no certfile/psk_hint, so it runs"
                                       : "s have no certfile/psk_hint, so they run",
            scan->plain_listener.file, scan->plain_listener.line);
    if (scan->default_listener_plain)
        mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: warning: plugin_opt_token_auth "
            "is on and Mosquitto's default listener (no listener line, or a port "
            "line) runs without TLS: tokens sent there travel in clear.");
}

/* same_file - whether two paths name the same file (symlinks and
 * relative paths resolved). */
static bool same_file(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];

    return realpath(a, ra) != NULL && realpath(b, rb) != NULL && strcmp(ra, rb) == 0;
}

/* check_plugin_order - find this module among the configuration's plugin
 * lines. A plugin loaded before it answers ACL checks and BASIC_AUTH
 * first, and Mosquitto takes the first answer that is not a deferral, so
 * it could let a client write into the reserved trees or skip DANE:
 * refused. Anything deciding ACLs after it (acl_file, later plugins) gets
 * the plugin's deferral outside the reserved trees; with nothing after
 * it, the plugin allows, because Mosquitto denies when every check defers.
 * Returns 0, or -1 (logged). */
static int check_plugin_order(struct dance_plugin *p, const dance_confscan *scan)
{
    Dl_info info;
    unsigned ours = scan->plugin_count, kept;

    kept = scan->plugin_count < DANCE_CONFSCAN_PLUGINS_MAX ? scan->plugin_count
                                                          : DANCE_CONFSCAN_PLUGINS_MAX;
    if (dladdr((void *)check_plugin_order, &info) != 0 && info.dli_fname != NULL)
        for (unsigned i = 0; i < kept && ours == scan->plugin_count; i++)
            if (same_file(scan->plugins[i].path, info.dli_fname))
                ours = i;
    if (ours == scan->plugin_count) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: refusing to start: none of the "
            "%u plugin lines of the broker configuration names this module (%s), "
            "so the plugin cannot tell which plugins answer before it", scan->plugin_count,
            info.dli_fname != NULL ? info.dli_fname : "unknown path");
        return -1;
    }
    if (ours > 0) {
        const dance_confscan_plugin *first = &scan->plugins[0];
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: refusing to start: %s line %u "
            "loads %s before this plugin (%s line %u); Mosquitto asks plugins in "
            "that order and takes the first answer, so that plugin could admit "
            "clients without DANE or let them write under %s. Move the "
            "mosquitto_dance plugin line above it.", first->where.file,
            first->where.line, first->path, scan->plugins[ours].where.file,
            scan->plugins[ours].where.line, p->cfg.verified_prefix);
        return -1;
    }
    p->acl_defer = scan->acl_file.found || scan->plugin_count > 1;
    if (p->acl_defer)
        mosquitto_log_printf(MOSQ_LOG_INFO, "dance: ACL checks outside %s%s%s are "
            "left to %s%s%s", p->cfg.verified_prefix, p->cfg.rejected_prefix ? " and " : "",
            p->cfg.rejected_prefix ? p->cfg.rejected_prefix : "",
            scan->acl_file.found ? "acl_file" : "",
            scan->acl_file.found && scan->plugin_count > 1 ? " and " : "",
            scan->plugin_count > 1 ? "the plugins loaded after this one" : "");
    return 0;
}

/* check_environment - refuse broker settings under which the plugin would
 * silently not protect anything; warn about plain listeners with tokens. */
static int check_environment(mosquitto_plugin_id_t *identifier, struct dance_plugin *p)
{
    const dance_plugin_config *cfg = &p->cfg;
    dance_confscan scan;
    char err[DANCE_OPT_ERR_MAX];
    int rc;

#if LIBMOSQUITTO_MAJOR == 2 && LIBMOSQUITTO_MINOR == 0
    /* In Mosquitto 2.0 the plugin id is { struct mosquitto__listener
     * *listener; }, set exactly when the plugin was loaded per listener
     * (per_listener_settings true). Such plugins never get TICK. */
    if (*(void *const *)identifier != NULL) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: refusing to start: the plugin "
            "is loaded with per_listener_settings true, where Mosquitto 2.0 "
            "never delivers the TICK event it needs for revocation, metrics "
            "and background lookups. Set per_listener_settings false and load "
            "the plugin globally.");
        return -1;
    }
#else
    (void)identifier;
#endif

    err[0] = '\0';
    rc = dance_confscan_self(&scan, err, sizeof(err));
    if (rc < 0) {
        /* Mosquitto has dropped privileges by now: a file root can read and
         * we cannot may hold a setting that skips the plugin. */
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: refusing to start: cannot check "
            "the broker configuration for settings that bypass the plugin (%s). "
            "Mosquitto loads plugins after dropping privileges: make every "
            "configuration file and include_dir readable by the user it runs as "
            "(usually mosquitto).", err);
        return -1;
    }
    if (rc == 0)
        return 0;
    if (cfg->token_auth)
        warn_plain_listeners(&scan);
    if (scan.per_listener_settings) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: refusing to start: %s line %u "
            "sets per_listener_settings true, where Mosquitto 2.0 never delivers "
            "the TICK event the plugin needs; set it false",
            scan.per_listener_true.file, scan.per_listener_true.line);
        return -1;
    }
    if (scan.identity_as_username.found || scan.subject_as_username.found) {
        const dance_confscan_hit *h = scan.identity_as_username.found
                                    ? &scan.identity_as_username
                                    : &scan.subject_as_username;
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: refusing to start: %s line %u "
            "sets %s true, which makes Mosquitto skip plugin authentication on "
            "that listener, so DANE would never be checked there. Remove it: "
            "the plugin sets the username to the DANE identity itself.",
            h->file, h->line, scan.identity_as_username.found
                ? "use_identity_as_username" : "use_subject_as_username");
        return -1;
    }
    return check_plugin_order(p, &scan);
}

/* pin_module - keep this module mapped until the process exits.
 * Mosquitto dlclose()s plugins at shutdown, but libdance keeps some
 * process-lifetime state (digests fetched once from OpenSSL's default
 * provider, shared by every verification) and OpenSSL and getdns may call
 * back into it during their own exit handlers; with the module unmapped
 * that state would be unreachable (a leak to LeakSanitizer) and such a
 * call-back would land in unmapped code. Failure only loses that, so it is
 * logged and ignored. */
static void pin_module(void)
{
    Dl_info info;
    const char *why;

    if (dladdr((void *)pin_module, &info) != 0 && info.dli_fname != NULL &&
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != NULL)
        return;             /* the handle is kept on purpose */
    why = dlerror();
    mosquitto_log_printf(MOSQ_LOG_DEBUG, "dance: could not pin the plugin module "
                         "in memory: %s", why != NULL ? why : "dladdr failed");
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
    for (int i = 0; i < supported_version_count; i++)
        if (supported_versions[i] == 5)
            return 5;
    return -1;
}

/* open_token_replay_file - load the jti cache's file, write it back at
 * once (which proves that this process, already running as the user
 * Mosquitto drops to, can replace it: Mosquitto 2.0 initialises plugins
 * after dropping privileges) and start the thread that keeps it. -1 with
 * a reason naming the file and what to do. */
static int open_token_replay_file(struct dance_plugin *p, char *err, size_t errlen)
{
    const char *path = p->cfg.token_replay_file;
    dance_replay_load_info info;
    char why[DANCE_REASON_MAX];

    if (dance_replay_load(p->token_replay, path, &info, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "plugin_opt_token_replay_file: %s. The file holds the "
                 "token ids already used; restore it, or remove it to start with an "
                 "empty cache (tokens used before, still within their lifetime, "
                 "could then be used once more)", why);
        return -1;
    }
    if (dance_replay_save(p->token_replay, path, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "plugin_opt_token_replay_file %s cannot be written by "
                 "the broker (uid %u): %s. The broker replaces it with a new file in "
                 "the same directory: make that directory writable by the user "
                 "Mosquitto runs as (e.g. /var/lib/mosquitto, owned by mosquitto)",
                 path, (unsigned)geteuid(), why);
        return -1;
    }
    p->token_saver = dance_replay_saver_start(p->token_replay, path,
                                              DANCE_REPLAY_SAVE_INTERVAL_MS, why,
                                              sizeof(why));
    if (p->token_saver == NULL) {
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

/* start_tokens - the token policy and its caches. The replay cache keeps
 * a jti for the longest time a token can stay acceptable (token.h), so
 * every token is accepted at most once; its capacity bounds memory under
 * a login flood, and the per-identity share keeps one identity's logins
 * from evicting another's jtis (evictions are counted). With
 * token_replay_file the cache survives restarts. -1 with a reason. */
static int start_tokens(struct dance_plugin *p, char *err, size_t errlen)
{
    dance_token_policy *tp = &p->token_policy;

    memset(tp, 0, sizeof(*tp));
    tp->audience = p->cfg.token_audience;
    tp->max_lifetime = p->cfg.token_max_lifetime;
    tp->allow = p->cfg.allowlist;
    tp->service_label = p->cfg.tlsa_owner_label;
    tp->matcher = p->matcher;
    p->token_keys = dance_jws_keycache_new(p->cfg.key_cache_size);
    p->token_replay = dance_replay_new(DANCE_OPT_TOKEN_REPLAY_CAPACITY,
                                       dance_token_replay_window(tp), NULL, NULL);
    if (p->token_keys == NULL || p->token_replay == NULL
        || dance_replay_set_share(p->token_replay, p->cfg.token_replay_per_identity) != 0) {
        snprintf(err, errlen, "out of memory setting up token authentication");
        return -1;
    }
    tp->keys = p->token_keys;
    tp->replay = p->token_replay;
    if (p->cfg.token_replay_file != NULL)
        return open_token_replay_file(p, err, errlen);
    mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: warning: plugin_opt_token_replay_file "
        "is not set, so token replay protection does not survive a restart: a token "
        "used before a restart can be used once more after it, within its lifetime. "
        "Set it to a file beside Mosquitto's persistence, e.g. "
        "plugin_opt_token_replay_file /var/lib/mosquitto/dance-jti.db");
    return 0;
}

/* log_compat_warning - what plugin_opt_message_profile compat leaves open
 * in this configuration, said once at start. */
static void log_compat_warning(const dance_plugin_config *cfg)
{
    char holes[512] = "";
    size_t n = 0;

    if (!cfg->require_iat)
        n += (size_t)snprintf(holes + n, sizeof(holes) - n, "; messages without iat are "
                              "accepted, again once they have left the replay cache");
    if (!cfg->require_topic_binding && n < sizeof(holes))
        n += (size_t)snprintf(holes + n, sizeof(holes) - n, "; a message without a topic "
                              "header verifies on any topic it is republished on");
    if (cfg->replay_window == 0 && n < sizeof(holes))
        snprintf(holes + n, sizeof(holes) - n, "; no replay window: every copy of a "
                 "message (a QoS 2 resend, a replay) is verified again");
    mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: WARNING: plugin_opt_message_profile "
                         "compat%s; use it only for senders that cannot sign iat and "
                         "topic (the default, strict, requires both and a replay window)",
                         holes[0] ? holes : " (every check configured on)");
}

static int fail_init(struct dance_plugin *p, const char *msg)
{
    mosquitto_log_printf(MOSQ_LOG_ERR, "dance: refusing to start: %s", msg);
    plugin_free(p);
    return MOSQ_ERR_INVAL;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count)
{
    struct dance_plugin *p;
    dance_plugin_opt *opts;
    dance_cache_config cc;
    dance_workers_config wc;
    dance_workers_hooks hooks;
    char err[DANCE_OPT_ERR_MAX];
    int rc;

    *userdata = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: out of memory");
        return MOSQ_ERR_NOMEM;
    }
    p->pid = identifier;
    p->started_ms = dance_plugin_now_ms();
    pin_module();

    opts = calloc(option_count > 0 ? (size_t)option_count : 1, sizeof(*opts));
    if (opts == NULL)
        return fail_init(p, "out of memory");
    for (int i = 0; i < option_count; i++) {
        opts[i].key = options[i].key;
        opts[i].value = options[i].value;
    }
    rc = dance_plugin_options_parse(opts, option_count > 0 ? (size_t)option_count : 0,
                                    &p->cfg, err, sizeof(err));
    free(opts);
    if (rc != 0)
        return fail_init(p, err);
    p->verified_prefix_len = strlen(p->cfg.verified_prefix);
    p->rejected_prefix_len = p->cfg.rejected_prefix ? strlen(p->cfg.rejected_prefix) : 0;
    if (check_environment(identifier, p) != 0) {
        plugin_free(p);
        return MOSQ_ERR_INVAL;
    }
    if (dance_plugin_options_check_resolver(&p->cfg, err, sizeof(err)) != 0)
        return fail_init(p, err);
    dance_plugin_config_resolver(&p->cfg, &p->resolver_cfg);
    dance_wait_budget_init(&p->wait_budget, p->cfg.connect_budget_ms,
                           dance_plugin_now_ms());

    p->matcher = dance_matcher_new(p->cfg.cafile, err, sizeof(err));
    if (p->matcher == NULL) {
        char msg[DANCE_OPT_ERR_MAX + 128];
        if (p->cfg.cafile != NULL)
            snprintf(msg, sizeof(msg), "plugin_opt_cafile '%s': expected a "
                     "readable PEM file with CA certificates (%s)", p->cfg.cafile, err);
        else
            snprintf(msg, sizeof(msg), "cannot set up DANE matching: %s", err);
        return fail_init(p, msg);
    }
    dance_plugin_config_cache(&p->cfg, &cc);
    p->cache = dance_cache_new(&cc);
    p->clients = dance_clients_new();
    if (p->cache == NULL || p->clients == NULL)
        return fail_init(p, "out of memory");
    if (p->cfg.token_auth && start_tokens(p, err, sizeof(err)) != 0)
        return fail_init(p, err);

    memset(&wc, 0, sizeof(wc));
    wc.threads = p->cfg.worker_threads;
    wc.queue_max = p->cfg.queue_size;
    wc.resolver = &p->resolver_cfg;
    wc.cache = p->cache;
    wc.matcher = p->matcher;
    wc.idsrc = p->cfg.identity_source;
    wc.token_policy = p->cfg.token_auth ? &p->token_policy : NULL;
    hooks.ctx = p;
    hooks.fetch_done = fetch_done_hook;
    hooks.revalidate_done = revalidate_done_hook;
    p->workers = dance_workers_start(&wc, &hooks, err, sizeof(err));
    if (p->workers == NULL) {
        char msg[DANCE_OPT_ERR_MAX + 64];
        snprintf(msg, sizeof(msg), "cannot start the DNS workers: %s", err);
        return fail_init(p, msg);
    }
    if (dance_messages_start(p, err, sizeof(err)) != 0) {
        char msg[DANCE_OPT_ERR_MAX + 64];
        snprintf(msg, sizeof(msg), "cannot start message verification: %s", err);
        return fail_init(p, msg);
    }

    for (size_t i = 0; i < sizeof(callbacks) / sizeof(callbacks[0]); i++) {
        rc = mosquitto_callback_register(identifier, callbacks[i].event,
                                         callbacks[i].cb, NULL, p);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, sizeof(err), "cannot register the %s callback: %s",
                     callbacks[i].name, mosquitto_strerror(rc));
            return fail_init(p, err);
        }
        p->registered |= EVENT_BIT(callbacks[i].event);
    }

    p->next_round_ms = p->started_ms + (uint64_t)p->cfg.revalidate_interval * 1000u;
    p->next_stats_ms = p->started_ms;
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: DANE client authentication "
        "ready: allowed_domains=%s identity_source=%s tlsa_owner=%s resolver=%s "
        "trust_anchor=%s cafile=%s fallback=%s client_id_binding=%s "
        "connect_budget_ms=%u revalidate_interval=%u worker_threads=%u",
        p->cfg.allowed_domains, dance_identity_source_name(p->cfg.identity_source),
        p->cfg.tlsa_owner_label ? p->cfg.tlsa_owner_label : "identity",
        p->cfg.resolver ? p->cfg.resolver : "system",
        p->cfg.trust_anchor ? p->cfg.trust_anchor : "system",
        p->cfg.cafile ? p->cfg.cafile : "none", dance_fallback_name(p->cfg.fallback),
        p->cfg.client_id_binding ? "on" : "off", p->cfg.connect_budget_ms,
        p->cfg.revalidate_interval, p->cfg.worker_threads);
    if (!p->cfg.client_id_binding)
        mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: warning: "
            "plugin_opt_client_id_binding off: a device may connect with any client "
            "id, including another device's, and so disconnect it (Mosquitto's "
            "session takeover). Turn it on unless devices cannot choose their id.");
    if (p->verifying) {
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: message verification ready: "
            "verify_topics=%s verified_prefix=%s rejected_prefix=%s max_payload=%zu "
            "message_profile=%s require_iat=%s max_skew=%u replay_window=%u "
            "require_jti=%s require_topic_binding=%s verify_threads=%u "
            "verify_queue_size=%zu",
            p->cfg.verify_topics, p->cfg.verified_prefix,
            p->cfg.rejected_prefix ? p->cfg.rejected_prefix : "none",
            p->cfg.max_payload, dance_message_profile_name(p->cfg.message_profile),
            p->cfg.require_iat ? "true" : "false",
            (unsigned)p->cfg.max_skew, (unsigned)p->cfg.replay_window,
            p->cfg.require_jti ? "true" : "false",
            p->cfg.require_topic_binding ? "true" : "false",
            p->cfg.verify_threads, p->cfg.verify_queue_size);
        if (p->cfg.message_profile == DANCE_PROFILE_COMPAT)
            log_compat_warning(&p->cfg);
    } else
        mosquitto_log_printf(MOSQ_LOG_INFO, "dance: message verification off "
                             "(no plugin_opt_verify_topics)");
    if (p->cfg.token_auth)
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: token authentication ready: "
            "token_audience=%s token_max_lifetime=%u token_disconnect_on_expiry=%s "
            "replay_window=%u token_replay_file=%s token_replay_per_identity=%zu "
            "(clients without a certificate whose password is a token)",
            p->cfg.token_audience, (unsigned)p->cfg.token_max_lifetime,
            p->cfg.token_disconnect_on_expiry ? "on" : "off",
            (unsigned)dance_token_replay_window(&p->token_policy),
            p->cfg.token_replay_file ? p->cfg.token_replay_file : "none",
            p->cfg.token_replay_per_identity);
    *userdata = p;
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options,
                             int option_count)
{
    (void)options;
    (void)option_count;
    plugin_free(userdata);
    return MOSQ_ERR_SUCCESS;
}
