/*
 * jws_internal.h - what the lib/jws*.c files share and nobody else sees:
 * the parsed message, the algorithm table, the signature primitives and
 * the key cache's lookup/insert calls. What token.c also needs is in
 * sender.h.
 */
#ifndef DANCE_JWS_INTERNAL_H
#define DANCE_JWS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "dance/error.h"
#include "dance/jws.h"
#include "sender.h"

struct cJSON;

/* The parsed message. Everything it points at is owned by it. */
struct dance_jws {
    dance_jws_header h;                 /* what callers see; strings below */
    char sender[DANCE_NAME_MAX + 1];
    char *kid, *x5u, *jti, *topic;
    char *typ;                          /* as sent ("" when not a string);
                                           NULL when absent */
    char *cty;                          /* the same for cty */
    bool crit_iat, crit_jti, crit_topic;/* named in crit: must be enforced */

    char *buf;                          /* copy of the input, NUL-terminated */
    char *si_owned;                     /* signing input built for JSON form */
    const char *signing_input;          /* ASCII(protected '.' payload) */
    size_t signing_input_len;
    const char *payload_b64;            /* inside signing_input */
    size_t payload_b64_len;
    unsigned char *sig;                 /* decoded signature (malloc) */
    size_t sig_len;
    unsigned char *x5c_der[DANCE_JWS_X5C_MAX]; /* decoded, not yet parsed */
    size_t x5c_len[DANCE_JWS_X5C_MAX];

    /* COSE_Sign1 (cose_parse.c): signing_input is the Sig_structure (in
     * si_owned) and the payload is raw bytes inside buf, not base64url. */
    bool cose;
    const unsigned char *payload_raw;
    size_t payload_raw_len;
};

/* Algorithm properties (jws_alg.c). */
typedef enum jws_family { JWS_FAMILY_EC, JWS_FAMILY_RSA, JWS_FAMILY_RSA_PSS,
                          JWS_FAMILY_EDDSA } jws_family;

typedef struct jws_alg_info {
    const char *name;       /* JOSE name */
    jws_family family;
    const char *md;         /* digest name for EVP_MD_fetch; NULL for EdDSA */
    int curve_nid;          /* EC only */
    size_t coord_len;       /* EC only: bytes of r and of s */
} jws_alg_info;

const jws_alg_info *jws_alg_get(dance_jws_alg alg);

/* RSA size bounds: below the minimum is weak; far above it only makes each
 * verification slow (a cheap way to burn a verifier's CPU). */
#define JWS_RSA_MIN_BITS 2048
#define JWS_RSA_MAX_BITS 8192

/* jws_key_alg_mask - bit (1 << alg) set for every algorithm the key fits
 * (dance_jws_key_fits == 0); worked out once per decoded key, because the
 * curve lookup goes through OpenSSL's parameter machinery */
uint32_t jws_key_alg_mask(EVP_PKEY *key);

/* jws_sign_check_opts - what the verifier would refuse, refused when
 * signing (jws_sign.c; cose_sign.c too): key, sender name (normalised into
 * name, DANCE_NAME_MAX + 1 bytes), algorithm (o->alg or the key's default)
 * and its fit, jti, topic, x5c. 0, or -1 with a reason. */
int jws_sign_check_opts(const dance_jws_sign_opts *o, dance_jws_alg *alg, char *name,
                        char *err, size_t errlen);

/* jws_record_key - the public key a 3 1 0 / 3 0 0 record holds: its
 * SubjectPublicKeyInfo or its certificate's key, with no trailing bytes;
 * NULL for anything else (jws_verify.c; jwe.c encrypts to it). */
EVP_PKEY *jws_record_key(const dance_tlsa_rr *rr);

/* jws_ec_point_key - an EC public key ("P-256", "P-384", ...) from an
 * uncompressed point, which OpenSSL checks is on the curve; NULL if not
 * (jws_verify.c; jwe.c reads an epk with it). */
EVP_PKEY *jws_ec_point_key(const char *group, const unsigned char *pt, size_t len);

/* jws_sig_verify - check sig over data with pkey for alg (the caller has
 * already checked dance_jws_key_fits). Returns 1 valid, 0 invalid, -1 on an
 * internal error. Leaves the thread's OpenSSL error queue empty. */
int jws_sig_verify(dance_jws_alg alg, EVP_PKEY *pkey,
                   const unsigned char *data, size_t datalen,
                   const unsigned char *sig, size_t siglen);

/* jws_sig_create - sign data; *sig (malloc) holds the JOSE form (raw r||s
 * for ECDSA). 0, or -1 with a reason. */
int jws_sig_create(dance_jws_alg alg, EVP_PKEY *pkey,
                   const unsigned char *data, size_t datalen,
                   unsigned char **sig, size_t *siglen, char *err, size_t errlen);

/* Strict base64url (RFC 7515 section 2: no padding, no whitespace, unused
 * bits zero); *out is malloc'd with one extra NUL byte after *outlen bytes.
 * jws_b64url_valid only checks. */
bool jws_b64url_valid(const char *s, size_t len);
int jws_b64url_decode(const char *s, size_t len, unsigned char **out, size_t *outlen);
/* jws_b64_decode - strict standard base64 with '=' padding (RFC 4648
 * section 4, as x5c uses), same output rules as jws_b64url_decode. */
int jws_b64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen);
/* jws_b64url_encode - malloc'd NUL-terminated text; NULL on failure. */
char *jws_b64url_encode(const unsigned char *data, size_t len, size_t *outlen);

/* Strict JSON for headers and claims (jws_parse.c). jws_json_parse: one
 * JSON value filling s[0..len) exactly (whitespace around allowed); NULL
 * for anything else, including NUL bytes and \u0000 escapes (cJSON would
 * cut a string there, and a name could read as a different one).
 * jws_json_object_unique: obj is an object with at most max members and no
 * repeated member name (RFC 7515 4: a sender could mean one value and the
 * verifier read another). */
struct cJSON *jws_json_parse(const char *s, size_t len);
bool jws_json_object_unique(const struct cJSON *obj, int max);

/* Key cache entries (jws_keycache.c). A value is either a key (pkey, the
 * record it came from) or, for x5c, a remembered refusal (pkey NULL,
 * status and reason). */
typedef struct jws_key_value {
    EVP_PKEY *pkey;                 /* a reference, or NULL */
    uint32_t alg_mask;              /* jws_key_alg_mask(pkey) */
    uint8_t usage, selector, mtype; /* record the key came from / matched */
    dance_status status;            /* for refusals */
    char reason[DANCE_REASON_MAX];
} jws_key_value;

/* jws_keycache_get - true on a hit: *out filled, out->pkey holds a new
 * reference the caller frees. lookups with an expired entry miss. */
bool jws_keycache_get(dance_jws_keycache *kc, const unsigned char *k, size_t klen,
                      jws_key_value *out);
/* jws_keycache_put - store a copy of k and a reference to v->pkey, living
 * max_age_ms (0: until evicted). Silently does nothing on ENOMEM. */
void jws_keycache_put(dance_jws_keycache *kc, const unsigned char *k, size_t klen,
                      const jws_key_value *v, uint64_t max_age_ms);

#endif
