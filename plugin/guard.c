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

struct dance_guard {
    const dance_plugin_config *cfg;
    dance_clients *clients;
    dance_kicks *kicks;
    dance_log_limiter *log;
    /* the prefixes are guarded whether or not messages are verified */
    size_t verified_prefix_len, rejected_prefix_len;
    bool acl_defer;                 /* an ACL decider follows: defer to it */
    const void *last_disconnected;  /* DISCONNECT seen this loop iteration */
    const void *last_admitted;      /* BASIC_AUTH passed this loop iteration */
    const void *acl_write_client;   /* unregistered client of the last ACL
                                       WRITE; MESSAGE tells PUBLISH from bridge */
    dance_guard_counters counters;
};

const char *dance_guard_path_name(dance_guard_path path)
{
    switch (path) {
    case DANCE_GUARD_PUBLISH: return "publish";
    case DANCE_GUARD_WILL: return "will";
    case DANCE_GUARD_BRIDGE: return "bridge";
    case DANCE_GUARD_PATH_COUNT: break;
    }
    return "unknown";
}

dance_guard *dance_guard_new(const dance_plugin_config *cfg, bool acl_defer,
                             dance_clients *clients, dance_kicks *kicks,
                             dance_log_limiter *log)
{
    dance_guard *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    g->cfg = cfg;
    g->clients = clients;
    g->kicks = kicks;
    g->log = log;
    g->acl_defer = acl_defer;
    g->verified_prefix_len = strlen(cfg->verified_prefix);
    g->rejected_prefix_len = cfg->rejected_prefix ? strlen(cfg->rejected_prefix) : 0;
    return g;
}

void dance_guard_free(dance_guard *g)
{
    free(g);
}

void dance_guard_get_counters(const dance_guard *g, dance_guard_counters *out)
{
    *out = g->counters;
}

static bool reserved(const dance_guard *g, const char *topic)
{
    return topic != NULL &&
           (dance_topic_under_prefix(topic, g->cfg->verified_prefix,
                                     g->verified_prefix_len) ||
            dance_topic_under_prefix(topic, g->cfg->rejected_prefix,
                                     g->rejected_prefix_len));
}

static void deny(dance_guard *g, dance_guard_path path,
                 const struct mosquitto *client, const char *topic)
{
    char t[128], cid[128];

    g->counters.reserved_denied[path]++;
    dance_log_limited(g->log, MOSQ_LOG_NOTICE, "dance: denied %s to \"%s\" from "
        "client_id=\"%s\": only the plugin publishes under %s%s%s",
        path == DANCE_GUARD_WILL ? "will" : "PUBLISH",
        dance_log_safe(topic, t, sizeof(t)),
        dance_log_safe(client != NULL ? mosquitto_client_id(client) : NULL,
                       cid, sizeof(cid)),
        g->cfg->verified_prefix, g->cfg->rejected_prefix ? " and " : "",
        g->cfg->rejected_prefix ? g->cfg->rejected_prefix : "");
}

/* bypass - a client that acts without having passed the plugin's
 * BASIC_AUTH: registered as such (so its next actions are denied without
 * a second log line), counted, and disconnected at the next TICK. */
static void bypass(dance_guard *g, struct mosquitto *client, const char *what)
{
    const char *id = mosquitto_client_id(client);
    const dance_client *e;
    char cid[128];

    g->counters.bypass++;
    mosquitto_log_printf(MOSQ_LOG_ERR, "dance: client_id=\"%s\" sent %s without "
        "having passed the DANE plugin's authentication: a listener has "
        "use_identity_as_username or use_subject_as_username set, or another "
        "plugin authenticated it (MQTT v5 extended authentication). Denied and "
        "disconnecting; remove that setting so the plugin sees every client.",
        dance_log_safe(id, cid, sizeof(cid)), what);
    if (id == NULL || dance_clients_add_bypass(g->clients, client, id) == 0 ||
        (e = dance_clients_find(g->clients, client)) == NULL) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: out of memory registering "
                             "bypassing client_id=\"%s\"; denying it", cid);
        return;
    }
    if (dance_kicks_queue(g->kicks, e, false) != 0)
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: out of memory queueing the "
                             "disconnect of client_id=\"%s\"; denying it", cid);
}

/* taken_over - client (entry e) has the client id of the connection that
 * passed BASIC_AUTH just now: Mosquitto is replacing it. */
static bool taken_over(dance_guard *g, const void *client, const dance_client *e)
{
    const dance_client *n;

    if (g->last_admitted == NULL || g->last_admitted == client || e == NULL)
        return false;
    n = dance_clients_find(g->clients, g->last_admitted);
    return n != NULL && n->client_id != NULL && e->client_id != NULL &&
           strcmp(n->client_id, e->client_id) == 0;
}

int dance_guard_on_acl_check(dance_guard *g, const struct mosquitto_evt_acl_check *ed)
{
    const dance_client *e;

    if (ed->client == NULL)
        return MOSQ_ERR_ACL_DENIED;
    if (ed->access == MOSQ_ACL_WRITE || ed->access == MOSQ_ACL_SUBSCRIBE) {
        e = dance_clients_find(g->clients, ed->client);
        if (ed->access == MOSQ_ACL_WRITE && reserved(g, ed->topic)) {
            /* A will comes after the client's DISCONNECT (its entry is
             * gone), during the DISCONNECT call itself, or at a takeover:
             * right after the newcomer with the same client id passed
             * BASIC_AUTH, before the old connection's DISCONNECT. */
            bool gone = e == NULL || ed->client == g->last_disconnected ||
                        taken_over(g, ed->client, e);
            deny(g, gone ? DANCE_GUARD_WILL : DANCE_GUARD_PUBLISH, ed->client,
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

int dance_guard_on_message(dance_guard *g, const struct mosquitto_evt_message *ed)
{
    const dance_client *e;
    bool bridge = false;

    if (ed->client == NULL)
        return MOSQ_ERR_SUCCESS;
    e = dance_clients_find(g->clients, ed->client);
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
    if (reserved(g, ed->topic)) {
        deny(g, bridge ? DANCE_GUARD_BRIDGE : DANCE_GUARD_PUBLISH, ed->client,
             ed->topic);
        return MOSQ_ERR_ACL_DENIED;
    }
    return MOSQ_ERR_SUCCESS;
}

void dance_guard_admitted(dance_guard *g, const void *client)
{
    g->last_admitted = client;
}

void dance_guard_disconnected(dance_guard *g, const void *client)
{
    g->last_disconnected = client;
    if (g->last_admitted == client)
        g->last_admitted = NULL;
    if (g->acl_write_client == client)
        g->acl_write_client = NULL;
}

void dance_guard_tick(dance_guard *g)
{
    g->last_disconnected = NULL;
    g->last_admitted = NULL;
    g->acl_write_client = NULL;
}
