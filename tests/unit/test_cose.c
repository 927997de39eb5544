/*
 * test_cose.c - COSE_Sign1 messages (lib/cose_parse.c, cose_sign.c, and
 * the verification they share with JWS in jws_verify.c).
 *
 * Round trips for every algorithm of the profile through TLSA 3 1 0 and
 * 3 1 1 + x5chain; hostile inputs, each with the refusal and the reason it
 * must get, built here with a CBOR writer and a signer of this file's own
 * (so that they can hold what libdance's signer never writes); the COSE
 * working group's published COSE_Sign1 examples as fixed vectors
 * (cose_wg_vectors.h, origin and licence in cose-wg/README.md); policy
 * (iat, topic, replay across tagged and untagged copies) and the
 * format dispatch of dance_message_parse and the verifier.
 */
#define _GNU_SOURCE     /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cose_internal.h"
#include "dance/cose.h"
#include "dance/jws.h"
#include "dance/replay.h"
#include "dance/verifier.h"
#include "jws_internal.h"
#include "jwstest.h"
#include "cose_wg_vectors.h"

#define NOW 1700000000

static struct {
    EVP_PKEY *ec256, *ec384, *ec521, *rsa, *ed25519;
    X509 *c_ec256;
    dance_matcher *matcher;
} fx;

static int64_t fake_now(void *ctx)
{
    return *(int64_t *)ctx;
}

static uint64_t fake_mono(void *ctx)
{
    return *(uint64_t *)ctx;
}

static int setup(void **state)
{
    char err[DANCE_REASON_MAX];

    (void)state;
    fx.ec256 = jt_key("ec256");
    fx.ec384 = jt_key("ec384");
    fx.ec521 = jt_key("ec521");
    fx.rsa = jt_key("rsa2048");
    fx.ed25519 = jt_key("ed25519");
    fx.c_ec256 = jt_cert(fx.ec256, JT_NAME);
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
    EVP_PKEY_free(fx.ed25519);
    X509_free(fx.c_ec256);
    dance_matcher_free(fx.matcher);
    return 0;
}

/* ------------------------------------------------ an independent writer */

/* A CBOR writer of the test's own (RFC 8949 heads), so that hostile
 * messages do not depend on the code under test. */
typedef struct cb {
    unsigned char d[80000];
    size_t n;
} cb;

static void cb_head(cb *b, unsigned major, uint64_t v)
{
    unsigned m = major << 5;
    int bytes, i;

    assert_true(b->n + 9 <= sizeof(b->d));
    if (v < 24) {
        b->d[b->n++] = (unsigned char)(m | v);
        return;
    }
    bytes = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
    b->d[b->n++] = (unsigned char)(m | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27));
    for (i = bytes - 1; i >= 0; i--)
        b->d[b->n++] = (unsigned char)(v >> (8 * i));
}

static void cb_int(cb *b, int64_t v)
{
    if (v >= 0)
        cb_head(b, 0, (uint64_t)v);
    else
        cb_head(b, 1, (uint64_t)(-1 - v));
}

static void cb_raw(cb *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof(b->d));
    if (n > 0)
        memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void cb_bytes(cb *b, const void *p, size_t n)
{
    cb_head(b, 2, n);
    cb_raw(b, p, n);
}

static void cb_text(cb *b, const char *s)
{
    cb_head(b, 3, strlen(s));
    cb_raw(b, s, strlen(s));
}

/* raw_sign - sign data with key as COSE wants it (ECDSA raw r||s); md NULL
 * for EdDSA; pss for PS256. *siglen set; malloc'd. */
static unsigned char *raw_sign(EVP_PKEY *key, const char *md, int pss, size_t coord,
                               const unsigned char *data, size_t len, size_t *siglen)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    unsigned char *sig;
    size_t n = 0;

    assert_non_null(c);
    assert_int_equal(EVP_DigestSignInit_ex(c, &pc, md, NULL, NULL, key, NULL), 1);
    if (pss) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST), 1);
    }
    assert_int_equal(EVP_DigestSign(c, NULL, &n, data, len), 1);
    sig = malloc(n);
    assert_non_null(sig);
    assert_int_equal(EVP_DigestSign(c, sig, &n, data, len), 1);
    EVP_MD_CTX_free(c);
    if (coord > 0) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        unsigned char *raw = malloc(2 * coord);
        assert_non_null(es);
        assert_non_null(raw);
        assert_true(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)coord) > 0);
        assert_true(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + coord, (int)coord) > 0);
        ECDSA_SIG_free(es);
        free(sig);
        sig = raw;
        n = 2 * coord;
    }
    *siglen = n;
    return sig;
}

/* craft - tag 18 (when tagged) + [bstr prot, unprot (raw CBOR, NULL: {}),
 * bstr payload, signature], signed with the P-256 key over the
 * Sig_structure */
static void craft(cb *out, const cb *prot, const cb *unprot, const char *payload,
                  bool tagged)
{
    cb tbs = { .n = 0 };
    unsigned char *sig;
    size_t siglen;

    cb_head(&tbs, 4, 4);
    cb_text(&tbs, "Signature1");
    cb_bytes(&tbs, prot->d, prot->n);
    cb_bytes(&tbs, NULL, 0);
    cb_bytes(&tbs, payload, strlen(payload));
    sig = raw_sign(fx.ec256, "SHA256", 0, 32, tbs.d, tbs.n, &siglen);
    out->n = 0;
    if (tagged)
        cb_head(out, 6, 18);
    cb_head(out, 4, 4);
    cb_bytes(out, prot->d, prot->n);
    if (unprot != NULL)
        cb_raw(out, unprot->d, unprot->n);
    else
        cb_head(out, 5, 0);
    cb_bytes(out, payload, strlen(payload));
    cb_bytes(out, sig, siglen);
    free(sig);
}

/* prot_std - {1: alg, 4: kid} and room for more entries (extra) */
static void prot_std(cb *p, int64_t alg, size_t extra)
{
    p->n = 0;
    cb_head(p, 5, 2 + extra);
    cb_int(p, 1);
    cb_int(p, alg);
    cb_int(p, 4);
    cb_bytes(p, JT_NAME, strlen(JT_NAME));
}

/* ---------------------------------------------------------- verifying */

