/*
 * token.c - MQTT passwords that are JWS tokens signed with a device's
 * DANE-bound key (dance/token.h): parse, policy checks, verification
 * against the identity's TLSA records, re-checks, signing.
 *
 * Everything JOSE is the message code's (jws_*.c): the compact JWS is
 * parsed by dance_jws_parse (structure, alg, kid, x5c, crit), the key is
 * found and the signature checked by dance_jws_verify (direct DANE-EE
 * records, x5c through the DANE matcher, algorithm/key fit, key cache), the
 * claims go through the same strict JSON reader as headers; refusals,
 * DNS refusals and the lookup are the ones of sender.c. What is added
 * here is what makes a JWS a login token: the claims (aud, iat, exp, nbf,
 * jti), username == kid, and the jti replay cache keyed by identity.
 *
 * Ownership: a dance_token owns its parsed JWS (which owns a copy of the
 * password) and its claim strings. Results are plain data.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "dance/error.h"
#include "dance/replay.h"
#include "dance/token.h"
#include "sender.h"

#define CLAIMS_MEMBERS_MAX 64   /* a sane token has four to eight */
#define AUD_VALUES_MAX     16

struct dance_token {
    dance_jws *jws;
    char identity[DANCE_NAME_MAX + 1];  /* = the JWS sender (normalised kid) */
    char *aud[AUD_VALUES_MAX];
    size_t aud_count;
    int64_t iat, exp, nbf;
    bool has_nbf;
    char *jti;
};

static const dance_token_policy default_policy;

static uint32_t pol_lifetime(const dance_token_policy *pol)
{
    return pol->max_lifetime ? pol->max_lifetime : DANCE_TOKEN_MAX_LIFETIME_DEFAULT;
}

static uint32_t pol_skew(const dance_token_policy *pol)
{
    return pol->max_skew ? pol->max_skew : DANCE_TOKEN_MAX_SKEW_DEFAULT;
}

uint32_t dance_token_replay_window(const dance_token_policy *pol)
{
    uint64_t w;

    if (pol == NULL)
        pol = &default_policy;
    w = (uint64_t)pol_lifetime(pol) + pol_skew(pol);
    return w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
}

/* ------------------------------------------------------------- results */

static void res_reset(dance_token_result *res)
{
    memset(res, 0, sizeof(*res));
    res->status = DANCE_INTERNAL;
}

/* refuse(res, st, fmt, ...) - the refusal writer of sender.h into res */
#define refuse SENDER_REFUSE

/* res_begin - reset res and note what the token says */
static void res_begin(const dance_token *tok, dance_token_result *res)
{
    res_reset(res);
    sender_note(tok->jws, res->identity, &res->alg, &res->has_alg);
    res->iat = tok->iat;
    res->exp = tok->exp;
}

/* token_status - the token verdict for a message verdict, where a token
 * names it otherwise. Header-level iat, topic and jti only matter when a
 * token carries them in its protected header (which our tokens never do). */
static dance_status token_status(dance_status st)
{
    switch (st) {
    case DANCE_TOO_LARGE:           return DANCE_MALFORMED;
    case DANCE_NO_SENDER:
    case DANCE_BAD_SENDER:          return DANCE_IDENTITY_MISMATCH;
    case DANCE_STALE:               return DANCE_EXPIRED;
    case DANCE_TOPIC_MISMATCH:
    case DANCE_REPLAY:
    case DANCE_TYP:                 return DANCE_UNSUPPORTED;
    case DANCE_RATE_LIMITED:        return DANCE_LOOKUP_FAILED;
    default:                        return st;
    }
}

/* --------------------------------------------------------------- parse */

void dance_token_free(dance_token *tok)
{
    size_t i;

    if (tok == NULL)
        return;
    dance_jws_free(tok->jws);
    for (i = 0; i < tok->aud_count; i++)
        free(tok->aud[i]);
    free(tok->jti);
    free(tok);
}

const char *dance_token_identity(const dance_token *tok)
{
    return tok ? tok->identity : NULL;
}

int64_t dance_token_exp(const dance_token *tok)
{
    return tok ? tok->exp : 0;
}

const char *dance_token_jti(const dance_token *tok)
{
    return tok ? tok->jti : NULL;
}

