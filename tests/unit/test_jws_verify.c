/*
 * test_jws_verify.c - JWS verification against TLSA records
 * (lib/jws_verify.c, jws_alg.c, jws_sign.c, jws_keycache.c, replay.c).
 *
 * Every algorithm goes sign -> verify through records of each kind (3 1 0,
 * 3 0 0, 3 1 1 + x5c, 2 0 1 + x5c chain); messages the library's own signer
 * refuses to make (ES384 with a P-256 key, RSA-1024, the prototype format)
 * come from the independent signer in jwstest.c. Policy (iat window on an
 * injected clock, jti and digest replay, topic binding, allow-list), the DNS outcome
 * mapping, the caches and concurrent use are covered too.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dance/jws.h"
#include "dance/keycache.h"
#include "dance/replay.h"
#include "dance/token.h"
#include "jwstest.h"
#include "testcerts.h"

#define NOW 1700000000

typedef struct fixture {
    EVP_PKEY *ec256, *ec384, *ec521, *rsa, *rsa1024, *ed25519, *ed448;
    X509 *c_ec256, *c_ec384, *c_ec521, *c_rsa, *c_rsa1024, *c_ed25519;
    dance_matcher *matcher;
} fixture;

static fixture fx;

static int64_t fake_now(void *ctx)
{
    return *(int64_t *)ctx;
}

static int setup(void **state)
{
    char err[DANCE_REASON_MAX];

    (void)state;
    fx.ec256 = jt_key("ec256");
    fx.ec384 = jt_key("ec384");
    fx.ec521 = jt_key("ec521");
    fx.rsa = jt_key("rsa2048");
    fx.rsa1024 = jt_key("rsa1024");
    fx.ed25519 = jt_key("ed25519");
    fx.ed448 = jt_key("ed448");
    fx.c_ec256 = jt_cert(fx.ec256, JT_NAME);
    fx.c_ec384 = jt_cert(fx.ec384, JT_NAME);
    fx.c_ec521 = jt_cert(fx.ec521, JT_NAME);
    fx.c_rsa = jt_cert(fx.rsa, JT_NAME);
    fx.c_rsa1024 = jt_cert(fx.rsa1024, JT_NAME);
    fx.c_ed25519 = jt_cert(fx.ed25519, JT_NAME);
    fx.matcher = dance_matcher_new(NULL, err, sizeof(err));
    assert_non_null(fx.matcher);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(fx.ec256);
    EVP_PKEY_free(fx.ec384);
    EVP_PKEY_free(fx.ec521);
    EVP_PKEY_free(fx.rsa);
    EVP_PKEY_free(fx.rsa1024);
    EVP_PKEY_free(fx.ed25519);
    EVP_PKEY_free(fx.ed448);
    X509_free(fx.c_ec256);
    X509_free(fx.c_ec384);
    X509_free(fx.c_ec521);
    X509_free(fx.c_rsa);
    X509_free(fx.c_rsa1024);
    X509_free(fx.c_ed25519);
    dance_matcher_free(fx.matcher);
    return 0;
}

/* sign - libdance's signer; x5c NULL-terminated list or NULL */
static char *sign(EVP_PKEY *key, const char *alg, const char *payload,
                  X509 *const *x5c, const dance_jws_sign_opts *extra)
{
    dance_jws_sign_opts o;
    STACK_OF(X509) *chain = NULL;
    char *out = NULL, err[DANCE_REASON_MAX];
    size_t len = 0;

    if (extra != NULL)
        o = *extra;
    else
        memset(&o, 0, sizeof(o));
    o.key = key;
    o.name = o.name ? o.name : JT_NAME;
    o.alg = alg;
    if (x5c != NULL) {
        chain = sk_X509_new_null();
        assert_non_null(chain);
        for (; *x5c != NULL; x5c++)
            assert_true(sk_X509_push(chain, *x5c) > 0);
        o.x5c = chain;
    }
    if (dance_jws_sign(&o, payload, strlen(payload), &out, &len, err, sizeof(err)) != 0)
        fail_msg("sign %s: %s", alg ? alg : "(default)", err);
    assert_int_equal(strlen(out), len);
    sk_X509_free(chain);
    return out;
}

/* verify - parse + verify; the result is left in res for the caller */
static dance_status verify(const char *msg, const dance_tlsa_rrset *set,
                           const dance_jws_policy *pol, dance_jws_result *res)
{
    dance_jws *jws = NULL;
    dance_status st;

    dance_jws_result_clear(res);
    st = dance_jws_parse(msg, strlen(msg), 0, &jws, res->sender, res->reason,
                         sizeof(res->reason));
    if (st != DANCE_OK) {
        res->status = st;
        return st;
    }
    st = dance_jws_verify(jws, set, pol, res);
    dance_jws_free(jws);
    if (st != DANCE_OK) {
        assert_null(res->payload);          /* fail closed: nothing to use */
        assert_true(res->reason[0] != '\0');
    }
    return st;
}

static dance_jws_policy base_policy(void)
{
    dance_jws_policy p;

    memset(&p, 0, sizeof(p));
    p.matcher = fx.matcher;
    return p;
}

/* -------------------------------------------------------- round trips */

typedef struct alg_case {
    const char *alg;
    EVP_PKEY **key;
    X509 **cert;
} alg_case;

static const alg_case alg_cases[] = {
    { "ES256", &fx.ec256, &fx.c_ec256 },
    { "ES384", &fx.ec384, &fx.c_ec384 },
    { "ES512", &fx.ec521, &fx.c_ec521 },
    { "RS256", &fx.rsa, &fx.c_rsa },
    { "RS384", &fx.rsa, &fx.c_rsa },
    { "RS512", &fx.rsa, &fx.c_rsa },
    { "PS256", &fx.rsa, &fx.c_rsa },
    { "PS384", &fx.rsa, &fx.c_rsa },
    { "PS512", &fx.rsa, &fx.c_rsa },
    { "EdDSA", &fx.ed25519, &fx.c_ed25519 },
};

static void round_trip(int u, int s, int m, bool with_x5c, const char *want_source)
{
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    size_t i;

    memset(&res, 0, sizeof(res));
    for (i = 0; i < sizeof(alg_cases) / sizeof(alg_cases[0]); i++) {
        const alg_case *ac = &alg_cases[i];
        dance_tlsa_rrset set = { 0, NULL };
        X509 *chain[2] = { *ac->cert, NULL };
        char *msg = sign(*ac->key, ac->alg, "reading 21.5C", with_x5c ? chain : NULL, NULL);
        char *bad;

        jt_add(&set, u, s, m, *ac->cert);
        if (verify(msg, &set, &pol, &res) != DANCE_OK)
            fail_msg("%s with %d %d %d: %s", ac->alg, u, s, m, res.reason);
        assert_string_equal(res.sender, JT_NAME);
        assert_string_equal(dance_jws_alg_name(res.alg), ac->alg);
        assert_string_equal(res.key_source, want_source);
        assert_int_equal(res.payload_len, strlen("reading 21.5C"));
        assert_memory_equal(res.payload, "reading 21.5C", res.payload_len);
        assert_int_equal(res.payload[res.payload_len], '\0');
        /* tampered signature: flip a bit in the first signature character */
        bad = strdup(msg);
        assert_non_null(bad);
        {
            char *sig = strrchr(bad, '.') + 1;
            sig[0] = sig[0] == 'A' ? 'B' : 'A';
        }
        assert_int_equal(verify(bad, &set, &pol, &res), DANCE_BAD_SIGNATURE);
        free(bad);
        /* tampered payload */
        bad = strdup(msg);
        assert_non_null(bad);
        {
            char *p = strchr(bad, '.') + 1;
            p[0] = p[0] == 'c' ? 'd' : 'c';
        }
        assert_int_equal(verify(bad, &set, &pol, &res), DANCE_BAD_SIGNATURE);
        free(bad);
        free(msg);
        dance_tlsa_rrset_clear(&set);
    }
    dance_jws_result_clear(&res);
}

static void test_roundtrip_310(void **state)
{
    (void)state;
    round_trip(3, 1, 0, false, "tlsa 3 1 0");
}

static void test_roundtrip_300(void **state)
{
    (void)state;
    round_trip(3, 0, 0, false, "tlsa 3 0 0");
}

static void test_roundtrip_311_x5c(void **state)
{
    (void)state;
    round_trip(3, 1, 1, true, "x5c+tlsa 3 1 1");
    round_trip(3, 0, 2, true, "x5c+tlsa 3 0 2");
}

