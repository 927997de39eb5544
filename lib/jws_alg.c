/*
 * jws_alg.c - JWS algorithms: names, which key fits which algorithm, and the
 * signature primitives shared by signing and verification; base64url.
 *
 * Why OpenSSL EVP and not cjose for the signatures: cjose 0.6.2 has no
 * EdDSA, does not tie alg to key type or curve (ES384 verifies with a P-256
 * key), accepts RSA-1024, and verifies only a cjose_jws_t it re-imports
 * from text (which computes the digest again and goes through deprecated
 * low-level RSA/EC_KEY calls). One EVP path for all ten algorithms keeps the
 * rules in one place, lets keys decoded once be reused across messages and
 * threads, and is what the "raw OpenSSL" benchmark baseline measures.
 * cjose still encodes base64url here (see below for decoding), and the
 * interop tests check both ways against an independent implementation.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>

#include "jws_internal.h"

static const jws_alg_info alg_table[DANCE_JWS_ALG_COUNT] = {
    [DANCE_JWS_ES256] = { "ES256", JWS_FAMILY_EC, "SHA256", NID_X9_62_prime256v1, 32 },
    [DANCE_JWS_ES384] = { "ES384", JWS_FAMILY_EC, "SHA384", NID_secp384r1, 48 },
    [DANCE_JWS_ES512] = { "ES512", JWS_FAMILY_EC, "SHA512", NID_secp521r1, 66 },
    [DANCE_JWS_RS256] = { "RS256", JWS_FAMILY_RSA, "SHA256", 0, 0 },
    [DANCE_JWS_RS384] = { "RS384", JWS_FAMILY_RSA, "SHA384", 0, 0 },
    [DANCE_JWS_RS512] = { "RS512", JWS_FAMILY_RSA, "SHA512", 0, 0 },
    [DANCE_JWS_PS256] = { "PS256", JWS_FAMILY_RSA_PSS, "SHA256", 0, 0 },
    [DANCE_JWS_PS384] = { "PS384", JWS_FAMILY_RSA_PSS, "SHA384", 0, 0 },
    [DANCE_JWS_PS512] = { "PS512", JWS_FAMILY_RSA_PSS, "SHA512", 0, 0 },
    [DANCE_JWS_EDDSA] = { "EdDSA", JWS_FAMILY_EDDSA, NULL, 0, 0 },
};

const jws_alg_info *jws_alg_get(dance_jws_alg alg)
{
    if ((unsigned)alg >= DANCE_JWS_ALG_COUNT)
        return NULL;
    return &alg_table[alg];
}

const char *dance_jws_alg_name(dance_jws_alg alg)
{
    const jws_alg_info *ai = jws_alg_get(alg);
    return ai ? ai->name : "unknown";
}

int dance_jws_alg_parse(const char *name, dance_jws_alg *out)
{
    int i;

    if (name == NULL)
        return -1;
    for (i = 0; i < DANCE_JWS_ALG_COUNT; i++) {
        if (strcmp(name, alg_table[i].name) == 0) {
            *out = (dance_jws_alg)i;
            return 0;
        }
    }
    return -1;
}

/* key_curve_nid - NID of a named EC key's curve, NID_undef otherwise */
static int key_curve_nid(EVP_PKEY *key)
{
    char name[64];
    size_t len = 0;

    if (EVP_PKEY_get_group_name(key, name, sizeof(name), &len) != 1)
        return NID_undef;
    return OBJ_sn2nid(name) != NID_undef ? OBJ_sn2nid(name) : OBJ_ln2nid(name);
}

static const char *curve_label(int nid)
{
    switch (nid) {
    case NID_X9_62_prime256v1: return "P-256";
    case NID_secp384r1:        return "P-384";
    case NID_secp521r1:        return "P-521";
    default:                   return nid == NID_undef ? "unnamed curve" : OBJ_nid2sn(nid);
    }
}

static const char *key_kind(EVP_PKEY *key)
{
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC:      return "EC";
    case EVP_PKEY_RSA:     return "RSA";
    case EVP_PKEY_RSA_PSS: return "RSA-PSS";
    case EVP_PKEY_ED25519: return "Ed25519";
    case EVP_PKEY_ED448:   return "Ed448";
    case EVP_PKEY_DSA:     return "DSA";
    default:               return "unknown";
    }
}

