/*
 * jwe.c - JWE messages to a DNS-named recipient (see dance/jwe.h): read
 * and check the serializations and the protected header, unwrap the
 * content encryption key (CEK) with the recipient's private key, decrypt;
 * and the reverse. The primitives are in jwe_crypto.c (why not cjose:
 * jwe_internal.h); base64url and the strict JSON reader are the JWS
 * parser's (jws_alg.c, jws_parse.c), the keys of TLSA records the JWS
 * verifier's (jws_record_key).
 *
 * Decryption runs in two halves. The first looks only at the message and
 * at the key's type: every refusal there has its own status and reason,
 * and none depends on the private key's secret. The second uses the key;
 * from its first step on, every failure is DANCE_DECRYPT_FAILED "decryption
 * failed", and an encrypted key that RSA-OAEP or AES key wrap refuses (or
 * that unwraps to the wrong length) is replaced by a random CEK so that it
 * fails where a bad tag fails (RFC 7516 11.5, RFC 3218).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "dance/error.h"
#include "dance/jwe.h"
#include "dance/provision.h"
#include "jwe_internal.h"
#include "jws_internal.h"
#include "sender.h"

#define JWE_HEADER_MEMBERS_MAX 64
#define JWE_CEK_MAX JWE_CBC_KEY_LEN
#define JWE_PARTY_INFO_MAX 1024         /* apu, apv: a few names' worth */

static const char *const alg_names[DANCE_JWE_ALG_COUNT] = {
    "RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A256KW"
};
static const char *const enc_names[DANCE_JWE_ENC_COUNT] = {
    "A256GCM", "A256CBC-HS512"
};

const char *dance_jwe_alg_name(dance_jwe_alg alg)
{
    return (unsigned)alg < DANCE_JWE_ALG_COUNT ? alg_names[alg] : "unknown";
}

const char *dance_jwe_enc_name(dance_jwe_enc enc)
{
    return (unsigned)enc < DANCE_JWE_ENC_COUNT ? enc_names[enc] : "unknown";
}

int dance_jwe_alg_parse(const char *name, dance_jwe_alg *out)
{
    for (int i = 0; name != NULL && i < DANCE_JWE_ALG_COUNT; i++)
        if (strcmp(name, alg_names[i]) == 0) {
            *out = (dance_jwe_alg)i;
            return 0;
        }
    return -1;
}

int dance_jwe_enc_parse(const char *name, dance_jwe_enc *out)
{
    for (int i = 0; name != NULL && i < DANCE_JWE_ENC_COUNT; i++)
        if (strcmp(name, enc_names[i]) == 0) {
            *out = (dance_jwe_enc)i;
            return 0;
        }
    return -1;
}

static size_t cek_len(dance_jwe_enc enc)
{
    return enc == DANCE_JWE_A256GCM ? JWE_GCM_KEY_LEN : JWE_CBC_KEY_LEN;
}

static size_t iv_len(dance_jwe_enc enc)
{
    return enc == DANCE_JWE_A256GCM ? JWE_GCM_IV_LEN : JWE_CBC_IV_LEN;
}

static size_t tag_len(dance_jwe_enc enc)
{
    return enc == DANCE_JWE_A256GCM ? JWE_GCM_TAG_LEN : JWE_CBC_TAG_LEN;
}

/* ----------------------------------------------------------------- keys */

typedef enum key_kind { KEY_OTHER, KEY_RSA, KEY_P256, KEY_P384 } key_kind;

/* kind_of - what a key is, for the algorithms here; RSA below 2048 bits
 * counts as KEY_OTHER (and *why says so) */
static key_kind kind_of(EVP_PKEY *key, const char **why)
{
    char group[64];
    size_t glen = 0;
    int nid;

    *why = "an unsupported key type (RSA >= 2048 bits, EC P-256 or P-384 needed)";
    if (EVP_PKEY_is_a(key, "RSA")) {
        if (EVP_PKEY_get_bits(key) >= JWS_RSA_MIN_BITS)
            return KEY_RSA;
        *why = "an RSA key under 2048 bits";
        return KEY_OTHER;
    }
    if (!EVP_PKEY_is_a(key, "EC")
        || EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                          sizeof(group), &glen) != 1) {
        ERR_clear_error();
        return KEY_OTHER;
    }
    nid = OBJ_sn2nid(group);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(group);
    if (nid == NID_X9_62_prime256v1)
        return KEY_P256;
    if (nid == NID_secp384r1)
        return KEY_P384;
    *why = "an EC key on a curve other than P-256 or P-384";
    return KEY_OTHER;
}

static const char *curve_name(key_kind k)
{
    return k == KEY_P256 ? "P-256" : "P-384";
}

static size_t coord_len(key_kind k)
{
    return k == KEY_P256 ? 32 : 48;
}

/* has_private - whether key holds a private half (RSA d, EC priv) */
static bool has_private(EVP_PKEY *key)
{
    BIGNUM *bn = NULL;
    int ok = EVP_PKEY_get_bn_param(key, EVP_PKEY_is_a(key, "RSA")
                                   ? OSSL_PKEY_PARAM_RSA_D : OSSL_PKEY_PARAM_PRIV_KEY,
                                   &bn);
    BN_clear_free(bn);
    ERR_clear_error();
    return ok == 1;
}

/* ------------------------------------------------------------ the parts */

typedef struct jwe_msg {
    char *prot;                 /* the protected header's base64url text: the AAD */
    size_t prot_len;
    unsigned char *ek, *iv, *ct, *tag;
    size_t ek_len, iv_len, ct_len, tag_len;
    dance_jwe_alg alg;
    dance_jwe_enc enc;
    key_kind epk_kind;
    EVP_PKEY *epk;              /* ECDH-ES*: the sender's ephemeral key */
    unsigned char *apu, *apv;
    size_t apu_len, apv_len;
} jwe_msg;

