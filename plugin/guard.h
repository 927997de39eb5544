/*
 * plugin/guard.h - the reserved topic trees (verified_prefix and
 * rejected_prefix, and forwarded_prefix but for forwarders) are the
 * plugin's alone, and no client stays connected
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
 * The forwarded tree (forwarded_prefix, when plugin_opt_forwarders is set)
 * is reserved the same way, with one exception: a PUBLISH (not a will)
 * from a client the plugin authenticated under a forwarder identity passes
 * ACL_CHECK and the guard's MESSAGE part, and message.c then verifies it
 * and keeps it from subscribers. Copies over the broker's own outgoing
 * bridges have no DANE identity and are denied.
 *
 * How the ACL answer combines with the rest of the broker: Mosquitto asks
 * ACL_CHECK callbacks in load order (plugins in configuration order, then
 * acl_file's check) and stops at the first that does not defer; when all
 * defer, access is denied. So outside the reserved trees the guard defers
 * when something after it decides (acl_file, another plugin) and allows
 * otherwise; plugins loaded before this one are refused at start (see
 * environment.c) because their answers would come first.
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
#ifndef MDP_GUARD_H
#define MDP_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include "clients.h"
#include "kicks.h"
#include "log.h"
#include "options.h"

struct mosquitto_evt_acl_check;
struct mosquitto_evt_message;

/* How a write into a reserved tree tried to come in ($SYS names). */
typedef enum mdp_guard_path {
    MDP_GUARD_PUBLISH,        /* "publish": a client's PUBLISH */
    MDP_GUARD_WILL,           /* "will": a will of a client that is gone */
    MDP_GUARD_BRIDGE,         /* "bridge": over an outgoing bridge */
    MDP_GUARD_PATH_COUNT
} mdp_guard_path;

const char *mdp_guard_path_name(mdp_guard_path path);

typedef struct mdp_guard mdp_guard;

/* The guard's counters ($SYS auth/bypass, reserved/denied/<path>). */
typedef struct mdp_guard_counters {
    uint64_t bypass;                /* clients acting without our decision */
    uint64_t reserved_denied[MDP_GUARD_PATH_COUNT];
} mdp_guard_counters;

/* mdp_guard_new - the guard of cfg's reserved trees. acl_defer: an ACL
 * decider follows this plugin (acl_file, later plugins), so ACL checks
 * outside the trees defer to it. Bypassing clients are registered in
 * clients and queued on kicks; denials are logged under log's cap. NULL
 * on ENOMEM. */
mdp_guard *mdp_guard_new(const mdp_plugin_config *cfg, bool acl_defer,
                             mdp_clients *clients, mdp_kicks *kicks,
                             mdp_log_limiter *log);
void mdp_guard_free(mdp_guard *g);      /* NULL-safe */

/* mdp_guard_on_acl_check - the MOSQ_EVT_ACL_CHECK answer. */
int mdp_guard_on_acl_check(mdp_guard *g, const struct mosquitto_evt_acl_check *ed);

/* mdp_guard_on_message - the guard's part of MESSAGE: MOSQ_ERR_ACL_DENIED
 * for a write into a reserved tree (into the forwarded tree: by anyone but
 * a forwarder) or from a bypassing client, else MOSQ_ERR_SUCCESS. */
int mdp_guard_on_message(mdp_guard *g, const struct mosquitto_evt_message *ed);

/* mdp_guard_admitted - client passed BASIC_AUTH (accepted or deferred):
 * a will of the connection it takes over may follow. */
void mdp_guard_admitted(mdp_guard *g, const void *client);

/* mdp_guard_disconnected - DISCONNECT of client: its will, if any,
 * follows in the same broker call. */
void mdp_guard_disconnected(mdp_guard *g, const void *client);

/* mdp_guard_tick - forget per-iteration state. */
void mdp_guard_tick(mdp_guard *g);

void mdp_guard_get_counters(const mdp_guard *g, mdp_guard_counters *out);

#endif