static dance_jws_policy base_policy(void)
{
    dance_jws_policy p;

    memset(&p, 0, sizeof(p));
    p.matcher = fx.matcher;
    return p;
}

/* parse_st - dance_cose_parse's verdict; the reason must contain want_why */
static dance_status parse_st(const void *m, size_t n, const char *want_why)
{
    char err[DANCE_REASON_MAX], sender[DANCE_NAME_MAX + 1];
    dance_jws *jws = NULL;
    dance_status st = dance_cose_parse(m, n, 0, &jws, sender, err, sizeof(err));

    if (st == DANCE_OK) {
        assert_non_null(jws);
        dance_jws_free(jws);
    } else {
        assert_null(jws);
        if (want_why != NULL && strstr(err, want_why) == NULL)
            fail_msg("reason '%s' lacks '%s'", err, want_why);
    }
    return st;
}

/* verify_set - parse + verify against records */
static dance_status verify_set(const void *m, size_t n, const dance_tlsa_rrset *set,
                               const dance_jws_policy *pol, dance_jws_result *res)
{
    dance_jws *jws = NULL;
    dance_status st;

    dance_jws_result_clear(res);
    st = dance_cose_parse(m, n, 0, &jws, res->sender, res->reason, sizeof(res->reason));
    if (st != DANCE_OK)
        return res->status = st;
    st = dance_jws_verify(jws, set, pol, res);
    dance_jws_free(jws);
    if (st != DANCE_OK) {
        assert_null(res->payload);
        assert_true(res->reason[0] != '\0');
    }
    return st;
}

/* verify_with - parse + verify with the P-256 key, the reason must contain
 * want_why */
static dance_status verify_with(const cb *m, const char *want_why)
{
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_jws *jws = NULL;
    dance_status st;

    memset(&res, 0, sizeof(res));
    st = dance_cose_parse(m->d, m->n, 0, &jws, res.sender, res.reason, sizeof(res.reason));
    if (st == DANCE_OK) {
        st = dance_jws_verify_key(jws, fx.ec256, "key", &pol, &res);
        dance_jws_free(jws);
    }
    if (st != DANCE_OK && want_why != NULL && strstr(res.reason, want_why) == NULL)
        fail_msg("reason '%s' lacks '%s'", res.reason, want_why);
    dance_jws_result_clear(&res);
    return st;
}

static unsigned char *cose_sign(EVP_PKEY *key, const char *alg, const char *payload,
                                X509 *x5, const dance_jws_sign_opts *extra, size_t *len)
{
    dance_jws_sign_opts o;
    STACK_OF(X509) *chain = NULL;
    unsigned char *out = NULL;
    char err[DANCE_REASON_MAX];

    if (extra != NULL)
        o = *extra;
    else
        memset(&o, 0, sizeof(o));
    o.key = key;
    o.name = o.name ? o.name : JT_NAME;
    o.alg = alg;
    if (x5 != NULL) {
        chain = sk_X509_new_null();
        assert_non_null(chain);
        assert_true(sk_X509_push(chain, x5) > 0);
        o.x5c = chain;
    }
    if (dance_cose_sign(&o, payload, strlen(payload), &out, len, err, sizeof(err)) != 0)
        fail_msg("cose sign %s: %s", alg ? alg : "(default)", err);
    sk_X509_free(chain);
    return out;
}

/* ------------------------------------------------------------ round trips */

static void test_roundtrip(void **state)
{
    static const struct { const char *alg; int id; EVP_PKEY **key; } algs[] = {
        { "ES256", -7, &fx.ec256 }, { "ES384", -35, &fx.ec384 }, { "ES512", -36, &fx.ec521 },
        { "EdDSA", -8, &fx.ed25519 }, { "PS256", -37, &fx.rsa }, { "RS256", -257, &fx.rsa },
    };
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    size_t i;

    (void)state;
    memset(&res, 0, sizeof(res));
    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        dance_tlsa_rrset set = { 0, NULL };
        X509 *cert = jt_cert(*algs[i].key, JT_NAME);
        size_t len = 0, plen = strlen("reading 21.5C");
        unsigned char *m = cose_sign(*algs[i].key, algs[i].alg, "reading 21.5C", NULL,
                                     NULL, &len);
        unsigned char *p;

        dance_jws_alg a;

        assert_int_equal(dance_jws_alg_parse(algs[i].alg, &a), 0);
        assert_int_equal(dance_cose_alg_id(a), algs[i].id);
        assert_int_equal(m[0], 0xd2);               /* tag 18 */
        jt_add(&set, 3, 1, 0, cert);
        if (verify_set(m, len, &set, &pol, &res) != DANCE_OK)
            fail_msg("%s: %s", algs[i].alg, res.reason);
        assert_string_equal(res.sender, JT_NAME);
        assert_string_equal(dance_jws_alg_name(res.alg), algs[i].alg);
        assert_string_equal(res.key_source, "tlsa 3 1 0");
        assert_int_equal(res.payload_len, plen);
        assert_memory_equal(res.payload, "reading 21.5C", plen);
        assert_int_equal(res.payload[plen], '\0');
        /* untagged: the same message */
        assert_int_equal(verify_set(m + 1, len - 1, &set, &pol, &res), DANCE_OK);
        /* tampered payload, then signature */
        p = memmem(m, len, "reading", 7);
        assert_non_null(p);
        p[0] ^= 1;
        assert_int_equal(verify_set(m, len, &set, &pol, &res), DANCE_BAD_SIGNATURE);
        assert_non_null(strstr(res.reason, "does not verify"));
        p[0] ^= 1;
        m[len - 1] ^= 1;
        assert_int_equal(verify_set(m, len, &set, &pol, &res), DANCE_BAD_SIGNATURE);
        dance_cose_output_free(m);
        dance_tlsa_rrset_clear(&set);

        /* the certificate in x5chain, DNS holding its digest */
        m = cose_sign(*algs[i].key, algs[i].alg, "reading 21.5C", cert, NULL, &len);
        jt_add(&set, 3, 1, 1, cert);
        if (verify_set(m, len, &set, &pol, &res) != DANCE_OK)
            fail_msg("%s x5chain: %s", algs[i].alg, res.reason);
        assert_string_equal(res.key_source, "x5c+tlsa 3 1 1");
        /* without x5chain the digest gives no key */
        dance_cose_output_free(m);
        m = cose_sign(*algs[i].key, algs[i].alg, "reading 21.5C", NULL, NULL, &len);
        assert_int_equal(verify_set(m, len, &set, &pol, &res), DANCE_NO_USABLE_RECORD);
        dance_cose_output_free(m);
        dance_tlsa_rrset_clear(&set);
        X509_free(cert);
    }
    dance_jws_result_clear(&res);
}

