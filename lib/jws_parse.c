/*
 * jws_parse.c - the cheap first step of message verification: JWS compact
 * and flattened JSON serializations, the protected header, and the
 * sender's DNS name (kid, or an RFC 4501 DNS URI in x5u, read by
 * dance_dns_uri_name in name.c).
 *
 * No crypto, no DNS, no X.509 parsing happens here, so hosts may call it on
 * a latency-sensitive thread. The result owns a copy of the input.
 *
 * Why not cjose_jws_import: it refuses algorithms it does not know (EdDSA,
 * which we must accept), has no flattened JSON form, hashes the signing
 * input at import time (work we may not need: the allow-list can refuse the
 * sender first), hands out the payload before verification and ignores
 * crit. So the structure is split here, base64url is decoded strictly in
 * jws_alg.c (which says why not with cjose) and JSON goes through cJSON.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjose/cjose.h>
#include <cjson/cJSON.h>

#include "jws_internal.h"

#define HEADER_MEMBERS_MAX 64   /* a sane header has about ten */

/* ------------------------------------------------------------- helpers */

void dance_jws_free(dance_jws *jws)
{
    size_t i;

    if (jws == NULL)
        return;
    free(jws->kid);
    free(jws->x5u);
    free(jws->jti);
    free(jws->topic);
    free(jws->typ);
    free(jws->cty);
    free(jws->buf);
    free(jws->si_owned);
    free(jws->sig);
    for (i = 0; i < DANCE_JWS_X5C_MAX; i++)
        free(jws->x5c_der[i]);
    free(jws);
}

const dance_jws_header *dance_jws_get_header(const dance_jws *jws)
{
    return jws ? &jws->h : NULL;
}

/* json_has_nul_escape - true when a \u0000 escape occurs: cJSON would cut
 * the string there and a "kid" could read as a different name. */
static bool json_has_nul_escape(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i + 1 < len; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && i + 5 < len && strncmp(s + i + 2, "0000", 4) == 0)
            return true;
        i++;    /* skip the escaped character */
    }
    return false;
}

/* jws_json_parse - strict JSON value (jws_internal.h); token claims too,
 * through jws_payload_object */
