/*
 * replay.c - the bounded replay cache of message verification and token
 * logins (replay.h): a set of (sender, key) pairs seen during the last
 * `window` seconds, where key is a jti or a digest of a signature.
 *
 * Entries sit in one FIFO list in arrival order, which is also expiry
 * order (one window for all), so expiry is popping from the head; hash
 * tables with a random key (hashtab.h: senders and jtis are the clients'
 * choice) find entries and senders. Each sender also keeps its own FIFO
 * of its entries and a count, and senders sit in lists by count, so that the
 * sender holding the most entries is found in O(1). Evicting an entry
 * before its window ends lets that pair be accepted again, so evictions
 * are chosen to hurt only who caused them:
 *
 *   - a sender at its share (dance_replay_set_share) loses its own oldest
 *     entry (evicted_share): its logins can never push out anyone else's;
 *   - when the whole cache is full, the oldest entry of the sender holding
 *     the most entries goes (evicted_full), the adding sender's own when it
 *     is one of the largest. An identity holding few entries loses one only
 *     when every identity holds as few, i.e. when capacity is too small for
 *     the number of identities.
 *
 * Both are counted, so memory stays bounded under any rate and an operator
 * can see when the capacity is too small.
 *
 * Persistence (dance_replay_save / _load): entries live on a monotonic
 * clock, which does not survive a restart, so the file holds wall-clock
 * expiry times. Format, line-based ASCII, version 1:
 *
 *   dance-replay 1
 *   <expiry> <sender-hex> <key-hex>        one line per entry, oldest first
 *   end <count>
 *
 * expiry: seconds since 1970 (decimal) at which the pair may be forgotten;
 * sender and key: lowercase hex of their bytes (keys may hold any byte but
 * NUL). The trailer catches a truncated file. Saving replaces the file
 * atomically (dance/atomicfile.h), so a crash leaves either the old or the
 * new file.
 *
 * The verifier only adds a pair after the signature checked out, so
 * forgeries cannot evict real pairs or block a sender's next jti.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dance/atomicfile.h"
#include "dance/clock.h"
#include "dance/error.h"
#include "dance/hashtab.h"
#include "dance/replay.h"

#define REPLAY_CAPACITY_DEFAULT 100000
#define REPLAY_MIN_BUCKETS 64
#define REPLAY_WINDOW_DEFAULT 600
#define REPLAY_FILE_MAGIC "dance-replay 1"
#define REPLAY_PART_MAX 4096        /* bytes of a sender or key in a file */

typedef struct rp_sender rp_sender;

typedef struct rp_entry {
    dance_hashtab_node hnode;       /* in entries; hash of key[0..klen) */
    uint64_t expires_ms;
    struct rp_entry *prev, *next;   /* global FIFO, oldest first */
    struct rp_entry *snext;         /* the sender's FIFO, oldest first */
    rp_sender *sender;
    size_t slen, klen;              /* key = sender '\0' key */
    char key[];
} rp_entry;

struct rp_sender {
    dance_hashtab_node hnode;       /* in senders */
    rp_sender *cprev, *cnext;       /* list of senders with this count */
    rp_entry *oldest, *newest;
    size_t count;                   /* >= 1 while it exists */
    size_t nlen;
    char name[];
};

struct dance_replay {
    pthread_mutex_t mu;
    pthread_mutex_t save_mu;        /* one writer of the file at a time */
    size_t capacity, share, count;
    dance_hashtab entries, senders; /* grow to a bucket per entry at most */
    rp_sender **by_count;           /* [1..share]: senders holding that many */
    size_t max_count;               /* largest count held; 0 when empty */
    rp_entry *head, *tail;
    uint64_t window_ms;
    uint64_t changes, saved_changes;
    dance_clock_fn clock;
    void *clock_ctx;
    dance_wallclock_fn wall;
    void *wall_ctx;
    dance_replay_stats stats;
};

