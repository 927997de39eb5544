/*
 * test_token.c - MQTT password tokens (lib/token.c on top of lib/jws_*.c and
 * lib/replay.c): sign -> parse -> check -> verify with 3 1 0, 3 0 0 and
 * 3 1 1 + x5c records, and every refusal: expired, wrong audience, replayed
 * jti, wrong key, alg none / HS256 (the HMAC keyed with the public key, the
 * classic confusion attack), lifetime over the maximum, kid != username,
 * outside the allow-list, malformed tokens of many kinds; DNS outcome
 * mapping and re-checks of connected clients. The clock is injected.
 * Tokens the library's signer refuses to make come from the independent
 * signer in jwstest.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/hmac.h>
#include <openssl/x509.h>

#include "dance/keycache.h"
#include "dance/replay.h"
#include "dance/token.h"
#include "jwstest.h"
#include "testcerts.h"

#define NOW 1700000000
#define AUD "broker.acme.example"

typedef struct fixture {
    EVP_PKEY *ec256, *ec256b, *rsa, *ed25519;
    X509 *c_ec256, *c_ec256b, *c_rsa, *c_ed25519;
    dance_matcher *matcher;
    dance_allowlist *allow;
    int64_t now;
} fixture;

static fixture fx;

static int64_t fake_now(void *ctx)
{
    return *(int64_t *)ctx;
}

static uint64_t mono_ms;
static uint64_t fake_mono(void *ctx)
{
    (void)ctx;
    return mono_ms;
}

static int setup(void **state)
{
    char err[DANCE_REASON_MAX];

    (void)state;
    fx.ec256 = jt_key("ec256");
    fx.ec256b = jt_key("ec256");
    fx.rsa = jt_key("rsa2048");
    fx.ed25519 = jt_key("ed25519");
    fx.c_ec256 = jt_cert(fx.ec256, JT_NAME);
    fx.c_ec256b = jt_cert(fx.ec256b, JT_NAME);
    fx.c_rsa = jt_cert(fx.rsa, JT_NAME);
    fx.c_ed25519 = jt_cert(fx.ed25519, JT_NAME);
    fx.matcher = dance_matcher_new(NULL, err, sizeof(err));
    assert_non_null(fx.matcher);
    fx.allow = dance_allowlist_parse("acme.example", err, sizeof(err));
    assert_non_null(fx.allow);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(fx.ec256);
    EVP_PKEY_free(fx.ec256b);
    EVP_PKEY_free(fx.rsa);
    EVP_PKEY_free(fx.ed25519);
    X509_free(fx.c_ec256);
    X509_free(fx.c_ec256b);
    X509_free(fx.c_rsa);
    X509_free(fx.c_ed25519);
    dance_matcher_free(fx.matcher);
    dance_allowlist_free(fx.allow);
    return 0;
}

static int reset_clock(void **state)
{
    (void)state;
    fx.now = NOW;
    mono_ms = 1000;
    return 0;
}

static dance_token_policy policy(void)
{
    dance_token_policy p;

    memset(&p, 0, sizeof(p));
    p.audience = AUD;
    p.max_lifetime = 600;
    p.max_skew = 30;
    p.allow = fx.allow;
    p.matcher = fx.matcher;
    p.now = fake_now;
    p.now_ctx = &fx.now;
    return p;
}

/* make - libdance's signer at the fake clock; x5c a single cert or NULL */
static char *make(EVP_PKEY *key, const char *name, const char *aud, uint32_t lifetime,
                  X509 *x5c, const char *jti)
{
    dance_token_sign_opts o;
    STACK_OF(X509) *chain = NULL;
    char *out = NULL, err[DANCE_REASON_MAX];
    size_t len = 0;

    memset(&o, 0, sizeof(o));
    o.key = key;
    o.name = name;
    o.audience = aud;
    o.lifetime = lifetime;
    o.jti = jti;
    o.now = fake_now;
    o.now_ctx = &fx.now;
    if (x5c != NULL) {
        chain = sk_X509_new_null();
        assert_non_null(chain);
        assert_true(sk_X509_push(chain, x5c) > 0);
        o.x5c = chain;
    }
    if (dance_token_sign(&o, &out, &len, err, sizeof(err)) != 0)
        fail_msg("token sign: %s", err);
    assert_int_equal(strlen(out), len);
    sk_X509_free(chain);
    return out;
}

/* verify - parse + verify with the username; result left in res */
static dance_status verify(const char *token, const char *username,
                                 const dance_tlsa_rrset *set,
                                 const dance_token_policy *pol, dance_token_result *res)
{
    dance_token *tok = NULL;
    dance_status st;

    st = dance_token_parse(token, strlen(token), username, &tok, res);
    if (st != DANCE_OK) {
        assert_null(tok);
        assert_true(res->reason[0] != '\0');
        return st;
    }
    st = dance_token_verify(tok, set, pol, res);
    dance_token_free(tok);
    assert_true(res->reason[0] != '\0');
    return st;
}

/* crafted - the independent signer: exactly hdr and claims */
static char *crafted(const char *hdr, const char *claims, EVP_PKEY *key, const char *alg)
{
    return jt_jws(hdr, claims, key, jt_signer_for(alg));
}

static char *claims_json(const char *aud, int64_t iat, int64_t exp, const char *jti)
{
    char *s = malloc(512);

    assert_non_null(s);
    snprintf(s, 512, "{\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"%s\"}", aud,
             (long long)iat, (long long)exp, jti);
    return s;
}

#define HDR_ES256 "{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"typ\":\"JWT\"}"

/* ----------------------------------------------------------- successes */

static void test_valid_310(void **state)
{
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL };
    dance_token_result res;
    char *t = make(fx.ec256, JT_NAME, AUD, 300, NULL, NULL);

    (void)state;
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    assert_int_equal(verify(t, JT_NAME, &set, &pol, &res), DANCE_OK);
    assert_string_equal(res.identity, JT_NAME);
    assert_int_equal(res.iat, NOW);
    assert_int_equal(res.exp, NOW + 300);
    assert_true(res.has_alg);
    assert_string_equal(dance_jws_alg_name(res.alg), "ES256");
    assert_string_equal(res.key_source, "tlsa 3 1 0");
    assert_string_equal(dance_status_name(res.status), "verified");
    /* the username is normalised before the comparison */
    assert_int_equal(verify(t, "DEV1._device.ACME.example.", &set, &pol, &res),
                     DANCE_OK);
    free(t);
    dance_tlsa_rrset_clear(&set);
}

