/*
 * plugin/clients.c - registry of admitted clients and revalidation rounds
 * (see clients.h for why entries are keyed by the broker's client pointer).
 *
 * A chained hash table on the pointer value, doubled when it gets full;
 * rounds keep a snapshot array of (key, token) pairs and a cursor.
 */
#include "clients.h"

#include <stdlib.h>
#include <string.h>

typedef struct round_item {
    const void *key;
    uint64_t token;
} round_item;

struct mdp_clients {
    mdp_client **buckets;
    size_t nbuckets;            /* power of two */
    size_t count, dane_count, token_count;
    uint64_t next_token;
    round_item *round;
    size_t round_len, round_pos;
    bool round_active;
};

#define INITIAL_BUCKETS 64

static size_t bucket_of(const mdp_clients *r, const void *key)
{
    /* Fibonacci hashing of the pointer: allocator addresses share low
     * bits, the multiply spreads them. */
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;

    return (size_t)(h >> 32) & (r->nbuckets - 1);
}

static void entry_free(mdp_client *e)
{
    if (e == NULL)
        return;
    free(e->client_id);
    free(e->identity);
    free(e->owner);
    X509_free(e->leaf);
    free(e->password);
    free(e);
}

mdp_clients *mdp_clients_new(void)
{
    mdp_clients *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->buckets = calloc(INITIAL_BUCKETS, sizeof(*r->buckets));
    if (r->buckets == NULL) {
        free(r);
        return NULL;
    }
    r->nbuckets = INITIAL_BUCKETS;
    r->next_token = 1;
    return r;
}

void mdp_clients_free(mdp_clients *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nbuckets; i++) {
        mdp_client *e = r->buckets[i];
        while (e != NULL) {
            mdp_client *next = e->next;
            entry_free(e);
            e = next;
        }
    }
    free(r->buckets);
    free(r->round);
    free(r);
}

/* grow - double the table; on ENOMEM keep the old one (just slower). */
static void grow(mdp_clients *r)
{
    size_t n = r->nbuckets * 2;
    mdp_client **nb = calloc(n, sizeof(*nb));
    mdp_client **old = r->buckets;
    size_t oldn = r->nbuckets;

    if (nb == NULL)
        return;
    r->buckets = nb;
    r->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        mdp_client *e = old[i];
        while (e != NULL) {
            mdp_client *next = e->next;
            size_t b = bucket_of(r, e->key);
            e->next = nb[b];
            nb[b] = e;
            e = next;
        }
    }
    free(old);
}

/* find - key's entry, writable (this module only) */
static mdp_client *find(const mdp_clients *r, const void *key)
{
    for (mdp_client *e = r->buckets[bucket_of(r, key)]; e != NULL; e = e->next)
        if (e->key == key)
            return e;
    return NULL;
}

const mdp_client *mdp_clients_find(const mdp_clients *r, const void *key)
{
    return find(r, key);
}

bool mdp_clients_remove(mdp_clients *r, const void *key)
{
    mdp_client **pp = &r->buckets[bucket_of(r, key)];

    for (; *pp != NULL; pp = &(*pp)->next) {
        mdp_client *e = *pp;
        if (e->key == key) {
            *pp = e->next;
            r->count--;
            if (e->dane)
                r->dane_count--;
            if (e->password != NULL)
                r->token_count--;
            entry_free(e);
            return true;
        }
    }
    return false;
}

static char *dup_or_null(const char *s, bool *fail)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        *fail = true;
    return d;
}

/* insert - put a filled entry in, replacing key's old one */
static uint64_t insert(mdp_clients *r, mdp_client *e)
{
    size_t b;

    mdp_clients_remove(r, e->key);
    if (r->count >= r->nbuckets)
        grow(r);
    e->token = r->next_token++;
    b = bucket_of(r, e->key);
    e->next = r->buckets[b];
    r->buckets[b] = e;
    r->count++;
    if (e->dane)
        r->dane_count++;
    if (e->password != NULL)
        r->token_count++;
    return e->token;
}

