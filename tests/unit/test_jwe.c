/*
 * test_jwe.c - JWE (lib/jwe.c, lib/jwe_crypto.c): the primitives against
 * published vectors, encrypt -> decrypt for every algorithm, key and
 * serialization, and every refusal of a hostile message, each with its
 * status and reason (one reason for every failure once the key is used).
 *
 * Published vectors (IETF RFCs; code components of RFCs are under the
 * Simplified BSD License, IETF Trust Legal Provisions 4.e):
 *   - RFC 7518 Appendix B.3: AES_256_CBC_HMAC_SHA_512 (A256CBC-HS512) K, P,
 *     IV, A -> E, T;
 *   - RFC 7518 Appendix C: ECDH-ES key agreement, Bob's key and Alice's
 *     ephemeral key -> Z -> Concat KDF (A128GCM, apu "Alice", apv "Bob");
 *   - RFC 3394 section 4.6: AES key wrap, 256-bit KEK, 256-bit key data.
 * cjose 0.6.2, a third implementation on this machine, decrypts our
 * ECDH-ES messages and encrypts ECDH-ES messages that we decrypt (it has no
 * RSA-OAEP-256 or ECDH-ES+A256KW, jwe_internal.h).
 * RFC 7516 and RFC 7520 give whole-message vectors only for algorithms
 * that are refused here (RSA1_5, RSA-OAEP with SHA-1, A128KW, A128GCM,
 * A128CBC-HS256), so whole messages are checked against an independent
 * implementation instead (python3-jwcrypto: tests/integration/
 * test_jwe_interop.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjose/cjose.h>
#include <cjson/cJSON.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "dance/jwe.h"
#include "jwe_internal.h"
#include "jws_internal.h"

#define RECIPIENT "backend._device.acme.example"

static EVP_PKEY *rsa_key, *rsa_other, *p256_key, *p256_other, *p384_key, *ed_key;

/* ---------------------------------------------------------------- helpers */

static size_t unhex(const char *hex, unsigned char *out, size_t max)
{
    size_t n = 0;
    unsigned v;

    while (*hex != '\0') {
        if (*hex == ' ' || *hex == '\n') {
            hex++;
            continue;
        }
        assert_true(sscanf(hex, "%2x", &v) == 1);
        assert_true(n < max);
        out[n++] = (unsigned char)v;
        hex += 2;
    }
    return n;
}

static unsigned char *b64d(const char *s, size_t *len)
{
    unsigned char *out = NULL;
    assert_int_equal(jws_b64url_decode(s, strlen(s), &out, len), 0);
    return out;
}

/* encrypt - a JWE of pt to key, asserted to succeed (malloc'd) */
static char *encrypt(EVP_PKEY *key, const char *alg, const char *enc, bool json,
                     const char *pt)
{
    dance_jwe_encrypt_opts o = { .key = key, .recipient = RECIPIENT, .alg = alg,
                                 .enc = enc,
                                 .serialization = json ? DANCE_JWS_FLATTENED
                                                       : DANCE_JWS_COMPACT };
    char *out = NULL, err[DANCE_REASON_MAX] = "";
    size_t outlen = 0;

    assert_int_equal(dance_jwe_encrypt(&o, pt, strlen(pt), &out, &outlen, err,
                                       sizeof(err)), 0);
    assert_non_null(out);
    assert_int_equal(strlen(out), outlen);
    return out;
}

/* decrypt - the status of decrypting s with key; the result checked for
 * the invariants every refusal keeps (no plaintext, a reason) */
static dance_status decrypt(const char *s, EVP_PKEY *key, dance_jwe_result *res)
{
    dance_status st = dance_jwe_decrypt(s, strlen(s), 0, key, res);

    assert_int_equal(st, res->status);
    if (st != DANCE_OK) {
        assert_null(res->plaintext);
        assert_int_equal(res->plaintext_len, 0);
        assert_true(res->reason[0] != '\0');
    }
    return st;
}

/* expect - decrypting s with key gives st, and a reason containing want */
static void expect(const char *s, EVP_PKEY *key, dance_status st, const char *want)
{
    dance_jwe_result res = { 0 };

    assert_int_equal(decrypt(s, key, &res), st);
    if (want != NULL && strstr(res.reason, want) == NULL)
        fail_msg("reason \"%s\" does not contain \"%s\"", res.reason, want);
    dance_jwe_result_clear(&res);
}

static void expect_failed(const char *s, EVP_PKEY *key)
{
    dance_jwe_result res = { 0 };

    assert_int_equal(decrypt(s, key, &res), DANCE_DECRYPT_FAILED);
    assert_string_equal(res.reason, DANCE_JWE_DECRYPT_FAILED_REASON);
    assert_string_equal(dance_status_name(res.status), "decryption_failed");
    dance_jwe_result_clear(&res);
}

/* split - the five parts of a compact JWE (malloc'd copies) */
typedef struct parts { char *p[5]; } parts;

static parts split(const char *jwe)
{
    parts r;
    const char *s = jwe;

    for (int i = 0; i < 5; i++) {
        const char *d = i < 4 ? strchr(s, '.') : s + strlen(s);
        assert_non_null(d);
        r.p[i] = strndup(s, (size_t)(d - s));
        assert_non_null(r.p[i]);
        s = d + 1;
    }
    return r;
}

static char *join(const parts *r)
{
    size_t n = 0;
    char *out;

    for (int i = 0; i < 5; i++)
        n += strlen(r->p[i]) + 1;
    out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%s.%s.%s.%s.%s", r->p[0], r->p[1], r->p[2], r->p[3], r->p[4]);
    return out;
}

static void parts_free(parts *r)
{
    for (int i = 0; i < 5; i++)
        free(r->p[i]);
}

/* flip - the base64url part with one bit of its decoded byte i changed */
static char *flip(const char *b64, size_t i)
{
    size_t len = 0;
    unsigned char *d = b64d(b64, &len);
    char *out;

    assert_true(i < len);
    d[i] ^= 0x01;
    out = jws_b64url_encode(d, len, NULL);
    assert_non_null(out);
    free(d);
    return out;
}

