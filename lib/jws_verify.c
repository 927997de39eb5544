/*
 * jws_verify.c - the second step of message verification: header policy,
 * the sender's key from its DNSSEC-secure TLSA records (directly, or via the
 * x5c certificate chain and the DANE matcher), algorithm/key fit, signature,
 * replay; and the parse -> DNS -> verify convenience call.
 *
 * Which records give a key:
 *   - DANE-EE records holding the whole key: 3 1 0 (SubjectPublicKeyInfo
 *     DER) and 3 0 0 (certificate DER). The owner name is the sender's own,
 *     so the record itself binds key and name.
 *   - Everything else (digests 3 x 1/2, and usages 0-2, whose data is a CA
 *     or a certificate needing a chain) only through x5c: the certificate
 *     chain the sender ships in the protected header is DANE-matched to the
 *     records with OpenSSL's DANE code (dane.h), DANE-EE without a name
 *     check (the DNS owner name is the identity), other usages with the
 *     sender as reference name, as for connect-time authentication. Dates
 *     count for DANE-TA and PKIX, not DANE-EE (RFC 7671). The key is the
 *     leaf's.
 *   - A usage 2/0/1 record is never used as the signing key itself: it names
 *     a trust anchor or a PKIX certificate, not the sender's key.
 * Replay: with a replay cache every verified message is remembered for the
 * window, by its jti or else by a digest of what was signed (replay_key),
 * so a copy is caught whether or not the sender sends a jti.
 * When x5c is present only the x5c path is taken: the message says which
 * key signed it, and that key must be vouched for by the records.
 *
 * The payload is decoded and handed out only after every check passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include "dance/cose.h"
#include "jws_internal.h"

static const dance_jws_policy default_policy;

void dance_jws_result_clear(dance_jws_result *res)
{
    if (res == NULL)
        return;
    free(res->payload);
    memset(res, 0, sizeof(*res));
    res->status = DANCE_INTERNAL;
}

/* refuse(res, st, fmt, ...) - the refusal writer of sender.h into res */
#define refuse SENDER_REFUSE

/* res_begin - reset res and note what the header says */
static void res_begin(const dance_jws *jws, dance_jws_result *res)
{
    dance_jws_result_clear(res);
    sender_note(jws, res->sender, &res->alg, &res->has_alg);
}

/* What is being verified: a signed message, or a login token (token.c),
 * which goes through the same key and signature checks. */
typedef enum verify_kind { AS_MESSAGE, AS_TOKEN } verify_kind;

/* header_checks - everything that needs no key: what it is (a JWT is a
 * login token, never a message: without this a captured token published
 * as a message would verify as one from its device), the allow-list (it
 * must stop a sender before any DNS query), then iat, topic, jti presence */
static dance_status header_checks(const dance_jws *jws, const dance_jws_policy *pol,
                                  verify_kind kind, dance_jws_result *res)
{
    jws_typ_kind tk = jws_typ_kind_of(jws->typ);

    if (kind == AS_MESSAGE && (tk == JWS_TYP_JWT || tk == JWS_TYP_JWT_KIND))
        return refuse(res, DANCE_TYP, "typ '%.40s' marks a JWT (a login token), not "
                      "a signed message: tokens are never accepted as messages",
                      jws->typ);
    if (pol->allow != NULL && !dance_allowlist_match(pol->allow, jws->sender))
        return refuse(res, DANCE_NOT_ALLOWED, "sender %s is not under an allowed "
                      "domain", jws->sender);
    if (jws->h.has_iat) {
        int64_t now = sender_now(pol->now, pol->now_ctx);
        int64_t skew = pol->max_skew ? pol->max_skew : DANCE_JWS_MAX_SKEW_DEFAULT;
        if (jws->h.iat < now - skew)
            return refuse(res, DANCE_STALE, "iat is %lld s in the past (allowed "
                          "skew %lld s)", (long long)(now - jws->h.iat), (long long)skew);
        if (jws->h.iat > now + skew)
            return refuse(res, DANCE_STALE, "iat is %lld s in the future (allowed "
                          "skew %lld s)", (long long)(jws->h.iat - now), (long long)skew);
    } else if (pol->require_iat) {
        return refuse(res, DANCE_STALE, "no iat header (required)");
    }
    if (jws->topic != NULL && pol->topic != NULL && strcmp(jws->topic, pol->topic) != 0)
        return refuse(res, DANCE_TOPIC_MISMATCH, "signed for topic '%.100s', "
                      "published on '%.100s'", jws->topic, pol->topic);
    if (pol->require_topic || jws->crit_topic) {
        if (pol->topic == NULL)
            return refuse(res, DANCE_TOPIC_MISMATCH, "%s: the publish topic is "
                          "unknown here", pol->require_topic
                          ? "topic binding is required" : "topic header is critical");
        if (jws->topic == NULL)
            return refuse(res, DANCE_TOPIC_MISMATCH, "no topic header (required)");
    }
    if (jws->jti == NULL && pol->require_jti)
        return refuse(res, DANCE_REPLAY, "no jti header (required)");
    if (jws->jti != NULL && jws->crit_jti && pol->replay == NULL)
        return refuse(res, DANCE_REPLAY, "jti header is critical but no replay "
                      "cache is configured");
    return DANCE_OK;
}