static int64_t wall_s(const dance_replay *rp)
{
    return rp->wall ? rp->wall(rp->wall_ctx) : (int64_t)time(NULL);
}

dance_replay *dance_replay_new(size_t capacity, uint32_t window_s,
                               dance_clock_fn clock, void *clock_ctx)
{
    dance_replay *rp = calloc(1, sizeof(*rp));
    size_t nb;

    if (rp == NULL)
        return NULL;
    rp->capacity = capacity ? capacity : REPLAY_CAPACITY_DEFAULT;
    rp->share = rp->capacity;
    /* Tables start small and double up to a bucket per entry: a table
     * sized for the capacity up front (1 MiB each for 100,000) would be
     * paged in bucket by bucket as entries hash all over it, RSS that
     * grows for minutes with a cache holding a few thousand pairs. */
    nb = rp->capacity > REPLAY_MIN_BUCKETS ? rp->capacity : REPLAY_MIN_BUCKETS;
    if (dance_hashtab_init(&rp->entries, REPLAY_MIN_BUCKETS, nb) != 0) {
        free(rp);
        return NULL;
    }
    if (dance_hashtab_init(&rp->senders, REPLAY_MIN_BUCKETS, nb) != 0)
        goto fail;
    rp->by_count = calloc(rp->share + 1, sizeof(*rp->by_count));
    if (rp->by_count == NULL)
        goto fail;
    if (pthread_mutex_init(&rp->mu, NULL) != 0)
        goto fail;
    if (pthread_mutex_init(&rp->save_mu, NULL) != 0) {
        pthread_mutex_destroy(&rp->mu);
        goto fail;
    }
    rp->window_ms = (uint64_t)(window_s ? window_s : REPLAY_WINDOW_DEFAULT) * 1000u;
    rp->clock = clock ? clock : dance_clock_monotonic_ms;
    rp->clock_ctx = clock_ctx;
    return rp;
fail:
    dance_hashtab_destroy(&rp->entries);
    dance_hashtab_destroy(&rp->senders);
    free(rp->by_count);
    free(rp);
    return NULL;
}

