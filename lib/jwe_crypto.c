/*
 * jwe_crypto.c - the cryptographic primitives of JWE (RFC 7518) over
 * OpenSSL 3: Concat KDF, ECDH, AES key wrap, RSA-OAEP-256, AES-GCM and
 * AES-CBC + HMAC-SHA-512. Why here and not cjose: jwe_internal.h.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include "jwe_internal.h"

/* done - the common exit: empty the error queue (failures are reported by
 * the return value; callers map them to their own reasons) */
static int done(int rc)
{
    ERR_clear_error();
    return rc;
}

static void put_be32(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

int jwe_concat_kdf(const unsigned char *z, size_t zlen, const char *algid,
                   const unsigned char *apu, size_t apulen,
                   const unsigned char *apv, size_t apvlen,
                   unsigned char *out, size_t outlen)
{
    size_t idlen = strlen(algid), infolen, o = 0;
    unsigned char *info;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[4];
    int rc = -1;

    if (idlen > 1024 || apulen > 65536 || apvlen > 65536 || outlen > 1024)
        return -1;
    infolen = 4 + idlen + 4 + apulen + 4 + apvlen + 4;
    if ((info = malloc(infolen)) == NULL)
        return -1;
    put_be32(info + o, idlen);
    memcpy(info + o + 4, algid, idlen);
    o += 4 + idlen;
    put_be32(info + o, apulen);
    if (apulen > 0)
        memcpy(info + o + 4, apu, apulen);
    o += 4 + apulen;
    put_be32(info + o, apvlen);
    if (apvlen > 0)
        memcpy(info + o + 4, apv, apvlen);
    o += 4 + apvlen;
    put_be32(info + o, outlen * 8);

    kdf = EVP_KDF_fetch(NULL, "SSKDF", NULL);
    if (kdf != NULL && (kctx = EVP_KDF_CTX_new(kdf)) != NULL) {
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                     (char *)"SHA256", 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                      (void *)z, zlen);
        params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, infolen);
        params[3] = OSSL_PARAM_construct_end();
        if (EVP_KDF_derive(kctx, out, outlen, params) == 1)
            rc = 0;
    }
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    free(info);
    return done(rc);
}

/* jwe_ecdh - the peer's point was checked to be on its curve when it was
 * decoded (EC_POINT_oct2point, under EVP_PKEY_fromdata and d2i), and P-256
 * and P-384 have prime order (cofactor 1), so every such point other than
 * infinity (which has no uncompressed encoding) is a valid public key:
 * OpenSSL's full peer validation would only add a scalar multiplication,
 * a third of the cost of a decryption. */
int jwe_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, unsigned char **z, size_t *zlen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = -1;

    *z = NULL;
    *zlen = 0;
    if (ctx != NULL && EVP_PKEY_derive_init(ctx) == 1
        && EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1
        && EVP_PKEY_derive(ctx, NULL, &len) == 1 && len > 0
        && (buf = malloc(len)) != NULL
        && EVP_PKEY_derive(ctx, buf, &len) == 1) {
        *z = buf;
        *zlen = len;
        buf = NULL;
        rc = 0;
    }
    if (buf != NULL) {
        OPENSSL_cleanse(buf, len);
        free(buf);
    }
    EVP_PKEY_CTX_free(ctx);
    return done(rc);
}

/* aes_kw - one wrap or unwrap with AES-256 (RFC 3394, EVP "AES-256-WRAP") */
static int aes_kw(int enc, const unsigned char *kek, const unsigned char *in,
                  size_t inlen, unsigned char *out, size_t want)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char buf[1024 + JWE_KW_OVERHEAD];
    int n = 0, f = 0, rc = -1;

    if (ctx == NULL || inlen > 1024 || inlen % 8 != 0 || inlen < 16) {
        EVP_CIPHER_CTX_free(ctx);
        return done(-1);
    }
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_wrap(), NULL, kek, NULL, enc) == 1
        && EVP_CipherUpdate(ctx, buf, &n, in, (int)inlen) == 1
        && EVP_CipherFinal_ex(ctx, buf + n, &f) == 1
        && (size_t)(n + f) == want) {
        memcpy(out, buf, want);
        rc = 0;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    EVP_CIPHER_CTX_free(ctx);
    return done(rc);
}

