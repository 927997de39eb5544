/*
 * jwe_internal.h - the JWE primitives (jwe_crypto.c) that lib/jwe.c builds
 * on, shared with the unit tests that check them against the RFC 7518 and
 * RFC 3394 vectors. Every call returns 0, or -1 (nothing written to the
 * caller's output buffers that could be mistaken for a result) and leaves
 * the thread's OpenSSL error queue empty.
 *
 * Written with OpenSSL 3 because cjose 0.6.2 lacks them where they are
 * needed: it has no RSA-OAEP-256 (only RSA-OAEP with SHA-1; it refuses an
 * RSA-OAEP-256 message at import) and no ECDH-ES+A256KW, and its JWE calls
 * keep the content encryption key to themselves, so the content cannot be
 * decrypted there with a key unwrapped here. It does have ECDH-ES with
 * A256GCM and A256CBC-HS512, and the unit tests use it as an independent
 * implementation of those; decrypting them here too keeps one failure path
 * for every algorithm, which the no-oracle rule (jwe.h) needs.
 */
#ifndef DANCE_JWE_INTERNAL_H
#define DANCE_JWE_INTERNAL_H

#include <stddef.h>
#include <openssl/evp.h>

/* Sizes of RFC 7518 5.2.5 (A256CBC-HS512) and 5.3 (A256GCM). */
#define JWE_CBC_KEY_LEN 64      /* MAC_KEY || ENC_KEY */
#define JWE_CBC_IV_LEN  16
#define JWE_CBC_TAG_LEN 32
#define JWE_GCM_KEY_LEN 32
#define JWE_GCM_IV_LEN  12
#define JWE_GCM_TAG_LEN 16
#define JWE_KW_OVERHEAD 8       /* RFC 3394 integrity block */

/* jwe_concat_kdf - RFC 7518 4.6.2: the Concat KDF of NIST SP 800-56A with
 * SHA-256 over Z, OtherInfo = AlgorithmID || PartyUInfo || PartyVInfo
 * (each a 32-bit big-endian length and its bytes) || SuppPubInfo (outlen
 * in bits, 32-bit big-endian); OpenSSL's SSKDF does the hashing. */
int jwe_concat_kdf(const unsigned char *z, size_t zlen, const char *algid,
                   const unsigned char *apu, size_t apulen,
                   const unsigned char *apv, size_t apvlen,
                   unsigned char *out, size_t outlen);

/* jwe_ecdh - the shared secret Z of priv and peer (same curve, P-256 or
 * P-384; the peer's point must have been decoded by OpenSSL, which checks
 * it is on the curve). *z is malloc'd, *zlen bytes; wipe and free it. */
int jwe_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, unsigned char **z, size_t *zlen);

/* jwe_aes_kw - RFC 3394 AES-256 key wrap (wrap: out gets inlen + 8 bytes)
 * and unwrap (out gets inlen - 8 bytes; -1 when the integrity check
 * fails). kek is 32 bytes. */
int jwe_aes_kw_wrap(const unsigned char *kek, const unsigned char *in, size_t inlen,
                    unsigned char *out);
int jwe_aes_kw_unwrap(const unsigned char *kek, const unsigned char *in, size_t inlen,
                      unsigned char *out);

/* jwe_rsa_oaep256 - RSA-OAEP with SHA-256 and MGF1-SHA-256. encrypt: *out
 * malloc'd (modulus size). decrypt: -1 on any failure, *out malloc'd on
 * success. */
int jwe_rsa_oaep256_encrypt(EVP_PKEY *pub, const unsigned char *in, size_t inlen,
                            unsigned char **out, size_t *outlen);
int jwe_rsa_oaep256_decrypt(EVP_PKEY *priv, const unsigned char *in, size_t inlen,
                            unsigned char **out, size_t *outlen);

/* Content encryption (RFC 7518 5.2 and 5.3). key, iv and tag have the
 * sizes above; ciphertext out buffers hold inlen + 16 bytes (CBC padding),
 * plaintext out buffers inlen bytes. Decryption checks the tag first (in
 * constant time) and writes *outlen only on success. */
int jwe_cbc_hs512_encrypt(const unsigned char *key, const unsigned char *iv,
                          const unsigned char *aad, size_t aadlen,
                          const unsigned char *in, size_t inlen,
                          unsigned char *out, size_t *outlen, unsigned char *tag);
int jwe_cbc_hs512_decrypt(const unsigned char *key, const unsigned char *iv,
                          const unsigned char *aad, size_t aadlen,
                          const unsigned char *in, size_t inlen,
                          const unsigned char *tag, unsigned char *out, size_t *outlen);
int jwe_gcm_encrypt(const unsigned char *key, const unsigned char *iv,
                    const unsigned char *aad, size_t aadlen,
                    const unsigned char *in, size_t inlen,
                    unsigned char *out, size_t *outlen, unsigned char *tag);
int jwe_gcm_decrypt(const unsigned char *key, const unsigned char *iv,
                    const unsigned char *aad, size_t aadlen,
                    const unsigned char *in, size_t inlen,
                    const unsigned char *tag, unsigned char *out, size_t *outlen);

#endif