static void test_header_view(void **state)
{
    dance_jws_sign_opts o;
    int64_t now = NOW;
    unsigned char *m;
    size_t len = 0;
    dance_jws *jws = NULL;
    const dance_jws_header *h;
    char err[DANCE_REASON_MAX];

    (void)state;
    memset(&o, 0, sizeof(o));
    o.iat = true;
    o.jti = "AB";
    o.topic = "sensors/s2/temp";
    o.now = fake_now;
    o.now_ctx = &now;
    m = cose_sign(fx.ec256, NULL, "21.5", NULL, &o, &len);
    assert_int_equal(dance_cose_parse(m, len, 0, &jws, NULL, err, sizeof(err)), DANCE_OK);
    h = dance_jws_get_header(jws);
    assert_int_equal(h->serialization, DANCE_JWS_COSE_SIGN1);
    assert_int_equal(h->alg, DANCE_JWS_ES256);
    assert_string_equal(h->sender, JT_NAME);
    assert_string_equal(h->kid, JT_NAME);
    assert_null(h->x5u);
    assert_true(h->has_iat);
    assert_int_equal(h->iat, NOW);
    assert_string_equal(h->jti, "4142");            /* cti bytes, as hex */
    assert_string_equal(h->topic, "sensors/s2/temp");
    dance_jws_free(jws);
    /* the JWS of the same message is larger */
    {
        char *j = NULL;
        size_t jlen = 0;
        o.key = fx.ec256;
        o.name = JT_NAME;
        assert_int_equal(dance_jws_sign(&o, "21.5", 4, &j, &jlen, err, sizeof(err)), 0);
        assert_true(len < jlen);
        free(j);
    }
    dance_cose_output_free(m);
}

static void test_sign_refusals(void **state)
{
    dance_jws_sign_opts o;
    unsigned char *m = NULL;
    size_t len = 0;
    char err[DANCE_REASON_MAX];
    char *j = NULL;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.key = fx.rsa;
    o.name = JT_NAME;
    o.alg = "RS384";                                /* no place in the profile */
    assert_int_equal(dance_cose_sign(&o, "x", 1, &m, &len, err, sizeof(err)), -1);
    assert_null(m);
    assert_non_null(strstr(err, "not among the COSE algorithms"));
    o.alg = "ES256";                                /* does not fit an RSA key */
    assert_int_equal(dance_cose_sign(&o, "x", 1, &m, &len, err, sizeof(err)), -1);
    o.key = fx.ec256;
    o.x5u = true;
    assert_int_equal(dance_cose_sign(&o, "x", 1, &m, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "x5u"));
    o.x5u = false;
    o.serialization = DANCE_JWS_COSE_SIGN1;         /* the JWS signer says where to go */
    assert_int_equal(dance_jws_sign(&o, "x", 1, &j, &len, err, sizeof(err)), -1);
    assert_null(j);
    o.serialization = DANCE_JWS_COMPACT;
    o.name = "not a name";
    assert_int_equal(dance_cose_sign(&o, "x", 1, &m, &len, err, sizeof(err)), -1);
    assert_null(m);
}

/* -------------------------------------------------------- hostile inputs */

static void test_alg_placement(void **state)
{
    cb prot = { .n = 0 }, unprot = { .n = 0 }, m;

    (void)state;
    /* alg only in the unprotected bucket */
    cb_head(&prot, 5, 1);
    cb_int(&prot, 4);
    cb_bytes(&prot, JT_NAME, strlen(JT_NAME));
    cb_head(&unprot, 5, 1);
    cb_int(&unprot, 1);
    cb_int(&unprot, -7);
    craft(&m, &prot, &unprot, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "only in the unprotected header"), DANCE_BAD_ALG);
    /* no alg at all */
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "no alg"), DANCE_BAD_ALG);
    /* in both */
    prot_std(&prot, -7, 0);
    craft(&m, &prot, &unprot, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "both the protected and the unprotected"),
                     DANCE_MALFORMED);
    /* unknown, text, and one COSE has but the profile does not (RS384) */
    prot_std(&prot, -999, 0);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "alg -999 is not supported"), DANCE_BAD_ALG);
    prot_std(&prot, -258, 0);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "alg -258"), DANCE_BAD_ALG);
    prot.n = 0;
    cb_head(&prot, 5, 2);
    cb_int(&prot, 1);
    cb_text(&prot, "ES256");
    cb_int(&prot, 4);
    cb_bytes(&prot, JT_NAME, strlen(JT_NAME));
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "not an integer"), DANCE_BAD_ALG);
}

static void test_wrong_alg_for_key(void **state)
{
    cb prot, m;

    (void)state;
    /* ES384 claimed, P-256 key (signature made with it): refused before
     * the signature is looked at */
    prot_std(&prot, -35, 0);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(verify_with(&m, "ES384 does not fit"), DANCE_KEY_MISMATCH);
    prot_std(&prot, -8, 0);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(verify_with(&m, "EdDSA does not fit"), DANCE_KEY_MISMATCH);
    prot_std(&prot, -7, 0);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(verify_with(&m, NULL), DANCE_OK);
}