dance_status dance_jws_check(const dance_jws *jws, const dance_jws_policy *pol,
                             dance_jws_result *res)
{
    if (jws == NULL) {
        dance_jws_result_clear(res);
        return refuse(res, DANCE_INTERNAL, "no message");
    }
    res_begin(jws, res);
    if (header_checks(jws, pol ? pol : &default_policy, AS_MESSAGE, res) != DANCE_OK)
        return res->status;
    res->status = DANCE_OK;
    dance_set_err(res->reason, sizeof(res->reason), "header acceptable");
    return DANCE_OK;
}

/* Replay cache keys. A prefix keeps the two kinds apart, so that a jti
 * chosen to look like a digest cannot collide with one. */
#define REPLAY_KEY_JTI      "jti:"
#define REPLAY_KEY_DIGEST   "sha256:"
#define REPLAY_KEY_MAX      (sizeof(REPLAY_KEY_JTI) + DANCE_JWS_JTI_MAX + 1)

/* replay_key - what identifies this message in the replay cache: its jti
 * when it has one (a copy carries the same jti, and so does any other
 * message the sender tried to pass off under it), otherwise a SHA-256
 * digest of what was signed, the JWS signing input (ASCII(protected) '.'
 * ASCII(payload)), which is the same for every encoding of the message
 * (compact or flattened JSON, any unprotected header; for COSE_Sign1 the
 * Sig_structure, the same tagged or not). Never a digest of
 * the signature: ECDSA signatures are malleable ((r, s) and (r, n - s)
 * both verify) and a re-signature by the sender is a new signature, so a
 * signature digest would let anyone holding one copy make a "new" one.
 * 0, or -1 when OpenSSL fails. */
static int replay_key(const dance_jws *jws, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    size_t i, o;

    if (jws->jti != NULL) {
        dance_set_err(out, outlen, REPLAY_KEY_JTI "%s", jws->jti);
        return 0;
    }
    if (EVP_Digest(jws->signing_input, jws->signing_input_len, md, &mdlen,
                   EVP_sha256(), NULL) != 1 || mdlen != sizeof(md)) {
        ERR_clear_error();
        return -1;
    }
    o = strlen(REPLAY_KEY_DIGEST);
    if (outlen < o + 2 * sizeof(md) + 1)
        return -1;
    memcpy(out, REPLAY_KEY_DIGEST, o);
    for (i = 0; i < sizeof(md); i++) {
        out[o++] = hex[md[i] >> 4];
        out[o++] = hex[md[i] & 15];
    }
    out[o] = '\0';
    return 0;
}

/* finish - signature good: decode the payload, then (last, so that nothing
 * unverified enters it) the replay cache. The check and the insertion are
 * one locked step in the cache, so of two copies verified at once on two
 * threads exactly one passes. */