cJSON *jws_json_parse(const char *s, size_t len)
{
    const char *end = NULL;
    cJSON *j;

    if (memchr(s, '\0', len) != NULL || json_has_nul_escape(s, len))
        return NULL;
    j = cJSON_ParseWithLengthOpts(s, len, &end, 0);
    if (j == NULL)
        return NULL;
    while (end != NULL && end < s + len && isspace((unsigned char)*end))
        end++;
    if (end != s + len) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* jws_json_object_unique - object, unique member names (jws_internal.h) */
bool jws_json_object_unique(const cJSON *obj, int max)
{
    const cJSON *a, *b;
    int n = 0;

    if (!cJSON_IsObject(obj))
        return false;
    for (a = obj->child; a != NULL; a = a->next) {
        if (a->string == NULL || ++n > max)
            return false;
        for (b = a->next; b != NULL; b = b->next)
            if (b->string != NULL && strcmp(a->string, b->string) == 0)
                return false;
    }
    return true;
}

static const char *const registered_names[] = {
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
};

/* Extension headers we know and enforce, so they may be critical. */
static const char *const understood_crit[] = { "b64", "iat", "jti", "topic" };

typedef struct parse_ctx {
    dance_jws *jws;
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

/* sender_from - name out of a kid (a DNS name, or a DNS URI as prototypes
 * put there) or an x5u (a DNS URI) */
static int sender_from(const char *what, const char *value, bool uri_only,
                       char *out, char *err, size_t errlen)
{
    char why[DANCE_REASON_MAX];

    if (uri_only || strncasecmp(value, "dns:", 4) == 0) {
        if (dance_dns_uri_name(value, out, DANCE_NAME_MAX + 1, why, sizeof(why)) != 0) {
            if (uri_only && strncasecmp(value, "dns:", 4) != 0)
                dance_set_err(why, sizeof(why), "only DNS URIs (dns:NAME?type=TLSA) are "
                              "accepted; keys are never fetched from other URLs");
            dance_set_err(err, errlen, "%s '%.80s' is unusable: %s", what, value, why);
            return -1;
        }
        return 0;
    }
    if (dance_name_normalize(value, out, DANCE_NAME_MAX + 1, why, sizeof(why)) != 0) {
        dance_set_err(err, errlen, "%s '%.80s' is not a DNS name: %s", what, value, why);
        return -1;
    }
    return 0;
}

static char *dup_string(const cJSON *item)
{
    return strdup(item->valuestring);
}

/* parse_x5c - the standard-base64 (not base64url: RFC 7515 4.1.6) DER
 * certificates; parsed as X.509 only at verification */
static dance_status parse_x5c(parse_ctx *pc, const cJSON *x5c)
{
    dance_jws *jws = pc->jws;
    const cJSON *it;
    size_t n = 0;

    if (!cJSON_IsArray(x5c) || x5c->child == NULL)
        return fail(pc, DANCE_MALFORMED, "x5c must be a non-empty array of "
                    "base64 certificates");
    for (it = x5c->child; it != NULL; it = it->next) {
        unsigned char *der = NULL;
        size_t derlen = 0;
        if (n >= DANCE_JWS_X5C_MAX)
            return fail(pc, DANCE_MALFORMED, "x5c holds more than %d certificates",
                        DANCE_JWS_X5C_MAX);
        if (!cJSON_IsString(it))
            return fail(pc, DANCE_MALFORMED, "x5c entry %zu is not a string", n);
        /* jws_alg.c says why not cjose_base64_decode (it aborts on bad input) */
        if (jws_b64_decode(it->valuestring, strlen(it->valuestring), &der, &derlen) != 0
            || derlen == 0) {
            free(der);
            return fail(pc, DANCE_MALFORMED, "x5c entry %zu is not valid base64", n);
        }
        jws->x5c_der[n] = der;
        jws->x5c_len[n] = derlen;
        n++;
    }
    jws->h.x5c_count = n;
    return DANCE_OK;
}

/* parse_crit - RFC 7515 4.1.11: a non-empty array of unique names, each
 * present in the protected header, none of the registered ones, all ones
 * we understand; crit itself must be protected (checked by the caller) */
static dance_status parse_crit(parse_ctx *pc, const cJSON *hdr, const cJSON *crit)
{
    const cJSON *it, *other;
    size_t i;

    if (!cJSON_IsArray(crit) || crit->child == NULL)
        return fail(pc, DANCE_MALFORMED, "crit must be a non-empty array of names");
    for (it = crit->child; it != NULL; it = it->next) {
        bool known = false;
        if (!cJSON_IsString(it))
            return fail(pc, DANCE_MALFORMED, "crit holds a non-string");
        for (other = it->next; other != NULL; other = other->next)
            if (cJSON_IsString(other) && strcmp(other->valuestring, it->valuestring) == 0)
                return fail(pc, DANCE_MALFORMED, "crit names '%.40s' twice",
                            it->valuestring);
        for (i = 0; i < sizeof(registered_names) / sizeof(registered_names[0]); i++)
            if (strcmp(it->valuestring, registered_names[i]) == 0)
                return fail(pc, DANCE_MALFORMED, "crit names the standard header "
                            "'%s'", registered_names[i]);
        for (i = 0; i < sizeof(understood_crit) / sizeof(understood_crit[0]); i++)
            if (strcmp(it->valuestring, understood_crit[i]) == 0)
                known = true;
        if (!known)
            return fail(pc, DANCE_UNSUPPORTED, "critical header '%.40s' is not "
                        "understood (known: b64, iat, jti, topic)", it->valuestring);
        if (cJSON_GetObjectItemCaseSensitive(hdr, it->valuestring) == NULL)
            return fail(pc, DANCE_MALFORMED, "crit names '%s', which the protected "
                        "header does not carry", it->valuestring);
        if (strcmp(it->valuestring, "iat") == 0)
            pc->jws->crit_iat = true;
        else if (strcmp(it->valuestring, "jti") == 0)
            pc->jws->crit_jti = true;
        else if (strcmp(it->valuestring, "topic") == 0)
            pc->jws->crit_topic = true;
    }
    return DANCE_OK;
}

/* What kid and x5u claim as the sender, each worked out before any check
 * can refuse, so refusals can say who claimed to send. rc: 1 absent,
 * 0 good, -1 bad (err says why). */
typedef struct sender_claims {
    char kid_name[DANCE_NAME_MAX + 1], x5u_name[DANCE_NAME_MAX + 1];
    char kid_err[DANCE_REASON_MAX], x5u_err[DANCE_REASON_MAX];
    int kid_rc, x5u_rc;
} sender_claims;

/* claim_from - one of kid or x5u (NULL: absent) into name/err */
static int claim_from(const char *what, const cJSON *item, bool is_uri,
                      char *name, char *err, size_t errlen)
{
    if (item == NULL)
        return 1;
    if (!cJSON_IsString(item)) {
        dance_set_err(err, errlen, "%s is not a string", what);
        return -1;
    }
    return sender_from(what, item->valuestring, is_uri, name, err, errlen);
}

/* header_sender - the sender named by kid and x5u when they agree (or only
 * one is there); jws->sender stays empty otherwise, and sender_checks says
 * why later */
static void header_sender(parse_ctx *pc, const cJSON *kid, const cJSON *x5u,
                          sender_claims *c)
{
    dance_jws *jws = pc->jws;

    memset(c, 0, sizeof(*c));
    c->kid_rc = claim_from("kid", kid, false, c->kid_name, c->kid_err, sizeof(c->kid_err));
    c->x5u_rc = claim_from("x5u", x5u, true, c->x5u_name, c->x5u_err, sizeof(c->x5u_err));
    if (c->kid_rc == 0
        && (c->x5u_rc == 1 || (c->x5u_rc == 0 && strcmp(c->kid_name, c->x5u_name) == 0)))
        memcpy(jws->sender, c->kid_name, sizeof(c->kid_name));
    else if (c->kid_rc == 1 && c->x5u_rc == 0)
        memcpy(jws->sender, c->x5u_name, sizeof(c->x5u_name));
    if (jws->sender[0] != '\0' && pc->sender_out != NULL)
        memcpy(pc->sender_out, jws->sender, sizeof(jws->sender));
}

/* header_alg - alg: a signature algorithm we support; none and the
 * shared-secret MACs refused by name */
static dance_status header_alg(parse_ctx *pc, const cJSON *alg)
{
    if (alg == NULL || !cJSON_IsString(alg))
        return fail(pc, DANCE_BAD_ALG, "protected header has no alg string");
    if (strcmp(alg->valuestring, "none") == 0)
        return fail(pc, DANCE_BAD_ALG, "alg none (unsigned message) is refused");
    if (strncmp(alg->valuestring, "HS", 2) == 0)
        return fail(pc, DANCE_BAD_ALG, "alg %.20s (shared-secret MAC) is refused: "
                    "senders must sign with a key published in DNS", alg->valuestring);
    if (dance_jws_alg_parse(alg->valuestring, &pc->jws->h.alg) != 0)
        return fail(pc, DANCE_BAD_ALG, "alg '%.20s' is not supported (ES256, ES384, "
                    "ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA)",
                    alg->valuestring);
    return DANCE_OK;
}

/* header_b64 - RFC 7797 b64: only true (the default) is supported */
static dance_status header_b64(parse_ctx *pc, const cJSON *b64)
{
    if (b64 == NULL)
        return DANCE_OK;
    if (!cJSON_IsBool(b64))
        return fail(pc, DANCE_MALFORMED, "b64 is not a boolean");
    if (cJSON_IsFalse(b64))
        return fail(pc, DANCE_UNSUPPORTED, "b64:false (unencoded payload, RFC 7797) "
                    "is not supported");
    return DANCE_OK;
}

/* sender_checks - the sender's own errors, after the more telling ones */
static dance_status sender_checks(parse_ctx *pc, const sender_claims *c)
{
    if (c->kid_rc == -1)
        return fail(pc, DANCE_BAD_SENDER, "%s", c->kid_err);
    if (c->x5u_rc == -1)
        return fail(pc, DANCE_BAD_SENDER, "%s", c->x5u_err);
    if (c->kid_rc == 0 && c->x5u_rc == 0 && strcmp(c->kid_name, c->x5u_name) != 0)
        return fail(pc, DANCE_BAD_SENDER, "kid names %s but x5u names %s: they must "
                    "agree", c->kid_name, c->x5u_name);
    if (pc->jws->sender[0] == '\0')
        return fail(pc, DANCE_NO_SENDER, "protected header names no sender (kid with "
                    "a DNS name, or x5u dns:NAME?type=TLSA)");
    return DANCE_OK;
}

/* header_iat - NumericDate: may carry a fraction; anything before the epoch
 * or beyond exact doubles is nonsense here */
static dance_status header_iat(parse_ctx *pc, const cJSON *iat)
{
    if (iat == NULL)
        return DANCE_OK;
    if (!cJSON_IsNumber(iat) || !isfinite(iat->valuedouble) || iat->valuedouble < 0
        || iat->valuedouble > 9007199254740992.0)
        return fail(pc, DANCE_MALFORMED, "iat is not a NumericDate (seconds since "
                    "1970)");
    pc->jws->h.has_iat = true;
    pc->jws->h.iat = (int64_t)iat->valuedouble;   /* >= 0: truncation is floor */
    return DANCE_OK;
}

/* header_string - an optional string member of 1 to max octets into *out */
static dance_status header_string(parse_ctx *pc, const cJSON *item, size_t max,
                                  const char *refusal, char **out)
{
    size_t n;

    if (item == NULL)
        return DANCE_OK;
    if (!cJSON_IsString(item) || (n = strlen(item->valuestring)) == 0 || n > max)
        return fail(pc, DANCE_MALFORMED, "%s", refusal);
    if ((*out = dup_string(item)) == NULL)
        return fail(pc, DANCE_INTERNAL, "out of memory");
    return DANCE_OK;
}

/* header_optional - what the header may carry beyond alg and the sender:
 * copies of kid and x5u, x5c, typ, iat, jti, topic */
static dance_status header_optional(parse_ctx *pc, const cJSON *hdr)
{
    dance_jws *jws = pc->jws;
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(hdr, "kid");
    const cJSON *x5u = cJSON_GetObjectItemCaseSensitive(hdr, "x5u");
    const cJSON *x5c = cJSON_GetObjectItemCaseSensitive(hdr, "x5c");
    const cJSON *typ = cJSON_GetObjectItemCaseSensitive(hdr, "typ");
    const cJSON *cty = cJSON_GetObjectItemCaseSensitive(hdr, "cty");
    char jti_refusal[64];
    dance_status st;

    if ((kid != NULL && (jws->kid = dup_string(kid)) == NULL)
        || (x5u != NULL && (jws->x5u = dup_string(x5u)) == NULL))
        return fail(pc, DANCE_INTERNAL, "out of memory");
    if (x5c != NULL && (st = parse_x5c(pc, x5c)) != DANCE_OK)
        return st;
    /* typ is judged later (jws_typ_kind): messages must not say JWT, tokens
     * must. Kept as "" when present but not a string, so that such a header
     * is not taken for one without typ. */
    if (typ != NULL
        && (jws->typ = strdup(cJSON_IsString(typ) ? typ->valuestring : "")) == NULL)
        return fail(pc, DANCE_INTERNAL, "out of memory");
    /* cty only informs the reader (a JWE payload: decrypt after verifying) */
    if (cty != NULL
        && (jws->cty = strdup(cJSON_IsString(cty) ? cty->valuestring : "")) == NULL)
        return fail(pc, DANCE_INTERNAL, "out of memory");
    if ((st = header_iat(pc, cJSON_GetObjectItemCaseSensitive(hdr, "iat"))) != DANCE_OK)
        return st;
    dance_set_err(jti_refusal, sizeof(jti_refusal), "jti must be a string of 1 to %d octets",
                  DANCE_JWS_JTI_MAX);
    if ((st = header_string(pc, cJSON_GetObjectItemCaseSensitive(hdr, "jti"),
                            DANCE_JWS_JTI_MAX, jti_refusal, &jws->jti)) != DANCE_OK)
        return st;
    return header_string(pc, cJSON_GetObjectItemCaseSensitive(hdr, "topic"),
                         DANCE_JWS_TOPIC_MAX, "topic must be a non-empty string",
                         &jws->topic);
}

/* parse_header - the decoded protected header. Order of checks: the sender
 * is worked out first (so refusals can say who claimed to send), then the
 * algorithm, crit and b64 (the most telling refusals), then the sender's
 * own errors, then the types of the optional members. */
static dance_status parse_header(parse_ctx *pc, const char *json, size_t len)
{
    cJSON *hdr, *crit;
    sender_claims claims;
    dance_status st;

    hdr = jws_json_parse(json, len);
    if (hdr == NULL)
        return fail(pc, DANCE_MALFORMED, "protected header is not valid JSON");
    if (!jws_json_object_unique(hdr, HEADER_MEMBERS_MAX)) {
        st = fail(pc, DANCE_MALFORMED, "protected header is not a JSON object with "
                  "unique member names (at most %d)", HEADER_MEMBERS_MAX);
        goto out;
    }
    header_sender(pc, cJSON_GetObjectItemCaseSensitive(hdr, "kid"),
                  cJSON_GetObjectItemCaseSensitive(hdr, "x5u"), &claims);
    crit = cJSON_GetObjectItemCaseSensitive(hdr, "crit");
    if ((st = header_alg(pc, cJSON_GetObjectItemCaseSensitive(hdr, "alg"))) != DANCE_OK
        || (crit != NULL && (st = parse_crit(pc, hdr, crit)) != DANCE_OK)
        || (st = header_b64(pc, cJSON_GetObjectItemCaseSensitive(hdr, "b64"))) != DANCE_OK
        || (st = sender_checks(pc, &claims)) != DANCE_OK)
        goto out;
    st = header_optional(pc, hdr);
out:
    cJSON_Delete(hdr);
    return st;
}

/* decode_header_and_sig - shared tail of both serializations */
static dance_status decode_parts(parse_ctx *pc, const char *prot, size_t prot_len,
                                 const char *sig, size_t sig_len)
{
    dance_jws *jws = pc->jws;
    unsigned char *hdr = NULL;
    size_t hdr_len = 0;
    dance_status st;

    if (prot_len == 0)
        return fail(pc, DANCE_MALFORMED, "protected header is empty");
    if (jws_b64url_decode(prot, prot_len, &hdr, &hdr_len) != 0)
        return fail(pc, DANCE_MALFORMED, "protected header is not valid base64url");
    st = parse_header(pc, (const char *)hdr, hdr_len);
    free(hdr);
    if (st != DANCE_OK)
        return st;
    if (!jws_b64url_valid(jws->payload_b64, jws->payload_b64_len))
        return fail(pc, DANCE_MALFORMED, "payload is not valid base64url");
    if (sig_len == 0)
        return fail(pc, DANCE_MALFORMED, "signature is empty");
    if (jws_b64url_decode(sig, sig_len, &jws->sig, &jws->sig_len) != 0)
        return fail(pc, DANCE_MALFORMED, "signature is not valid base64url");
    return DANCE_OK;
}

static dance_status parse_compact(parse_ctx *pc, char *s, size_t len)
{
    dance_jws *jws = pc->jws;
    char *dot1, *dot2;

    dot1 = memchr(s, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - s)) : NULL;
    if (dot1 == NULL || dot2 == NULL
        || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - s)) != NULL)
        return fail(pc, DANCE_MALFORMED, "not a JWS: compact form has three "
                    "base64url parts separated by dots (five parts would be JWE)");
    jws->h.serialization = DANCE_JWS_COMPACT;
    jws->signing_input = s;
    jws->signing_input_len = (size_t)(dot2 - s);
    jws->payload_b64 = dot1 + 1;
    jws->payload_b64_len = (size_t)(dot2 - dot1 - 1);
    return decode_parts(pc, s, (size_t)(dot1 - s), dot2 + 1, len - (size_t)(dot2 + 1 - s));
}

