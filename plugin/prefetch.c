/*
 * plugin/prefetch.c - the warm start's lookups (prefetch.h).
 *
 * Each name is in one of three states: waiting (not queued yet), under
 * way (queued, or joined to a lookup already in flight) and answered. The
 * names wait in file order (most recently admitted first); a hash table
 * finds the name of a finished fetch, whose owner is the only thing the
 * hook gives.
 */
#include "prefetch.h"

#include <stdlib.h>
#include <string.h>

#include "dance/cache.h"
#include "dance/hashtab.h"
#include "dance/status.h"

typedef enum pf_state {
    PF_WAITING,
    PF_UNDER_WAY,
    PF_ANSWERED,
    PF_STATE_COUNT
} pf_state;

typedef struct pf_name {
    dance_hashtab_node hnode;   /* key: the cache key of the owner */
    pf_state state;
    bool asked;                 /* a device waits on it (under way only) */
    size_t len;
    char key[DANCE_CACHE_OWNER_MAX + 1];
    const char *identity;       /* in text, after the owner */
    char text[];                /* owner '\0' identity '\0' */
} pf_name;

struct mdp_prefetch {
    pf_name **names;            /* in submission order */
    size_t n, next;             /* next: first that may still wait */
    size_t under_way, batch_max, queue_reserve;
    size_t asked;               /* of under_way: a device waits on them */
    dance_hashtab by_key;
    mdp_prefetch_counters counters;
};

typedef struct pf_key {
    const char *key;
    size_t len;
} pf_key;

static bool key_match(const dance_hashtab_node *n, const void *ctx)
{
    const pf_name *e = DANCE_HASHTAB_ENTRY(n, pf_name, hnode);
    const pf_key *k = ctx;

    return e->len == k->len && memcmp(e->key, k->key, k->len) == 0;
}

void mdp_prefetch_free(mdp_prefetch *pf)
{
    if (pf == NULL)
        return;
    for (size_t i = 0; i < pf->n; i++)
        free(pf->names[i]);
    free(pf->names);
    dance_hashtab_destroy(&pf->by_key);
    free(pf);
}

mdp_prefetch *mdp_prefetch_new(const char *const *identities, const char *const *owners,
                               size_t n, size_t batch_max, size_t queue_reserve)
{
    mdp_prefetch *pf = calloc(1, sizeof(*pf));

    if (pf == NULL)
        return NULL;
    pf->batch_max = batch_max ? batch_max : 1;
    pf->queue_reserve = queue_reserve ? queue_reserve : 1;
    if (dance_hashtab_init(&pf->by_key, 64, n > 64 ? n : 64) != 0) {
        free(pf);
        return NULL;
    }
    pf->names = calloc(n ? n : 1, sizeof(*pf->names));
    if (pf->names == NULL) {
        mdp_prefetch_free(pf);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        size_t olen = strlen(owners[i]), ilen = strlen(identities[i]);
        pf_name *e = calloc(1, sizeof(*e) + olen + ilen + 2);
        pf_key k;
        uint64_t h;

        if (e == NULL) {
            mdp_prefetch_free(pf);
            return NULL;
        }
        memcpy(e->text, owners[i], olen + 1);
        memcpy(e->text + olen + 1, identities[i], ilen + 1);
        e->identity = e->text + olen + 1;
        e->len = dance_cache_key(owners[i], e->key);
        if (e->len == 0) {
            free(e);            /* not a usable owner name: nothing to ask */
            continue;
        }
        k.key = e->key;
        k.len = e->len;
        h = dance_hashtab_hash(&pf->by_key, e->key, e->len);
        if (dance_hashtab_find(&pf->by_key, h, key_match, &k) != NULL) {
            free(e);
            continue;
        }
        dance_hashtab_insert(&pf->by_key, &e->hnode, h);
        pf->names[pf->n++] = e;
    }
    pf->counters.identities = pf->n;
    pf->counters.pending = pf->n;
    return pf;
}

static pf_name *find_owner(const mdp_prefetch *pf, const char *owner);

void mdp_prefetch_tick(mdp_prefetch *pf, mdp_workers *w)
{
    while (pf->next < pf->n && pf->under_way < pf->batch_max) {
        pf_name *e = pf->names[pf->next];
        mdp_workers_stats ws;

        if (e->state != PF_WAITING) {
            pf->next++;
            continue;
        }
        /* leave the rest of the queue to live CONNECTs */
        mdp_workers_get_stats(w, &ws);
        if (ws.queued >= pf->queue_reserve)
            return;
        switch (mdp_workers_submit_fetch(w, e->text)) {
        case MDP_SUBMIT_QUEUED:
        case MDP_SUBMIT_DUPLICATE:  /* a device came first: its answer counts */
            e->state = PF_UNDER_WAY;
            pf->under_way++;
            pf->next++;
            break;
        case MDP_SUBMIT_FULL:
        case MDP_SUBMIT_NOMEM:
        case MDP_SUBMIT_RESULT_COUNT:
            return;                 /* again at the next TICK */
        }
    }
}

/* find_owner - the name for owner, or NULL */
static pf_name *find_owner(const mdp_prefetch *pf, const char *owner)
{
    char key[DANCE_CACHE_OWNER_MAX + 1];
    dance_hashtab_node *n;
    pf_key k;

    k.len = dance_cache_key(owner, key);
    k.key = key;
    if (k.len == 0)
        return NULL;
    n = dance_hashtab_find(&pf->by_key, dance_hashtab_hash(&pf->by_key, key, k.len),
                           key_match, &k);
    return n != NULL ? DANCE_HASHTAB_ENTRY(n, pf_name, hnode) : NULL;
}

bool mdp_prefetch_fetch_done(mdp_prefetch *pf, const mdp_fetch_done *d,
                             const char **identity)
{
    pf_name *e = find_owner(pf, d->owner);

    *identity = NULL;
    if (e == NULL || e->state != PF_UNDER_WAY)
        return false;           /* a device's own lookup, before or after */
    *identity = e->identity;
    e->state = PF_ANSWERED;
    pf->under_way--;
    if (e->asked)
        pf->asked--;
    pf->counters.pending--;
    if (d->status == DANCE_OK)
        pf->counters.secure++;
    else if (d->status == DANCE_NO_RECORD)
        pf->counters.negative++;
    else
        pf->counters.failed++;
    return pf->counters.pending == 0;
}

void mdp_prefetch_asked(mdp_prefetch *pf, const char *owner)
{
    pf_name *e = find_owner(pf, owner);

    if (e != NULL && e->state == PF_UNDER_WAY && !e->asked) {
        e->asked = true;
        pf->asked++;
    }
}

size_t mdp_prefetch_unasked(const mdp_prefetch *pf)
{
    return pf->under_way - pf->asked;
}

bool mdp_prefetch_complete(const mdp_prefetch *pf)
{
    return pf->counters.pending == 0;
}

void mdp_prefetch_get_counters(const mdp_prefetch *pf, mdp_prefetch_counters *out)
{
    *out = pf->counters;
}