const dance_jws *dance_token_jws(const dance_token *tok)
{
    return tok ? tok->jws : NULL;
}

/* numeric_date - RFC 7519 NumericDate: seconds since the epoch, may carry
 * a fraction (dropped: a token then expires up to a second early, never
 * late). 0, or -1 for anything else (negative, beyond exact doubles). */
static int numeric_date(const cJSON *it, int64_t *out)
{
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < 0
        || it->valuedouble > 9007199254740992.0)
        return -1;
    *out = (int64_t)it->valuedouble;
    return 0;
}

/* add_aud - one aud value: a string of 1 to DANCE_TOKEN_AUDIENCE_MAX octets */
static dance_status add_aud(dance_token *tok, const cJSON *it,
                            dance_token_result *res)
{
    size_t len;

    if (tok->aud_count >= AUD_VALUES_MAX)
        return refuse(res, DANCE_MALFORMED, "the token's aud array has more "
                      "than %d values", AUD_VALUES_MAX);
    if (!cJSON_IsString(it) || (len = strlen(it->valuestring)) == 0
        || len > DANCE_TOKEN_AUDIENCE_MAX)
        return refuse(res, DANCE_MALFORMED, "the token's aud values must be "
                      "strings of 1 to %d octets", DANCE_TOKEN_AUDIENCE_MAX);
    if ((tok->aud[tok->aud_count] = strdup(it->valuestring)) == NULL)
        return refuse(res, DANCE_INTERNAL, "out of memory");
    tok->aud_count++;
    return DANCE_OK;
}

/* parse_aud - a string, or a non-empty array of strings (RFC 7519 4.1.3) */
static dance_status parse_aud(dance_token *tok, const cJSON *aud,
                              dance_token_result *res)
{
    const cJSON *it;
    dance_status st;

    if (aud == NULL)
        return refuse(res, DANCE_MALFORMED, "the token has no aud claim (the "
                      "broker it is meant for)");
    if (cJSON_IsString(aud))
        return add_aud(tok, aud, res);
    if (!cJSON_IsArray(aud) || aud->child == NULL)
        return refuse(res, DANCE_MALFORMED, "the token's aud claim must be a "
                      "string or a non-empty array of strings");
    for (it = aud->child; it != NULL; it = it->next)
        if ((st = add_aud(tok, it, res)) != DANCE_OK)
            return st;
    return DANCE_OK;
}

/* parse_claims - the payload: a JSON object with aud, iat, exp, jti
 * (required), nbf (optional); other claims are ignored */
static dance_status parse_claims(dance_token *tok, dance_token_result *res)
{
    size_t n;
    cJSON *c = NULL;
    const cJSON *iat, *exp, *nbf, *jti;
    dance_status st;
    int rc;

    rc = jws_payload_object(tok->jws, CLAIMS_MEMBERS_MAX, &c);
    if (rc < 0)
        return refuse(res, DANCE_INTERNAL, "out of memory");
    if (rc > 0) {
        st = refuse(res, DANCE_MALFORMED, "the token's payload is not a JSON "
                    "object of claims with unique names (at most %d)",
                    CLAIMS_MEMBERS_MAX);
        goto out;
    }
    if ((st = parse_aud(tok, cJSON_GetObjectItemCaseSensitive(c, "aud"), res))
        != DANCE_OK)
        goto out;
    iat = cJSON_GetObjectItemCaseSensitive(c, "iat");
    exp = cJSON_GetObjectItemCaseSensitive(c, "exp");
    nbf = cJSON_GetObjectItemCaseSensitive(c, "nbf");
    jti = cJSON_GetObjectItemCaseSensitive(c, "jti");
    if (iat == NULL || exp == NULL || jti == NULL) {
        st = refuse(res, DANCE_MALFORMED, "the token lacks the %s claim (aud, iat, "
                    "exp and jti are required)", iat == NULL ? "iat"
                    : exp == NULL ? "exp" : "jti");
        goto out;
    }
    if (numeric_date(iat, &tok->iat) != 0 || numeric_date(exp, &tok->exp) != 0
        || (nbf != NULL && numeric_date(nbf, &tok->nbf) != 0)) {
        st = refuse(res, DANCE_MALFORMED, "the token's iat, exp and nbf must be "
                    "NumericDates (seconds since 1970)");
        goto out;
    }
    tok->has_nbf = nbf != NULL;
    res->iat = tok->iat;
    res->exp = tok->exp;
    if (!cJSON_IsString(jti) || (n = strlen(jti->valuestring)) == 0
        || n > DANCE_JWS_JTI_MAX) {
        st = refuse(res, DANCE_MALFORMED, "the token's jti must be a string of 1 "
                    "to %d octets", DANCE_JWS_JTI_MAX);
        goto out;
    }
    if ((tok->jti = strdup(jti->valuestring)) == NULL) {
        st = refuse(res, DANCE_INTERNAL, "out of memory");
        goto out;
    }
    st = DANCE_OK;
out:
    cJSON_Delete(c);
    return st;
}