/* with_part - jwe with part k replaced by repl */
static char *with_part(const char *jwe, int k, const char *repl)
{
    parts r = split(jwe);
    char *out;

    free(r.p[k]);
    r.p[k] = strdup(repl);
    assert_non_null(r.p[k]);
    out = join(&r);
    parts_free(&r);
    return out;
}

/* with_header - jwe with its protected header's member name set to the
 * JSON value json (NULL: removed) */
static char *with_header(const char *jwe, const char *name, const char *json)
{
    parts r = split(jwe);
    size_t len = 0;
    unsigned char *raw = b64d(r.p[0], &len);
    cJSON *h = cJSON_Parse((const char *)raw), *v;
    char *text, *out;

    assert_non_null(h);
    cJSON_DeleteItemFromObjectCaseSensitive(h, name);
    if (json != NULL) {
        v = cJSON_Parse(json);
        assert_non_null(v);
        cJSON_AddItemToObject(h, name, v);
    }
    text = cJSON_PrintUnformatted(h);
    free(r.p[0]);
    r.p[0] = jws_b64url_encode((const unsigned char *)text, strlen(text), NULL);
    out = join(&r);
    cJSON_free(text);
    cJSON_Delete(h);
    free(raw);
    parts_free(&r);
    return out;
}

/* ------------------------------------------------------------ fixtures */

static int setup(void **state)
{
    (void)state;
    rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    p256_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    p256_other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    p384_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    return rsa_key && rsa_other && p256_key && p256_other && p384_key && ed_key ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(rsa_other);
    EVP_PKEY_free(p256_key);
    EVP_PKEY_free(p256_other);
    EVP_PKEY_free(p384_key);
    EVP_PKEY_free(ed_key);
    return 0;
}

/* public_only - a key's public half as a new key */
static EVP_PKEY *public_only(EVP_PKEY *key)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    int n = i2d_PUBKEY(key, &der);
    EVP_PKEY *pub;

    assert_true(n > 0);
    p = der;
    pub = d2i_PUBKEY(NULL, &p, n);
    assert_non_null(pub);
    OPENSSL_free(der);
    return pub;
}

/* ----------------------------------------------------- published vectors */

static void test_rfc7518_b3_cbc_hs512(void **state)
{
    unsigned char k[64], p[128], iv[16], a[64], e[160], t[32], out[160], tag[32];
    size_t kl, pl, ivl, al, el, tl, outlen = 0;
    (void)state;

    kl = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
               "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
               k, sizeof(k));
    pl = unhex("41206369706865722073797374656d206d757374206e6f7420626520726571756972"
               "656420746f206265207365637265742c20616e64206974206d7573742062652061"
               "626c6520746f2066616c6c20696e746f207468652068616e6473206f6620746865"
               "20656e656d7920776974686f757420696e636f6e76656e69656e6365",
               p, sizeof(p));
    ivl = unhex("1af38c2dc2b96ffdd866940923 41bc04", iv, sizeof(iv));
    al = unhex("546865207365636f6e64207072696e6369706c65206f662041756775737465204b"
               "6572636b686f666673", a, sizeof(a));
    el = unhex("4affaaadb78c31c5da4b1b590d10ffbd3dd8d5d302423526912da037ecbcc7bd"
               "822c301dd67c373bccb584ad3e9279c2e6d12a1374b77f077553df829410446b"
               "36ebd97066296ae6427ea75c2e0846a11a09ccf5370dc80bfecbad28c73f09b3"
               "a3b75e662a2594410ae496b2e2e6609e31e6e02cc837f053d21f37ff4f51950b"
               "be2638d09dd7a4930930806d0703b1f6", e, sizeof(e));
    tl = unhex("4dd3b4c088a7f45c216839645b2012bf2e6269a8c56a816dbc1b267761955bc5",
               t, sizeof(t));
    assert_int_equal(kl, 64);
    assert_int_equal(pl, 128);
    assert_int_equal(ivl, 16);
    assert_int_equal(tl, 32);

    assert_int_equal(jwe_cbc_hs512_encrypt(k, iv, a, al, p, pl, out, &outlen, tag), 0);
    assert_int_equal(outlen, el);
    assert_memory_equal(out, e, el);
    assert_memory_equal(tag, t, 32);

    assert_int_equal(jwe_cbc_hs512_decrypt(k, iv, a, al, e, el, t, out, &outlen), 0);
    assert_int_equal(outlen, pl);
    assert_memory_equal(out, p, pl);

    /* a changed tag, AAD or ciphertext byte: refused, nothing left behind */
    t[0] ^= 1;
    outlen = 999;
    assert_int_equal(jwe_cbc_hs512_decrypt(k, iv, a, al, e, el, t, out, &outlen), -1);
    assert_int_equal(outlen, 999);
    t[0] ^= 1;
    a[0] ^= 1;
    assert_int_equal(jwe_cbc_hs512_decrypt(k, iv, a, al, e, el, t, out, &outlen), -1);
    a[0] ^= 1;
    e[100] ^= 1;
    assert_int_equal(jwe_cbc_hs512_decrypt(k, iv, a, al, e, el, t, out, &outlen), -1);
}

/* ec_jwk_key - an EC P-256 key from JWK coordinates (d optional) */
static EVP_PKEY *ec_jwk_key(const char *x, const char *y, const char *d)
{
    unsigned char pt[65], *xb, *yb, *db = NULL;
    size_t xl, yl, dl = 0;
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *key = NULL;
    BIGNUM *bn = NULL;

    xb = b64d(x, &xl);
    yb = b64d(y, &yl);
    assert_int_equal(xl, 32);
    assert_int_equal(yl, 32);
    pt[0] = 4;
    memcpy(pt + 1, xb, 32);
    memcpy(pt + 33, yb, 32);
    assert_true(OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0));
    assert_true(OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, 65));
    if (d != NULL) {
        db = b64d(d, &dl);
        bn = BN_bin2bn(db, (int)dl, NULL);
        assert_true(OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, bn));
    }
    params = OSSL_PARAM_BLD_to_param(b);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &key, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                                       params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(ctx);
    BN_free(bn);
    free(xb);
    free(yb);
    free(db);
    return key;
}

