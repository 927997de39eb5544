/*
 * dance/jws.h - JWS messages signed by DNS-named senders (message-level
 * DANCE): parse, verify against the sender's DNSSEC-secure TLSA records,
 * sign.
 *
 * Two steps so that a host (the Mosquitto plugin) can split the work:
 *
 *   dance_jws_parse    cheap, no crypto, no DNS, no X.509 parsing: checks the
 *                      structure and the protected header and names the
 *                      sender. Safe on the broker thread.
 *   dance_jws_check    header-only policy (typ, allow-list, iat window, topic);
 *                      also cheap. dance_jws_verify repeats it.
 *   dance_jws_verify   given the sender's secure TLSA RRset: key from the
 *                      records (or x5c matched to them), algorithm/key fit,
 *                      signature, then the replay cache (one verified copy
 *                      per message). Thread-safe; the parsed message is only
 *                      read.
 *
 * dance_jws_verify_message chains parse -> allow-list -> cache/resolver ->
 * verify for the CLI and end-to-end subscribers.
 *
 * Conventions (doc/formats.md, "Signed messages"):
 *   - Serializations: compact, and flattened JSON ({"protected","payload",
 *     "signature"} plus an optional unprotected "header", which is never used
 *     for the sender, the algorithm or any policy).
 *   - Sender: protected "kid" (a DNS name, or a DNS URI as below) and/or
 *     "x5u" = RFC 4501 DNS URI: dns:NAME?type=TLSA, dns://AUTHORITY/NAME?
 *     type=TLSA (authority ignored), or dns://NAME?type=TLSA (the form
 *     existing DANCE prototypes emit). Both present: they must name the same
 *     DNS name.
 *   - Algorithms: ES256/384/512 (P-256/384/521 only), RS256/384/512 and
 *     PS256/384/512 (RSA >= 2048 bits), EdDSA (Ed25519). Never none or HS*.
 *   - Keys: DANE-EE records holding the full key (3 1 0) or certificate
 *     (3 0 0) give the key directly; any other record (digests, usages 0-2)
 *     needs the certificate (chain) in the protected "x5c", DANE-matched to
 *     the records.
 *
 * Verdicts are dance_status codes (status.h). A policy may point to a key
 * cache (keycache.h) and a replay cache (replay.h); sender URIs are read by
 * dance_dns_uri_name (name.h).
 *
 * Ownership: a dance_jws owns a copy of the input; a dance_jws_result owns
 * its payload (free with dance_jws_result_clear). Every free is NULL-safe.
 */
#ifndef DANCE_JWS_H
#define DANCE_JWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dance/cache.h"
#include "dance/dane.h"
#include "dance/keycache.h"
#include "dance/name.h"
#include "dance/replay.h"
#include "dance/resolver.h"
#include "dance/status.h"
#include "dance/tlsa.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dance_jws_alg {
    DANCE_JWS_ES256, DANCE_JWS_ES384, DANCE_JWS_ES512,
    DANCE_JWS_RS256, DANCE_JWS_RS384, DANCE_JWS_RS512,
    DANCE_JWS_PS256, DANCE_JWS_PS384, DANCE_JWS_PS512,
    DANCE_JWS_EDDSA,
    DANCE_JWS_ALG_COUNT
} dance_jws_alg;

/* "ES256" ... "EdDSA"; "unknown" out of range. */
const char *dance_jws_alg_name(dance_jws_alg alg);
/* dance_jws_alg_parse - exact JOSE name (case-sensitive). 0, or -1. */
int dance_jws_alg_parse(const char *name, dance_jws_alg *out);

/* dance_jws_alg_for_key - the default algorithm for a key: EC P-256 ES256,
 * P-384 ES384, P-521 ES512, RSA RS256, Ed25519 EdDSA. 0, or -1 with a reason
 * for other keys. */
int dance_jws_alg_for_key(EVP_PKEY *key, dance_jws_alg *out, char *err, size_t errlen);

/* dance_jws_key_fits - whether key may be used with alg (type, curve, RSA
 * >= 2048 bits). 0, or -1 with a reason ("ES384 needs a P-384 key, ..."). */
int dance_jws_key_fits(dance_jws_alg alg, EVP_PKEY *key, char *err, size_t errlen);

