/*
 * cose_sign.c - make COSE_Sign1 messages the verifier accepts: tag 18,
 * protected header {1: alg, 4: kid = sender name, 33: x5chain, 15: {6:
 * iat, 7: cti, "topic": topic}}, empty unprotected header, the payload
 * attached, external_aad empty.
 *
 * CBOR heads are written with libcbor's encoders (shortest forms); the
 * signature goes through the same EVP code as JWS signing, which already
 * gives ECDSA as raw r||s, the form COSE uses too (RFC 9053 2.1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cbor.h>

#include "cose_internal.h"
#include "jws_internal.h"

/* A growing output buffer; oom latches. */
typedef struct wbuf {
    unsigned char *b;
    size_t len, cap;
    bool oom;
} wbuf;

/* w_room - n more bytes of room; false (and oom) when there is none */
static bool w_room(wbuf *w, size_t n)
{
    unsigned char *nb;
    size_t cap;

    if (w->oom)
        return false;
    if (w->cap - w->len >= n)
        return true;
    cap = w->cap ? w->cap : 256;
    while (cap - w->len < n) {
        if (cap > SIZE_MAX / 2) {
            w->oom = true;
            return false;
        }
        cap *= 2;
    }
    if ((nb = realloc(w->b, cap)) == NULL) {
        w->oom = true;
        return false;
    }
    w->b = nb;
    w->cap = cap;
    return true;
}

/* The longest CBOR head is 9 bytes. */
#define HEAD_MAX 9

static void w_uint(wbuf *w, uint64_t v)
{
    if (w_room(w, HEAD_MAX))
        w->len += cbor_encode_uint(v, w->b + w->len, HEAD_MAX);
}

static void w_int(wbuf *w, int64_t v)
{
    if (v >= 0)
        w_uint(w, (uint64_t)v);
    else if (w_room(w, HEAD_MAX))
        w->len += cbor_encode_negint((uint64_t)(-1 - v), w->b + w->len, HEAD_MAX);
}

static void w_array(wbuf *w, size_t n)
{
    if (w_room(w, HEAD_MAX))
        w->len += cbor_encode_array_start(n, w->b + w->len, HEAD_MAX);
}

static void w_map(wbuf *w, size_t n)
{
    if (w_room(w, HEAD_MAX))
        w->len += cbor_encode_map_start(n, w->b + w->len, HEAD_MAX);
}

static void w_tag(wbuf *w, uint64_t t)
{
    if (w_room(w, HEAD_MAX))
        w->len += cbor_encode_tag(t, w->b + w->len, HEAD_MAX);
}

static void w_bytes(wbuf *w, const void *d, size_t n)
{
    if (!w_room(w, HEAD_MAX + n))
        return;
    w->len += cbor_encode_bytestring_start(n, w->b + w->len, HEAD_MAX);
    if (n > 0)
        memcpy(w->b + w->len, d, n);
    w->len += n;
}

static void w_text(wbuf *w, const char *s)
{
    size_t n = strlen(s);

    if (!w_room(w, HEAD_MAX + n))
        return;
    w->len += cbor_encode_string_start(n, w->b + w->len, HEAD_MAX);
    memcpy(w->b + w->len, s, n);
    w->len += n;
}

/* protected_header - the header map's encoding into w; 0, or -1 with a
 * reason */