static void test_rfc7518_c_ecdh_es(void **state)
{
    static const unsigned char z_want[32] = {
        158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156,
        251, 49, 110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196
    };
    static const unsigned char key_want[16] = {
        86, 170, 141, 234, 248, 35, 109, 32, 92, 34, 40, 205, 113, 167, 16, 26
    };
    EVP_PKEY *bob = ec_jwk_key("weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
                               "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
                               "VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw");
    EVP_PKEY *alice_epk = ec_jwk_key("gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
                                     "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps", NULL);
    unsigned char *z = NULL, out[16];
    size_t zlen = 0;
    (void)state;

    assert_int_equal(jwe_ecdh(bob, alice_epk, &z, &zlen), 0);
    assert_int_equal(zlen, 32);
    assert_memory_equal(z, z_want, 32);
    assert_int_equal(jwe_concat_kdf(z, zlen, "A128GCM", (const unsigned char *)"Alice", 5,
                                    (const unsigned char *)"Bob", 3, out, sizeof(out)), 0);
    assert_memory_equal(out, key_want, 16);
    free(z);
    EVP_PKEY_free(bob);
    EVP_PKEY_free(alice_epk);
}

static void test_rfc3394_aes256_kw(void **state)
{
    unsigned char kek[32], data[32], want[40], out[40], back[32];
    (void)state;

    unhex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
          kek, sizeof(kek));
    unhex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
          data, sizeof(data));
    unhex("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43B"
          "FB988B9B7A02DD21", want, sizeof(want));
    assert_int_equal(jwe_aes_kw_wrap(kek, data, 32, out), 0);
    assert_memory_equal(out, want, 40);
    assert_int_equal(jwe_aes_kw_unwrap(kek, want, 40, back), 0);
    assert_memory_equal(back, data, 32);
    want[5] ^= 1;
    assert_int_equal(jwe_aes_kw_unwrap(kek, want, 40, back), -1);
}

/* ---------------------------------------------------------- round trips */

static void test_round_trips(void **state)
{
    struct { EVP_PKEY **key; const char *alg; const char *want_alg; } c[] = {
        { &rsa_key, NULL, "RSA-OAEP-256" },
        { &rsa_key, "RSA-OAEP-256", "RSA-OAEP-256" },
        { &p256_key, NULL, "ECDH-ES" },
        { &p256_key, "ECDH-ES+A256KW", "ECDH-ES+A256KW" },
        { &p384_key, NULL, "ECDH-ES" },
        { &p384_key, "ECDH-ES+A256KW", "ECDH-ES+A256KW" },
    };
    const char *encs[] = { NULL, "A256GCM", "A256CBC-HS512" };
    const char *pts[] = { "", "x", "{\"temp\":21.5}",
                          "sixteen bytes!!!", "a longer reading, over one block of AES" };
    (void)state;

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        for (size_t e = 0; e < 3; e++)
            for (int json = 0; json < 2; json++)
                for (size_t p = 0; p < sizeof(pts) / sizeof(pts[0]); p++) {
                    char *m = encrypt(*c[i].key, c[i].alg, encs[e], json, pts[p]);
                    dance_jwe_result res = { 0 };

                    assert_int_equal(m[0] == '{', json);
                    assert_true(dance_jwe_is_jwe(m, strlen(m)));
                    assert_int_equal(decrypt(m, *c[i].key, &res), DANCE_OK);
                    assert_int_equal(res.plaintext_len, strlen(pts[p]));
                    assert_memory_equal(res.plaintext, pts[p], strlen(pts[p]) + 1);
                    assert_string_equal(dance_jwe_alg_name(res.alg), c[i].want_alg);
                    assert_string_equal(dance_jwe_enc_name(res.enc),
                                        encs[e] ? encs[e] : "A256GCM");
                    assert_string_equal(res.recipient, RECIPIENT);
                    assert_string_equal(res.reason, "");
                    dance_jwe_result_clear(&res);
                    free(m);
                }
}

static void test_header_written(void **state)
{
    char *m = encrypt(p256_key, "ECDH-ES+A256KW", "A256CBC-HS512", false, "x");
    parts r = split(m);
    size_t len;
    unsigned char *raw = b64d(r.p[0], &len);
    cJSON *h = cJSON_Parse((const char *)raw), *epk;
    (void)state;

    assert_string_equal(cJSON_GetObjectItem(h, "alg")->valuestring, "ECDH-ES+A256KW");
    assert_string_equal(cJSON_GetObjectItem(h, "enc")->valuestring, "A256CBC-HS512");
    assert_string_equal(cJSON_GetObjectItem(h, "x5u")->valuestring,
                        "dns://" RECIPIENT "?type=TLSA");
    epk = cJSON_GetObjectItem(h, "epk");
    assert_string_equal(cJSON_GetObjectItem(epk, "kty")->valuestring, "EC");
    assert_string_equal(cJSON_GetObjectItem(epk, "crv")->valuestring, "P-256");
    assert_null(cJSON_GetObjectItem(epk, "d"));     /* never the private half */
    assert_null(cJSON_GetObjectItem(h, "zip"));
    assert_int_equal(strlen(r.p[1]), 96);           /* 72-byte wrapped key */
    cJSON_Delete(h);
    free(raw);
    parts_free(&r);
    free(m);
}