/* check_username - the username names the identity the token was made for */
static dance_status check_username(const dance_token *tok, const char *username,
                                   dance_token_result *res)
{
    char name[DANCE_NAME_MAX + 1], why[DANCE_REASON_MAX], safe[96];

    if (username == NULL || username[0] == '\0')
        return refuse(res, DANCE_IDENTITY_MISMATCH, "no username: with a token as "
                      "password the username must be the identity the token names "
                      "(%s)", tok->identity);
    if (dance_name_normalize(username, name, sizeof(name), why, sizeof(why)) != 0) {
        dance_escape(username, strlen(username), safe, sizeof(safe));
        return refuse(res, DANCE_IDENTITY_MISMATCH, "username '%s' is not a DNS name (%s); "
                      "it must be the identity the token names (%s)", safe, why,
                      tok->identity);
    }
    if (strcmp(name, tok->identity) != 0)
        return refuse(res, DANCE_IDENTITY_MISMATCH, "username %s does not match the "
                      "token's kid %s", name, tok->identity);
    return DANCE_OK;
}

dance_status dance_token_parse(const void *password, size_t len,
                               const char *username, dance_token **out,
                               dance_token_result *res)
{
    dance_token *tok = NULL;
    const dance_jws_header *h;
    dance_status js;
    dance_status st;

    *out = NULL;
    res_reset(res);
    if (password == NULL || len == 0)
        return refuse(res, DANCE_MALFORMED, "no password: the token goes in the "
                      "MQTT password");
    if (len > DANCE_TOKEN_MAX_SIZE)
        return refuse(res, DANCE_MALFORMED, "a token of %zu bytes is over the "
                      "%u-byte limit", len, DANCE_TOKEN_MAX_SIZE);
    tok = calloc(1, sizeof(*tok));
    if (tok == NULL)
        return refuse(res, DANCE_INTERNAL, "out of memory");
    js = dance_jws_parse(password, len, DANCE_TOKEN_MAX_SIZE, &tok->jws, res->identity,
                         res->reason, sizeof(res->reason));
    if (js != DANCE_OK) {
        st = token_status(js);
        res->status = st;
        goto fail;
    }
    h = dance_jws_get_header(tok->jws);
    memcpy(tok->identity, h->sender, strlen(h->sender) + 1);
    memcpy(res->identity, tok->identity, sizeof(res->identity));
    res->alg = h->alg;
    res->has_alg = true;
    if (h->serialization != DANCE_JWS_COMPACT) {
        st = refuse(res, DANCE_MALFORMED, "a token must be a compact JWS "
                    "(header.payload.signature), not JSON");
        goto fail;
    }
    if (h->kid == NULL) {
        st = refuse(res, DANCE_IDENTITY_MISMATCH, "the token's protected header has no kid "
                    "(the identity, a DNS name)");
        goto fail;
    }
    /* explicit typing (RFC 8725 3.11): a token says typ JWT, and a message
     * never may (jws_verify.c refuses it), so neither passes for the other.
     * A JWS without typ is what `dance sign` makes: a message, not a login. */
    if (jws_typ(tok->jws) == NULL) {
        st = refuse(res, DANCE_UNSUPPORTED, "the token's protected header has no "
                    "typ: a login token must say \"typ\":\"JWT\" (as `dance token` "
                    "writes it); a signed message is not a token");
        goto fail;
    }
    if (jws_typ_kind_of(jws_typ(tok->jws)) != JWS_TYP_JWT) {
        st = refuse(res, DANCE_UNSUPPORTED, "the token's typ '%.40s' is not JWT",
                    jws_typ(tok->jws));
        goto fail;
    }
    if ((st = check_username(tok, username, res)) != DANCE_OK)
        goto fail;
    if ((st = parse_claims(tok, res)) != DANCE_OK)
        goto fail;
    res->status = DANCE_OK;
    dance_set_err(res->reason, sizeof(res->reason), "token for %s parsed", tok->identity);
    *out = tok;
    return DANCE_OK;
fail:
    dance_token_free(tok);
    return st;
}