int dance_replay_set_share(dance_replay *rp, size_t per_sender)
{
    rp_sender **bc;
    int rc = -1;

    if (rp == NULL)
        return -1;
    if (per_sender == 0 || per_sender > rp->capacity)
        per_sender = rp->capacity;
    pthread_mutex_lock(&rp->mu);
    /* the count lists are sized by the share: only change it while empty */
    if (rp->count == 0) {
        bc = calloc(per_sender + 1, sizeof(*bc));
        if (bc != NULL) {
            free(rp->by_count);
            rp->by_count = bc;
            rp->share = per_sender;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&rp->mu);
    return rc;
}

void dance_replay_set_wallclock(dance_replay *rp, dance_wallclock_fn now, void *ctx)
{
    if (rp == NULL)
        return;
    pthread_mutex_lock(&rp->mu);
    rp->wall = now;
    rp->wall_ctx = ctx;
    pthread_mutex_unlock(&rp->mu);
}

void dance_replay_free(dance_replay *rp)
{
    dance_hashtab_iter it;
    dance_hashtab_node *n;
    rp_entry *e, *next;

    if (rp == NULL)
        return;
    for (e = rp->head; e != NULL; e = next) {
        next = e->next;
        free(e);
    }
    dance_hashtab_iter_init(&it, &rp->senders);
    while ((n = dance_hashtab_iter_next(&it)) != NULL)
        free(DANCE_HASHTAB_ENTRY(n, rp_sender, hnode));
    pthread_mutex_destroy(&rp->mu);
    pthread_mutex_destroy(&rp->save_mu);
    dance_hashtab_destroy(&rp->entries);
    dance_hashtab_destroy(&rp->senders);
    free(rp->by_count);
    free(rp);
}

/* ---------------------------------------------------- senders (locked) */

typedef struct rp_bytes {
    const char *p;
    size_t len;
} rp_bytes;

static bool sender_is(const dance_hashtab_node *n, const void *ctx)
{
    const rp_sender *s = DANCE_HASHTAB_ENTRY(n, const rp_sender, hnode);
    const rp_bytes *name = ctx;

    return s->nlen == name->len && memcmp(s->name, name->p, name->len) == 0;
}

static rp_sender *sender_find(dance_replay *rp, const char *name, size_t nlen, uint64_t h)
{
    rp_bytes ref = { name, nlen };
    dance_hashtab_node *n = dance_hashtab_find(&rp->senders, h, sender_is, &ref);

    return n != NULL ? DANCE_HASHTAB_ENTRY(n, rp_sender, hnode) : NULL;
}

static void count_unlink(dance_replay *rp, rp_sender *s)
{
    if (s->cprev != NULL)
        s->cprev->cnext = s->cnext;
    else
        rp->by_count[s->count] = s->cnext;
    if (s->cnext != NULL)
        s->cnext->cprev = s->cprev;
    s->cprev = s->cnext = NULL;
}

static void count_link(dance_replay *rp, rp_sender *s)
{
    s->cprev = NULL;
    s->cnext = rp->by_count[s->count];
    if (s->cnext != NULL)
        s->cnext->cprev = s;
    rp->by_count[s->count] = s;
}

/* sender_drop_oldest - unlink and free s's oldest entry (also the oldest
 * of its entries in the global FIFO); frees s when it held only that one.
 * s must not be used afterwards. */
static void sender_drop_oldest(dance_replay *rp, rp_sender *s)
{
    rp_entry *e = s->oldest;

    dance_hashtab_remove(&rp->entries, &e->hnode);
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        rp->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        rp->tail = e->prev;
    rp->count--;
    s->oldest = e->snext;
    if (s->oldest == NULL)
        s->newest = NULL;
    free(e);

    count_unlink(rp, s);
    s->count--;
    if (s->count > 0) {
        count_link(rp, s);
    } else {
        dance_hashtab_remove(&rp->senders, &s->hnode);
        free(s);
    }
    while (rp->max_count > 0 && rp->by_count[rp->max_count] == NULL)
        rp->max_count--;
}

static void expire(dance_replay *rp, uint64_t now)
{
    while (rp->head != NULL && rp->head->expires_ms <= now)
        sender_drop_oldest(rp, rp->head->sender);
}

static bool entry_is(const dance_hashtab_node *n, const void *ctx)
{
    const rp_entry *f = DANCE_HASHTAB_ENTRY(n, const rp_entry, hnode);
    const rp_entry *e = ctx;

    return f->klen == e->klen && memcmp(f->key, e->key, e->klen) == 0;
}

/* entry_find - the linked entry with e's key (e is hashed, not linked) */
static rp_entry *entry_find(dance_replay *rp, const rp_entry *e)
{
    dance_hashtab_node *n = dance_hashtab_find(&rp->entries, e->hnode.hash, entry_is, e);

    return n != NULL ? DANCE_HASHTAB_ENTRY(n, rp_entry, hnode) : NULL;
}

/* make_room - evict before adding an entry for (name, nlen, h): first the
 * sender's own oldest at its share, then, while the cache is full, from the
 * largest holder (see the file comment). Counted. */
static void make_room(dance_replay *rp, const char *name, size_t nlen, uint64_t h)
{
    rp_sender *s = sender_find(rp, name, nlen, h);

    if (s != NULL && s->count >= rp->share) {
        sender_drop_oldest(rp, s);
        rp->stats.evicted_share++;
        rp->stats.evicted_early++;
    }
    while (rp->count >= rp->capacity && rp->head != NULL) {
        rp_sender *victim;

        s = sender_find(rp, name, nlen, h);
        victim = (s != NULL && s->count >= rp->max_count) ? s : rp->by_count[rp->max_count];
        sender_drop_oldest(rp, victim);
        rp->stats.evicted_full++;
        rp->stats.evicted_early++;
    }
}

/* insert - append e (hash and key filled) for its sender, expiring at
 * expires_ms, after make_room. -1 on ENOMEM (e not taken). */
static int insert(dance_replay *rp, rp_entry *e, uint64_t h_sender, uint64_t expires_ms)
{
    rp_sender *s = sender_find(rp, e->key, e->slen, h_sender);

    if (s == NULL) {
        s = calloc(1, sizeof(*s) + e->slen + 1);
        if (s == NULL)
            return -1;
        s->nlen = e->slen;
        memcpy(s->name, e->key, e->slen);
        dance_hashtab_insert(&rp->senders, &s->hnode, h_sender);
    } else {
        count_unlink(rp, s);
    }
    s->count++;
    count_link(rp, s);
    if (s->count > rp->max_count)
        rp->max_count = s->count;

    e->sender = s;
    e->snext = NULL;
    if (s->newest != NULL)
        s->newest->snext = e;
    else
        s->oldest = e;
    s->newest = e;

    e->expires_ms = expires_ms;
    dance_hashtab_insert(&rp->entries, &e->hnode, e->hnode.hash);
    e->next = NULL;
    e->prev = rp->tail;
    if (rp->tail != NULL)
        rp->tail->next = e;
    else
        rp->head = e;
    rp->tail = e;
    rp->count++;
    rp->changes++;
    return 0;
}

/* entry_new - an unlinked entry for (sender, key), hashed */
static rp_entry *entry_new(const dance_replay *rp, const char *sender, size_t sl,
                           const char *key, size_t kl)
{
    rp_entry *e = malloc(sizeof(*e) + sl + 1 + kl + 1);

    if (e == NULL)
        return NULL;
    memcpy(e->key, sender, sl);
    e->key[sl] = '\0';
    memcpy(e->key + sl + 1, key, kl);
    e->key[sl + 1 + kl] = '\0';
    e->slen = sl;
    e->klen = sl + 1 + kl;
    e->hnode.hash = dance_hashtab_hash(&rp->entries, e->key, e->klen);
    e->hnode.next = NULL;
    e->prev = e->next = e->snext = NULL;
    e->sender = NULL;
    return e;
}

int dance_replay_check_add(dance_replay *rp, const char *sender, const char *key)
{
    size_t sl;
    uint64_t now, hs;
    rp_entry *e;
    int rc = 0;

    if (rp == NULL || sender == NULL || key == NULL)
        return -1;
    sl = strlen(sender);
    e = entry_new(rp, sender, sl, key, strlen(key));
    if (e == NULL)
        return -1;
    hs = dance_hashtab_hash(&rp->senders, sender, sl);

    pthread_mutex_lock(&rp->mu);
    now = rp->clock(rp->clock_ctx);
    expire(rp, now);
    if (entry_find(rp, e) != NULL) {
        rp->stats.replays++;
        rc = 1;
    } else {
        make_room(rp, sender, sl, hs);
        if (insert(rp, e, hs, now + rp->window_ms) == 0)
            e = NULL;
        else
            rc = -1;
    }
    pthread_mutex_unlock(&rp->mu);
    free(e);
    return rc;
}

void dance_replay_get_stats(dance_replay *rp, dance_replay_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (rp == NULL)
        return;
    pthread_mutex_lock(&rp->mu);
    *out = rp->stats;
    out->entries = rp->count;
    pthread_mutex_unlock(&rp->mu);
}

bool dance_replay_dirty(dance_replay *rp)
{
    bool d;

    if (rp == NULL)
        return false;
    pthread_mutex_lock(&rp->mu);
    d = rp->changes != rp->saved_changes;
    pthread_mutex_unlock(&rp->mu);
    return d;
}

/* ---------------------------------------------------------- persistence */

static int put_hex(FILE *f, const char *s, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (putc(hx[c >> 4], f) == EOF || putc(hx[c & 15], f) == EOF)
            return -1;
    }
    return 0;
}