static void test_encrypt_refusals(void **state)
{
    dance_jwe_encrypt_opts o = { .key = ed_key };
    char *out = (char *)1, err[DANCE_REASON_MAX];
    size_t outlen = 7;
    (void)state;

    assert_int_equal(dance_jwe_encrypt(&o, "x", 1, &out, &outlen, err, sizeof(err)), -1);
    assert_null(out);
    assert_int_equal(outlen, 0);
    assert_non_null(strstr(err, "cannot encrypt to"));
    o.key = rsa_key;
    o.alg = "ECDH-ES";
    assert_int_equal(dance_jwe_encrypt(&o, "x", 1, &out, &outlen, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ECDH-ES needs an EC"));
    o.alg = "RSA1_5";
    assert_int_equal(dance_jwe_encrypt(&o, "x", 1, &out, &outlen, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown alg"));
    o.alg = NULL;
    o.enc = "A128GCM";
    assert_int_equal(dance_jwe_encrypt(&o, "x", 1, &out, &outlen, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown enc"));
    o.enc = NULL;
    o.key = p256_key;
    o.alg = "RSA-OAEP-256";
    assert_int_equal(dance_jwe_encrypt(&o, "x", 1, &out, &outlen, err, sizeof(err)), -1);
    o.alg = NULL;
    o.recipient = "not a name!";
    assert_int_equal(dance_jwe_encrypt(&o, "x", 1, &out, &outlen, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "recipient name"));
    o.recipient = NULL;
    o.cty = "JWE";
    assert_int_equal(dance_jwe_encrypt(&o, "x", 1, &out, &outlen, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "nested"));
}

/* ------------------------------------------------------ hostile inputs */

static void test_wrong_key(void **state)
{
    char *rsa = encrypt(rsa_key, NULL, "A256CBC-HS512", false, "secret");
    char *kw = encrypt(p256_key, "ECDH-ES+A256KW", NULL, true, "secret");
    char *es = encrypt(p256_key, NULL, NULL, false, "secret");
    EVP_PKEY *pub = public_only(rsa_key);
    (void)state;

    expect_failed(rsa, rsa_other);
    expect_failed(kw, p256_other);
    expect_failed(es, p256_other);
    /* a key of another type or curve is named before any key use */
    expect(rsa, p256_key, DANCE_KEY_MISMATCH, "RSA-OAEP-256 needs an RSA private key");
    expect(kw, p384_key, DANCE_KEY_MISMATCH, "on P-256");
    expect(es, rsa_key, DANCE_KEY_MISMATCH, "the key is an RSA key");
    expect(es, ed_key, DANCE_KEY_MISMATCH, NULL);
    expect(rsa, pub, DANCE_KEY_MISMATCH, "public key");
    EVP_PKEY_free(pub);
    free(rsa);
    free(kw);
    free(es);
}

/* tamper_each - every part of m changed by one bit: one reason each time */
static void tamper_each(const char *m, EVP_PKEY *key, bool has_ek)
{
    parts r = split(m);

    for (int k = 1; k < 5; k++) {
        size_t len = 0;
        unsigned char *d;
        char *bad, *part;

        if (k == 1 && !has_ek)
            continue;
        d = b64d(r.p[k], &len);
        free(d);
        for (size_t i = 0; i < len; i += len / 3 + 1) {
            part = flip(r.p[k], i);
            bad = with_part(m, k, part);
            expect_failed(bad, key);
            free(part);
            free(bad);
        }
    }
    parts_free(&r);
}

static void test_tampered(void **state)
{
    struct { EVP_PKEY *key; const char *alg; const char *enc; bool ek; } c[] = {
        { rsa_key, NULL, "A256CBC-HS512", true },
        { rsa_key, NULL, "A256GCM", true },
        { p256_key, NULL, "A256GCM", false },
        { p384_key, NULL, "A256CBC-HS512", false },
        { p256_key, "ECDH-ES+A256KW", "A256GCM", true },
        { p384_key, "ECDH-ES+A256KW", "A256CBC-HS512", true },
    };
    (void)state;

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        char *m = encrypt(c[i].key, c[i].alg, c[i].enc, false, "a reading of 21.5 C");
        char *hdr = with_header(m, "kid", "\"someone-else\"");
        char *hdr2 = with_header(m, "x5u", "\"dns://evil.example?type=TLSA\"");

        tamper_each(m, c[i].key, c[i].ek);
        /* the protected header is the AAD: any change breaks the tag */
        expect_failed(hdr, c[i].key);
        expect_failed(hdr2, c[i].key);
        free(hdr);
        free(hdr2);
        free(m);
    }
}

static void test_header_refusals(void **state)
{
    char *m = encrypt(rsa_key, NULL, NULL, false, "x");
    char *es = encrypt(p256_key, NULL, NULL, false, "x");
    struct { const char *base; const char *name; const char *json; dance_status st;
             const char *why; } c[] = {
        { m, "zip", "\"DEF\"", DANCE_UNSUPPORTED, "zip is refused" },
        { m, "crit", "[\"exp\"]", DANCE_UNSUPPORTED, "crit is refused" },
        { m, "alg", "\"RSA-OAEP\"", DANCE_BAD_ALG, "alg \"RSA-OAEP\" is not supported" },
        { m, "alg", "\"RSA1_5\"", DANCE_BAD_ALG, "not supported" },
        { m, "alg", "\"dir\"", DANCE_BAD_ALG, "not supported" },
        { m, "alg", "\"none\"", DANCE_BAD_ALG, "not supported" },
        { m, "alg", NULL, DANCE_BAD_ALG, "no alg" },
        { m, "alg", "7", DANCE_MALFORMED, "must be strings" },
        { m, "enc", "\"A128GCM\"", DANCE_BAD_ALG, "enc \"A128GCM\" is not supported" },
        { m, "enc", "\"A128CBC-HS256\"", DANCE_BAD_ALG, "not supported" },
        { m, "enc", NULL, DANCE_BAD_ALG, "no enc" },
        { m, "cty", "\"JWE\"", DANCE_UNSUPPORTED, "nested" },
        { m, "cty", "\"application/jwe\"", DANCE_UNSUPPORTED, "nested" },
        { m, "alg", "\"ECDH-ES\"", DANCE_MALFORMED, "needs epk" },
        { es, "epk", NULL, DANCE_MALFORMED, "needs epk" },
        { es, "epk", "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"}",
          DANCE_UNSUPPORTED, "epk curve" },
        { es, "epk", "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AA\"}",
          DANCE_MALFORMED, "not an EC public key" },
        /* the x coordinate of RFC 7518 C's key with y = 1: off the curve (what
         * lets jwe_ecdh skip OpenSSL's full peer validation) */
        { es, "epk", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":"
          "\"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0\",\"y\":"
          "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}",
          DANCE_MALFORMED, "not a point on P-256" },
        { es, "epk", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}",
          DANCE_MALFORMED, "32-byte" },
        { es, "apu", "\"not base64!\"", DANCE_MALFORMED, "apu is not base64url" },
        { es, "apv", "12", DANCE_MALFORMED, "apv is not a string" },
    };
    (void)state;

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        char *bad = with_header(c[i].base, c[i].name, c[i].json);
        expect(bad, c[i].base == m ? rsa_key : p256_key, c[i].st, c[i].why);
        free(bad);
    }
    free(m);
    free(es);
}

static void test_structure_refusals(void **state)
{
    char *m = encrypt(rsa_key, NULL, NULL, false, "x");
    char *es = encrypt(p256_key, NULL, NULL, false, "x");
    char *big = malloc(70000);
    parts r = split(m);
    char buf[8192];
    dance_jwe_result res = { 0 };
    (void)state;

    expect("", rsa_key, DANCE_MALFORMED, "empty");
    expect("  \n", rsa_key, DANCE_MALFORMED, "empty");
    expect("a.b.c", rsa_key, DANCE_MALFORMED, "five");
    expect("a.b.c.d.e.f", rsa_key, DANCE_MALFORMED, "five");
    snprintf(buf, sizeof(buf), "%s.%s.%s.%s", r.p[0], r.p[1], r.p[2], r.p[3]);
    expect(buf, rsa_key, DANCE_MALFORMED, "five");                  /* truncated */
    snprintf(buf, sizeof(buf), ".%s.%s.%s.%s", r.p[1], r.p[2], r.p[3], r.p[4]);
    expect(buf, rsa_key, DANCE_MALFORMED, "no protected header");
    snprintf(buf, sizeof(buf), "%s.%s.%s.%s.", r.p[0], r.p[1], r.p[2], r.p[3]);
    expect(buf, rsa_key, DANCE_MALFORMED, "tag is empty");
    snprintf(buf, sizeof(buf), "%s.%s.%s=.%s.%s", r.p[0], r.p[1], r.p[2], r.p[3], r.p[4]);
    expect(buf, rsa_key, DANCE_MALFORMED, "iv is not base64url");
    snprintf(buf, sizeof(buf), "%s.%s.%s.%s+.%s", r.p[0], r.p[1], r.p[2], r.p[3], r.p[4]);
    expect(buf, rsa_key, DANCE_MALFORMED, "ciphertext is not base64url");
    snprintf(buf, sizeof(buf), "%s.%s.AAAA.%s.%s", r.p[0], r.p[1], r.p[3], r.p[4]);
    expect(buf, rsa_key, DANCE_MALFORMED, "12-byte iv");
    snprintf(buf, sizeof(buf), "%s.%s.%s.%s.AAAA", r.p[0], r.p[1], r.p[2], r.p[3]);
    expect(buf, rsa_key, DANCE_MALFORMED, "16-byte");
    snprintf(buf, sizeof(buf), "%s..%s.%s.%s", r.p[0], r.p[2], r.p[3], r.p[4]);
    expect(buf, rsa_key, DANCE_MALFORMED, "needs an encrypted key");
    snprintf(buf, sizeof(buf), "eyJhbGci.%s.%s.%s.%s", r.p[1], r.p[2], r.p[3], r.p[4]);
    expect(buf, rsa_key, DANCE_MALFORMED, "not a JSON object");
    {
        parts e = split(es);
        snprintf(buf, sizeof(buf), "%s.AAAA.%s.%s.%s", e.p[0], e.p[2], e.p[3], e.p[4]);
        expect(buf, p256_key, DANCE_MALFORMED, "empty encrypted key");
        parts_free(&e);
    }

    /* JSON forms */
    expect("{", rsa_key, DANCE_MALFORMED, "not valid JSON");
    expect("{\"payload\":\"eA\",\"protected\":\"e30\",\"signature\":\"AA\"}", rsa_key,
           DANCE_MALFORMED, "a JWS?");
    expect("[1]", rsa_key, DANCE_MALFORMED, NULL);
#define J(extra) snprintf(buf, sizeof(buf), "{\"protected\":\"%s\",\"encrypted_key\":" \
                          "\"%s\",\"iv\":\"%s\",\"ciphertext\":\"%s\",\"tag\":\"%s\"%s}", \
                          r.p[0], r.p[1], r.p[2], r.p[3], r.p[4], extra)
    J("");
    assert_int_equal(decrypt(buf, rsa_key, &res), DANCE_OK);   /* flattened as is */
    assert_int_equal(res.serialization, DANCE_JWS_FLATTENED);
    dance_jwe_result_clear(&res);
    J(",\"unprotected\":{},\"header\":{}");    /* empty: they carry nothing */
    assert_int_equal(decrypt(buf, rsa_key, &res), DANCE_OK);
    dance_jwe_result_clear(&res);
    J(",\"header\":[]");
    expect(buf, rsa_key, DANCE_UNSUPPORTED, "outside the protected header");
    J(",\"unprotected\":{\"kid\":\"x\"}");
    expect(buf, rsa_key, DANCE_UNSUPPORTED, "outside the protected header");
    J(",\"header\":{\"alg\":\"RSA-OAEP-256\"}");
    expect(buf, rsa_key, DANCE_UNSUPPORTED, "outside the protected header");
    J(",\"aad\":\"eA\"");
    expect(buf, rsa_key, DANCE_UNSUPPORTED, "aad");
    J(",\"tag\":\"AA\"");
    expect(buf, rsa_key, DANCE_MALFORMED, "unique member names");
    snprintf(buf, sizeof(buf), "{\"protected\":\"%s\",\"iv\":\"%s\",\"ciphertext\":\"%s\"}",
             r.p[0], r.p[2], r.p[3]);
    expect(buf, rsa_key, DANCE_MALFORMED, "\"tag\"");
    snprintf(buf, sizeof(buf), "{\"protected\":\"%s\",\"encrypted_key\":5,\"iv\":\"%s\","
             "\"ciphertext\":\"%s\",\"tag\":\"%s\"}", r.p[0], r.p[2], r.p[3], r.p[4]);
    expect(buf, rsa_key, DANCE_MALFORMED, NULL);
    /* general serialization: one recipient decrypts, two are refused */
#define G(recips) snprintf(buf, sizeof(buf), "{\"protected\":\"%s\",\"recipients\":%s," \
                           "\"iv\":\"%s\",\"ciphertext\":\"%s\",\"tag\":\"%s\"}", \
                           r.p[0], recips, r.p[2], r.p[3], r.p[4])
    {
        char rec[2048];
        snprintf(rec, sizeof(rec), "[{\"encrypted_key\":\"%s\"}]", r.p[1]);
        G(rec);
        assert_int_equal(decrypt(buf, rsa_key, &res), DANCE_OK);
        assert_string_equal((char *)res.plaintext, "x");
        dance_jwe_result_clear(&res);
        snprintf(rec, sizeof(rec), "[{\"encrypted_key\":\"%s\"},{\"encrypted_key\":\"%s\"}]",
                 r.p[1], r.p[1]);
        G(rec);
        expect(buf, rsa_key, DANCE_UNSUPPORTED, "2 recipients");
        snprintf(rec, sizeof(rec), "[{\"encrypted_key\":\"%s\",\"header\":{\"kid\":\"k\"}}]",
                 r.p[1]);
        G(rec);
        expect(buf, rsa_key, DANCE_UNSUPPORTED, "per-recipient");
        snprintf(rec, sizeof(rec), "[{\"encrypted_key\":\"%s\",\"header\":{}}]", r.p[1]);
        G(rec);
        assert_int_equal(decrypt(buf, rsa_key, &res), DANCE_OK);
        dance_jwe_result_clear(&res);
        G("[]");
        expect(buf, rsa_key, DANCE_MALFORMED, "non-empty array");
        snprintf(rec, sizeof(rec), "[{\"encrypted_key\":\"%s\"}]", r.p[1]);
        snprintf(buf, sizeof(buf), "{\"protected\":\"%s\",\"encrypted_key\":\"%s\","
                 "\"recipients\":%s,\"iv\":\"%s\",\"ciphertext\":\"%s\",\"tag\":\"%s\"}",
                 r.p[0], r.p[1], rec, r.p[2], r.p[3], r.p[4]);
        expect(buf, rsa_key, DANCE_MALFORMED, "both");
    }
#undef J
#undef G

    /* size: over the caller's maximum, and over the default */
    assert_int_equal(dance_jwe_decrypt(m, strlen(m), 100, rsa_key, &res), DANCE_TOO_LARGE);
    assert_null(res.plaintext);
    assert_non_null(strstr(res.reason, "over the 100-byte limit"));
    dance_jwe_result_clear(&res);
    assert_non_null(big);
    memset(big, 'A', 70000);
    assert_int_equal(dance_jwe_decrypt(big, 70000, 0, rsa_key, &res), DANCE_TOO_LARGE);
    dance_jwe_result_clear(&res);
    assert_int_equal(dance_jwe_decrypt(m, strlen(m), strlen(m), rsa_key, &res), DANCE_OK);
    dance_jwe_result_clear(&res);

    free(big);
    parts_free(&r);
    free(m);
    free(es);
}