typedef enum dance_jws_serialization {
    DANCE_JWS_COMPACT,
    DANCE_JWS_FLATTENED,        /* flattened JSON serialization */
    DANCE_JWS_COSE_SIGN1,       /* CBOR COSE_Sign1 (dance/cose.h) */
    DANCE_JWS_SERIALIZATION_COUNT
} dance_jws_serialization;

/* ---------------------------------------------------------------- parse */

/* Default and bound for the input size (the whole MQTT payload). */
#define DANCE_JWS_MAX_SIZE_DEFAULT  (64u * 1024u)
#define DANCE_JWS_X5C_MAX           8      /* certificates in x5c */
#define DANCE_JWS_JTI_MAX           256    /* octets of a jti */
#define DANCE_JWS_TOPIC_MAX         65535  /* MQTT limit */

typedef struct dance_jws dance_jws;

/* What the protected header said. Strings are NUL-terminated, owned by the
 * dance_jws, NULL when absent; valid until dance_jws_free. */
typedef struct dance_jws_header {
    dance_jws_serialization serialization;
    dance_jws_alg alg;
    const char *sender;         /* normalised DNS name (never NULL after parse) */
    const char *kid;            /* as sent */
    const char *x5u;            /* as sent */
    size_t x5c_count;           /* certificates in x5c (not parsed yet) */
    bool has_iat;
    int64_t iat;                /* NumericDate, seconds (fraction dropped) */
    const char *jti;
    const char *topic;
    const char *cty;            /* as sent ("" when not a string); NULL when
                                   absent. "JWE" (dance_jwe_type_is_jwe):
                                   the payload is a JWE, encrypt-then-sign */
} dance_jws_header;

/* dance_jws_parse - parse len bytes of data (not NUL-terminated; a copy is
 * kept). max_size 0 means DANCE_JWS_MAX_SIZE_DEFAULT. Returns DANCE_OK
 * and *out, or a refusal (MALFORMED, TOO_LARGE, BAD_ALG, UNSUPPORTED,
 * NO_SENDER, BAD_SENDER, INTERNAL) with *out NULL and a reason in err.
 * When the refusal comes after the sender was known (BAD_ALG for a good
 * kid, say) the sender is written to sender_out if given (DANCE_NAME_MAX + 1
 * bytes; "" otherwise) so that hosts can report who it claimed to be. */
dance_status dance_jws_parse(const void *data, size_t len, size_t max_size,
                             dance_jws **out, char *sender_out,
                             char *err, size_t errlen);
void dance_jws_free(dance_jws *jws);

/* dance_jws_get_header - the parsed header; never NULL for a parsed jws. */
const dance_jws_header *dance_jws_get_header(const dance_jws *jws);

/* -------------------------------------------------------------- policy */

#define DANCE_JWS_MAX_SKEW_DEFAULT 300u   /* seconds */

/* Read-only during calls; the objects it points to are shared and
 * thread-safe. Hosts verifying many topics copy it per message to set
 * topic (it is a small struct of pointers and flags). */
typedef struct dance_jws_policy {
    const dance_allowlist *allow;   /* NULL: every sender (caller checked) */
    const char *service_label;      /* owner form for lookups: NULL/"" DevID
                                       (records at the sender name), "_x": at
                                       _x.<sender> (dance_owner_name) */
    const dance_matcher *matcher;   /* for x5c; NULL: x5c messages refused */
    dance_jws_keycache *keys;       /* NULL: keys decoded per message */
    dance_replay *replay;           /* NULL: no replay check. Otherwise
                                       every verified message is remembered
                                       for the cache's window, by its jti or,
                                       without one, by a SHA-256 digest of its
                                       signing input, and a second copy is
                                       refused (REPLAY) however it is encoded
                                       and whatever its signature bytes */
    bool require_jti;               /* missing jti refused (needs replay) */
    bool require_iat;               /* missing iat refused */
    uint32_t max_skew;              /* |now - iat| bound, seconds, checked
                                       whenever iat is present; 0: default */
    const char *topic;              /* publish topic; NULL: unknown */
    bool require_topic;             /* topic header must be present and equal
                                       topic (which must then be given) */
    dance_wallclock_fn now;         /* NULL: time(NULL) */
    void *now_ctx;
} dance_jws_policy;

