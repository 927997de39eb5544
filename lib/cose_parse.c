/*
 * cose_parse.c - the cheap first step of verifying a COSE_Sign1 message
 * (RFC 9052): strict CBOR, the protected header, the sender's DNS name,
 * and the Sig_structure the signature covers. The result is a dance_jws,
 * so the rest (policy, keys from DNS, signature, replay) is jws_verify.c's.
 *
 * CBOR comes from libcbor (but for the outer tag: outer_tag says why), in
 * two passes: its streaming decoder first walks every data item head
 * without building anything, so that indefinite lengths, tags inside,
 * nesting deeper than DANCE_COSE_DEPTH_MAX,
 * more than DANCE_COSE_ITEMS_MAX items, truncation and trailing bytes are
 * refused before anything is allocated (cbor_load would accept all of
 * them, and frees nested items recursively); then cbor_load builds the
 * tree, which is read here. libcbor keeps duplicate map keys: they are
 * looked for below.
 *
 * No crypto, no DNS, no X.509 parsing happens here.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cbor.h>

#include "cose_internal.h"
#include "jws_internal.h"

/* ------------------------------------------------------------ algorithms */

static const struct { dance_jws_alg alg; int id; } cose_algs[] = {
    { DANCE_JWS_ES256, -7 }, { DANCE_JWS_ES384, -35 }, { DANCE_JWS_ES512, -36 },
    { DANCE_JWS_EDDSA, -8 }, { DANCE_JWS_PS256, -37 }, { DANCE_JWS_RS256, -257 },
};

int dance_cose_alg_id(dance_jws_alg alg)
{
    size_t i;

    for (i = 0; i < sizeof(cose_algs) / sizeof(cose_algs[0]); i++)
        if (cose_algs[i].alg == alg)
            return cose_algs[i].id;
    return 0;
}

int dance_cose_alg_from_id(long long id, dance_jws_alg *out)
{
    size_t i;

    for (i = 0; i < sizeof(cose_algs) / sizeof(cose_algs[0]); i++)
        if (cose_algs[i].id == id) {
            *out = cose_algs[i].alg;
            return 0;
        }
    return -1;
}

bool dance_is_cose(const void *data, size_t len)
{
    return data != NULL && len > 0 && ((const unsigned char *)data)[0] >= 0x80;
}

/* ------------------------------------------------------------ the scan */

/* Why a scan stopped. */
typedef enum scan_err {
    SCAN_OK, SCAN_INDEFINITE, SCAN_TAG, SCAN_DEPTH, SCAN_ITEMS, SCAN_LENGTH
} scan_err;

/* The streaming decoder's state: how many items each open container still
 * holds (level 0 is the one top-level item). */
typedef struct scan {
    size_t left[DANCE_COSE_DEPTH_MAX + 1];
    int depth;
    size_t items;
    size_t remaining;           /* bytes from the current head to the end */
    scan_err err;
} scan;

/* scan_done - the top-level item is complete */
static bool scan_done(const scan *s)
{
    return s->depth == 0 && s->left[0] == 0;
}

/* scan_item - one data item (leaf or container) of n children: counted
 * against its parent, then, for a container, a new level */
static void scan_item(scan *s, size_t children)
{
    if (s->err != SCAN_OK)
        return;
    if (++s->items > DANCE_COSE_ITEMS_MAX) {
        s->err = SCAN_ITEMS;
        return;
    }
    s->left[s->depth]--;
    if (children > 0) {
        /* every item takes a byte at least: a count beyond the input is a
         * lie, and would make cbor_load allocate for it */
        if (children > s->remaining) {
            s->err = SCAN_LENGTH;
            return;
        }
        if (s->depth == DANCE_COSE_DEPTH_MAX) {
            s->err = SCAN_DEPTH;
            return;
        }
        s->left[++s->depth] = children;
    }
    while (s->depth > 0 && s->left[s->depth] == 0)
        s->depth--;
}

static void on_leaf(void *ctx) { scan_item(ctx, 0); }
static void on_u8(void *ctx, uint8_t v) { (void)v; scan_item(ctx, 0); }
static void on_u16(void *ctx, uint16_t v) { (void)v; scan_item(ctx, 0); }
static void on_u32(void *ctx, uint32_t v) { (void)v; scan_item(ctx, 0); }
static void on_u64(void *ctx, uint64_t v) { (void)v; scan_item(ctx, 0); }
static void on_string(void *ctx, cbor_data d, size_t n) { (void)d; (void)n; scan_item(ctx, 0); }
static void on_float(void *ctx, float v) { (void)v; scan_item(ctx, 0); }
static void on_double(void *ctx, double v) { (void)v; scan_item(ctx, 0); }
static void on_bool(void *ctx, bool v) { (void)v; scan_item(ctx, 0); }

static void on_indefinite(void *ctx)
{
    scan *s = ctx;

    if (s->err == SCAN_OK)
        s->err = SCAN_INDEFINITE;
}