static dance_status finish(const dance_jws *jws, const dance_jws_policy *pol,
                           dance_jws_result *res)
{
    char key[REPLAY_KEY_MAX];
    unsigned char *payload = NULL;
    size_t payload_len = 0;
    int rc = 0;

    if (jws->cose) {
        /* raw bytes; a NUL follows them as for JWS payloads */
        if ((payload = malloc(jws->payload_raw_len + 1)) == NULL)
            return refuse(res, DANCE_INTERNAL, "out of memory copying the payload");
        if (jws->payload_raw_len > 0)
            memcpy(payload, jws->payload_raw, jws->payload_raw_len);
        payload[jws->payload_raw_len] = '\0';
        payload_len = jws->payload_raw_len;
    } else if (jws_b64url_decode(jws->payload_b64, jws->payload_b64_len, &payload,
                                 &payload_len) != 0) {
        return refuse(res, DANCE_INTERNAL, "out of memory decoding the payload");
    }
    if (pol->replay != NULL) {
        if (replay_key(jws, key, sizeof(key)) != 0) {
            free(payload);
            return refuse(res, DANCE_INTERNAL, "OpenSSL failed to digest the message "
                          "for the replay check");
        }
        rc = dance_replay_check_add(pol->replay, jws->sender, key);
        if (rc != 0)
            free(payload);
        if (rc == 1 && jws->jti != NULL)
            return refuse(res, DANCE_REPLAY, "jti '%.64s' from %s was already used by "
                          "a verified message (this is a copy of it, or reuses its jti)",
                          jws->jti, jws->sender);
        if (rc == 1)
            return refuse(res, DANCE_REPLAY, "a copy of a message from %s already "
                          "verified (same signed header and payload)", jws->sender);
        if (rc != 0)
            return refuse(res, DANCE_INTERNAL, "out of memory in the replay cache");
    }
    res->payload = payload;
    res->payload_len = payload_len;
    res->status = DANCE_OK;
    dance_set_err(res->reason, sizeof(res->reason), "verified: sender %s, alg %s, key %s",
                  jws->sender, dance_jws_alg_name(jws->h.alg), res->key_source);
    return DANCE_OK;
}

/* check_with_key - fit (alg_mask from jws_key_alg_mask), then signature.
 * Returns OK, KEY_MISMATCH, BAD_SIGNATURE or INTERNAL, with a reason in why. */
static dance_status check_with_key(const dance_jws *jws, EVP_PKEY *key,
                                   uint32_t alg_mask, char *why, size_t whylen)
{
    int rc;

    if ((alg_mask & (1u << jws->h.alg)) == 0) {
        if (dance_jws_key_fits(jws->h.alg, key, why, whylen) == 0)
            dance_set_err(why, whylen, "key does not fit %s", dance_jws_alg_name(jws->h.alg));
        return DANCE_KEY_MISMATCH;
    }
    rc = jws_sig_verify(jws->h.alg, key, (const unsigned char *)jws->signing_input,
                        jws->signing_input_len, jws->sig, jws->sig_len);
    if (rc == 1)
        return DANCE_OK;
    if (rc == 0) {
        dance_set_err(why, whylen, "signature does not verify");
        return DANCE_BAD_SIGNATURE;
    }
    dance_set_err(why, whylen, "OpenSSL failed while checking the signature");
    return DANCE_INTERNAL;
}

/* ------------------------------------------------------ direct records */

/* The DER of a SubjectPublicKeyInfo for the keys devices use most, up to
 * the key bytes: the whole encoding is fixed but for them. */
static const unsigned char spki_p256[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00
};
static const unsigned char spki_p384[] = {
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00
};
static const unsigned char spki_ed25519[] = {
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
};

/* jws_ec_point_key - an EC public key from its group and uncompressed
 * point; OpenSSL checks that the point is on the curve (jws_internal.h). */
EVP_PKEY *jws_ec_point_key(const char *group, const unsigned char *pt, size_t len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *key = NULL;
    OSSL_PARAM params[3];

    if (ctx == NULL)
        return NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  (void *)pt, len);
    params[2] = OSSL_PARAM_construct_end();
    if (EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return key;
}