uint64_t mdp_clients_add(mdp_clients *r, const void *key,
                           const char *client_id, bool dane,
                           const char *identity, const char *owner, X509 *leaf)
{
    mdp_client *e = calloc(1, sizeof(*e));
    bool fail = false;

    if (e == NULL) {
        X509_free(leaf);
        return 0;
    }
    e->key = key;
    e->dane = dane;
    e->leaf = leaf;
    e->client_id = dup_or_null(client_id != NULL ? client_id : "", &fail);
    e->identity = dup_or_null(identity, &fail);
    e->owner = dup_or_null(owner, &fail);
    if (fail) {
        entry_free(e);
        return 0;
    }
    return insert(r, e);
}

uint64_t mdp_clients_add_bypass(mdp_clients *r, const void *key, const char *client_id)
{
    mdp_client *e = calloc(1, sizeof(*e));
    bool fail = false;

    if (e == NULL)
        return 0;
    e->key = key;
    e->bypass = true;
    e->client_id = dup_or_null(client_id != NULL ? client_id : "", &fail);
    if (fail) {
        entry_free(e);
        return 0;
    }
    return insert(r, e);
}

uint64_t mdp_clients_add_token(mdp_clients *r, const void *key,
                                 const char *client_id, const char *identity,
                                 const char *owner, const char *password,
                                 int64_t expires)
{
    mdp_client *e = calloc(1, sizeof(*e));
    bool fail = false;

    if (e == NULL)
        return 0;
    e->key = key;
    e->dane = true;
    e->expires = expires;
    e->client_id = dup_or_null(client_id != NULL ? client_id : "", &fail);
    e->identity = dup_or_null(identity != NULL ? identity : "", &fail);
    e->owner = dup_or_null(owner != NULL ? owner : "", &fail);
    e->password = dup_or_null(password != NULL ? password : "", &fail);
    if (fail) {
        entry_free(e);
        return 0;
    }
    return insert(r, e);
}

size_t mdp_clients_count(const mdp_clients *r)
{
    return r->count;
}

size_t mdp_clients_dane_count(const mdp_clients *r)
{
    return r->dane_count;
}

size_t mdp_clients_token_count(const mdp_clients *r)
{
    return r->token_count;
}

int64_t mdp_clients_expired(const mdp_clients *r, int64_t now,
                              void (*fn)(void *ctx, const mdp_client *e), void *ctx)
{
    int64_t next = 0;

    if (r->token_count == 0)
        return 0;
    for (size_t i = 0; i < r->nbuckets; i++)
        for (mdp_client *e = r->buckets[i]; e != NULL; e = e->next) {
            if (e->password == NULL)
                continue;
            if (e->expires <= now)
                fn(ctx, e);
            else if (next == 0 || e->expires < next)
                next = e->expires;
        }
    return next;
}

int mdp_clients_round_start(mdp_clients *r)
{
    size_t n = 0;

    if (r->round_active)
        return 0;
    free(r->round);
    r->round = NULL;
    r->round_len = r->round_pos = 0;
    if (r->dane_count > 0) {
        r->round = calloc(r->dane_count, sizeof(*r->round));
        if (r->round == NULL)
            return -1;
        for (size_t i = 0; i < r->nbuckets; i++)
            for (mdp_client *e = r->buckets[i]; e != NULL; e = e->next)
                if (e->dane && n < r->dane_count) {
                    r->round[n].key = e->key;
                    r->round[n].token = e->token;
                    n++;
                }
    }
    r->round_len = n;
    r->round_active = true;
    return 1;
}

bool mdp_clients_round_active(const mdp_clients *r)
{
    return r->round_active;
}

const mdp_client *mdp_clients_round_next(mdp_clients *r)
{
    while (r->round_active && r->round_pos < r->round_len) {
        round_item *it = &r->round[r->round_pos++];
        mdp_client *e = find(r, it->key);

        if (e != NULL && e->token == it->token && e->dane && !e->checking) {
            e->checking = true;
            return e;
        }
    }
    r->round_active = false;
    return NULL;
}

const mdp_client *mdp_clients_check_done(mdp_clients *r, const void *key,
                                             uint64_t token)
{
    mdp_client *e = find(r, key);

    if (e == NULL || e->token != token)
        return NULL;
    e->checking = false;
    return e;
}
