/*
 * plugin/plugin.c - Mosquitto plugin entry points (API v5): init wires the
 * modules together, the event callbacks dispatch into them, cleanup takes
 * them apart. No module depends on this file. The plugin's own names start
 * with mdp_ (MDP_ for macros); dance_ names are libdance's public API.
 *
 * Modules, each with its own state behind its functions (an arrow: "uses";
 * every module also uses log.c, the clock and log helpers, and options.h,
 * the configuration; none uses plugin.c):
 *
 *   plugin.c ---> all of them: creates, wires, dispatches callbacks
 *   stats ------> auth, guard, kicks, rechecks, tokens, messages, clients,
 *                 workers, warmstart (their counters)
 *   auth -------> tokens, guard, workers, clients, decide, waitbudget,
 *                 identities
 *   warmstart --> identities, prefetch, filesaver, workers
 *   messages ---> pipeline, clients
 *   pipeline ---> workers, threadpool
 *   workers ----> threadpool, decide
 *   rechecks ---> kicks, workers, clients
 *   tokens -----> kicks, clients, filesaver
 *   guard ------> kicks, clients, topics
 *   kicks ------> clients
 *   environment -> confscan
 *
 * init: options -> environment checks (environment.c) -> matcher, cache,
 * registry, kick queue, re-checks, tokens, workers, messages, guard, auth
 * -> callbacks. Any failure logs one line naming what to fix and returns
 * an error, which stops the broker: a security plugin that silently does
 * nothing is worse than one that refuses to start.
 *
 * TICK (broker thread, about every 100 ms) is where background work comes
 * back: completions of worker jobs, verified messages (message.c), kicks
 * of revoked clients, revalidation rounds and $SYS metrics. mosquitto_kick_client_* and
 * mosquitto_broker_publish* are not thread-safe, which is why none of this
 * happens on the workers.
 */
#define _GNU_SOURCE 1           /* dladdr, RTLD_NODELETE */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "dance/cache.h"
#include "dance/dane.h"
#include "dance/error.h"
#include "dance/version.h"
#include "auth.h"
#include "clients.h"
#include "environment.h"
#include "guard.h"
#include "kicks.h"
#include "log.h"
#include "message.h"
#include "options.h"
#include "rechecks.h"
#include "stats.h"
#include "tokens.h"
#include "warmstart.h"
#include "workers.h"

#define EVENT_BIT(ev) (1u << (unsigned)(ev))

/* The plugin: its configuration and its modules. Passed to Mosquitto as
 * userdata and to every callback; broker thread only. */
struct mdp_plugin {
    mosquitto_plugin_id_t *pid;
    mdp_plugin_config cfg;
    dance_resolver_config resolver_cfg;     /* views into cfg */
    dance_matcher *matcher;
    dance_cache *cache;
    mdp_clients *clients;
    mdp_kicks *kicks;
    mdp_rechecks *rechecks;
    mdp_tokens *tokens;           /* NULL: token logins off */
    mdp_workers *workers;
    mdp_workers_hooks recheck_hooks;  /* chained behind the warm start's */
    mdp_warmstart *warmstart;     /* NULL: no identities_file */
    mdp_messages *messages;
    mdp_guard *guard;
    mdp_auth *auth;

    unsigned registered;            /* bit (1 << event) per registered callback */
    uint64_t started_ms;
    uint64_t next_stats_ms;
};

/* The plugin exports only these three symbols (see plugin/exports.map). */
int mosquitto_plugin_version(int supported_version_count, const int *supported_versions);
int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count);
int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options,
                             int option_count);

/* ---- callbacks ---- */

static int basic_auth_cb(int event, void *event_data, void *userdata)
{
    struct mdp_plugin *p = userdata;

    (void)event;
    return mdp_auth_on_basic_auth(p->auth, event_data);
}

static int acl_check_cb(int event, void *event_data, void *userdata)
{
    struct mdp_plugin *p = userdata;

    int rc;

    (void)event;
    rc = mdp_guard_on_acl_check(p->guard, event_data);
    if (rc == MOSQ_ERR_ACL_DENIED)
        return rc;
    /* an encrypted PUBLISH or will on a verified topic (message.c) */
    if (mdp_messages_on_acl_write(p->messages, event_data) == MOSQ_ERR_ACL_DENIED)
        return MOSQ_ERR_ACL_DENIED;
    return rc;
}