static void test_valid_311_x5c(void **state)
{
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL };
    dance_token_result res;
    char *t = make(fx.ed25519, JT_NAME, AUD, 60, fx.c_ed25519, NULL);
    char *bare = make(fx.ed25519, JT_NAME, AUD, 60, NULL, NULL);
    char *other = make(fx.ec256b, JT_NAME, AUD, 60, fx.c_ec256b, NULL);

    (void)state;
    jt_add(&set, 3, 1, 1, fx.c_ed25519);
    assert_int_equal(verify(t, JT_NAME, &set, &pol, &res), DANCE_OK);
    assert_string_equal(res.key_source, "x5c+tlsa 3 1 1");
    assert_string_equal(dance_jws_alg_name(res.alg), "EdDSA");
    /* a digest gives no key without x5c */
    assert_int_equal(verify(bare, JT_NAME, &set, &pol, &res), DANCE_NO_USABLE_RECORD);
    /* x5c of another key: the records do not vouch for it */
    assert_int_equal(verify(other, JT_NAME, &set, &pol, &res), DANCE_CERT_MISMATCH);
    assert_string_equal(dance_status_name(res.status), "cert_mismatch");
    /* x5c without a matcher: refused, never trusted */
    pol.matcher = NULL;
    assert_int_equal(verify(t, JT_NAME, &set, &pol, &res), DANCE_INTERNAL);
    free(t);
    free(bare);
    free(other);
    dance_tlsa_rrset_clear(&set);
}

/* make_chain - a token for name with x5c [leaf, ca] */
static char *make_chain(EVP_PKEY *key, const char *name, X509 *leaf, X509 *ca)
{
    dance_token_sign_opts o;
    STACK_OF(X509) *chain = sk_X509_new_null();
    char *out = NULL, err[DANCE_REASON_MAX];

    assert_non_null(chain);
    assert_true(sk_X509_push(chain, leaf) > 0);
    assert_true(sk_X509_push(chain, ca) > 0);
    memset(&o, 0, sizeof(o));
    o.key = key;
    o.name = name;
    o.audience = AUD;
    o.lifetime = 60;
    o.now = fake_now;
    o.now_ctx = &fx.now;
    o.x5c = chain;
    if (dance_token_sign(&o, &out, NULL, err, sizeof(err)) != 0)
        fail_msg("token sign: %s", err);
    sk_X509_free(chain);
    return out;
}

/* An identity is one exact name for token logins too: under a DANE-TA
 * record of the CA at the identity, a token whose x5c leaf (from that CA)
 * names only "*.acme.example" is refused, at login and at the re-check
 * (OpenSSL's host check alone would take it for victim.acme.example); the
 * exact-name leaf of the same CA and key is accepted. */
#define VICTIM "victim.acme.example"

static void test_x5c_wildcard_leaf_refused(void **state)
{
    tc_spec ca_spec = { .cn = "Acme Device CA", .ca = true, .not_before = -60,
                        .not_after = 86400 };
    tc_spec wild_spec = { .san = "DNS:*.acme.example", .eku = "clientAuth",
                          .not_before = -60, .not_after = 86400 };
    tc_spec exact_spec = wild_spec;
    EVP_PKEY *ca_key = jt_key("ec256");
    X509 *ca, *wild, *exact;
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL };
    dance_token_result res;
    dance_token *tok = NULL;
    char *t_wild, *t_exact;

    (void)state;
    exact_spec.san = "DNS:" VICTIM;
    ca = tc_cert(&ca_spec, ca_key, NULL, NULL);
    assert_non_null(ca);
    wild = tc_cert(&wild_spec, fx.ec256, ca, ca_key);
    exact = tc_cert(&exact_spec, fx.ec256, ca, ca_key);
    assert_non_null(wild);
    assert_non_null(exact);
    jt_add(&set, 2, 0, 1, ca);
    t_wild = make_chain(fx.ec256, VICTIM, wild, ca);
    t_exact = make_chain(fx.ec256, VICTIM, exact, ca);

    assert_int_equal(verify(t_wild, VICTIM, &set, &pol, &res), DANCE_CERT_MISMATCH);
    assert_non_null(strstr(res.reason, VICTIM));
    assert_int_equal(dance_token_parse(t_wild, strlen(t_wild), VICTIM, &tok, &res),
                     DANCE_OK);
    assert_int_equal(dance_token_recheck(tok, DANCE_OK, &set, NULL, &pol, &res),
                     DANCE_CERT_MISMATCH);
    dance_token_free(tok);
    /* positive control */
    if (verify(t_exact, VICTIM, &set, &pol, &res) != DANCE_OK)
        fail_msg("exact-name leaf: %s", res.reason);
    assert_string_equal(res.key_source, "x5c+tlsa 2 0 1");

    free(t_wild);
    free(t_exact);
    dance_tlsa_rrset_clear(&set);
    X509_free(ca);
    X509_free(wild);
    X509_free(exact);
    EVP_PKEY_free(ca_key);
}

static void test_valid_300_rsa_and_aud_array(void **state)
{
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL };
    dance_token_result res;
    char *c = claims_json(AUD, NOW, NOW + 100, "j1"), *t, *arr;
    char arrclaims[256];

    (void)state;
    jt_add(&set, 3, 0, 0, fx.c_rsa);
    t = crafted("{\"alg\":\"PS256\",\"kid\":\"" JT_NAME "\",\"typ\":\"jwt\"}", c,
                fx.rsa, "PS256");
    assert_int_equal(verify(t, JT_NAME, &set, &pol, &res), DANCE_OK);
    assert_string_equal(res.key_source, "tlsa 3 0 0");
    snprintf(arrclaims, sizeof(arrclaims), "{\"aud\":[\"other\",\"%s\"],\"iat\":%d,"
             "\"exp\":%d,\"jti\":\"j2\",\"sub\":\"ignored\"}", AUD, NOW, NOW + 100);
    arr = crafted("{\"alg\":\"RS256\",\"kid\":\"" JT_NAME "\",\"typ\":\"JWT\"}",
                  arrclaims, fx.rsa, "RS256");
    assert_int_equal(verify(arr, JT_NAME, &set, &pol, &res), DANCE_OK);
    free(c);
    free(t);
    free(arr);
    dance_tlsa_rrset_clear(&set);
}

