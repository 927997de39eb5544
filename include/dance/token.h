/*
 * dance/token.h - MQTT passwords that are JWS tokens signed with a device's
 * DANE-bound key: a way in for devices whose only credential is a key pair
 * published in DNS (DANE-EE with a self-signed certificate or a raw public
 * key), which stock Mosquitto cannot authenticate by TLS client certificate.
 *
 * Token format (doc/formats.md, "Tokens"):
 *   compact JWS, protected header {"alg", "kid": IDENTITY, "typ": "JWT"
 *   (required: a signed message never carries it, so neither passes for the
 *   other), optional "x5c"}, payload = JSON claims {"aud", "iat", "exp",
 *   "jti"} (all four required; "nbf" honoured when present; other claims
 *   ignored). The MQTT username must name the same identity as kid.
 *
 * The key is found exactly as for signed messages (jws.h): DANE-EE records
 * holding the key (3 1 0) or certificate (3 0 0) directly; any other record
 * through x5c, DANE-matched to the records. Same algorithms (never none or
 * HS*), same allow-list (checked before any DNS query).
 *
 * Steps, like jws.h, so that a host can keep slow work off its main thread:
 *
 *   dance_token_parse    cheap, no crypto, no DNS, no X.509 parsing:
 *                        structure, alg, kid == username, claim types.
 *   dance_token_check    cheap policy: allow-list, audience, lifetime,
 *                        expiry, iat/nbf not in the future.
 *   dance_token_verify   given the identity's secure TLSA RRset: check
 *                        again, key from the records (or x5c), signature,
 *                        then the jti replay cache. Thread-safe; the parsed
 *                        token is only read.
 *   dance_token_recheck  for connected clients: do the records still vouch
 *                        for the key that signed the token? (No time or
 *                        replay checks: the token was accepted once.)
 *
 * dance_token_verify_password chains them with a DNS lookup (CLI).
 *
 * Verdicts are dance_status codes (status.h); a token never gets the
 * codes only messages have (TOO_LARGE is MALFORMED here, a missing or
 * non-JWT typ UNSUPPORTED, a bad kid IDENTITY_MISMATCH, RATE_LIMITED
 * LOOKUP_FAILED), and the codes from DANCE_MESSAGE_STATUS_END on are its own.
 *
 * Ownership: a dance_token owns a copy of the password. A dance_token_result
 * owns nothing (plain data; no clear call needed). Every free is NULL-safe.
 */
#ifndef DANCE_TOKEN_H
#define DANCE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dance/jws.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest token accepted (bytes of the password): room for an x5c chain of
 * a few RSA certificates; MQTT itself allows 65535. */
#define DANCE_TOKEN_MAX_SIZE            16384u
#define DANCE_TOKEN_MAX_LIFETIME_DEFAULT  300u   /* seconds: a captured token
                                                    is worth little for long */
#define DANCE_TOKEN_MAX_SKEW_DEFAULT      60u    /* seconds */
#define DANCE_TOKEN_LIFETIME_DEFAULT     300u    /* seconds, for signing */
#define DANCE_TOKEN_AUDIENCE_MAX         256     /* octets of an aud value */

typedef struct dance_token dance_token;

/* Read-only during calls; the objects it points to are shared and
 * thread-safe. */
typedef struct dance_token_policy {
    const char *audience;           /* required: this verifier's name; a token
                                       is accepted when its aud (a string, or
                                       an array of strings) holds it exactly */
    uint32_t max_lifetime;          /* exp - iat bound, seconds; 0: default */
    uint32_t max_skew;              /* how far iat/nbf may lie in the future,
                                       seconds; 0: default */
    const dance_allowlist *allow;   /* NULL: every identity (caller checked) */
    const char *service_label;      /* owner form for verify_password, as in
                                       dance_jws_policy */
    const dance_matcher *matcher;   /* for x5c; NULL: x5c tokens refused */
    dance_jws_keycache *keys;       /* NULL: keys decoded per token */
    dance_replay *replay;           /* NULL: jti not checked (offline checks
                                       only; a host admitting clients must
                                       give one, with a window of at least
                                       dance_token_replay_window(policy)) */
    dance_wallclock_fn now;         /* NULL: time(NULL) */
    void *now_ctx;
} dance_token_policy;

/* dance_token_replay_window - the replay window (seconds) that makes "a jti
 * is accepted once" hold for the policy: max_lifetime + max_skew, since a
 * token first seen at t is acceptable until at most t + skew + lifetime.
 * Pass it to dance_replay_new. */
uint32_t dance_token_replay_window(const dance_token_policy *pol);

typedef struct dance_token_result {
    dance_status status;            /* DANCE_OK only when verified */
    char identity[DANCE_NAME_MAX + 1]; /* claimed identity (kid), normalised;
                                       "" when unknown */
    int64_t iat, exp;               /* claims, 0 when unknown */
    dance_jws_alg alg;              /* valid when has_alg */
    bool has_alg;
    char key_source[DANCE_JWS_KEY_SOURCE_MAX]; /* "tlsa 3 1 0", "x5c+tlsa 3 1 1" */
    char reason[DANCE_REASON_MAX];  /* why refused, or a short summary */
} dance_token_result;