static const cJSON *json_string_member(const cJSON *obj, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(it) ? it : NULL;
}

static dance_status parse_flattened(parse_ctx *pc, const char *s, size_t len)
{
    dance_jws *jws = pc->jws;
    cJSON *doc;
    const cJSON *prot, *payload, *sig, *unprot;
    size_t plen, ylen;
    dance_status st;

    doc = jws_json_parse(s, len);
    if (doc == NULL)
        return fail(pc, DANCE_MALFORMED, "not a JWS: starts with '{' but is not "
                    "valid JSON");
    if (!jws_json_object_unique(doc, HEADER_MEMBERS_MAX)) {
        st = fail(pc, DANCE_MALFORMED, "JWS JSON is not an object with unique "
                  "member names");
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(doc, "signatures") != NULL) {
        st = fail(pc, DANCE_UNSUPPORTED, "general JSON serialization (signatures "
                  "array) is not supported: use the flattened or compact form");
        goto out;
    }
    prot = json_string_member(doc, "protected");
    payload = json_string_member(doc, "payload");
    sig = json_string_member(doc, "signature");
    unprot = cJSON_GetObjectItemCaseSensitive(doc, "header");
    if (prot == NULL || sig == NULL) {
        st = fail(pc, DANCE_MALFORMED, "JWS JSON needs \"protected\" and \"signature\" "
                  "strings (the sender must be in the protected header)");
        goto out;
    }
    if (payload == NULL) {
        st = fail(pc, DANCE_MALFORMED, "JWS JSON has no \"payload\" string "
                  "(detached payloads are not supported)");
        goto out;
    }
    if (unprot != NULL) {
        /* ignored for everything, but it must not try to carry what has to
         * be integrity protected (RFC 7515 4.1.11, RFC 7797 3) */
        if (!jws_json_object_unique(unprot, HEADER_MEMBERS_MAX)) {
            st = fail(pc, DANCE_MALFORMED, "unprotected header is not a JSON object "
                      "with unique member names");
            goto out;
        }
        if (cJSON_GetObjectItemCaseSensitive(unprot, "crit") != NULL
            || cJSON_GetObjectItemCaseSensitive(unprot, "b64") != NULL) {
            st = fail(pc, DANCE_MALFORMED, "crit and b64 must be in the protected "
                      "header, not the unprotected one");
            goto out;
        }
    }
    /* the signing input is ASCII(protected || '.' || payload) */
    plen = strlen(prot->valuestring);
    ylen = strlen(payload->valuestring);
    jws->si_owned = malloc(plen + 1 + ylen + 1);
    if (jws->si_owned == NULL) {
        st = fail(pc, DANCE_INTERNAL, "out of memory");
        goto out;
    }
    memcpy(jws->si_owned, prot->valuestring, plen);
    jws->si_owned[plen] = '.';
    memcpy(jws->si_owned + plen + 1, payload->valuestring, ylen + 1);
    jws->h.serialization = DANCE_JWS_FLATTENED;
    jws->signing_input = jws->si_owned;
    jws->signing_input_len = plen + 1 + ylen;
    jws->payload_b64 = jws->si_owned + plen + 1;
    jws->payload_b64_len = ylen;
    st = decode_parts(pc, prot->valuestring, plen, sig->valuestring,
                      strlen(sig->valuestring));
out:
    cJSON_Delete(doc);
    return st;
}