/* ------------------------------------------------------------ refusals */

/* ------------------------------------------------- verify: the table */

/* How a case's token is made: by the library's signer (key, JT_NAME, aud,
 * lifetime at the fake clock), by the independent signer (exactly hdr and
 * claims, signed with alg), or put together with a given signature. */
typedef enum { T_MADE, T_CRAFTED, T_SIGNATURE } token_kind;

/* One token verified as username against the record 3 1 0 of the ec256 key,
 * at NOW + at: the status it gets and, where given, the status name, a part
 * of the reason and the identity reported. */
typedef struct verify_case {
    const char *what;
    token_kind kind;
    bool other_key;                 /* sign with ec256b instead of ec256 */
    const char *aud;
    uint32_t lifetime;
    const char *hdr, *claims, *alg, *sig;
    bool default_max_lifetime;      /* policy max_lifetime 0 */
    int64_t at;
    const char *username;
    dance_status want;
    const char *status_name, *reason_has, *identity;
    int64_t exp;                    /* res.exp, when not 0 */
} verify_case;

#define MADE(a, l) .kind = T_MADE, .aud = (a), .lifetime = (l)
#define CRAFTED(h, c, a) .kind = T_CRAFTED, .hdr = (h), .claims = (c), .alg = (a)
#define SIGNATURE(h, c, s) .kind = T_SIGNATURE, .hdr = (h), .claims = (c), .sig = (s)
/* claims_json() as a literal (NOW is 1700000000) */
#define CLAIMS(aud, iat, exp, jti) \
    "{\"aud\":\"" aud "\",\"iat\":" #iat ",\"exp\":" #exp ",\"jti\":\"" jti "\"}"
#define HDR_NONE "{\"alg\":\"none\",\"kid\":\"" JT_NAME "\"}"

static const verify_case verify_cases[] = {
    /* expired: exp itself is too late */
    { "valid until exp", MADE(AUD, 300), .at = 299, .username = JT_NAME,
      .want = DANCE_OK },
    { "expired at exp", MADE(AUD, 300), .at = 300, .username = JT_NAME,
      .want = DANCE_EXPIRED, .status_name = "expired",
      .reason_has = "expired 0 s ago", .identity = JT_NAME, .exp = NOW + 300 },
    { "expired long ago", MADE(AUD, 300), .at = 100000, .username = JT_NAME,
      .want = DANCE_EXPIRED },
    /* audience */
    { "wrong audience", MADE("other-broker.example", 300), .username = JT_NAME,
      .want = DANCE_WRONG_AUDIENCE, .status_name = "wrong_audience",
      .reason_has = "other-broker.example" },
    /* audiences compare exactly (RFC 7519 StringOrURI) */
    { "audience in other case",
      CRAFTED(HDR_ES256, CLAIMS("BROKER.ACME.EXAMPLE", 1700000000, 1700000010, "j"), "ES256"),
      .username = JT_NAME, .want = DANCE_WRONG_AUDIENCE },
    /* keys */
    { "wrong key", MADE(AUD, 300), .other_key = true, .username = JT_NAME,
      .want = DANCE_BAD_SIGNATURE, .status_name = "bad_signature",
      .identity = JT_NAME },
    /* ES384 over a P-256 key never reaches the signature check */
    { "ES384 over a P-256 key",
      CRAFTED("{\"alg\":\"ES384\",\"kid\":\"" JT_NAME "\",\"typ\":\"JWT\"}",
              CLAIMS(AUD, 1700000000, 1700000010, "j"), "ES384"),
      .username = JT_NAME, .want = DANCE_KEY_MISMATCH },
    /* alg none */
    { "alg none", SIGNATURE(HDR_NONE, CLAIMS(AUD, 1700000000, 1700000010, "j"), ""),
      .username = JT_NAME, .want = DANCE_BAD_ALG },
    { "alg none with a signature",
      SIGNATURE(HDR_NONE, CLAIMS(AUD, 1700000000, 1700000010, "j"), "AAAA"),
      .username = JT_NAME, .want = DANCE_BAD_ALG, .status_name = "bad_alg",
      .identity = JT_NAME },            /* who it claimed to be */
    /* lifetime */
    { "lifetime at the maximum", MADE(AUD, 600), .username = JT_NAME,
      .want = DANCE_OK },
    { "lifetime over the maximum", MADE(AUD, 601), .username = JT_NAME,
      .want = DANCE_LIFETIME, .status_name = "lifetime_too_long",
      .reason_has = "601 s" },
    /* a lifetime over the maximum is refused even long before exp */
    { "exp at iat", CRAFTED(HDR_ES256, CLAIMS(AUD, 1700000000, 1700000000, "j"), "ES256"),
      .username = JT_NAME, .want = DANCE_LIFETIME },
    /* the default maximum is five minutes */
    { "over the default maximum", MADE(AUD, 301), .default_max_lifetime = true,
      .username = JT_NAME, .want = DANCE_LIFETIME },
    { "at the default maximum", MADE(AUD, 300), .default_max_lifetime = true,
      .username = JT_NAME, .want = DANCE_OK },
    /* not yet valid: iat within max_skew (30 s) of the clock is fine */
    { "iat 30 s ahead", CRAFTED(HDR_ES256, CLAIMS(AUD, 1700000030, 1700000090, "a"), "ES256"),
      .username = JT_NAME, .want = DANCE_OK },
    { "iat 31 s ahead", CRAFTED(HDR_ES256, CLAIMS(AUD, 1700000031, 1700000090, "b"), "ES256"),
      .username = JT_NAME, .want = DANCE_NOT_YET_VALID,
      .status_name = "not_yet_valid" },
    { "nbf ahead",
      CRAFTED(HDR_ES256, "{\"aud\":\"" AUD "\",\"iat\":1700000000,\"exp\":1700000090,"
              "\"nbf\":1700000060,\"jti\":\"c\"}", "ES256"),
      .username = JT_NAME, .want = DANCE_NOT_YET_VALID },
    { "nbf within the skew",
      CRAFTED(HDR_ES256, "{\"aud\":\"" AUD "\",\"iat\":1700000000,\"exp\":1700000090,"
              "\"nbf\":1700000060,\"jti\":\"c\"}", "ES256"),
      .at = 30, .username = JT_NAME, .want = DANCE_OK },
    /* identity: kid against the username */
    { "kid is not the username", MADE(AUD, 300), .username = "dev2._device.acme.example",
      .want = DANCE_IDENTITY_MISMATCH, .status_name = "identity_mismatch",
      .reason_has = "dev2._device.acme.example", .identity = JT_NAME },
    { "no username", MADE(AUD, 300), .username = NULL, .want = DANCE_IDENTITY_MISMATCH },
    { "empty username", MADE(AUD, 300), .username = "", .want = DANCE_IDENTITY_MISMATCH },
    { "username not a name", MADE(AUD, 300), .username = "bad name\x01",
      .want = DANCE_IDENTITY_MISMATCH },
    { "x5u without kid",
      CRAFTED("{\"alg\":\"ES256\",\"x5u\":\"dns:" JT_NAME "?type=TLSA\"}",
              CLAIMS(AUD, 1700000000, 1700000010, "j"), "ES256"),
      .username = JT_NAME, .want = DANCE_IDENTITY_MISMATCH },
    { "no sender", CRAFTED("{\"alg\":\"ES256\"}", CLAIMS(AUD, 1700000000, 1700000010, "j"),
                           "ES256"),
      .username = JT_NAME, .want = DANCE_IDENTITY_MISMATCH },
    { "kid not a name",
      CRAFTED("{\"alg\":\"ES256\",\"kid\":\"not a name\"}",
              CLAIMS(AUD, 1700000000, 1700000010, "j"), "ES256"),
      .username = "not a name", .want = DANCE_IDENTITY_MISMATCH },
    /* Tokens are not messages: a token must say typ JWT
     * ("application/jwt" and any case too) */
    { "no typ",
      CRAFTED("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\"}",
              CLAIMS(AUD, 1700000000, 1700000100, "typ-1"), "ES256"),
      .username = JT_NAME, .want = DANCE_UNSUPPORTED, .reason_has = "typ" },
    { "typ JOSE",
      CRAFTED("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"typ\":\"JOSE\"}",
              CLAIMS(AUD, 1700000000, 1700000100, "typ-1"), "ES256"),
      .username = JT_NAME, .want = DANCE_UNSUPPORTED, .reason_has = "JOSE" },
    { "typ Application/JWT",
      CRAFTED("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"typ\":\"Application/JWT\"}",
              CLAIMS(AUD, 1700000000, 1700000100, "typ-1"), "ES256"),
      .username = JT_NAME, .want = DANCE_OK },
};

