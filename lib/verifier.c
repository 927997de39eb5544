/*
 * verifier.c - dance_verifier: options by name, the parts of an end-to-end
 * verifier (resolver pool, TLSA cache, key cache, DANE matcher, allow-list,
 * policy) built once and shared by threads.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dance/cose.h"
#include "dance/error.h"
#include "dance/provision.h"
#include "dance/verifier.h"

/* Idle resolvers kept for reuse; more threads than this at once make
 * their own and free them after the call. */
#define VERIFIER_POOL_MAX 16

struct dance_verifier {
    /* options (owned copies) */
    char *upstreams, *anchor, *tls_name, *label, *cafile;
    unsigned long timeout_ms, max_skew, max_size, cache_max_ttl, replay_window;
    dance_dns_transport transport;
    bool transport_set, require_iat, require_topic;
    dance_allowlist *allow;
    EVP_PKEY *key;                  /* offline mode when set */

    /* built by dance_verifier_start */
    bool started;
    dance_resolver_config rcfg;
    dance_matcher *matcher;
    dance_jws_keycache *keys;
    dance_cache *cache;
    dance_replay *replay;
    dance_jws_policy pol;

    pthread_mutex_t lock;           /* guards idle and n_idle */
    dance_resolver *idle[VERIFIER_POOL_MAX];
    size_t n_idle;
};

dance_verifier *dance_verifier_new(void)
{
    dance_verifier *v = calloc(1, sizeof(*v));

    if (v == NULL)
        return NULL;
    if (pthread_mutex_init(&v->lock, NULL) != 0) {
        free(v);
        return NULL;
    }
    v->cache_max_ttl = 3600;
    return v;
}

void dance_verifier_free(dance_verifier *v)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; i < v->n_idle; i++)
        dance_resolver_free(v->idle[i]);
    dance_cache_free(v->cache);
    dance_replay_free(v->replay);
    dance_jws_keycache_free(v->keys);
    dance_matcher_free(v->matcher);
    dance_allowlist_free(v->allow);
    EVP_PKEY_free(v->key);
    free(v->upstreams);
    free(v->anchor);
    free(v->tls_name);
    free(v->label);
    free(v->cafile);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

/* set_string - replace *dst with a copy of value */
static int set_string(char **dst, const char *name, const char *value,
                      char *err, size_t errlen)
{
    char *copy = strdup(value);

    if (copy == NULL) {
        dance_set_err(err, errlen, "out of memory setting %s", name);
        return -1;
    }
    free(*dst);
    *dst = copy;
    return 0;
}

/* set_number - a decimal in [lo, hi] into *dst */
static int set_number(unsigned long *dst, const char *name, const char *value,
                      unsigned long lo, unsigned long hi, char *err, size_t errlen)
{
    char *end;
    unsigned long n;

    errno = 0;
    n = strtoul(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || n < lo || n > hi) {
        dance_set_err(err, errlen, "%s must be a number from %lu to %lu, not \"%.40s\"",
                      name, lo, hi, value);
        return -1;
    }
    *dst = n;
    return 0;
}

/* set_bool - "true" or "false" into *dst */
static int set_bool(bool *dst, const char *name, const char *value, char *err, size_t errlen)
{
    if (strcmp(value, "true") == 0)
        *dst = true;
    else if (strcmp(value, "false") == 0)
        *dst = false;
    else {
        dance_set_err(err, errlen, "%s must be true or false, not \"%.40s\"", name, value);
        return -1;
    }
    return 0;
}

int dance_verifier_set(dance_verifier *v, const char *name, const char *value,
                       char *err, size_t errlen)
{
    if (v == NULL || name == NULL || value == NULL) {
        dance_set_err(err, errlen, "dance_verifier_set needs a verifier, a name and a value");
        return -1;
    }
    if (v->started) {
        dance_set_err(err, errlen, "option %.40s set after the verifier started", name);
        return -1;
    }
    if (strcmp(name, "resolver") == 0)
        return set_string(&v->upstreams, name, value, err, errlen);
    if (strcmp(name, "trust_anchor") == 0)
        return set_string(&v->anchor, name, value, err, errlen);
    if (strcmp(name, "tls_auth_name") == 0)
        return set_string(&v->tls_name, name, value, err, errlen);
    if (strcmp(name, "cafile") == 0)
        return set_string(&v->cafile, name, value, err, errlen);
    if (strcmp(name, "service_label") == 0) {
        if (value[0] != '_') {
            dance_set_err(err, errlen, "service_label must start with '_' (e.g. _mqtt), "
                          "not \"%.40s\"", value);
            return -1;
        }
        return set_string(&v->label, name, value, err, errlen);
    }
    if (strcmp(name, "timeout") == 0)
        return set_number(&v->timeout_ms, name, value, 1, 600000, err, errlen);
    if (strcmp(name, "max_skew") == 0)
        return set_number(&v->max_skew, name, value, 1, UINT32_MAX, err, errlen);
    if (strcmp(name, "max_size") == 0)
        return set_number(&v->max_size, name, value, 1, 64ul * 1024 * 1024, err, errlen);
    if (strcmp(name, "cache_max_ttl") == 0)
        return set_number(&v->cache_max_ttl, name, value, 0, 86400, err, errlen);
    if (strcmp(name, "replay_window") == 0)
        return set_number(&v->replay_window, name, value, 0, 86400, err, errlen);
    if (strcmp(name, "require_iat") == 0)
        return set_bool(&v->require_iat, name, value, err, errlen);
    if (strcmp(name, "require_topic") == 0)
        return set_bool(&v->require_topic, name, value, err, errlen);
    if (strcmp(name, "dns_transport") == 0) {
        if (dance_dns_transport_parse(value, &v->transport) != 0) {
            dance_set_err(err, errlen, "unknown dns_transport \"%.40s\" (udp, tcp or tls)",
                          value);
            return -1;
        }
        v->transport_set = true;
        return 0;
    }
    if (strcmp(name, "allowed_domains") == 0) {
        char why[DANCE_REASON_MAX];
        dance_allowlist *al = dance_allowlist_parse(value, why, sizeof(why));
        if (al == NULL) {
            dance_set_err(err, errlen, "allowed_domains: %s", why);
            return -1;
        }
        dance_allowlist_free(v->allow);
        v->allow = al;
        return 0;
    }
    if (strcmp(name, "key") == 0) {
        EVP_PKEY *key = dance_public_key_from_pem(value, strlen(value), err, errlen);
        if (key == NULL)
            return -1;
        EVP_PKEY_free(v->key);
        v->key = key;
        return 0;
    }
    dance_set_err(err, errlen, "unknown verifier option \"%.40s\"", name);
    return -1;
}

