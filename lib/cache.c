/*
 * cache.c - thread-safe TLSA answer cache with single flight (cache.h).
 *
 * Offers: a bounded LRU cache of dance_tlsa_result answers keyed by owner
 * name, a single-flight fetch (concurrent misses for one name make one DNS
 * query) and refcounted immutable entry handles for a copy-free hit path.
 *
 * Threads and locking. One mutex guards the hash table, the LRU list, the
 * list of flights and the counters. It is held only for O(1) work (hash
 * lookup, list moves, refcount changes) and for freeing entries that leave
 * the table; fetch functions, copies into callers' results and building
 * new entries all run with it released. The table (hashtab.h) hashes with
 * a random key: owner names come from certificates and message headers,
 * i.e. from whoever connects, and must not be able to pile up in one chain
 * on the broker thread.
 *
 * Ownership. An entry is one allocation (header, record array, key, reason
 * and record data) and never changes after it is built, apart from the
 * table links (under the mutex) and its atomic reference count. The table
 * holds one reference while the entry is linked; each handle given out and
 * each finished flight holds one more. Whoever drops the last reference
 * frees it, from any thread, so handles outlive eviction, flush and even
 * dance_cache_free.
 *
 * Single flight. A "flight" marks a name somebody is waiting for. The first
 * dance_cache_fetch that misses creates it (or takes over one created by a
 * dance_cache_wait caller), runs the fetch function unlocked, builds the
 * entry, then under the mutex stores it, hangs it on the flight, unlinks the
 * flight and broadcasts the flight's condition variable. Waiters hold a
 * reference on the flight, so they can read its answer after it is unlinked
 * even when the answer was not stored (lifetime 0, flush in between).
 * Flights are kept in a hash table of their own (same keyed hash as the
 * entries): with asynchronous lookups there is one per lookup queued or in
 * flight, hundreds or thousands in a storm.
 *
 * Asynchronous flights. dance_cache_begin marks the flight (as a fetch
 * would before calling its fetch function) and returns; the lookup runs
 * wherever the caller likes; dance_cache_complete does what a fetch does
 * after its fetch function returns. Both are the same code as
 * dance_cache_fetch (flight_begin_locked, flight_complete).
 *
 * Flush bumps a generation number; an answer whose fetch began in an older
 * generation goes to its waiters but is not stored, because it may have been
 * obtained under the configuration the flush is discarding.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dance/cache.h"
#include "dance/clock.h"
#include "dance/error.h"
#include "dance/hashtab.h"

#define CACHE_DEFAULT_CAPACITY 10000
#define CACHE_DEFAULT_MAX_TTL  3600
#define CACHE_MIN_BUCKETS      64

struct dance_cache_entry {
    dance_hashtab_node hnode;               /* table link and hash (mutex) */
    struct dance_cache_entry *prev, *next;  /* LRU list, head newest (mutex) */
    uint64_t expires_ms;
    atomic_uint refs;
    uint32_t ttl;                           /* as fetched */
    uint32_t sig_ttl;                       /* as fetched */
    uint8_t status;                         /* dance_status */
    uint16_t key_len;
    const char *key;                        /* points into this allocation */
    const char *reason;                     /* likewise; "" when none */
    dance_tlsa_rrset rrset;                 /* rr points at rr[] below */
    dance_tlsa_rr rr[];                     /* then key, reason, record data */
};

typedef struct cache_flight {
    dance_hashtab_node hnode;   /* in c->flights while linked; its hash */
    pthread_cond_t done_cv;
    unsigned refs;              /* fetcher and waiters (mutex) */
    bool fetching;              /* a fetch function runs for it */
    bool done;
    uint64_t generation;        /* of the cache when the fetch began */
    dance_cache_entry *result;  /* one reference, or NULL: no answer (ENOMEM) */
    size_t key_len;
    char key[];
} cache_flight;