/* --------------------------------------------------------------- check */

static bool aud_holds(const dance_token *tok, const char *audience)
{
    size_t i;

    for (i = 0; i < tok->aud_count; i++)
        if (strcmp(tok->aud[i], audience) == 0)
            return true;
    return false;
}

/* checks - the cheap policy, res already begun */
static dance_status checks(const dance_token *tok, const dance_token_policy *pol,
                           dance_token_result *res)
{
    int64_t now, life;
    uint32_t max = pol_lifetime(pol), skew = pol_skew(pol);

    /* the allow-list first: it must stop a name before any DNS query */
    if (pol->allow != NULL && !dance_allowlist_match(pol->allow, tok->identity))
        return refuse(res, DANCE_NOT_ALLOWED, "identity %s is not under an "
                      "allowed domain", tok->identity);
    if (pol->audience == NULL || pol->audience[0] == '\0')
        return refuse(res, DANCE_INTERNAL, "no audience configured to check "
                      "tokens against");
    if (!aud_holds(tok, pol->audience))
        return refuse(res, DANCE_WRONG_AUDIENCE, "the token is for '%.80s'%s, "
                      "not for '%.80s'", tok->aud[0],
                      tok->aud_count > 1 ? " (and others)" : "", pol->audience);
    if (tok->exp <= tok->iat)
        return refuse(res, DANCE_LIFETIME, "the token's exp (%lld) is not after "
                      "its iat (%lld)", (long long)tok->exp, (long long)tok->iat);
    life = tok->exp - tok->iat;
    if (life > (int64_t)max)
        return refuse(res, DANCE_LIFETIME, "the token lives %lld s (exp - iat), "
                      "more than the allowed %u s", (long long)life, max);
    now = sender_now(pol->now, pol->now_ctx);
    if (now >= tok->exp)
        return refuse(res, DANCE_EXPIRED, "the token expired %lld s ago",
                      (long long)(now - tok->exp));
    if (tok->iat > now + (int64_t)skew)
        return refuse(res, DANCE_NOT_YET_VALID, "the token's iat is %lld s in the "
                      "future (allowed skew %u s): check the device's clock",
                      (long long)(tok->iat - now), skew);
    if (tok->has_nbf && tok->nbf > now + (int64_t)skew)
        return refuse(res, DANCE_NOT_YET_VALID, "the token is not valid before "
                      "%lld s from now (nbf; allowed skew %u s)",
                      (long long)(tok->nbf - now), skew);
    return DANCE_OK;
}

dance_status dance_token_check(const dance_token *tok, const dance_token_policy *pol,
                               dance_token_result *res)
{
    if (tok == NULL) {
        res_reset(res);
        return refuse(res, DANCE_INTERNAL, "no token");
    }
    res_begin(tok, res);
    if (checks(tok, pol ? pol : &default_policy, res) != DANCE_OK)
        return res->status;
    res->status = DANCE_OK;
    dance_set_err(res->reason, sizeof(res->reason), "token acceptable before the signature "
                  "check");
    return DANCE_OK;
}

/* -------------------------------------------------------------- verify */

/* signature - key from the records (or x5c) and the signature, through the
 * message verifier; no replay cache (jti here is a claim, keyed below).
 * times false (re-checks): an iat in the protected header is not held to
 * the skew. The message verifier checks a header iat whenever one is
 * present, so the bound is set wider than any clock can move between the
 * login (where it was checked) and a re-check: a connected client is only
 * asked whether its key is still in DNS; its expiry is the business of
 * token_disconnect_on_expiry. */
