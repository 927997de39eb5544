/*
 * bench/bench_offline.h - the library verifier's state for a benchmark
 * that measures verification and never DNS: a cache warmed with the
 * senders' records, a key cache, an allow-list (acme.example) and a
 * resolver that dance_jws_verify_message requires but is never asked.
 * Like bench_util, every failure exits with status 2 (bu_die).
 */
#ifndef BENCH_OFFLINE_H
#define BENCH_OFFLINE_H

#include <stddef.h>
#include <openssl/evp.h>

#include "dance/cache.h"
#include "dance/jws.h"
#include "dance/keycache.h"
#include "dance/name.h"
#include "dance/resolver.h"

typedef struct bo_verifier {
    dance_cache *cache;
    dance_jws_keycache *keys;
    dance_allowlist *allow;
    dance_resolver *resolver;   /* 127.0.0.1@9: never asked (warm cache) */
    dance_jws_policy pol;       /* allow and keys set, the rest zero */
    dance_jws_source src;       /* cache and resolver */
} bo_verifier;

/* bo_verifier_init - a cache for capacity names, and the rest. */
void bo_verifier_init(bo_verifier *v, size_t capacity);
void bo_verifier_free(bo_verifier *v);

/* bo_publish_key - cache a secure 3 1 0 record of key's SPKI for name
 * (TTL 3600) and return the public key decoded from that SPKI: the raw
 * baseline's key, as a verifier would have it. */
EVP_PKEY *bo_publish_key(bo_verifier *v, const char *name, EVP_PKEY *key);

/* bo_es_der - a JOSE/COSE ECDSA signature (r||s) as DER ECDSA-Sig-Value,
 * the form OpenSSL verifies; free with OPENSSL_free. */
unsigned char *bo_es_der(const unsigned char *raw, size_t rawlen, size_t *outlen);

#endif