static char *case_token(const verify_case *c)
{
    EVP_PKEY *key = c->other_key ? fx.ec256b : fx.ec256;

    switch (c->kind) {
    case T_MADE:
        return make(key, JT_NAME, c->aud, c->lifetime, NULL, NULL);
    case T_CRAFTED:
        return crafted(c->hdr, c->claims, key, c->alg);
    case T_SIGNATURE:
        return jt_jws_sig(c->hdr, c->claims, c->sig);
    }
    fail_msg("%s: no such token kind", c->what);
    return NULL;
}

static void test_verify_case(void **state)
{
    const verify_case *c = *state;
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL };
    dance_token_result res;
    char *t = case_token(c);

    jt_add(&set, 3, 1, 0, fx.c_ec256);
    if (c->default_max_lifetime)
        pol.max_lifetime = 0;
    fx.now = NOW + c->at;
    assert_int_equal(verify(t, c->username, &set, &pol, &res), c->want);
    if (c->status_name != NULL)
        assert_string_equal(dance_status_name(res.status), c->status_name);
    if (c->reason_has != NULL)
        assert_non_null(strstr(res.reason, c->reason_has));
    if (c->identity != NULL)
        assert_string_equal(res.identity, c->identity);
    if (c->exp != 0)
        assert_int_equal(res.exp, c->exp);
    for (const char *p = res.reason; *p != '\0'; p++)
        assert_true((unsigned char)*p >= 0x20);     /* log-safe */
    free(t);
    dance_tlsa_rrset_clear(&set);
}

/* -------------------------------------------------- verify: the others */

/* a verifier without an audience accepts nothing */
static void test_no_audience(void **state)
{
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL };
    dance_token_result res;
    char *t = make(fx.ec256, JT_NAME, "other-broker.example", 300, NULL, NULL);

    (void)state;
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    pol.audience = NULL;
    assert_int_equal(verify(t, JT_NAME, &set, &pol, &res), DANCE_INTERNAL);
    free(t);
    dance_tlsa_rrset_clear(&set);
}

static void test_replay(void **state)
{
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL };
    dance_token_result res;
    dance_replay_stats rs;
    char *t = make(fx.ec256, JT_NAME, AUD, 300, NULL, "jti-1");
    char *t2 = make(fx.ec256, JT_NAME, AUD, 300, NULL, "jti-2");
    char *forged = make(fx.ec256b, JT_NAME, AUD, 300, NULL, "jti-3");
    char *real3 = make(fx.ec256, JT_NAME, AUD, 300, NULL, "jti-3");

    (void)state;
    assert_int_equal(dance_token_replay_window(&pol), 630);
    pol.replay = dance_replay_new(100, dance_token_replay_window(&pol), fake_mono, NULL);
    assert_non_null(pol.replay);
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    assert_int_equal(verify(t, JT_NAME, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(t, JT_NAME, &set, &pol, &res), DANCE_REPLAY);
    assert_string_equal(dance_status_name(res.status), "replay");
    assert_non_null(strstr(res.reason, "jti-1"));
    /* a fresh jti is fine */
    assert_int_equal(verify(t2, JT_NAME, &set, &pol, &res), DANCE_OK);
    /* a forgery does not use up the jti it names */
    assert_int_equal(verify(forged, JT_NAME, &set, &pol, &res), DANCE_BAD_SIGNATURE);
    assert_int_equal(verify(real3, JT_NAME, &set, &pol, &res), DANCE_OK);
    /* an expired token is refused before it reaches the cache */
    fx.now = NOW + 400;
    assert_int_equal(verify(t2, JT_NAME, &set, &pol, &res), DANCE_EXPIRED);
    dance_replay_get_stats(pol.replay, &rs);
    assert_int_equal(rs.entries, 3);
    assert_int_equal(rs.replays, 1);
    dance_replay_free(pol.replay);
    free(t);
    free(t2);
    free(forged);
    free(real3);
    dance_tlsa_rrset_clear(&set);
}