/* pool_take - an idle resolver, or a new one (NULL with a reason) */
static dance_resolver *pool_take(dance_verifier *v, char *err, size_t errlen)
{
    dance_resolver *r = NULL;

    pthread_mutex_lock(&v->lock);
    if (v->n_idle > 0)
        r = v->idle[--v->n_idle];
    pthread_mutex_unlock(&v->lock);
    if (r == NULL)
        r = dance_resolver_new(&v->rcfg, err, errlen);
    return r;
}

/* pool_give - back to the pool, or freed when the pool is full */
static void pool_give(dance_verifier *v, dance_resolver *r)
{
    pthread_mutex_lock(&v->lock);
    if (v->n_idle < VERIFIER_POOL_MAX) {
        v->idle[v->n_idle++] = r;
        r = NULL;
    }
    pthread_mutex_unlock(&v->lock);
    dance_resolver_free(r);
}

int dance_verifier_start(dance_verifier *v, char *err, size_t errlen)
{
    dance_resolver *r;

    if (v == NULL || v->started) {
        dance_set_err(err, errlen, "verifier missing or already started");
        return -1;
    }
    memset(&v->pol, 0, sizeof(v->pol));
    v->pol.allow = v->allow;
    v->pol.service_label = v->label;
    v->pol.require_iat = v->require_iat;
    v->pol.require_topic = v->require_topic;
    v->pol.max_skew = (uint32_t)v->max_skew;
    if (v->replay_window > 0) {
        v->replay = dance_replay_new(0, (uint32_t)v->replay_window, NULL, NULL);
        if (v->replay == NULL) {
            dance_set_err(err, errlen, "out of memory making the replay cache");
            return -1;
        }
        v->pol.replay = v->replay;
    }
    if (v->key != NULL) {
        if (v->upstreams || v->anchor || v->tls_name || v->label || v->transport_set
            || v->timeout_ms) {
            dance_set_err(err, errlen, "a key verifies offline: the DNS options (resolver, "
                          "trust_anchor, timeout, dns_transport, tls_auth_name, "
                          "service_label) do not apply");
            return -1;
        }
        v->started = true;
        return 0;
    }
    memset(&v->rcfg, 0, sizeof(v->rcfg));
    v->rcfg.upstreams = v->upstreams;
    v->rcfg.trust_anchor_file = v->anchor;
    v->rcfg.timeout_ms = (unsigned)v->timeout_ms;
    v->rcfg.transport = v->transport;
    v->rcfg.tls_auth_name = v->tls_name;
    if (dance_resolver_config_check(&v->rcfg, err, errlen) != 0)
        return -1;
    if ((v->matcher = dance_matcher_new(v->cafile, err, errlen)) == NULL)
        return -1;
    if ((v->keys = dance_jws_keycache_new(0)) == NULL) {
        dance_set_err(err, errlen, "out of memory making the key cache");
        return -1;
    }
    if (v->cache_max_ttl > 0) {
        dance_cache_config cc;
        memset(&cc, 0, sizeof(cc));
        cc.max_ttl = (uint32_t)v->cache_max_ttl;
        if ((v->cache = dance_cache_new(&cc)) == NULL) {
            dance_set_err(err, errlen, "out of memory making the TLSA cache");
            return -1;
        }
    }
    v->pol.matcher = v->matcher;
    v->pol.keys = v->keys;
    if ((r = dance_resolver_new(&v->rcfg, err, errlen)) == NULL)
        return -1;
    v->idle[v->n_idle++] = r;
    v->started = true;
    return 0;
}

dance_status dance_verifier_verify(dance_verifier *v, const void *msg, size_t len,
                                   const char *topic, dance_jws_result *res)
{
    dance_jws_policy pol;
    dance_jws_source src;
    dance_jws *jws = NULL;
    dance_status st;

    dance_jws_result_clear(res);
    if (v == NULL || !v->started) {
        dance_set_err(res->reason, sizeof(res->reason), "the verifier was not started");
        return res->status = DANCE_INTERNAL;
    }
    pol = v->pol;
    pol.topic = topic;
    if (v->key != NULL) {
        st = dance_message_parse(msg, len, v->max_size, &jws, res->sender, res->reason,
                                 sizeof(res->reason));
        if (st != DANCE_OK)
            res->status = st;
        else
            dance_jws_verify_key(jws, v->key, "offline key", &pol, res);
        dance_jws_free(jws);
        return res->status;
    }
    memset(&src, 0, sizeof(src));
    src.cache = v->cache;
    src.resolver = pool_take(v, res->reason, sizeof(res->reason));
    if (src.resolver == NULL)
        return res->status = DANCE_INTERNAL;
    dance_jws_verify_message(msg, len, v->max_size, &pol, &src, res);
    pool_give(v, src.resolver);
    return res->status;
}
