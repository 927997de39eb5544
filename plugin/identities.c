/*
 * plugin/identities.c - the recently admitted identities and their file
 * (identities.h: what is kept, the format, the lock).
 *
 * A hash table finds a name (noting an admitted device is a lookup on the
 * broker thread); a doubly linked list keeps the names in order of their
 * last admission, most recent at the head, so the least recent is the
 * tail, dropped when the set is full.
 */
#include "identities.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dance/atomicfile.h"
#include "dance/error.h"
#include "dance/hashtab.h"

#define IDENTITIES_FILE_MAGIC "dance-identities 1"
#define IDENTITIES_MIN_BUCKETS 64

typedef struct id_entry {
    dance_hashtab_node hnode;
    struct id_entry *prev, *next;   /* most recent first */
    size_t len;
    char name[];
} id_entry;

struct mdp_identities {
    pthread_mutex_t mu;
    dance_hashtab names;
    id_entry *head, *tail;
    size_t capacity;
    uint64_t changes, saved_changes;
};

typedef struct id_key {
    const char *name;
    size_t len;
} id_key;

static bool key_match(const dance_hashtab_node *n, const void *ctx)
{
    const id_entry *e = DANCE_HASHTAB_ENTRY(n, id_entry, hnode);
    const id_key *k = ctx;

    return e->len == k->len && memcmp(e->name, k->name, k->len) == 0;
}

mdp_identities *mdp_identities_new(size_t capacity)
{
    mdp_identities *ids = calloc(1, sizeof(*ids));
    size_t nb;

    if (ids == NULL)
        return NULL;
    ids->capacity = capacity ? capacity : 1;
    nb = ids->capacity > IDENTITIES_MIN_BUCKETS ? ids->capacity : IDENTITIES_MIN_BUCKETS;
    if (dance_hashtab_init(&ids->names, IDENTITIES_MIN_BUCKETS, nb) != 0) {
        free(ids);
        return NULL;
    }
    if (pthread_mutex_init(&ids->mu, NULL) != 0) {
        dance_hashtab_destroy(&ids->names);
        free(ids);
        return NULL;
    }
    return ids;
}

