/*
 * plugin/guard.c - the reserved topic trees and the bypass check (see
 * guard.h for the paths into the trees and how each is closed).
 */
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include "topics.h"

struct mdp_guard {
    const mdp_plugin_config *cfg;
    mdp_clients *clients;
    mdp_kicks *kicks;
    mdp_log_limiter *log;
    /* the prefixes are guarded whether or not messages are verified */
    size_t verified_prefix_len, rejected_prefix_len, forwarded_prefix_len;
    bool acl_defer;                 /* an ACL decider follows: defer to it */
    const void *last_disconnected;  /* DISCONNECT seen this loop iteration */
    const void *last_admitted;      /* BASIC_AUTH passed this loop iteration */
    const void *acl_write_client;   /* unregistered client of the last ACL
                                       WRITE; MESSAGE tells PUBLISH from bridge */
    mdp_guard_counters counters;
};

const char *mdp_guard_path_name(mdp_guard_path path)
{
    switch (path) {
    case MDP_GUARD_PUBLISH: return "publish";
    case MDP_GUARD_WILL: return "will";
    case MDP_GUARD_BRIDGE: return "bridge";
    case MDP_GUARD_PATH_COUNT: break;
    }
    return "unknown";
}

mdp_guard *mdp_guard_new(const mdp_plugin_config *cfg, bool acl_defer,
                             mdp_clients *clients, mdp_kicks *kicks,
                             mdp_log_limiter *log)
{
    mdp_guard *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    g->cfg = cfg;
    g->clients = clients;
    g->kicks = kicks;
    g->log = log;
    g->acl_defer = acl_defer;
    g->verified_prefix_len = strlen(cfg->verified_prefix);
    g->rejected_prefix_len = cfg->rejected_prefix ? strlen(cfg->rejected_prefix) : 0;
    g->forwarded_prefix_len = cfg->forwarded_prefix ? strlen(cfg->forwarded_prefix) : 0;
    return g;
}

void mdp_guard_free(mdp_guard *g)
{
    free(g);
}

void mdp_guard_get_counters(const mdp_guard *g, mdp_guard_counters *out)
{
    *out = g->counters;
}

static bool reserved(const mdp_guard *g, const char *topic)
{
    return topic != NULL &&
           (mdp_topic_under_prefix(topic, g->cfg->verified_prefix,
                                     g->verified_prefix_len) ||
            mdp_topic_under_prefix(topic, g->cfg->rejected_prefix,
                                     g->rejected_prefix_len));
}

/* forwarded - topic is in the forwarded tree (forwarding on). */
static bool forwarded(const mdp_guard *g, const char *topic)
{
    return topic != NULL &&
           mdp_topic_under_prefix(topic, g->cfg->forwarded_prefix,
                                    g->forwarded_prefix_len);
}

/* forwarder - e is a connected client the plugin authenticated (DANE)
 * under an identity of plugin_opt_forwarders. */
static bool forwarder(const mdp_guard *g, const mdp_client *e)
{
    return e != NULL && e->dane && !e->bypass &&
           mdp_plugin_config_forwarder(g->cfg, e->identity);
}

static void deny(mdp_guard *g, mdp_guard_path path,
                 const struct mosquitto *client, const char *topic)
{
    char t[128], cid[128];

    g->counters.reserved_denied[path]++;
    mdp_log_limited(g->log, MOSQ_LOG_NOTICE, "dance: denied %s to \"%s\" from "
        "client_id=\"%s\": only the plugin publishes under %s%s%s%s%s",
        path == MDP_GUARD_WILL ? "will" : "PUBLISH",
        mdp_log_safe(topic, t, sizeof(t)),
        mdp_log_safe(client != NULL ? mosquitto_client_id(client) : NULL,
                       cid, sizeof(cid)),
        g->cfg->verified_prefix, g->cfg->rejected_prefix ? " and " : "",
        g->cfg->rejected_prefix ? g->cfg->rejected_prefix : "",
        g->cfg->forwarded_prefix ? ", and only plugin_opt_forwarders under " : "",
        g->cfg->forwarded_prefix ? g->cfg->forwarded_prefix : "");
}

/* bypass - a client that acts without having passed the plugin's
 * BASIC_AUTH: registered as such (so its next actions are denied without
 * a second log line), counted, and disconnected at the next TICK. */
static void bypass(mdp_guard *g, struct mosquitto *client, const char *what)
{
    const char *id = mosquitto_client_id(client);
    const mdp_client *e;
    char cid[128];

    g->counters.bypass++;
    mosquitto_log_printf(MOSQ_LOG_ERR, "dance: client_id=\"%s\" sent %s without "
        "having passed the DANE plugin's authentication: a listener has "
        "use_identity_as_username or use_subject_as_username set, or another "
        "plugin authenticated it (MQTT v5 extended authentication). Denied and "
        "disconnecting; remove that setting so the plugin sees every client.",
        mdp_log_safe(id, cid, sizeof(cid)), what);
    if (id == NULL || mdp_clients_add_bypass(g->clients, client, id) == 0 ||
        (e = mdp_clients_find(g->clients, client)) == NULL) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: out of memory registering "
                             "bypassing client_id=\"%s\"; denying it", cid);
        return;
    }
    if (mdp_kicks_queue(g->kicks, e, false) != 0)
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: out of memory queueing the "
                             "disconnect of client_id=\"%s\"; denying it", cid);
}