int dance_jws_alg_for_key(EVP_PKEY *key, dance_jws_alg *out, char *err, size_t errlen)
{
    if (key == NULL) {
        dance_set_err(err, errlen, "no key");
        return -1;
    }
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC:
        switch (key_curve_nid(key)) {
        case NID_X9_62_prime256v1: *out = DANCE_JWS_ES256; return 0;
        case NID_secp384r1:        *out = DANCE_JWS_ES384; return 0;
        case NID_secp521r1:        *out = DANCE_JWS_ES512; return 0;
        default:
            dance_set_err(err, errlen, "EC key on %s: JWS needs P-256, P-384 or P-521",
                          curve_label(key_curve_nid(key)));
            return -1;
        }
    case EVP_PKEY_RSA:
        *out = DANCE_JWS_RS256;
        return 0;
    case EVP_PKEY_ED25519:
        *out = DANCE_JWS_EDDSA;
        return 0;
    default:
        dance_set_err(err, errlen, "%s keys have no JWS algorithm here "
                      "(use EC P-256/384/521, RSA or Ed25519)", key_kind(key));
        return -1;
    }
}

int dance_jws_key_fits(dance_jws_alg alg, EVP_PKEY *key, char *err, size_t errlen)
{
    const jws_alg_info *ai = jws_alg_get(alg);
    int bits;

    if (ai == NULL || key == NULL) {
        dance_set_err(err, errlen, "no algorithm or no key");
        return -1;
    }
    switch (ai->family) {
    case JWS_FAMILY_EC:
        if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
            dance_set_err(err, errlen, "%s needs an EC %s key, the key is %s", ai->name,
                          curve_label(ai->curve_nid), key_kind(key));
            return -1;
        }
        if (key_curve_nid(key) != ai->curve_nid) {
            dance_set_err(err, errlen, "%s needs a %s key, the key is on %s", ai->name,
                          curve_label(ai->curve_nid), curve_label(key_curve_nid(key)));
            return -1;
        }
        return 0;
    case JWS_FAMILY_RSA:
    case JWS_FAMILY_RSA_PSS:
        if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
            dance_set_err(err, errlen, "%s needs an RSA key, the key is %s", ai->name,
                          key_kind(key));
            return -1;
        }
        bits = EVP_PKEY_get_bits(key);
        if (bits < JWS_RSA_MIN_BITS) {
            dance_set_err(err, errlen, "RSA key of %d bits is below the %d-bit minimum",
                          bits, JWS_RSA_MIN_BITS);
            return -1;
        }
        if (bits > JWS_RSA_MAX_BITS) {
            dance_set_err(err, errlen, "RSA key of %d bits is above the %d-bit maximum",
                          bits, JWS_RSA_MAX_BITS);
            return -1;
        }
        return 0;
    case JWS_FAMILY_EDDSA:
        if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
            dance_set_err(err, errlen, "EdDSA is accepted with Ed25519 keys only, the key is %s",
                          key_kind(key));
            return -1;
        }
        return 0;
    }
    dance_set_err(err, errlen, "unknown algorithm");
    return -1;
}

uint32_t jws_key_alg_mask(EVP_PKEY *key)
{
    uint32_t mask = 0;
    int i;

    for (i = 0; i < DANCE_JWS_ALG_COUNT; i++)
        if (dance_jws_key_fits((dance_jws_alg)i, key, NULL, 0) == 0)
            mask |= 1u << i;
    return mask;
}

/*
 * Digests are fetched once: in OpenSSL 3 passing EVP_sha256() makes every
 * EVP_DigestVerifyInit fetch the implementation again, which is measurable
 * at tens of thousands of verifications a second. Fetched objects are
 * immutable and shared by threads; they live until exit.
 */
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256, *md_sha384, *md_sha512;

static void md_init(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
    md_sha512 = EVP_MD_fetch(NULL, "SHA512", NULL);
}

static const EVP_MD *alg_md(const jws_alg_info *ai)
{
    pthread_once(&md_once, md_init);
    if (ai->md == NULL)
        return NULL;
    if (strcmp(ai->md, "SHA256") == 0)
        return md_sha256;
    if (strcmp(ai->md, "SHA384") == 0)
        return md_sha384;
    return md_sha512;
}

/* ctx_init - DigestSign/VerifyInit with the algorithm's padding rules
 * (PSS: MGF1 with the same hash, salt as long as the hash, RFC 7518 3.5) */
static int ctx_init(const jws_alg_info *ai, EVP_MD_CTX *mctx, EVP_PKEY *pkey, bool sign)
{
    EVP_PKEY_CTX *pctx = NULL;
    const EVP_MD *md = alg_md(ai);
    int rc;

    if (ai->md != NULL && md == NULL)
        return -1;
    rc = sign ? EVP_DigestSignInit(mctx, &pctx, md, NULL, pkey)
              : EVP_DigestVerifyInit(mctx, &pctx, md, NULL, pkey);
    if (rc != 1)
        return -1;
    if (ai->family == JWS_FAMILY_RSA_PSS) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1
            || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)
            return -1;
    }
    /* RS*: PKCS #1 v1.5 is the default padding of an RSA key's context;
     * dance_jws_key_fits only lets plain RSA keys (not RSA-PSS) get here */
    return 0;
}