static void test_indefinite(void **state)
{
    cb prot, m;
    unsigned char buf[512];
    size_t n;

    (void)state;
    prot_std(&prot, -7, 0);
    craft(&m, &prot, NULL, "x", true);
    /* the outer array as indefinite: 0x84 -> 0x9f ... 0xff */
    assert_int_equal(m.d[1], 0x84);
    memcpy(buf, m.d, m.n);
    buf[1] = 0x9f;
    buf[m.n] = 0xff;
    assert_int_equal(parse_st(buf, m.n + 1, "indefinite-length"), DANCE_MALFORMED);
    /* the payload as an indefinite byte string of one chunk: 0x41 'x' ->
     * 0x5f 0x41 'x' 0xff */
    {
        unsigned char *p = memmem(m.d, m.n, "\x41x", 2);
        size_t off = (size_t)(p - m.d);
        assert_non_null(p);
        n = 0;
        memcpy(buf, m.d, off);
        n = off;
        buf[n++] = 0x5f;
        buf[n++] = 0x41;
        buf[n++] = 'x';
        buf[n++] = 0xff;
        memcpy(buf + n, m.d + off + 2, m.n - off - 2);
        n += m.n - off - 2;
        assert_int_equal(parse_st(buf, n, "indefinite-length"), DANCE_MALFORMED);
    }
    /* an indefinite map inside the protected header */
    prot.n = 0;
    prot.d[prot.n++] = 0xbf;
    cb_int(&prot, 1);
    cb_int(&prot, -7);
    cb_int(&prot, 4);
    cb_bytes(&prot, JT_NAME, strlen(JT_NAME));
    prot.d[prot.n++] = 0xff;
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "protected header: indefinite-length"),
                     DANCE_MALFORMED);
}

static void test_duplicate_keys(void **state)
{
    cb prot, unprot = { .n = 0 }, m;

    (void)state;
    /* alg twice in the protected header: a signer could mean one, a
     * verifier read the other */
    prot_std(&prot, -7, 1);
    cb_int(&prot, 1);
    cb_int(&prot, -35);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "map key 1 occurs twice"), DANCE_MALFORMED);
    /* the same key written in two lengths is still the same key */
    prot_std(&prot, -7, 1);
    prot.d[prot.n++] = 0x18;                        /* 4 as a one-byte uint */
    prot.d[prot.n++] = 0x04;
    cb_bytes(&prot, "other.example", 13);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "map key 4 occurs twice"), DANCE_MALFORMED);
    /* text keys, in the unprotected header */
    prot_std(&prot, -7, 0);
    cb_head(&unprot, 5, 2);
    cb_text(&unprot, "note");
    cb_int(&unprot, 1);
    cb_text(&unprot, "note");
    cb_int(&unprot, 2);
    craft(&m, &prot, &unprot, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "map key 'note' occurs twice"), DANCE_MALFORMED);
    /* in the claims */
    prot_std(&prot, -7, 1);
    cb_int(&prot, 15);
    cb_head(&prot, 5, 2);
    cb_int(&prot, 6);
    cb_int(&prot, NOW);
    cb_int(&prot, 6);
    cb_int(&prot, NOW + 1000);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "map key 6 occurs twice"), DANCE_MALFORMED);
    /* two keys beyond int64 differ; the same one twice does not */
    unprot.n = 0;
    cb_head(&unprot, 5, 2);
    cb_head(&unprot, 1, UINT64_MAX);
    cb_int(&unprot, 1);
    cb_head(&unprot, 1, UINT64_MAX - 1);
    cb_int(&unprot, 2);
    prot_std(&prot, -7, 0);
    craft(&m, &prot, &unprot, "x", true);
    assert_int_equal(parse_st(m.d, m.n, NULL), DANCE_OK);
    unprot.n = 0;
    cb_head(&unprot, 5, 2);
    cb_head(&unprot, 1, UINT64_MAX);
    cb_int(&unprot, 1);
    cb_head(&unprot, 1, UINT64_MAX);
    cb_int(&unprot, 2);
    craft(&m, &prot, &unprot, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "map key -1-18446744073709551615 occurs twice"),
                     DANCE_MALFORMED);
    /* a text label in both headers */
    prot_std(&prot, -7, 1);
    cb_text(&prot, "note");
    cb_int(&prot, 1);
    unprot.n = 0;
    cb_head(&unprot, 5, 1);
    cb_text(&unprot, "note");
    cb_int(&unprot, 2);
    craft(&m, &prot, &unprot, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "label 'note' is in both"), DANCE_MALFORMED);
    /* a byte-string label in the protected header */
    prot_std(&prot, -7, 1);
    cb_bytes(&prot, "k", 1);
    cb_int(&prot, 1);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "neither an integer nor a text string"),
                     DANCE_MALFORMED);
    /* a map key that is neither integer nor string */
    unprot.n = 0;
    cb_head(&unprot, 5, 1);
    cb_head(&unprot, 4, 0);
    cb_int(&unprot, 1);
    prot_std(&prot, -7, 0);
    craft(&m, &prot, &unprot, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "neither an integer nor a string"),
                     DANCE_MALFORMED);
}

static void test_trailing_and_truncated(void **state)
{
    cb prot, m, p2;

    (void)state;
    prot_std(&prot, -7, 0);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, NULL), DANCE_OK);
    m.d[m.n++] = 0x00;
    assert_int_equal(parse_st(m.d, m.n, "followed by 1 more bytes"), DANCE_MALFORMED);
    m.n -= 2;
    assert_int_equal(parse_st(m.d, m.n, "truncated"), DANCE_MALFORMED);
    /* trailing bytes inside the protected bstr */
    p2 = prot;
    p2.d[p2.n++] = 0xf6;
    craft(&m, &p2, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "protected header is followed by 1 more bytes"),
                     DANCE_MALFORMED);
    /* a count the input cannot hold: array of 2^32 items */
    {
        static const unsigned char big[] = { 0xd2, 0x9a, 0xff, 0xff, 0xff, 0xff, 0x40 };
        assert_int_equal(parse_st(big, sizeof(big), "runs past the end"), DANCE_MALFORMED);
    }
    assert_int_equal(parse_st("\xd2", 1, "truncated"), DANCE_MALFORMED);
}