/* spki_key_fast - the key of a P-256, P-384 or Ed25519 SPKI in its one
 * canonical DER form, without OpenSSL's decoder framework: in OpenSSL 3.0
 * d2i_PUBKEY costs about 270 us a key (it tries decoder after decoder),
 * two signature checks' worth, which every key cache miss would pay.
 * Written by hand because OpenSSL has no cheaper DER entry point for a
 * public key; anything that is not byte for byte one of these forms
 * (compressed points, explicit parameters, other algorithms) returns NULL
 * with *known false and goes the general way. */
static EVP_PKEY *spki_key_fast(const unsigned char *d, size_t len, bool *known)
{
    *known = true;
    if (len == sizeof(spki_p256) + 65 && d[sizeof(spki_p256)] == 0x04
        && memcmp(d, spki_p256, sizeof(spki_p256)) == 0)
        return jws_ec_point_key("P-256", d + sizeof(spki_p256), 65);
    if (len == sizeof(spki_p384) + 97 && d[sizeof(spki_p384)] == 0x04
        && memcmp(d, spki_p384, sizeof(spki_p384)) == 0)
        return jws_ec_point_key("P-384", d + sizeof(spki_p384), 97);
    if (len == sizeof(spki_ed25519) + 32
        && memcmp(d, spki_ed25519, sizeof(spki_ed25519)) == 0)
        return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
                                           d + sizeof(spki_ed25519), 32);
    *known = false;
    return NULL;
}

/* jws_record_key - see jws_internal.h */
EVP_PKEY *jws_record_key(const dance_tlsa_rr *rr)
{
    const unsigned char *p = rr->data;
    EVP_PKEY *key = NULL;
    X509 *cert;
    bool known;

    if (rr->len > (size_t)0x7fffffff)
        return NULL;
    if (rr->selector == 1) {
        key = spki_key_fast(rr->data, rr->len, &known);
        if (known) {
            ERR_clear_error();
            return key;
        }
        key = d2i_PUBKEY(NULL, &p, (long)rr->len);
    } else {
        cert = d2i_X509(NULL, &p, (long)rr->len);
        if (cert != NULL && p == rr->data + rr->len)
            key = X509_get_pubkey(cert);
        X509_free(cert);
    }
    if (key != NULL && p != rr->data + rr->len) {   /* trailing garbage */
        EVP_PKEY_free(key);
        key = NULL;
    }
    ERR_clear_error();
    return key;
}

/* cached_record_key - record_key through the key cache; *mask gets
 * jws_key_alg_mask of the key */
static EVP_PKEY *cached_record_key(dance_jws_keycache *kc, const dance_tlsa_rr *rr,
                                   uint32_t *mask)
{
    unsigned char stackbuf[1024], *k = stackbuf;
    size_t klen = 4 + rr->len;
    jws_key_value v;
    EVP_PKEY *key;

    if (kc == NULL || (klen > sizeof(stackbuf) && (k = malloc(klen)) == NULL)) {
        key = jws_record_key(rr);
        *mask = key ? jws_key_alg_mask(key) : 0;
        return key;
    }
    k[0] = 'D';
    k[1] = rr->usage;
    k[2] = rr->selector;
    k[3] = rr->mtype;
    memcpy(k + 4, rr->data, rr->len);
    if (jws_keycache_get(kc, k, klen, &v)) {
        key = v.pkey;
        *mask = v.alg_mask;
    } else {
        key = jws_record_key(rr);
        *mask = key ? jws_key_alg_mask(key) : 0;
        if (key != NULL) {
            memset(&v, 0, sizeof(v));
            v.pkey = key;
            v.alg_mask = *mask;
            v.usage = rr->usage;
            v.selector = rr->selector;
            v.mtype = rr->mtype;
            jws_keycache_put(kc, k, klen, &v, 0);
        }
    }
    if (k != stackbuf)
        free(k);
    return key;
}