/* es_raw_to_der - JOSE's fixed-length r||s into the DER ECDSA-Sig-Value
 * OpenSSL verifies. Returns the DER length, 0 when sig has the wrong length,
 * -1 on allocation failure. */
static int es_raw_to_der(const jws_alg_info *ai, const unsigned char *sig, size_t siglen,
                         unsigned char *der, size_t derlen)
{
    ECDSA_SIG *es;
    BIGNUM *r, *s;
    unsigned char *p = der;
    int n;

    if (siglen != 2 * ai->coord_len)
        return 0;
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, (int)ai->coord_len, NULL);
    s = BN_bin2bn(sig + ai->coord_len, (int)ai->coord_len, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return -1;
    }
    n = i2d_ECDSA_SIG(es, NULL);
    if (n <= 0 || (size_t)n > derlen) {
        ECDSA_SIG_free(es);
        return -1;
    }
    n = i2d_ECDSA_SIG(es, &p);
    ECDSA_SIG_free(es);
    return n > 0 ? n : -1;
}

int jws_sig_verify(dance_jws_alg alg, EVP_PKEY *pkey,
                   const unsigned char *data, size_t datalen,
                   const unsigned char *sig, size_t siglen)
{
    const jws_alg_info *ai = jws_alg_get(alg);
    unsigned char der[160];     /* DER of a P-521 signature is at most 139 */
    EVP_MD_CTX *mctx;
    int rc = -1, n;

    if (ai == NULL || pkey == NULL)
        return -1;
    if (ai->family == JWS_FAMILY_EC) {
        n = es_raw_to_der(ai, sig, siglen, der, sizeof(der));
        if (n <= 0) {
            ERR_clear_error();
            return n == 0 ? 0 : -1;
        }
        sig = der;
        siglen = (size_t)n;
    } else if (ai->family != JWS_FAMILY_EDDSA
               && siglen != (size_t)EVP_PKEY_get_size(pkey)) {
        return 0;   /* RSA signatures are exactly the modulus length */
    }
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL)
        return -1;
    if (ctx_init(ai, mctx, pkey, false) == 0)
        rc = EVP_DigestVerify(mctx, sig, siglen, data, datalen) == 1 ? 1 : 0;
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return rc;
}

int jws_sig_create(dance_jws_alg alg, EVP_PKEY *pkey,
                   const unsigned char *data, size_t datalen,
                   unsigned char **sig, size_t *siglen, char *err, size_t errlen)
{
    const jws_alg_info *ai = jws_alg_get(alg);
    EVP_MD_CTX *mctx = NULL;
    unsigned char *buf = NULL, *raw = NULL;
    const unsigned char *p;
    size_t len = 0;
    ECDSA_SIG *es = NULL;
    const BIGNUM *r, *s;

    *sig = NULL;
    *siglen = 0;
    if (ai == NULL || pkey == NULL) {
        dance_set_err(err, errlen, "no algorithm or no key");
        return -1;
    }
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL || ctx_init(ai, mctx, pkey, true) != 0
        || EVP_DigestSign(mctx, NULL, &len, data, datalen) != 1
        || (buf = malloc(len)) == NULL
        || EVP_DigestSign(mctx, buf, &len, data, datalen) != 1) {
        dance_set_err(err, errlen, "%s signing failed: %s", ai->name,
                      ERR_reason_error_string(ERR_peek_last_error())
                     ? ERR_reason_error_string(ERR_peek_last_error()) : "out of memory");
        goto fail;
    }
    if (ai->family == JWS_FAMILY_EC) {
        /* OpenSSL gives DER; JOSE wants r||s, each left-padded to the
         * curve's size (RFC 7518 3.4) */
        p = buf;
        es = d2i_ECDSA_SIG(NULL, &p, (long)len);
        raw = malloc(2 * ai->coord_len);
        if (es == NULL || raw == NULL) {
            dance_set_err(err, errlen, "%s signing failed: cannot convert the signature",
                          ai->name);
            goto fail;
        }
        ECDSA_SIG_get0(es, &r, &s);
        if (BN_bn2binpad(r, raw, (int)ai->coord_len) < 0
            || BN_bn2binpad(s, raw + ai->coord_len, (int)ai->coord_len) < 0) {
            dance_set_err(err, errlen, "%s signing failed: signature too long", ai->name);
            goto fail;
        }
        ECDSA_SIG_free(es);
        free(buf);
        buf = raw;
        len = 2 * ai->coord_len;
    }
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    *sig = buf;
    *siglen = len;
    return 0;