int jwe_aes_kw_wrap(const unsigned char *kek, const unsigned char *in, size_t inlen,
                    unsigned char *out)
{
    return aes_kw(1, kek, in, inlen, out, inlen + JWE_KW_OVERHEAD);
}

int jwe_aes_kw_unwrap(const unsigned char *kek, const unsigned char *in, size_t inlen,
                      unsigned char *out)
{
    if (inlen < 24)
        return -1;
    return aes_kw(0, kek, in, inlen, out, inlen - JWE_KW_OVERHEAD);
}

/* rsa_oaep256 - one RSA-OAEP operation with SHA-256 for both the label
 * hash and MGF1 (RFC 7518 4.3) */
static int rsa_oaep256(int encrypt, EVP_PKEY *key, const unsigned char *in,
                       size_t inlen, unsigned char **out, size_t *outlen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    unsigned char *buf = NULL;
    size_t len = 0;
    int ok, rc = -1;

    *out = NULL;
    *outlen = 0;
    if (ctx == NULL)
        return done(-1);
    ok = (encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) == 1
         && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1
         && EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA256", NULL) == 1
         && EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA256", NULL) == 1;
    if (ok)
        ok = (encrypt ? EVP_PKEY_encrypt(ctx, NULL, &len, in, inlen)
                      : EVP_PKEY_decrypt(ctx, NULL, &len, in, inlen)) == 1
             && len > 0 && (buf = malloc(len)) != NULL;
    if (ok)
        ok = (encrypt ? EVP_PKEY_encrypt(ctx, buf, &len, in, inlen)
                      : EVP_PKEY_decrypt(ctx, buf, &len, in, inlen)) == 1;
    if (ok) {
        *out = buf;
        *outlen = len;
        buf = NULL;
        rc = 0;
    }
    if (buf != NULL) {
        OPENSSL_cleanse(buf, len);
        free(buf);
    }
    EVP_PKEY_CTX_free(ctx);
    return done(rc);
}

int jwe_rsa_oaep256_encrypt(EVP_PKEY *pub, const unsigned char *in, size_t inlen,
                            unsigned char **out, size_t *outlen)
{
    return rsa_oaep256(1, pub, in, inlen, out, outlen);
}

int jwe_rsa_oaep256_decrypt(EVP_PKEY *priv, const unsigned char *in, size_t inlen,
                            unsigned char **out, size_t *outlen)
{
    return rsa_oaep256(0, priv, in, inlen, out, outlen);
}

/* cbc_hs512_tag - RFC 7518 5.2.2.1 step 5-6: the first 32 bytes of
 * HMAC-SHA-512(MAC_KEY, A || IV || E || AL), AL the bit length of A as a
 * 64-bit big-endian number */
static int cbc_hs512_tag(const unsigned char *mac_key, const unsigned char *aad,
                         size_t aadlen, const unsigned char *iv,
                         const unsigned char *ct, size_t ctlen, unsigned char *tag)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *mctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    unsigned char al[8], full[64];
    uint64_t bits = (uint64_t)aadlen * 8;
    size_t flen = 0;
    OSSL_PARAM params[2];
    int i, rc = -1;

    for (i = 0; i < 8; i++)
        al[i] = (unsigned char)(bits >> (56 - 8 * i));
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA512", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (mctx != NULL && EVP_MAC_init(mctx, mac_key, 32, params) == 1
        && EVP_MAC_update(mctx, aad, aadlen) == 1
        && EVP_MAC_update(mctx, iv, JWE_CBC_IV_LEN) == 1
        && EVP_MAC_update(mctx, ct, ctlen) == 1
        && EVP_MAC_update(mctx, al, sizeof(al)) == 1
        && EVP_MAC_final(mctx, full, &flen, sizeof(full)) == 1 && flen == 64) {
        memcpy(tag, full, JWE_CBC_TAG_LEN);
        rc = 0;
    }
    EVP_MAC_CTX_free(mctx);
    EVP_MAC_free(mac);
    return rc;
}