/* dance_token_parse - parse the password (len bytes, not NUL-terminated;
 * surrounding whitespace ignored) given the MQTT username. Checks: compact
 * JWS of at most DANCE_TOKEN_MAX_SIZE bytes, alg, kid present, typ "JWT"
 * (or "application/jwt", any case; absent or another type is refused as
 * DANCE_UNSUPPORTED), username a DNS name equal to kid (both
 * normalised), claims a JSON object with aud, iat, exp, jti of the right
 * types. No policy, no
 * crypto. Returns DANCE_OK with *out, or a refusal with *out NULL.
 * Fills res (identity as soon as kid is known, iat/exp when read). */
dance_status dance_token_parse(const void *password, size_t len,
                               const char *username, dance_token **out,
                               dance_token_result *res);
void dance_token_free(dance_token *tok);

/* Accessors; valid until dance_token_free. */
const char *dance_token_identity(const dance_token *tok);   /* normalised kid */
int64_t dance_token_exp(const dance_token *tok);
const char *dance_token_jti(const dance_token *tok);
/* dance_token_jws - the token as a parsed JWS (for its header). */
const dance_jws *dance_token_jws(const dance_token *tok);

/* dance_token_check - the cheap policy, in this order: allow-list
 * (NOT_ALLOWED), audience (WRONG_AUDIENCE; INTERNAL when the policy has
 * none), exp after iat and exp - iat <= max_lifetime (LIFETIME), exp in
 * the future (EXPIRED), iat and nbf at most max_skew in the future
 * (NOT_YET_VALID). Fills res; returns its status. */
dance_status dance_token_check(const dance_token *tok, const dance_token_policy *pol,
                               dance_token_result *res);

/* dance_token_verify - dance_token_check, then the key from the identity's
 * records (which must come from a DNSSEC-secure answer for its owner name)
 * as dance_jws_verify finds it, the signature, and last the jti in the
 * replay cache (so that forgeries cannot use up jtis). Fills res; returns
 * its status. Thread-safe. */
dance_status dance_token_verify(const dance_token *tok, const dance_tlsa_rrset *tlsa,
                                const dance_token_policy *pol,
                                dance_token_result *res);

/* dance_token_verify_dns - as dance_token_verify from a DNS answer in any
 * state (DANCE_OK verifies; the others give LOOKUP_FAILED, NO_RECORD,
 * INSECURE, BOGUS with dns_reason, may be NULL). The cheap checks
 * come first, so an expired token is refused for that while DNS fails. */
dance_status dance_token_verify_dns(const dance_token *tok, dance_status st,
                                    const dance_tlsa_rrset *records,
                                    const char *dns_reason,
                                    const dance_token_policy *pol,
                                    dance_token_result *res);

/* dance_token_recheck - for a client admitted with tok: do these records
 * (from a DNS answer in any state) still give the key that signed it?
 * Only the allow-list, the key and the signature are checked: not the
 * times, not the replay cache. OK when they do; otherwise the refusal
 * (NO_RECORD for removed records, BAD_SIGNATURE or CERT_MISMATCH for a
 * changed key, LOOKUP_FAILED when DNS could not say). */
dance_status dance_token_recheck(const dance_token *tok, dance_status st,
                                 const dance_tlsa_rrset *records,
                                 const char *dns_reason,
                                 const dance_token_policy *pol,
                                 dance_token_result *res);

/* dance_token_verify_password - parse, check (the allow-list before any DNS
 * query), fetch the TLSA RRset at the identity's owner name (src as in
 * dance_jws_verify_message) and verify. Fills res; returns its status. */
dance_status dance_token_verify_password(const void *password, size_t len,
                                         const char *username,
                                         const dance_token_policy *pol,
                                         const dance_jws_source *src,
                                         dance_token_result *res);

/* ----------------------------------------------------------------- sign */

typedef struct dance_token_sign_opts {
    EVP_PKEY *key;                  /* private key (required) */
    const char *name;               /* identity -> kid (required; normalised) */
    const char *audience;           /* -> aud (required) */
    uint32_t lifetime;              /* exp - iat, seconds; 0: default 300 */
    const char *alg;                /* NULL: dance_jws_alg_for_key */
    STACK_OF(X509) *x5c;            /* optional chain, leaf first; the leaf
                                       must hold the key's public half */
    const char *jti;                /* NULL: 128 random bits, base64url */
    dance_wallclock_fn now;         /* NULL: time(NULL); gives iat */
    void *now_ctx;
} dance_token_sign_opts;

/* dance_token_sign - make a token. *out is a NUL-terminated compact JWS of
 * *outlen bytes (outlen may be NULL), freed with free(). Returns 0, or -1
 * with a reason (unfit key, x5c leaf not holding the key, bad name or
 * audience, RNG failure). */
int dance_token_sign(const dance_token_sign_opts *o, char **out, size_t *outlen,
                     char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