/* changed claims under a good signature */
static void test_tampered_claims(void **state)
{
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL };
    dance_token_result res;
    char *good, *tampered;

    (void)state;
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    good = make(fx.ec256, JT_NAME, AUD, 300, NULL, NULL);
    tampered = strdup(good);
    assert_non_null(tampered);
    {
        char *p = strchr(tampered, '.') + 1;
        p[3] = p[3] == 'a' ? 'b' : 'a';
    }
    assert_int_not_equal(verify(tampered, JT_NAME, &set, &pol, &res), DANCE_OK);
    assert_int_equal(verify(good, JT_NAME, &set, &pol, &res), DANCE_OK);
    free(good);
    free(tampered);
    dance_tlsa_rrset_clear(&set);
}

/* HS256 keyed with the published public key: the key-confusion attack */
static void test_hs256(void **state)
{
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL };
    dance_token_result res;
    char *c = claims_json(AUD, NOW, NOW + 10, "j");
    const char *hs_hdr = "{\"alg\":\"HS256\",\"kid\":\"" JT_NAME "\"}";
    char *h64 = jt_b64url(hs_hdr, strlen(hs_hdr)), *p64 = jt_b64url(c, strlen(c));
    char si[1024], *mac64, *hs;
    unsigned char *spki = NULL, mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int spkilen;

    (void)state;
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    spkilen = i2d_PUBKEY(fx.ec256, &spki);
    assert_true(spkilen > 0);
    snprintf(si, sizeof(si), "%s.%s", h64, p64);
    assert_non_null(HMAC(EVP_sha256(), spki, spkilen, (unsigned char *)si, strlen(si),
                         mac, &maclen));
    mac64 = jt_b64url(mac, maclen);
    hs = jt_jws_sig(hs_hdr, c, mac64);
    assert_int_equal(verify(hs, JT_NAME, &set, &pol, &res), DANCE_BAD_ALG);
    assert_non_null(strstr(res.reason, "HS256"));
    OPENSSL_free(spki);
    free(c);
    free(h64);
    free(p64);
    free(mac64);
    free(hs);
    dance_tlsa_rrset_clear(&set);
}

static void test_outside_allow_list(void **state)
{
    dance_token_policy pol = policy();
    dance_token_result res;
    dance_token *tok = NULL;
    const char *name = "dev1._device.evil.example";
    char *t = make(fx.ec256, name, AUD, 300, NULL, NULL);
    dance_jws_source src = { NULL, NULL };

    (void)state;
    assert_int_equal(dance_token_parse(t, strlen(t), name, &tok, &res), DANCE_OK);
    assert_int_equal(dance_token_check(tok, &pol, &res), DANCE_NOT_ALLOWED);
    assert_string_equal(dance_status_name(res.status), "outside_allowed_domains");
    assert_int_equal(dance_token_verify(tok, NULL, &pol, &res), DANCE_NOT_ALLOWED);
    assert_int_equal(dance_token_recheck(tok, DANCE_OK, NULL, NULL, &pol, &res),
                     DANCE_NOT_ALLOWED);
    /* the chained call refuses before it would need a resolver */
    assert_int_equal(dance_token_verify_password(t, strlen(t), name, &pol, &src, &res),
                     DANCE_NOT_ALLOWED);
    /* a name under the list gets as far as wanting DNS */
    free(t);
    t = make(fx.ec256, JT_NAME, AUD, 300, NULL, NULL);
    assert_int_equal(dance_token_verify_password(t, strlen(t), JT_NAME, &pol, &src, &res),
                     DANCE_INTERNAL);
    assert_non_null(strstr(res.reason, "no resolver"));
    dance_token_free(tok);
    free(t);
}

static void expect_malformed(const char *token, dance_status want, const char *why)
{
    dance_token_result res;
    dance_token *tok = (dance_token *)0x1;

    if (dance_token_parse(token, strlen(token), JT_NAME, &tok, &res) != want)
        fail_msg("%s: got %s (%s), want %s", why, dance_status_name(res.status),
                 res.reason, dance_status_name(want));
    assert_null(tok);
    assert_int_equal(res.status, want);
    assert_true(res.reason[0] != '\0');
}

