/*
 * jws_sign.c - make JWS messages the verifier accepts: protected header
 * {alg, kid = sender name, optional x5u dns:NAME?type=TLSA, x5c, iat, jti,
 * topic}, compact or flattened JSON serialization.
 *
 * The header JSON is built with cJSON and base64url comes from cjose; the
 * signature goes through the same EVP code as verification (jws_alg.c says
 * why cjose_jws_sign is not used: no EdDSA, no flattened form).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjose/cjose.h>
#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "dance/jwe.h"
#include "dance/provision.h"
#include "jws_internal.h"

int dance_jws_random_jti(char *out, size_t outlen)
{
    unsigned char rnd[16];
    char *enc;
    size_t n = 0;

    if (outlen < 23 || RAND_bytes(rnd, sizeof(rnd)) != 1)
        return -1;
    enc = jws_b64url_encode(rnd, sizeof(rnd), &n);
    if (enc == NULL || n >= outlen) {
        free(enc);
        return -1;
    }
    memcpy(out, enc, n + 1);
    free(enc);
    return 0;
}

/* add_x5c - certificates as standard base64 DER (RFC 7515 4.1.6) */
static int add_x5c(cJSON *hdr, STACK_OF(X509) *x5c, char *err, size_t errlen)
{
    cJSON *arr = cJSON_AddArrayToObject(hdr, "x5c");
    int i;

    if (arr == NULL)
        goto oom;
    for (i = 0; i < sk_X509_num(x5c); i++) {
        unsigned char *der = NULL;
        char *b64 = NULL;
        size_t b64len = 0;
        cjose_err cerr;
        cJSON *s;
        int n = i2d_X509(sk_X509_value(x5c, i), &der);
        if (n <= 0)
            goto oom;
        if (!cjose_base64_encode(der, (size_t)n, &b64, &b64len, &cerr)) {
            OPENSSL_free(der);
            goto oom;
        }
        OPENSSL_free(der);
        s = cJSON_CreateString(b64);
        cjose_get_dealloc()(b64);
        if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            goto oom;
        }
    }
    return 0;
oom:
    dance_set_err(err, errlen, "out of memory encoding x5c");
    return -1;
}

/* build_header - the protected header JSON text (malloc'd by cJSON) */
static char *build_header(const dance_jws_sign_opts *o, const char *typ,
                          dance_jws_alg alg, const char *name, char *err, size_t errlen)
{
    cJSON *hdr = cJSON_CreateObject();
    char uri[DANCE_NAME_MAX + 32];
    char *text = NULL;

    if (hdr == NULL
        || cJSON_AddStringToObject(hdr, "alg", dance_jws_alg_name(alg)) == NULL
        || cJSON_AddStringToObject(hdr, "kid", name) == NULL
        || (typ != NULL && cJSON_AddStringToObject(hdr, "typ", typ) == NULL))
        goto oom;
    if (o->x5u) {
        dance_set_err(uri, sizeof(uri), "dns:%s?type=TLSA", name);
        if (cJSON_AddStringToObject(hdr, "x5u", uri) == NULL)
            goto oom;
    }
    if (o->x5c != NULL && sk_X509_num(o->x5c) > 0
        && add_x5c(hdr, o->x5c, err, errlen) != 0)
        goto fail;
    if (o->iat) {
        int64_t now = o->now ? o->now(o->now_ctx) : (int64_t)time(NULL);
        if (cJSON_AddNumberToObject(hdr, "iat", (double)now) == NULL)
            goto oom;
    }
    if (o->jti != NULL && cJSON_AddStringToObject(hdr, "jti", o->jti) == NULL)
        goto oom;
    if (o->topic != NULL && cJSON_AddStringToObject(hdr, "topic", o->topic) == NULL)
        goto oom;
    if (o->cty != NULL && cJSON_AddStringToObject(hdr, "cty", o->cty) == NULL)
        goto oom;
    text = cJSON_PrintUnformatted(hdr);
    if (text == NULL)
        goto oom;
    cJSON_Delete(hdr);
    return text;
oom:
    dance_set_err(err, errlen, "out of memory building the header");
fail:
    cJSON_Delete(hdr);
    return NULL;
}

/* cty_check - a cty of 1 to 64 printable ASCII characters; one naming a
 * JWE only over a payload that is one, so that a reader told to decrypt
 * it is not handed something else */