/* --------------------------------------------------------------- result */

#define DANCE_JWS_KEY_SOURCE_MAX 64

typedef struct dance_jws_result {
    dance_status status;            /* DANCE_OK only when verified */
    char sender[DANCE_NAME_MAX + 1];/* claimed sender, "" when unknown */
    dance_jws_alg alg;              /* valid when has_alg */
    bool has_alg;
    char key_source[DANCE_JWS_KEY_SOURCE_MAX]; /* "tlsa 3 1 0", "x5c+tlsa 3 1 1",
                                       "key" (given key); "" when none */
    unsigned char *payload;         /* owned, only when verified; a NUL
                                       follows the payload_len bytes */
    size_t payload_len;
    char reason[DANCE_REASON_MAX];  /* why refused, or a short summary */
} dance_jws_result;

/* dance_jws_result_clear - free the payload and reset (status INTERNAL,
 * empty strings). Use on a zeroed or previously used result. Every call
 * below that fills a result clears it first, so a result must start zeroed
 * (memset or = {0}) and may then be reused without clearing in between. */
void dance_jws_result_clear(dance_jws_result *res);

/* Results on the heap with accessor functions, for callers that cannot
 * use the struct's layout (language bindings through a foreign function
 * interface). dance_jws_result_new: a cleared result, NULL on ENOMEM;
 * dance_jws_result_free: clear and free, NULL-safe. The accessors read a
 * result a call filled; strings are owned by the result, never NULL. */
dance_jws_result *dance_jws_result_new(void);
void dance_jws_result_free(dance_jws_result *res);
dance_status dance_jws_result_status(const dance_jws_result *res);
const char *dance_jws_result_sender(const dance_jws_result *res);   /* "" unknown */
const char *dance_jws_result_alg(const dance_jws_result *res);      /* "" unknown */
const char *dance_jws_result_key_source(const dance_jws_result *res);
const char *dance_jws_result_reason(const dance_jws_result *res);
/* The verified payload and its length (NULL and 0 unless verified). */
const unsigned char *dance_jws_result_payload(const dance_jws_result *res, size_t *len);

/* --------------------------------------------------------------- verify */

/* dance_jws_check - header-only policy: typ (TYP: a protected typ of "JWT",
 * "application/jwt" or any "+jwt" type, any case, marks a login token or
 * another JWT, never a message), allow-list (NOT_ALLOWED), iat (STALE),
 * topic binding (TOPIC_MISMATCH); no crypto, no DNS, no replay
 * cache. Fills res (cleared first: sender, alg, status, reason) and returns
 * its status. */
dance_status dance_jws_check(const dance_jws *jws, const dance_jws_policy *pol,
                             dance_jws_result *res);

/* dance_jws_verify - full verification against the sender's records, which
 * must come from a DNSSEC-secure answer for the sender's owner name.
 * Runs dance_jws_check, finds the key (direct DANE-EE record, or x5c
 * matched with pol->matcher: DANE-EE without a name check, other usages
 * with the sender as reference name), checks the algorithm fits the key,
 * checks the signature, and last records the message in the replay cache
 * (so that forgeries cannot fill it; see dance_jws_policy.replay). Fills
 * res (cleared first); the payload only when verified. Returns
 * res->status. Thread-safe for concurrent calls. */
dance_status dance_jws_verify(const dance_jws *jws, const dance_tlsa_rrset *tlsa,
                              const dance_jws_policy *pol, dance_jws_result *res);

/* dance_jws_verify_dns - as dance_jws_verify, from a DNS answer in any
 * state: DANCE_OK verifies against records; LOOKUP_FAILED, NO_RECORD,
 * INSECURE and BOGUS (any other code: LOOKUP_FAILED) are refusals, each
 * with dns_reason (may be NULL) in res->reason. Header checks run first, so
 * a stale or misbound message is refused for that even while DNS fails. */
dance_status dance_jws_verify_dns(const dance_jws *jws, dance_status st,
                                  const dance_tlsa_rrset *records,
                                  const char *dns_reason,
                                  const dance_jws_policy *pol,
                                  dance_jws_result *res);

/* dance_jws_verify_key - verify against a key the caller vouches for (the
 * CLI's offline mode); no DNS, the sender name is not tied to the key.
 * key_source labels it in res ("key" when NULL). */
