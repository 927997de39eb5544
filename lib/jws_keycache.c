/*
 * jws_keycache.c - a small thread-safe LRU of decoded public keys, so that
 * verifying a message from a warm sender costs a hash lookup and one
 * signature check instead of DER decoding (and, for x5c, a DANE match).
 *
 * Keys of the map are exact byte strings built by the verifier (record
 * usage/selector/mtype/data, or a SHA-256 digest of sender + records + x5c
 * DER); a record that changes or goes away simply stops being asked for,
 * and its entry ages out of the LRU. The table (hashtab.h) hashes with a
 * random key and every hit is confirmed with memcmp, so crafted keys (x5c
 * chains and records are the sender's choice) cannot pile up in one bucket
 * predictably.
 *
 * Two partitions, each its own LRU: keys (values with a pkey) and
 * remembered refusals (x5c chains that did not DANE-match, pkey NULL).
 * Anyone can send a message with any x5c, so refusals are attacker-chosen:
 * they live in a small share of their own (a quarter of the capacity, at
 * least one entry, on top of it) and only ever evict each other, so no
 * amount of forged chains can push out the key a real sender needs. A key
 * only enters after its record or chain was vouched for by DNS (and, for
 * x5c, the message's signature checked: jws_verify.c).
 *
 * Values hold an EVP_PKEY reference; a hit hands out another reference
 * (EVP_PKEY_up_ref is atomic), so the lock covers only the map.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dance/clock.h"
#include "dance/hashtab.h"
#include "jws_internal.h"

#define KC_CAPACITY_DEFAULT 1024

typedef struct kc_entry {
    dance_hashtab_node hnode;           /* table link and hash */
    unsigned char *key;
    size_t klen;
    jws_key_value v;
    uint64_t expires_ms;                /* 0: never */
    int part;                           /* KC_KEYS or KC_REFUSALS */
    struct kc_entry *prev, *next;       /* its partition's LRU list */
} kc_entry;

enum { KC_KEYS, KC_REFUSALS, KC_PARTS };

typedef struct kc_lru {
    kc_entry *head, *tail;              /* head = most recent */
    size_t count, capacity;
} kc_lru;

struct dance_jws_keycache {
    pthread_mutex_t mu;
    dance_hashtab table;                /* fixed size: two buckets per entry */
    kc_lru lru[KC_PARTS];
    dance_jws_keycache_stats stats;
};

dance_jws_keycache *dance_jws_keycache_new(size_t capacity)
{
    dance_jws_keycache *kc = calloc(1, sizeof(*kc));
    size_t nb, total;

    if (kc == NULL)
        return NULL;
    kc->lru[KC_KEYS].capacity = capacity ? capacity : KC_CAPACITY_DEFAULT;
    kc->lru[KC_REFUSALS].capacity = kc->lru[KC_KEYS].capacity / 4 + 1;
    total = kc->lru[KC_KEYS].capacity + kc->lru[KC_REFUSALS].capacity;
    nb = 2 * total > 16 ? 2 * total : 16;    /* rounded up to a power of two */
    if (dance_hashtab_init(&kc->table, nb, nb) != 0) {
        free(kc);
        return NULL;
    }
    if (pthread_mutex_init(&kc->mu, NULL) != 0) {
        dance_hashtab_destroy(&kc->table);
        free(kc);
        return NULL;
    }
    return kc;
}

static void entry_free(kc_entry *e)
{
    EVP_PKEY_free(e->v.pkey);
    free(e->key);
    free(e);
}

void dance_jws_keycache_free(dance_jws_keycache *kc)
{
    kc_entry *e, *next;

    if (kc == NULL)
        return;
    for (int part = 0; part < KC_PARTS; part++) {
        for (e = kc->lru[part].head; e != NULL; e = next) {
            next = e->next;
            entry_free(e);
        }
    }
    pthread_mutex_destroy(&kc->mu);
    dance_hashtab_destroy(&kc->table);
    free(kc);
}

