/*
 * bench/bench_offline.c - the library verifier's state for verification
 * benchmarks (see bench_offline.h).
 */
#include "bench_offline.h"

#include <string.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/x509.h>

#include "bench_util.h"
#include "dance/status.h"
#include "dance/tlsa.h"

void bo_verifier_init(bo_verifier *v, size_t capacity)
{
    char err[DANCE_REASON_MAX];
    dance_cache_config cc;
    dance_resolver_config rc;

    memset(v, 0, sizeof(*v));
    memset(&cc, 0, sizeof(cc));
    cc.capacity = capacity;
    v->cache = dance_cache_new(&cc);
    v->keys = dance_jws_keycache_new(0);
    v->allow = dance_allowlist_parse("acme.example", err, sizeof(err));
    if (v->cache == NULL || v->keys == NULL || v->allow == NULL)
        bu_die("cannot make cache/keycache/allow-list: %s", err);
    /* Required by dance_jws_verify_message, never asked: the cache is warm
     * (the programs print its query count, which must stay 0). */
    memset(&rc, 0, sizeof(rc));
    rc.upstreams = "127.0.0.1@9";
    rc.timeout_ms = 100;
    if ((v->resolver = dance_resolver_new(&rc, err, sizeof(err))) == NULL)
        bu_die("dance_resolver_new: %s", err);
    v->pol.allow = v->allow;
    v->pol.keys = v->keys;
    v->src.cache = v->cache;
    v->src.resolver = v->resolver;
}

void bo_verifier_free(bo_verifier *v)
{
    dance_cache_free(v->cache);
    dance_jws_keycache_free(v->keys);
    dance_allowlist_free(v->allow);
    dance_resolver_free(v->resolver);
    memset(v, 0, sizeof(*v));
}

EVP_PKEY *bo_publish_key(bo_verifier *v, const char *name, EVP_PKEY *key)
{
    unsigned char *spki = NULL;
    const unsigned char *p;
    dance_tlsa_result tr;
    EVP_PKEY *pub;
    int n = i2d_PUBKEY(key, &spki);

    p = spki;
    if (n <= 0 || (pub = d2i_PUBKEY(NULL, &p, n)) == NULL)
        bu_die("SPKI round trip failed");
    memset(&tr, 0, sizeof(tr));
    tr.status = DANCE_OK;
    tr.ttl = 3600;
    if (dance_tlsa_rrset_add(&tr.records, 3, 1, 0, spki, (size_t)n) != 0
        || dance_cache_put(v->cache, name, &tr) != 0)
        bu_die("cannot cache the record of %s", name);
    dance_tlsa_result_clear(&tr);
    OPENSSL_free(spki);
    return pub;
}

unsigned char *bo_es_der(const unsigned char *raw, size_t rawlen, size_t *outlen)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)(rawlen / 2), NULL);
    BIGNUM *s = BN_bin2bn(raw + rawlen / 2, (int)(rawlen / 2), NULL);
    unsigned char *der = NULL;
    int n;

    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
        bu_die("ECDSA_SIG conversion failed");
    n = i2d_ECDSA_SIG(es, &der);
    if (n <= 0)
        bu_die("i2d_ECDSA_SIG failed");
    ECDSA_SIG_free(es);
    *outlen = (size_t)n;
    return der;
}