static void test_deep_nesting(void **state)
{
    cb prot, unprot = { .n = 0 }, m;
    unsigned char *deep;
    size_t i, n = 60000;

    (void)state;
    /* nine levels in the unprotected header: over the limit of 8 */
    prot_std(&prot, -7, 0);
    cb_head(&unprot, 5, 1);
    cb_int(&unprot, 100);
    for (i = 0; i < 7; i++)
        cb_head(&unprot, 4, 1);
    cb_int(&unprot, 1);
    craft(&m, &prot, &unprot, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "nested deeper than the limit of 8"),
                     DANCE_MALFORMED);
    /* one level less passes the scan */
    unprot.n = 0;
    cb_head(&unprot, 5, 1);
    cb_int(&unprot, 100);
    for (i = 0; i < 6; i++)
        cb_head(&unprot, 4, 1);
    cb_int(&unprot, 1);
    craft(&m, &prot, &unprot, "x", true);
    assert_int_equal(parse_st(m.d, m.n, NULL), DANCE_OK);
    /* 60,000 nested arrays: refused cheaply, no recursion */
    deep = malloc(n);
    assert_non_null(deep);
    memset(deep, 0x81, n);
    deep[n - 1] = 0x00;
    assert_int_equal(parse_st(deep, n, "nested deeper"), DANCE_MALFORMED);
    /* many small items */
    deep[0] = 0xd2;
    deep[1] = 0x84;
    deep[2] = 0x40;
    deep[3] = 0xb9;                                 /* map of 2000 pairs */
    deep[4] = 0x07;
    deep[5] = 0xd0;
    for (i = 0; i < 2000; i++) {
        deep[6 + 3 * i] = 0x19;                     /* key: 2-byte uint i */
        deep[7 + 3 * i] = (unsigned char)(i >> 8);
        deep[8 + 3 * i] = (unsigned char)i;
    }
    assert_int_equal(parse_st(deep, 6 + 3 * 2000, "more CBOR items than the limit"),
                     DANCE_MALFORMED);
    free(deep);
}

static void test_kid(void **state)
{
    static const struct { const unsigned char *kid; size_t n; const char *why; } bad[] = {
        { (const unsigned char *)"\xff\xfe", 2, "not valid UTF-8" },
        { (const unsigned char *)"dev1.\xc0\xae.example", 15, "not valid UTF-8" },
        { (const unsigned char *)"dev1\0.example", 13, "not valid UTF-8" },
        { (const unsigned char *)"not a name!", 11, "is not a DNS name" },
        { (const unsigned char *)"b\xc3\xa4r.example", 12, "is not a DNS name" },
        { (const unsigned char *)"dns:x?type=A", 12, "unusable" },
    };
    cb prot, unprot = { .n = 0 }, m;
    size_t i;
    char sender[DANCE_NAME_MAX + 1], err[DANCE_REASON_MAX];
    dance_jws *jws = NULL;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        prot.n = 0;
        cb_head(&prot, 5, 2);
        cb_int(&prot, 1);
        cb_int(&prot, -7);
        cb_int(&prot, 4);
        cb_bytes(&prot, bad[i].kid, bad[i].n);
        craft(&m, &prot, NULL, "x", true);
        assert_int_equal(parse_st(m.d, m.n, bad[i].why), DANCE_BAD_SENDER);
    }
    /* as text, not bytes */
    prot.n = 0;
    cb_head(&prot, 5, 2);
    cb_int(&prot, 1);
    cb_int(&prot, -7);
    cb_int(&prot, 4);
    cb_text(&prot, JT_NAME);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "must be a byte string"), DANCE_BAD_SENDER);
    /* only unprotected, or none */
    prot.n = 0;
    cb_head(&prot, 5, 1);
    cb_int(&prot, 1);
    cb_int(&prot, -7);
    cb_head(&unprot, 5, 1);
    cb_int(&unprot, 4);
    cb_bytes(&unprot, JT_NAME, strlen(JT_NAME));
    craft(&m, &prot, &unprot, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "kid is only in the unprotected header"),
                     DANCE_NO_SENDER);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "names no sender"), DANCE_NO_SENDER);
    /* a DNS URI and upper case, normalised; the sender is reported even
     * when a later check refuses */
    prot.n = 0;
    cb_head(&prot, 5, 2);
    cb_int(&prot, 1);
    cb_int(&prot, -999);
    cb_int(&prot, 4);
    cb_bytes(&prot, "dns:Dev1._device.ACME.example?type=TLSA", 39);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(dance_cose_parse(m.d, m.n, 0, &jws, sender, err, sizeof(err)),
                     DANCE_BAD_ALG);
    assert_string_equal(sender, JT_NAME);
}

static void test_x5chain_limits(void **state)
{
    cb prot, unprot = { .n = 0 }, m;
    unsigned char *der = NULL;
    int dlen = i2d_X509(fx.c_ec256, &der);
    size_t i;
    char err[DANCE_REASON_MAX];
    dance_jws *jws = NULL;

    (void)state;
    assert_true(dlen > 0);
    /* nine certificates */
    prot_std(&prot, -7, 1);
    cb_int(&prot, 33);
    cb_head(&prot, 4, 9);
    for (i = 0; i < 9; i++)
        cb_bytes(&prot, der, (size_t)dlen);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "holds 9 certificates, more than 8"),
                     DANCE_MALFORMED);
    /* one huge certificate: the message is over the size limit */
    prot_std(&prot, -7, 1);
    cb_int(&prot, 33);
    {
        unsigned char *huge = calloc(1, 70000);
        assert_non_null(huge);
        cb_bytes(&prot, huge, 70000);
        free(huge);
    }
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "over the 65536-byte limit"), DANCE_TOO_LARGE);
    assert_int_equal(dance_cose_parse(m.d, m.n, m.n, &jws, NULL, err, sizeof(err)),
                     DANCE_OK);                     /* a larger limit lets it through */
    dance_jws_free(jws);
    /* not bytes; empty; in the unprotected header */
    prot_std(&prot, -7, 1);
    cb_int(&prot, 33);
    cb_text(&prot, "cert");
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "x5chain is neither"), DANCE_MALFORMED);
    prot_std(&prot, -7, 1);
    cb_int(&prot, 33);
    cb_head(&prot, 4, 0);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "empty array"), DANCE_MALFORMED);
    prot_std(&prot, -7, 0);
    cb_head(&unprot, 5, 1);
    cb_int(&unprot, 33);
    cb_bytes(&unprot, der, (size_t)dlen);
    craft(&m, &prot, &unprot, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "label 33 must be in the protected header"),
                     DANCE_MALFORMED);
    /* a certificate that is no certificate: refused at verification */
    prot_std(&prot, -7, 1);
    cb_int(&prot, 33);
    cb_bytes(&prot, "junk", 4);
    craft(&m, &prot, NULL, "x", true);
    {
        dance_tlsa_rrset set = { 0, NULL };
        dance_jws_policy pol = base_policy();
        dance_jws_result res;
        memset(&res, 0, sizeof(res));
        jt_add(&set, 3, 1, 1, fx.c_ec256);
        assert_int_equal(verify_set(m.d, m.n, &set, &pol, &res), DANCE_MALFORMED);
        assert_non_null(strstr(res.reason, "not a DER certificate"));
        dance_jws_result_clear(&res);
        dance_tlsa_rrset_clear(&set);
    }
    OPENSSL_free(der);
}

