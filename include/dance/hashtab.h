/*
 * dance/hashtab.h - an intrusive chained hash table with a keyed hash.
 *
 * Internal support API: shared by libdance and the plugin, not part of
 * the library's public interface, and free to change with them.
 *
 * Intrusive: the owner embeds a dance_hashtab_node in its own struct and
 * owns that memory; the table only links nodes (DANCE_HASHTAB_ENTRY gets
 * the struct back) and allocates nothing but its bucket array, so insert
 * and remove cannot fail. Not thread-safe: every call runs under the
 * owner's lock.
 *
 * Keyed hash: SipHash-1-3 under a random key per table. The keys of the
 * tables here (owner names, senders, jtis, publisher names, key bytes from
 * DNS and messages) are chosen by clients; with a fixed hash a client
 * could aim many keys at one chain and turn every lookup into a list walk.
 * Matches are always confirmed by the owner's compare function.
 *
 * Size: a power of two of buckets between the initial and the maximum
 * count given to dance_hashtab_init. Insert doubles the buckets once more
 * nodes than buckets are held, up to the maximum; when the bigger array
 * cannot be allocated the table keeps working at its old size (chains just
 * get longer). Equal initial and maximum counts give a fixed-size table.
 */
#ifndef DANCE_HASHTAB_H
#define DANCE_HASHTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Internal: hidden, so that libdance.so does not export it (the static
 * library still links it into the plugin and the tests). */
#pragma GCC visibility push(hidden)

/* Largest bucket count: keeps bucket arrays within 8 GiB. */
#define DANCE_HASHTAB_MAX_BUCKETS ((size_t)1 << 30)

typedef struct dance_hashtab_node {
    struct dance_hashtab_node *next;    /* chain */
    uint64_t hash;                      /* as given to insert */
} dance_hashtab_node;

typedef struct dance_hashtab {
    dance_hashtab_node **buckets;
    size_t nbuckets;                    /* power of two */
    size_t max_buckets;                 /* power of two, >= nbuckets */
    size_t count;
    uint64_t key[2];                    /* SipHash key */
} dance_hashtab;

/* The struct that holds node as its member `member`. */
#define DANCE_HASHTAB_ENTRY(node, type, member) \
    ((type *)(void *)((char *)(node) - offsetof(type, member)))

/* dance_hashtab_init - empty table of min_buckets buckets that may grow to
 * max_buckets (both rounded up to a power of two, at most
 * DANCE_HASHTAB_MAX_BUCKETS), with a fresh random hash key. 0, or -1 on
 * ENOMEM (nothing to free then). */
int dance_hashtab_init(dance_hashtab *t, size_t min_buckets, size_t max_buckets);

/* dance_hashtab_destroy - free the bucket array; the nodes are the owner's
 * (free them first, e.g. while iterating). NULL-safe; t may be re-inited. */
void dance_hashtab_destroy(dance_hashtab *t);

/* dance_hashtab_hash - the keyed hash of len bytes at key for this table.
 * Reads only the hash key, fixed at init: callers may hash before taking
 * their lock. */
uint64_t dance_hashtab_hash(const dance_hashtab *t, const void *key, size_t len);

/* Whether node n holds the key the caller looks for (ctx: that key). */
typedef bool (*dance_hashtab_match_fn)(const dance_hashtab_node *n, const void *ctx);

/* dance_hashtab_find - the newest node inserted with hash for which match
 * says yes, or NULL. */
dance_hashtab_node *dance_hashtab_find(const dance_hashtab *t, uint64_t hash,
                                       dance_hashtab_match_fn match, const void *ctx);

/* dance_hashtab_insert - link n (not in any table) under hash; may grow the
 * buckets. Does not look for an equal key: find first to replace one.
 * Cannot fail. */
void dance_hashtab_insert(dance_hashtab *t, dance_hashtab_node *n, uint64_t hash);

/* dance_hashtab_remove - unlink n; nothing happens when n is not linked in
 * t. The owner frees n afterwards if it wants. */
void dance_hashtab_remove(dance_hashtab *t, dance_hashtab_node *n);

/* dance_hashtab_count - nodes linked now. */
size_t dance_hashtab_count(const dance_hashtab *t);

/*
 * Iteration, in no particular order:
 *
 *     dance_hashtab_iter it;
 *     dance_hashtab_node *n;
 *     dance_hashtab_iter_init(&it, t);
 *     while ((n = dance_hashtab_iter_next(&it)) != NULL)
 *         ...
 *
 * The node just returned may be removed (and freed) before the next call;
 * inserting or removing any other node ends what the iteration may use.
 */
typedef struct dance_hashtab_iter {
    const dance_hashtab *t;
    size_t bucket;                      /* next bucket to start */
    dance_hashtab_node *next;           /* next node to return */
} dance_hashtab_iter;

void dance_hashtab_iter_init(dance_hashtab_iter *it, const dance_hashtab *t);
dance_hashtab_node *dance_hashtab_iter_next(dance_hashtab_iter *it);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