/* records_summary - "3 1 1, 2 0 1" for reasons */
static void records_summary(const dance_tlsa_rrset *set, char *buf, size_t len)
{
    size_t i, o = 0;

    buf[0] = '\0';
    for (i = 0; i < set->count && i < 6 && o < len; i++) {
        int n = snprintf(buf + o, len - o, "%s%u %u %u", i ? ", " : "",
                         set->rr[i].usage, set->rr[i].selector, set->rr[i].mtype);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    if (i < set->count && o < len)
        dance_set_err(buf + o, len - o, ", ...");
}

static dance_status verify_direct(const dance_jws *jws, const dance_tlsa_rrset *tlsa,
                                  const dance_jws_policy *pol,
                                  verify_kind kind, dance_jws_result *res)
{
    char why[DANCE_REASON_MAX], first_mismatch[DANCE_REASON_MAX] = "";
    char recs[96];
    size_t i, candidates = 0, bad_data = 0, mismatched = 0, bad_sig = 0;
    const dance_tlsa_rr *mismatch_rr = NULL, *bad_sig_rr = NULL, *bad_data_rr = NULL;

    for (i = 0; i < tlsa->count; i++) {
        const dance_tlsa_rr *rr = &tlsa->rr[i];
        EVP_PKEY *key;
        uint32_t mask = 0;
        dance_status st;

        if (rr->usage != 3 || rr->mtype != 0 || rr->selector > 1 || rr->data == NULL)
            continue;
        candidates++;
        key = cached_record_key(pol->keys, rr, &mask);
        if (key == NULL) {
            bad_data++;
            bad_data_rr = rr;
            continue;
        }
        st = check_with_key(jws, key, mask, why, sizeof(why));
        EVP_PKEY_free(key);
        if (st == DANCE_OK) {
            dance_set_err(res->key_source, sizeof(res->key_source), "tlsa %u %u %u",
                          rr->usage, rr->selector, rr->mtype);
            return finish(jws, pol, res);
        }
        if (st == DANCE_INTERNAL)
            return refuse(res, st, "%s", why);
        if (st == DANCE_KEY_MISMATCH) {
            if (mismatched++ == 0) {
                mismatch_rr = rr;
                dance_set_err(first_mismatch, sizeof(first_mismatch), "%s", why);
            }
        } else {
            bad_sig++;
            bad_sig_rr = rr;
        }
    }
    if (bad_sig > 0) {
        if (bad_sig == 1)
            return refuse(res, DANCE_BAD_SIGNATURE, "signature does not verify with "
                          "the key in TLSA %u %u %u of %s", bad_sig_rr->usage,
                          bad_sig_rr->selector, bad_sig_rr->mtype, jws->sender);
        return refuse(res, DANCE_BAD_SIGNATURE, "signature does not verify with any "
                      "of the %zu keys in the TLSA records of %s", bad_sig, jws->sender);
    }
    if (mismatched > 0)
        return refuse(res, DANCE_KEY_MISMATCH, "%s does not fit the key in TLSA "
                      "%u %u %u of %s: %s", dance_jws_alg_name(jws->h.alg),
                      mismatch_rr->usage, mismatch_rr->selector, mismatch_rr->mtype,
                      jws->sender, first_mismatch);
    if (bad_data > 0)
        return refuse(res, DANCE_NO_USABLE_RECORD, "TLSA %u %u %u record of %s does "
                      "not hold a valid %s", bad_data_rr->usage, bad_data_rr->selector,
                      bad_data_rr->mtype, jws->sender,
                      bad_data_rr->selector ? "public key" : "certificate");
    (void)candidates;
    if (tlsa->count == 0)
        return refuse(res, DANCE_NO_USABLE_RECORD, "no TLSA records for %s",
                      jws->sender);
    records_summary(tlsa, recs, sizeof(recs));
    return refuse(res, DANCE_NO_USABLE_RECORD, "the TLSA records of %s (%s) do not "
                  "hold the key itself (3 1 0 or 3 0 0): %s must carry the "
                  "certificate in x5c", jws->sender, recs,
                  kind == AS_TOKEN ? "the token" : "the message");
}

/* ---------------------------------------------------------------- x5c */

static int digest_u32(EVP_MD_CTX *md, size_t v)
{
    unsigned char p[4];

    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return EVP_DigestUpdate(md, p, 4);
}

#define X5C_KEY_LEN (1 + 32)

/* x5c_cache_key - 'X' and the SHA-256 of everything the match outcome
 * depends on: matcher, sender (reference name), records, certificates,
 * each length-prefixed. A digest and not the bytes themselves: the chain
 * is the sender's choice, so its entry costs the cache a fixed 33 bytes
 * whatever it holds. 0, or -1 when OpenSSL fails (then nothing is cached). */
static int x5c_cache_key(const dance_jws *jws, const dance_tlsa_rrset *tlsa,
                         const dance_jws_policy *pol, unsigned char k[X5C_KEY_LEN])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const void *m = pol->matcher;
    unsigned int dlen = 0;
    size_t i;
    int ok;

    if (md == NULL)
        return -1;
    ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL)
         && EVP_DigestUpdate(md, &m, sizeof(m))
         && EVP_DigestUpdate(md, jws->sender, strlen(jws->sender) + 1)
         && digest_u32(md, tlsa->count);
    for (i = 0; ok && i < tlsa->count; i++) {
        unsigned char usm[3] = { tlsa->rr[i].usage, tlsa->rr[i].selector,
                                 tlsa->rr[i].mtype };
        ok = EVP_DigestUpdate(md, usm, 3) && digest_u32(md, tlsa->rr[i].len)
             && (tlsa->rr[i].len == 0
                 || EVP_DigestUpdate(md, tlsa->rr[i].data, tlsa->rr[i].len));
    }
    ok = ok && digest_u32(md, jws->h.x5c_count);
    for (i = 0; ok && i < jws->h.x5c_count; i++)
        ok = digest_u32(md, jws->x5c_len[i])
             && EVP_DigestUpdate(md, jws->x5c_der[i], jws->x5c_len[i]);
    k[0] = 'X';
    ok = ok && EVP_DigestFinal_ex(md, k + 1, &dlen) && dlen == 32;
    EVP_MD_CTX_free(md);
    if (!ok)
        ERR_clear_error();
    return ok ? 0 : -1;
}