static void lru_unlink(dance_jws_keycache *kc, kc_entry *e)
{
    kc_lru *l = &kc->lru[e->part];

    if (e->prev) e->prev->next = e->next; else l->head = e->next;
    if (e->next) e->next->prev = e->prev; else l->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(dance_jws_keycache *kc, kc_entry *e)
{
    kc_lru *l = &kc->lru[e->part];

    e->prev = NULL;
    e->next = l->head;
    if (l->head) l->head->prev = e; else l->tail = e;
    l->head = e;
}

/* remove - take e out of its bucket and the LRU and free it (locked) */
static void remove_entry(dance_jws_keycache *kc, kc_entry *e)
{
    dance_hashtab_remove(&kc->table, &e->hnode);
    lru_unlink(kc, e);
    kc->lru[e->part].count--;
    entry_free(e);
}

typedef struct kc_key_ref {
    const unsigned char *key;
    size_t len;
} kc_key_ref;

static bool entry_has_key(const dance_hashtab_node *n, const void *ctx)
{
    const kc_entry *e = DANCE_HASHTAB_ENTRY(n, const kc_entry, hnode);
    const kc_key_ref *k = ctx;

    return e->klen == k->len && memcmp(e->key, k->key, k->len) == 0;
}

static kc_entry *find(dance_jws_keycache *kc, uint64_t h, const unsigned char *k, size_t klen)
{
    kc_key_ref ref = { k, klen };
    dance_hashtab_node *n = dance_hashtab_find(&kc->table, h, entry_has_key, &ref);

    return n != NULL ? DANCE_HASHTAB_ENTRY(n, kc_entry, hnode) : NULL;
}

bool jws_keycache_get(dance_jws_keycache *kc, const unsigned char *k, size_t klen,
                      jws_key_value *out)
{
    uint64_t h;
    kc_entry *e;
    bool hit = false;

    if (kc == NULL)
        return false;
    h = dance_hashtab_hash(&kc->table, k, klen);
    pthread_mutex_lock(&kc->mu);
    e = find(kc, h, k, klen);
    if (e != NULL && e->expires_ms != 0 && dance_clock_monotonic_ms(NULL) >= e->expires_ms) {
        remove_entry(kc, e);
        e = NULL;
    }
    if (e != NULL && (e->v.pkey == NULL || EVP_PKEY_up_ref(e->v.pkey) == 1)) {
        *out = e->v;
        lru_unlink(kc, e);
        lru_push_front(kc, e);
        kc->stats.hits++;
        hit = true;
    } else {
        kc->stats.misses++;
    }
    pthread_mutex_unlock(&kc->mu);
    return hit;
}

void jws_keycache_put(dance_jws_keycache *kc, const unsigned char *k, size_t klen,
                      const jws_key_value *v, uint64_t max_age_ms)
{
    kc_entry *e, *old;
    kc_lru *l;
    uint64_t h;

    if (kc == NULL)
        return;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return;
    e->key = malloc(klen ? klen : 1);
    if (e->key == NULL || (v->pkey != NULL && EVP_PKEY_up_ref(v->pkey) != 1)) {
        free(e->key);
        free(e);
        return;
    }
    memcpy(e->key, k, klen);
    e->klen = klen;
    e->v = *v;
    h = dance_hashtab_hash(&kc->table, k, klen);
    e->expires_ms = max_age_ms ? dance_clock_monotonic_ms(NULL) + max_age_ms : 0;
    e->part = v->pkey != NULL ? KC_KEYS : KC_REFUSALS;
    l = &kc->lru[e->part];
    pthread_mutex_lock(&kc->mu);
    old = find(kc, h, k, klen);
    if (old != NULL)
        remove_entry(kc, old);      /* two threads decoded the same record */
    /* only the entry's own partition makes room: refusals never evict keys */
    while (l->count >= l->capacity && l->tail != NULL) {
        remove_entry(kc, l->tail);
        kc->stats.evictions++;
    }
    dance_hashtab_insert(&kc->table, &e->hnode, h);
    lru_push_front(kc, e);
    l->count++;
    pthread_mutex_unlock(&kc->mu);
}

void dance_jws_keycache_get_stats(dance_jws_keycache *kc, dance_jws_keycache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (kc == NULL)
        return;
    pthread_mutex_lock(&kc->mu);
    *out = kc->stats;
    out->entries = kc->lru[KC_KEYS].count + kc->lru[KC_REFUSALS].count;
    out->refusals = kc->lru[KC_REFUSALS].count;
    pthread_mutex_unlock(&kc->mu);
}