static void publish_stats(struct mdp_plugin *p)
{
    mdp_stats_sources src = {
        .auth = p->auth, .clients = p->clients, .cache = p->cache,
        .workers = p->workers, .guard = p->guard, .kicks = p->kicks,
        .rechecks = p->rechecks, .tokens = p->tokens, .messages = p->messages,
        .warmstart = p->warmstart,
    };

    mdp_stats_publish(&src);
}

static int tick_cb(int event, void *event_data, void *userdata)
{
    struct mdp_plugin *p = userdata;
    uint64_t now = mdp_plugin_now_ms();

    (void)event;
    (void)event_data;
    mdp_auth_tick(p->auth);
    mdp_guard_tick(p->guard);

    mdp_workers_drain(p->workers);
    if (p->warmstart != NULL)
        mdp_warmstart_tick(p->warmstart, p->workers);
    mdp_messages_tick(p->messages, now);
    if (p->tokens != NULL)
        mdp_tokens_tick(p->tokens);
    mdp_kicks_run(p->kicks);
    mdp_rechecks_tick(p->rechecks, p->workers, now);
    if (p->cfg.stats_interval > 0 && now >= p->next_stats_ms) {
        publish_stats(p);
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
    struct mdp_plugin *p = userdata;
    bool recheck;

    (void)event;
    (void)event_data;
    dance_cache_flush(p->cache);
    mdp_auth_reload(p->auth);
    recheck = mdp_rechecks_reload(p->rechecks);
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: reload: TLSA cache flushed%s "
        "(plugin options are only read at start)",
        recheck ? ", re-checking connected clients" : "");
    return MOSQ_ERR_SUCCESS;
}

static int disconnect_cb(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_disconnect *ed = event_data;
    struct mdp_plugin *p = userdata;

    (void)event;
    mdp_guard_disconnected(p->guard, ed->client);
    mdp_clients_remove(p->clients, ed->client);
    return MOSQ_ERR_SUCCESS;
}

/* message_cb - the guard on the reserved trees and against clients that
 * bypassed authentication (guard.c), then signed message verification
 * (message.c). Never changes the message. */
static int message_cb(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_message *ed = event_data;
    struct mdp_plugin *p = userdata;
    int rc;

    (void)event;
    rc = mdp_guard_on_message(p->guard, ed);
    if (rc != MOSQ_ERR_SUCCESS)
        return rc;
    return mdp_messages_on_message(p->messages, ed);
}

/* ---- init / cleanup ---- */

static const struct {
    int event;
    MOSQ_FUNC_generic_callback cb;
    const char *name;
} callbacks[] = {
    {MOSQ_EVT_BASIC_AUTH, basic_auth_cb, "BASIC_AUTH"},
    {MOSQ_EVT_TICK, tick_cb, "TICK"},
    {MOSQ_EVT_RELOAD, reload_cb, "RELOAD"},
    {MOSQ_EVT_DISCONNECT, disconnect_cb, "DISCONNECT"},
    {MOSQ_EVT_MESSAGE, message_cb, "MESSAGE"},
    {MOSQ_EVT_ACL_CHECK, acl_check_cb, "ACL_CHECK"},
};

static void unregister_all(struct mdp_plugin *p)
{
    for (size_t i = 0; i < sizeof(callbacks) / sizeof(callbacks[0]); i++)
        if (p->registered & EVENT_BIT(callbacks[i].event)) {
            mosquitto_callback_unregister(p->pid, callbacks[i].event,
                                          callbacks[i].cb, NULL);
            p->registered &= ~EVENT_BIT(callbacks[i].event);
        }
}