static void test_malformed(void **state)
{
    char *good = make(fx.ec256, JT_NAME, AUD, 300, NULL, NULL);
    char *flat = jt_flattened(good, NULL);
    char big[DANCE_TOKEN_MAX_SIZE + 2];
    static const struct { const char *claims; const char *why; } bad_claims[] = {
        { "not json", "payload not JSON" },
        { "[1,2]", "payload not an object" },
        { "{\"aud\":\"" AUD "\",\"iat\":1700000000,\"exp\":1700000100}", "no jti" },
        { "{\"aud\":\"" AUD "\",\"iat\":1700000000,\"jti\":\"x\"}", "no exp" },
        { "{\"aud\":\"" AUD "\",\"exp\":1700000100,\"jti\":\"x\"}", "no iat" },
        { "{\"iat\":1700000000,\"exp\":1700000100,\"jti\":\"x\"}", "no aud" },
        { "{\"aud\":1,\"iat\":1700000000,\"exp\":1700000100,\"jti\":\"x\"}", "aud number" },
        { "{\"aud\":[],\"iat\":1700000000,\"exp\":1700000100,\"jti\":\"x\"}", "aud empty" },
        { "{\"aud\":[\"" AUD "\",2],\"iat\":1700000000,\"exp\":1700000100,\"jti\":\"x\"}",
          "aud array with a number" },
        { "{\"aud\":\"\",\"iat\":1700000000,\"exp\":1700000100,\"jti\":\"x\"}", "aud empty string" },
        { "{\"aud\":\"" AUD "\",\"iat\":\"1700000000\",\"exp\":1700000100,\"jti\":\"x\"}",
          "iat string" },
        { "{\"aud\":\"" AUD "\",\"iat\":-5,\"exp\":1700000100,\"jti\":\"x\"}", "iat negative" },
        { "{\"aud\":\"" AUD "\",\"iat\":1700000000,\"exp\":1e300,\"jti\":\"x\"}", "exp huge" },
        { "{\"aud\":\"" AUD "\",\"iat\":1700000000,\"exp\":1700000100,\"nbf\":null,\"jti\":\"x\"}",
          "nbf null" },
        { "{\"aud\":\"" AUD "\",\"iat\":1700000000,\"exp\":1700000100,\"jti\":\"\"}", "jti empty" },
        { "{\"aud\":\"" AUD "\",\"iat\":1700000000,\"exp\":1700000100,\"jti\":7}", "jti number" },
        { "{\"aud\":\"" AUD "\",\"aud\":\"x\",\"iat\":1700000000,\"exp\":1700000100,"
          "\"jti\":\"x\"}", "repeated claim" },
        { "{\"aud\":\"" AUD "\\u0000x\",\"iat\":1700000000,\"exp\":1700000100,\"jti\":\"x\"}",
          "NUL escape" },
    };
    size_t i;

    (void)state;
    expect_malformed("", DANCE_MALFORMED, "empty");
    expect_malformed("secret-password", DANCE_MALFORMED, "plain password");
    expect_malformed("a.b.c.d.e", DANCE_MALFORMED, "JWE");
    expect_malformed(flat, DANCE_MALFORMED, "flattened JSON");
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_malformed(big, DANCE_MALFORMED, "too large");
    for (i = 0; i < sizeof(bad_claims) / sizeof(bad_claims[0]); i++) {
        char *t = crafted(HDR_ES256, bad_claims[i].claims, fx.ec256, "ES256");
        expect_malformed(t, DANCE_MALFORMED, bad_claims[i].why);
        free(t);
    }
    {
        char *c = claims_json(AUD, NOW, NOW + 10, "j");
        char *typ = crafted("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"typ\":\"at+jwt\"}",
                            c, fx.ec256, "ES256");
        char *typnum = crafted("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"typ\":1}",
                               c, fx.ec256, "ES256");
        char *crit = crafted("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"crit\":[\"exp\"],"
                             "\"exp\":1,\"typ\":\"JWT\"}", c, fx.ec256, "ES256");
        char *b64 = crafted("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"b64\":false,"
                            "\"crit\":[\"b64\"],\"typ\":\"JWT\"}", c, fx.ec256, "ES256");
        char *unknown = crafted("{\"alg\":\"ES257\",\"kid\":\"" JT_NAME "\"}", c, fx.ec256,
                                "ES256");
        expect_malformed(typ, DANCE_UNSUPPORTED, "typ at+jwt");
        expect_malformed(typnum, DANCE_UNSUPPORTED, "typ not a string");
        expect_malformed(crit, DANCE_UNSUPPORTED, "unknown crit");
        expect_malformed(b64, DANCE_UNSUPPORTED, "b64 false");
        expect_malformed(unknown, DANCE_BAD_ALG, "unknown alg");
        free(c);
        free(typ);
        free(typnum);
        free(crit);
        free(b64);
        free(unknown);
    }
    free(good);
    free(flat);
}

/* Tokens are not messages (the typ cases of verify_cases): a signed message
 * (dance sign writes no typ) carrying token-shaped claims is no password;
 * dance_token_sign writes typ JWT. */
static void test_typ_required(void **state)
{
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL };
    dance_token_result res;
    dance_jws_sign_opts mo;
    char *c = claims_json(AUD, NOW, NOW + 100, "typ-1");
    char *msg = NULL, *tok, err[DANCE_REASON_MAX];
    size_t len = 0;

    (void)state;
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    /* the library's message signer, claims as payload: not a token */
    memset(&mo, 0, sizeof(mo));
    mo.key = fx.ec256;
    mo.name = JT_NAME;
    assert_int_equal(dance_jws_sign(&mo, c, strlen(c), &msg, &len, err, sizeof(err)), 0);
    assert_int_equal(verify(msg, JT_NAME, &set, &pol, &res), DANCE_UNSUPPORTED);
    assert_non_null(strstr(res.reason, "typ"));
    /* the token signer says JWT in the protected header */
    tok = make(fx.ec256, JT_NAME, AUD, 60, NULL, NULL);
    {
        const char *dot = strchr(tok, '.');
        unsigned char raw[800];
        char b64[700];
        size_t hl, i;
        int n;

        assert_non_null(dot);
        hl = (size_t)(dot - tok);
        assert_true(hl < sizeof(b64) - 4);
        /* base64url -> base64 for EVP_DecodeBlock */
        for (i = 0; i < hl; i++)
            b64[i] = tok[i] == '-' ? '+' : tok[i] == '_' ? '/' : tok[i];
        while (i % 4 != 0)
            b64[i++] = '=';
        b64[i] = '\0';
        n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)i);
        assert_true(n > 0);
        raw[n] = '\0';
        assert_non_null(strstr((const char *)raw, "\"typ\":\"JWT\""));
    }
    free(tok);
    free(msg);
    free(c);
    dance_tlsa_rrset_clear(&set);
}

