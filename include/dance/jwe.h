/*
 * dance/jwe.h - JWE messages (RFC 7516) encrypted to a DNS-named recipient:
 * encrypt to the recipient's public key (from a certificate, or from its
 * DNSSEC-secure TLSA records, 3 1 0 / 3 0 0, the keys dance_jws_verify
 * uses), decrypt with one's own private key.
 *
 * Algorithms (RFC 7518):
 *   alg  RSA-OAEP-256 (RSA >= 2048 bits), ECDH-ES and ECDH-ES+A256KW
 *        (P-256, P-384)
 *   enc  A256GCM (default), A256CBC-HS512 (the DANCE MQTT prototype's)
 * Serializations read: compact; JSON, flattened or general with exactly one
 * recipient, every header parameter in the protected header (the form the
 * DANCE prototype writes). Written: compact, or flattened JSON.
 *
 * Refused before any key is used: sizes over the caller's maximum
 * (TOO_LARGE), structure, base64url and JSON errors (MALFORMED), alg or enc
 * missing or outside the lists above (BAD_ALG), zip (compression before
 * encryption leaks the plaintext through its length), crit, non-empty
 * unprotected or per-recipient headers, aad, more than one recipient, and cty "JWE"
 * (UNSUPPORTED), a key that does not fit alg (KEY_MISMATCH).
 * No oracle: once the key is used, every failure (RSA-OAEP or AES key wrap
 * refusing the encrypted key, a wrong-length key, a tag or HMAC that does
 * not verify, bad padding) is the one status DANCE_DECRYPT_FAILED with the
 * one reason "decryption failed"; a failed RSA or key-wrap unwrap goes on
 * with a random key, so it takes the path a bad tag takes (RFC 7516 11.5).
 * A plaintext that is itself a JWE (nested encryption) is refused
 * (UNSUPPORTED) after decryption. The plaintext is handed out only when
 * everything passed; never a part of it.
 *
 * Ownership: a dance_jwe_result owns its plaintext (free with
 * dance_jwe_result_clear); encrypt output is freed with free().
 */
#ifndef DANCE_JWE_H
#define DANCE_JWE_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/evp.h>

#include "dance/jws.h"
#include "dance/name.h"
#include "dance/status.h"
#include "dance/tlsa.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dance_jwe_alg {
    DANCE_JWE_RSA_OAEP_256,
    DANCE_JWE_ECDH_ES,
    DANCE_JWE_ECDH_ES_A256KW,
    DANCE_JWE_ALG_COUNT
} dance_jwe_alg;

typedef enum dance_jwe_enc {
    DANCE_JWE_A256GCM,
    DANCE_JWE_A256CBC_HS512,
    DANCE_JWE_ENC_COUNT
} dance_jwe_enc;

/* JOSE names ("RSA-OAEP-256", "A256GCM", ...); "unknown" out of range. */
const char *dance_jwe_alg_name(dance_jwe_alg alg);
const char *dance_jwe_enc_name(dance_jwe_enc enc);
/* exact JOSE names (case-sensitive): 0, or -1 */
int dance_jwe_alg_parse(const char *name, dance_jwe_alg *out);
int dance_jwe_enc_parse(const char *name, dance_jwe_enc *out);

/* Default bound for the input (the whole JWE) when the caller gives 0. */
#define DANCE_JWE_MAX_SIZE_DEFAULT (64u * 1024u)

/* The one reason of every failure once the private key is used. */
#define DANCE_JWE_DECRYPT_FAILED_REASON "decryption failed"

typedef struct dance_jwe_result {
    dance_status status;            /* DANCE_OK only when decrypted */
    dance_jwe_alg alg;              /* valid when has_alg */
    dance_jwe_enc enc;
    bool has_alg;
    dance_jws_serialization serialization; /* COMPACT or FLATTENED (JSON,
                                       either JSON form) */
    char recipient[DANCE_NAME_MAX + 1]; /* name from a protected x5u DNS URI,
                                       "" when none or not a DNS URI */
    unsigned char *plaintext;       /* owned, only when decrypted; a NUL
                                       follows the plaintext_len bytes */
    size_t plaintext_len;
    char reason[DANCE_REASON_MAX];  /* why refused, "" when decrypted */
} dance_jwe_result;

/* dance_jwe_result_clear - free the plaintext (wiped first) and reset
 * (status INTERNAL, empty strings). The result must start zeroed. */
void dance_jwe_result_clear(dance_jwe_result *res);