/* The pairs, written into the temporary file under the cache's lock
 * (to the stdio buffer and the page cache: fast, no fsync; the slow fsync
 * comes after the lock is released). */
typedef struct save_ctx {
    dance_replay *rp;
    uint64_t changes;               /* as of the copy */
} save_ctx;

static int write_pairs(FILE *f, void *arg, char *err, size_t errlen)
{
    save_ctx *sc = arg;
    dance_replay *rp = sc->rp;
    uint64_t now;
    int64_t wall;
    size_t n = 0;
    int werr = 0;
    rp_entry *e;

    (void)err;
    (void)errlen;
    pthread_mutex_lock(&rp->mu);
    now = rp->clock(rp->clock_ctx);
    wall = wall_s(rp);
    expire(rp, now);
    sc->changes = rp->changes;
    if (fprintf(f, REPLAY_FILE_MAGIC "\n") < 0)
        werr = errno ? errno : EIO;
    for (e = rp->head; e != NULL && werr == 0; e = e->next) {
        /* rounded up: a pair is never forgotten early */
        int64_t exp = wall + (int64_t)((e->expires_ms - now + 999u) / 1000u);
        if (e->slen > REPLAY_PART_MAX || e->klen - e->slen - 1 > REPLAY_PART_MAX)
            continue;           /* longer than any jti or digest: not kept */
        if (fprintf(f, "%" PRId64 " ", exp) < 0 || put_hex(f, e->key, e->slen) != 0
            || putc(' ', f) == EOF
            || put_hex(f, e->key + e->slen + 1, e->klen - e->slen - 1) != 0
            || putc('\n', f) == EOF)
            werr = errno ? errno : EIO;
        n++;
    }
    pthread_mutex_unlock(&rp->mu);
    if (werr == 0 && fprintf(f, "end %zu\n", n) < 0)
        werr = errno ? errno : EIO;
    return werr;
}