static void on_array(void *ctx, size_t n)
{
    scan_item(ctx, n);
}

static void on_map(void *ctx, size_t n)
{
    scan *s = ctx;

    if (n > s->remaining / 2) {
        if (s->err == SCAN_OK)
            s->err = SCAN_LENGTH;
        return;
    }
    scan_item(s, 2 * n);
}

static void on_tag(void *ctx, uint64_t tag)
{
    scan *s = ctx;

    (void)tag;
    if (s->err == SCAN_OK)
        s->err = SCAN_TAG;
}

static const struct cbor_callbacks scan_callbacks = {
    .uint8 = on_u8, .uint16 = on_u16, .uint32 = on_u32, .uint64 = on_u64,
    .negint8 = on_u8, .negint16 = on_u16, .negint32 = on_u32, .negint64 = on_u64,
    .byte_string_start = on_indefinite, .byte_string = on_string,
    .string_start = on_indefinite, .string = on_string,
    .indef_array_start = on_indefinite, .array_start = on_array,
    .indef_map_start = on_indefinite, .map_start = on_map,
    .tag = on_tag,
    .float2 = on_float, .float4 = on_float, .float8 = on_double,
    .undefined = on_leaf, .null = on_leaf, .boolean = on_bool,
    .indef_break = on_indefinite,
};

/* scan_reason - why a scan of what stopped, into err */
static void scan_reason(scan_err e, const char *what, char *err, size_t errlen)
{
    switch (e) {
    case SCAN_INDEFINITE:
        dance_set_err(err, errlen, "%s: indefinite-length items are not accepted", what);
        break;
    case SCAN_TAG:
        dance_set_err(err, errlen, "%s: CBOR tags are not accepted inside the message",
                      what);
        break;
    case SCAN_DEPTH:
        dance_set_err(err, errlen, "%s: nested deeper than the limit of %d levels", what,
                      DANCE_COSE_DEPTH_MAX);
        break;
    case SCAN_ITEMS:
        dance_set_err(err, errlen, "%s: more CBOR items than the limit of %d", what,
                      DANCE_COSE_ITEMS_MAX);
        break;
    default:
        dance_set_err(err, errlen, "%s: a length runs past the end of the input", what);
        break;
    }
}

/* strict_load - one definite-length CBOR item without tags filling
 * data[0..len) exactly, within the limits. Returns the tree (cbor_decref
 * it), or NULL with a reason in err. */
static cbor_item_t *strict_load(const unsigned char *data, size_t len,
                                const char *what, char *err, size_t errlen)
{
    struct cbor_load_result lr;
    cbor_item_t *item;
    scan s;
    size_t pos = 0;

    memset(&s, 0, sizeof(s));
    s.left[0] = 1;
    while (pos < len && !scan_done(&s)) {
        struct cbor_decoder_result r;
        s.remaining = len - pos;
        r = cbor_stream_decode(data + pos, len - pos, &scan_callbacks, &s);
        if (r.status == CBOR_DECODER_NEDATA) {
            dance_set_err(err, errlen, "%s is truncated", what);
            return NULL;
        }
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0) {
            dance_set_err(err, errlen, "%s is not well-formed CBOR", what);
            return NULL;
        }
        pos += r.read;
        if (s.err != SCAN_OK) {
            scan_reason(s.err, what, err, errlen);
            return NULL;
        }
    }
    if (!scan_done(&s)) {
        dance_set_err(err, errlen, "%s is %s", what, len == 0 ? "empty" : "truncated");
        return NULL;
    }
    if (pos != len) {
        dance_set_err(err, errlen, "%s is followed by %zu more bytes", what, len - pos);
        return NULL;
    }
    item = cbor_load(data, len, &lr);
    if (item == NULL || lr.read != len) {
        if (item != NULL)
            cbor_decref(&item);
        dance_set_err(err, errlen, "%s: %s", what, lr.error.code == CBOR_ERR_MEMERROR
                      ? "out of memory" : "libcbor could not load it");
        return NULL;
    }
    return item;
}

/* ---------------------------------------------------------- CBOR reading */

/* label - a map key that is an integer or a text string, for comparing
 * keys and naming them in reasons */
typedef struct label {
    int kind;                   /* 0 int, 1 text, 2 bytes, -1 other */
    int64_t i;                  /* kind 0, when not big */
    bool big;                   /* kind 0: beyond int64 (never equal to ours) */
    bool neg;                   /* kind 0: negative */
    uint64_t raw;               /* kind 0: the encoded argument */
    const unsigned char *s;     /* kind 1, 2 */
    size_t n;
} label;