static void test_nested_refused(void **state)
{
    char *inner = encrypt(rsa_key, NULL, NULL, false, "secret");
    char *outer = encrypt(rsa_key, NULL, NULL, false, inner);
    char *inner_json = encrypt(p256_key, NULL, NULL, true, "secret");
    char *outer_json = encrypt(p256_key, NULL, NULL, false, inner_json);
    char *jws_like = encrypt(rsa_key, NULL, NULL, false, "aGVhZGVy.cGF5bG9hZA.c2ln");
    dance_jwe_result res = { 0 };
    (void)state;

    expect(outer, rsa_key, DANCE_UNSUPPORTED, "plaintext is itself a JWE");
    expect(outer_json, p256_key, DANCE_UNSUPPORTED, "plaintext is itself a JWE");
    /* a JWS (three parts) is the expected plaintext */
    assert_int_equal(decrypt(jws_like, rsa_key, &res), DANCE_OK);
    dance_jwe_result_clear(&res);
    assert_false(dance_jwe_is_jwe("a.b.c", 5));
    assert_false(dance_jwe_is_jwe("{\"payload\":\"x\"}", 15));
    assert_true(dance_jwe_is_jwe(" a.b.c.d.e\n", 11));
    /* JSON: a member named ciphertext, however it is spelled, and only a
     * member (the quick scan before parsing must not change the answer) */
    {
        static const char *const yes[] = {
            "{\"ciphertext\":\"x\"}",
            "{\"ciph\\u0065rtext\":\"x\",\"protected\":\"e30\"}",
            " {\"protected\":\"e30\",\"ciphertext\":\"x\"}\n",
        };
        static const char *const no[] = {
            "{\"payload\":\"ciphertext\"}",
            "{\"payload\":\"\\u0063\"}",
            "{\"ciphertex\":\"x\"}",
            "{\"ciphertext\"",
            "[\"ciphertext\"]",
        };
        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
            assert_true(dance_jwe_is_jwe(yes[i], strlen(yes[i])));
        for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
            assert_false(dance_jwe_is_jwe(no[i], strlen(no[i])));
        assert_true(dance_jwe_is_jwe(inner_json, strlen(inner_json)));
    }
    free(inner);
    free(outer);
    free(inner_json);
    free(outer_json);
    free(jws_like);
}