static void test_flattened_roundtrip(void **state)
{
    dance_jws_sign_opts o;
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    char *msg;
    dance_jws *jws = NULL;
    char err[DANCE_REASON_MAX];

    (void)state;
    memset(&o, 0, sizeof(o));
    memset(&res, 0, sizeof(res));
    o.serialization = DANCE_JWS_FLATTENED;
    o.x5u = true;
    msg = sign(fx.ec256, NULL, "{\"t\":1}", NULL, &o);
    assert_true(msg[0] == '{');
    assert_int_equal(dance_jws_parse(msg, strlen(msg), 0, &jws, NULL, err, sizeof(err)),
                     DANCE_OK);
    assert_string_equal(dance_jws_get_header(jws)->x5u, "dns:" JT_NAME "?type=TLSA");
    assert_int_equal(dance_jws_get_header(jws)->serialization, DANCE_JWS_FLATTENED);
    dance_jws_free(jws);
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_OK);
    assert_string_equal((char *)res.payload, "{\"t\":1}");
    free(msg);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

/* The format of existing DANCE MQTT prototypes: flattened JSON, RS256,
 * x5u dns://NAME?type=TLSA and no kid, certificate in a 3 0 0 record. */
static void test_prototype_format(void **state)
{
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    char *c = jt_jws("{\"alg\":\"RS256\",\"x5u\":\"dns://" JT_NAME "?type=TLSA\"}",
                     "{\"temp\":21.5}", fx.rsa, jt_signer_for("RS256"));
    char *f = jt_flattened(c, "\"header\":{\"typ\":\"JOSE\"},");

    (void)state;
    memset(&res, 0, sizeof(res));
    jt_add(&set, 3, 0, 0, fx.c_rsa);
    assert_int_equal(verify(f, &set, &pol, &res), DANCE_OK);
    assert_string_equal(res.sender, JT_NAME);
    assert_string_equal(res.key_source, "tlsa 3 0 0");
    assert_string_equal((char *)res.payload, "{\"temp\":21.5}");
    /* the compact form of the same message too */
    assert_int_equal(verify(c, &set, &pol, &res), DANCE_OK);
    free(c);
    free(f);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

static void test_binary_payload(void **state)
{
    dance_jws_sign_opts o;
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    unsigned char bytes[256];
    char *out = NULL, err[DANCE_REASON_MAX];
    size_t i, len;

    (void)state;
    for (i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char)i;
    memset(&o, 0, sizeof(o));
    memset(&res, 0, sizeof(res));
    o.key = fx.ed25519;
    o.name = JT_NAME;
    assert_int_equal(dance_jws_sign(&o, bytes, sizeof(bytes), &out, &len, err, sizeof(err)), 0);
    jt_add(&set, 3, 1, 0, fx.c_ed25519);
    assert_int_equal(verify(out, &set, &pol, &res), DANCE_OK);
    assert_int_equal(res.payload_len, sizeof(bytes));
    assert_memory_equal(res.payload, bytes, sizeof(bytes));
    free(out);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

/* ------------------------------------------------------- x5c and DANE-TA */

static void test_x5c_chain_dane_ta(void **state)
{
    tc_spec ca_spec = { .cn = "Acme Device CA", .ca = true, .not_before = -60,
                        .not_after = 86400 };
    tc_spec leaf_spec = { .san = "DNS:" JT_NAME, .eku = "clientAuth", .not_before = -60,
                          .not_after = 86400 };
    tc_spec other_spec = { .san = "DNS:dev2._device.acme.example", .not_before = -60,
                           .not_after = 86400 };
    tc_spec expired_spec = { .san = "DNS:" JT_NAME, .not_before = -7200,
                             .not_after = -3600 };
    EVP_PKEY *ca_key = jt_key("ec256"), *leaf_key = jt_key("ec384");
    X509 *ca = tc_cert(&ca_spec, ca_key, NULL, NULL);
    X509 *leaf = tc_cert(&leaf_spec, leaf_key, ca, ca_key);
    X509 *other = tc_cert(&other_spec, leaf_key, ca, ca_key);
    X509 *expired = tc_cert(&expired_spec, leaf_key, ca, ca_key);
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    char *msg;

    (void)state;
    memset(&res, 0, sizeof(res));
    assert_non_null(ca);
    assert_non_null(leaf);
    assert_non_null(other);
    assert_non_null(expired);
    jt_add(&set, 2, 0, 1, ca);

    /* leaf + CA in x5c, the CA's digest in DNS */
    {
        X509 *x5c[] = { leaf, ca, NULL };
        msg = sign(leaf_key, NULL, "via CA", x5c, NULL);
        if (verify(msg, &set, &pol, &res) != DANCE_OK)
            fail_msg("2 0 1: %s", res.reason);
        assert_string_equal(res.key_source, "x5c+tlsa 2 0 1");
        assert_string_equal(dance_jws_alg_name(res.alg), "ES384");
        free(msg);
    }
    /* the CA may vouch for dev2 but the message claims dev1: DANE-TA
     * checks the name */
    {
        X509 *x5c[] = { other, ca, NULL };
        msg = sign(leaf_key, NULL, "wrong name", x5c, NULL);
        assert_int_equal(verify(msg, &set, &pol, &res), DANCE_CERT_MISMATCH);
        free(msg);
    }
    /* DANE-TA checks dates */
    {
        X509 *x5c[] = { expired, ca, NULL };
        msg = sign(leaf_key, NULL, "expired", x5c, NULL);
        assert_int_equal(verify(msg, &set, &pol, &res), DANCE_CERT_MISMATCH);
        free(msg);
    }
    /* the leaf alone cannot reach a 2 0 1 record */
    {
        X509 *x5c[] = { leaf, NULL };
        msg = sign(leaf_key, NULL, "no chain", x5c, NULL);
        assert_int_equal(verify(msg, &set, &pol, &res), DANCE_CERT_MISMATCH);
        free(msg);
    }
    /* no matcher configured: refused, never accepted unchecked */
    {
        X509 *x5c[] = { leaf, ca, NULL };
        dance_jws_policy nomatch = base_policy();
        nomatch.matcher = NULL;
        msg = sign(leaf_key, NULL, "x", x5c, NULL);
        assert_int_equal(verify(msg, &set, &nomatch, &res), DANCE_INTERNAL);
        free(msg);
    }
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
    X509_free(ca);
    X509_free(leaf);
    X509_free(other);
    X509_free(expired);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(leaf_key);
}

/* An identity is one exact name: with a DANE-TA record of the CA at the
 * sender's name, a leaf from that CA whose only name is a wildcard covering
 * the sender must not sign as the sender (OpenSSL's host check alone lets
 * "*.acme.example" stand for victim.acme.example). The exact-name leaf from
 * the same CA, same key, same record is the control. */
#define VICTIM "victim.acme.example"

static void test_x5c_wildcard_leaf_refused(void **state)
{
    tc_spec ca_spec = { .cn = "Acme Device CA", .ca = true, .not_before = -60,
                        .not_after = 86400 };
    tc_spec wild_spec = { .san = "DNS:*.acme.example", .eku = "clientAuth",
                          .not_before = -60, .not_after = 86400 };
    tc_spec exact_spec = wild_spec;
    EVP_PKEY *ca_key = jt_key("ec256"), *leaf_key = jt_key("ec256");
    X509 *ca, *wild, *exact;
    dance_jws_sign_opts as_victim;
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    char *msg;
    int with_cache;

    (void)state;
    memset(&res, 0, sizeof(res));
    memset(&as_victim, 0, sizeof(as_victim));
    as_victim.name = VICTIM;
    exact_spec.san = "DNS:" VICTIM;
    ca = tc_cert(&ca_spec, ca_key, NULL, NULL);
    assert_non_null(ca);
    wild = tc_cert(&wild_spec, leaf_key, ca, ca_key);
    exact = tc_cert(&exact_spec, leaf_key, ca, ca_key);
    assert_non_null(wild);
    assert_non_null(exact);
    jt_add(&set, 2, 0, 1, ca);

    for (with_cache = 0; with_cache < 2; with_cache++) {
        if (with_cache) {
            pol.keys = dance_jws_keycache_new(16);
            assert_non_null(pol.keys);
        }
        {
            X509 *x5c[] = { wild, ca, NULL };
            msg = sign(leaf_key, NULL, "as victim", x5c, &as_victim);
            assert_int_equal(verify(msg, &set, &pol, &res), DANCE_CERT_MISMATCH);
            assert_non_null(strstr(res.reason, VICTIM));
            /* a second time (from the cache when there is one): still refused */
            assert_int_equal(verify(msg, &set, &pol, &res), DANCE_CERT_MISMATCH);
            free(msg);
        }
        {
            X509 *x5c[] = { exact, ca, NULL };
            msg = sign(leaf_key, NULL, "as itself", x5c, &as_victim);
            if (verify(msg, &set, &pol, &res) != DANCE_OK)
                fail_msg("exact-name leaf: %s", res.reason);
            assert_string_equal(res.key_source, "x5c+tlsa 2 0 1");
            free(msg);
        }
    }
    dance_jws_keycache_free(pol.keys);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
    X509_free(ca);
    X509_free(wild);
    X509_free(exact);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(leaf_key);
}

/* x5c_b64 - standard base64 of the certificate's DER */
static char *x5c_b64(X509 *c)
{
    unsigned char *der = NULL;
    int n = i2d_X509(c, &der);
    char *out;

    assert_true(n > 0);
    out = malloc(4 * ((size_t)n + 2) / 3 + 4);
    assert_non_null(out);
    assert_true(EVP_EncodeBlock((unsigned char *)out, der, n) > 0);
    OPENSSL_free(der);
    return out;
}

static void test_x5c_refusals(void **state)
{
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    X509 *x5c_ec[] = { fx.c_ec256, NULL };
    X509 *x5c_rsa[] = { fx.c_rsa, NULL };
    char *msg, *m2;

    (void)state;
    memset(&res, 0, sizeof(res));
    jt_add(&set, 3, 1, 1, fx.c_ec256);
    /* digest record, no x5c: the key is not in DNS */
    msg = sign(fx.ec256, NULL, "x", NULL, NULL);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_NO_USABLE_RECORD);
    assert_non_null(strstr(res.reason, "x5c"));
    free(msg);
    /* x5c with another certificate than the records name */
    msg = sign(fx.rsa, NULL, "x", x5c_rsa, NULL);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_CERT_MISMATCH);
    /* again, now answered from the key cache: still refused */
    pol.keys = dance_jws_keycache_new(8);
    assert_non_null(pol.keys);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_CERT_MISMATCH);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_CERT_MISMATCH);
    free(msg);
    /* x5c that matches, signature by another key under the same header */
    msg = sign(fx.ec256, NULL, "x", x5c_ec, NULL);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_OK);       /* cached */
    {
        EVP_PKEY *k2 = jt_key("ec256");
        char hdr[4096], *b64 = x5c_b64(fx.c_ec256);
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\","
                 "\"x5c\":[\"%s\"]}", b64);
        m2 = jt_jws(hdr, "x", k2, jt_signer_for("ES256"));
        assert_int_equal(verify(m2, &set, &pol, &res), DANCE_BAD_SIGNATURE);
        free(m2);
        /* and the real key under that hand-made header verifies */
        m2 = jt_jws(hdr, "x", fx.ec256, jt_signer_for("ES256"));
        assert_int_equal(verify(m2, &set, &pol, &res), DANCE_OK);
        assert_string_equal(res.key_source, "x5c+tlsa 3 1 1");
        free(m2);
        free(b64);
        EVP_PKEY_free(k2);
    }
    free(msg);
    /* x5c whose DER is not a certificate */
    msg = jt_jws("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"x5c\":[\"AAAA\"]}", "x",
                 fx.ec256, jt_signer_for("ES256"));
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_MALFORMED);
    free(msg);
    dance_jws_keycache_free(pol.keys);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