static dance_status signature(const dance_token *tok, const dance_tlsa_rrset *tlsa,
                              const dance_token_policy *pol, bool times,
                              dance_token_result *res)
{
    dance_jws_policy jp;
    dance_jws_result jr;
    dance_status st;

    memset(&jp, 0, sizeof(jp));
    jp.allow = pol->allow;
    jp.service_label = pol->service_label;
    jp.matcher = pol->matcher;
    jp.keys = pol->keys;
    jp.max_skew = times ? pol_skew(pol) : UINT32_MAX;
    jp.now = pol->now;
    jp.now_ctx = pol->now_ctx;
    memset(&jr, 0, sizeof(jr));
    st = token_status(jws_verify_token(tok->jws, tlsa, &jp, &jr));
    if (st == DANCE_OK)
        memcpy(res->key_source, jr.key_source, sizeof(res->key_source));
    else
        refuse(res, st, "%s", jr.reason);
    dance_jws_result_clear(&jr);
    return st;
}

static dance_status verify_secure(const dance_token *tok,
                                  const dance_tlsa_rrset *tlsa,
                                  const dance_token_policy *pol,
                                  dance_token_result *res)
{
    int rc;

    if (signature(tok, tlsa, pol, true, res) != DANCE_OK)
        return res->status;
    if (pol->replay != NULL) {
        rc = dance_replay_check_add(pol->replay, tok->identity, tok->jti);
        if (rc == 1)
            return refuse(res, DANCE_REPLAY, "jti '%.64s' of %s was used before "
                          "(replay): make a new token for each connection", tok->jti,
                          tok->identity);
        if (rc != 0)
            return refuse(res, DANCE_INTERNAL, "out of memory in the replay cache");
    }
    res->status = DANCE_OK;
    dance_set_err(res->reason, sizeof(res->reason), "valid token: identity %s, alg %s, key "
                  "%s, expires in %lld s", tok->identity,
                  dance_jws_alg_name(res->alg), res->key_source,
                  (long long)(tok->exp - sender_now(pol->now, pol->now_ctx)));
    return DANCE_OK;
}

dance_status dance_token_verify(const dance_token *tok, const dance_tlsa_rrset *tlsa,
                                const dance_token_policy *pol,
                                dance_token_result *res)
{
    static const dance_tlsa_rrset empty;

    if (tok == NULL) {
        res_reset(res);
        return refuse(res, DANCE_INTERNAL, "no token");
    }
    if (pol == NULL)
        pol = &default_policy;
    res_begin(tok, res);
    if (checks(tok, pol, res) != DANCE_OK)
        return res->status;
    return verify_secure(tok, tlsa ? tlsa : &empty, pol, res);
}

/* dns_refusal - the refusal for a non-secure answer */
static dance_status dns_refusal(const dance_token *tok, dance_status st,
                                const char *dns_reason, dance_token_result *res)
{
    return sender_dns_refusal(&res->status, res->reason, sizeof(res->reason),
                              tok->identity, st, dns_reason);
}

dance_status dance_token_verify_dns(const dance_token *tok, dance_status st,
                                    const dance_tlsa_rrset *records,
                                    const char *dns_reason,
                                    const dance_token_policy *pol,
                                    dance_token_result *res)
{
    if (st == DANCE_OK)
        return dance_token_verify(tok, records, pol, res);
    if (dance_token_check(tok, pol, res) != DANCE_OK)
        return res->status;
    return dns_refusal(tok, st, dns_reason, res);
}

dance_status dance_token_recheck(const dance_token *tok, dance_status st,
                                 const dance_tlsa_rrset *records,
                                 const char *dns_reason,
                                 const dance_token_policy *pol,
                                 dance_token_result *res)
{
    static const dance_tlsa_rrset empty;

    if (tok == NULL) {
        res_reset(res);
        return refuse(res, DANCE_INTERNAL, "no token");
    }
    if (pol == NULL)
        pol = &default_policy;
    res_begin(tok, res);
    if (pol->allow != NULL && !dance_allowlist_match(pol->allow, tok->identity))
        return refuse(res, DANCE_NOT_ALLOWED, "identity %s is not under an "
                      "allowed domain", tok->identity);
    if (st != DANCE_OK)
        return dns_refusal(tok, st, dns_reason, res);
    if (signature(tok, records ? records : &empty, pol, false, res) != DANCE_OK)
        return res->status;
    res->status = DANCE_OK;
    dance_set_err(res->reason, sizeof(res->reason), "the records of %s still give the "
                  "token's key (%s)", tok->identity, res->key_source);
    return DANCE_OK;
}