static void msg_free(jwe_msg *m)
{
    free(m->prot);
    free(m->ek);
    free(m->iv);
    free(m->ct);
    free(m->tag);
    free(m->apu);
    free(m->apv);
    EVP_PKEY_free(m->epk);
}

static dance_status refuse(dance_jwe_result *res, dance_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static dance_status refuse(dance_jwe_result *res, dance_status st, const char *fmt, ...)
{
    va_list ap;

    res->status = st;
    va_start(ap, fmt);
    dance_vset_err(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    return st;
}

/* decode - one base64url part; an empty part is allowed only where the
 * caller says so */
static dance_status decode(dance_jwe_result *res, const char *what, const char *s,
                           size_t len, bool may_be_empty, unsigned char **out,
                           size_t *outlen)
{
    if (len == 0 && !may_be_empty)
        return refuse(res, DANCE_MALFORMED, "the JWE's %s is empty", what);
    if (jws_b64url_decode(s, len, out, outlen) != 0) {
        if (*out == NULL && jws_b64url_valid(s, len))
            return refuse(res, DANCE_INTERNAL, "out of memory");
        return refuse(res, DANCE_MALFORMED, "the JWE's %s is not base64url", what);
    }
    return DANCE_OK;
}

/* take_parts - the five parts, as text, into m */
static dance_status take_parts(dance_jwe_result *res, jwe_msg *m,
                               const char *prot, size_t prot_len,
                               const char *ek, size_t ek_len,
                               const char *iv, size_t ivl,
                               const char *ct, size_t ctl,
                               const char *tag, size_t tagl)
{
    dance_status st;

    if (prot_len == 0)
        return refuse(res, DANCE_MALFORMED, "the JWE has no protected header");
    if (!jws_b64url_valid(prot, prot_len))
        return refuse(res, DANCE_MALFORMED, "the JWE's protected header is not base64url");
    if ((m->prot = malloc(prot_len + 1)) == NULL)
        return refuse(res, DANCE_INTERNAL, "out of memory");
    memcpy(m->prot, prot, prot_len);
    m->prot[prot_len] = '\0';
    m->prot_len = prot_len;
    if ((st = decode(res, "encrypted key", ek, ek_len, true, &m->ek, &m->ek_len))
        || (st = decode(res, "iv", iv, ivl, false, &m->iv, &m->iv_len))
        || (st = decode(res, "ciphertext", ct, ctl, true, &m->ct, &m->ct_len))
        || (st = decode(res, "tag", tag, tagl, false, &m->tag, &m->tag_len)))
        return st;
    return DANCE_OK;
}

/* parse_compact - BASE64URL(protected).(encrypted key).(iv).(ciphertext).(tag) */
static dance_status parse_compact(dance_jwe_result *res, jwe_msg *m, const char *s,
                                  size_t len)
{
    const char *dot[4], *p = s, *end = s + len;

    for (int i = 0; i < 4; i++) {
        dot[i] = memchr(p, '.', (size_t)(end - p));
        if (dot[i] == NULL)
            return refuse(res, DANCE_MALFORMED, "not a JWE: the compact form has five "
                          "base64url parts separated by dots");
        p = dot[i] + 1;
    }
    if (memchr(p, '.', (size_t)(end - p)) != NULL)
        return refuse(res, DANCE_MALFORMED, "not a JWE: the compact form has five "
                      "base64url parts separated by dots");
    res->serialization = DANCE_JWS_COMPACT;
    return take_parts(res, m, s, (size_t)(dot[0] - s),
                      dot[0] + 1, (size_t)(dot[1] - dot[0] - 1),
                      dot[1] + 1, (size_t)(dot[2] - dot[1] - 1),
                      dot[2] + 1, (size_t)(dot[3] - dot[2] - 1),
                      dot[3] + 1, (size_t)(end - dot[3] - 1));
}

/* string_member - name's value when it is a string; *bad when present but
 * not one */
static const char *string_member(const cJSON *obj, const char *name, bool *bad)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (it == NULL)
        return NULL;
    if (!cJSON_IsString(it)) {
        *bad = true;
        return NULL;
    }
    return it->valuestring;
}

static size_t slen(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

/* empty_or_absent - obj has no member name, or an empty object there (a
 * header that carries nothing, as some writers leave) */
static bool empty_or_absent(const cJSON *obj, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

    return it == NULL || (cJSON_IsObject(it) && it->child == NULL);
}

/* parse_json - flattened, or general with one recipient; every parameter
 * in the protected header (an unprotected or per-recipient header may be
 * present only when empty) */
static dance_status parse_json(dance_jwe_result *res, jwe_msg *m, const char *s,
                               size_t len)
{
    cJSON *doc = jws_json_parse(s, len);
    const cJSON *recips, *r;
    const char *prot, *ek, *iv, *ct, *tag;
    bool bad = false;
    dance_status st;

    res->serialization = DANCE_JWS_FLATTENED;
    if (doc == NULL)
        return refuse(res, DANCE_MALFORMED, "not a JWE: starts with '{' but is not "
                      "valid JSON");
    if (!jws_json_object_unique(doc, JWE_HEADER_MEMBERS_MAX)) {
        st = refuse(res, DANCE_MALFORMED, "JWE JSON is not an object with unique "
                    "member names");
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(doc, "ciphertext") == NULL) {
        st = refuse(res, DANCE_MALFORMED, "not a JWE: JSON without \"ciphertext\"%s",
                    cJSON_GetObjectItemCaseSensitive(doc, "payload") ? " (a JWS?)" : "");
        goto out;
    }
    /* every parameter must be integrity protected: the DANCE prototype
     * writes them all in the protected header, and a recipient that read
     * alg or enc from an unprotected place could be steered */
    if (!empty_or_absent(doc, "unprotected") || !empty_or_absent(doc, "header")) {
        st = refuse(res, DANCE_UNSUPPORTED, "JWE header parameters outside the "
                    "protected header (\"unprotected\", \"header\") are not accepted");
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(doc, "aad") != NULL) {
        st = refuse(res, DANCE_UNSUPPORTED, "JWE additional authenticated data "
                    "(\"aad\") is not supported");
        goto out;
    }
    ek = string_member(doc, "encrypted_key", &bad);
    recips = cJSON_GetObjectItemCaseSensitive(doc, "recipients");
    if (recips != NULL) {
        if (!cJSON_IsArray(recips) || cJSON_GetArraySize(recips) < 1) {
            st = refuse(res, DANCE_MALFORMED, "JWE \"recipients\" is not a non-empty "
                        "array");
            goto out;
        }
        if (cJSON_GetArraySize(recips) > 1) {
            st = refuse(res, DANCE_UNSUPPORTED, "JWE for %d recipients: only one "
                        "recipient is supported", cJSON_GetArraySize(recips));
            goto out;
        }
        r = cJSON_GetArrayItem(recips, 0);
        if (ek != NULL || bad || !jws_json_object_unique(r, JWE_HEADER_MEMBERS_MAX)) {
            st = refuse(res, DANCE_MALFORMED, "JWE recipient is not an object, or "
                        "encrypted_key is both in it and outside");
            goto out;
        }
        if (!empty_or_absent(r, "header")) {
            st = refuse(res, DANCE_UNSUPPORTED, "JWE per-recipient \"header\" is not "
                        "accepted (parameters belong in the protected header)");
            goto out;
        }
        ek = string_member(r, "encrypted_key", &bad);
    }
    prot = string_member(doc, "protected", &bad);
    iv = string_member(doc, "iv", &bad);
    ct = string_member(doc, "ciphertext", &bad);
    tag = string_member(doc, "tag", &bad);
    if (bad || prot == NULL || iv == NULL || ct == NULL || tag == NULL) {
        st = refuse(res, DANCE_MALFORMED, "JWE JSON needs \"protected\", \"iv\", "
                    "\"ciphertext\" and \"tag\" strings (and \"encrypted_key\" a "
                    "string when present)");
        goto out;
    }
    st = take_parts(res, m, prot, slen(prot), ek ? ek : "", slen(ek), iv, slen(iv),
                    ct, slen(ct), tag, slen(tag));
out:
    cJSON_Delete(doc);
    return st;
}

/* parse_epk - the ephemeral public key of ECDH-ES (RFC 7518 4.6.1.1): an
 * EC JWK on P-256 or P-384 with the coordinates at their full length */
static dance_status parse_epk(dance_jwe_result *res, jwe_msg *m, const cJSON *epk)
{
    unsigned char pt[1 + 2 * 48], *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0, cl;
    const char *kty, *crv, *xs, *ys;
    bool bad = false;
    dance_status st = DANCE_MALFORMED;

    if (!jws_json_object_unique(epk, 16))
        return refuse(res, DANCE_MALFORMED, "epk is not a JSON object with unique "
                      "member names");
    kty = string_member(epk, "kty", &bad);
    crv = string_member(epk, "crv", &bad);
    xs = string_member(epk, "x", &bad);
    ys = string_member(epk, "y", &bad);
    if (bad || kty == NULL || strcmp(kty, "EC") != 0 || crv == NULL || xs == NULL
        || ys == NULL)
        return refuse(res, DANCE_MALFORMED, "epk is not an EC public key (kty EC, "
                      "crv, x, y)");
    if (strcmp(crv, "P-256") == 0)
        m->epk_kind = KEY_P256;
    else if (strcmp(crv, "P-384") == 0)
        m->epk_kind = KEY_P384;
    else
        return refuse(res, DANCE_UNSUPPORTED, "epk curve \"%.20s\" is not supported "
                      "(P-256, P-384)", crv);
    cl = coord_len(m->epk_kind);
    if (jws_b64url_decode(xs, strlen(xs), &x, &xl) != 0
        || jws_b64url_decode(ys, strlen(ys), &y, &yl) != 0 || xl != cl || yl != cl) {
        refuse(res, DANCE_MALFORMED, "epk x and y are not %zu-byte base64url "
               "coordinates", cl);
        goto out;
    }
    pt[0] = 0x04;
    memcpy(pt + 1, x, cl);
    memcpy(pt + 1 + cl, y, cl);
    m->epk = jws_ec_point_key(curve_name(m->epk_kind), pt, 1 + 2 * cl);
    if (m->epk == NULL) {
        refuse(res, DANCE_MALFORMED, "epk is not a point on %s",
               curve_name(m->epk_kind));
        goto out;
    }
    st = DANCE_OK;
out:
    free(x);
    free(y);
    return st;
}

/* party_info - apu or apv: absent, or base64url of at most
 * JWE_PARTY_INFO_MAX bytes */
static dance_status party_info(dance_jwe_result *res, const cJSON *hdr,
                               const char *name, unsigned char **out, size_t *outlen)
{
    bool bad = false;
    const char *s = string_member(hdr, name, &bad);

    if (bad)
        return refuse(res, DANCE_MALFORMED, "%s is not a string", name);
    if (s == NULL)
        return DANCE_OK;
    if (strlen(s) > JWE_PARTY_INFO_MAX * 4 / 3 + 4
        || jws_b64url_decode(s, strlen(s), out, outlen) != 0)
        return refuse(res, DANCE_MALFORMED, "%s is not base64url (of at most %d "
                      "bytes)", name, JWE_PARTY_INFO_MAX);
    return DANCE_OK;
}

bool dance_jwe_type_is_jwe(const char *t)
{
    if (t == NULL)
        return false;
    if (strncasecmp(t, "application/", 12) == 0)
        t += 12;
    return strcasecmp(t, "jwe") == 0;
}

bool dance_jws_carries_jwe(const void *data, size_t len)
{
    dance_jws *jws = NULL;
    char err[DANCE_REASON_MAX];
    bool yes;

    if (data == NULL || dance_jws_parse(data, len, 0, &jws, NULL, err, sizeof(err))
        != DANCE_OK)
        return false;
    yes = dance_jwe_type_is_jwe(dance_jws_get_header(jws)->cty);
    dance_jws_free(jws);
    return yes;
}

dance_status dance_jwe_decrypt_pem(const char *key_pem, const void *data, size_t len,
                                   size_t max_size, unsigned char **out, size_t *outlen,
                                   char *reason, size_t reasonlen)
{
    dance_jwe_result res;
    dance_status st;
    EVP_PKEY *key;

    *out = NULL;
    *outlen = 0;
    if (key_pem == NULL || data == NULL) {
        dance_set_err(reason, reasonlen, "a private key and a message are required");
        return DANCE_INTERNAL;
    }
    key = dance_key_from_pem(key_pem, strlen(key_pem), reason, reasonlen);
    if (key == NULL)
        return DANCE_INTERNAL;
    memset(&res, 0, sizeof(res));
    st = dance_jwe_decrypt(data, len, max_size, key, &res);
    EVP_PKEY_free(key);
    if (st == DANCE_OK) {
        *out = res.plaintext;           /* handed over, NUL-terminated */
        *outlen = res.plaintext_len;
        res.plaintext = NULL;
        res.plaintext_len = 0;
    }
    if (reason != NULL && reasonlen > 0)    /* res.reason is escaped already */
        snprintf(reason, reasonlen, "%s", res.reason);
    dance_jwe_result_clear(&res);
    return st;
}

void dance_jwe_output_free(unsigned char *out, size_t len)
{
    if (out != NULL)
        OPENSSL_cleanse(out, len);
    free(out);
}

/* parse_header - the protected header: refusals (zip, crit, alg, enc, cty
 * JWE), the recipient's name, and epk/apu/apv for ECDH-ES */
static dance_status parse_header(dance_jwe_result *res, jwe_msg *m)
{
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    cJSON *hdr = NULL;
    const cJSON *epk;
    const char *alg, *enc, *cty, *x5u;
    bool bad = false;
    dance_status st;

    if (jws_b64url_decode(m->prot, m->prot_len, &raw, &rawlen) != 0)
        return refuse(res, DANCE_INTERNAL, "out of memory");
    hdr = jws_json_parse((const char *)raw, rawlen);
    if (hdr == NULL || !jws_json_object_unique(hdr, JWE_HEADER_MEMBERS_MAX)) {
        st = refuse(res, DANCE_MALFORMED, "the JWE's protected header is not a JSON "
                    "object with unique member names");
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(hdr, "zip") != NULL) {
        st = refuse(res, DANCE_UNSUPPORTED, "zip is refused: compressing before "
                    "encrypting lets the ciphertext's length reveal the content");
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(hdr, "crit") != NULL) {
        st = refuse(res, DANCE_UNSUPPORTED, "crit is refused: no JWE header "
                    "extension is understood here");
        goto out;
    }
    alg = string_member(hdr, "alg", &bad);
    enc = string_member(hdr, "enc", &bad);
    cty = string_member(hdr, "cty", &bad);
    x5u = string_member(hdr, "x5u", &bad);
    if (bad) {
        st = refuse(res, DANCE_MALFORMED, "alg, enc, cty and x5u must be strings");
        goto out;
    }
    if (alg == NULL || dance_jwe_alg_parse(alg, &m->alg) != 0) {
        st = refuse(res, DANCE_BAD_ALG, alg ? "alg \"%.40s\" is not supported "
                    "(RSA-OAEP-256, ECDH-ES, ECDH-ES+A256KW)" : "%sthe JWE has no alg",
                    alg ? alg : "");
        goto out;
    }
    if (enc == NULL || dance_jwe_enc_parse(enc, &m->enc) != 0) {
        st = refuse(res, DANCE_BAD_ALG, enc ? "enc \"%.40s\" is not supported "
                    "(A256GCM, A256CBC-HS512)" : "%sthe JWE has no enc", enc ? enc : "");
        goto out;
    }
    res->alg = m->alg;
    res->enc = m->enc;
    res->has_alg = true;
    if (x5u != NULL && dance_dns_uri_name(x5u, res->recipient, sizeof(res->recipient),
                                          NULL, 0) != 0)
        res->recipient[0] = '\0';
    if (cty != NULL && dance_jwe_type_is_jwe(cty)) {
        st = refuse(res, DANCE_UNSUPPORTED, "cty \"%.20s\": a JWE inside a JWE "
                    "(nested encryption) is refused", cty);
        goto out;
    }
    if (m->alg != DANCE_JWE_RSA_OAEP_256) {
        epk = cJSON_GetObjectItemCaseSensitive(hdr, "epk");
        if (epk == NULL) {
            st = refuse(res, DANCE_MALFORMED, "%s needs epk in the protected header",
                        alg);
            goto out;
        }
        if ((st = parse_epk(res, m, epk)) != DANCE_OK
            || (st = party_info(res, hdr, "apu", &m->apu, &m->apu_len)) != DANCE_OK
            || (st = party_info(res, hdr, "apv", &m->apv, &m->apv_len)) != DANCE_OK)
            goto out;
    }
    st = DANCE_OK;
out:
    cJSON_Delete(hdr);
    free(raw);
    return st;
}

/* shape_checks - what the algorithms fix about the parts' sizes, and
 * whether the key fits: all visible without the key's secret */
static dance_status shape_checks(dance_jwe_result *res, const jwe_msg *m, EVP_PKEY *key)
{
    const char *why;
    key_kind k = kind_of(key, &why);

    if (m->iv_len != iv_len(m->enc) || m->tag_len != tag_len(m->enc))
        return refuse(res, DANCE_MALFORMED, "%s needs a %zu-byte iv and a %zu-byte "
                      "tag, not %zu and %zu", dance_jwe_enc_name(m->enc),
                      iv_len(m->enc), tag_len(m->enc), m->iv_len, m->tag_len);
    if (m->alg == DANCE_JWE_ECDH_ES && m->ek_len != 0)
        return refuse(res, DANCE_MALFORMED, "ECDH-ES (direct key agreement) needs an "
                      "empty encrypted key");
    if (m->alg != DANCE_JWE_ECDH_ES && m->ek_len == 0)
        return refuse(res, DANCE_MALFORMED, "%s needs an encrypted key",
                      dance_jwe_alg_name(m->alg));
    if (m->alg == DANCE_JWE_RSA_OAEP_256 && k != KEY_RSA)
        return refuse(res, DANCE_KEY_MISMATCH, "RSA-OAEP-256 needs an RSA private key "
                      "of at least 2048 bits; the key is %s",
                      k == KEY_OTHER ? why : "an EC key");
    if (m->alg != DANCE_JWE_RSA_OAEP_256 && k != m->epk_kind)
        return refuse(res, DANCE_KEY_MISMATCH, "%s with an epk on %s needs an EC "
                      "private key on %s; the key is %s", dance_jwe_alg_name(m->alg),
                      curve_name(m->epk_kind), curve_name(m->epk_kind),
                      k == KEY_RSA ? "an RSA key" : k == KEY_OTHER ? why
                      : k == KEY_P256 ? "on P-256" : "on P-384");
    if (!has_private(key))
        return refuse(res, DANCE_KEY_MISMATCH, "the key is a public key: decryption "
                      "needs the recipient's private key");
    return DANCE_OK;
}

/* unwrap_cek - the CEK into cek (cek_len(enc) bytes), never failing for a
 * bad encrypted key: a random CEK then (see the top of this file). -1 only
 * when the RNG fails. */
static int unwrap_cek(const jwe_msg *m, EVP_PKEY *key, unsigned char *cek)
{
    size_t want = cek_len(m->enc), zlen = 0, outlen = 0;
    unsigned char *z = NULL, *out = NULL, kek[32];
    bool ok = false;

    if (RAND_bytes(cek, (int)want) != 1)
        return -1;
    if (m->alg == DANCE_JWE_RSA_OAEP_256) {
        if (jwe_rsa_oaep256_decrypt(key, m->ek, m->ek_len, &out, &outlen) == 0
            && outlen == want) {
            memcpy(cek, out, want);
        }
        if (out != NULL) {
            OPENSSL_cleanse(out, outlen);
            free(out);
        }
        return 0;
    }
    if (jwe_ecdh(key, m->epk, &z, &zlen) != 0)
        return 0;
    if (m->alg == DANCE_JWE_ECDH_ES) {
        unsigned char derived[JWE_CEK_MAX];
        if (jwe_concat_kdf(z, zlen, dance_jwe_enc_name(m->enc), m->apu, m->apu_len,
                           m->apv, m->apv_len, derived, want) == 0)
            memcpy(cek, derived, want);
        OPENSSL_cleanse(derived, sizeof(derived));
    } else {
        unsigned char unwrapped[JWE_CEK_MAX];
        ok = jwe_concat_kdf(z, zlen, "ECDH-ES+A256KW", m->apu, m->apu_len, m->apv,
                            m->apv_len, kek, sizeof(kek)) == 0
             && m->ek_len == want + JWE_KW_OVERHEAD
             && jwe_aes_kw_unwrap(kek, m->ek, m->ek_len, unwrapped) == 0;
        if (ok)
            memcpy(cek, unwrapped, want);
        OPENSSL_cleanse(unwrapped, sizeof(unwrapped));
        OPENSSL_cleanse(kek, sizeof(kek));
    }
    OPENSSL_cleanse(z, zlen);
    free(z);
    return 0;
}

/* may_name_ciphertext - whether the JSON text s[0..n) could have a member
 * named "ciphertext": it holds those letters, or an escape that could
 * spell them. Lets dance_jwe_is_jwe skip parsing a JSON JWS (the plugin
 * asks on the broker thread for every message) without a wrong answer. */
static bool may_name_ciphertext(const char *s, size_t n)
{
    static const char word[] = "ciphertext";
    const size_t wlen = sizeof(word) - 1;

    if (memchr(s, '\\', n) != NULL)
        return true;
    for (const char *p = s; (size_t)(p - s) + wlen <= n; p++) {
        p = memchr(p, 'c', n - (size_t)(p - s) - wlen + 1);
        if (p == NULL)
            return false;
        if (memcmp(p, word, wlen) == 0)
            return true;
    }
    return false;
}

bool dance_jwe_is_jwe(const void *data, size_t len)
{
    const char *s = data;
    size_t b = 0, e = len, dots = 0;
    cJSON *doc;
    bool yes;

    if (s == NULL)
        return false;
    while (b < e && isspace((unsigned char)s[b]))
        b++;
    while (e > b && isspace((unsigned char)s[e - 1]))
        e--;
    if (b == e)
        return false;
    if (s[b] == '{') {
        if (!may_name_ciphertext(s + b, e - b))
            return false;
        doc = jws_json_parse(s + b, e - b);
        yes = cJSON_IsObject(doc)
              && cJSON_GetObjectItemCaseSensitive(doc, "ciphertext") != NULL;
        cJSON_Delete(doc);
        return yes;
    }
    for (size_t i = b; i < e; i++) {
        if (s[i] == '.')
            dots++;
        else if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return false;
    }
    return dots == 4;
}

void dance_jwe_result_clear(dance_jwe_result *res)
{
    if (res == NULL)
        return;
    if (res->plaintext != NULL) {
        OPENSSL_cleanse(res->plaintext, res->plaintext_len);
        free(res->plaintext);
    }
    memset(res, 0, sizeof(*res));
    res->status = DANCE_INTERNAL;
}

dance_status dance_jwe_decrypt(const void *data, size_t len, size_t max_size,
                               EVP_PKEY *key, dance_jwe_result *res)
{
    const char *s = data;
    unsigned char cek[JWE_CEK_MAX], *pt = NULL;
    size_t b = 0, e = len, ptlen = 0;
    jwe_msg m;
    dance_status st;
    int rc;

    dance_jwe_result_clear(res);
    memset(&m, 0, sizeof(m));
    if (max_size == 0)
        max_size = DANCE_JWE_MAX_SIZE_DEFAULT;
    if (len > max_size)
        return refuse(res, DANCE_TOO_LARGE, "message of %zu bytes is over the %zu-byte "
                      "limit", len, max_size);
    if (key == NULL)
        return refuse(res, DANCE_INTERNAL, "no key to decrypt with");
    while (s != NULL && b < e && isspace((unsigned char)s[b]))
        b++;
    while (s != NULL && e > b && isspace((unsigned char)s[e - 1]))
        e--;
    if (s == NULL || b == e)
        return refuse(res, DANCE_MALFORMED, "empty message");
    st = s[b] == '{' ? parse_json(res, &m, s + b, e - b)
                     : parse_compact(res, &m, s + b, e - b);
    if (st == DANCE_OK)
        st = parse_header(res, &m);
    if (st == DANCE_OK)
        st = shape_checks(res, &m, key);
    if (st != DANCE_OK)
        goto out;

    /* from here on the private key is used: one status, one reason */
    if (unwrap_cek(&m, key, cek) != 0) {
        st = refuse(res, DANCE_INTERNAL, "random number generator failure");
        goto out;
    }
    if ((pt = malloc(m.ct_len + 1)) == NULL) {
        OPENSSL_cleanse(cek, sizeof(cek));
        st = refuse(res, DANCE_INTERNAL, "out of memory");
        goto out;
    }
    if (m.enc == DANCE_JWE_A256GCM)
        rc = jwe_gcm_decrypt(cek, m.iv, (const unsigned char *)m.prot, m.prot_len,
                             m.ct, m.ct_len, m.tag, pt, &ptlen);
    else
        rc = jwe_cbc_hs512_decrypt(cek, m.iv, (const unsigned char *)m.prot, m.prot_len,
                                   m.ct, m.ct_len, m.tag, pt, &ptlen);
    OPENSSL_cleanse(cek, sizeof(cek));
    if (rc != 0) {
        st = refuse(res, DANCE_DECRYPT_FAILED, DANCE_JWE_DECRYPT_FAILED_REASON);
        goto out;
    }
    pt[ptlen] = '\0';
    /* authentic, but a second layer of encryption is not handled: refuse
     * it whole rather than hand out ciphertext as if it were the content */
    if (dance_jwe_is_jwe(pt, ptlen)) {
        st = refuse(res, DANCE_UNSUPPORTED, "the plaintext is itself a JWE: nested "
                    "encryption is refused");
        goto out;
    }
    res->plaintext = pt;
    res->plaintext_len = ptlen;
    pt = NULL;
    res->status = DANCE_OK;
    res->reason[0] = '\0';
    st = DANCE_OK;
out:
    if (pt != NULL) {
        OPENSSL_cleanse(pt, m.ct_len + 1);
        free(pt);
    }
    msg_free(&m);
    return st;
}

/* ------------------------------------------------------------- encrypt */

/* epk_json - the public half of an ephemeral EC key as a JWK object */
static cJSON *epk_json(EVP_PKEY *eph, key_kind k)
{
    unsigned char pt[1 + 2 * 48];
    size_t len = 0, cl = coord_len(k);
    char *x = NULL, *y = NULL;
    cJSON *o = NULL;

    if (EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
                                        sizeof(pt), &len) != 1
        || len != 1 + 2 * cl || pt[0] != 0x04) {
        ERR_clear_error();
        return NULL;
    }
    x = jws_b64url_encode(pt + 1, cl, NULL);
    y = jws_b64url_encode(pt + 1 + cl, cl, NULL);
    if (x != NULL && y != NULL && (o = cJSON_CreateObject()) != NULL
        && (cJSON_AddStringToObject(o, "kty", "EC") == NULL
            || cJSON_AddStringToObject(o, "crv", curve_name(k)) == NULL
            || cJSON_AddStringToObject(o, "x", x) == NULL
            || cJSON_AddStringToObject(o, "y", y) == NULL)) {
        cJSON_Delete(o);
        o = NULL;
    }
    free(x);
    free(y);
    return o;
}

/* assemble - the parts into one string: compact or flattened JSON */
static char *assemble(bool json, const char *prot, const char *ek, const char *iv,
                      const char *ct, const char *tag, size_t *outlen)
{
    size_t n = strlen(prot) + strlen(ek) + strlen(iv) + strlen(ct) + strlen(tag) + 128;
    char *out = malloc(n);
    int w;

    if (out == NULL)
        return NULL;
    if (!json)
        w = snprintf(out, n, "%s.%s.%s.%s.%s", prot, ek, iv, ct, tag);
    else if (ek[0] != '\0')
        w = snprintf(out, n, "{\"protected\":\"%s\",\"encrypted_key\":\"%s\",\"iv\":"
                     "\"%s\",\"ciphertext\":\"%s\",\"tag\":\"%s\"}", prot, ek, iv, ct, tag);
    else
        w = snprintf(out, n, "{\"protected\":\"%s\",\"iv\":\"%s\",\"ciphertext\":"
                     "\"%s\",\"tag\":\"%s\"}", prot, iv, ct, tag);
    if (w < 0 || (size_t)w >= n) {
        free(out);
        return NULL;
    }
    *outlen = (size_t)w;
    return out;
}

/* enc_choose - alg and enc for key from the options, or -1 with a reason */
static int enc_choose(const dance_jwe_encrypt_opts *o, key_kind k, const char *why,
                      dance_jwe_alg *alg, dance_jwe_enc *enc, char *err, size_t errlen)
{
    if (k == KEY_OTHER) {
        dance_set_err(err, errlen, "cannot encrypt to %s", why);
        return -1;
    }
    if (o->alg == NULL)
        *alg = k == KEY_RSA ? DANCE_JWE_RSA_OAEP_256 : DANCE_JWE_ECDH_ES;
    else if (dance_jwe_alg_parse(o->alg, alg) != 0) {
        dance_set_err(err, errlen, "unknown alg '%.40s' (RSA-OAEP-256, ECDH-ES, "
                      "ECDH-ES+A256KW)", o->alg);
        return -1;
    }
    if (o->enc == NULL)
        *enc = DANCE_JWE_A256GCM;
    else if (dance_jwe_enc_parse(o->enc, enc) != 0) {
        dance_set_err(err, errlen, "unknown enc '%.40s' (A256GCM, A256CBC-HS512)",
                      o->enc);
        return -1;
    }
    if ((*alg == DANCE_JWE_RSA_OAEP_256) != (k == KEY_RSA)) {
        dance_set_err(err, errlen, "%s needs %s key; the recipient's is %s",
                      dance_jwe_alg_name(*alg),
                      *alg == DANCE_JWE_RSA_OAEP_256 ? "an RSA" : "an EC P-256 or P-384",
                      k == KEY_RSA ? "RSA" : "EC");
        return -1;
    }
    if (o->cty != NULL && dance_jwe_type_is_jwe(o->cty)) {
        dance_set_err(err, errlen, "cty '%.20s': nested encryption is not supported",
                      o->cty);
        return -1;
    }
    return 0;
}

/* wrap_cek - the CEK (random, or for ECDH-ES the agreed key) and the
 * encrypted key (malloc'd; empty for ECDH-ES), adding epk to hdr */
static int wrap_cek(EVP_PKEY *key, key_kind k, dance_jwe_alg alg, dance_jwe_enc enc,
                    cJSON *hdr, unsigned char *cek, unsigned char **ek, size_t *eklen)
{
    size_t want = cek_len(enc), zlen = 0;
    unsigned char kek[32], *z = NULL;
    EVP_PKEY *eph = NULL;
    cJSON *epk;
    int rc = -1;

    *ek = NULL;
    *eklen = 0;
    if (alg != DANCE_JWE_ECDH_ES && RAND_bytes(cek, (int)want) != 1)
        return -1;
    if (alg == DANCE_JWE_RSA_OAEP_256)
        return jwe_rsa_oaep256_encrypt(key, cek, want, ek, eklen);
    eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve_name(k));
    if (eph == NULL || (epk = epk_json(eph, k)) == NULL)
        goto out;
    if (!cJSON_AddItemToObject(hdr, "epk", epk)) {
        cJSON_Delete(epk);
        goto out;
    }
    if (jwe_ecdh(eph, key, &z, &zlen) != 0)
        goto out;
    if (alg == DANCE_JWE_ECDH_ES) {
        rc = jwe_concat_kdf(z, zlen, dance_jwe_enc_name(enc), NULL, 0, NULL, 0, cek, want);
        goto out;
    }
    if (jwe_concat_kdf(z, zlen, "ECDH-ES+A256KW", NULL, 0, NULL, 0, kek, sizeof(kek)) != 0
        || (*ek = malloc(want + JWE_KW_OVERHEAD)) == NULL)
        goto out;
    if (jwe_aes_kw_wrap(kek, cek, want, *ek) != 0) {
        free(*ek);
        *ek = NULL;
        goto out;
    }
    *eklen = want + JWE_KW_OVERHEAD;
    rc = 0;
out:
    OPENSSL_cleanse(kek, sizeof(kek));
    if (z != NULL) {
        OPENSSL_cleanse(z, zlen);
        free(z);
    }
    EVP_PKEY_free(eph);
    ERR_clear_error();
    return rc;
}