/* Encrypt-then-sign: a JWS over a JWE with cty JWE, read back from the
 * header, verified, then decrypted; cty JWE over anything else refused. */
static void test_encrypt_then_sign(void **state)
{
    char *jwe = encrypt(rsa_key, NULL, NULL, false, "reading 23.5");
    char *out = NULL, err[DANCE_REASON_MAX], long_cty[66];
    size_t outlen = 0;
    dance_jws_sign_opts so;
    dance_jws_policy pol;
    dance_jws_result vr;
    dance_jws *jws = NULL;
    dance_jwe_result res = { 0 };
    (void)state;

    memset(&so, 0, sizeof(so));
    memset(&pol, 0, sizeof(pol));
    memset(&vr, 0, sizeof(vr));
    so.key = p256_key;
    so.name = "dev1.acme.example";
    so.cty = "JWE";
    assert_int_equal(dance_jws_sign(&so, jwe, strlen(jwe), &out, &outlen, err,
                                    sizeof(err)), 0);
    assert_int_equal(dance_jws_parse(out, outlen, 0, &jws, NULL, err, sizeof(err)),
                     DANCE_OK);
    assert_string_equal(dance_jws_get_header(jws)->cty, "JWE");
    assert_int_equal(dance_jws_verify_key(jws, p256_key, NULL, &pol, &vr), DANCE_OK);
    assert_int_equal(vr.payload_len, strlen(jwe));
    assert_int_equal(dance_jwe_decrypt(vr.payload, vr.payload_len, 0, rsa_key, &res),
                     DANCE_OK);
    assert_string_equal((const char *)res.plaintext, "reading 23.5");
    dance_jwe_result_clear(&res);
    dance_jws_result_clear(&vr);
    dance_jws_free(jws);
    free(out);
    out = NULL;

    /* cty naming a JWE only over a JWE; other values are the signer's */
    assert_int_equal(dance_jws_sign(&so, "a.b.c", 5, &out, &outlen, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "says the payload is a JWE, but it is not one"));
    so.cty = "application/jwe";
    assert_int_equal(dance_jws_sign(&so, "{}", 2, &out, &outlen, err, sizeof(err)), -1);
    so.cty = "JWT";
    assert_int_equal(dance_jws_sign(&so, "x", 1, &out, &outlen, err, sizeof(err)), 0);
    free(out);
    out = NULL;
    so.cty = "";
    assert_int_equal(dance_jws_sign(&so, "x", 1, &out, &outlen, err, sizeof(err)), -1);
    memset(long_cty, 'a', 65);
    long_cty[65] = '\0';
    so.cty = long_cty;
    assert_int_equal(dance_jws_sign(&so, "x", 1, &out, &outlen, err, sizeof(err)), -1);
    so.cty = "a\tb";
    assert_int_equal(dance_jws_sign(&so, "x", 1, &out, &outlen, err, sizeof(err)), -1);
    assert_null(out);

    /* no cty: NULL in the header */
    so.cty = NULL;
    assert_int_equal(dance_jws_sign(&so, "x", 1, &out, &outlen, err, sizeof(err)), 0);
    assert_int_equal(dance_jws_parse(out, outlen, 0, &jws, NULL, err, sizeof(err)),
                     DANCE_OK);
    assert_null(dance_jws_get_header(jws)->cty);
    dance_jws_free(jws);
    free(out);

    assert_true(dance_jwe_type_is_jwe("JWE"));
    assert_true(dance_jwe_type_is_jwe("jwe"));
    assert_true(dance_jwe_type_is_jwe("application/JWE"));
    assert_false(dance_jwe_type_is_jwe(NULL));
    assert_false(dance_jwe_type_is_jwe(""));
    assert_false(dance_jwe_type_is_jwe("JWT"));
    assert_false(dance_jwe_type_is_jwe("application/jwt"));
    free(jwe);
}