/* cbc - AES-256-CBC with PKCS#7 padding, one direction */
static int cbc(int enc, const unsigned char *key, const unsigned char *iv,
               const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, f = 0, rc = -1;

    if (ctx != NULL && inlen <= INT_MAX - 32
        && EVP_CipherInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, iv, enc) == 1
        && EVP_CipherUpdate(ctx, out, &n, in, (int)inlen) == 1
        && EVP_CipherFinal_ex(ctx, out + n, &f) == 1) {
        *outlen = (size_t)n + (size_t)f;
        rc = 0;
    }
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int jwe_cbc_hs512_encrypt(const unsigned char *key, const unsigned char *iv,
                          const unsigned char *aad, size_t aadlen,
                          const unsigned char *in, size_t inlen,
                          unsigned char *out, size_t *outlen, unsigned char *tag)
{
    size_t n = 0;

    if (cbc(1, key + 32, iv, in, inlen, out, &n) != 0
        || cbc_hs512_tag(key, aad, aadlen, iv, out, n, tag) != 0)
        return done(-1);
    *outlen = n;
    return done(0);
}

int jwe_cbc_hs512_decrypt(const unsigned char *key, const unsigned char *iv,
                          const unsigned char *aad, size_t aadlen,
                          const unsigned char *in, size_t inlen,
                          const unsigned char *tag, unsigned char *out, size_t *outlen)
{
    unsigned char want[JWE_CBC_TAG_LEN];
    size_t n = 0;

    /* the MAC before any decryption: a padding check on unauthenticated
     * data is the classic oracle */
    if (cbc_hs512_tag(key, aad, aadlen, iv, in, inlen, want) != 0
        || CRYPTO_memcmp(want, tag, JWE_CBC_TAG_LEN) != 0
        || inlen == 0 || inlen % 16 != 0
        || cbc(0, key + 32, iv, in, inlen, out, &n) != 0) {
        OPENSSL_cleanse(out, inlen);
        return done(-1);
    }
    *outlen = n;
    return done(0);
}

/* gcm - AES-256-GCM with a 96-bit IV and a 128-bit tag, one direction */
static int gcm(int enc, const unsigned char *key, const unsigned char *iv,
               const unsigned char *aad, size_t aadlen, const unsigned char *in,
               size_t inlen, unsigned char *out, size_t *outlen, unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, f = 0, a = 0, rc = -1;

    if (ctx == NULL || inlen > INT_MAX - 32 || aadlen > INT_MAX)
        goto out;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, JWE_GCM_IV_LEN, NULL) != 1
        || EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) != 1
        || EVP_CipherUpdate(ctx, NULL, &a, aad, (int)aadlen) != 1
        || EVP_CipherUpdate(ctx, out, &n, in, (int)inlen) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, JWE_GCM_TAG_LEN,
                                    (void *)tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + n, &f) != 1)
        goto out;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, JWE_GCM_TAG_LEN, tag) != 1)
        goto out;
    *outlen = (size_t)n + (size_t)f;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int jwe_gcm_encrypt(const unsigned char *key, const unsigned char *iv,
                    const unsigned char *aad, size_t aadlen,
                    const unsigned char *in, size_t inlen,
                    unsigned char *out, size_t *outlen, unsigned char *tag)
{
    return done(gcm(1, key, iv, aad, aadlen, in, inlen, out, outlen, tag));
}

int jwe_gcm_decrypt(const unsigned char *key, const unsigned char *iv,
                    const unsigned char *aad, size_t aadlen,
                    const unsigned char *in, size_t inlen,
                    const unsigned char *tag, unsigned char *out, size_t *outlen)
{
    size_t n = 0;

    /* OpenSSL writes plaintext before the tag is checked in Final: wipe
     * it when the tag fails, so no part of it is ever left behind */
    if (gcm(0, key, iv, aad, aadlen, in, inlen, out, &n, (unsigned char *)tag) != 0) {
        if (inlen > 0)
            OPENSSL_cleanse(out, inlen);
        return done(-1);
    }
    *outlen = n;
    return done(0);
}