static int cty_check(const char *cty, const void *payload, size_t len,
                     char *err, size_t errlen)
{
    size_t n;

    if (cty == NULL)
        return 0;
    n = strlen(cty);
    if (n == 0 || n > 64) {
        dance_set_err(err, errlen, "cty must be 1 to 64 characters");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (cty[i] < 0x21 || cty[i] > 0x7e) {
            dance_set_err(err, errlen, "cty must be printable ASCII without spaces");
            return -1;
        }
    if (dance_jwe_type_is_jwe(cty) && !dance_jwe_is_jwe(payload, len)) {
        dance_set_err(err, errlen, "cty %s says the payload is a JWE, but it is not "
                      "one (encrypt it first, e.g. with dance encrypt)", cty);
        return -1;
    }
    return 0;
}

/* jws_sign_check_opts - see jws_internal.h */
int jws_sign_check_opts(const dance_jws_sign_opts *o, dance_jws_alg *alg, char *name,
                      char *err, size_t errlen)
{
    char why[DANCE_REASON_MAX];

    if (o == NULL || o->key == NULL || o->name == NULL) {
        dance_set_err(err, errlen, "a key and a sender name are required");
        return -1;
    }
    if (dance_name_normalize(o->name, name, DANCE_NAME_MAX + 1, why, sizeof(why)) != 0) {
        dance_set_err(err, errlen, "sender name '%.80s' is not a DNS name: %s", o->name, why);
        return -1;
    }
    if (o->alg != NULL) {
        if (dance_jws_alg_parse(o->alg, alg) != 0) {
            dance_set_err(err, errlen, "algorithm '%.20s' is not supported (ES256, ES384, "
                          "ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA)", o->alg);
            return -1;
        }
    } else if (dance_jws_alg_for_key(o->key, alg, why, sizeof(why)) != 0) {
        dance_set_err(err, errlen, "%s", why);
        return -1;
    }
    if (dance_jws_key_fits(*alg, o->key, why, sizeof(why)) != 0) {
        dance_set_err(err, errlen, "%s cannot be used with this key: %s",
                      dance_jws_alg_name(*alg), why);
        return -1;
    }
    if (o->jti != NULL && (o->jti[0] == '\0' || strlen(o->jti) > DANCE_JWS_JTI_MAX)) {
        dance_set_err(err, errlen, "jti must be 1 to %d octets", DANCE_JWS_JTI_MAX);
        return -1;
    }
    if (o->topic != NULL && (o->topic[0] == '\0' || strlen(o->topic) > DANCE_JWS_TOPIC_MAX)) {
        dance_set_err(err, errlen, "topic must be a non-empty MQTT topic");
        return -1;
    }
    if (o->x5c != NULL && sk_X509_num(o->x5c) > 0) {
        EVP_PKEY *leafkey = X509_get0_pubkey(sk_X509_value(o->x5c, 0));
        if (sk_X509_num(o->x5c) > DANCE_JWS_X5C_MAX) {
            dance_set_err(err, errlen, "x5c chain of %d certificates is longer than %d",
                          sk_X509_num(o->x5c), DANCE_JWS_X5C_MAX);
            return -1;
        }
        if (leafkey == NULL || EVP_PKEY_eq(leafkey, o->key) != 1) {
            dance_set_err(err, errlen, "the first x5c certificate does not hold the signing "
                          "key's public half");
            return -1;
        }
    }
    return 0;
}

int dance_jws_sign(const dance_jws_sign_opts *o, const void *payload, size_t len,
                   char **out, size_t *outlen, char *err, size_t errlen)
{
    return jws_sign_typed(o, NULL, payload, len, out, outlen, err, errlen);
}

int jws_sign_typed(const dance_jws_sign_opts *o, const char *typ,
                   const void *payload, size_t len,
                   char **out, size_t *outlen, char *err, size_t errlen)
{
    char name[DANCE_NAME_MAX + 1];
    dance_jws_alg alg;
    char *hjson = NULL, *h64 = NULL, *p64 = NULL, *s64 = NULL, *si = NULL, *res = NULL;
    unsigned char *sig = NULL;
    size_t h64len = 0, p64len = 0, s64len = 0, siglen = 0, n;
    int rc = -1;

    *out = NULL;
    if (outlen != NULL)
        *outlen = 0;
    if (jws_sign_check_opts(o, &alg, name, err, errlen) != 0)
        return -1;
    if (o->serialization == DANCE_JWS_COSE_SIGN1) {
        dance_set_err(err, errlen, "COSE_Sign1 messages are made by dance_cose_sign");
        return -1;
    }
    if (payload == NULL && len > 0) {
        dance_set_err(err, errlen, "no payload");
        return -1;
    }
    if (cty_check(o->cty, payload, len, err, errlen) != 0)
        return -1;
    hjson = build_header(o, typ, alg, name, err, errlen);
    if (hjson == NULL)
        return -1;
    h64 = jws_b64url_encode((const unsigned char *)hjson, strlen(hjson), &h64len);
    p64 = jws_b64url_encode(payload, len, &p64len);
    if (h64 == NULL || p64 == NULL || (si = malloc(h64len + 1 + p64len + 1)) == NULL) {
        dance_set_err(err, errlen, "out of memory");
        goto out;
    }
    memcpy(si, h64, h64len);
    si[h64len] = '.';
    memcpy(si + h64len + 1, p64, p64len + 1);
    if (jws_sig_create(alg, o->key, (const unsigned char *)si, h64len + 1 + p64len,
                       &sig, &siglen, err, errlen) != 0)
        goto out;
    s64 = jws_b64url_encode(sig, siglen, &s64len);
    if (s64 == NULL) {
        dance_set_err(err, errlen, "out of memory");
        goto out;
    }
    if (o->serialization == DANCE_JWS_FLATTENED) {
        cJSON *doc = cJSON_CreateObject();
        char *text = NULL;
        if (doc != NULL && cJSON_AddStringToObject(doc, "protected", h64) != NULL
            && cJSON_AddStringToObject(doc, "payload", p64) != NULL
            && cJSON_AddStringToObject(doc, "signature", s64) != NULL)
            text = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        if (text == NULL) {
            dance_set_err(err, errlen, "out of memory");
            goto out;
        }
        n = strlen(text);
        res = malloc(n + 1);    /* callers free() it; cJSON may use its own hooks */
        if (res != NULL)
            memcpy(res, text, n + 1);
        cJSON_free(text);
    } else {
        n = h64len + 1 + p64len + 1 + s64len;
        res = malloc(n + 1);
        if (res != NULL) {
            memcpy(res, si, h64len + 1 + p64len);
            res[h64len + 1 + p64len] = '.';
            memcpy(res + h64len + 1 + p64len + 1, s64, s64len + 1);
        }
    }
    if (res == NULL) {
        dance_set_err(err, errlen, "out of memory");
        goto out;
    }
    *out = res;
    if (outlen != NULL)
        *outlen = n;
    rc = 0;
out:
    cJSON_free(hjson);
    free(h64);
    free(p64);
    free(s64);
    free(si);
    free(sig);
    return rc;
}

int dance_jws_sign_pem(const char *key_pem, const char *name, const char *alg,
                       const char *x5c_pem, const char *jti, const char *topic,
                       unsigned flags, const void *payload, size_t len,
                       char **out, size_t *outlen, char *err, size_t errlen)
{
    dance_jws_sign_opts so;
    char jtibuf[32];
    int rc = -1;

    *out = NULL;
    *outlen = 0;
    memset(&so, 0, sizeof(so));
    if (key_pem == NULL || name == NULL) {
        dance_set_err(err, errlen, "a key and a sender name are required");
        return -1;
    }
    if (jti != NULL && (flags & DANCE_JWS_SIGN_RANDOM_JTI)) {
        dance_set_err(err, errlen, "give a jti or ask for a random one, not both");
        return -1;
    }
    if (flags & DANCE_JWS_SIGN_RANDOM_JTI) {
        if (dance_jws_random_jti(jtibuf, sizeof(jtibuf)) != 0) {
            dance_set_err(err, errlen, "cannot make a random jti (RNG failure)");
            return -1;
        }
        jti = jtibuf;
    }
    so.key = dance_key_from_pem(key_pem, strlen(key_pem), err, errlen);
    if (so.key == NULL)
        goto out;
    if (x5c_pem != NULL
        && (so.x5c = dance_certs_from_pem(x5c_pem, strlen(x5c_pem), err, errlen)) == NULL)
        goto out;
    so.name = name;
    so.alg = alg;
    so.x5u = (flags & (DANCE_JWS_SIGN_X5U | DANCE_JWS_SIGN_FLATTENED)) != 0;
    so.iat = !(flags & DANCE_JWS_SIGN_NO_IAT);
    so.jti = jti;
    so.topic = topic;
    so.serialization = (flags & DANCE_JWS_SIGN_FLATTENED) ? DANCE_JWS_FLATTENED
                                                          : DANCE_JWS_COMPACT;
    rc = dance_jws_sign(&so, payload, len, out, outlen, err, errlen);
out:
    sk_X509_pop_free(so.x5c, X509_free);
    EVP_PKEY_free(so.key);
    return rc;
}

void dance_jws_output_free(char *out)
{
    free(out);
}
