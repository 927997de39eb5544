/*
 * replay.c - the bounded jti replay cache of message verification (jws.h).
 *
 * A set of (sender, jti) pairs seen during the last `window` seconds of a
 * monotonic clock. Entries sit in one FIFO list in arrival order, which is
 * also expiry order (one window for all), so expiry is popping from the
 * head; a seeded hash table finds them. When the set is full the oldest
 * pair goes early and is counted, so memory stays bounded under any rate;
 * the jws.h comment says how to size it and why iat should back it up.
 *
 * The verifier only adds a pair after the signature checked out, so
 * forgeries cannot evict real pairs or block a sender's next jti.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "dance/jws.h"

#define REPLAY_CAPACITY_DEFAULT 100000
#define REPLAY_WINDOW_DEFAULT 600

typedef struct rp_entry {
    uint64_t hash;
    uint64_t expires_ms;
    struct rp_entry *hnext;     /* bucket chain */
    struct rp_entry *next;      /* FIFO, oldest first */
    size_t klen;
    char key[];                 /* sender '\0' jti */
} rp_entry;

struct dance_replay {
    pthread_mutex_t mu;
    size_t capacity, count, nbuckets;
    rp_entry **buckets;
    rp_entry *head, *tail;
    uint64_t window_ms, seed;
    dance_clock_fn clock;
    void *clock_ctx;
    dance_replay_stats stats;
};

static uint64_t mono_ms(void *ctx)
{
    struct timespec ts;

    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* FNV-1a, seeded: keys are short (a name and a jti) */
static uint64_t rp_hash(uint64_t seed, const char *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

dance_replay *dance_replay_new(size_t capacity, uint32_t window_s,
                               dance_clock_fn clock, void *clock_ctx)
{
    dance_replay *rp = calloc(1, sizeof(*rp));
    size_t nb = 16;

    if (rp == NULL)
        return NULL;
    rp->capacity = capacity ? capacity : REPLAY_CAPACITY_DEFAULT;
    while (nb < rp->capacity && nb < ((size_t)1 << 30))
        nb <<= 1;
    rp->nbuckets = nb;
    rp->buckets = calloc(nb, sizeof(*rp->buckets));
    if (rp->buckets == NULL || pthread_mutex_init(&rp->mu, NULL) != 0) {
        free(rp->buckets);
        free(rp);
        return NULL;
    }
    rp->window_ms = (uint64_t)(window_s ? window_s : REPLAY_WINDOW_DEFAULT) * 1000u;
    rp->clock = clock ? clock : mono_ms;
    rp->clock_ctx = clock_ctx;
    if (RAND_bytes((unsigned char *)&rp->seed, sizeof(rp->seed)) != 1)
        rp->seed = (uint64_t)time(NULL) ^ (uintptr_t)rp;
    return rp;
}

void dance_replay_free(dance_replay *rp)
{
    rp_entry *e, *next;

    if (rp == NULL)
        return;
    for (e = rp->head; e != NULL; e = next) {
        next = e->next;
        free(e);
    }
    pthread_mutex_destroy(&rp->mu);
    free(rp->buckets);
    free(rp);
}

/* pop_oldest - drop the FIFO head from its bucket and free it (locked) */
static void pop_oldest(dance_replay *rp)
{
    rp_entry *e = rp->head, **pp;

    pp = &rp->buckets[e->hash & (rp->nbuckets - 1)];
    while (*pp != NULL && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp == e)
        *pp = e->hnext;
    rp->head = e->next;
    if (rp->head == NULL)
        rp->tail = NULL;
    rp->count--;
    free(e);
}

int dance_replay_check_add(dance_replay *rp, const char *sender, const char *jti)
{
    size_t sl, jl, klen;
    uint64_t now, h;
    rp_entry *e;
    char *key;
    int rc = 0;

    if (rp == NULL || sender == NULL || jti == NULL)
        return -1;
    sl = strlen(sender);
    jl = strlen(jti);
    klen = sl + 1 + jl;
    e = malloc(sizeof(*e) + klen + 1);
    if (e == NULL)
        return -1;
    key = e->key;
    memcpy(key, sender, sl + 1);
    memcpy(key + sl + 1, jti, jl + 1);
    e->klen = klen;
    e->hash = h = rp_hash(rp->seed, key, klen);
    e->hnext = e->next = NULL;

    pthread_mutex_lock(&rp->mu);
    now = rp->clock(rp->clock_ctx);
    while (rp->head != NULL && rp->head->expires_ms <= now)
        pop_oldest(rp);
    {
        rp_entry *f;
        for (f = rp->buckets[h & (rp->nbuckets - 1)]; f != NULL; f = f->hnext)
            if (f->hash == h && f->klen == klen && memcmp(f->key, key, klen) == 0)
                break;
        if (f != NULL) {
            rp->stats.replays++;
            rc = 1;
        }
    }
    if (rc == 0) {
        while (rp->count >= rp->capacity && rp->head != NULL) {
            pop_oldest(rp);
            rp->stats.evicted_early++;
        }
        e->expires_ms = now + rp->window_ms;
        e->hnext = rp->buckets[h & (rp->nbuckets - 1)];
        rp->buckets[h & (rp->nbuckets - 1)] = e;
        if (rp->tail != NULL)
            rp->tail->next = e;
        else
            rp->head = e;
        rp->tail = e;
        rp->count++;
        e = NULL;
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