dance_status dance_token_verify_password(const void *password, size_t len,
                                               const char *username,
                                               const dance_token_policy *pol,
                                               const dance_jws_source *src,
                                               dance_token_result *res)
{
    dance_token *tok = NULL;
    dance_tlsa_result tr;
    char why[DANCE_REASON_MAX];
    int rc;

    if (pol == NULL)
        pol = &default_policy;
    if (dance_token_parse(password, len, username, &tok, res) != DANCE_OK)
        return res->status;
    if (dance_token_check(tok, pol, res) != DANCE_OK)
        goto out;
    memset(&tr, 0, sizeof(tr));
    rc = sender_fetch(src, tok->identity, pol->service_label, &tr, why, sizeof(why));
    if (rc != 0) {
        refuse(res, rc == -1 ? DANCE_INTERNAL : DANCE_IDENTITY_MISMATCH, "%s", why);
        goto out;
    }
    dance_token_verify_dns(tok, tr.status, &tr.records, tr.reason, pol, res);
    dance_tlsa_result_clear(&tr);
out:
    dance_token_free(tok);
    return res->status;
}

/* ---------------------------------------------------------------- sign */

int dance_token_sign(const dance_token_sign_opts *o, char **out, size_t *outlen,
                     char *err, size_t errlen)
{
    dance_jws_sign_opts so;
    char jtibuf[32], *claims = NULL;
    const char *jti;
    cJSON *c = NULL;
    uint32_t lifetime;
    int64_t now;
    size_t n;
    int rc = -1;

    *out = NULL;
    if (outlen != NULL)
        *outlen = 0;
    if (o == NULL || o->key == NULL || o->name == NULL) {
        dance_set_err(err, errlen, "a key and an identity are required");
        return -1;
    }
    if (o->audience == NULL || (n = strlen(o->audience)) == 0
        || n > DANCE_TOKEN_AUDIENCE_MAX) {
        dance_set_err(err, errlen, "the audience (the broker's name) must be 1 to %d octets",
                      DANCE_TOKEN_AUDIENCE_MAX);
        return -1;
    }
    lifetime = o->lifetime ? o->lifetime : DANCE_TOKEN_LIFETIME_DEFAULT;
    if (lifetime > (uint32_t)INT32_MAX) {
        dance_set_err(err, errlen, "lifetime of %u s is too long", lifetime);
        return -1;
    }
    jti = o->jti;
    if (jti == NULL) {
        if (dance_jws_random_jti(jtibuf, sizeof(jtibuf)) != 0) {
            dance_set_err(err, errlen, "cannot make a random jti (RNG failure)");
            return -1;
        }
        jti = jtibuf;
    } else if (jti[0] == '\0' || strlen(jti) > DANCE_JWS_JTI_MAX) {
        dance_set_err(err, errlen, "jti must be 1 to %d octets", DANCE_JWS_JTI_MAX);
        return -1;
    }
    now = o->now ? o->now(o->now_ctx) : (int64_t)time(NULL);
    c = cJSON_CreateObject();
    if (c == NULL
        || cJSON_AddStringToObject(c, "aud", o->audience) == NULL
        || cJSON_AddNumberToObject(c, "iat", (double)now) == NULL
        || cJSON_AddNumberToObject(c, "exp", (double)(now + (int64_t)lifetime)) == NULL
        || cJSON_AddStringToObject(c, "jti", jti) == NULL
        || (claims = cJSON_PrintUnformatted(c)) == NULL) {
        dance_set_err(err, errlen, "out of memory building the claims");
        goto out;
    }
    memset(&so, 0, sizeof(so));
    so.key = o->key;
    so.name = o->name;
    so.alg = o->alg;
    so.x5c = o->x5c;
    so.serialization = DANCE_JWS_COMPACT;
    rc = jws_sign_typed(&so, "JWT", claims, strlen(claims), out, outlen, err, errlen);
out:
    cJSON_free(claims);
    cJSON_Delete(c);
    return rc;
}