static void test_dns_outcomes(void **state)
{
    static const struct { dance_status dns; dance_status want; } cases[] = {
        { DANCE_LOOKUP_FAILED, DANCE_LOOKUP_FAILED },
        { DANCE_BOGUS, DANCE_BOGUS },
        { DANCE_INSECURE, DANCE_INSECURE },
        { DANCE_NO_RECORD, DANCE_NO_RECORD },
    };
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL };
    dance_token_result res;
    dance_token *tok = NULL;
    char *t = make(fx.ec256, JT_NAME, AUD, 300, NULL, NULL);
    size_t i;

    (void)state;
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    assert_int_equal(dance_token_parse(t, strlen(t), JT_NAME, &tok, &res), DANCE_OK);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(dance_token_verify_dns(tok, cases[i].dns, NULL, "dns says no",
                                                &pol, &res), cases[i].want);
        assert_string_equal(res.reason, "dns says no");
        assert_int_equal(dance_token_verify_dns(tok, cases[i].dns, NULL, NULL, &pol, &res),
                         cases[i].want);
        assert_non_null(strstr(res.reason, JT_NAME));
    }
    assert_int_equal(dance_token_verify_dns(tok, DANCE_OK, &set, NULL, &pol, &res),
                     DANCE_OK);
    /* secure but empty */
    {
        dance_tlsa_rrset empty = { 0, NULL };
        assert_int_equal(dance_token_verify_dns(tok, DANCE_OK, &empty, NULL, &pol,
                                                &res), DANCE_NO_USABLE_RECORD);
    }
    /* an expired token is refused as expired while DNS fails */
    fx.now = NOW + 1000;
    assert_int_equal(dance_token_verify_dns(tok, DANCE_LOOKUP_FAILED, NULL, NULL, &pol, &res),
                     DANCE_EXPIRED);
    dance_token_free(tok);
    free(t);
    dance_tlsa_rrset_clear(&set);
}

static void test_recheck(void **state)
{
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL }, changed = { 0, NULL }, x5cset = { 0, NULL };
    dance_token_result res;
    dance_token *tok = NULL, *xtok = NULL;
    char *t = make(fx.ec256, JT_NAME, AUD, 300, NULL, "r1");
    char *x = make(fx.ed25519, JT_NAME, AUD, 300, fx.c_ed25519, "r2");

    (void)state;
    pol.replay = dance_replay_new(10, dance_token_replay_window(&pol), fake_mono, NULL);
    assert_non_null(pol.replay);
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    jt_add(&changed, 3, 1, 0, fx.c_ec256b);
    jt_add(&x5cset, 3, 1, 1, fx.c_ed25519);
    assert_int_equal(dance_token_parse(t, strlen(t), JT_NAME, &tok, &res), DANCE_OK);
    assert_int_equal(dance_token_parse(x, strlen(x), JT_NAME, &xtok, &res), DANCE_OK);
    assert_int_equal(dance_token_verify(tok, &set, &pol, &res), DANCE_OK);
    assert_int_equal(dance_token_verify(xtok, &x5cset, &pol, &res), DANCE_OK);
    /* long after expiry, with the jti used: the key question only */
    fx.now = NOW + 100000;
    assert_int_equal(dance_token_recheck(tok, DANCE_OK, &set, NULL, &pol, &res),
                     DANCE_OK);
    assert_string_equal(res.key_source, "tlsa 3 1 0");
    assert_int_equal(dance_token_recheck(xtok, DANCE_OK, &x5cset, NULL, &pol, &res),
                     DANCE_OK);
    /* records removed, changed, bogus, or DNS down */
    assert_int_equal(dance_token_recheck(tok, DANCE_NO_RECORD, NULL, NULL, &pol,
                                         &res), DANCE_NO_RECORD);
    assert_int_equal(dance_token_recheck(tok, DANCE_OK, &changed, NULL, &pol, &res),
                     DANCE_BAD_SIGNATURE);
    assert_int_equal(dance_token_recheck(xtok, DANCE_OK, &changed, NULL, &pol, &res),
                     DANCE_CERT_MISMATCH);
    assert_int_equal(dance_token_recheck(tok, DANCE_BOGUS, NULL, "bogus!", &pol, &res),
                     DANCE_BOGUS);
    assert_int_equal(dance_token_recheck(tok, DANCE_LOOKUP_FAILED, NULL, NULL, &pol, &res),
                     DANCE_LOOKUP_FAILED);
    dance_replay_free(pol.replay);
    dance_token_free(tok);
    dance_token_free(xtok);
    free(t);
    free(x);
    dance_tlsa_rrset_clear(&set);
    dance_tlsa_rrset_clear(&changed);
    dance_tlsa_rrset_clear(&x5cset);
}

/* A token with iat in its protected header: the login holds that iat to
 * the skew, a re-check does not (it only asks whether the key is still in
 * DNS), so such a client is not "revoked" once the skew has passed. */
static void test_recheck_ignores_header_iat(void **state)
{
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL }, changed = { 0, NULL };
    dance_token_result res;
    dance_token *tok = NULL;
    char hdr[256];
    char *c = claims_json(AUD, NOW, NOW + 300, "hdr-iat");
    char *t;

    (void)state;
    snprintf(hdr, sizeof(hdr),
             "{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"typ\":\"JWT\",\"iat\":%d}",
             NOW);
    t = crafted(hdr, c, fx.ec256, "ES256");
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    jt_add(&changed, 3, 1, 0, fx.c_ec256b);
    assert_int_equal(dance_token_parse(t, strlen(t), JT_NAME, &tok, &res), DANCE_OK);
    assert_int_equal(dance_token_verify(tok, &set, &pol, &res), DANCE_OK);
    /* past the skew (30 s here): a login would be refused for it now ... */
    fx.now = NOW + 31;
    assert_int_equal(dance_token_verify(tok, &set, &pol, &res), DANCE_EXPIRED);
    /* ... a re-check is not, at any later time, even past exp */
    for (int64_t later = 31; later < 100000; later *= 3) {
        fx.now = NOW + later;
        assert_int_equal(dance_token_recheck(tok, DANCE_OK, &set, NULL, &pol, &res),
                         DANCE_OK);
    }
    /* and a changed key still ends it */
    assert_int_equal(dance_token_recheck(tok, DANCE_OK, &changed, NULL, &pol, &res),
                     DANCE_BAD_SIGNATURE);
    dance_token_free(tok);
    free(t);
    free(c);
    dance_tlsa_rrset_clear(&set);
    dance_tlsa_rrset_clear(&changed);
}