/* ------------------------------------------------------ key / algorithm */

/* ES384 header, a valid ECDSA signature over SHA-384 by a P-256 key (what
 * cjose would accept): refused for the curve, before any signature check */
static void test_curve_alg_mismatch(void **state)
{
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    jt_signer s = { "SHA384", 0, 32 };  /* SHA-384 hash, P-256 sized r||s */
    char *msg = jt_jws("{\"alg\":\"ES384\",\"kid\":\"" JT_NAME "\"}", "x", fx.ec256, s);
    dance_jws_sign_opts o;
    char *out = NULL, err[DANCE_REASON_MAX];
    size_t len;

    (void)state;
    memset(&res, 0, sizeof(res));
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_KEY_MISMATCH);
    assert_non_null(strstr(res.reason, "P-384"));
    free(msg);
    /* ES256 header on a P-384 record */
    msg = jt_jws("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\"}", "x", fx.ec384,
                 (jt_signer){ "SHA256", 0, 48 });
    dance_tlsa_rrset_clear(&set);
    jt_add(&set, 3, 1, 0, fx.c_ec384);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_KEY_MISMATCH);
    free(msg);
    /* RS256 header on an EC record, EdDSA on an RSA record */
    msg = jt_jws("{\"alg\":\"RS256\",\"kid\":\"" JT_NAME "\"}", "x", fx.rsa,
                 jt_signer_for("RS256"));
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_KEY_MISMATCH);
    free(msg);
    dance_tlsa_rrset_clear(&set);
    jt_add(&set, 3, 1, 0, fx.c_rsa);
    msg = jt_jws("{\"alg\":\"EdDSA\",\"kid\":\"" JT_NAME "\"}", "x", fx.ed25519,
                 jt_signer_for("EdDSA"));
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_KEY_MISMATCH);
    free(msg);
    /* Ed448 is not EdDSA here */
    {
        dance_tlsa_rrset s448 = { 0, NULL };
        unsigned char *der = NULL;
        int n = i2d_PUBKEY(fx.ed448, &der);
        assert_true(n > 0);
        assert_int_equal(dance_tlsa_rrset_add(&s448, 3, 1, 0, der, (size_t)n), 0);
        OPENSSL_free(der);
        msg = jt_jws("{\"alg\":\"EdDSA\",\"kid\":\"" JT_NAME "\"}", "x", fx.ed448,
                     jt_signer_for("EdDSA"));
        assert_int_equal(verify(msg, &s448, &pol, &res), DANCE_KEY_MISMATCH);
        free(msg);
        dance_tlsa_rrset_clear(&s448);
    }
    /* our signer refuses these combinations outright */
    memset(&o, 0, sizeof(o));
    o.key = fx.ec256;
    o.name = JT_NAME;
    o.alg = "ES384";
    assert_int_equal(dance_jws_sign(&o, "x", 1, &out, &len, err, sizeof(err)), -1);
    assert_null(out);
    o.alg = "RS256";
    assert_int_equal(dance_jws_sign(&o, "x", 1, &out, &len, err, sizeof(err)), -1);
    o.alg = "HS256";
    assert_int_equal(dance_jws_sign(&o, "x", 1, &out, &len, err, sizeof(err)), -1);
    o.alg = "none";
    assert_int_equal(dance_jws_sign(&o, "x", 1, &out, &len, err, sizeof(err)), -1);
    o.key = fx.ed448;
    o.alg = NULL;
    assert_int_equal(dance_jws_sign(&o, "x", 1, &out, &len, err, sizeof(err)), -1);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

static void test_rsa_1024_refused(void **state)
{
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    char *msg = jt_jws("{\"alg\":\"RS256\",\"kid\":\"" JT_NAME "\"}", "x", fx.rsa1024,
                       jt_signer_for("RS256"));
    dance_jws_sign_opts o;
    char *out = NULL, err[DANCE_REASON_MAX];
    size_t len;

    (void)state;
    memset(&res, 0, sizeof(res));
    jt_add(&set, 3, 1, 0, fx.c_rsa1024);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_KEY_MISMATCH);
    assert_non_null(strstr(res.reason, "1024"));
    /* also offline */
    {
        dance_jws *jws = NULL;
        assert_int_equal(dance_jws_parse(msg, strlen(msg), 0, &jws, NULL, err, sizeof(err)),
                         DANCE_OK);
        assert_int_equal(dance_jws_verify_key(jws, fx.rsa1024, NULL, &pol, &res),
                         DANCE_KEY_MISMATCH);
        dance_jws_free(jws);
    }
    memset(&o, 0, sizeof(o));
    o.key = fx.rsa1024;
    o.name = JT_NAME;
    assert_int_equal(dance_jws_sign(&o, "x", 1, &out, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "2048"));
    free(msg);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