static label label_of(const cbor_item_t *k)
{
    label l;

    memset(&l, 0, sizeof(l));
    l.kind = -1;
    if (cbor_isa_uint(k)) {
        uint64_t v = cbor_get_int(k);
        l.kind = 0;
        l.raw = v;
        l.big = v > INT64_MAX;
        l.i = l.big ? 0 : (int64_t)v;
    } else if (cbor_isa_negint(k)) {
        uint64_t v = cbor_get_int(k);
        l.kind = 0;
        l.raw = v;
        l.neg = true;
        l.big = v > INT64_MAX;
        l.i = l.big ? 0 : -1 - (int64_t)v;
    } else if (cbor_isa_string(k)) {
        l.kind = 1;
        l.s = cbor_string_handle(k);
        l.n = cbor_string_length(k);
    } else if (cbor_isa_bytestring(k)) {
        l.kind = 2;
        l.s = cbor_bytestring_handle(k);
        l.n = cbor_bytestring_length(k);
    }
    return l;
}

static bool label_eq(const label *a, const label *b)
{
    if (a->kind != b->kind || a->kind < 0)
        return false;
    if (a->kind == 0)
        return a->neg == b->neg && a->raw == b->raw;
    return a->n == b->n && (a->n == 0 || memcmp(a->s, b->s, a->n) == 0);
}

/* maps_unique - every map in the tree has integer or string keys, none
 * twice (RFC 9052 section 14: a decoder must refuse duplicates; otherwise
 * a signer could mean one value and a verifier read another). The scan
 * bounded the depth and the item count, so the recursion and the
 * quadratic key comparison are bounded too. */
static bool maps_unique(const cbor_item_t *it, char *err, size_t errlen)
{
    size_t i, j, n;

    if (cbor_isa_array(it)) {
        cbor_item_t **h = cbor_array_handle(it);
        n = cbor_array_size(it);
        for (i = 0; i < n; i++)
            if (!maps_unique(h[i], err, errlen))
                return false;
        return true;
    }
    if (!cbor_isa_map(it))
        return true;
    {
        struct cbor_pair *p = cbor_map_handle(it);
        n = cbor_map_size(it);
        for (i = 0; i < n; i++) {
            label a = label_of(p[i].key);
            if (a.kind < 0) {
                dance_set_err(err, errlen, "a map key is neither an integer nor a string");
                return false;
            }
            for (j = i + 1; j < n; j++) {
                label b = label_of(p[j].key);
                if (label_eq(&a, &b)) {
                    if (a.kind == 0 && a.big)
                        dance_set_err(err, errlen, "map key %s%llu occurs twice",
                                      a.neg ? "-1-" : "", (unsigned long long)a.raw);
                    else if (a.kind == 0)
                        dance_set_err(err, errlen, "map key %lld occurs twice",
                                      (long long)a.i);
                    else
                        dance_set_err(err, errlen, "map key '%.*s' occurs twice",
                                      (int)(a.n > 40 ? 40 : a.n), (const char *)a.s);
                    return false;
                }
            }
            if (!maps_unique(p[i].value, err, errlen))
                return false;
        }
    }
    return true;
}

/* map_get - the value under integer label i (name NULL) or text label name */
static const cbor_item_t *map_get(const cbor_item_t *map, int64_t i, const char *name)
{
    struct cbor_pair *p;
    size_t k, n;

    if (map == NULL || !cbor_isa_map(map))
        return NULL;
    p = cbor_map_handle(map);
    n = cbor_map_size(map);
    for (k = 0; k < n; k++) {
        label l = label_of(p[k].key);
        if (name == NULL && l.kind == 0 && !l.big && l.i == i)
            return p[k].value;
        if (name != NULL && l.kind == 1 && l.n == strlen(name)
            && memcmp(l.s, name, l.n) == 0)
            return p[k].value;
    }
    return NULL;
}

/* is_nil - whether it is CBOR null. Not cbor_is_null: libcbor 0.8's
 * asserts (aborting the process) when given a float, which a message can
 * put anywhere. */
static bool is_nil(const cbor_item_t *it)
{
    return cbor_isa_float_ctrl(it) && cbor_float_ctrl_is_ctrl(it)
           && cbor_ctrl_value(it) == CBOR_CTRL_NULL;
}

/* int_value - an integer item into *v (within int64). 0, or -1. */
static int int_value(const cbor_item_t *it, int64_t *v)
{
    label l;

    if (!cbor_isa_uint(it) && !cbor_isa_negint(it))
        return -1;
    l = label_of(it);
    if (l.big)
        return -1;
    *v = l.i;
    return 0;
}

/* utf8_valid - RFC 3629 UTF-8 without NUL bytes; written by hand because
 * neither libcbor nor OpenSSL offers a public validator */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t k, more;
        uint32_t cp;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= more)
            return false;
        for (k = 1; k <= more; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000)
            || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        i += more + 1;
    }
    return true;
}

/* ------------------------------------------------------------- headers */

typedef struct parse_ctx {
    dance_jws *jws;
    unsigned flags;
    char *err;
    size_t errlen;
    char *sender_out;
} parse_ctx;

