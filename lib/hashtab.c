/*
 * hashtab.c - intrusive chained hash table with a keyed hash (hashtab.h).
 *
 * Offers the one hash table of the library and the plugin: the TLSA
 * answer cache, the decoded key cache, the replay cache and the
 * publishers' lookup budgets all link their entries here. The table owns
 * only its bucket array; callers own the nodes and hold their own locks.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dance/clock.h"
#include "dance/hashtab.h"

/* round_buckets - n rounded up to a power of two in [1, MAX_BUCKETS] */
static size_t round_buckets(size_t n)
{
    size_t p = 1;

    while (p < n && p < DANCE_HASHTAB_MAX_BUCKETS)
        p <<= 1;
    return p;
}

int dance_hashtab_init(dance_hashtab *t, size_t min_buckets, size_t max_buckets)
{
    t->nbuckets = round_buckets(min_buckets);
    t->max_buckets = round_buckets(max_buckets);
    if (t->max_buckets < t->nbuckets)
        t->max_buckets = t->nbuckets;
    t->count = 0;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    if (t->buckets == NULL)
        return -1;
    /* Without entropy the table still works; only collision resistance
     * against chosen keys is lost, so fall back rather than refuse. */
    if (getentropy(t->key, sizeof(t->key)) != 0) {
        t->key[0] = dance_clock_monotonic_ms(NULL) ^ (uint64_t)(uintptr_t)t;
        t->key[1] = (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ULL;
    }
    return 0;
}

void dance_hashtab_destroy(dance_hashtab *t)
{
    if (t == NULL)
        return;
    free(t->buckets);
    t->buckets = NULL;
    t->nbuckets = 0;
    t->count = 0;
}

/*
 * SipHash-1-3 (Aumasson and Bernstein; the variant Python and Rust use for
 * their tables). Hand-written because OpenSSL offers SipHash only through
 * EVP_MAC, which allocates a context per call: too heavy for a lookup.
 */
#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND                                                          \
    do {                                                                   \
        v0 += v1; v1 = SIP_ROTL(v1, 13); v1 ^= v0; v0 = SIP_ROTL(v0, 32);  \
        v2 += v3; v3 = SIP_ROTL(v3, 16); v3 ^= v2;                         \
        v0 += v3; v3 = SIP_ROTL(v3, 21); v3 ^= v0;                         \
        v2 += v1; v1 = SIP_ROTL(v1, 17); v1 ^= v2; v2 = SIP_ROTL(v2, 32);  \
    } while (0)

uint64_t dance_hashtab_hash(const dance_hashtab *t, const void *key, size_t len)
{
    const unsigned char *in = key;
    uint64_t v0 = 0x736f6d6570736575ULL ^ t->key[0];
    uint64_t v1 = 0x646f72616e646f6dULL ^ t->key[1];
    uint64_t v2 = 0x6c7967656e657261ULL ^ t->key[0];
    uint64_t v3 = 0x7465646279746573ULL ^ t->key[1];
    uint64_t b = (uint64_t)len << 56, m;
    size_t i, full = len - len % 8;

    for (i = 0; i < full; i += 8) {
        memcpy(&m, in + i, 8);
        m = le64toh(m);
        v3 ^= m;
        SIP_ROUND;
        v0 ^= m;
    }
    for (i = len % 8; i > 0; i--)
        b |= (uint64_t)in[full + i - 1] << (8 * (i - 1));
    v3 ^= b;
    SIP_ROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIP_ROUND;
    SIP_ROUND;
    SIP_ROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

dance_hashtab_node *dance_hashtab_find(const dance_hashtab *t, uint64_t hash,
                                       dance_hashtab_match_fn match, const void *ctx)
{
    dance_hashtab_node *n = t->buckets[hash & (t->nbuckets - 1)];

    for (; n != NULL; n = n->next)
        if (n->hash == hash && match(n, ctx))
            return n;
    return NULL;
}

/* grow - double the buckets while more nodes than buckets are held; on
 * ENOMEM keep the old array */
static void grow(dance_hashtab *t)
{
    size_t n = t->nbuckets * 2, i;
    dance_hashtab_node **nb;

    if (t->count <= t->nbuckets || t->nbuckets >= t->max_buckets)
        return;
    nb = calloc(n, sizeof(*nb));
    if (nb == NULL)
        return;
    for (i = 0; i < t->nbuckets; i++) {
        dance_hashtab_node *e = t->buckets[i], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            e->next = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->nbuckets = n;
}

void dance_hashtab_insert(dance_hashtab *t, dance_hashtab_node *n, uint64_t hash)
{
    dance_hashtab_node **b = &t->buckets[hash & (t->nbuckets - 1)];

    n->hash = hash;
    n->next = *b;
    *b = n;
    t->count++;
    grow(t);
}

void dance_hashtab_remove(dance_hashtab *t, dance_hashtab_node *n)
{
    dance_hashtab_node **pp = &t->buckets[n->hash & (t->nbuckets - 1)];

    while (*pp != NULL && *pp != n)
        pp = &(*pp)->next;
    if (*pp == NULL)
        return;
    *pp = n->next;
    n->next = NULL;
    t->count--;
}

size_t dance_hashtab_count(const dance_hashtab *t)
{
    return t->count;
}

void dance_hashtab_iter_init(dance_hashtab_iter *it, const dance_hashtab *t)
{
    it->t = t;
    it->bucket = 0;
    it->next = NULL;
}

dance_hashtab_node *dance_hashtab_iter_next(dance_hashtab_iter *it)
{
    dance_hashtab_node *n = it->next;

    while (n == NULL && it->bucket < it->t->nbuckets)
        n = it->t->buckets[it->bucket++];
    if (n != NULL)
        it->next = n->next;     /* taken now: n may be removed next */
    return n;
}