/* x5c_match - parse x5c and DANE-match it; fills v (key or refusal) */
static void x5c_match(const dance_jws *jws, const dance_tlsa_rrset *tlsa,
                      const dance_jws_policy *pol, jws_key_value *v)
{
    STACK_OF(X509) *chain = NULL;
    X509 *leaf = NULL;
    dance_match_input in;
    dance_match_result mr;
    size_t i;
    int rc;

    memset(v, 0, sizeof(*v));
    for (i = 0; i < jws->h.x5c_count; i++) {
        const unsigned char *p = jws->x5c_der[i];
        X509 *c = d2i_X509(NULL, &p, (long)jws->x5c_len[i]);
        if (c == NULL || p != jws->x5c_der[i] + jws->x5c_len[i]) {
            X509_free(c);
            v->status = DANCE_MALFORMED;
            dance_set_err(v->reason, sizeof(v->reason), "x5c entry %zu is not a DER "
                          "certificate", i);
            goto out;
        }
        if (i == 0) {
            leaf = c;
            continue;
        }
        if ((chain == NULL && (chain = sk_X509_new_null()) == NULL)
            || sk_X509_push(chain, c) == 0) {
            X509_free(c);
            v->status = DANCE_INTERNAL;
            dance_set_err(v->reason, sizeof(v->reason), "out of memory");
            goto out;
        }
    }
    memset(&in, 0, sizeof(in));
    in.leaf = leaf;
    in.chain = chain;
    in.name = jws->sender;
    in.no_ee_namechecks = true;
    in.purpose = DANCE_PURPOSE_NONE;
    in.tlsa = tlsa;
    rc = dance_match(pol->matcher, &in, &mr);
    if (rc == 0) {
        v->pkey = X509_get_pubkey(leaf);
        if (v->pkey == NULL) {
            v->status = DANCE_NO_USABLE_RECORD;
            dance_set_err(v->reason, sizeof(v->reason), "x5c certificate of %s has a public "
                          "key OpenSSL cannot use", jws->sender);
            goto out;
        }
        v->status = DANCE_OK;
        v->alg_mask = jws_key_alg_mask(v->pkey);
        v->usage = mr.matched.usage;
        v->selector = mr.matched.selector;
        v->mtype = mr.matched.mtype;
    } else if (rc == 1) {
        v->status = DANCE_CERT_MISMATCH;
        dance_set_err(v->reason, sizeof(v->reason), "x5c certificate does not match the TLSA "
                      "records of %s: %s", jws->sender, mr.reason);
    } else {
        v->status = DANCE_INTERNAL;
        dance_set_err(v->reason, sizeof(v->reason), "DANE matching failed: %s", mr.reason);
    }
out:
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
}

