/*
 * plugin/environment.c - the broker settings the plugin refuses to start
 * under, because it would silently not protect anything there, and the
 * warnings about settings that weaken it (see environment.h).
 */
#define _GNU_SOURCE 1           /* dladdr */
#include "environment.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include "confscan.h"

/* warn_plain_listeners - token authentication works over plain TCP, but
 * a token read off the wire can be used by whoever reads it first (once,
 * within its lifetime): say so at start for each kind of plain listener. */
static void warn_plain_listeners(const mdp_confscan *scan)
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
static int check_plugin_order(const mdp_plugin_config *cfg, const mdp_confscan *scan,
                              bool *acl_defer)
{
    Dl_info info;
    unsigned ours = scan->plugin_count, kept;

    kept = scan->plugin_count < MDP_CONFSCAN_PLUGINS_MAX ? scan->plugin_count
                                                          : MDP_CONFSCAN_PLUGINS_MAX;
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
        const mdp_confscan_plugin *first = &scan->plugins[0];
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: refusing to start: %s line %u "
            "loads %s before this plugin (%s line %u); Mosquitto asks plugins in "
            "that order and takes the first answer, so that plugin could admit "
            "clients without DANE or let them write under %s. Move the "
            "mosquitto_dance plugin line above it.", first->where.file,
            first->where.line, first->path, scan->plugins[ours].where.file,
            scan->plugins[ours].where.line, cfg->verified_prefix);
        return -1;
    }
    *acl_defer = scan->acl_file.found || scan->plugin_count > 1;
    if (*acl_defer)
        mosquitto_log_printf(MOSQ_LOG_INFO, "dance: ACL checks outside %s%s%s%s%s are "
            "left to %s%s%s", cfg->verified_prefix, cfg->rejected_prefix ? " and " : "",
            cfg->rejected_prefix ? cfg->rejected_prefix : "",
            cfg->forwarded_prefix ? " and " : "",
            cfg->forwarded_prefix ? cfg->forwarded_prefix : "",
            scan->acl_file.found ? "acl_file" : "",
            scan->acl_file.found && scan->plugin_count > 1 ? " and " : "",
            scan->plugin_count > 1 ? "the plugins loaded after this one" : "");
    return 0;
}

/* mdp_environment_check - refuse broker settings under which the plugin would
 * silently not protect anything; warn about plain listeners with tokens. */
int mdp_environment_check(mosquitto_plugin_id_t *identifier,
                            const mdp_plugin_config *cfg, bool *acl_defer)
{
    mdp_confscan scan;
    char err[MDP_OPT_ERR_MAX];
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
    rc = mdp_confscan_self(&scan, err, sizeof(err));
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
    if (cfg->forwarder_count > 0 && scan.max_queued_unlimited) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: refusing to start: %s line %u "
            "sets max_queued_messages to 0 (unlimited), where Mosquitto 2.0.11 "
            "disconnects a client whose PUBLISH is denied; the plugin denies every "
            "forwarded copy once it has taken it for verification, so each would "
            "cost the forwarder its connection. Set a finite max_queued_messages "
            "(the default is 1000).", scan.max_queued.file, scan.max_queued.line);
        return -1;
    }
    if (scan.identity_as_username.found || scan.subject_as_username.found) {
        const mdp_confscan_hit *h = scan.identity_as_username.found
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
    return check_plugin_order(cfg, &scan, acl_defer);
}