int dance_replay_save(dance_replay *rp, const char *path, char *err, size_t errlen)
{
    save_ctx sc = {rp, 0};
    int rc;

    if (rp == NULL || path == NULL || path[0] == '\0') {
        dance_set_err(err, errlen, "no replay cache or file name");
        return -1;
    }
    pthread_mutex_lock(&rp->save_mu);
    rc = dance_file_replace(path, write_pairs, &sc, err, errlen);
    if (rc == 0) {
        pthread_mutex_lock(&rp->mu);
        rp->saved_changes = sc.changes;
        pthread_mutex_unlock(&rp->mu);
    }
    pthread_mutex_unlock(&rp->save_mu);
    return rc;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* unhex - decode n hex digits at s into out (n/2 bytes); -1 when not
 * lowercase hex of an even length, or when a byte is NUL */
static int unhex(const char *s, size_t n, char *out)
{
    size_t i;

    if (n == 0 || n % 2 != 0)
        return -1;
    for (i = 0; i < n; i += 2) {
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return -1;
        out[i / 2] = (char)(hi << 4 | lo);
    }
    return 0;
}

/* parse_entry - "<expiry> <hex> <hex>" into its parts; -1 when malformed */
static int parse_entry(char *line, int64_t *exp, char *sender, size_t *sl,
                       char *key, size_t *kl)
{
    char *sp1, *sp2, *end;
    long long v;

    sp1 = strchr(line, ' ');
    if (sp1 == NULL || sp1 == line)
        return -1;
    sp2 = strchr(sp1 + 1, ' ');
    if (sp2 == NULL || strchr(sp2 + 1, ' ') != NULL)
        return -1;
    if (line[0] < '0' || line[0] > '9')
        return -1;
    errno = 0;
    v = strtoll(line, &end, 10);
    if (errno != 0 || end != sp1 || v < 0)
        return -1;
    *exp = v;
    if ((size_t)(sp2 - sp1 - 1) > 2 * REPLAY_PART_MAX
        || strlen(sp2 + 1) > 2 * REPLAY_PART_MAX)
        return -1;
    *sl = (size_t)(sp2 - sp1 - 1) / 2;
    *kl = strlen(sp2 + 1) / 2;
    if (unhex(sp1 + 1, (size_t)(sp2 - sp1 - 1), sender) != 0
        || unhex(sp2 + 1, strlen(sp2 + 1), key) != 0)
        return -1;
    return 0;
}

typedef struct load_ctx {
    dance_replay *rp;
    dance_replay_load_info *info;
    const char *path;
    char *sender, *key;             /* REPLAY_PART_MAX + 1 each */
    uint64_t now, last;
    int64_t wall;
} load_ctx;

/* load_line - one entry line of the file (dance_file_line_fn); under mu */
static int load_line(char *line, size_t len, size_t lineno, void *arg, char *err,
                     size_t errlen)
{
    load_ctx *lc = arg;
    dance_replay *rp = lc->rp;
    size_t sl, kl;
    int64_t exp;
    uint64_t left, at, hs;
    rp_entry *e;

    (void)len;
    if (parse_entry(line, &exp, lc->sender, &sl, lc->key, &kl) != 0) {
        dance_set_err(err, errlen, "%s line %zu: expected '<expiry> <sender-hex> "
                      "<key-hex>'", lc->path, lineno);
        return DANCE_FILE_CORRUPT;
    }
    if (exp <= lc->wall) {
        if (lc->info != NULL)
            lc->info->expired++;
        return 0;
    }
    /* Capped at one window from now (never past what this policy needs)
     * and kept in order, so the FIFO stays in expiry order. */
    left = (uint64_t)(exp - lc->wall) * 1000u;
    at = lc->now + (left < rp->window_ms ? left : rp->window_ms);
    if (at < lc->last)
        at = lc->last;
    lc->last = at;
    e = entry_new(rp, lc->sender, sl, lc->key, kl);
    if (e == NULL)
        goto nomem;
    if (entry_find(rp, e) != NULL) {
        free(e);
        return 0;
    }
    hs = dance_hashtab_hash(&rp->senders, lc->sender, sl);
    make_room(rp, lc->sender, sl, hs);
    if (insert(rp, e, hs, at) != 0) {
        free(e);
        goto nomem;
    }
    if (lc->info != NULL)
        lc->info->loaded++;
    return 0;
nomem:
    dance_set_err(err, errlen, "out of memory loading %s", lc->path);
    return -1;
}

int dance_replay_load(dance_replay *rp, const char *path, dance_replay_load_info *info,
                      char *err, size_t errlen)
{
    load_ctx lc;
    int rc;

    if (info != NULL)
        memset(info, 0, sizeof(*info));
    if (rp == NULL || path == NULL || path[0] == '\0') {
        dance_set_err(err, errlen, "no replay cache or file name");
        return -1;
    }
    memset(&lc, 0, sizeof(lc));
    lc.rp = rp;
    lc.info = info;
    lc.path = path;
    lc.sender = malloc(REPLAY_PART_MAX + 1);
    lc.key = malloc(REPLAY_PART_MAX + 1);
    if (lc.sender == NULL || lc.key == NULL) {
        free(lc.sender);
        free(lc.key);
        dance_set_err(err, errlen, "out of memory loading %s", path);
        return -1;
    }
    pthread_mutex_lock(&rp->mu);
    lc.now = rp->clock(rp->clock_ctx);
    lc.wall = wall_s(rp);
    rc = dance_file_read_lines(path, REPLAY_FILE_MAGIC, "a replay cache file", 0,
                               load_line, &lc, err, errlen);
    if (rc == DANCE_FILE_MISSING && info != NULL)
        info->missing = true;
    if (info != NULL && rc >= 0 && rc != DANCE_FILE_CORRUPT)
        info->loaded = info->loaded > rp->count ? rp->count : info->loaded;
    pthread_mutex_unlock(&rp->mu);
    free(lc.sender);
    free(lc.key);
    return rc == DANCE_FILE_READ || rc == DANCE_FILE_MISSING ? 0 : -1;
}