static void test_record_selection(void **state)
{
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    char *msg = sign(fx.ec256, NULL, "x", NULL, NULL);
    unsigned char junk[40];

    (void)state;
    memset(&res, 0, sizeof(res));
    memset(junk, 0x30, sizeof(junk));
    /* no records at all */
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_NO_USABLE_RECORD);
    assert_int_equal(verify(msg, NULL, &pol, &res), DANCE_NO_USABLE_RECORD);
    /* another key's record: bad signature */
    jt_add(&set, 3, 1, 0, fx.c_ec384);
    jt_add(&set, 3, 1, 0, fx.c_rsa);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_KEY_MISMATCH);
    {
        EVP_PKEY *k2 = jt_key("ec256");
        X509 *c2 = jt_cert(k2, JT_NAME);
        jt_add(&set, 3, 1, 0, c2);
        assert_int_equal(verify(msg, &set, &pol, &res), DANCE_BAD_SIGNATURE);
        /* rollover: old and new key published, the right one is found */
        jt_add(&set, 3, 0, 0, fx.c_ec256);
        assert_int_equal(verify(msg, &set, &pol, &res), DANCE_OK);
        assert_string_equal(res.key_source, "tlsa 3 0 0");
        X509_free(c2);
        EVP_PKEY_free(k2);
    }
    dance_tlsa_rrset_clear(&set);
    /* garbage record data */
    assert_int_equal(dance_tlsa_rrset_add(&set, 3, 1, 0, junk, sizeof(junk)), 0);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_NO_USABLE_RECORD);
    /* a DANE-TA full record is a trust anchor, never the signing key */
    dance_tlsa_rrset_clear(&set);
    jt_add(&set, 2, 1, 0, fx.c_ec256);
    jt_add(&set, 1, 1, 0, fx.c_ec256);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_NO_USABLE_RECORD);
    free(msg);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

/* The canonical P-256/P-384/Ed25519 SPKI forms are decoded without
 * OpenSSL's decoder framework (jws_verify.c); every other form goes the
 * general way. Both must accept the same keys and refuse the same junk. */
static void test_spki_forms(void **state)
{
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    char *msg = sign(fx.ec256, NULL, "x", NULL, NULL);
    unsigned char *der = NULL, buf[128];
    EVP_PKEY *comp;
    int n;

    (void)state;
    memset(&res, 0, sizeof(res));
    n = i2d_PUBKEY(fx.ec256, &der);
    assert_int_equal(n, 91);
    memcpy(buf, der, (size_t)n);
    /* canonical form: the fast path */
    assert_int_equal(dance_tlsa_rrset_add(&set, 3, 1, 0, buf, (size_t)n), 0);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_OK);
    dance_tlsa_rrset_clear(&set);
    /* a point off the curve: no key */
    buf[n - 1] ^= 0x01;
    assert_int_equal(dance_tlsa_rrset_add(&set, 3, 1, 0, buf, (size_t)n), 0);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_NO_USABLE_RECORD);
    dance_tlsa_rrset_clear(&set);
    buf[n - 1] ^= 0x01;
    /* a trailing byte: not a DER SPKI, no key */
    buf[n] = 0x00;
    assert_int_equal(dance_tlsa_rrset_add(&set, 3, 1, 0, buf, (size_t)n + 1), 0);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_NO_USABLE_RECORD);
    dance_tlsa_rrset_clear(&set);
    /* not an uncompressed point (form byte 0x05, no such form): the
     * general path, which refuses it too */
    buf[26] = 0x05;
    assert_int_equal(dance_tlsa_rrset_add(&set, 3, 1, 0, buf, (size_t)n), 0);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_NO_USABLE_RECORD);
    dance_tlsa_rrset_clear(&set);
    OPENSSL_free(der);
    der = NULL;
    /* a compressed point: the general path, same key, verifies */
    comp = EVP_PKEY_dup(fx.ec256);
    assert_non_null(comp);
    assert_int_equal(EVP_PKEY_set_utf8_string_param(comp,
                         OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"), 1);
    n = i2d_PUBKEY(comp, &der);
    assert_int_equal(n, 59);
    assert_int_equal(dance_tlsa_rrset_add(&set, 3, 1, 0, der, (size_t)n), 0);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_OK);
    dance_tlsa_rrset_clear(&set);
    OPENSSL_free(der);
    EVP_PKEY_free(comp);
    free(msg);
    dance_jws_result_clear(&res);
}

static void test_header_tamper(void **state)
{
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    char *msg = sign(fx.ec256, NULL, "x", NULL, NULL);
    char *other = jt_jws_sig("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"topic\":\"a\"}",
                             "x", strrchr(msg, '.') + 1);

    (void)state;
    memset(&res, 0, sizeof(res));
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(other, &set, &pol, &res), DANCE_BAD_SIGNATURE);
    free(msg);
    free(other);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

/* ------------------------------------------------------------- policy */