static void unlink_entry(mdp_identities *ids, id_entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        ids->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        ids->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_head(mdp_identities *ids, id_entry *e)
{
    e->prev = NULL;
    e->next = ids->head;
    if (ids->head != NULL)
        ids->head->prev = e;
    ids->head = e;
    if (ids->tail == NULL)
        ids->tail = e;
}

static void push_tail(mdp_identities *ids, id_entry *e)
{
    e->next = NULL;
    e->prev = ids->tail;
    if (ids->tail != NULL)
        ids->tail->next = e;
    ids->tail = e;
    if (ids->head == NULL)
        ids->head = e;
}

void mdp_identities_free(mdp_identities *ids)
{
    id_entry *e, *next;

    if (ids == NULL)
        return;
    for (e = ids->head; e != NULL; e = next) {
        next = e->next;
        free(e);
    }
    dance_hashtab_destroy(&ids->names);
    pthread_mutex_destroy(&ids->mu);
    free(ids);
}

/* find - the entry for name, or NULL; under mu */
static id_entry *find(mdp_identities *ids, const char *name, size_t len, uint64_t h)
{
    id_key k = {name, len};
    dance_hashtab_node *n = dance_hashtab_find(&ids->names, h, key_match, &k);

    return n != NULL ? DANCE_HASHTAB_ENTRY(n, id_entry, hnode) : NULL;
}

/* add - a new entry for name at the head (most recent) or the tail;
 * the least recent goes when full. Under mu. -1 on ENOMEM. */
static int add(mdp_identities *ids, const char *name, size_t len, uint64_t h,
               bool at_tail)
{
    id_entry *e = malloc(sizeof(*e) + len + 1);

    if (e == NULL)
        return -1;
    e->len = len;
    memcpy(e->name, name, len + 1);
    if (dance_hashtab_count(&ids->names) >= ids->capacity) {
        id_entry *old = ids->tail;
        unlink_entry(ids, old);
        dance_hashtab_remove(&ids->names, &old->hnode);
        free(old);
    }
    dance_hashtab_insert(&ids->names, &e->hnode, h);
    if (at_tail)
        push_tail(ids, e);
    else
        push_head(ids, e);
    return 0;
}

int mdp_identities_note(mdp_identities *ids, const char *identity)
{
    size_t len = strlen(identity);
    uint64_t h = dance_hashtab_hash(&ids->names, identity, len);
    id_entry *e;
    int rc = 0;

    pthread_mutex_lock(&ids->mu);
    e = find(ids, identity, len, h);
    if (e != NULL) {
        /* already the most recent: the common case, no change to save */
        if (e != ids->head) {
            unlink_entry(ids, e);
            push_head(ids, e);
            ids->changes++;
        }
    } else if (add(ids, identity, len, h, false) == 0)
        ids->changes++;
    else
        rc = -1;
    pthread_mutex_unlock(&ids->mu);
    return rc;
}

void mdp_identities_forget(mdp_identities *ids, const char *identity)
{
    size_t len = strlen(identity);
    uint64_t h = dance_hashtab_hash(&ids->names, identity, len);
    id_entry *e;

    pthread_mutex_lock(&ids->mu);
    e = find(ids, identity, len, h);
    if (e != NULL) {
        unlink_entry(ids, e);
        dance_hashtab_remove(&ids->names, &e->hnode);
        free(e);
        ids->changes++;
    }
    pthread_mutex_unlock(&ids->mu);
}

size_t mdp_identities_count(mdp_identities *ids)
{
    size_t n;

    pthread_mutex_lock(&ids->mu);
    n = dance_hashtab_count(&ids->names);
    pthread_mutex_unlock(&ids->mu);
    return n;
}

bool mdp_identities_dirty(mdp_identities *ids)
{
    bool d;

    pthread_mutex_lock(&ids->mu);
    d = ids->changes != ids->saved_changes;
    pthread_mutex_unlock(&ids->mu);
    return d;
}

/* ------------------------------------------------------------- the file */

typedef struct save_ctx {
    mdp_identities *ids;
    uint64_t changes;               /* as of the copy */
} save_ctx;

/* write_names - the file's text, under the set's lock (to the stdio
 * buffer: no disk wait while the broker thread may want the lock) */
static int write_names(FILE *f, void *arg, char *err, size_t errlen)
{
    save_ctx *sc = arg;
    mdp_identities *ids = sc->ids;
    size_t n = 0;
    int werr = 0;
    id_entry *e;

    (void)err;
    (void)errlen;
    pthread_mutex_lock(&ids->mu);
    sc->changes = ids->changes;
    if (fputs(IDENTITIES_FILE_MAGIC "\n", f) == EOF)
        werr = errno ? errno : EIO;
    for (e = ids->head; e != NULL && werr == 0; e = e->next, n++)
        if (fputs(e->name, f) == EOF || putc('\n', f) == EOF)
            werr = errno ? errno : EIO;
    pthread_mutex_unlock(&ids->mu);
    if (werr == 0 && fprintf(f, "end %zu\n", n) < 0)
        werr = errno ? errno : EIO;
    return werr;
}

int mdp_identities_save(mdp_identities *ids, const char *path, char *err,
                        size_t errlen)
{
    save_ctx sc = {ids, 0};

    if (dance_file_replace(path, write_names, &sc, err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&ids->mu);
    ids->saved_changes = sc.changes;
    pthread_mutex_unlock(&ids->mu);
    return 0;
}

/* max_file_bytes - the largest file capacity names can make */
static size_t max_file_bytes(size_t capacity)
{
    return sizeof(IDENTITIES_FILE_MAGIC) + 32 + capacity * (DANCE_NAME_MAX + 1);
}

/* corrupt - give up on the file as a whole (see identities.h) */
static void corrupt(mdp_identities *ids, mdp_identities_load_info *info)
{
    id_entry *e, *next;

    for (e = ids->head; e != NULL; e = next) {
        next = e->next;
        dance_hashtab_remove(&ids->names, &e->hnode);
        free(e);
    }
    ids->head = ids->tail = NULL;
    info->corrupt = true;
    info->loaded = info->invalid = info->outside = info->duplicates = info->over_cap = 0;
}

/* take_name - one name line: counted as skipped, or added at the tail
 * (the file is most recent first). 0, or -1 on ENOMEM. Under mu. */
static int take_name(mdp_identities *ids, const char *line, size_t len,
                     const dance_allowlist *allow, mdp_identities_load_info *info)
{
    char norm[DANCE_NAME_MAX + 1], why[DANCE_REASON_MAX];
    uint64_t h;

    if (dance_name_normalize(line, norm, sizeof(norm), why, sizeof(why)) != 0
        || strcmp(norm, line) != 0) {
        info->invalid++;
        return 0;
    }
    if (!dance_allowlist_match(allow, norm)) {
        info->outside++;
        return 0;
    }
    h = dance_hashtab_hash(&ids->names, norm, len);
    if (find(ids, norm, len, h) != NULL) {
        info->duplicates++;
        return 0;
    }
    if (dance_hashtab_count(&ids->names) >= ids->capacity) {
        info->over_cap++;
        return 0;
    }
    if (add(ids, norm, len, h, true) != 0)
        return -1;
    info->loaded++;
    return 0;
}

typedef struct load_ctx {
    mdp_identities *ids;
    const dance_allowlist *allow;
    mdp_identities_load_info *info;
    const char *path;
} load_ctx;

/* load_line - one entry line of the file (dance_file_line_fn) */
static int load_line(char *line, size_t len, size_t lineno, void *arg, char *err,
                     size_t errlen)
{
    load_ctx *lc = arg;

    (void)lineno;
    if (take_name(lc->ids, line, len, lc->allow, lc->info) != 0) {
        dance_set_err(err, errlen, "out of memory loading %s", lc->path);
        return -1;
    }
    return 0;
}

int mdp_identities_load(mdp_identities *ids, const char *path,
                        const dance_allowlist *allow, mdp_identities_load_info *info,
                        char *err, size_t errlen)
{
    load_ctx lc = { ids, allow, info, path };
    int rc;

    memset(info, 0, sizeof(*info));
    pthread_mutex_lock(&ids->mu);
    rc = dance_file_read_lines(path, IDENTITIES_FILE_MAGIC, "an identities file",
                               max_file_bytes(ids->capacity), load_line, &lc,
                               err, errlen);
    if (rc == DANCE_FILE_MISSING)
        info->missing = true;
    else if (rc == DANCE_FILE_CORRUPT)
        corrupt(ids, info);
    /* what was loaded is what the file said: nothing new to write */
    ids->saved_changes = ids->changes;
    pthread_mutex_unlock(&ids->mu);
    return rc < 0 ? -1 : 0;
}

char **mdp_identities_names(mdp_identities *ids, size_t *count)
{
    char **names;
    size_t n, i = 0;
    id_entry *e;

    pthread_mutex_lock(&ids->mu);
    n = dance_hashtab_count(&ids->names);
    names = calloc(n + 1, sizeof(*names));
    if (names == NULL)
        goto out;
    for (e = ids->head; e != NULL; e = e->next, i++) {
        names[i] = strdup(e->name);
        if (names[i] == NULL) {
            mdp_identities_names_free(names);
            names = NULL;
            goto out;
        }
    }
    if (count != NULL)
        *count = n;
out:
    pthread_mutex_unlock(&ids->mu);
    return names;
}

void mdp_identities_names_free(char **names)
{
    if (names == NULL)
        return;
    for (char **p = names; *p != NULL; p++)
        free(*p);
    free(names);
}
