/*
 * jws_keycache.c - a small thread-safe LRU of decoded public keys, so that
 * verifying a message from a warm sender costs a hash lookup and one
 * signature check instead of DER decoding (and, for x5c, a DANE match).
 *
 * Keys of the map are exact byte strings built by the verifier (record
 * usage/selector/mtype/data, or sender + records + x5c DER); a record that
 * changes or goes away simply stops being asked for, and its entry ages out
 * of the LRU. The hash is seeded at random and every hit is confirmed with
 * memcmp, so crafted x5c chains cannot pile up in one bucket predictably.
 *
 * Values hold an EVP_PKEY reference; a hit hands out another reference
 * (EVP_PKEY_up_ref is atomic), so the lock covers only the map.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "jws_internal.h"

#define KC_CAPACITY_DEFAULT 1024

typedef struct kc_entry {
    uint64_t hash;
    unsigned char *key;
    size_t klen;
    jws_key_value v;
    uint64_t expires_ms;                /* 0: never */
    struct kc_entry *hnext;             /* bucket chain */
    struct kc_entry *prev, *next;       /* LRU list, head = most recent */
} kc_entry;

struct dance_jws_keycache {
    pthread_mutex_t mu;
    size_t capacity, count, nbuckets;
    kc_entry **buckets;
    kc_entry *head, *tail;
    uint64_t seed;
    dance_jws_keycache_stats stats;
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* kc_hash - word-at-a-time multiply/rotate mix with a splitmix64 finish:
 * fast over a few KiB of certificate data, seeded per process */
static uint64_t kc_hash(uint64_t seed, const unsigned char *p, size_t n)
{
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ull), w;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        h ^= w * 0xbf58476d1ce4e5b9ull;
        h = ((h << 31) | (h >> 33)) * 0x94d049bb133111ebull;
    }
    w = 0;
    if (i < n)
        memcpy(&w, p + i, n - i);
    h ^= w * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

dance_jws_keycache *dance_jws_keycache_new(size_t capacity)
{
    dance_jws_keycache *kc = calloc(1, sizeof(*kc));
    size_t nb = 16;

    if (kc == NULL)
        return NULL;
    kc->capacity = capacity ? capacity : KC_CAPACITY_DEFAULT;
    while (nb < 2 * kc->capacity && nb < ((size_t)1 << 30))
        nb <<= 1;
    kc->nbuckets = nb;
    kc->buckets = calloc(nb, sizeof(*kc->buckets));
    if (kc->buckets == NULL || pthread_mutex_init(&kc->mu, NULL) != 0) {
        free(kc->buckets);
        free(kc);
        return NULL;
    }
    if (RAND_bytes((unsigned char *)&kc->seed, sizeof(kc->seed)) != 1)
        kc->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uintptr_t)kc;
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
    for (e = kc->head; e != NULL; e = next) {
        next = e->next;
        entry_free(e);
    }
    pthread_mutex_destroy(&kc->mu);
    free(kc->buckets);
    free(kc);
}

static void lru_unlink(dance_jws_keycache *kc, kc_entry *e)
{
    if (e->prev) e->prev->next = e->next; else kc->head = e->next;
    if (e->next) e->next->prev = e->prev; else kc->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(dance_jws_keycache *kc, kc_entry *e)
{
    e->prev = NULL;
    e->next = kc->head;
    if (kc->head) kc->head->prev = e; else kc->tail = e;
    kc->head = e;
}

/* remove - take e out of its bucket and the LRU and free it (locked) */
static void remove_entry(dance_jws_keycache *kc, kc_entry *e)
{
    kc_entry **pp = &kc->buckets[e->hash & (kc->nbuckets - 1)];

    while (*pp != NULL && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp == e)
        *pp = e->hnext;
    lru_unlink(kc, e);
    kc->count--;
    entry_free(e);
}

static kc_entry *find(dance_jws_keycache *kc, uint64_t h, const unsigned char *k, size_t klen)
{
    kc_entry *e;

    for (e = kc->buckets[h & (kc->nbuckets - 1)]; e != NULL; e = e->hnext)
        if (e->hash == h && e->klen == klen && memcmp(e->key, k, klen) == 0)
            return e;
    return NULL;
}

bool jws_keycache_get(dance_jws_keycache *kc, const unsigned char *k, size_t klen,
                      jws_key_value *out)
{
    uint64_t h;
    kc_entry *e;
    bool hit = false;

    if (kc == NULL)
        return false;
    h = kc_hash(kc->seed, k, klen);
    pthread_mutex_lock(&kc->mu);
    e = find(kc, h, k, klen);
    if (e != NULL && e->expires_ms != 0 && now_ms() >= e->expires_ms) {
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
    size_t b;

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
    e->hash = kc_hash(kc->seed, k, klen);
    e->expires_ms = max_age_ms ? now_ms() + max_age_ms : 0;
    pthread_mutex_lock(&kc->mu);
    old = find(kc, e->hash, k, klen);
    if (old != NULL)
        remove_entry(kc, old);      /* two threads decoded the same record */
    while (kc->count >= kc->capacity && kc->tail != NULL) {
        remove_entry(kc, kc->tail);
        kc->stats.evictions++;
    }
    b = e->hash & (kc->nbuckets - 1);
    e->hnext = kc->buckets[b];
    kc->buckets[b] = e;
    lru_push_front(kc, e);
    kc->count++;
    pthread_mutex_unlock(&kc->mu);
}

void dance_jws_keycache_get_stats(dance_jws_keycache *kc, dance_jws_keycache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (kc == NULL)
        return;
    pthread_mutex_lock(&kc->mu);
    *out = kc->stats;
    out->entries = kc->count;
    pthread_mutex_unlock(&kc->mu);
}