static void test_crit(void **state)
{
    cb prot, m;
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_jws *jws = NULL;
    char err[DANCE_REASON_MAX];

    (void)state;
    memset(&res, 0, sizeof(res));
    /* crit [15] with a topic claim: understood, and the topic must then be
     * checked against a known publish topic */
    prot_std(&prot, -7, 2);
    cb_int(&prot, 2);
    cb_head(&prot, 4, 1);
    cb_int(&prot, 15);
    cb_int(&prot, 15);
    cb_head(&prot, 5, 1);
    cb_text(&prot, "topic");
    cb_text(&prot, "a/b");
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(dance_cose_parse(m.d, m.n, 0, &jws, NULL, err, sizeof(err)), DANCE_OK);
    assert_int_equal(dance_jws_verify_key(jws, fx.ec256, NULL, &pol, &res),
                     DANCE_TOPIC_MISMATCH);
    assert_non_null(strstr(res.reason, "topic header is critical"));
    pol.topic = "a/b";
    assert_int_equal(dance_jws_verify_key(jws, fx.ec256, NULL, &pol, &res), DANCE_OK);
    dance_jws_free(jws);
    dance_jws_result_clear(&res);
    /* a critical label nobody here understands */
    prot_std(&prot, -7, 2);
    cb_int(&prot, 2);
    cb_head(&prot, 4, 1);
    cb_int(&prot, 99);
    cb_int(&prot, 99);
    cb_int(&prot, 1);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "critical header 99 is not understood"),
                     DANCE_UNSUPPORTED);
    prot_std(&prot, -7, 2);
    cb_int(&prot, 2);
    cb_head(&prot, 4, 1);
    cb_text(&prot, "exp");
    cb_text(&prot, "exp");
    cb_int(&prot, 1);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "critical header 'exp'"), DANCE_UNSUPPORTED);
    /* naming a core label, an absent one, nothing */
    prot_std(&prot, -7, 1);
    cb_int(&prot, 2);
    cb_head(&prot, 4, 1);
    cb_int(&prot, 4);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "core header 4"), DANCE_MALFORMED);
    prot_std(&prot, -7, 1);
    cb_int(&prot, 2);
    cb_head(&prot, 4, 1);
    cb_int(&prot, 33);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "does not carry"), DANCE_MALFORMED);
    prot_std(&prot, -7, 1);
    cb_int(&prot, 2);
    cb_head(&prot, 4, 0);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "non-empty array"), DANCE_MALFORMED);
    /* crit in the unprotected header */
    {
        cb unprot = { .n = 0 };
        prot_std(&prot, -7, 0);
        cb_head(&unprot, 5, 1);
        cb_int(&unprot, 2);
        cb_head(&unprot, 4, 1);
        cb_int(&unprot, 15);
        craft(&m, &prot, &unprot, "x", true);
        assert_int_equal(parse_st(m.d, m.n, "label 2 must be in the protected"),
                         DANCE_MALFORMED);
    }
}

static void test_structure(void **state)
{
    cb prot, m, unprot = { .n = 0 };

    (void)state;
    prot_std(&prot, -7, 0);
    craft(&m, &prot, NULL, "x", true);
    /* other tags: COSE_Sign, a CWT, and tags inside */
    m.d[0] = 0xd8;
    memmove(m.d + 2, m.d + 1, m.n - 1);
    m.d[1] = 98;
    m.n++;
    assert_int_equal(parse_st(m.d, m.n, "COSE_Sign (tag 98"), DANCE_UNSUPPORTED);
    m.d[1] = 61;
    assert_int_equal(parse_st(m.d, m.n, "tag 61 is not COSE_Sign1"), DANCE_MALFORMED);
    m.d[1] = 18;                                    /* 18 in its two-byte form */
    assert_int_equal(parse_st(m.d, m.n, NULL), DANCE_OK);
    cb_head(&unprot, 5, 1);
    cb_int(&unprot, 100);
    cb_head(&unprot, 6, 1);                         /* epoch date tag */
    cb_int(&unprot, NOW);
    craft(&m, &prot, &unprot, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "tags are not accepted inside"), DANCE_MALFORMED);
    /* shapes */
    assert_int_equal(parse_st("\xd2\x83\x40\xa0\x40", 5, "array of 4"), DANCE_MALFORMED);
    assert_int_equal(parse_st("\xd2\x84\xa0\xa0\x40\x41\x00", 7, "protected header is not "
                              "a byte string"), DANCE_MALFORMED);
    assert_int_equal(parse_st("\xd2\x84\x40\x80\x40\x41\x00", 7, "unprotected header is "
                              "not a map"), DANCE_MALFORMED);
    assert_int_equal(parse_st("\xd2\x84\x40\xa0\x40\x40", 6, "signature"), DANCE_MALFORMED);
    assert_int_equal(parse_st("\xd2\x84\x40\xa0\xf6\x41\x00", 7, "detached"),
                     DANCE_UNSUPPORTED);
    /* a float, a boolean or undefined where the payload goes: libcbor 0.8's
     * cbor_is_null aborts on a float (found by fuzz_cose) */
    assert_int_equal(parse_st("\xd2\x84\x40\xa0\xf9\xa0\x40\x41\x00", 9,
                              "payload is not a byte string"), DANCE_MALFORMED);
    assert_int_equal(parse_st("\xd2\x84\x40\xa0\xfa\x00\x00\x00\x00\x41\x00", 11,
                              "payload is not a byte string"), DANCE_MALFORMED);
    assert_int_equal(parse_st("\xd2\x84\x40\xa0\xf5\x41\x00", 7,
                              "payload is not a byte string"), DANCE_MALFORMED);
    assert_int_equal(parse_st("\xd2\x84\x40\xa0\xf7\x41\x00", 7,
                              "payload is not a byte string"), DANCE_MALFORMED);
    assert_int_equal(parse_st("\xd2\x84\x41\x80\xa0\x40\x41\x00", 8, "does not hold a map"),
                     DANCE_MALFORMED);
    /* an empty protected bstr is an empty map: no alg */
    assert_int_equal(parse_st("\xd2\x84\x40\xa0\x40\x41\x00", 7, "no alg"), DANCE_BAD_ALG);
    assert_int_equal(parse_st("\xd2\x84\x40\xa0\x40\x41", 6, "truncated"), DANCE_MALFORMED);
    assert_int_equal(parse_st("\xd2\x84\x40\xa0\x40\x41\x00", 0, "empty"), DANCE_MALFORMED);
    /* reserved additional information (0x1c) */
    assert_int_equal(parse_st("\xd2\x84\x40\xa0\x40\x1c", 6, "well-formed"), DANCE_MALFORMED);
}