/* dance_jwe_decrypt - decrypt len bytes of data (not NUL-terminated; white
 * space around it is ignored) with key, the recipient's private key (RSA,
 * or EC P-256/P-384). max_size 0 means DANCE_JWE_MAX_SIZE_DEFAULT. Fills
 * res (cleared first) and returns its status: DANCE_OK with the plaintext,
 * or a refusal as listed at the top of this file (INTERNAL on allocation
 * or OpenSSL failure before the key is used). Thread-safe. */
dance_status dance_jwe_decrypt(const void *data, size_t len, size_t max_size,
                               EVP_PKEY *key, dance_jwe_result *res);

/* dance_jwe_is_jwe - whether the len bytes at data look like a JWE rather
 * than a JWS: a compact form of five dot-separated base64url parts, or a
 * JSON object with a "ciphertext" member (white space around either
 * ignored). Structure only: nothing is decoded but the JSON. */
bool dance_jwe_is_jwe(const void *data, size_t len);

/* dance_jwe_type_is_jwe - whether a typ or cty value names a JWE ("JWE" or
 * "application/jwe", without case): a JWS with such a cty carries a JWE as
 * its payload (encrypt-then-sign). false for NULL. */
bool dance_jwe_type_is_jwe(const char *type);

/* dance_jws_carries_jwe - whether len bytes at data are a JWS whose
 * protected cty names a JWE (encrypt-then-sign: its payload, once the JWS
 * is verified, is to be decrypted). Parse only: nothing is verified. */
bool dance_jws_carries_jwe(const void *data, size_t len);

/* dance_jwe_decrypt_pem - dance_jwe_decrypt with the private key as PEM
 * text, for callers without OpenSSL types (bindings). On DANCE_OK *out is
 * the plaintext (NUL-terminated, *outlen bytes), freed with
 * dance_jwe_output_free; otherwise *out is NULL and reason says why (as in
 * dance_jwe_result; INTERNAL also for a key that does not load). */
dance_status dance_jwe_decrypt_pem(const char *key_pem, const void *data, size_t len,
                                   size_t max_size, unsigned char **out, size_t *outlen,
                                   char *reason, size_t reasonlen);

/* dance_jwe_output_free - wipe len bytes of a plaintext from
 * dance_jwe_decrypt_pem, then free it; NULL-safe. */
void dance_jwe_output_free(unsigned char *out, size_t len);

typedef struct dance_jwe_encrypt_opts {
    EVP_PKEY *key;                  /* recipient's public key (required) */
    const char *recipient;          /* DNS name: x5u "dns://NAME?type=TLSA"
                                       in the protected header; NULL: none */
    const char *alg;                /* NULL: RSA-OAEP-256 for RSA, ECDH-ES
                                       for EC keys */
    const char *enc;                /* NULL: A256GCM */
    const char *cty;                /* protected cty; NULL: none ("JWE" is
                                       refused: no nesting) */
    dance_jws_serialization serialization; /* COMPACT or FLATTENED */
} dance_jwe_encrypt_opts;

/* dance_jwe_encrypt - encrypt len bytes of plaintext. *out is a
 * NUL-terminated string (compact, or flattened JSON without a newline) of
 * *outlen bytes, freed with free(). 0, or -1 with a reason (a key that does
 * not fit the algorithm, an unknown alg or enc, an invalid recipient name,
 * an RNG or OpenSSL failure). */
int dance_jwe_encrypt(const dance_jwe_encrypt_opts *o, const void *plaintext,
                      size_t len, char **out, size_t *outlen, char *err, size_t errlen);

/* dance_jwe_key_from_tlsa - the key to encrypt to from a recipient's
 * TLSA RRset (which must come from a DNSSEC-secure answer): the first 3 1 0
 * or 3 0 0 record holding an RSA (>= 2048 bits) or EC P-256/P-384 key, the
 * records dance_jws_verify takes keys from. NULL with a reason
 * (NO_USABLE_RECORD in *st) when none does. The caller frees the key. */
EVP_PKEY *dance_jwe_key_from_tlsa(const dance_tlsa_rrset *set, dance_status *st,
                                  char *err, size_t errlen);

/* dance_jwe_recipient_key - fetch the TLSA RRset of name (at its owner name
 * as service_label says, see dance_owner_name) from src, through its cache
 * when it has one, and take the key from it as dance_jwe_key_from_tlsa.
 * NULL with *st (LOOKUP_FAILED, NO_RECORD, INSECURE, BOGUS,
 * NO_USABLE_RECORD, BAD_SENDER for a name without an owner name, INTERNAL)
 * and a reason. */
EVP_PKEY *dance_jwe_recipient_key(const dance_jws_source *src, const char *name,
                                  const char *service_label, dance_status *st,
                                  char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
