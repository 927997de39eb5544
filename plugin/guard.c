/*
 * plugin/guard.c - the reserved topic trees and the bypass check (see
 * guard.h for the paths into the trees and how each is closed).
 */
#include "plugin.h"

#include <stdio.h>
#include <string.h>
#include "topics.h"

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

static bool reserved(const struct dance_plugin *p, const char *topic)
{
    return topic != NULL &&
           (dance_topic_under_prefix(topic, p->cfg.verified_prefix,
                                     p->verified_prefix_len) ||
            dance_topic_under_prefix(topic, p->cfg.rejected_prefix,
                                     p->rejected_prefix_len));
}

static void deny(struct dance_plugin *p, dance_guard_path path,
                 const struct mosquitto *client, const char *topic)
{
    char t[128], cid[128];

    p->reserved_denied[path]++;
    dance_log_limited(p, MOSQ_LOG_NOTICE, "dance: denied %s to \"%s\" from "
        "client_id=\"%s\": only the plugin publishes under %s%s%s",
        path == DANCE_GUARD_WILL ? "will" : "PUBLISH",
        dance_log_safe(topic, t, sizeof(t)),
        dance_log_safe(client != NULL ? mosquitto_client_id(client) : NULL,
                       cid, sizeof(cid)),
        p->cfg.verified_prefix, p->cfg.rejected_prefix ? " and " : "",
        p->cfg.rejected_prefix ? p->cfg.rejected_prefix : "");
}

/* bypass - a client that acts without having passed the plugin's
 * BASIC_AUTH: registered as such (so its next actions are denied without
 * a second log line), counted, and disconnected at the next TICK. */
static void bypass(struct dance_plugin *p, struct mosquitto *client, const char *what)
{
    const char *id = mosquitto_client_id(client);
    dance_client *e;
    char cid[128];

    p->stats.bypass++;
    mosquitto_log_printf(MOSQ_LOG_ERR, "dance: client_id=\"%s\" sent %s without "
        "having passed the DANE plugin's authentication: a listener has "
        "use_identity_as_username or use_subject_as_username set, or another "
        "plugin authenticated it (MQTT v5 extended authentication). Denied and "
        "disconnecting; remove that setting so the plugin sees every client.",
        dance_log_safe(id, cid, sizeof(cid)), what);
    if (id == NULL ||
        dance_clients_add(p->clients, client, id, false, NULL, NULL, NULL) == 0 ||
        (e = dance_clients_find(p->clients, client)) == NULL) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: out of memory registering "
                             "bypassing client_id=\"%s\"; denying it", cid);
        return;
    }
    e->bypass = true;
    if (dance_kick_queue(p, e, false) != 0)
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: out of memory queueing the "
                             "disconnect of client_id=\"%s\"; denying it", cid);
}

/* taken_over - client (entry e) has the client id of the connection that
 * passed BASIC_AUTH just now: Mosquitto is replacing it. */
static bool taken_over(struct dance_plugin *p, const void *client, const dance_client *e)
{
    const dance_client *n;

    if (p->last_admitted == NULL || p->last_admitted == client || e == NULL)
        return false;
    n = dance_clients_find(p->clients, p->last_admitted);
    return n != NULL && n->client_id != NULL && e->client_id != NULL &&
           strcmp(n->client_id, e->client_id) == 0;
}

int dance_guard_acl_cb(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_acl_check *ed = event_data;
    struct dance_plugin *p = userdata;
    dance_client *e;

    (void)event;
    if (ed->client == NULL)
        return MOSQ_ERR_ACL_DENIED;
    if (ed->access == MOSQ_ACL_WRITE || ed->access == MOSQ_ACL_SUBSCRIBE) {
        e = dance_clients_find(p->clients, ed->client);
        if (ed->access == MOSQ_ACL_WRITE && reserved(p, ed->topic)) {
            /* A will comes after the client's DISCONNECT (its entry is
             * gone), during the DISCONNECT call itself, or at a takeover:
             * right after the newcomer with the same client id passed
             * BASIC_AUTH, before the old connection's DISCONNECT. */
            bool gone = e == NULL || ed->client == p->last_disconnected ||
                        taken_over(p, ed->client, e);
            deny(p, gone ? DANCE_GUARD_WILL : DANCE_GUARD_PUBLISH, ed->client,
                 ed->topic);
            return MOSQ_ERR_ACL_DENIED;
        }
        if (e != NULL && e->bypass)
            return MOSQ_ERR_ACL_DENIED;
        if (e == NULL && ed->client != p->last_disconnected) {
            if (ed->access == MOSQ_ACL_SUBSCRIBE) {
                bypass(p, ed->client, "SUBSCRIBE");
                return MOSQ_ERR_ACL_DENIED;
            }
            /* A PUBLISH (MESSAGE follows at once and decides) or a delayed
             * will (nothing follows). */
            p->acl_write_client = ed->client;
        }
    }
    return p->acl_defer ? MOSQ_ERR_PLUGIN_DEFER : MOSQ_ERR_SUCCESS;
}

int dance_guard_on_message(struct dance_plugin *p, const struct mosquitto_evt_message *ed)
{
    dance_client *e;
    bool bridge = false;

    if (ed->client == NULL)
        return MOSQ_ERR_SUCCESS;
    e = dance_clients_find(p->clients, ed->client);
    if (e == NULL) {
        if (ed->client == p->acl_write_client) {
            p->acl_write_client = NULL;
            bypass(p, ed->client, "PUBLISH");
            return MOSQ_ERR_ACL_DENIED;
        }
        /* No ACL check came before this PUBLISH: Mosquitto skips them for
         * its own outgoing bridges only. */
        bridge = true;
    } else if (e->bypass) {
        return MOSQ_ERR_ACL_DENIED;
    }
    p->acl_write_client = NULL;
    if (reserved(p, ed->topic)) {
        deny(p, bridge ? DANCE_GUARD_BRIDGE : DANCE_GUARD_PUBLISH, ed->client,
             ed->topic);
        return MOSQ_ERR_ACL_DENIED;
    }
    return MOSQ_ERR_SUCCESS;
}

void dance_guard_disconnected(struct dance_plugin *p, const void *client)
{
    p->last_disconnected = client;
    if (p->last_admitted == client)
        p->last_admitted = NULL;
    if (p->acl_write_client == client)
        p->acl_write_client = NULL;
}

void dance_guard_tick(struct dance_plugin *p)
{
    p->last_disconnected = NULL;
    p->last_admitted = NULL;
    p->acl_write_client = NULL;
}