fail:
    ECDSA_SIG_free(es);
    free(raw);
    free(buf);
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return -1;
}

/* ------------------------------------------------------------ base64url */

/*
 * Decoding is done here, not with cjose_base64url_decode: cjose accepts '='
 * padding and non-zero unused bits, which JWS forbids (RFC 7515 section 2)
 * and which would give one signature several spellings; and one table-driven
 * pass that validates while it decodes is measurably cheaper per message
 * than a validating scan followed by cjose's decoder. Encoding (signing
 * side, not hot) still goes through cjose.
 */
static const signed char b64url_table[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7,
    ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
    ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
    ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26,
    ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33,
    ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
    ['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
    ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59,
    ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
};  /* value + 1; 0 marks a character outside the alphabet */

/* The standard alphabet (RFC 4648 section 4) that x5c uses. */
static const signed char b64std_table[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7,
    ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
    ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
    ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26,
    ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33,
    ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
    ['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
    ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59,
    ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

/* b64_run - decode (out != NULL) or only check s[0..len) without padding,
 * in the alphabet of table. Returns the decoded length, or -1 for a
 * character outside the alphabet, a length of 1 mod 4, or non-zero unused
 * bits in the last character. */
static long b64_run(const signed char *table, const char *s, size_t len,
                    unsigned char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i, o = 0, full = len / 4 * 4;
    int a, b, c, d;

    if (len % 4 == 1)
        return -1;
    for (i = 0; i < full; i += 4) {
        a = table[p[i]] - 1;
        b = table[p[i + 1]] - 1;
        c = table[p[i + 2]] - 1;
        d = table[p[i + 3]] - 1;
        if ((a | b | c | d) < 0)
            return -1;
        if (out != NULL) {
            out[o] = (unsigned char)(a << 2 | b >> 4);
            out[o + 1] = (unsigned char)(b << 4 | c >> 2);
            out[o + 2] = (unsigned char)(c << 6 | d);
        }
        o += 3;
    }
    if (len - full >= 2) {
        a = table[p[i]] - 1;
        b = table[p[i + 1]] - 1;
        c = len - full == 3 ? table[p[i + 2]] - 1 : 0;
        if ((a | b | c) < 0)
            return -1;
        if (len - full == 2 && (b & 0x0f) != 0)
            return -1;
        if (len - full == 3 && (c & 0x03) != 0)
            return -1;
        if (out != NULL) {
            out[o] = (unsigned char)(a << 2 | b >> 4);
            if (len - full == 3)
                out[o + 1] = (unsigned char)(b << 4 | c >> 2);
        }
        o += len - full - 1;
    }
    return (long)o;
}

bool jws_b64url_valid(const char *s, size_t len)
{
    return b64_run(b64url_table, s, len, NULL) >= 0;
}

static int b64_decode(const signed char *table, const char *s, size_t len,
                      unsigned char **out, size_t *outlen)
{
    unsigned char *buf;
    long n;

    *out = NULL;
    *outlen = 0;
    buf = malloc(len / 4 * 3 + 3);
    if (buf == NULL)
        return -1;
    n = b64_run(table, s, len, buf);
    if (n < 0) {
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = (size_t)n;
    return 0;
}

int jws_b64url_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
    return b64_decode(b64url_table, s, len, out, outlen);
}

/* jws_b64_decode - also not cjose_base64_decode: fed an '=' inside the
 * text, cjose 0.6.2 fails an assert() and aborts the process (found by
 * fuzzing a JWS x5c), and it too accepts non-zero unused bits. Here the
 * padding must fill the last group exactly. */
int jws_b64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
    size_t pad = 0;

    *out = NULL;
    *outlen = 0;
    if (len == 0 || len % 4 != 0)
        return -1;
    while (pad < 2 && s[len - 1 - pad] == '=')
        pad++;
    return b64_decode(b64std_table, s, len - pad, out, outlen);
}

char *jws_b64url_encode(const unsigned char *data, size_t len, size_t *outlen)
{
    char *enc = NULL, *copy;
    size_t enclen = 0;
    cjose_err cerr;

    if (len == 0) {
        copy = strdup("");
        if (copy != NULL && outlen != NULL)
            *outlen = 0;
        return copy;
    }
    if (!cjose_base64url_encode(data, len, &enc, &enclen, &cerr))
        return NULL;
    copy = malloc(enclen + 1);
    if (copy != NULL) {
        memcpy(copy, enc, enclen);
        copy[enclen] = '\0';
        if (outlen != NULL)
            *outlen = enclen;
    }
    cjose_get_dealloc()(enc);
    return copy;
}
