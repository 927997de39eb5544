/*
 * plugin/warmstart.h - plugin_opt_identities_file: the identities
 * admitted recently (identities.h), kept in their file by a saver thread
 * (filesaver.h) and prefetched at the next start (prefetch.h). This is the
 * Mosquitto glue around those three: start-up, log lines, TICK, $SYS
 * counters, the last write at shutdown.
 *
 * Broker thread only.
 */
#ifndef MDP_WARMSTART_H
#define MDP_WARMSTART_H

#include <stddef.h>
#include <stdint.h>
#include "identities.h"
#include "options.h"
#include "prefetch.h"
#include "workers.h"

typedef struct mdp_warmstart mdp_warmstart;

/* What $SYS shows (prefetch/..., identities/...). */
typedef struct mdp_warmstart_counters {
    mdp_prefetch_counters prefetch;
    uint64_t skipped;               /* names of the file not prefetched */
    uint64_t known;                 /* identities held now */
    uint64_t save_failures;         /* failed writes of the file */
} mdp_warmstart_counters;

/* mdp_warmstart_start - read cfg->identities_file (identities.h says what
 * is skipped and what ignored, each logged), write it back at once (the
 * broker must be able to replace it: refused otherwise), start its saver
 * and set up the prefetch of what it named, logging "prefetching N
 * identities from FILE". NULL with a reason in err: the file cannot be
 * read or written, or out of memory. */
mdp_warmstart *mdp_warmstart_start(const mdp_plugin_config *cfg, char *err,
                                   size_t errlen);

/* mdp_warmstart_identities - where auth.c notes admitted identities. */
mdp_identities *mdp_warmstart_identities(mdp_warmstart *ws);

/* mdp_warmstart_tick - queue more prefetches on w (also called once right
 * after the workers start); report the file's write failures and
 * recoveries. */
void mdp_warmstart_tick(mdp_warmstart *ws, mdp_workers *w);

/* mdp_warmstart_fetch_done - from the workers' fetch_done hook: count a
 * prefetch's answer; log the totals when it was the last. */
void mdp_warmstart_fetch_done(mdp_warmstart *ws, const mdp_fetch_done *d);

/* mdp_warmstart_asked - a cold CONNECT asks for owner (it may join the
 * prefetch's lookup). */
void mdp_warmstart_asked(mdp_warmstart *ws, const char *owner);

/* mdp_warmstart_unasked - the prefetch's lookups under way that no
 * device waits on: auth.c does not count them as devices arriving. */
size_t mdp_warmstart_unasked(const mdp_warmstart *ws);

void mdp_warmstart_get_counters(mdp_warmstart *ws, mdp_warmstart_counters *out);

/* mdp_warmstart_free - stop the saver (which writes the file a last time,
 * logged on failure) and free everything. NULL-safe. */
void mdp_warmstart_free(mdp_warmstart *ws);

#endif
