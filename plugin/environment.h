/*
 * plugin/environment.h - checks of the broker the plugin is loaded into
 * (environment.c), made once at start.
 */
#ifndef MDP_ENVIRONMENT_H
#define MDP_ENVIRONMENT_H

#include <stdbool.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include "options.h"

/* mdp_environment_check - refuse broker settings under which the plugin
 * would silently not protect anything (per_listener_settings true,
 * use_identity/subject_as_username, a plugin loaded before it, an
 * unreadable configuration); warn about plain listeners with tokens.
 * *acl_defer: whether an ACL decider follows the plugin. 0, or -1 with
 * the reason logged. */
int mdp_environment_check(mosquitto_plugin_id_t *identifier,
                            const mdp_plugin_config *cfg, bool *acl_defer);

#endif