static dance_status fail(parse_ctx *pc, dance_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static dance_status fail(parse_ctx *pc, dance_status st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    dance_vset_err(pc->err, pc->errlen, fmt, ap);
    va_end(ap);
    return st;
}

/* kid_sender - the sender a protected kid names: bytes holding a DNS name
 * or an RFC 4501 DNS URI, as a JWS kid may (jws_parse.c). 0 with
 * jws->sender and jws->kid set, or -1 with the reason in why. */
static int kid_sender(parse_ctx *pc, const cbor_item_t *kid, char *why, size_t whylen)
{
    dance_jws *jws = pc->jws;
    char sub[DANCE_REASON_MAX];
    const unsigned char *b;
    size_t n;

    if (!cbor_isa_bytestring(kid)) {
        dance_set_err(why, whylen, "kid must be a byte string (RFC 9052) holding the "
                      "sender's DNS name");
        return -1;
    }
    b = cbor_bytestring_handle(kid);
    n = cbor_bytestring_length(kid);
    if (n == 0 || n > 1024) {
        dance_set_err(why, whylen, "kid of %zu bytes cannot be a DNS name", n);
        return -1;
    }
    if (!utf8_valid(b, n)) {
        dance_set_err(why, whylen, "kid is not valid UTF-8 (it must hold the sender's "
                      "DNS name)");
        return -1;
    }
    if ((jws->kid = malloc(n + 1)) == NULL) {
        dance_set_err(why, whylen, "out of memory");
        return -1;
    }
    memcpy(jws->kid, b, n);
    jws->kid[n] = '\0';
    if (strncasecmp(jws->kid, "dns:", 4) == 0) {
        if (dance_dns_uri_name(jws->kid, jws->sender, sizeof(jws->sender), sub,
                               sizeof(sub)) != 0) {
            dance_set_err(why, whylen, "kid '%.80s' is unusable: %s", jws->kid, sub);
            return -1;
        }
    } else if (dance_name_normalize(jws->kid, jws->sender, sizeof(jws->sender), sub,
                                    sizeof(sub)) != 0) {
        dance_set_err(why, whylen, "kid '%.80s' is not a DNS name: %s", jws->kid, sub);
        return -1;
    }
    return 0;
}

/* header_alg - alg (1): an integer naming a supported algorithm, in the
 * protected header; the unprotected header is not signed, so an alg there
 * could be changed by anyone on the path */
static dance_status header_alg(parse_ctx *pc, const cbor_item_t *prot,
                               const cbor_item_t *unprot)
{
    const cbor_item_t *alg = map_get(prot, DANCE_COSE_HDR_ALG, NULL);
    int64_t id;

    if (alg == NULL) {
        if (map_get(unprot, DANCE_COSE_HDR_ALG, NULL) != NULL)
            return fail(pc, DANCE_BAD_ALG, "alg is only in the unprotected header, which "
                        "the signature does not cover: it must be protected");
        return fail(pc, DANCE_BAD_ALG, "protected header has no alg (label 1)");
    }
    if (int_value(alg, &id) != 0)
        return fail(pc, DANCE_BAD_ALG, "alg is not an integer (text algorithm names "
                    "are not supported)");
    if (dance_cose_alg_from_id(id, &pc->jws->h.alg) != 0)
        return fail(pc, DANCE_BAD_ALG, "alg %lld is not supported (ES256 -7, ES384 -35, "
                    "ES512 -36, EdDSA -8, PS256 -37, RS256 -257)", (long long)id);
    return DANCE_OK;
}

/* header_crit - crit (2), RFC 9052 3.1: a non-empty array of unique
 * labels, each in the protected header, none of the core ones, all ones
 * we enforce: the CWT claims (15) and x5chain (33) */
static dance_status header_crit(parse_ctx *pc, const cbor_item_t *prot,
                                const cbor_item_t *crit)
{
    cbor_item_t **h;
    size_t i, j, n;

    if (!cbor_isa_array(crit) || cbor_array_size(crit) == 0)
        return fail(pc, DANCE_MALFORMED, "crit must be a non-empty array of labels");
    h = cbor_array_handle(crit);
    n = cbor_array_size(crit);
    for (i = 0; i < n; i++) {
        label l = label_of(h[i]);
        if (l.kind != 0 && l.kind != 1)
            return fail(pc, DANCE_MALFORMED, "crit holds something other than a label");
        for (j = i + 1; j < n; j++) {
            label m = label_of(h[j]);
            if (label_eq(&l, &m))
                return fail(pc, DANCE_MALFORMED, "crit names a label twice");
        }
        if (l.kind == 1 || l.big)
            return fail(pc, DANCE_UNSUPPORTED, "critical header '%.*s' is not understood "
                        "(known: 15 CWT claims, 33 x5chain)",
                        l.kind == 1 ? (int)(l.n > 40 ? 40 : l.n) : 7,
                        l.kind == 1 ? (const char *)l.s : "(large)");
        if (l.i >= 1 && l.i <= 7)
            return fail(pc, DANCE_MALFORMED, "crit names the core header %lld",
                        (long long)l.i);
        if (l.i != DANCE_COSE_HDR_CWT_CLAIMS && l.i != DANCE_COSE_HDR_X5CHAIN)
            return fail(pc, DANCE_UNSUPPORTED, "critical header %lld is not understood "
                        "(known: 15 CWT claims, 33 x5chain)", (long long)l.i);
        if (map_get(prot, l.i, NULL) == NULL)
            return fail(pc, DANCE_MALFORMED, "crit names %lld, which the protected "
                        "header does not carry", (long long)l.i);
        if (l.i == DANCE_COSE_HDR_CWT_CLAIMS) {
            const cbor_item_t *c = map_get(prot, DANCE_COSE_HDR_CWT_CLAIMS, NULL);
            pc->jws->crit_iat = map_get(c, DANCE_COSE_CLAIM_IAT, NULL) != NULL;
            pc->jws->crit_jti = map_get(c, DANCE_COSE_CLAIM_CTI, NULL) != NULL;
            pc->jws->crit_topic = map_get(c, 0, DANCE_COSE_CLAIM_TOPIC) != NULL;
        }
    }
    return DANCE_OK;
}

/* prot_has_text - whether the protected map has the text label l */
static bool prot_has_text(const cbor_item_t *prot, const label *l)
{
    struct cbor_pair *p = cbor_map_handle(prot);
    size_t i, n = cbor_map_size(prot);

    for (i = 0; i < n; i++) {
        label k = label_of(p[i].key);
        if (label_eq(&k, l))
            return true;
    }
    return false;
}

/* header_unprotected - the unprotected header may carry anything but what
 * the verifier relies on, and no label of the protected one (RFC 9052 3) */
static dance_status header_unprotected(parse_ctx *pc, const cbor_item_t *prot,
                                       const cbor_item_t *unprot)
{
    static const int64_t must_protect[] = {
        DANCE_COSE_HDR_CRIT, DANCE_COSE_HDR_X5CHAIN, DANCE_COSE_HDR_CWT_CLAIMS
    };
    struct cbor_pair *p = cbor_map_handle(unprot);
    size_t i, n = cbor_map_size(unprot);

    for (i = 0; i < n; i++) {
        label l = label_of(p[i].key);
        if (l.kind != 0 && l.kind != 1)
            return fail(pc, DANCE_MALFORMED, "unprotected header has a label that is "
                        "neither an integer nor a text string");
        if (l.kind == 0 && !l.big && map_get(prot, l.i, NULL) != NULL)
            return fail(pc, DANCE_MALFORMED, "label %lld is in both the protected and "
                        "the unprotected header", (long long)l.i);
        if (l.kind == 1 && prot_has_text(prot, &l))
            return fail(pc, DANCE_MALFORMED, "label '%.*s' is in both the protected and "
                        "the unprotected header", (int)(l.n > 40 ? 40 : l.n),
                        (const char *)l.s);
    }
    for (i = 0; i < sizeof(must_protect) / sizeof(must_protect[0]); i++)
        if (map_get(unprot, must_protect[i], NULL) != NULL)
            return fail(pc, DANCE_MALFORMED, "label %lld must be in the protected header, "
                        "not the unprotected one", (long long)must_protect[i]);
    return DANCE_OK;
}

/* header_x5chain - x5chain (33, RFC 9360): one certificate as a bstr, or
 * an array of them, leaf first; parsed as X.509 only at verification */
static dance_status header_x5chain(parse_ctx *pc, const cbor_item_t *x5)
{
    dance_jws *jws = pc->jws;
    cbor_item_t *const *certs;
    cbor_item_t *one[1];
    size_t i, n;

    if (cbor_isa_bytestring(x5)) {
        one[0] = (cbor_item_t *)x5;
        certs = one;
        n = 1;
    } else if (cbor_isa_array(x5)) {
        certs = cbor_array_handle(x5);
        n = cbor_array_size(x5);
    } else {
        return fail(pc, DANCE_MALFORMED, "x5chain is neither a certificate (bstr) nor "
                    "an array of them");
    }
    if (n == 0)
        return fail(pc, DANCE_MALFORMED, "x5chain is an empty array");
    if (n > DANCE_JWS_X5C_MAX)
        return fail(pc, DANCE_MALFORMED, "x5chain holds %zu certificates, more than %d",
                    n, DANCE_JWS_X5C_MAX);
    for (i = 0; i < n; i++) {
        size_t len;
        if (!cbor_isa_bytestring(certs[i]) || (len = cbor_bytestring_length(certs[i])) == 0)
            return fail(pc, DANCE_MALFORMED, "x5chain entry %zu is not a non-empty byte "
                        "string", i);
        if ((jws->x5c_der[i] = malloc(len)) == NULL)
            return fail(pc, DANCE_INTERNAL, "out of memory");
        memcpy(jws->x5c_der[i], cbor_bytestring_handle(certs[i]), len);
        jws->x5c_len[i] = len;
    }
    jws->h.x5c_count = n;
    return DANCE_OK;
}

/* header_claims - the CWT Claims map (15, RFC 9597): iat (6, NumericDate,
 * integer or float), cti (7, bytes: the jti, as hex), topic ("topic",
 * text). Other claims are not used. */
static dance_status header_claims(parse_ctx *pc, const cbor_item_t *claims)
{
    static const char hex[] = "0123456789abcdef";
    dance_jws *jws = pc->jws;
    const cbor_item_t *iat, *cti, *topic;

    if (!cbor_isa_map(claims))
        return fail(pc, DANCE_MALFORMED, "CWT claims (label 15) is not a map");
    iat = map_get(claims, DANCE_COSE_CLAIM_IAT, NULL);
    cti = map_get(claims, DANCE_COSE_CLAIM_CTI, NULL);
    topic = map_get(claims, 0, DANCE_COSE_CLAIM_TOPIC);
    if (iat != NULL) {
        int64_t v;
        double d;
        if (int_value(iat, &v) == 0 && v >= 0) {
            jws->h.iat = v;
        } else if (cbor_isa_float_ctrl(iat) && !cbor_float_ctrl_is_ctrl(iat)
                   && isfinite(d = cbor_float_get_float(iat)) && d >= 0
                   && d <= 9007199254740992.0) {
            jws->h.iat = (int64_t)d;    /* >= 0: truncation is floor */
        } else {
            return fail(pc, DANCE_MALFORMED, "iat (claim 6) is not a NumericDate "
                        "(seconds since 1970)");
        }
        jws->h.has_iat = true;
    }
    if (cti != NULL) {
        const unsigned char *b;
        size_t n, i;
        if (!cbor_isa_bytestring(cti) || (n = cbor_bytestring_length(cti)) == 0
            || n > DANCE_COSE_CTI_MAX)
            return fail(pc, DANCE_MALFORMED, "cti (claim 7) must be a byte string of 1 to "
                        "%d octets", DANCE_COSE_CTI_MAX);
        if ((jws->jti = malloc(2 * n + 1)) == NULL)
            return fail(pc, DANCE_INTERNAL, "out of memory");
        b = cbor_bytestring_handle(cti);
        for (i = 0; i < n; i++) {
            jws->jti[2 * i] = hex[b[i] >> 4];
            jws->jti[2 * i + 1] = hex[b[i] & 15];
        }
        jws->jti[2 * n] = '\0';
    }
    if (topic != NULL) {
        size_t n;
        if (!cbor_isa_string(topic) || (n = cbor_string_length(topic)) == 0
            || n > DANCE_JWS_TOPIC_MAX || !utf8_valid(cbor_string_handle(topic), n))
            return fail(pc, DANCE_MALFORMED, "topic claim must be a non-empty UTF-8 "
                        "string");
        if ((jws->topic = malloc(n + 1)) == NULL)
            return fail(pc, DANCE_INTERNAL, "out of memory");
        memcpy(jws->topic, cbor_string_handle(topic), n);
        jws->topic[n] = '\0';
    }
    return DANCE_OK;
}

/* parse_headers - both buckets. Order as for JWS: the sender is worked out
 * first (so refusals can say who claimed to send), then alg and crit, then
 * the sender's own errors, then the optional members. */
static dance_status parse_headers(parse_ctx *pc, const cbor_item_t *prot,
                                  const cbor_item_t *unprot)
{
    dance_jws *jws = pc->jws;
    const cbor_item_t *kid = map_get(prot, DANCE_COSE_HDR_KID, NULL);
    const cbor_item_t *crit = map_get(prot, DANCE_COSE_HDR_CRIT, NULL);
    const cbor_item_t *x5 = map_get(prot, DANCE_COSE_HDR_X5CHAIN, NULL);
    const cbor_item_t *claims = map_get(prot, DANCE_COSE_HDR_CWT_CLAIMS, NULL);
    char kid_err[DANCE_REASON_MAX] = "";
    struct cbor_pair *pairs = cbor_map_handle(prot);
    size_t i, n = cbor_map_size(prot);
    int kid_rc = 1;
    dance_status st;

    for (i = 0; i < n; i++) {
        label l = label_of(pairs[i].key);
        if (l.kind != 0 && l.kind != 1)
            return fail(pc, DANCE_MALFORMED, "protected header has a label that is neither "
                        "an integer nor a text string");
    }
    if (kid != NULL) {
        kid_rc = kid_sender(pc, kid, kid_err, sizeof(kid_err));
        if (kid_rc != 0)
            jws->sender[0] = '\0';
        else if (pc->sender_out != NULL)
            memcpy(pc->sender_out, jws->sender, sizeof(jws->sender));
    }
    if ((st = header_alg(pc, prot, unprot)) != DANCE_OK
        || (crit != NULL && (st = header_crit(pc, prot, crit)) != DANCE_OK)
        || (st = header_unprotected(pc, prot, unprot)) != DANCE_OK)
        return st;
    if (!(pc->flags & COSE_PARSE_ANY_SENDER)) {
        if (kid_rc == -1)
            return fail(pc, DANCE_BAD_SENDER, "%s", kid_err);
        if (kid_rc == 1 && map_get(unprot, DANCE_COSE_HDR_KID, NULL) != NULL)
            return fail(pc, DANCE_NO_SENDER, "kid is only in the unprotected header, "
                        "which the signature does not cover: the sender's DNS name "
                        "must be in the protected kid");
        if (kid_rc == 1)
            return fail(pc, DANCE_NO_SENDER, "protected header names no sender (kid, "
                        "label 4, with the sender's DNS name as UTF-8 bytes)");
    }
    if (x5 != NULL && (st = header_x5chain(pc, x5)) != DANCE_OK)
        return st;
    if (claims != NULL && (st = header_claims(pc, claims)) != DANCE_OK)
        return st;
    return DANCE_OK;
}

/* ------------------------------------------------------- Sig_structure */

/* sig_structure - ["Signature1", protected, h'' (external_aad), payload]
 * encoded into jws->si_owned; the payload's bytes end it, and
 * jws->payload_raw points at them there */
static dance_status sig_structure(parse_ctx *pc, const unsigned char *prot, size_t plen,
                                  const unsigned char *payload, size_t ylen)
{
    static const char context[] = "Signature1";
    dance_jws *jws = pc->jws;
    unsigned char *b;
    size_t cap = 9 + 1 + sizeof(context) + 9 + plen + 1 + 9 + ylen, o = 0;

    if ((b = malloc(cap)) == NULL)
        return fail(pc, DANCE_INTERNAL, "out of memory");
    o += cbor_encode_array_start(4, b + o, cap - o);
    o += cbor_encode_string_start(sizeof(context) - 1, b + o, cap - o);
    memcpy(b + o, context, sizeof(context) - 1);
    o += sizeof(context) - 1;
    o += cbor_encode_bytestring_start(plen, b + o, cap - o);
    if (plen > 0)
        memcpy(b + o, prot, plen);
    o += plen;
    o += cbor_encode_bytestring_start(0, b + o, cap - o);
    o += cbor_encode_bytestring_start(ylen, b + o, cap - o);
    if (ylen > 0)
        memcpy(b + o, payload, ylen);
    o += ylen;
    jws->si_owned = (char *)b;
    jws->signing_input = jws->si_owned;
    jws->signing_input_len = o;
    jws->payload_raw = b + o - ylen;
    jws->payload_raw_len = ylen;
    return DANCE_OK;
}

/* --------------------------------------------------------------- entry */

/* parse_item - the loaded COSE_Sign1 (tag already taken off) */
static dance_status parse_item(parse_ctx *pc, const cbor_item_t *msg)
{
    dance_jws *jws = pc->jws;
    cbor_item_t **part, *prot_map = NULL, *empty = NULL;
    const unsigned char *prot;
    size_t plen, slen;
    char why[DANCE_REASON_MAX];
    dance_status st;

    if (!cbor_isa_array(msg) || cbor_array_size(msg) != 4)
        return fail(pc, DANCE_MALFORMED, "not a COSE_Sign1: an array of 4 (protected, "
                    "unprotected, payload, signature) was expected");
    part = cbor_array_handle(msg);
    if (!cbor_isa_bytestring(part[0]))
        return fail(pc, DANCE_MALFORMED, "protected header is not a byte string");
    if (!cbor_isa_map(part[1]))
        return fail(pc, DANCE_MALFORMED, "unprotected header is not a map");
    if (is_nil(part[2]))
        return fail(pc, DANCE_UNSUPPORTED, "detached payload (nil) is not supported: "
                    "the payload must be in the message");
    if (!cbor_isa_bytestring(part[2]))
        return fail(pc, DANCE_MALFORMED, "payload is not a byte string");
    if (!cbor_isa_bytestring(part[3]) || (slen = cbor_bytestring_length(part[3])) == 0)
        return fail(pc, DANCE_MALFORMED, "signature is not a non-empty byte string");
    if (!maps_unique(msg, why, sizeof(why)))
        return fail(pc, DANCE_MALFORMED, "%s", why);
    prot = cbor_bytestring_handle(part[0]);
    plen = cbor_bytestring_length(part[0]);
    /* a zero-length protected header stands for an empty map (RFC 9052 3) */
    if (plen == 0) {
        if ((empty = cbor_new_definite_map(0)) == NULL)
            return fail(pc, DANCE_INTERNAL, "out of memory");
        prot_map = empty;
    } else {
        prot_map = strict_load(prot, plen, "protected header", why, sizeof(why));
        if (prot_map == NULL)
            return fail(pc, DANCE_MALFORMED, "%s", why);
    }
    if (!cbor_isa_map(prot_map)) {
        st = fail(pc, DANCE_MALFORMED, "protected header does not hold a map");
        goto out;
    }
    if (!maps_unique(prot_map, why, sizeof(why))) {
        st = fail(pc, DANCE_MALFORMED, "protected header: %s", why);
        goto out;
    }
    if ((st = parse_headers(pc, prot_map, part[1])) != DANCE_OK)
        goto out;
    if ((jws->sig = malloc(slen)) == NULL) {
        st = fail(pc, DANCE_INTERNAL, "out of memory");
        goto out;
    }
    memcpy(jws->sig, cbor_bytestring_handle(part[3]), slen);
    jws->sig_len = slen;
    st = sig_structure(pc, prot, plen, cbor_bytestring_handle(part[2]),
                       cbor_bytestring_length(part[2]));
out:
    cbor_decref(&prot_map);
    return st;
}

/* outer_tag - the tag before the top-level item, if any: *tag (UINT64_MAX
 * for none) and the bytes it takes. Read by hand because libcbor 0.8's
 * decoders refuse tags 6 to 20 in their one-byte form (0xc6 to 0xd4),
 * COSE_Sign1's 18 among them; inside the message tags are refused
 * anyway. -1 when the input ends within the tag. */
static int outer_tag(const unsigned char *d, size_t len, uint64_t *tag, size_t *taken)
{
    size_t n, i;

    *tag = UINT64_MAX;
    *taken = 0;
    if (len == 0 || (d[0] >> 5) != 6)
        return 0;
    if ((d[0] & 0x1f) < 24) {
        *tag = d[0] & 0x1f;
        *taken = 1;
        return 0;
    }
    switch (d[0] & 0x1f) {
    case 24: n = 1; break;
    case 25: n = 2; break;
    case 26: n = 4; break;
    case 27: n = 8; break;
    default: return -1;         /* reserved, or indefinite (not a tag form) */
    }
    if (len < 1 + n)
        return -1;
    *tag = 0;
    for (i = 0; i < n; i++)
        *tag = (*tag << 8) | d[1 + i];
    *taken = 1 + n;
    return 0;
}

dance_status cose_parse_flags(const void *data, size_t len, size_t max_size,
                              unsigned flags, dance_jws **out, char *sender_out,
                              char *err, size_t errlen)
{
    parse_ctx pc = { NULL, flags, err, errlen, sender_out };
    cbor_item_t *msg = NULL;
    char why[DANCE_REASON_MAX];
    uint64_t tag = UINT64_MAX;
    size_t taken = 0;
    dance_jws *jws;
    dance_status st;

    *out = NULL;
    if (sender_out != NULL)
        sender_out[0] = '\0';
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (max_size == 0)
        max_size = DANCE_JWS_MAX_SIZE_DEFAULT;
    if (len > max_size)
        return fail(&pc, DANCE_TOO_LARGE, "message of %zu bytes is over the %zu-byte "
                    "limit", len, max_size);
    if (data == NULL || len == 0)
        return fail(&pc, DANCE_MALFORMED, "empty message");
    if (outer_tag(data, len, &tag, &taken) != 0)
        return fail(&pc, DANCE_MALFORMED, "COSE message is not well-formed CBOR");
    if (tag != UINT64_MAX && tag != DANCE_COSE_TAG_SIGN1) {
        if (tag == 98)
            return fail(&pc, DANCE_UNSUPPORTED, "COSE_Sign (tag 98, several signers) is "
                        "not supported: send a COSE_Sign1");
        return fail(&pc, DANCE_MALFORMED, "CBOR tag %llu is not COSE_Sign1 (18)",
                    (unsigned long long)tag);
    }
    if (taken == len)
        return fail(&pc, DANCE_MALFORMED, "COSE message is truncated (a tag and nothing "
                    "after it)");
    msg = strict_load((const unsigned char *)data + taken, len - taken, "COSE message",
                      why, sizeof(why));
    if (msg == NULL)
        return fail(&pc, DANCE_MALFORMED, "%s", why);
    jws = calloc(1, sizeof(*jws));
    if (jws == NULL) {
        st = fail(&pc, DANCE_INTERNAL, "out of memory");
        goto out;
    }
    pc.jws = jws;
    jws->cose = true;
    jws->h.serialization = DANCE_JWS_COSE_SIGN1;
    jws->h.sender = jws->sender;
    st = parse_item(&pc, msg);
    if (st != DANCE_OK) {
        dance_jws_free(jws);
        goto out;
    }
    jws->h.kid = jws->kid;
    jws->h.jti = jws->jti;
    jws->h.topic = jws->topic;
    *out = jws;
out:
    cbor_decref(&msg);
    return st;
}

dance_status dance_cose_parse(const void *data, size_t len, size_t max_size,
                              dance_jws **out, char *sender_out,
                              char *err, size_t errlen)
{
    return cose_parse_flags(data, len, max_size, 0, out, sender_out, err, errlen);
}

dance_status dance_message_parse(const void *data, size_t len, size_t max_size,
                                 dance_jws **out, char *sender_out,
                                 char *err, size_t errlen)
{
    if (dance_is_cose(data, len))
        return dance_cose_parse(data, len, max_size, out, sender_out, err, errlen);
    return dance_jws_parse(data, len, max_size, out, sender_out, err, errlen);
}