struct dance_cache {
    pthread_mutex_t lock;
    pthread_condattr_t cv_attr;             /* monotonic clock for waits */
    dance_hashtab table;                    /* entries by key; buckets grow
                                               to one per entry at most */
    dance_cache_entry *lru_head, *lru_tail;
    dance_hashtab flights;                  /* flights by key, same hash */
    uint64_t generation;

    size_t capacity;
    uint32_t min_ttl, max_ttl, negative_ttl, failure_ttl;
    dance_clock_fn clock;
    void *clock_ctx;

    uint64_t hits, misses, queries, failures, evictions;
};

size_t dance_cache_key(const char *owner, char key[DANCE_CACHE_OWNER_MAX + 1])
{
    size_t n, i;

    if (owner == NULL)
        return 0;
    n = strnlen(owner, DANCE_CACHE_OWNER_MAX + 2);
    if (n == DANCE_CACHE_OWNER_MAX + 2)
        return 0;
    if (n > 0 && owner[n - 1] == '.')
        n--;
    if (n == 0 || n > DANCE_CACHE_OWNER_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        char ch = owner[i];
        key[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    key[n] = '\0';
    return n;
}

/* result_fail - out becomes a LOOKUP_FAILED answer with a reason (cut to fit:
 * names are at most 253 octets, so the point is always kept); no freeing */
__attribute__((format(printf, 2, 3)))
static void result_fail(dance_tlsa_result *out, const char *fmt, ...)
{
    va_list ap;

    out->status = DANCE_LOOKUP_FAILED;
    out->ttl = 0;
    out->sig_ttl = 0;
    out->records.count = 0;
    out->records.rr = NULL;
    va_start(ap, fmt);
    dance_vset_err(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
}

static void result_reset(dance_tlsa_result *out)
{
    out->status = DANCE_LOOKUP_FAILED;
    out->ttl = 0;
    out->sig_ttl = 0;
    out->records.count = 0;
    out->records.rr = NULL;
    out->reason[0] = '\0';
}

/* entry_status - the status an answer is stored under: anything a DNS
 * answer cannot say is a failure (fail closed) */
static dance_status entry_status(const dance_tlsa_result *r)
{
    if (dance_dns_answer_rank(r->status) < 0)
        return DANCE_LOOKUP_FAILED;
    return r->status;
}

/* entry_new - one allocation holding r (records only for a secure one, as
 * resolver.h promises); one reference for the caller. NULL on ENOMEM. */
static dance_cache_entry *entry_new(const char *key, size_t key_len, uint64_t hash,
                                    const dance_tlsa_result *r, uint64_t expires_ms)
{
    dance_status st = entry_status(r);
    size_t count = (st == DANCE_OK) ? r->records.count : 0;
    size_t reason_len = strnlen(r->reason, sizeof(r->reason) - 1);
    size_t size = sizeof(dance_cache_entry), i;
    dance_cache_entry *e;
    char *p;

    if (count > (SIZE_MAX / 2 - size) / sizeof(dance_tlsa_rr))
        return NULL;
    size += count * sizeof(dance_tlsa_rr) + key_len + 1 + reason_len + 1;
    for (i = 0; i < count; i++) {
        if (r->records.rr[i].len > SIZE_MAX / 2 - size)
            return NULL;
        size += r->records.rr[i].len;
    }
    e = malloc(size);
    if (e == NULL)
        return NULL;
    e->hnode.next = NULL;
    e->hnode.hash = hash;
    e->prev = e->next = NULL;
    e->expires_ms = expires_ms;
    atomic_init(&e->refs, 1);
    e->ttl = (st == DANCE_OK || st == DANCE_NO_RECORD) ? r->ttl : 0;
    e->sig_ttl = st == DANCE_OK ? r->sig_ttl : 0;
    e->status = (uint8_t)st;
    e->key_len = (uint16_t)key_len;
    p = (char *)&e->rr[count];
    memcpy(p, key, key_len);
    p[key_len] = '\0';
    e->key = p;
    p += key_len + 1;
    memcpy(p, r->reason, reason_len);
    p[reason_len] = '\0';
    e->reason = p;
    p += reason_len + 1;
    for (i = 0; i < count; i++) {
        const dance_tlsa_rr *src = &r->records.rr[i];
        e->rr[i] = *src;
        e->rr[i].data = NULL;
        if (src->len > 0) {
            memcpy(p, src->data, src->len);
            e->rr[i].data = (unsigned char *)p;
            p += src->len;
        }
    }
    e->rrset.count = count;
    e->rrset.rr = count > 0 ? e->rr : NULL;
    return e;
}

static void entry_ref(dance_cache_entry *e)
{
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

static void entry_unref(dance_cache_entry *e)
{
    if (e != NULL && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
        free(e);
}

/* lifetime_s - how long an answer may be served, per the TTL rules.
 * min_ttl raises a short TTL only as far as the answer's signatures last
 * (sig_ttl): a record whose RRSIG has expired is no longer proven, however
 * much DNS traffic a longer cache would save. Unknown (0): no raising. */
static uint32_t lifetime_s(const dance_cache *c, dance_status st, uint32_t ttl,
                           uint32_t sig_ttl)
{
    uint32_t floor;

    switch (st) {
    case DANCE_OK:
        floor = c->min_ttl < sig_ttl ? c->min_ttl : sig_ttl;
        if (ttl < floor)
            ttl = floor;
        if (ttl > c->max_ttl)
            ttl = c->max_ttl;
        return ttl;
    case DANCE_NO_RECORD:
        return c->negative_ttl;
    case DANCE_LOOKUP_FAILED:
    case DANCE_BOGUS:
    case DANCE_INSECURE:
        return c->failure_ttl;
    default:                    /* not a DNS answer: entry_status filters */
        break;
    }
    return 0;
}

/* --- table and LRU list; all with c->lock held --- */

typedef struct cache_key_ref {
    const char *key;
    size_t len;
} cache_key_ref;

static bool entry_has_key(const dance_hashtab_node *n, const void *ctx)
{
    const dance_cache_entry *e = DANCE_HASHTAB_ENTRY(n, const dance_cache_entry, hnode);
    const cache_key_ref *k = ctx;

    return e->key_len == k->len && memcmp(e->key, k->key, k->len) == 0;
}

static dance_cache_entry *table_find(dance_cache *c, const char *key, size_t len,
                                     uint64_t hash)
{
    cache_key_ref k = { key, len };
    dance_hashtab_node *n = dance_hashtab_find(&c->table, hash, entry_has_key, &k);

    return n != NULL ? DANCE_HASHTAB_ENTRY(n, dance_cache_entry, hnode) : NULL;
}

static void lru_remove(dance_cache *c, dance_cache_entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        c->lru_head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_head(dance_cache *c, dance_cache_entry *e)
{
    e->prev = NULL;
    e->next = c->lru_head;
    if (c->lru_head != NULL)
        c->lru_head->prev = e;
    else
        c->lru_tail = e;
    c->lru_head = e;
}

/* table_unlink - take e out of the table and drop the table's reference */
static void table_unlink(dance_cache *c, dance_cache_entry *e)
{
    dance_hashtab_remove(&c->table, &e->hnode);
    lru_remove(c, e);
    entry_unref(e);
}

/* table_store - link e (taking a new reference), replacing any entry for the
 * same key; expired entries at the LRU tail go first, then the least
 * recently used ones while the cache is full */
static void table_store(dance_cache *c, dance_cache_entry *e, uint64_t now)
{
    dance_cache_entry *old = table_find(c, e->key, e->key_len, e->hnode.hash);

    if (old != NULL)
        table_unlink(c, old);
    while (c->lru_tail != NULL && c->lru_tail->expires_ms <= now)
        table_unlink(c, c->lru_tail);
    while (dance_hashtab_count(&c->table) >= c->capacity) {
        c->evictions++;
        table_unlink(c, c->lru_tail);
    }
    entry_ref(e);
    dance_hashtab_insert(&c->table, &e->hnode, e->hnode.hash);
    lru_push_head(c, e);
}

/* table_forget - the newest answer for key is not storable: drop the old */
static void table_forget(dance_cache *c, const char *key, size_t len, uint64_t hash)
{
    dance_cache_entry *old = table_find(c, key, len, hash);

    if (old != NULL)
        table_unlink(c, old);
}

/* lookup_fresh - referenced fresh entry for key (moved to the LRU head), or
 * NULL; an expired entry found on the way is dropped */
static dance_cache_entry *lookup_fresh(dance_cache *c, const char *key, size_t len,
                                       uint64_t hash, uint64_t now)
{
    dance_cache_entry *e = table_find(c, key, len, hash);

    if (e == NULL)
        return NULL;
    if (e->expires_ms <= now) {
        table_unlink(c, e);
        return NULL;
    }
    if (c->lru_head != e) {
        lru_remove(c, e);
        lru_push_head(c, e);
    }
    entry_ref(e);
    return e;
}

/* --- flights; with c->lock held --- */

typedef struct flight_key {
    const char *key;
    size_t len;
} flight_key;

static bool flight_match(const dance_hashtab_node *n, const void *ctx)
{
    const cache_flight *f = DANCE_HASHTAB_ENTRY(n, cache_flight, hnode);
    const flight_key *k = ctx;

    return f->key_len == k->len && memcmp(f->key, k->key, k->len) == 0;
}

static cache_flight *flight_find(dance_cache *c, const char *key, size_t len,
                                 uint64_t hash)
{
    flight_key k = { key, len };
    dance_hashtab_node *n = dance_hashtab_find(&c->flights, hash, flight_match, &k);

    return n != NULL ? DANCE_HASHTAB_ENTRY(n, cache_flight, hnode) : NULL;
}

/* flight_new - linked flight with one reference for the caller; NULL on ENOMEM */
static cache_flight *flight_new(dance_cache *c, const char *key, size_t len,
                                uint64_t hash)
{
    cache_flight *f = malloc(sizeof(*f) + len + 1);

    if (f == NULL)
        return NULL;
    if (pthread_cond_init(&f->done_cv, &c->cv_attr) != 0) {
        free(f);
        return NULL;
    }
    f->hnode.next = NULL;
    f->hnode.hash = hash;
    f->refs = 1;
    f->fetching = false;
    f->done = false;
    f->generation = c->generation;
    f->result = NULL;
    f->key_len = len;
    memcpy(f->key, key, len + 1);
    dance_hashtab_insert(&c->flights, &f->hnode, hash);
    return f;
}

static void flight_unlink(dance_cache *c, cache_flight *f)
{
    dance_hashtab_remove(&c->flights, &f->hnode);
    f->hnode.next = NULL;
}

/* flight_unref - the last reference frees; a flight nobody fetches and
 * nobody waits for any more is unlinked first */
static void flight_unref(dance_cache *c, cache_flight *f)
{
    if (--f->refs > 0)
        return;
    if (!f->done)
        flight_unlink(c, f);
    entry_unref(f->result);
    pthread_cond_destroy(&f->done_cv);
    free(f);
}

/* flight_finish - hand answer e (may be NULL: no answer) to the waiters */
static void flight_finish(dance_cache *c, cache_flight *f, dance_cache_entry *e)
{
    if (e != NULL)
        entry_ref(e);
    f->result = e;
    f->done = true;
    flight_unlink(c, f);
    pthread_cond_broadcast(&f->done_cv);
}

/* flight_begin_locked - with c->lock held, no fresh entry and no fetch
 * in flight for key: mark the flight for key fetching (taking over f, one
 * made by waiters, or a new one), counted as a query. Returns the flight
 * with a reference for the fetcher, or NULL on ENOMEM. */
static cache_flight *flight_begin_locked(dance_cache *c, cache_flight *f,
                                         const char *key, size_t len, uint64_t hash)
{
    if (f != NULL) {
        f->refs++;                      /* take over a flight made by a waiter */
    } else {
        f = flight_new(c, key, len, hash);
        if (f == NULL)
            return NULL;
    }
    f->fetching = true;
    f->generation = c->generation;
    c->queries++;
    return f;
}

/* answer_normalise - what an answer is stored and handed out as: records
 * and a TTL count only for secure answers (resolver.h), anything a DNS
 * answer cannot say is a failure. Returns the status. */
static dance_status answer_normalise(const char *key, dance_tlsa_result *out)
{
    dance_status st = entry_status(out);

    if (st != out->status) {
        dance_tlsa_rrset_clear(&out->records);
        result_fail(out, "TLSA lookup for %s returned an invalid status", key);
    } else if (st != DANCE_OK) {
        dance_tlsa_rrset_clear(&out->records);
        if (st != DANCE_NO_RECORD)
            out->ttl = 0;
        out->sig_ttl = 0;
    }
    return st;
}

/* flight_complete - the fetcher's answer for flight f (its reference):
 * normalised in place, so the fetcher gets exactly what its waiters get
 * from the entry; stored by the TTL rules unless the cache was flushed
 * since the fetch began; handed to the waiters; the fetcher's reference
 * dropped. Called unlocked. 0, or -1 when the entry cannot be built (out
 * then says LOOKUP_FAILED, and the waiters get no answer either). */
static int flight_complete(dance_cache *c, cache_flight *f, const char *key,
                           size_t len, uint64_t hash, dance_tlsa_result *out)
{
    dance_status st = answer_normalise(key, out);
    uint64_t now = c->clock(c->clock_ctx);
    uint32_t life = lifetime_s(c, st, out->ttl, out->sig_ttl);
    dance_cache_entry *e = entry_new(key, len, hash, out,
                                     now + (uint64_t)life * 1000u);

    pthread_mutex_lock(&c->lock);
    if (st == DANCE_LOOKUP_FAILED)
        c->failures++;
    if (e != NULL && f->generation == c->generation) {
        if (life > 0)
            table_store(c, e, now);
        else
            table_forget(c, key, len, hash);
    }
    flight_finish(c, f, e);
    flight_unref(c, f);
    pthread_mutex_unlock(&c->lock);

    if (e == NULL) {
        dance_tlsa_result_clear(out);
        result_fail(out, "out of memory while caching the TLSA answer for %s", key);
        return -1;
    }
    entry_unref(e);
    return 0;
}

/* --- public API --- */

dance_cache *dance_cache_new(const dance_cache_config *cfg)
{
    dance_cache_config def = { 0 };
    dance_cache *c;

    if (cfg == NULL)
        cfg = &def;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->capacity = cfg->capacity ? cfg->capacity : CACHE_DEFAULT_CAPACITY;
    c->min_ttl = cfg->min_ttl;
    c->max_ttl = cfg->max_ttl ? cfg->max_ttl : CACHE_DEFAULT_MAX_TTL;
    c->negative_ttl = cfg->negative_ttl;
    c->failure_ttl = cfg->failure_ttl;
    c->clock = cfg->clock ? cfg->clock : dance_clock_monotonic_ms;
    c->clock_ctx = cfg->clock_ctx;

    /* buckets: start small, grow to one per entry at most */
    if (dance_hashtab_init(&c->table, CACHE_MIN_BUCKETS, c->capacity) != 0)
        goto fail_buckets;
    /* flights: as many as lookups queued and in flight, and waiters */
    if (dance_hashtab_init(&c->flights, CACHE_MIN_BUCKETS, c->capacity) != 0)
        goto fail_flights;

    if (pthread_condattr_init(&c->cv_attr) != 0)
        goto fail_attr;
    if (pthread_condattr_setclock(&c->cv_attr, CLOCK_MONOTONIC) != 0)
        goto fail_mutex;
    if (pthread_mutex_init(&c->lock, NULL) != 0)
        goto fail_mutex;
    return c;

fail_mutex:
    pthread_condattr_destroy(&c->cv_attr);
fail_attr:
    dance_hashtab_destroy(&c->flights);
fail_flights:
    dance_hashtab_destroy(&c->table);
fail_buckets:
    free(c);
    return NULL;
}

void dance_cache_free(dance_cache *c)
{
    if (c == NULL)
        return;
    while (c->lru_head != NULL)
        table_unlink(c, c->lru_head);
    /* Flights left here mean a caller broke the contract; their waiters
     * still point at them, so leaking beats freeing under their feet. */
    dance_hashtab_destroy(&c->table);
    dance_hashtab_destroy(&c->flights);
    pthread_mutex_destroy(&c->lock);
    pthread_condattr_destroy(&c->cv_attr);
    free(c);
}

const dance_cache_entry *dance_cache_acquire(dance_cache *c, const char *owner)
{
    char key[DANCE_CACHE_OWNER_MAX + 1];
    size_t len = dance_cache_key(owner, key);
    uint64_t hash, now;
    dance_cache_entry *e;

    if (c == NULL || len == 0)
        return NULL;
    hash = dance_hashtab_hash(&c->table, key, len);
    now = c->clock(c->clock_ctx);
    pthread_mutex_lock(&c->lock);
    e = lookup_fresh(c, key, len, hash, now);
    if (e != NULL)
        c->hits++;
    else
        c->misses++;
    pthread_mutex_unlock(&c->lock);
    return e;
}

void dance_cache_entry_release(const dance_cache_entry *e)
{
    /* entries are allocated mutable; const only keeps holders read-only */
    entry_unref((dance_cache_entry *)(uintptr_t)e);
}

dance_status dance_cache_entry_status(const dance_cache_entry *e)
{
    return (dance_status)e->status;
}

uint32_t dance_cache_entry_ttl(const dance_cache_entry *e)
{
    return e->ttl;
}

const dance_tlsa_rrset *dance_cache_entry_records(const dance_cache_entry *e)
{
    return &e->rrset;
}

const char *dance_cache_entry_reason(const dance_cache_entry *e)
{
    return e->reason;
}

const char *dance_cache_entry_owner(const dance_cache_entry *e)
{
    return e->key;
}

int dance_cache_entry_to_result(const dance_cache_entry *e, dance_tlsa_result *out)
{
    result_reset(out);
    if (dance_tlsa_rrset_copy(&out->records, &e->rrset) != 0) {
        result_fail(out, "out of memory copying the cached TLSA answer for %s", e->key);
        return -1;
    }
    out->status = (dance_status)e->status;
    out->ttl = e->ttl;
    out->sig_ttl = e->sig_ttl;
    memcpy(out->reason, e->reason, strlen(e->reason) + 1);
    return 0;
}

bool dance_cache_get(dance_cache *c, const char *owner, dance_tlsa_result *out)
{
    const dance_cache_entry *e = dance_cache_acquire(c, owner);
    int rc;

    result_reset(out);
    if (e == NULL)
        return false;
    rc = dance_cache_entry_to_result(e, out);
    dance_cache_entry_release(e);
    return rc == 0;
}

/* take_answer - copy a finished flight's answer into out and drop our
 * reference on the flight; called with the lock held, returns unlocked */
static int take_answer(dance_cache *c, cache_flight *f, dance_tlsa_result *out)
{
    dance_cache_entry *e = f->result;
    char key[DANCE_CACHE_OWNER_MAX + 1];
    int rc;

    if (e != NULL)
        entry_ref(e);
    else
        memcpy(key, f->key, f->key_len + 1);
    flight_unref(c, f);
    pthread_mutex_unlock(&c->lock);
    if (e == NULL) {
        result_fail(out, "out of memory while caching the TLSA answer for %s", key);
        return -1;
    }
    rc = dance_cache_entry_to_result(e, out);
    entry_unref(e);
    return rc;
}

int dance_cache_fetch(dance_cache *c, const char *owner,
                      dance_fetch_fn fetch, void *ctx, dance_tlsa_result *out)
{
    char key[DANCE_CACHE_OWNER_MAX + 1];
    size_t len = dance_cache_key(owner, key);
    uint64_t hash, now;
    dance_cache_entry *e;
    cache_flight *f;

    result_reset(out);
    if (c == NULL || fetch == NULL || len == 0) {
        result_fail(out, "cannot look up TLSA for '%s': not a usable owner name",
                    owner ? owner : "(null)");
        return -1;
    }
    hash = dance_hashtab_hash(&c->table, key, len);
    now = c->clock(c->clock_ctx);

    pthread_mutex_lock(&c->lock);
    e = lookup_fresh(c, key, len, hash, now);
    if (e != NULL) {
        int rc;
        c->hits++;
        pthread_mutex_unlock(&c->lock);
        rc = dance_cache_entry_to_result(e, out);
        entry_unref(e);
        return rc;
    }
    c->misses++;
    f = flight_find(c, key, len, hash);
    if (f != NULL && f->fetching) {
        /* single flight: wait for the fetch already running */
        f->refs++;
        while (!f->done)
            pthread_cond_wait(&f->done_cv, &c->lock);
        return take_answer(c, f, out);
    }
    f = flight_begin_locked(c, f, key, len, hash);
    pthread_mutex_unlock(&c->lock);
    if (f == NULL) {
        result_fail(out, "out of memory looking up TLSA for %s", key);
        return -1;
    }

    fetch(ctx, key, out);

    return flight_complete(c, f, key, len, hash, out);
}

int dance_cache_begin(dance_cache *c, const char *owner)
{
    char key[DANCE_CACHE_OWNER_MAX + 1];
    size_t len = dance_cache_key(owner, key);
    uint64_t hash, now;
    dance_cache_entry *e;
    cache_flight *f;

    if (c == NULL || len == 0)
        return -1;
    hash = dance_hashtab_hash(&c->table, key, len);
    now = c->clock(c->clock_ctx);

    pthread_mutex_lock(&c->lock);
    e = lookup_fresh(c, key, len, hash, now);
    f = e == NULL ? flight_find(c, key, len, hash) : NULL;
    if (e != NULL || (f != NULL && f->fetching)) {
        pthread_mutex_unlock(&c->lock);
        entry_unref(e);
        return 0;
    }
    f = flight_begin_locked(c, f, key, len, hash);
    pthread_mutex_unlock(&c->lock);
    return f != NULL ? 1 : -1;
}

int dance_cache_complete(dance_cache *c, const char *owner, dance_tlsa_result *answer)
{
    char key[DANCE_CACHE_OWNER_MAX + 1];
    size_t len = dance_cache_key(owner, key);
    uint64_t hash;
    cache_flight *f;

    if (c == NULL || answer == NULL || len == 0)
        return -1;
    hash = dance_hashtab_hash(&c->table, key, len);
    pthread_mutex_lock(&c->lock);
    f = flight_find(c, key, len, hash);
    if (f == NULL || !f->fetching) {
        /* nobody began a flight: an answer like any other */
        pthread_mutex_unlock(&c->lock);
        (void)answer_normalise(key, answer);
        return dance_cache_put(c, key, answer);
    }
    pthread_mutex_unlock(&c->lock);
    /* the flight is ours to finish: only its beginner completes it */
    return flight_complete(c, f, key, len, hash, answer);
}

bool dance_cache_wait(dance_cache *c, const char *owner, unsigned timeout_ms,
                      dance_tlsa_result *out)
{
    char key[DANCE_CACHE_OWNER_MAX + 1];
    size_t len = dance_cache_key(owner, key);
    struct timespec deadline = dance_clock_deadline_after(timeout_ms);
    uint64_t hash, now;
    dance_cache_entry *e;
    cache_flight *f;

    result_reset(out);
    if (c == NULL || len == 0) {
        result_fail(out, "cannot wait for TLSA of '%s': not a usable owner name",
                    owner ? owner : "(null)");
        return false;
    }
    hash = dance_hashtab_hash(&c->table, key, len);
    now = c->clock(c->clock_ctx);

    pthread_mutex_lock(&c->lock);
    e = lookup_fresh(c, key, len, hash, now);
    if (e != NULL) {
        int rc;
        pthread_mutex_unlock(&c->lock);
        rc = dance_cache_entry_to_result(e, out);
        entry_unref(e);
        return rc == 0;
    }
    /* Join the flight for key, or open one that a later fetch or put for
     * key will complete: the worker may not have started yet. */
    f = flight_find(c, key, len, hash);
    if (f != NULL) {
        f->refs++;
    } else if (timeout_ms > 0) {
        f = flight_new(c, key, len, hash);
        if (f == NULL) {
            pthread_mutex_unlock(&c->lock);
            result_fail(out, "out of memory waiting for the TLSA answer for %s", key);
            return false;
        }
    }
    while (f != NULL && !f->done) {
        if (pthread_cond_timedwait(&f->done_cv, &c->lock, &deadline) != 0)
            break;                      /* ETIMEDOUT (nothing else is expected) */
    }
    if (f != NULL && f->done)
        return take_answer(c, f, out) == 0;
    if (f != NULL)
        flight_unref(c, f);
    pthread_mutex_unlock(&c->lock);
    result_fail(out, "no TLSA answer for %s within %u ms", key, timeout_ms);
    return false;
}

bool dance_cache_in_flight(dance_cache *c, const char *owner)
{
    char key[DANCE_CACHE_OWNER_MAX + 1];
    size_t len = dance_cache_key(owner, key);
    cache_flight *f;
    bool running;

    if (c == NULL || len == 0)
        return false;
    pthread_mutex_lock(&c->lock);
    f = flight_find(c, key, len, dance_hashtab_hash(&c->table, key, len));
    running = f != NULL && f->fetching;
    pthread_mutex_unlock(&c->lock);
    return running;
}

int dance_cache_put(dance_cache *c, const char *owner, const dance_tlsa_result *r)
{
    char key[DANCE_CACHE_OWNER_MAX + 1];
    size_t len = dance_cache_key(owner, key);
    uint64_t hash, now;
    dance_cache_entry *e;
    cache_flight *f;
    uint32_t life;

    if (c == NULL || r == NULL || len == 0)
        return -1;
    hash = dance_hashtab_hash(&c->table, key, len);
    now = c->clock(c->clock_ctx);
    life = lifetime_s(c, entry_status(r), r->ttl, r->sig_ttl);
    e = entry_new(key, len, hash, r, now + (uint64_t)life * 1000u);
    if (e == NULL)
        return -1;

    pthread_mutex_lock(&c->lock);
    if (life > 0)
        table_store(c, e, now);
    else
        table_forget(c, key, len, hash);
    /* waiters with no fetch running take this answer; a running fetch
     * answers its own waiters */
    f = flight_find(c, key, len, hash);
    if (f != NULL && !f->fetching)
        flight_finish(c, f, e);
    pthread_mutex_unlock(&c->lock);
    entry_unref(e);
    return 0;
}

void dance_cache_flush(dance_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    while (c->lru_head != NULL)
        table_unlink(c, c->lru_head);
    c->generation++;
    pthread_mutex_unlock(&c->lock);
}

void dance_cache_get_stats(dance_cache *c, dance_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    out->hits = c->hits;
    out->misses = c->misses;
    out->queries = c->queries;
    out->failures = c->failures;
    out->evictions = c->evictions;
    out->entries = dance_hashtab_count(&c->table);
    pthread_mutex_unlock(&c->lock);
}
