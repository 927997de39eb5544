/*
 * plugin/replayfile.h - keeps the token jti cache in a file
 * (plugin_opt_token_replay_file), so that a token used before a restart is
 * not accepted again after it.
 *
 * One thread of its own writes the file (dance_replay_save: temporary
 * file, fsync, rename) at most every interval, when tokens were accepted
 * since the last write or the last write failed; logins on the broker
 * thread never wait for the disk. mdp_replay_saver_stop writes a last
 * time, so a clean shutdown loses nothing; a crash loses at most the
 * tokens of the last interval. The thread never logs (mosquitto_log_printf
 * is for the broker thread): TICK reads the status and reports changes.
 *
 * No Mosquitto headers, so it is part of dance_plugin_core.
 */
#ifndef MDP_REPLAYFILE_H
#define MDP_REPLAYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dance/error.h"
#include "dance/replay.h"

#define MDP_REPLAY_SAVE_INTERVAL_MS 2000u

typedef struct mdp_replay_saver mdp_replay_saver;

typedef struct mdp_replay_saver_status {
    bool ok;                        /* the last write succeeded */
    uint64_t saves, failures;       /* writes done, writes failed */
    char err[DANCE_REASON_MAX];     /* why the last write failed; "" when ok */
} mdp_replay_saver_status;

/* mdp_replay_saver_start - write rp to path every interval_ms when
 * needed (rp and path must outlive the saver). NULL with a reason when the
 * thread cannot start. */
mdp_replay_saver *mdp_replay_saver_start(dance_replay *rp, const char *path,
                                             unsigned interval_ms, char *err, size_t errlen);

/* mdp_replay_saver_get_status - a copy of the status. Cannot fail. */
void mdp_replay_saver_get_status(mdp_replay_saver *s, mdp_replay_saver_status *out);

/* mdp_replay_saver_stop - stop the thread, write the file a last time
 * and free s. 0, or -1 with the reason of the last write's failure.
 * NULL-safe (0). */
int mdp_replay_saver_stop(mdp_replay_saver *s, char *err, size_t errlen);

#endif
