/*
 * jwstest.c - see jwstest.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "jwstest.h"
#include "testcerts.h"

EVP_PKEY *jt_key(const char *type)
{
    EVP_PKEY *k = NULL;

    if (strcmp(type, "ec256") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (strcmp(type, "ec384") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    else if (strcmp(type, "ec521") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    else if (strcmp(type, "rsa1024") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    else if (strcmp(type, "rsa2048") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else if (strcmp(type, "ed25519") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    else if (strcmp(type, "ed448") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
    assert_non_null(k);
    return k;
}

X509 *jt_cert(EVP_PKEY *key, const char *name)
{
    static EVP_PKEY *issuer_key;
    static X509 *issuer;
    tc_spec ca = { .cn = "jwstest issuer", .ca = true, .not_before = -60,
                   .not_after = 86400 };
    tc_spec leaf = { .cn = NULL, .eku = "clientAuth", .not_before = -60,
                     .not_after = 86400 };
    char san[300];
    X509 *c;

    if (issuer == NULL) {
        issuer_key = jt_key("ec256");
        issuer = tc_cert(&ca, issuer_key, NULL, NULL);
        assert_non_null(issuer);
    }
    snprintf(san, sizeof(san), "DNS:%s", name);
    leaf.san = san;
    c = tc_cert(&leaf, key, issuer, issuer_key);
    assert_non_null(c);
    return c;
}

char *jt_b64url(const void *data, size_t len)
{
    size_t cap = 4 * ((len + 2) / 3) + 1, i, o = 0;
    char *out = malloc(cap);
    int n;

    assert_non_null(out);
    n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    assert_true(n >= 0);
    for (i = 0; i < (size_t)n; i++) {
        char c = out[i];
        if (c == '=')
            break;
        out[o++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[o] = '\0';
    return out;
}

jt_signer jt_signer_for(const char *alg)
{
    jt_signer s = { NULL, 0, 0 };
    const char *bits = alg + 2;

    if (strcmp(alg, "EdDSA") == 0)
        return s;
    s.md = strcmp(bits, "256") == 0 ? "SHA256" : strcmp(bits, "384") == 0 ? "SHA384"
                                                                          : "SHA512";
    if (alg[0] == 'P')
        s.pss = 1;
    if (alg[0] == 'E')
        s.coord = strcmp(bits, "256") == 0 ? 32 : strcmp(bits, "384") == 0 ? 48 : 66;
    return s;
}

static char *concat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *r = malloc(la + lb + lc + 3);

    assert_non_null(r);
    memcpy(r, a, la);
    r[la] = '.';
    memcpy(r + la + 1, b, lb);
    r[la + 1 + lb] = '.';
    memcpy(r + la + 1 + lb + 1, c, lc + 1);
    return r;
}

char *jt_jws_sig(const char *hdr_json, const char *payload, const char *sig_b64)
{
    char *h = jt_b64url(hdr_json, strlen(hdr_json));
    char *p = jt_b64url(payload, strlen(payload));
    char *r = concat3(h, p, sig_b64);

    free(h);
    free(p);
    return r;
}

char *jt_jws(const char *hdr_json, const char *payload, EVP_PKEY *key, jt_signer s)
{
    char *h = jt_b64url(hdr_json, strlen(hdr_json));
    char *p = jt_b64url(payload, strlen(payload));
    size_t silen = strlen(h) + 1 + strlen(p), siglen = 0;
    char *si = malloc(silen + 1), *sig64, *r;
    unsigned char *sig;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;

    assert_non_null(si);
    assert_non_null(mctx);
    snprintf(si, silen + 1, "%s.%s", h, p);
    assert_int_equal(EVP_DigestSignInit_ex(mctx, &pctx, s.md, NULL, NULL, key, NULL), 1);
    if (s.pss) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
    }
    assert_int_equal(EVP_DigestSign(mctx, NULL, &siglen, (unsigned char *)si, silen), 1);
    sig = malloc(siglen);
    assert_non_null(sig);
    assert_int_equal(EVP_DigestSign(mctx, sig, &siglen, (unsigned char *)si, silen), 1);
    EVP_MD_CTX_free(mctx);
    if (s.coord > 0) {
        const unsigned char *q = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)siglen);
        unsigned char *raw = malloc(2 * s.coord);
        assert_non_null(es);
        assert_non_null(raw);
        assert_true(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)s.coord) > 0);
        assert_true(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + s.coord, (int)s.coord) > 0);
        ECDSA_SIG_free(es);
        free(sig);
        sig = raw;
        siglen = 2 * s.coord;
    }
    sig64 = jt_b64url(sig, siglen);
    r = concat3(h, p, sig64);
    free(sig);
    free(sig64);
    free(si);
    free(h);
    free(p);
    return r;
}

char *jt_flattened(const char *compact, const char *extra)
{
    const char *d1 = strchr(compact, '.'), *d2 = strrchr(compact, '.');
    size_t n = strlen(compact) + (extra ? strlen(extra) : 0) + 64;
    char *r = malloc(n);

    assert_non_null(r);
    snprintf(r, n, "{%s\"protected\":\"%.*s\",\"payload\":\"%.*s\",\"signature\":\"%s\"}",
             extra ? extra : "", (int)(d1 - compact), compact, (int)(d2 - d1 - 1), d1 + 1,
             d2 + 1);
    return r;
}

void jt_add(dance_tlsa_rrset *set, int u, int s, int m, X509 *cert)
{
    assert_int_equal(tc_tlsa_add(set, (uint8_t)u, (uint8_t)s, (uint8_t)m, cert, 0), 0);
}