static void test_claims(void **state)
{
    cb prot, m;
    dance_jws *jws = NULL;
    char err[DANCE_REASON_MAX];

    (void)state;
    /* iat as a float is a NumericDate too */
    prot_std(&prot, -7, 1);
    cb_int(&prot, 15);
    cb_head(&prot, 5, 1);
    cb_int(&prot, 6);
    {
        static const unsigned char f[] = { 0xfb, 0x41, 0xd9, 0x54, 0xfc, 0x40, 0x00, 0x00, 0x00 };
        cb_raw(&prot, f, sizeof(f));                /* 1700000000.0 */
    }
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(dance_cose_parse(m.d, m.n, 0, &jws, NULL, err, sizeof(err)), DANCE_OK);
    assert_int_equal(dance_jws_get_header(jws)->iat, NOW);
    dance_jws_free(jws);
    /* negative iat, text iat, a cti that is text, an empty topic */
    prot_std(&prot, -7, 1);
    cb_int(&prot, 15);
    cb_head(&prot, 5, 1);
    cb_int(&prot, 6);
    cb_int(&prot, -5);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "iat (claim 6) is not a NumericDate"),
                     DANCE_MALFORMED);
    prot_std(&prot, -7, 1);
    cb_int(&prot, 15);
    cb_head(&prot, 5, 1);
    cb_int(&prot, 7);
    cb_text(&prot, "abc");
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "cti (claim 7)"), DANCE_MALFORMED);
    prot_std(&prot, -7, 1);
    cb_int(&prot, 15);
    cb_head(&prot, 5, 1);
    cb_text(&prot, "topic");
    cb_text(&prot, "");
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "topic claim"), DANCE_MALFORMED);
    prot_std(&prot, -7, 1);
    cb_int(&prot, 15);
    cb_int(&prot, 6);
    craft(&m, &prot, NULL, "x", true);
    assert_int_equal(parse_st(m.d, m.n, "CWT claims (label 15) is not a map"),
                     DANCE_MALFORMED);
}

static void test_policy_and_replay(void **state)
{
    dance_jws_sign_opts o;
    dance_jws_policy pol = base_policy();
    dance_jws_result res;
    dance_tlsa_rrset set = { 0, NULL };
    int64_t now = NOW;
    uint64_t mono = 1000;
    unsigned char *m;
    size_t len = 0;
    dance_replay *rp;
    char err[DANCE_REASON_MAX];

    (void)state;
    memset(&res, 0, sizeof(res));
    memset(&o, 0, sizeof(o));
    o.iat = true;
    o.topic = "sensors/s2";
    o.now = fake_now;
    o.now_ctx = &now;
    m = cose_sign(fx.ec256, NULL, "21.5", NULL, &o, &len);
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    pol.now = fake_now;
    pol.now_ctx = &now;
    pol.topic = "sensors/s3";
    assert_int_equal(verify_set(m, len, &set, &pol, &res), DANCE_TOPIC_MISMATCH);
    pol.topic = "sensors/s2";
    now = NOW + 301;
    assert_int_equal(verify_set(m, len, &set, &pol, &res), DANCE_STALE);
    now = NOW;
    /* replay without a jti: by the Sig_structure, so the untagged copy of a
     * verified tagged message is the same message */
    rp = dance_replay_new(100, 600, fake_mono, &mono);
    assert_non_null(rp);
    pol.replay = rp;
    assert_int_equal(verify_set(m, len, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify_set(m + 1, len - 1, &set, &pol, &res), DANCE_REPLAY);
    assert_non_null(strstr(res.reason, "already verified"));
    dance_cose_output_free(m);
    /* with a jti (cti) */
    o.jti = "reading-1";
    m = cose_sign(fx.ec256, NULL, "21.5", NULL, &o, &len);
    assert_int_equal(verify_set(m, len, &set, &pol, &res), DANCE_OK);
    dance_cose_output_free(m);
    m = cose_sign(fx.ec256, NULL, "22.0", NULL, &o, &len);
    assert_int_equal(verify_set(m, len, &set, &pol, &res), DANCE_REPLAY);
    assert_non_null(strstr(res.reason, "jti '72656164696e672d31'"));
    dance_cose_output_free(m);
    /* the allow-list comes before anything else */
    {
        dance_allowlist *al = dance_allowlist_parse("other.example", err, sizeof(err));
        assert_non_null(al);
        pol.allow = al;
        pol.replay = NULL;
        o.jti = NULL;
        m = cose_sign(fx.ec256, NULL, "21.5", NULL, &o, &len);
        assert_int_equal(verify_set(m, len, &set, &pol, &res), DANCE_NOT_ALLOWED);
        dance_cose_output_free(m);
        dance_allowlist_free(al);
    }
    dance_replay_free(rp);
    dance_tlsa_rrset_clear(&set);
    dance_jws_result_clear(&res);
}

static void test_dispatch(void **state)
{
    unsigned char *m;
    char *j = NULL, *pem = NULL, err[DANCE_REASON_MAX];
    size_t len = 0, jlen = 0;
    dance_jws *jws = NULL;
    dance_jws_sign_opts o;
    dance_verifier *v;
    dance_jws_result res;
    BIO *bio;
    long pemlen;

    (void)state;
    memset(&res, 0, sizeof(res));
    memset(&o, 0, sizeof(o));
    o.key = fx.ec256;
    o.name = JT_NAME;
    m = cose_sign(fx.ec256, NULL, "21.5", NULL, NULL, &len);
    assert_int_equal(dance_jws_sign(&o, "21.5", 4, &j, &jlen, err, sizeof(err)), 0);
    assert_true(dance_is_cose(m, len));
    assert_true(dance_is_cose(m + 1, len - 1));
    assert_false(dance_is_cose(j, jlen));
    assert_false(dance_is_cose("{", 1));
    assert_false(dance_is_cose(m, 0));
    assert_int_equal(dance_message_parse(m, len, 0, &jws, NULL, err, sizeof(err)), DANCE_OK);
    assert_int_equal(dance_jws_get_header(jws)->serialization, DANCE_JWS_COSE_SIGN1);
    dance_jws_free(jws);
    assert_int_equal(dance_message_parse(j, jlen, 0, &jws, NULL, err, sizeof(err)), DANCE_OK);
    assert_int_equal(dance_jws_get_header(jws)->serialization, DANCE_JWS_COMPACT);
    dance_jws_free(jws);
    /* the JWS parser alone refuses CBOR */
    assert_int_equal(dance_jws_parse(m, len, 0, &jws, NULL, err, sizeof(err)),
                     DANCE_MALFORMED);
    /* the verifier object takes both */
    bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PUBKEY(bio, fx.ec256), 1);
    pemlen = BIO_get_mem_data(bio, &pem);
    assert_true(pemlen > 0);
    {
        char *text = strndup(pem, (size_t)pemlen);
        assert_non_null(text);
        v = dance_verifier_new();
        assert_non_null(v);
        assert_int_equal(dance_verifier_set(v, "key", text, err, sizeof(err)), 0);
        assert_int_equal(dance_verifier_start(v, err, sizeof(err)), 0);
        free(text);
    }
    BIO_free(bio);
    assert_int_equal(dance_verifier_verify(v, m, len, NULL, &res), DANCE_OK);
    assert_memory_equal(res.payload, "21.5", 4);
    assert_int_equal(dance_verifier_verify(v, j, jlen, NULL, &res), DANCE_OK);
    m[len - 1] ^= 1;
    assert_int_equal(dance_verifier_verify(v, m, len, NULL, &res), DANCE_BAD_SIGNATURE);
    dance_verifier_free(v);
    dance_jws_result_clear(&res);
    dance_cose_output_free(m);
    free(j);
}

