/*
 * dance/replay.h - the replay cache: which (sender, jti or digest) pairs
 * were accepted within a window, so that a copy of a signed message or a
 * used token is refused (jws.h, token.h), kept across restarts in a file.
 */
#ifndef DANCE_REPLAY_H
#define DANCE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dance/cache.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Wall clock in seconds since the epoch; injectable for tests. */
typedef int64_t (*dance_wallclock_fn)(void *ctx);

typedef struct dance_replay dance_replay;

/* A bounded, thread-safe set of (sender, key) pairs seen in the last window
 * seconds (monotonic clock, injectable); key is a jti, or for messages
 * without one a digest of what was signed (hex). Size capacity for the
 * expected rate x window. Pair it with require_iat and max_skew <= window /
 * 2 so that a message older than the window is refused by its iat instead.
 * capacity 0: 100000; window 0: 600 s.
 *
 * Evictions (an evicted pair can be accepted again, so they are counted):
 * a sender holding its share (dance_replay_set_share; default the whole
 * capacity) loses its own oldest pair (evicted_share); when the cache is
 * full the sender holding the most pairs loses its oldest (evicted_full),
 * so one sender's flood never evicts another sender's pairs. */
dance_replay *dance_replay_new(size_t capacity, uint32_t window_s,
                               dance_clock_fn clock, void *clock_ctx);
void dance_replay_free(dance_replay *rp);

/* dance_replay_set_share - at most per_sender pairs per sender (0 or more
 * than the capacity: the capacity). Only while the cache is empty: 0, or
 * -1 when it is not (or on ENOMEM). */
int dance_replay_set_share(dance_replay *rp, size_t per_sender);

/* dance_replay_set_wallclock - the wall clock that dance_replay_save and
 * dance_replay_load convert expiry times with (NULL: time(NULL)). */
void dance_replay_set_wallclock(dance_replay *rp, dance_wallclock_fn now, void *ctx);

/* dance_replay_check_add - 0 when (sender, key) is new (now recorded),
 * 1 when seen within the window, -1 on allocation failure (not recorded). */
int dance_replay_check_add(dance_replay *rp, const char *sender, const char *key);

typedef struct dance_replay_stats {
    uint64_t entries, replays;
    uint64_t evicted_early;         /* all pairs forgotten before their window
                                       ended: evicted_share + evicted_full */
    uint64_t evicted_share;         /* a sender's own, at its share */
    uint64_t evicted_full;          /* the largest holder's, cache full */
} dance_replay_stats;
void dance_replay_get_stats(dance_replay *rp, dance_replay_stats *out);

/* Persistence, so that a restart does not forget which pairs were seen.
 * The file (format in lib/replay.c) holds each pair with a wall-clock
 * expiry time; pairs longer than 4096 bytes (no jti or digest is) are not
 * written. */

/* dance_replay_save - write the pairs to path atomically: a temporary file
 * in the same directory (mode 0600), fsync, rename over path, fsync of the
 * directory. 0, or -1 with a reason naming the file (path is unchanged
 * then). Thread-safe; checks and adds wait only while the pairs are copied
 * into the file's buffer, not for the disk. */
int dance_replay_save(dance_replay *rp, const char *path, char *err, size_t errlen);

/* dance_replay_dirty - pairs were added since the last successful save. */
bool dance_replay_dirty(dance_replay *rp);

typedef struct dance_replay_load_info {
    bool missing;                   /* no file at path (a first start) */
    size_t loaded;                  /* pairs taken */
    size_t expired;                 /* pairs in the file whose time had passed */
} dance_replay_load_info;

/* dance_replay_load - add the pairs of the file at path whose expiry has
 * not passed (each kept at most one window from now). A missing file is
 * not an error (info->missing). An unreadable, truncated or malformed file
 * is: -1 with a reason naming the file and line; the cache may then hold
 * part of the file and should be discarded. info may be NULL. */
int dance_replay_load(dance_replay *rp, const char *path, dance_replay_load_info *info,
                      char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