dance_status dance_jws_verify_key(const dance_jws *jws, EVP_PKEY *key,
                                  const char *key_source,
                                  const dance_jws_policy *pol,
                                  dance_jws_result *res);

/* Where dance_jws_verify_message gets records: the cache when given
 * (dance_cache_fetch, single flight), else the resolver directly. The
 * resolver is not thread-safe (see resolver.h): one source per thread. */
typedef struct dance_jws_source {
    dance_cache *cache;             /* optional */
    dance_resolver *resolver;       /* required */
} dance_jws_source;

/* dance_jws_verify_message - parse (max_size as dance_jws_parse; a COSE_Sign1
 * too, told apart by its first byte: dance_message_parse in cose.h), check the
 * header policy (the allow-list before any DNS query), fetch the sender's
 * TLSA RRset at its owner name and verify. Fills res and returns its
 * status. */
dance_status dance_jws_verify_message(const void *data, size_t len, size_t max_size,
                                      const dance_jws_policy *pol,
                                      const dance_jws_source *src,
                                      dance_jws_result *res);

/* ----------------------------------------------------------------- sign */

typedef struct dance_jws_sign_opts {
    EVP_PKEY *key;                  /* private key (required) */
    const char *name;               /* sender DNS name -> kid (required) */
    const char *alg;                /* NULL: dance_jws_alg_for_key */
    STACK_OF(X509) *x5c;            /* optional chain, leaf first; the leaf
                                       must hold the key's public half */
    bool x5u;                       /* add x5u "dns:NAME?type=TLSA" */
    bool iat;                       /* add iat = now */
    const char *jti;                /* add jti (NULL: none) */
    const char *topic;              /* add topic (NULL: none) */
    dance_jws_serialization serialization;
    dance_wallclock_fn now;         /* NULL: time(NULL) */
    void *now_ctx;
    const char *cty;                /* add cty (NULL: none; 1 to 64 printable
                                       characters); one naming a JWE ("JWE")
                                       needs a payload that is one
                                       (dance_jwe_is_jwe). JWS only */
} dance_jws_sign_opts;

/* dance_jws_sign - sign len bytes of payload. *out is a NUL-terminated
 * string (compact, or flattened JSON without a newline) of *outlen bytes,
 * freed with free(). Never writes a typ (a message with typ JWT would be
 * refused as a token). Returns 0, or -1 with a reason (unfit key for the
 * algorithm, x5c leaf not matching the key, invalid name, ...). */
int dance_jws_sign(const dance_jws_sign_opts *o, const void *payload, size_t len,
                   char **out, size_t *outlen, char *err, size_t errlen);

/* Flags of dance_jws_sign_pem. */
#define DANCE_JWS_SIGN_NO_IAT      0x1u   /* leave out iat (default: now) */
#define DANCE_JWS_SIGN_X5U         0x2u   /* add x5u dns:NAME?type=TLSA */
#define DANCE_JWS_SIGN_FLATTENED   0x4u   /* flattened JSON, not compact */
#define DANCE_JWS_SIGN_RANDOM_JTI  0x8u   /* add a random jti */

/* dance_jws_sign_pem - dance_jws_sign with the key (and optional x5c
 * chain, leaf first) as PEM text and options as plain arguments, as `dance
 * sign` takes them; for bindings. alg, x5c_pem, jti and topic may be NULL;
 * a jti and DANCE_JWS_SIGN_RANDOM_JTI together are refused. *out is freed
 * with dance_jws_output_free. 0, or -1 with a reason. */
int dance_jws_sign_pem(const char *key_pem, const char *name, const char *alg,
                       const char *x5c_pem, const char *jti, const char *topic,
                       unsigned flags, const void *payload, size_t len,
                       char **out, size_t *outlen, char *err, size_t errlen);

/* dance_jws_output_free - free what dance_jws_sign or dance_jws_sign_pem
 * returned (free() with the library's allocator). NULL-safe. */
void dance_jws_output_free(char *out);

/* dance_jws_random_jti - 22 characters of base64url from 128 random bits
 * into out (>= 23 bytes). 0, or -1 when the RNG fails. */
int dance_jws_random_jti(char *out, size_t outlen);

#ifdef __cplusplus
}
#endif
#endif