static dance_status verify_x5c(const dance_jws *jws, const dance_tlsa_rrset *tlsa,
                               const dance_jws_policy *pol, dance_jws_result *res)
{
    unsigned char k[X5C_KEY_LEN];
    bool have_key = false, hit = false;
    jws_key_value v;
    char why[DANCE_REASON_MAX];
    dance_status st;

    if (pol->matcher == NULL)
        return refuse(res, DANCE_INTERNAL, "message carries x5c but this verifier "
                      "has no DANE matcher configured");
    if (tlsa->count == 0)
        return refuse(res, DANCE_NO_USABLE_RECORD, "no TLSA records for %s",
                      jws->sender);
    if (pol->keys != NULL)
        have_key = x5c_cache_key(jws, tlsa, pol, k) == 0;
    if (have_key)
        hit = jws_keycache_get(pol->keys, k, sizeof(k), &v);
    if (!hit) {
        x5c_match(jws, tlsa, pol, &v);
        /* A chain the records refuse is remembered (in the cache's share
         * for refusals, which never evicts keys); our own failures are not.
         * Briefly either way: certificate dates matter for DANE-TA. */
        if (have_key && v.status == DANCE_CERT_MISMATCH)
            jws_keycache_put(pol->keys, k, sizeof(k), &v,
                             (uint64_t)DANCE_JWS_X5C_CACHE_SECONDS * 1000u);
    }
    if (v.pkey == NULL)
        return refuse(res, v.status == DANCE_OK ? DANCE_INTERNAL : v.status,
                      "%s", v.reason);
    st = check_with_key(jws, v.pkey, v.alg_mask, why, sizeof(why));
    /* A matched chain's key is kept only once a signature verified with
     * it: a message that merely carries someone's certificate (public, so
     * anyone can) signs nothing, and must not place entries in the cache. */
    if (st == DANCE_OK && have_key && !hit)
        jws_keycache_put(pol->keys, k, sizeof(k), &v,
                         (uint64_t)DANCE_JWS_X5C_CACHE_SECONDS * 1000u);
    EVP_PKEY_free(v.pkey);
    if (st == DANCE_KEY_MISMATCH)
        return refuse(res, st, "%s does not fit the x5c certificate's key: %s",
                      dance_jws_alg_name(jws->h.alg), why);
    if (st == DANCE_BAD_SIGNATURE)
        return refuse(res, st, "signature does not verify with the x5c certificate "
                      "of %s (matched TLSA %u %u %u)", jws->sender, v.usage, v.selector,
                      v.mtype);
    if (st != DANCE_OK)
        return refuse(res, st, "%s", why);
    dance_set_err(res->key_source, sizeof(res->key_source), "x5c+tlsa %u %u %u",
                  v.usage, v.selector, v.mtype);
    return finish(jws, pol, res);
}

/* ------------------------------------------------------------- entries */