static void test_accessors_and_keycache(void **state)
{
    dance_token_policy pol = policy();
    dance_tlsa_rrset set = { 0, NULL };
    dance_token_result res;
    dance_token *tok = NULL;
    dance_jws_keycache_stats ks;
    char *t = make(fx.ec256, "DEV1._Device.Acme.Example", AUD, 120, NULL, "my-jti");
    const dance_jws_header *h;

    (void)state;
    assert_int_equal(dance_token_parse(t, strlen(t), JT_NAME, &tok, &res), DANCE_OK);
    assert_string_equal(dance_token_identity(tok), JT_NAME);
    assert_int_equal(dance_token_exp(tok), NOW + 120);
    assert_string_equal(dance_token_jti(tok), "my-jti");
    h = dance_jws_get_header(dance_token_jws(tok));
    assert_non_null(h);
    assert_string_equal(h->kid, JT_NAME);
    assert_int_equal(h->x5c_count, 0);
    assert_null(dance_token_identity(NULL));
    assert_string_equal(dance_status_name(DANCE_STATUS_COUNT), "unknown");
    pol.keys = dance_jws_keycache_new(16);
    assert_non_null(pol.keys);
    jt_add(&set, 3, 1, 0, fx.c_ec256);
    assert_int_equal(dance_token_verify(tok, &set, &pol, &res), DANCE_OK);
    assert_int_equal(dance_token_verify(tok, &set, &pol, &res), DANCE_OK);
    dance_jws_keycache_get_stats(pol.keys, &ks);
    assert_int_equal(ks.hits, 1);
    assert_int_equal(dance_token_check(NULL, &pol, &res), DANCE_INTERNAL);
    dance_jws_keycache_free(pol.keys);
    dance_token_free(tok);
    dance_token_free(NULL);
    free(t);
    dance_tlsa_rrset_clear(&set);
}

static void test_sign_refusals(void **state)
{
    dance_token_sign_opts o;
    STACK_OF(X509) *chain = sk_X509_new_null();
    char *out = (char *)0x1, err[DANCE_REASON_MAX];
    char longaud[DANCE_TOKEN_AUDIENCE_MAX + 2];

    (void)state;
    assert_non_null(chain);
    memset(&o, 0, sizeof(o));
    o.key = fx.ec256;
    o.name = JT_NAME;
    assert_int_equal(dance_token_sign(&o, &out, NULL, err, sizeof(err)), -1);
    assert_null(out);
    assert_non_null(strstr(err, "audience"));
    memset(longaud, 'a', sizeof(longaud) - 1);
    longaud[sizeof(longaud) - 1] = '\0';
    o.audience = longaud;
    assert_int_equal(dance_token_sign(&o, &out, NULL, err, sizeof(err)), -1);
    o.audience = AUD;
    o.name = "not a name";
    assert_int_equal(dance_token_sign(&o, &out, NULL, err, sizeof(err)), -1);
    o.name = JT_NAME;
    o.alg = "ES384";
    assert_int_equal(dance_token_sign(&o, &out, NULL, err, sizeof(err)), -1);
    o.alg = NULL;
    assert_true(sk_X509_push(chain, fx.c_ec256b) > 0);
    o.x5c = chain;          /* leaf holds another key */
    assert_int_equal(dance_token_sign(&o, &out, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "x5c"));
    o.x5c = NULL;
    o.jti = "";
    assert_int_equal(dance_token_sign(&o, &out, NULL, err, sizeof(err)), -1);
    o.jti = NULL;
    assert_int_equal(dance_token_sign(&o, &out, NULL, err, sizeof(err)), 0);
    assert_non_null(out);
    /* two tokens never share a random jti */
    {
        char *out2 = NULL;
        dance_token_result r1, r2;
        dance_token *t1 = NULL, *t2 = NULL;
        assert_int_equal(dance_token_sign(&o, &out2, NULL, err, sizeof(err)), 0);
        assert_int_equal(dance_token_parse(out, strlen(out), JT_NAME, &t1, &r1), 0);
        assert_int_equal(dance_token_parse(out2, strlen(out2), JT_NAME, &t2, &r2), 0);
        assert_int_equal(strlen(dance_token_jti(t1)), 22);
        assert_string_not_equal(dance_token_jti(t1), dance_token_jti(t2));
        dance_token_free(t1);
        dance_token_free(t2);
        free(out2);
    }
    free(out);
    sk_X509_free(chain);
}

#define N_CASES (sizeof(verify_cases) / sizeof(verify_cases[0]))

int main(void)
{
    static const struct CMUnitTest others[] = {
        cmocka_unit_test_setup(test_valid_310, reset_clock),
        cmocka_unit_test_setup(test_valid_311_x5c, reset_clock),
        cmocka_unit_test_setup(test_x5c_wildcard_leaf_refused, reset_clock),
        cmocka_unit_test_setup(test_valid_300_rsa_and_aud_array, reset_clock),
        cmocka_unit_test_setup(test_no_audience, reset_clock),
        cmocka_unit_test_setup(test_replay, reset_clock),
        cmocka_unit_test_setup(test_tampered_claims, reset_clock),
        cmocka_unit_test_setup(test_hs256, reset_clock),
        cmocka_unit_test_setup(test_outside_allow_list, reset_clock),
        cmocka_unit_test_setup(test_malformed, reset_clock),
        cmocka_unit_test_setup(test_typ_required, reset_clock),
        cmocka_unit_test_setup(test_dns_outcomes, reset_clock),
        cmocka_unit_test_setup(test_recheck, reset_clock),
        cmocka_unit_test_setup(test_recheck_ignores_header_iat, reset_clock),
        cmocka_unit_test_setup(test_accessors_and_keycache, reset_clock),
        cmocka_unit_test_setup(test_sign_refusals, reset_clock),
    };
    /* one group, so the keys are made once: the table's cases, each under
     * its own name, then the others */
    struct CMUnitTest tests[N_CASES + sizeof(others) / sizeof(others[0])];
    size_t i;

    for (i = 0; i < N_CASES; i++) {
        struct CMUnitTest t = {
            .name = verify_cases[i].what, .test_func = test_verify_case,
            .setup_func = reset_clock, .initial_state = (void *)&verify_cases[i],
        };
        tests[i] = t;
    }
    for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        tests[N_CASES + i] = others[i];
    return cmocka_run_group_tests(tests, setup, teardown);
}
