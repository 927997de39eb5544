/*
 * plugin/confscan.h - read the broker's own configuration for settings
 * that silently disable the plugin.
 *
 * Mosquitto 2.0 does not tell a plugin about the broker's configuration.
 * Three settings matter to us: `per_listener_settings true` (TICK never
 * reaches the plugin, so revocation, metrics and background lookups stop)
 * and `use_identity_as_username` / `use_subject_as_username` (Mosquitto
 * skips plugin authentication on that listener, so DANE is never checked
 * there). With token authentication on, a fourth matters: a listener
 * without TLS, where tokens travel in clear (a warning, not a refusal).
 * This module finds the config file on the broker's command line
 * (/proc/self/cmdline, "-c FILE") and scans it and its include_dir files
 * for those keys. Best effort: it cannot see a broker started without -c
 * (which then has no plugin either) and does not evaluate anything else.
 *
 * Pure except for reading files; no Mosquitto headers.
 */
#ifndef DANCE_PLUGIN_CONFSCAN_H
#define DANCE_PLUGIN_CONFSCAN_H

#include <stdbool.h>
#include <stddef.h>

#define DANCE_CONFSCAN_PATH_MAX 1024

typedef struct dance_confscan_hit {
    bool found;
    char file[DANCE_CONFSCAN_PATH_MAX];
    unsigned line;
} dance_confscan_hit;

typedef struct dance_confscan {
    unsigned files;                         /* files read */
    bool per_listener_settings;             /* last value given */
    dance_confscan_hit per_listener_true;   /* where it was set true */
    dance_confscan_hit identity_as_username;   /* first "... true" */
    dance_confscan_hit subject_as_username;
    /* listeners without TLS (no certfile or psk_hint; unix sockets, port 0,
     * are local and not counted); set by dance_confscan_finish */
    unsigned plain_listeners;
    dance_confscan_hit plain_listener;      /* the first one's listener line */
    bool default_listener_plain;            /* Mosquitto's default listener
                                               (no listener line, or a "port"
                                               line) without TLS */
    /* scan state (private) */
    bool in_listener, cur_tls, cur_unix, any_listener, global_tls, port_line;
    dance_confscan_hit cur_listener;
} dance_confscan;

/* dance_confscan_text - scan one file's text (file names it in hits).
 * Follows nothing; the directories of include_dir lines are appended to
 * *include_dir (a NULL-terminated array, NULL when none; free it with
 * dance_confscan_dirs_free; pass NULL to ignore them). 0, or -1 on ENOMEM. */
int dance_confscan_text(const char *text, const char *file,
                        dance_confscan *out, char ***include_dir);
void dance_confscan_dirs_free(char **dirs);

/* dance_confscan_finish - close the last listener and work out the plain
 * ones after the last text; dance_confscan_file calls it. */
void dance_confscan_finish(dance_confscan *out);

/* dance_confscan_file - scan path and the *.conf files of its include_dir
 * (sorted, as Mosquitto reads them). out must be zeroed first.
 * Returns 0, or -1 with a reason in err. */
int dance_confscan_file(const char *path, dance_confscan *out,
                        char *err, size_t errlen);

/* dance_confscan_cmdline - the -c/--config-file argument in a NUL
 * separated argument vector of len bytes, copied into path. Returns 0, or
 * -1 when there is none. */
int dance_confscan_cmdline(const char *args, size_t len, char *path, size_t pathlen);

/* dance_confscan_self - find this process's config file and scan it.
 * Returns 1 when scanned, 0 when there is no config file to scan, -1 with
 * a reason in err when it cannot be read. out is zeroed first. */
int dance_confscan_self(dance_confscan *out, char *err, size_t errlen);

#endif
