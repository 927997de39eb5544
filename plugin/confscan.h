/*
 * plugin/confscan.h - read the broker's own configuration for settings
 * that silently disable the plugin or open its reserved topic trees.
 *
 * Mosquitto 2.0 does not tell a plugin about the broker's configuration.
 * These settings matter to us:
 *   - `per_listener_settings true`: TICK never reaches the plugin, so
 *     revocation, metrics and background lookups stop;
 *   - `use_identity_as_username` / `use_subject_as_username` true: Mosquitto
 *     skips plugin authentication on that listener, so DANE is never
 *     checked there;
 *   - `plugin` / `auth_plugin` lines before ours: their ACL and BASIC_AUTH
 *     answers come first (Mosquitto asks callbacks in load order and stops
 *     at the first that does not defer), so they could grant what the
 *     plugin must refuse; lines after ours, and `acl_file` (whose check
 *     Mosquitto registers after every plugin's), decide what the plugin
 *     defers to them;
 *   - with token authentication on, listeners without TLS, where tokens
 *     travel in clear (a warning, not a refusal);
 *   - with forwarders, `max_queued_messages 0` (unlimited): Mosquitto
 *     2.0.11 then drops the connection of a client whose PUBLISH is denied,
 *     and every forwarded copy is denied once verified.
 * Booleans are read exactly as Mosquitto's conf__parse_bool reads them
 * ("true"/"1", "false"/"0"), and include_dir files are read at the point
 * of their include_dir line, sorted, as Mosquitto reads them, so that the
 * order of plugin lines is the broker's.
 * This module finds the config file on the broker's command line
 * (/proc/self/cmdline, "-c FILE") and scans it and its include_dir files.
 * A file it cannot read is an error: the plugin starts after Mosquitto
 * has dropped privileges, and a setting it cannot see may be one that
 * bypasses it.
 *
 * Pure except for reading files; no Mosquitto headers.
 */
#ifndef MDP_CONFSCAN_H
#define MDP_CONFSCAN_H

#include <stdbool.h>
#include <stddef.h>

#define MDP_CONFSCAN_PATH_MAX 1024

typedef struct mdp_confscan_hit {
    bool found;
    char file[MDP_CONFSCAN_PATH_MAX];
    unsigned line;
} mdp_confscan_hit;

/* Plugin lines kept (in load order); more are counted, not kept. */
#define MDP_CONFSCAN_PLUGINS_MAX 8

typedef struct mdp_confscan_plugin {
    mdp_confscan_hit where;
    char path[MDP_CONFSCAN_PATH_MAX];     /* as written */
} mdp_confscan_plugin;

typedef struct mdp_confscan {
    unsigned files;                         /* files read */
    bool per_listener_settings;             /* last value given */
    mdp_confscan_hit per_listener_true;   /* where it was set true */
    mdp_confscan_hit identity_as_username;   /* first "... true" or "... 1" */
    mdp_confscan_hit subject_as_username;
    mdp_confscan_hit acl_file;            /* first acl_file line */
    bool max_queued_unlimited;              /* last max_queued_messages <= 0 */
    mdp_confscan_hit max_queued;          /* that last line */
    unsigned plugin_count;                  /* plugin + auth_plugin lines */
    mdp_confscan_plugin plugins[MDP_CONFSCAN_PLUGINS_MAX];
    /* listeners without TLS (no certfile or psk_hint; unix sockets, port 0,
     * are local and not counted); set by mdp_confscan_finish */
    unsigned plain_listeners;
    mdp_confscan_hit plain_listener;      /* the first one's listener line */
    bool default_listener_plain;            /* Mosquitto's default listener
                                               (no listener line, or a "port"
                                               line) without TLS */
    /* scan state (private) */
    bool in_listener, cur_tls, cur_unix, any_listener, global_tls, port_line;
    mdp_confscan_hit cur_listener;
} mdp_confscan;

/* mdp_confscan_bool - Mosquitto's boolean spellings: 1 for "true" or
 * "1", 0 for "false" or "0", -1 for anything else (Mosquitto refuses to
 * start on those). */
int mdp_confscan_bool(const char *t, size_t n);

/* mdp_confscan_text - scan one file's text (file names it in hits).
 * Follows nothing; the directories of include_dir lines are appended to
 * *include_dir (a NULL-terminated array, NULL when none; free it with
 * mdp_confscan_dirs_free; pass NULL to ignore them). 0, or -1 on ENOMEM. */
int mdp_confscan_text(const char *text, const char *file,
                        mdp_confscan *out, char ***include_dir);
void mdp_confscan_dirs_free(char **dirs);

/* mdp_confscan_finish - close the last listener and work out the plain
 * ones after the last text; mdp_confscan_file calls it. */
void mdp_confscan_finish(mdp_confscan *out);

/* mdp_confscan_file - scan path and the *.conf files of its include_dir
 * lines (sorted, read where the line is, as Mosquitto reads them). out
 * must be zeroed first. Returns 0, or -1 with a reason in err (a file or
 * directory that cannot be read, out of memory). */
int mdp_confscan_file(const char *path, mdp_confscan *out,
                        char *err, size_t errlen);

/* mdp_confscan_cmdline - the -c/--config-file argument in a NUL
 * separated argument vector of len bytes, copied into path. Returns 0, or
 * -1 when there is none. */
int mdp_confscan_cmdline(const char *args, size_t len, char *path, size_t pathlen);

/* mdp_confscan_self - find this process's config file and scan it.
 * Returns 1 when scanned, 0 when there is no config file to scan, -1 with
 * a reason in err when it cannot be read. out is zeroed first. */
int mdp_confscan_self(mdp_confscan *out, char *err, size_t errlen);

#endif