static void plugin_free(struct mdp_plugin *p)
{
    if (p == NULL)
        return;
    unregister_all(p);
    /* Verify threads first (they submit DNS jobs), then the DNS workers
     * (they use the cache and the matcher, and hand answers to the
     * pipeline), then the pipeline's memory. */
    mdp_messages_stop(p->messages);
    mdp_workers_stop(p->workers);
    mdp_messages_free(p->messages);
    mdp_auth_free(p->auth);
    mdp_guard_free(p->guard);
    mdp_tokens_free(p->tokens);
    mdp_warmstart_free(p->warmstart);
    mdp_rechecks_free(p->rechecks);
    mdp_kicks_free(p->kicks);
    mdp_clients_free(p->clients);
    dance_cache_free(p->cache);
    dance_matcher_free(p->matcher);
    mdp_plugin_config_clear(&p->cfg);
    free(p);
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

/* log_compat_warning - what plugin_opt_message_profile compat leaves open
 * in this configuration, said once at start. */
static void log_compat_warning(const mdp_plugin_config *cfg)
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

static int fail_init(struct mdp_plugin *p, const char *msg)
{
    mosquitto_log_printf(MOSQ_LOG_ERR, "dance: refusing to start: %s", msg);
    plugin_free(p);
    return MOSQ_ERR_INVAL;
}

/* The init steps: each returns 0, or -1 with the reason in err (for the
 * "refusing to start" line). Option errors are cut at MDP_OPT_ERR_MAX;
 * err has room for a prefix before one. */
#define INIT_ERR_MAX (MDP_OPT_ERR_MAX + 128)

/* parse_options - Mosquitto's key/value pairs into p->cfg. */
static int parse_options(struct mdp_plugin *p, const struct mosquitto_opt *options,
                         int option_count, char *err, size_t errlen)
{
    mdp_plugin_opt *opts;
    int rc;

    opts = calloc(option_count > 0 ? (size_t)option_count : 1, sizeof(*opts));
    if (opts == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < option_count; i++) {
        opts[i].key = options[i].key;
        opts[i].value = options[i].value;
    }
    rc = mdp_plugin_options_parse(opts, option_count > 0 ? (size_t)option_count : 0,
                                    &p->cfg, err, errlen);
    free(opts);
    return rc;
}

/* start_dane - the matcher (with plugin_opt_cafile), the TLSA cache, the
 * registry of admitted clients and the queue of their disconnects. */
static int start_dane(struct mdp_plugin *p, char *err, size_t errlen)
{
    dance_cache_config cc;
    char why[MDP_OPT_ERR_MAX];

    if (mdp_plugin_options_check_resolver(&p->cfg, err, errlen < MDP_OPT_ERR_MAX
                                                        ? errlen : MDP_OPT_ERR_MAX) != 0)
        return -1;
    mdp_plugin_config_resolver(&p->cfg, &p->resolver_cfg);
    p->matcher = dance_matcher_new(p->cfg.cafile, why, sizeof(why));
    if (p->matcher == NULL) {
        if (p->cfg.cafile != NULL)
            snprintf(err, errlen, "plugin_opt_cafile '%s': expected a "
                     "readable PEM file with CA certificates (%s)", p->cfg.cafile, why);
        else
            snprintf(err, errlen, "cannot set up DANE matching: %s", why);
        return -1;
    }
    mdp_plugin_config_cache(&p->cfg, &cc);
    p->cache = dance_cache_new(&cc);
    p->clients = mdp_clients_new();
    p->kicks = p->clients != NULL ? mdp_kicks_new(p->clients) : NULL;
    p->rechecks = p->kicks != NULL ? mdp_rechecks_new(&p->cfg, p->clients, p->kicks,
                                                        p->started_ms) : NULL;
    if (p->cache == NULL || p->rechecks == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* fetch_done_cb - a background lookup finished: the warm start counts
 * its own, then the re-checks log failures */
static void fetch_done_cb(void *ctx, const mdp_fetch_done *d)
{
    struct mdp_plugin *p = ctx;

    if (p->warmstart != NULL)
        mdp_warmstart_fetch_done(p->warmstart, d);
    if (p->recheck_hooks.fetch_done != NULL)
        p->recheck_hooks.fetch_done(p->recheck_hooks.ctx, d);
}

static void revalidate_done_cb(void *ctx, const mdp_revalidate_done *d)
{
    struct mdp_plugin *p = ctx;

    p->recheck_hooks.revalidate_done(p->recheck_hooks.ctx, d);
}

/* start_workers - the DNS worker threads, whose completions go to the
 * warm start and the re-checks. */
static int start_workers(struct mdp_plugin *p, char *err, size_t errlen)
{
    mdp_workers_config wc;
    mdp_workers_hooks hooks;
    char why[MDP_OPT_ERR_MAX];

    memset(&wc, 0, sizeof(wc));
    wc.threads = p->cfg.worker_threads;
    wc.queue_max = p->cfg.queue_size;
    wc.dns_inflight = p->cfg.dns_inflight;
    wc.resolver = &p->resolver_cfg;
    wc.cache = p->cache;
    wc.matcher = p->matcher;
    wc.idsrc = p->cfg.identity_source;
    wc.token_policy = p->tokens != NULL ? mdp_tokens_policy(p->tokens) : NULL;
    mdp_rechecks_hooks(p->rechecks, &p->recheck_hooks);
    hooks.ctx = p;
    hooks.fetch_done = fetch_done_cb;
    hooks.revalidate_done = revalidate_done_cb;
    p->workers = mdp_workers_start(&wc, &hooks, why, sizeof(why));
    if (p->workers == NULL) {
        snprintf(err, errlen, "cannot start the DNS workers: %s", why);
        return -1;
    }
    /* the first prefetches now, before any device is back */
    if (p->warmstart != NULL)
        mdp_warmstart_tick(p->warmstart, p->workers);
    return 0;
}

/* start_connect_checks - the guard and authentication, the modules the
 * broker's callbacks call first. */
static int start_connect_checks(struct mdp_plugin *p, bool acl_defer,
                                char *err, size_t errlen)
{
    mdp_auth_config ac;

    p->guard = mdp_guard_new(&p->cfg, acl_defer, p->clients, p->kicks,
                               mdp_messages_log(p->messages));
    if (p->guard == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memset(&ac, 0, sizeof(ac));
    ac.cfg = &p->cfg;
    ac.matcher = p->matcher;
    ac.cache = p->cache;
    ac.workers = p->workers;
    ac.clients = p->clients;
    ac.tokens = p->tokens;
    ac.guard = p->guard;
    ac.warmstart = p->warmstart;
    p->auth = mdp_auth_new(&ac);
    if (p->auth == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int register_callbacks(struct mdp_plugin *p, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof(callbacks) / sizeof(callbacks[0]); i++) {
        int rc = mosquitto_callback_register(p->pid, callbacks[i].event,
                                             callbacks[i].cb, NULL, p);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, errlen, "cannot register the %s callback: %s",
                     callbacks[i].name, mosquitto_strerror(rc));
            return -1;
        }
        p->registered |= EVENT_BIT(callbacks[i].event);
    }
    return 0;
}

/* log_ready - what the plugin runs with, said once at start. */
static void log_ready(const struct mdp_plugin *p)
{
    char replay_size[24] = "off";       /* no window, no replay cache */

    if (p->cfg.replay_window > 0)
        snprintf(replay_size, sizeof(replay_size), "%zu", p->cfg.replay_cache_size);
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: DANE client authentication "
        "ready: allowed_domains=%s identity_source=%s tlsa_owner=%s resolver=%s "
        "trust_anchor=%s cafile=%s fallback=%s client_id_binding=%s "
        "connect_budget_ms=%u revalidate_interval=%u worker_threads=%u "
        "dns_inflight=%u identities_file=%s",
        p->cfg.allowed_domains, mdp_identity_source_name(p->cfg.identity_source),
        p->cfg.tlsa_owner_label ? p->cfg.tlsa_owner_label : "identity",
        p->cfg.resolver ? p->cfg.resolver : "system",
        p->cfg.trust_anchor ? p->cfg.trust_anchor : "system",
        p->cfg.cafile ? p->cfg.cafile : "none", mdp_fallback_name(p->cfg.fallback),
        p->cfg.client_id_binding ? "on" : "off", p->cfg.connect_budget_ms,
        p->cfg.revalidate_interval, p->cfg.worker_threads, p->cfg.dns_inflight,
        p->cfg.identities_file ? p->cfg.identities_file : "none");
    if (!p->cfg.client_id_binding)
        mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: warning: "
            "plugin_opt_client_id_binding off: a device may connect with any client "
            "id, including another device's, and so disconnect it (Mosquitto's "
            "session takeover). Turn it on unless devices cannot choose their id.");
    if (mdp_messages_verifying(p->messages)) {
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: message verification ready: "
            "verify_topics=%s verified_prefix=%s rejected_prefix=%s max_payload=%zu "
            "message_profile=%s require_iat=%s max_skew=%u replay_window=%u "
            "replay_cache_size=%s require_jti=%s require_topic_binding=%s "
            "verify_threads=%u verify_queue_size=%zu encrypted=%s",
            p->cfg.verify_topics, p->cfg.verified_prefix,
            p->cfg.rejected_prefix ? p->cfg.rejected_prefix : "none",
            p->cfg.max_payload, mdp_message_profile_name(p->cfg.message_profile),
            p->cfg.require_iat ? "true" : "false",
            (unsigned)p->cfg.max_skew, (unsigned)p->cfg.replay_window, replay_size,
            p->cfg.require_jti ? "true" : "false",
            p->cfg.require_topic_binding ? "true" : "false",
            p->cfg.verify_threads, p->cfg.verify_queue_size,
            p->cfg.encrypted_pass ? "pass" : "refuse");
        if (p->cfg.encrypted_pass)
            mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: warning: "
                "plugin_opt_encrypted pass: encrypted messages (JWE) on verify_topics "
                "are delivered on their own topics unverified (never under %s); "
                "subscribers there get content the broker could not check. The "
                "default, refuse, does not deliver them.", p->cfg.verified_prefix);
        if (p->cfg.message_profile == MDP_PROFILE_COMPAT)
            log_compat_warning(&p->cfg);
        if (p->cfg.forwarder_count > 0)
            mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: forwarding ready: copies "
                "under forwarded_prefix=%s from forwarders=%s are verified again and "
                "published under %s", p->cfg.forwarded_prefix, p->cfg.forwarders,
                p->cfg.verified_prefix);
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
            (unsigned)dance_token_replay_window(mdp_tokens_policy(p->tokens)),
            p->cfg.token_replay_file ? p->cfg.token_replay_file : "none",
            p->cfg.token_replay_per_identity);
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count)
{
    struct mdp_plugin *p;
    char err[INIT_ERR_MAX], why[MDP_OPT_ERR_MAX];
    bool acl_defer = false;

    /* First, so that a refusal below is read against the version that
     * refused. */
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: mosquitto-dance %s starting",
                         dance_version());
    *userdata = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: out of memory");
        return MOSQ_ERR_NOMEM;
    }
    p->pid = identifier;
    p->started_ms = mdp_plugin_now_ms();
    pin_module();

    if (parse_options(p, options, option_count, err, MDP_OPT_ERR_MAX) != 0)
        return fail_init(p, err);
    if (mdp_environment_check(identifier, &p->cfg, &acl_defer) != 0) {
        plugin_free(p);
        return MOSQ_ERR_INVAL;
    }
    if (start_dane(p, err, sizeof(err)) != 0)
        return fail_init(p, err);
    if (p->cfg.token_auth) {
        p->tokens = mdp_tokens_start(&p->cfg, p->matcher, p->clients, p->kicks,
                                       err, MDP_OPT_ERR_MAX);
        if (p->tokens == NULL)
            return fail_init(p, err);
    }
    if (p->cfg.identities_file != NULL) {
        p->warmstart = mdp_warmstart_start(&p->cfg, err, sizeof(err));
        if (p->warmstart == NULL)
            return fail_init(p, err);
    }
    if (start_workers(p, err, sizeof(err)) != 0)
        return fail_init(p, err);
    p->messages = mdp_messages_start(&p->cfg, p->matcher, p->cache, p->workers,
                                       p->clients, why, sizeof(why));
    if (p->messages == NULL) {
        snprintf(err, sizeof(err), "cannot start message verification: %s", why);
        return fail_init(p, err);
    }
    if (start_connect_checks(p, acl_defer, err, sizeof(err)) != 0 ||
        register_callbacks(p, err, sizeof(err)) != 0)
        return fail_init(p, err);

    p->next_stats_ms = p->started_ms;
    log_ready(p);
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