/* ------------------------------------------------------------- cjose */

/* cjose_key - key (EC, with its private half) as a cjose JWK */
static cjose_jwk_t *cjose_key(EVP_PKEY *key, size_t cl)
{
    unsigned char pt[1 + 2 * 48], d[48];
    size_t len = 0;
    BIGNUM *bn = NULL;
    cjose_jwk_ec_keyspec spec;
    cjose_err cerr;
    cjose_jwk_t *jwk;

    assert_int_equal(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                                     pt, sizeof(pt), &len), 1);
    assert_int_equal(len, 1 + 2 * cl);
    assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &bn), 1);
    assert_int_equal(BN_bn2binpad(bn, d, (int)cl), (int)cl);
    BN_clear_free(bn);
    memset(&spec, 0, sizeof(spec));
    spec.crv = cl == 32 ? CJOSE_JWK_EC_P_256 : CJOSE_JWK_EC_P_384;
    spec.d = d;
    spec.dlen = cl;
    spec.x = pt + 1;
    spec.xlen = cl;
    spec.y = pt + 1 + cl;
    spec.ylen = cl;
    jwk = cjose_jwk_create_EC_spec(&spec, &cerr);
    assert_non_null(jwk);
    return jwk;
}

static void test_cjose_interop(void **state)
{
    struct { EVP_PKEY **key; size_t cl; } k[] = { { &p256_key, 32 }, { &p384_key, 48 } };
    const char *encs[] = { "A256GCM", "A256CBC-HS512" };
    EVP_PKEY *p384_other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    (void)state;

    assert_non_null(p384_other);
    for (size_t i = 0; i < 2; i++) {
        cjose_jwk_t *jwk = cjose_key(*k[i].key, k[i].cl);
        for (size_t e = 0; e < 2; e++) {
            /* ours, decrypted by cjose */
            char *m = encrypt(*k[i].key, "ECDH-ES", encs[e], false, "to cjose");
            cjose_err cerr;
            cjose_jwe_t *jwe = cjose_jwe_import(m, strlen(m), &cerr);
            size_t len = 0;
            uint8_t *pt;
            cjose_header_t *hdr;
            char *theirs;
            dance_jwe_result res = { 0 };

            assert_non_null(jwe);
            pt = cjose_jwe_decrypt(jwe, jwk, &len, &cerr);
            assert_non_null(pt);
            assert_int_equal(len, 8);
            assert_memory_equal(pt, "to cjose", 8);
            cjose_get_dealloc()(pt);
            cjose_jwe_release(jwe);
            free(m);

            /* cjose's, decrypted by us */
            hdr = cjose_header_new(&cerr);
            assert_non_null(hdr);
            assert_true(cjose_header_set(hdr, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ECDH_ES, &cerr));
            assert_true(cjose_header_set(hdr, CJOSE_HDR_ENC, encs[e], &cerr));
            jwe = cjose_jwe_encrypt(jwk, hdr, (const uint8_t *)"from cjose", 10, &cerr);
            assert_non_null(jwe);
            theirs = cjose_jwe_export(jwe, &cerr);
            assert_non_null(theirs);
            assert_int_equal(decrypt(theirs, *k[i].key, &res), DANCE_OK);
            assert_int_equal(res.plaintext_len, 10);
            assert_memory_equal(res.plaintext, "from cjose", 10);
            assert_string_equal(dance_jwe_enc_name(res.enc), encs[e]);
            dance_jwe_result_clear(&res);
            /* and the same message with a wrong key: one reason */
            expect_failed(theirs, i == 0 ? p256_other : p384_other);
            cjose_get_dealloc()(theirs);
            cjose_jwe_release(jwe);
            cjose_header_release(hdr);
        }
        cjose_jwk_release(jwk);
    }
    EVP_PKEY_free(p384_other);
}