int dance_jwe_encrypt(const dance_jwe_encrypt_opts *o, const void *plaintext,
                      size_t len, char **out, size_t *outlen, char *err, size_t errlen)
{
    char name[DANCE_NAME_MAX + 1], why_name[DANCE_REASON_MAX], x5u[DANCE_NAME_MAX + 32];
    unsigned char cek[JWE_CEK_MAX], iv[JWE_CBC_IV_LEN], tag[JWE_CBC_TAG_LEN];
    unsigned char *ek = NULL, *ct = NULL;
    char *hjson = NULL, *p64 = NULL, *ek64 = NULL, *iv64 = NULL, *ct64 = NULL;
    char *tag64 = NULL;
    size_t eklen = 0, ctlen = 0, p64len = 0;
    const char *why;
    dance_jwe_alg alg;
    dance_jwe_enc enc;
    key_kind k;
    cJSON *hdr = NULL;
    int rc = -1, crc;

    *out = NULL;
    *outlen = 0;
    if (o == NULL || o->key == NULL || (plaintext == NULL && len > 0)) {
        dance_set_err(err, errlen, "no recipient key");
        return -1;
    }
    if (len > (size_t)0x7fffffff - 64) {
        dance_set_err(err, errlen, "plaintext of %zu bytes is too large", len);
        return -1;
    }
    k = kind_of(o->key, &why);
    if (enc_choose(o, k, why, &alg, &enc, err, errlen) != 0)
        return -1;
    if (o->recipient != NULL
        && dance_name_normalize(o->recipient, name, sizeof(name), why_name,
                                sizeof(why_name)) != 0) {
        dance_set_err(err, errlen, "recipient name: %s", why_name);
        return -1;
    }
    if ((hdr = cJSON_CreateObject()) == NULL
        || cJSON_AddStringToObject(hdr, "alg", dance_jwe_alg_name(alg)) == NULL
        || cJSON_AddStringToObject(hdr, "enc", dance_jwe_enc_name(enc)) == NULL
        || (o->cty != NULL && cJSON_AddStringToObject(hdr, "cty", o->cty) == NULL))
        goto oom;
    if (o->recipient != NULL) {
        snprintf(x5u, sizeof(x5u), "dns://%s?type=TLSA", name);
        if (cJSON_AddStringToObject(hdr, "x5u", x5u) == NULL)
            goto oom;
    }
    if (wrap_cek(o->key, k, alg, enc, hdr, cek, &ek, &eklen) != 0) {
        dance_set_err(err, errlen, "cannot wrap the content key with %s (OpenSSL "
                      "failure)", dance_jwe_alg_name(alg));
        goto out;
    }
    if ((hjson = cJSON_PrintUnformatted(hdr)) == NULL
        || (p64 = jws_b64url_encode((const unsigned char *)hjson, strlen(hjson),
                                    &p64len)) == NULL
        || (ct = malloc(len + 16)) == NULL)
        goto oom;
    if (RAND_bytes(iv, (int)iv_len(enc)) != 1) {
        dance_set_err(err, errlen, "random number generator failure");
        goto out;
    }
    if (enc == DANCE_JWE_A256GCM)
        crc = jwe_gcm_encrypt(cek, iv, (const unsigned char *)p64, p64len, plaintext, len,
                              ct, &ctlen, tag);
    else
        crc = jwe_cbc_hs512_encrypt(cek, iv, (const unsigned char *)p64, p64len,
                                    plaintext, len, ct, &ctlen, tag);
    if (crc != 0) {
        dance_set_err(err, errlen, "cannot encrypt with %s (OpenSSL failure)",
                      dance_jwe_enc_name(enc));
        goto out;
    }
    if ((ek64 = jws_b64url_encode(ek, eklen, NULL)) == NULL
        || (iv64 = jws_b64url_encode(iv, iv_len(enc), NULL)) == NULL
        || (ct64 = jws_b64url_encode(ct, ctlen, NULL)) == NULL
        || (tag64 = jws_b64url_encode(tag, tag_len(enc), NULL)) == NULL
        || (*out = assemble(o->serialization == DANCE_JWS_FLATTENED, p64, ek64, iv64,
                            ct64, tag64, outlen)) == NULL)
        goto oom;
    rc = 0;
    goto out;
oom:
    dance_set_err(err, errlen, "out of memory");
out:
    OPENSSL_cleanse(cek, sizeof(cek));
    cJSON_Delete(hdr);
    if (hjson != NULL)
        cJSON_free(hjson);
    free(p64);
    free(ek);
    free(ct);
    free(ek64);
    free(iv64);
    free(ct64);
    free(tag64);
    return rc;
}