static int protected_header(const dance_jws_sign_opts *o, dance_jws_alg alg,
                            const char *name, wbuf *w, char *err, size_t errlen)
{
    int nx5 = (o->x5c != NULL) ? sk_X509_num(o->x5c) : 0;
    size_t entries = 2 + (nx5 > 0) + (o->iat || o->jti || o->topic);
    size_t claims = (size_t)o->iat + (o->jti != NULL) + (o->topic != NULL);
    int i;

    /* labels in ascending order, as RFC 8949 4.2.1 sorts them */
    w_map(w, entries);
    w_int(w, DANCE_COSE_HDR_ALG);
    w_int(w, dance_cose_alg_id(alg));
    w_int(w, DANCE_COSE_HDR_KID);
    w_bytes(w, name, strlen(name));
    if (claims > 0) {
        w_int(w, DANCE_COSE_HDR_CWT_CLAIMS);
        w_map(w, claims);
        if (o->iat) {
            int64_t now = o->now ? o->now(o->now_ctx) : (int64_t)time(NULL);
            w_int(w, DANCE_COSE_CLAIM_IAT);
            w_int(w, now < 0 ? 0 : now);
        }
        if (o->jti != NULL) {
            w_int(w, DANCE_COSE_CLAIM_CTI);
            w_bytes(w, o->jti, strlen(o->jti));
        }
        if (o->topic != NULL) {
            w_text(w, DANCE_COSE_CLAIM_TOPIC);
            w_text(w, o->topic);
        }
    }
    if (nx5 > 0) {
        w_int(w, DANCE_COSE_HDR_X5CHAIN);
        if (nx5 > 1)
            w_array(w, (size_t)nx5);
        for (i = 0; i < nx5; i++) {
            unsigned char *der = NULL;
            int n = i2d_X509(sk_X509_value(o->x5c, i), &der);
            if (n <= 0) {
                dance_set_err(err, errlen, "cannot encode x5chain certificate %d", i);
                return -1;
            }
            w_bytes(w, der, (size_t)n);
            OPENSSL_free(der);
        }
    }
    if (w->oom) {
        dance_set_err(err, errlen, "out of memory building the header");
        return -1;
    }
    return 0;
}

int dance_cose_sign(const dance_jws_sign_opts *o, const void *payload, size_t len,
                    unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    char name[DANCE_NAME_MAX + 1];
    dance_jws_alg alg;
    wbuf prot = { 0 }, tbs = { 0 }, msg = { 0 };
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int rc = -1;

    *out = NULL;
    if (outlen != NULL)
        *outlen = 0;
    if (jws_sign_check_opts(o, &alg, name, err, errlen) != 0)
        return -1;
    if (dance_cose_alg_id(alg) == 0) {
        dance_set_err(err, errlen, "%s is not among the COSE algorithms of this profile "
                      "(ES256, ES384, ES512, EdDSA, PS256, RS256)", dance_jws_alg_name(alg));
        return -1;
    }
    if (o->x5u) {
        dance_set_err(err, errlen, "x5u has no COSE counterpart here: the sender is the "
                      "kid");
        return -1;
    }
    if (o->jti != NULL && strlen(o->jti) > DANCE_COSE_CTI_MAX) {
        dance_set_err(err, errlen, "jti must be 1 to %d octets in a COSE message (cti)",
                      DANCE_COSE_CTI_MAX);
        return -1;
    }
    if (payload == NULL && len > 0) {
        dance_set_err(err, errlen, "no payload");
        return -1;
    }
    if (protected_header(o, alg, name, &prot, err, errlen) != 0)
        goto out;
    /* Sig_structure (RFC 9052 4.4) */
    w_array(&tbs, 4);
    w_text(&tbs, "Signature1");
    w_bytes(&tbs, prot.b, prot.len);
    w_bytes(&tbs, NULL, 0);
    w_bytes(&tbs, payload, len);
    if (tbs.oom) {
        dance_set_err(err, errlen, "out of memory");
        goto out;
    }
    if (jws_sig_create(alg, o->key, tbs.b, tbs.len, &sig, &siglen, err, errlen) != 0)
        goto out;
    w_tag(&msg, DANCE_COSE_TAG_SIGN1);
    w_array(&msg, 4);
    w_bytes(&msg, prot.b, prot.len);
    w_map(&msg, 0);
    w_bytes(&msg, payload, len);
    w_bytes(&msg, sig, siglen);
    if (msg.oom) {
        dance_set_err(err, errlen, "out of memory");
        goto out;
    }
    *out = msg.b;
    msg.b = NULL;
    if (outlen != NULL)
        *outlen = msg.len;
    rc = 0;
out:
    free(prot.b);
    free(tbs.b);
    free(msg.b);
    free(sig);
    return rc;
}

void dance_cose_output_free(unsigned char *out)
{
    free(out);
}