dance_status dance_jws_parse(const void *data, size_t len, size_t max_size,
                             dance_jws **out, char *sender_out,
                             char *err, size_t errlen)
{
    parse_ctx pc = { NULL, err, errlen, sender_out };
    dance_jws *jws;
    char *s;
    size_t b, e;
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
    jws = calloc(1, sizeof(*jws));
    if (jws == NULL || (jws->buf = malloc(len + 1)) == NULL) {
        free(jws);
        return fail(&pc, DANCE_INTERNAL, "out of memory");
    }
    pc.jws = jws;
    memcpy(jws->buf, data, len);
    jws->buf[len] = '\0';
    jws->h.sender = jws->sender;
    /* a trailing newline (a JWS kept in a file, "mosquitto_pub -f") is not
     * part of the message */
    s = jws->buf;
    for (b = 0; b < len && isspace((unsigned char)s[b]); b++)
        ;
    for (e = len; e > b && isspace((unsigned char)s[e - 1]); e--)
        ;
    s[e] = '\0';
    if (b == e)
        st = fail(&pc, DANCE_MALFORMED, "empty message");
    else if (s[b] == '{')
        st = parse_flattened(&pc, s + b, e - b);
    else
        st = parse_compact(&pc, s + b, e - b);
    if (st != DANCE_OK) {
        dance_jws_free(jws);
        return st;
    }
    jws->h.kid = jws->kid;
    jws->h.x5u = jws->x5u;
    jws->h.jti = jws->jti;
    jws->h.topic = jws->topic;
    jws->h.cty = jws->cty;
    *out = jws;
    return DANCE_OK;
}