/* ------------------------------------------------------ keys from DNS */

EVP_PKEY *dance_jwe_key_from_tlsa(const dance_tlsa_rrset *set, dance_status *st,
                                  char *err, size_t errlen)
{
    const char *why;
    size_t candidates = 0;

    for (size_t i = 0; set != NULL && i < set->count; i++) {
        const dance_tlsa_rr *rr = &set->rr[i];
        EVP_PKEY *key;

        if (rr->usage != 3 || rr->mtype != 0 || rr->selector > 1 || rr->data == NULL)
            continue;
        candidates++;
        key = jws_record_key(rr);
        if (key != NULL && kind_of(key, &why) != KEY_OTHER) {
            *st = DANCE_OK;
            return key;
        }
        EVP_PKEY_free(key);
    }
    *st = DANCE_NO_USABLE_RECORD;
    if (candidates > 0)
        dance_set_err(err, errlen, "no 3 1 0 or 3 0 0 TLSA record holds an RSA (>= 2048 "
                      "bits) or EC P-256/P-384 key to encrypt to");
    else
        dance_set_err(err, errlen, "no TLSA record holds the key itself (3 1 0 or "
                      "3 0 0): a digest record cannot be encrypted to");
    return NULL;
}

EVP_PKEY *dance_jwe_recipient_key(const dance_jws_source *src, const char *name,
                                  const char *service_label, dance_status *st,
                                  char *err, size_t errlen)
{
    char norm[DANCE_NAME_MAX + 1], why[DANCE_REASON_MAX];
    dance_tlsa_result tr;
    EVP_PKEY *key = NULL;
    int rc;

    if (name == NULL || dance_name_normalize(name, norm, sizeof(norm), why,
                                             sizeof(why)) != 0) {
        *st = DANCE_BAD_SENDER;
        dance_set_err(err, errlen, "recipient name: %s", name ? why : "none given");
        return NULL;
    }
    memset(&tr, 0, sizeof(tr));
    rc = sender_fetch(src, norm, service_label, &tr, why, sizeof(why));
    if (rc != 0) {
        *st = rc == -1 ? DANCE_INTERNAL : DANCE_BAD_SENDER;
        dance_set_err(err, errlen, "%s", why);
        return NULL;
    }
    if (tr.status != DANCE_OK)
        sender_dns_refusal(st, err, errlen, norm, tr.status, tr.reason);
    else if ((key = dance_jwe_key_from_tlsa(&tr.records, st, why, sizeof(why))) == NULL)
        dance_set_err(err, errlen, "%s: %s", norm, why);
    dance_tlsa_result_clear(&tr);
    return key;
}