static dance_status verify_as(const dance_jws *jws, const dance_tlsa_rrset *tlsa,
                                   const dance_jws_policy *pol, verify_kind kind,
                                   dance_jws_result *res)
{
    static const dance_tlsa_rrset empty;

    if (jws == NULL) {
        dance_jws_result_clear(res);
        return refuse(res, DANCE_INTERNAL, "no message");
    }
    if (pol == NULL)
        pol = &default_policy;
    if (tlsa == NULL)
        tlsa = &empty;
    res_begin(jws, res);
    if (header_checks(jws, pol, kind, res) != DANCE_OK)
        return res->status;
    if (jws->h.x5c_count > 0)
        return verify_x5c(jws, tlsa, pol, res);
    return verify_direct(jws, tlsa, pol, kind, res);
}

dance_status dance_jws_verify(const dance_jws *jws, const dance_tlsa_rrset *tlsa,
                              const dance_jws_policy *pol, dance_jws_result *res)
{
    return verify_as(jws, tlsa, pol, AS_MESSAGE, res);
}

dance_status jws_verify_token(const dance_jws *jws, const dance_tlsa_rrset *tlsa,
                              const dance_jws_policy *pol, dance_jws_result *res)
{
    return verify_as(jws, tlsa, pol, AS_TOKEN, res);
}

dance_status dance_jws_verify_dns(const dance_jws *jws, dance_status st,
                                  const dance_tlsa_rrset *records,
                                  const char *dns_reason,
                                  const dance_jws_policy *pol,
                                  dance_jws_result *res)
{
    if (st == DANCE_OK)
        return dance_jws_verify(jws, records, pol, res);
    if (dance_jws_check(jws, pol, res) != DANCE_OK)
        return res->status;
    return sender_dns_refusal(&res->status, res->reason, sizeof(res->reason), jws->sender,
                              st, dns_reason);
}

dance_status dance_jws_verify_key(const dance_jws *jws, EVP_PKEY *key,
                                  const char *key_source,
                                  const dance_jws_policy *pol,
                                  dance_jws_result *res)
{
    char why[DANCE_REASON_MAX];
    dance_status st;

    if (jws == NULL || key == NULL) {
        dance_jws_result_clear(res);
        return refuse(res, DANCE_INTERNAL, "no message or no key");
    }
    if (pol == NULL)
        pol = &default_policy;
    res_begin(jws, res);
    if (header_checks(jws, pol, AS_MESSAGE, res) != DANCE_OK)
        return res->status;
    st = check_with_key(jws, key, jws_key_alg_mask(key), why, sizeof(why));
    if (st == DANCE_KEY_MISMATCH)
        return refuse(res, st, "%s does not fit the given key: %s",
                      dance_jws_alg_name(jws->h.alg), why);
    if (st == DANCE_BAD_SIGNATURE)
        return refuse(res, st, "signature does not verify with the given key");
    if (st != DANCE_OK)
        return refuse(res, st, "%s", why);
    dance_set_err(res->key_source, sizeof(res->key_source), "%s",
                  key_source ? key_source : "key");
    return finish(jws, pol, res);
}

dance_status dance_jws_verify_message(const void *data, size_t len, size_t max_size,
                                          const dance_jws_policy *pol,
                                          const dance_jws_source *src,
                                          dance_jws_result *res)
{
    dance_jws *jws = NULL;
    dance_tlsa_result tr;
    char why[DANCE_REASON_MAX];
    dance_status st;
    int rc;

    dance_jws_result_clear(res);
    if (pol == NULL)
        pol = &default_policy;
    st = dance_message_parse(data, len, max_size, &jws, res->sender, res->reason,
                             sizeof(res->reason));
    if (st != DANCE_OK) {
        res->status = st;
        return st;
    }
    if (dance_jws_check(jws, pol, res) != DANCE_OK)
        goto out;
    memset(&tr, 0, sizeof(tr));
    rc = sender_fetch(src, jws->sender, pol->service_label, &tr, why, sizeof(why));
    if (rc != 0) {
        refuse(res, rc == -1 ? DANCE_INTERNAL : DANCE_BAD_SENDER, "%s", why);
        goto out;
    }
    dance_jws_verify_dns(jws, tr.status, &tr.records, tr.reason, pol, res);
    dance_tlsa_result_clear(&tr);
out:
    dance_jws_free(jws);
    return res->status;
}
