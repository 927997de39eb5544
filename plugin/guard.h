/*
 * plugin/guard.h - the reserved topic trees (verified_prefix and
 * rejected_prefix) are the plugin's alone, and no client stays connected
 * without a decision of the plugin's BASIC_AUTH.
 *
 * Paths a message can take into a reserved tree in Mosquitto 2.0.11, and
 * where each is closed:
 *   - PUBLISH from a client (any QoS, retained or not): the ACL_CHECK
 *     callback denies WRITE (Mosquitto checks it before MESSAGE and before
 *     storing a retained message; QoS 1/2 are answered "not authorized");
 *   - a will, sent at an unexpected disconnect, at a session takeover or
 *     after a will delay: Mosquitto only asks ACL_CHECK, never MESSAGE, so
 *     the ACL_CHECK denial is the one that counts;
 *   - the bare prefix level ("verified" for "verified/"), which the filter
 *     "verified/#" also matches: reserved like the tree below it;
 *   - PUBLISH arriving over the broker's own outgoing bridge: Mosquitto
 *     skips ACL checks for bridges, so the MESSAGE callback refuses it.
 * The plugin's own copies go out with mosquitto_broker_publish_copy, which
 * neither ACL_CHECK nor MESSAGE sees.
 *
 * How the ACL answer combines with the rest of the broker: Mosquitto asks
 * ACL_CHECK callbacks in load order (plugins in configuration order, then
 * acl_file's check) and stops at the first that does not defer; when all
 * defer, access is denied. So outside the reserved trees the guard defers
 * when something after it decides (acl_file, another plugin) and allows
 * otherwise; plugins loaded before this one are refused at start (see
 * plugin.c) because their answers would come first.
 *
 * Bypass: every client the broker admits passes BASIC_AUTH, where the
 * plugin registers it (clients.h) or refuses it. A client that subscribes
 * or publishes without an entry was admitted by something else
 * (use_identity_as_username on a listener, MQTT v5 extended authentication
 * by another plugin): it is denied, logged once, counted (auth/bypass) and
 * disconnected at the next TICK. The broker's outgoing bridges never pass
 * BASIC_AUTH either, but Mosquitto skips ACL checks for them, so a
 * PUBLISH that reaches MESSAGE without an ACL check just before it comes
 * from a bridge and is no bypass.
 *
 * Broker thread only.
 */
#ifndef DANCE_PLUGIN_GUARD_H
#define DANCE_PLUGIN_GUARD_H

struct dance_plugin;
struct mosquitto_evt_message;

/* How a write into a reserved tree tried to come in ($SYS names). */
typedef enum dance_guard_path {
    DANCE_GUARD_PUBLISH,        /* "publish": a client's PUBLISH */
    DANCE_GUARD_WILL,           /* "will": a will of a client that is gone */
    DANCE_GUARD_BRIDGE,         /* "bridge": over an outgoing bridge */
    DANCE_GUARD_PATH_COUNT
} dance_guard_path;

const char *dance_guard_path_name(dance_guard_path path);

/* dance_guard_acl_cb - the MOSQ_EVT_ACL_CHECK callback. */
int dance_guard_acl_cb(int event, void *event_data, void *userdata);

/* dance_guard_on_message - the guard's part of MESSAGE: MOSQ_ERR_ACL_DENIED
 * for a write into a reserved tree or from a bypassing client, else
 * MOSQ_ERR_SUCCESS. */
int dance_guard_on_message(struct dance_plugin *p, const struct mosquitto_evt_message *ed);

/* dance_guard_disconnected - DISCONNECT of client: its will, if any,
 * follows in the same broker call. */
void dance_guard_disconnected(struct dance_plugin *p, const void *client);

/* dance_guard_tick - forget per-iteration state. */
void dance_guard_tick(struct dance_plugin *p);

#endif