/* ----------------------------------------------------- keys from TLSA */

static void add_der(dance_tlsa_rrset *set, uint8_t s, EVP_PKEY *key)
{
    unsigned char *der = NULL;
    int n;

    if (s == 1) {
        n = i2d_PUBKEY(key, &der);
    } else {
        X509 *c = X509_new();
        assert_non_null(c);
        assert_int_equal(X509_set_pubkey(c, key), 1);
        ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
        X509_gmtime_adj(X509_getm_notBefore(c), 0);
        X509_gmtime_adj(X509_getm_notAfter(c), 3600);
        assert_true(X509_sign(c, key, EVP_sha256()) > 0);
        n = i2d_X509(c, &der);
        X509_free(c);
    }
    assert_true(n > 0);
    assert_int_equal(dance_tlsa_rrset_add(set, 3, s, 0, der, (size_t)n), 0);
    OPENSSL_free(der);
}

static void test_key_from_tlsa(void **state)
{
    dance_tlsa_rrset set = { 0 };
    dance_status st = DANCE_OK;
    char err[DANCE_REASON_MAX];
    unsigned char digest[32] = { 1 };
    EVP_PKEY *k;
    (void)state;

    assert_null(dance_jwe_key_from_tlsa(&set, &st, err, sizeof(err)));
    assert_int_equal(st, DANCE_NO_USABLE_RECORD);
    assert_int_equal(dance_tlsa_rrset_add(&set, 3, 1, 1, digest, 32), 0);
    assert_null(dance_jwe_key_from_tlsa(&set, &st, err, sizeof(err)));
    assert_non_null(strstr(err, "digest record"));
    add_der(&set, 1, ed_key);                   /* a key, but not one to encrypt to */
    assert_null(dance_jwe_key_from_tlsa(&set, &st, err, sizeof(err)));
    assert_non_null(strstr(err, "RSA"));
    add_der(&set, 0, rsa_key);                  /* 3 0 0: the certificate's key */
    add_der(&set, 1, p256_key);
    k = dance_jwe_key_from_tlsa(&set, &st, err, sizeof(err));
    assert_non_null(k);
    assert_int_equal(st, DANCE_OK);
    assert_int_equal(EVP_PKEY_eq(k, rsa_key), 1);
    EVP_PKEY_free(k);
    dance_tlsa_rrset_clear(&set);

    add_der(&set, 1, p384_key);                 /* 3 1 0 */
    k = dance_jwe_key_from_tlsa(&set, &st, err, sizeof(err));
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_eq(k, p384_key), 1);
    {
        /* what is encrypted to the record's key decrypts with the private key */
        char *m = encrypt(k, NULL, NULL, false, "to the key in DNS");
        dance_jwe_result res = { 0 };
        assert_int_equal(decrypt(m, p384_key, &res), DANCE_OK);
        dance_jwe_result_clear(&res);
        free(m);
    }
    EVP_PKEY_free(k);
    dance_tlsa_rrset_clear(&set);

    /* without a resolver: refused with a reason, no crash */
    assert_null(dance_jwe_recipient_key(NULL, RECIPIENT, NULL, &st, err, sizeof(err)));
    assert_int_equal(st, DANCE_INTERNAL);
    assert_null(dance_jwe_recipient_key(NULL, "bad name!", NULL, &st, err, sizeof(err)));
    assert_int_equal(st, DANCE_BAD_SENDER);
}

static void test_names(void **state)
{
    dance_jwe_alg a;
    dance_jwe_enc e;
    (void)state;

    assert_int_equal(dance_jwe_alg_parse("ECDH-ES+A256KW", &a), 0);
    assert_int_equal(a, DANCE_JWE_ECDH_ES_A256KW);
    assert_int_equal(dance_jwe_alg_parse("rsa-oaep-256", &a), -1);
    assert_int_equal(dance_jwe_enc_parse("A256CBC-HS512", &e), 0);
    assert_int_equal(e, DANCE_JWE_A256CBC_HS512);
    assert_int_equal(dance_jwe_enc_parse(NULL, &e), -1);
    assert_string_equal(dance_jwe_alg_name(DANCE_JWE_ALG_COUNT), "unknown");
    assert_string_equal(dance_jwe_enc_name(DANCE_JWE_ENC_COUNT), "unknown");
    assert_string_equal(dance_status_name(DANCE_DECRYPT_FAILED), "decryption_failed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7518_b3_cbc_hs512),
        cmocka_unit_test(test_rfc7518_c_ecdh_es),
        cmocka_unit_test(test_rfc3394_aes256_kw),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_header_written),
        cmocka_unit_test(test_encrypt_refusals),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_header_refusals),
        cmocka_unit_test(test_structure_refusals),
        cmocka_unit_test(test_nested_refused),
        cmocka_unit_test(test_encrypt_then_sign),
        cmocka_unit_test(test_cjose_interop),
        cmocka_unit_test(test_key_from_tlsa),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
