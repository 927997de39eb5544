/*
 * plugin/filesaver.h - a thread that keeps a file up to date with state
 * the broker thread changes: the token jti cache
 * (plugin_opt_token_replay_file) and the identities to prefetch at the
 * next start (plugin_opt_identities_file).
 *
 * The thread writes the file (the owner's save function, which replaces it
 * atomically: dance/atomicfile.h) at most every interval, when the owner
 * says it changed since the last write or when the last write failed; the
 * broker thread never waits for the disk. mdp_file_saver_stop writes a
 * last time, so a clean shutdown loses nothing; a crash loses at most the
 * changes of the last interval. The thread never logs
 * (mosquitto_log_printf is for the broker thread): TICK reads the status
 * and reports changes.
 *
 * No Mosquitto headers, so it is part of dance_plugin_core.
 */
#ifndef MDP_FILESAVER_H
#define MDP_FILESAVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dance/error.h"

#define MDP_FILE_SAVE_INTERVAL_MS 2000u

typedef struct mdp_file_saver mdp_file_saver;

/* What the thread writes, and how it knows there is something to write.
 * Both run on the saver thread (and save once more in stop) while the
 * broker thread changes the state: they take the owner's lock. */
typedef struct mdp_file_saver_ops {
    /* write the state to path: 0, or -1 with a reason */
    int (*save)(void *state, const char *path, char *err, size_t errlen);
    /* changed since the last successful save */
    bool (*dirty)(void *state);
} mdp_file_saver_ops;

typedef struct mdp_file_saver_status {
    bool ok;                        /* the last write succeeded */
    uint64_t saves, failures;       /* writes done, writes failed */
    char err[DANCE_REASON_MAX];     /* why the last write failed; "" when ok */
} mdp_file_saver_status;

/* mdp_file_saver_start - write state to path with ops every interval_ms
 * (0: MDP_FILE_SAVE_INTERVAL_MS) when needed. ops is copied; state and
 * path must outlive the saver. NULL with a reason when the thread cannot
 * start. */
mdp_file_saver *mdp_file_saver_start(const mdp_file_saver_ops *ops, void *state,
                                     const char *path, unsigned interval_ms,
                                     char *err, size_t errlen);

/* mdp_file_saver_get_status - a copy of the status. Cannot fail. */
void mdp_file_saver_get_status(mdp_file_saver *s, mdp_file_saver_status *out);

/* mdp_file_saver_stop - stop the thread, write the file a last time
 * and free s. 0, or -1 with the reason of the last write's failure.
 * NULL-safe (0). */
int mdp_file_saver_stop(mdp_file_saver *s, char *err, size_t errlen);

#endif