/* jws_typ_kind_of - see sender.h */
jws_typ_kind jws_typ_kind_of(const char *typ)
{
    size_t n;

    if (typ == NULL)
        return JWS_TYP_NONE;
    if (strncasecmp(typ, "application/", 12) == 0)
        typ += 12;
    if (strcasecmp(typ, "jwt") == 0)
        return JWS_TYP_JWT;
    n = strlen(typ);
    if (n > 4 && strcasecmp(typ + n - 4, "+jwt") == 0)
        return JWS_TYP_JWT_KIND;
    return JWS_TYP_OTHER;
}

/* jws_typ - see sender.h */
const char *jws_typ(const dance_jws *jws)
{
    return jws->typ;
}

/* jws_payload_object - see sender.h */
int jws_payload_object(const dance_jws *jws, int max, cJSON **out)
{
    unsigned char *text = NULL;
    size_t len = 0;
    cJSON *c;

    *out = NULL;
    if (jws_b64url_decode(jws->payload_b64, jws->payload_b64_len, &text, &len) != 0)
        return -1;
    c = jws_json_parse((const char *)text, len);
    free(text);
    if (c == NULL || !jws_json_object_unique(c, max)) {
        cJSON_Delete(c);
        return 1;
    }
    *out = c;
    return 0;
}