static void test_iat_window(void **state)
{
    int64_t now = NOW;
    dance_jws_sign_opts o;
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    char *with_iat, *without;

    (void)state;
    memset(&res, 0, sizeof(res));
    memset(&o, 0, sizeof(o));
    o.iat = true;
    o.now = fake_now;
    o.now_ctx = &now;
    with_iat = sign(fx.ec256, NULL, "x", NULL, &o);
    without = sign(fx.ec256, NULL, "x", NULL, NULL);
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    pol.now = fake_now;
    pol.now_ctx = &now;
    assert_int_equal(verify(with_iat, &set, &pol, &res), DANCE_OK);
    now = NOW + 300;                                 /* default skew 300 s */
    assert_int_equal(verify(with_iat, &set, &pol, &res), DANCE_OK);
    now = NOW + 301;
    assert_int_equal(verify(with_iat, &set, &pol, &res), DANCE_STALE);
    assert_non_null(strstr(res.reason, "past"));
    now = NOW - 301;
    assert_int_equal(verify(with_iat, &set, &pol, &res), DANCE_STALE);
    assert_non_null(strstr(res.reason, "future"));
    pol.max_skew = 10;
    now = NOW + 11;
    assert_int_equal(verify(with_iat, &set, &pol, &res), DANCE_STALE);
    now = NOW + 10;
    assert_int_equal(verify(with_iat, &set, &pol, &res), DANCE_OK);
    /* without iat: fine unless required */
    assert_int_equal(verify(without, &set, &pol, &res), DANCE_OK);
    pol.require_iat = true;
    assert_int_equal(verify(without, &set, &pol, &res), DANCE_STALE);
    assert_int_equal(verify(with_iat, &set, &pol, &res), DANCE_OK);
    free(with_iat);
    free(without);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

static uint64_t mono_now;

static uint64_t fake_mono(void *ctx)
{
    (void)ctx;
    return mono_now;
}

static void test_jti_replay(void **state)
{
    dance_jws_sign_opts o;
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    dance_replay_stats rs;
    char *a, *b, *other_sender, *forged, *no_jti;
    EVP_PKEY *k2 = jt_key("ec256");

    (void)state;
    memset(&res, 0, sizeof(res));
    mono_now = 1000000;
    pol.replay = dance_replay_new(16, 60, fake_mono, NULL);
    assert_non_null(pol.replay);
    memset(&o, 0, sizeof(o));
    o.jti = "msg-1";
    a = sign(fx.ec256, NULL, "x", NULL, &o);
    o.jti = "msg-2";
    b = sign(fx.ec256, NULL, "y", NULL, &o);
    o.jti = "msg-3";
    forged = sign(k2, NULL, "forged", NULL, &o);       /* wrong key, jti msg-3 */
    jt_add(&set, 3, 1, 0, fx.c_ec256);

    assert_int_equal(verify(a, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(a, &set, &pol, &res), DANCE_REPLAY);
    assert_non_null(strstr(res.reason, "msg-1"));
    assert_int_equal(verify(b, &set, &pol, &res), DANCE_OK);
    /* a forgery does not burn the jti for the real sender */
    assert_int_equal(verify(forged, &set, &pol, &res), DANCE_BAD_SIGNATURE);
    o.jti = "msg-3";
    free(forged);
    forged = sign(fx.ec256, NULL, "real", NULL, &o);
    assert_int_equal(verify(forged, &set, &pol, &res), DANCE_OK);
    /* the same jti from another sender is another message */
    o.name = "dev2._device.acme.example";
    o.jti = "msg-1";
    other_sender = sign(fx.ec256, NULL, "x", NULL, &o);
    assert_int_equal(verify(other_sender, &set, &pol, &res), DANCE_OK);
    /* after the window the pair is forgotten */
    mono_now += 61000;
    assert_int_equal(verify(a, &set, &pol, &res), DANCE_OK);
    dance_replay_get_stats(pol.replay, &rs);
    assert_int_equal(rs.replays, 1);
    assert_int_equal(rs.entries, 1);
    /* required jti */
    no_jti = sign(fx.ec256, NULL, "x", NULL, NULL);
    assert_int_equal(verify(no_jti, &set, &pol, &res), DANCE_OK);
    pol.require_jti = true;
    assert_int_equal(verify(no_jti, &set, &pol, &res), DANCE_REPLAY);
    dance_replay_free(pol.replay);
    /* a critical jti needs a replay cache */
    pol = base_policy();
    {
        char *crit = jt_jws("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"jti\":\"j\","
                            "\"crit\":[\"jti\"]}", "x", fx.ec256, jt_signer_for("ES256"));
        assert_int_equal(verify(crit, &set, &pol, &res), DANCE_REPLAY);
        pol.replay = dance_replay_new(0, 0, NULL, NULL);
        assert_int_equal(verify(crit, &set, &pol, &res), DANCE_OK);
        assert_int_equal(verify(crit, &set, &pol, &res), DANCE_REPLAY);
        dance_replay_free(pol.replay);
        free(crit);
    }
    free(a);
    free(b);
    free(forged);
    free(other_sender);
    free(no_jti);
    EVP_PKEY_free(k2);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

/* b64url_decode - for the tests below (no padding, no whitespace) */
static unsigned char *b64url_decode(const char *in, size_t n, size_t *outlen)
{
    char *t = malloc(n + 4);
    unsigned char *out = malloc(n + 4);
    size_t i, m = n;
    int len;

    assert_non_null(t);
    assert_non_null(out);
    for (i = 0; i < n; i++)
        t[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    while (m % 4)
        t[m++] = '=';
    len = EVP_DecodeBlock(out, (const unsigned char *)t, (int)m);
    assert_true(len >= 0);
    *outlen = (size_t)len - (m - n);    /* DecodeBlock counts padding bytes */
    free(t);
    return out;
}

/* malleate_es256 - the same compact ES256 message with (r, n - s) as its
 * signature: a different, equally valid signature anyone can compute. */
static char *malleate_es256(const char *msg)
{
    const char *dot = strrchr(msg, '.');
    unsigned char *sig, s2[32];
    size_t siglen = 0;
    BIGNUM *n = NULL, *s = NULL;
    char *sig_b64, *out;
    size_t head = (size_t)(dot - msg) + 1;

    sig = b64url_decode(dot + 1, strlen(dot + 1), &siglen);
    assert_int_equal(siglen, 64);
    assert_true(BN_hex2bn(&n, "FFFFFFFF00000000FFFFFFFFFFFFFFFF"
                              "BCE6FAADA7179E84F3B9CAC2FC632551") > 0);
    s = BN_bin2bn(sig + 32, 32, NULL);
    assert_non_null(s);
    assert_int_equal(BN_sub(s, n, s), 1);
    assert_int_equal(BN_bn2binpad(s, s2, 32), 32);
    memcpy(sig + 32, s2, 32);
    sig_b64 = jt_b64url(sig, 64);
    out = malloc(head + strlen(sig_b64) + 1);
    assert_non_null(out);
    memcpy(out, msg, head);
    strcpy(out + head, sig_b64);
    assert_string_not_equal(out, msg);
    free(sig_b64);
    free(sig);
    BN_free(n);
    BN_free(s);
    return out;
}

/* A replay cache catches a copy without any help from the sender: no jti,
 * re-encoded, with a malleated signature; different messages still pass. */
static void test_digest_replay(void **state)
{
    dance_jws_sign_opts o;
    dance_jws_policy pol = base_policy(), fresh = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    dance_replay_stats rs;
    char *m1, *m2, *m3, *bound, *flat, *flat_hdr, *mall, *tampered, *spoof;
    char jti[80];
    unsigned char md[32];
    const char *dot;
    size_t i;

    (void)state;
    memset(&res, 0, sizeof(res));
    mono_now = 5000000;
    pol.replay = dance_replay_new(0, 60, fake_mono, NULL);
    fresh.replay = dance_replay_new(0, 60, fake_mono, NULL);
    assert_non_null(pol.replay);
    assert_non_null(fresh.replay);
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    m1 = sign(fx.ec256, NULL, "21.5", NULL, NULL);
    m2 = sign(fx.ec256, NULL, "21.6", NULL, NULL);
    memset(&o, 0, sizeof(o));
    o.topic = "sensors/a";
    bound = sign(fx.ec256, NULL, "21.5", NULL, &o);     /* same payload, other header */

    /* the same bytes twice: one verified copy */
    assert_int_equal(verify(m1, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(m1, &set, &pol, &res), DANCE_REPLAY);
    assert_non_null(strstr(res.reason, "copy of a message"));
    assert_non_null(strstr(res.reason, JT_NAME));
    /* re-encoded as flattened JSON, with or without an unprotected header */
    flat = jt_flattened(m1, NULL);
    flat_hdr = jt_flattened(m1, "\"header\":{\"note\":\"new\"},");
    assert_int_equal(verify(flat, &set, &fresh, &res), DANCE_OK);
    assert_int_equal(verify(flat, &set, &pol, &res), DANCE_REPLAY);
    assert_int_equal(verify(flat_hdr, &set, &pol, &res), DANCE_REPLAY);
    /* (r, n - s): valid on its own (a fresh cache takes it) ... */
    mall = malleate_es256(m1);
    dance_replay_free(fresh.replay);
    fresh.replay = dance_replay_new(0, 60, fake_mono, NULL);
    assert_non_null(fresh.replay);
    assert_int_equal(verify(mall, &set, &fresh, &res), DANCE_OK);
    /* ... and still the same message */
    assert_int_equal(verify(mall, &set, &pol, &res), DANCE_REPLAY);
    /* other messages pass, the same payload under another header too */
    assert_int_equal(verify(m2, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(bound, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(bound, &set, &pol, &res), DANCE_REPLAY);
    /* a forgery is not remembered: the genuine message still passes */
    m3 = sign(fx.ec256, NULL, "21.7", NULL, NULL);
    tampered = strdup(m3);
    assert_non_null(tampered);
    tampered[strlen(tampered) - 2] = tampered[strlen(tampered) - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(tampered, &set, &pol, &res), DANCE_BAD_SIGNATURE);
    /* a jti spelled like m3's digest does not collide with it */
    dot = strrchr(m3, '.');
    assert_int_equal(EVP_Digest(m3, (size_t)(dot - m3), md, NULL, EVP_sha256(), NULL), 1);
    strcpy(jti, "sha256:");
    for (i = 0; i < sizeof(md); i++)
        snprintf(jti + 7 + 2 * i, 3, "%02x", md[i]);
    o.topic = NULL;
    o.jti = jti;
    spoof = sign(fx.ec256, NULL, "spoof", NULL, &o);
    assert_int_equal(verify(spoof, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(m3, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(m3, &set, &pol, &res), DANCE_REPLAY);
    dance_replay_get_stats(pol.replay, &rs);
    assert_int_equal(rs.entries, 5);        /* m1, m2, bound, spoof, m3 */
    /* after the window the copy is forgotten */
    mono_now += 61000;
    assert_int_equal(verify(m1, &set, &pol, &res), DANCE_OK);
    /* without a replay cache nothing is remembered */
    dance_replay_free(fresh.replay);
    fresh = base_policy();
    assert_int_equal(verify(m1, &set, &fresh, &res), DANCE_OK);
    assert_int_equal(verify(m1, &set, &fresh, &res), DANCE_OK);
    free(m1);
    free(m2);
    free(m3);
    free(bound);
    free(flat);
    free(flat_hdr);
    free(mall);
    free(tampered);
    free(spoof);
    dance_replay_free(pol.replay);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

static void test_replay_bounded(void **state)
{
    dance_replay *rp = dance_replay_new(3, 600, fake_mono, NULL);
    dance_replay_stats rs;

    (void)state;
    mono_now = 5000;
    assert_non_null(rp);
    assert_int_equal(dance_replay_check_add(rp, "a.example", "1"), 0);
    assert_int_equal(dance_replay_check_add(rp, "a.example", "2"), 0);
    assert_int_equal(dance_replay_check_add(rp, "a.example", "3"), 0);
    assert_int_equal(dance_replay_check_add(rp, "a.example", "3"), 1);
    assert_int_equal(dance_replay_check_add(rp, "a.example", "4"), 0);   /* drops "1" */
    dance_replay_get_stats(rp, &rs);
    assert_int_equal(rs.entries, 3);
    assert_int_equal(rs.evicted_early, 1);
    assert_int_equal(dance_replay_check_add(rp, "a.example", "2"), 1);
    assert_int_equal(dance_replay_check_add(rp, "a.example", "1"), 0);   /* forgotten */
    /* (sender, jti) pairs do not run together: "a.e"+"x1" vs "a.ex"+"1" */
    assert_int_equal(dance_replay_check_add(rp, "a.e", "x1"), 0);
    assert_int_equal(dance_replay_check_add(rp, "a.ex", "1"), 0);
    assert_int_equal(dance_replay_check_add(rp, NULL, "1"), -1);
    dance_replay_free(rp);
    dance_replay_free(NULL);
}

static void test_topic_binding(void **state)
{
    dance_jws_sign_opts o;
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    char *bound, *unbound, *crit;

    (void)state;
    memset(&res, 0, sizeof(res));
    memset(&o, 0, sizeof(o));
    o.topic = "sensors/x";
    bound = sign(fx.ec256, NULL, "x", NULL, &o);
    unbound = sign(fx.ec256, NULL, "x", NULL, NULL);
    crit = jt_jws("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"topic\":\"sensors/x\","
                  "\"crit\":[\"topic\"]}", "x", fx.ec256, jt_signer_for("ES256"));
    jt_add(&set, 3, 1, 0, fx.c_ec256);

    pol.topic = "sensors/x";
    assert_int_equal(verify(bound, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(crit, &set, &pol, &res), DANCE_OK);
    pol.topic = "sensors/y";
    assert_int_equal(verify(bound, &set, &pol, &res), DANCE_TOPIC_MISMATCH);
    assert_non_null(strstr(res.reason, "sensors/y"));
    pol.topic = "sensors/x/";
    assert_int_equal(verify(bound, &set, &pol, &res), DANCE_TOPIC_MISMATCH);
    /* unknown publish topic: a topic header cannot be checked */
    pol.topic = NULL;
    assert_int_equal(verify(bound, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(crit, &set, &pol, &res), DANCE_TOPIC_MISMATCH);
    /* required binding */
    pol.require_topic = true;
    pol.topic = "sensors/x";
    assert_int_equal(verify(unbound, &set, &pol, &res), DANCE_TOPIC_MISMATCH);
    assert_int_equal(verify(bound, &set, &pol, &res), DANCE_OK);
    pol.topic = NULL;
    assert_int_equal(verify(bound, &set, &pol, &res), DANCE_TOPIC_MISMATCH);
    free(bound);
    free(unbound);
    free(crit);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

static void test_allowlist_and_check(void **state)
{
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    char err[DANCE_REASON_MAX];
    dance_allowlist *al = dance_allowlist_parse("acme.example", err, sizeof(err));
    dance_allowlist *other = dance_allowlist_parse("example.com, badacme.example", err,
                                                   sizeof(err));
    char *msg = sign(fx.ec256, NULL, "x", NULL, NULL);
    dance_jws *jws = NULL;

    (void)state;
    memset(&res, 0, sizeof(res));
    assert_non_null(al);
    assert_non_null(other);
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    assert_int_equal(dance_jws_parse(msg, strlen(msg), 0, &jws, NULL, err, sizeof(err)),
                     DANCE_OK);
    pol.allow = al;
    assert_int_equal(dance_jws_check(jws, &pol, &res), DANCE_OK);
    assert_string_equal(res.sender, JT_NAME);
    assert_true(res.has_alg);
    assert_int_equal(dance_jws_verify(jws, &set, &pol, &res), DANCE_OK);
    pol.allow = other;
    assert_int_equal(dance_jws_check(jws, &pol, &res), DANCE_NOT_ALLOWED);
    assert_string_equal(res.sender, JT_NAME);
    assert_int_equal(dance_jws_verify(jws, &set, &pol, &res), DANCE_NOT_ALLOWED);
    assert_null(res.payload);
    /* the DNS outcome does not matter for a sender outside the list */
    assert_int_equal(dance_jws_verify_dns(jws, DANCE_LOOKUP_FAILED, NULL, "timeout", &pol,
                                          &res), DANCE_NOT_ALLOWED);
    dance_jws_free(jws);
    free(msg);
    dance_allowlist_free(al);
    dance_allowlist_free(other);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

static void test_dns_outcomes(void **state)
{
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    char *msg = sign(fx.ec256, NULL, "x", NULL, NULL), err[DANCE_REASON_MAX];
    dance_jws *jws = NULL;
    static const struct { dance_status dns; dance_status want; } cases[] = {
        { DANCE_LOOKUP_FAILED, DANCE_LOOKUP_FAILED },
        { DANCE_BOGUS, DANCE_BOGUS },
        { DANCE_INSECURE, DANCE_INSECURE },
        { DANCE_NO_RECORD, DANCE_NO_RECORD },
    };
    size_t i;

    (void)state;
    memset(&res, 0, sizeof(res));
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    assert_int_equal(dance_jws_parse(msg, strlen(msg), 0, &jws, NULL, err, sizeof(err)),
                     DANCE_OK);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* records passed along with a non-secure status are never used */
        assert_int_equal(dance_jws_verify_dns(jws, cases[i].dns, &set, "TLSA lookup for X "
                                              "said so", &pol, &res), cases[i].want);
        assert_string_equal(res.reason, "TLSA lookup for X said so");
        assert_null(res.payload);
        assert_int_equal(dance_jws_verify_dns(jws, cases[i].dns, NULL, NULL, &pol, &res),
                         cases[i].want);
        assert_non_null(strstr(res.reason, JT_NAME));
    }
    assert_int_equal(dance_jws_verify_dns(jws, DANCE_OK, &set, "", &pol, &res),
                     DANCE_OK);
    dance_jws_free(jws);
    free(msg);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

static void test_verify_key(void **state)
{
    dance_jws_result res;
    char *msg = sign(fx.ed25519, NULL, "offline", NULL, NULL), err[DANCE_REASON_MAX];
    dance_jws *jws = NULL;

    (void)state;
    memset(&res, 0, sizeof(res));
    assert_int_equal(dance_jws_parse(msg, strlen(msg), 0, &jws, NULL, err, sizeof(err)),
                     DANCE_OK);
    assert_int_equal(dance_jws_verify_key(jws, fx.ed25519, "given", NULL, &res),
                     DANCE_OK);
    assert_string_equal(res.key_source, "given");
    assert_string_equal((char *)res.payload, "offline");
    assert_int_equal(dance_jws_verify_key(jws, fx.ec256, NULL, NULL, &res),
                     DANCE_KEY_MISMATCH);
    {
        EVP_PKEY *k2 = jt_key("ed25519");
        assert_int_equal(dance_jws_verify_key(jws, k2, NULL, NULL, &res),
                         DANCE_BAD_SIGNATURE);
        EVP_PKEY_free(k2);
    }
    dance_jws_free(jws);
    free(msg);
    dance_jws_result_clear(&res);
}

/* ------------------------------------------------------------- typ */

/* header_text - the decoded protected header of a compact JWS, into buf */
static void header_text(const char *jws, char *buf, size_t buflen)
{
    const char *dot = strchr(jws, '.');
    char b64[1024];
    size_t hl, i;
    int n;

    assert_non_null(dot);
    hl = (size_t)(dot - jws);
    assert_true(hl + 4 < sizeof(b64) && buflen > hl);
    for (i = 0; i < hl; i++)
        b64[i] = jws[i] == '-' ? '+' : jws[i] == '_' ? '/' : jws[i];
    while (i % 4 != 0)
        b64[i++] = '=';
    b64[i] = '\0';
    n = EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)b64, (int)i);
    assert_true(n > 0);
    buf[n] = '\0';
}

/* Messages are not tokens: a protected typ naming a JWT ("JWT",
 * "application/jwt", any case, or a "+jwt" type) is refused as "typ" by
 * every entry that checks headers, before any key is looked at; a real
 * login token published as a message is refused; other typ values and
 * none verify; the library's signer never writes typ. */
static void test_typ_jwt_refused(void **state)
{
    static const char *const jwt_typs[] = {
        "JWT", "jwt", "application/jwt", "APPLICATION/JWT", "at+jwt",
        "application/secevent+jwt",
    };
    static const char *const fine_typs[] = { "JOSE", "application/jose", "jwt2", "" };
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    char hdr[256], text[1024], *msg, err[DANCE_REASON_MAX];
    dance_token_sign_opts to;
    dance_jws *jws = NULL;
    size_t i;

    (void)state;
    memset(&res, 0, sizeof(res));
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    assert_string_equal(dance_status_name(DANCE_TYP), "typ");
    for (i = 0; i < sizeof(jwt_typs) / sizeof(jwt_typs[0]); i++) {
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\","
                 "\"typ\":\"%s\"}", jwt_typs[i]);
        msg = jt_jws(hdr, "{\"t\":21.5}", fx.ec256, jt_signer_for("ES256"));
        if (verify(msg, &set, &pol, &res) != DANCE_TYP)
            fail_msg("typ %s: got %s (%s)", jwt_typs[i],
                     dance_status_name(res.status), res.reason);
        assert_non_null(strstr(res.reason, "token"));
        assert_int_equal(dance_jws_parse(msg, strlen(msg), 0, &jws, NULL, err,
                                         sizeof(err)), DANCE_OK);
        assert_int_equal(dance_jws_check(jws, &pol, &res), DANCE_TYP);
        assert_int_equal(dance_jws_verify_key(jws, fx.ec256, NULL, &pol, &res),
                         DANCE_TYP);
        assert_int_equal(dance_jws_verify_dns(jws, DANCE_LOOKUP_FAILED, NULL, NULL, &pol,
                                              &res), DANCE_TYP);
        assert_null(res.payload);
        dance_jws_free(jws);
        jws = NULL;
        free(msg);
    }
    for (i = 0; i < sizeof(fine_typs) / sizeof(fine_typs[0]); i++) {
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\","
                 "\"typ\":\"%s\"}", fine_typs[i]);
        msg = jt_jws(hdr, "x", fx.ec256, jt_signer_for("ES256"));
        if (verify(msg, &set, &pol, &res) != DANCE_OK)
            fail_msg("typ '%s': %s", fine_typs[i], res.reason);
        free(msg);
    }
    /* a real login token, published as a message */
    memset(&to, 0, sizeof(to));
    to.key = fx.ec256;
    to.name = JT_NAME;
    to.audience = "broker.acme.example";
    assert_int_equal(dance_token_sign(&to, &msg, NULL, err, sizeof(err)), 0);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_TYP);
    free(msg);
    /* the message signer writes no typ at all (flattened: and no unprotected
     * header that could hold one) */
    msg = sign(fx.ec256, NULL, "x", NULL, NULL);
    header_text(msg, text, sizeof(text));
    assert_null(strstr(text, "typ"));
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_OK);
    free(msg);
    {
        dance_jws_sign_opts o;
        memset(&o, 0, sizeof(o));
        o.serialization = DANCE_JWS_FLATTENED;
        msg = sign(fx.ec256, NULL, "x", NULL, &o);
        assert_null(strstr(msg, "\"header\""));
        assert_int_equal(verify(msg, &set, &pol, &res), DANCE_OK);
        free(msg);
    }
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

/* ------------------------------------------------------------- caches */

static void test_keycache(void **state)
{
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL }, set2 = { 0, NULL };
    dance_jws_keycache_stats ks;
    char *msg = sign(fx.ec256, NULL, "x", NULL, NULL);
    EVP_PKEY *k2 = jt_key("ec256");
    X509 *c2 = jt_cert(k2, JT_NAME);
    int i;

    (void)state;
    memset(&res, 0, sizeof(res));
    pol.keys = dance_jws_keycache_new(2);
    assert_non_null(pol.keys);
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    for (i = 0; i < 5; i++)
        assert_int_equal(verify(msg, &set, &pol, &res), DANCE_OK);
    dance_jws_keycache_get_stats(pol.keys, &ks);
    assert_int_equal(ks.misses, 1);
    assert_int_equal(ks.hits, 4);
    assert_int_equal(ks.entries, 1);
    /* the record changed (key rolled, old one gone): the cached key is not
     * used for the new record */
    jt_add(&set2, 3, 1, 0, c2);
    assert_int_equal(verify(msg, &set2, &pol, &res), DANCE_BAD_SIGNATURE);
    /* bounded: a third record evicts the least recently used */
    dance_tlsa_rrset_clear(&set2);
    jt_add(&set2, 3, 0, 0, c2);
    assert_int_equal(verify(msg, &set2, &pol, &res), DANCE_BAD_SIGNATURE);
    dance_jws_keycache_get_stats(pol.keys, &ks);
    assert_int_equal(ks.entries, 2);
    assert_int_equal(ks.evictions, 1);
    assert_int_equal(verify(msg, &set, &pol, &res), DANCE_OK);
    dance_jws_keycache_free(pol.keys);
    dance_jws_keycache_free(NULL);
    free(msg);
    X509_free(c2);
    EVP_PKEY_free(k2);
    dance_tlsa_rrset_clear(&set);
    dance_tlsa_rrset_clear(&set2);
    dance_jws_result_clear(&res);
}

/* Forged x5c messages must not occupy the key cache: a message carrying the
 * real certificate but signed by another key leaves no entry; a flood of
 * chains that do not match stays inside the refusals' share and never
 * evicts the real sender's key (its next message is a hit), nor a direct
 * record's key; a remembered refusal is still a refusal. */
static void test_keycache_forgeries(void **state)
{
    enum { FLOOD = 24 };
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_jws_keycache_stats ks, before;
    dance_tlsa_rrset set = { 0, NULL }, direct = { 0, NULL };
    dance_jws_sign_opts other_name;
    X509 *x5c_real[] = { fx.c_ec256, NULL };
    EVP_PKEY *forger = jt_key("ec256");
    EVP_PKEY *fkeys[FLOOD];
    X509 *fcerts[FLOOD];
    char *good, *forged, *direct_msg, *flood[FLOOD];
    int i;

    (void)state;
    memset(&res, 0, sizeof(res));
    pol.keys = dance_jws_keycache_new(4);      /* 4 keys, 4 / 4 + 1 = 2 refusals */
    assert_non_null(pol.keys);
    jt_add(&set, 3, 1, 1, fx.c_ec256);
    memset(&other_name, 0, sizeof(other_name));
    other_name.name = "dev9._device.acme.example";
    jt_add(&direct, 3, 1, 0, fx.c_rsa);
    good = sign(fx.ec256, NULL, "real", x5c_real, NULL);
    direct_msg = sign(fx.rsa, NULL, "direct", NULL, &other_name);

    /* the real certificate (public: anyone has it) over a forger's signature */
    {
        char hdr[4096], *b64 = x5c_b64(fx.c_ec256);
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\","
                 "\"x5c\":[\"%s\"]}", b64);
        forged = jt_jws(hdr, "forged", forger, jt_signer_for("ES256"));
        free(b64);
    }
    for (i = 0; i < 3; i++)
        assert_int_equal(verify(forged, &set, &pol, &res), DANCE_BAD_SIGNATURE);
    dance_jws_keycache_get_stats(pol.keys, &ks);
    assert_int_equal(ks.entries, 0);            /* nothing pinned */
    assert_int_equal(ks.hits, 0);

    /* the real sender and a direct-record sender fill two key entries */
    assert_int_equal(verify(good, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(direct_msg, &direct, &pol, &res), DANCE_OK);
    dance_jws_keycache_get_stats(pol.keys, &ks);
    assert_int_equal(ks.entries, 2);
    assert_int_equal(ks.refusals, 0);
    /* and the forgery still does not verify, the real key is not disturbed */
    assert_int_equal(verify(forged, &set, &pol, &res), DANCE_BAD_SIGNATURE);

    /* a flood of chains the records do not vouch for */
    for (i = 0; i < FLOOD; i++) {
        X509 *x5c[] = { NULL, NULL };
        fkeys[i] = jt_key("ec256");
        fcerts[i] = jt_cert(fkeys[i], JT_NAME);
        x5c[0] = fcerts[i];
        flood[i] = sign(fkeys[i], NULL, "flood", x5c, NULL);
        assert_int_equal(verify(flood[i], &set, &pol, &res), DANCE_CERT_MISMATCH);
    }
    dance_jws_keycache_get_stats(pol.keys, &before);
    assert_int_equal(before.refusals, 2);       /* bounded by their own share */
    assert_int_equal(before.entries, 4);        /* 2 keys + 2 refusals */
    assert_int_equal(before.evictions, FLOOD - 2);
    /* both keys survived: their messages are hits, not misses */
    assert_int_equal(verify(good, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(direct_msg, &direct, &pol, &res), DANCE_OK);
    dance_jws_keycache_get_stats(pol.keys, &ks);
    assert_int_equal(ks.hits, before.hits + 2);
    assert_int_equal(ks.misses, before.misses);
    /* the newest refusal is remembered, and still a refusal */
    assert_int_equal(verify(flood[FLOOD - 1], &set, &pol, &res), DANCE_CERT_MISMATCH);
    dance_jws_keycache_get_stats(pol.keys, &ks);
    assert_int_equal(ks.hits, before.hits + 3);

    for (i = 0; i < FLOOD; i++) {
        free(flood[i]);
        X509_free(fcerts[i]);
        EVP_PKEY_free(fkeys[i]);
    }
    free(good);
    free(forged);
    free(direct_msg);
    EVP_PKEY_free(forger);
    dance_jws_keycache_free(pol.keys);
    dance_tlsa_rrset_clear(&set);
    dance_tlsa_rrset_clear(&direct);
    dance_jws_result_clear(&res);
}

/* Several threads verify with one key cache and one replay cache. */
typedef struct worker_arg {
    const dance_jws_policy *pol;
    const dance_tlsa_rrset *set;
    char **msgs;
    int n, ok;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *wa = p;
    dance_jws_result res;
    int i;

    memset(&res, 0, sizeof(res));
    for (i = 0; i < wa->n; i++) {
        dance_jws *jws = NULL;
        char err[DANCE_REASON_MAX];
        if (dance_jws_parse(wa->msgs[i], strlen(wa->msgs[i]), 0, &jws, NULL, err,
                            sizeof(err)) == DANCE_OK
            && dance_jws_verify(jws, wa->set, wa->pol, &res) == DANCE_OK)
            wa->ok++;
        dance_jws_free(jws);
    }
    dance_jws_result_clear(&res);
    return NULL;
}

static void test_threads(void **state)
{
    enum { THREADS = 4, PER = 50 };
    dance_jws_policy pol = base_policy();
    dance_tlsa_rrset set = { 0, NULL };
    pthread_t th[THREADS];
    worker_arg wa[THREADS];
    char *msgs[THREADS][PER];
    dance_jws_sign_opts o;
    X509 *x5c[] = { fx.c_ec256, NULL };
    char jti[32];
    int t, i, total = 0;

    (void)state;
    pol.keys = dance_jws_keycache_new(0);
    pol.replay = dance_replay_new(0, 0, NULL, NULL);
    assert_non_null(pol.keys);
    assert_non_null(pol.replay);
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    jt_add(&set, 3, 1, 1, fx.c_ec256);
    memset(&o, 0, sizeof(o));
    o.jti = jti;
    for (t = 0; t < THREADS; t++)
        for (i = 0; i < PER; i++) {
            snprintf(jti, sizeof(jti), "t%d-%d", t, i);
            /* half direct, half through x5c */
            msgs[t][i] = sign(fx.ec256, NULL, "x", (i & 1) ? x5c : NULL, &o);
        }
    for (t = 0; t < THREADS; t++) {
        wa[t] = (worker_arg){ &pol, &set, msgs[t], PER, 0 };
        assert_int_equal(pthread_create(&th[t], NULL, worker, &wa[t]), 0);
    }
    for (t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        total += wa[t].ok;
    }
    assert_int_equal(total, THREADS * PER);
    /* every message again: all replays now */
    for (t = 0; t < THREADS; t++) {
        wa[t].ok = 0;
        worker(&wa[t]);
        assert_int_equal(wa[t].ok, 0);
    }
    for (t = 0; t < THREADS; t++)
        for (i = 0; i < PER; i++)
            free(msgs[t][i]);
    dance_jws_keycache_free(pol.keys);
    dance_replay_free(pol.replay);
    dance_tlsa_rrset_clear(&set);
}

/* The same messages (no jti) verified at once on several threads: each
 * passes exactly once in all, because check and insertion are one step. */
static void test_threads_same_copies(void **state)
{
    enum { THREADS = 4, PER = 40 };
    dance_jws_policy pol = base_policy();
    dance_tlsa_rrset set = { 0, NULL };
    pthread_t th[THREADS];
    worker_arg wa[THREADS];
    char *msgs[PER], payload[32];
    int t, i, total = 0, round;

    (void)state;
    pol.keys = dance_jws_keycache_new(0);
    assert_non_null(pol.keys);
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    for (i = 0; i < PER; i++) {
        snprintf(payload, sizeof(payload), "reading %d", i);
        msgs[i] = sign(fx.ec256, NULL, payload, NULL, NULL);
    }
    for (round = 0; round < 5; round++) {
        pol.replay = dance_replay_new(0, 0, NULL, NULL);
        assert_non_null(pol.replay);
        total = 0;
        for (t = 0; t < THREADS; t++) {
            wa[t] = (worker_arg){ &pol, &set, msgs, PER, 0 };
            assert_int_equal(pthread_create(&th[t], NULL, worker, &wa[t]), 0);
        }
        for (t = 0; t < THREADS; t++) {
            pthread_join(th[t], NULL);
            total += wa[t].ok;
        }
        assert_int_equal(total, PER);
        dance_replay_free(pol.replay);
    }
    for (i = 0; i < PER; i++)
        free(msgs[i]);
    dance_jws_keycache_free(pol.keys);
    dance_tlsa_rrset_clear(&set);
}

/* ---------------------------------------------------------------- misc */

static void test_sign_options(void **state)
{
    dance_jws_sign_opts o;
    char *out = NULL, err[DANCE_REASON_MAX], jti[32], jti2[32];
    size_t len = 0;
    dance_jws_alg a;
    STACK_OF(X509) *chain = sk_X509_new_null();

    (void)state;
    assert_non_null(chain);
    memset(&o, 0, sizeof(o));
    o.key = fx.ec256;
    o.name = "not a name";
    assert_int_equal(dance_jws_sign(&o, "x", 1, &out, &len, err, sizeof(err)), -1);
    assert_null(out);
    o.name = JT_NAME;
    o.jti = "";
    assert_int_equal(dance_jws_sign(&o, "x", 1, &out, &len, err, sizeof(err)), -1);
    o.jti = NULL;
    /* x5c leaf must hold the signing key */
    assert_true(sk_X509_push(chain, fx.c_ec384) > 0);
    o.x5c = chain;
    assert_int_equal(dance_jws_sign(&o, "x", 1, &out, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "x5c"));
    sk_X509_free(chain);
    /* default algorithms by key */
    assert_int_equal(dance_jws_alg_for_key(fx.ec256, &a, err, sizeof(err)), 0);
    assert_int_equal(a, DANCE_JWS_ES256);
    assert_int_equal(dance_jws_alg_for_key(fx.ec384, &a, err, sizeof(err)), 0);
    assert_int_equal(a, DANCE_JWS_ES384);
    assert_int_equal(dance_jws_alg_for_key(fx.ec521, &a, err, sizeof(err)), 0);
    assert_int_equal(a, DANCE_JWS_ES512);
    assert_int_equal(dance_jws_alg_for_key(fx.rsa, &a, err, sizeof(err)), 0);
    assert_int_equal(a, DANCE_JWS_RS256);
    assert_int_equal(dance_jws_alg_for_key(fx.ed25519, &a, err, sizeof(err)), 0);
    assert_int_equal(a, DANCE_JWS_EDDSA);
    assert_int_equal(dance_jws_alg_for_key(fx.ed448, &a, err, sizeof(err)), -1);
    /* random jti */
    assert_int_equal(dance_jws_random_jti(jti, sizeof(jti)), 0);
    assert_int_equal(dance_jws_random_jti(jti2, sizeof(jti2)), 0);
    assert_int_equal(strlen(jti), 22);
    assert_string_not_equal(jti, jti2);
    assert_int_equal(dance_jws_random_jti(jti, 10), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_310),
        cmocka_unit_test(test_roundtrip_300),
        cmocka_unit_test(test_roundtrip_311_x5c),
        cmocka_unit_test(test_flattened_roundtrip),
        cmocka_unit_test(test_prototype_format),
        cmocka_unit_test(test_binary_payload),
        cmocka_unit_test(test_x5c_chain_dane_ta),
        cmocka_unit_test(test_x5c_wildcard_leaf_refused),
        cmocka_unit_test(test_x5c_refusals),
        cmocka_unit_test(test_typ_jwt_refused),
        cmocka_unit_test(test_curve_alg_mismatch),
        cmocka_unit_test(test_rsa_1024_refused),
        cmocka_unit_test(test_record_selection),
        cmocka_unit_test(test_spki_forms),
        cmocka_unit_test(test_header_tamper),
        cmocka_unit_test(test_iat_window),
        cmocka_unit_test(test_jti_replay),
        cmocka_unit_test(test_digest_replay),
        cmocka_unit_test(test_replay_bounded),
        cmocka_unit_test(test_topic_binding),
        cmocka_unit_test(test_allowlist_and_check),
        cmocka_unit_test(test_dns_outcomes),
        cmocka_unit_test(test_verify_key),
        cmocka_unit_test(test_keycache),
        cmocka_unit_test(test_keycache_forgeries),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_threads_same_copies),
        cmocka_unit_test(test_sign_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
