/*
 * plugin/identities.h - the DNS names of the identities the plugin
 * admitted recently (plugin_opt_identities_file), kept so that the next
 * start can look their TLSA records up before the devices come back
 * (prefetch.h).
 *
 * Names only: they are public in DNS, and nothing else (no key, no
 * certificate, no token) is kept. The set is bounded: at most capacity
 * names (the TLSA cache's entry cap, plugin_opt_cache_size: a start never
 * prefetches more answers than the cache keeps), the least recently
 * admitted dropped first.
 *
 * File format, line-based ASCII, version 1, most recently admitted first:
 *
 *   dance-identities 1
 *   <name>                     one normalised DNS name per line
 *   end <count>
 *
 * The set is written by the saver thread (filesaver.h) and changed by the
 * broker thread: a mutex guards it, held while a name is noted (a hash
 * lookup) and while the names are copied into the file's buffer.
 *
 * No Mosquitto headers, so it is part of dance_plugin_core.
 */
#ifndef MDP_IDENTITIES_H
#define MDP_IDENTITIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dance/name.h"

typedef struct mdp_identities mdp_identities;

/* mdp_identities_new - an empty set of at most capacity (>= 1) names.
 * NULL on ENOMEM. */
mdp_identities *mdp_identities_new(size_t capacity);

/* mdp_identities_free - NULL-safe. */
void mdp_identities_free(mdp_identities *ids);

/* mdp_identities_note - identity (a normalised DNS name) was admitted:
 * add it, or make it the most recent; when full, the least recent goes.
 * 0, or -1 on ENOMEM (the set is unchanged: a prefetch lost, nothing
 * else). */
int mdp_identities_note(mdp_identities *ids, const char *identity);

/* mdp_identities_forget - identity is no longer to be prefetched (its
 * record is gone); nothing when not held. */
void mdp_identities_forget(mdp_identities *ids, const char *identity);

/* mdp_identities_count - names held now. */
size_t mdp_identities_count(mdp_identities *ids);

/* mdp_identities_dirty - names were noted since the last successful save. */
bool mdp_identities_dirty(mdp_identities *ids);

/* mdp_identities_save - write the names to path atomically (mode 0600,
 * dance/atomicfile.h). 0, or -1 with a reason naming the file. */
int mdp_identities_save(mdp_identities *ids, const char *path, char *err,
                        size_t errlen);

/* What a load found. */
typedef struct mdp_identities_load_info {
    bool missing;                   /* no file: a first start */
    bool corrupt;                   /* ignored as a whole; err says why */
    size_t loaded;                  /* names taken */
    size_t invalid;                 /* lines that are not a normalised DNS name */
    size_t outside;                 /* names not under allowed_domains */
    size_t duplicates;              /* names seen before in the file */
    size_t over_cap;                /* names past capacity */
} mdp_identities_load_info;

/* mdp_identities_load - read the file at path strictly into ids (which
 * should be empty), in the file's order. A missing file is a first start
 * (info->missing, 0). A file that is not a version 1 identities file, is
 * truncated, holds a NUL byte or is larger than capacity names can be
 * (corrupt or oversize) is ignored: 0 with info->corrupt and the reason in
 * err, ids left empty. Lines that are not normalised DNS names, names
 * outside allow and names past the capacity are skipped and counted. -1
 * with a reason only when the file exists but cannot be read (permission,
 * a directory, an I/O error: the operator must fix that) or on ENOMEM. */
int mdp_identities_load(mdp_identities *ids, const char *path,
                        const dance_allowlist *allow, mdp_identities_load_info *info,
                        char *err, size_t errlen);

/* mdp_identities_names - a copy of the names, most recent first, as one
 * NULL-terminated array (free with mdp_identities_names_free); *count set
 * when count is not NULL. NULL on ENOMEM. */
char **mdp_identities_names(mdp_identities *ids, size_t *count);

void mdp_identities_names_free(char **names);    /* NULL-safe */

#endif
