/*
 * dance/keycache.h - the verifiers' cache of public keys decoded from TLSA
 * records (jws.h, token.h: dance_jws_policy.keys, dance_token_policy.keys).
 */
#ifndef DANCE_KEYCACHE_H
#define DANCE_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dance_jws_keycache dance_jws_keycache;

/* A bounded, thread-safe LRU of public keys decoded from TLSA record data
 * (and of x5c match outcomes), so that a warm sender costs one signature
 * check and a hash lookup. Keys are looked up by the exact record bytes (x5c
 * outcomes by a SHA-256 digest of sender, records and chain), so a changed
 * or removed record can never reuse an old key. An x5c key is kept only
 * after a message's signature verified with it; x5c chains that did not
 * match are remembered in a separate share (capacity / 4 + 1 entries on top
 * of capacity) that never evicts keys, so forged messages cannot push out
 * or shadow the keys real senders need. x5c outcomes are kept at most
 * DANCE_JWS_X5C_CACHE_SECONDS (certificate dates matter for DANE-TA).
 * capacity 0: 1024 keys. */
#define DANCE_JWS_X5C_CACHE_SECONDS 60
dance_jws_keycache *dance_jws_keycache_new(size_t capacity);
void dance_jws_keycache_free(dance_jws_keycache *kc);

typedef struct dance_jws_keycache_stats {
    uint64_t hits, misses, evictions;
    uint64_t entries;               /* keys and remembered refusals */
    uint64_t refusals;              /* of which remembered x5c refusals */
} dance_jws_keycache_stats;
void dance_jws_keycache_get_stats(dance_jws_keycache *kc, dance_jws_keycache_stats *out);

#ifdef __cplusplus
}
#endif
#endif