/* taken_over - client (entry e) has the client id of the connection that
 * passed BASIC_AUTH just now: Mosquitto is replacing it. */
static bool taken_over(mdp_guard *g, const void *client, const mdp_client *e)
{
    const mdp_client *n;

    if (g->last_admitted == NULL || g->last_admitted == client || e == NULL)
        return false;
    n = mdp_clients_find(g->clients, g->last_admitted);
    return n != NULL && n->client_id != NULL && e->client_id != NULL &&
           strcmp(n->client_id, e->client_id) == 0;
}

int mdp_guard_on_acl_check(mdp_guard *g, const struct mosquitto_evt_acl_check *ed)
{
    const mdp_client *e;

    if (ed->client == NULL)
        return MOSQ_ERR_ACL_DENIED;
    if (ed->access == MOSQ_ACL_WRITE || ed->access == MOSQ_ACL_SUBSCRIBE) {
        e = mdp_clients_find(g->clients, ed->client);
        if (ed->access == MOSQ_ACL_WRITE &&
            (reserved(g, ed->topic) || forwarded(g, ed->topic))) {
            /* A will comes after the client's DISCONNECT (its entry is
             * gone), during the DISCONNECT call itself, or at a takeover:
             * right after the newcomer with the same client id passed
             * BASIC_AUTH, before the old connection's DISCONNECT. */
            bool gone = e == NULL || ed->client == g->last_disconnected ||
                        taken_over(g, ed->client, e);
            /* A forwarder's PUBLISH goes on to MESSAGE, which verifies it
             * and keeps it from subscribers; its will would reach them as
             * is, so a will is denied to forwarders too. The tree is the
             * plugin's, so acl_file is not asked: a copy it denied would
             * be lost without a word from the plugin. */
            if (!gone && forwarder(g, e) && !reserved(g, ed->topic))
                return MOSQ_ERR_SUCCESS;
            deny(g, gone ? MDP_GUARD_WILL : MDP_GUARD_PUBLISH, ed->client,
                 ed->topic);
            return MOSQ_ERR_ACL_DENIED;
        }
        if (e != NULL && e->bypass)
            return MOSQ_ERR_ACL_DENIED;
        if (e == NULL && ed->client != g->last_disconnected) {
            if (ed->access == MOSQ_ACL_SUBSCRIBE) {
                bypass(g, ed->client, "SUBSCRIBE");
                return MOSQ_ERR_ACL_DENIED;
            }
            /* A PUBLISH (MESSAGE follows at once and decides) or a delayed
             * will (nothing follows). */
            g->acl_write_client = ed->client;
        }
    }
    return g->acl_defer ? MOSQ_ERR_PLUGIN_DEFER : MOSQ_ERR_SUCCESS;
}

int mdp_guard_on_message(mdp_guard *g, const struct mosquitto_evt_message *ed)
{
    const mdp_client *e;
    bool bridge = false;

    if (ed->client == NULL)
        return MOSQ_ERR_SUCCESS;
    e = mdp_clients_find(g->clients, ed->client);
    if (e == NULL) {
        if (ed->client == g->acl_write_client) {
            g->acl_write_client = NULL;
            bypass(g, ed->client, "PUBLISH");
            return MOSQ_ERR_ACL_DENIED;
        }
        /* No ACL check came before this PUBLISH: Mosquitto skips them for
         * its own outgoing bridges only. */
        bridge = true;
    } else if (e->bypass) {
        return MOSQ_ERR_ACL_DENIED;
    }
    g->acl_write_client = NULL;
    if (reserved(g, ed->topic) ||
        (forwarded(g, ed->topic) && (bridge || !forwarder(g, e)))) {
        deny(g, bridge ? MDP_GUARD_BRIDGE : MDP_GUARD_PUBLISH, ed->client,
             ed->topic);
        return MOSQ_ERR_ACL_DENIED;
    }
    return MOSQ_ERR_SUCCESS;
}

void mdp_guard_admitted(mdp_guard *g, const void *client)
{
    g->last_admitted = client;
}

void mdp_guard_disconnected(mdp_guard *g, const void *client)
{
    g->last_disconnected = client;
    if (g->last_admitted == client)
        g->last_admitted = NULL;
    if (g->acl_write_client == client)
        g->acl_write_client = NULL;
}

void mdp_guard_tick(mdp_guard *g)
{
    g->last_disconnected = NULL;
    g->last_admitted = NULL;
    g->acl_write_client = NULL;
}