/* --------------------------------------------------- the published vectors */

static unsigned char *unhex(const char *s, size_t *n)
{
    size_t i, len = strlen(s) / 2;
    unsigned char *b = malloc(len + 1);

    assert_non_null(b);
    for (i = 0; i < len; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        b[i] = (unsigned char)v;
    }
    *n = len;
    return b;
}

static EVP_PKEY *vector_key(const struct cose_wg_vector *v)
{
    size_t xn = 0, yn = 0;
    unsigned char *x = unhex(v->x, &xn), *y = unhex(v->y, &yn);
    EVP_PKEY *key = NULL;

    if (strcmp(v->crv, "Ed25519") == 0 || strcmp(v->crv, "Ed448") == 0) {
        key = EVP_PKEY_new_raw_public_key(strcmp(v->crv, "Ed25519") == 0
                                          ? EVP_PKEY_ED25519 : EVP_PKEY_ED448, NULL, x, xn);
    } else {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        unsigned char pt[1 + 2 * 66];
        OSSL_PARAM params[3];
        assert_non_null(c);
        assert_int_equal(xn, yn);
        pt[0] = 0x04;
        memcpy(pt + 1, x, xn);
        memcpy(pt + 1 + xn, y, yn);
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                     (char *)v->crv, 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt,
                                                      1 + 2 * xn);
        params[2] = OSSL_PARAM_construct_end();
        assert_int_equal(EVP_PKEY_fromdata_init(c), 1);
        assert_int_equal(EVP_PKEY_fromdata(c, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
        EVP_PKEY_CTX_free(c);
    }
    assert_non_null(key);
    free(x);
    free(y);
    return key;
}

static void test_cose_wg_vectors(void **state)
{
    size_t i, ok = 0, exact = 0;

    (void)state;

    for (i = 0; i < sizeof(cose_wg_vectors) / sizeof(cose_wg_vectors[0]); i++) {
        const struct cose_wg_vector *v = &cose_wg_vectors[i];
        dance_jws_policy pol = base_policy();
        dance_jws_result res;
        dance_jws *jws = NULL;
        size_t n = 0, tn = 0;
        unsigned char *m = unhex(v->cbor, &n), *tbs = unhex(v->tbs, &tn);
        EVP_PKEY *key = vector_key(v);
        dance_status st;

        memset(&res, 0, sizeof(res));
        st = cose_parse_flags(m, n, 0, COSE_PARSE_ANY_SENDER, &jws, NULL, res.reason,
                              sizeof(res.reason));
        if (st == DANCE_OK) {
            /* what was signed is byte for byte the vector's ToBeSign, but
             * where the vector changed the message after signing or signed
             * with an external_aad */
            if (v->tbs_exact) {
                if (jws->signing_input_len != tn
                    || memcmp(jws->signing_input, tbs, tn) != 0)
                    fail_msg("%s: Sig_structure differs from ToBeSign_hex", v->file);
                exact++;
            }
            st = dance_jws_verify_key(jws, key, "vector key", &pol, &res);
            if (st == DANCE_OK) {
                assert_int_equal(res.payload_len, strlen(v->plaintext));
                assert_memory_equal(res.payload, v->plaintext, res.payload_len);
                ok++;
            }
        }
        if (st != v->want)
            fail_msg("%s (%s): %s, want %s: %s", v->file, v->why, dance_status_name(st),
                     dance_status_name(v->want), res.reason);
        dance_jws_free(jws);
        dance_jws_result_clear(&res);
        EVP_PKEY_free(key);
        free(m);
        free(tbs);
    }
    assert_int_equal(ok, 5);
    assert_int_equal(exact, 7);     /* the five that verify, ES512/P-256, Ed448 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_header_view),
        cmocka_unit_test(test_sign_refusals),
        cmocka_unit_test(test_alg_placement),
        cmocka_unit_test(test_wrong_alg_for_key),
        cmocka_unit_test(test_indefinite),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_trailing_and_truncated),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_kid),
        cmocka_unit_test(test_x5chain_limits),
        cmocka_unit_test(test_crit),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_policy_and_replay),
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_cose_wg_vectors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
