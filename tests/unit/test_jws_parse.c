/*
 * test_jws_parse.c - the cheap step of JWS verification (lib/jws_parse.c):
 * RFC 4501 DNS URIs, both serializations, the protected header, and every
 * refusal that needs no key. Messages are crafted by hand (jwstest.c), with
 * made-up signatures where the parse step never looks at them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dance/jws.h"
#include "jwstest.h"

/* 64 bytes of signature-shaped base64url: parse only decodes it */
#define FAKE_SIG "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-Pw"

static dance_status parse_str(const char *s, dance_jws **out, char *err, size_t errlen)
{
    return dance_jws_parse(s, strlen(s), 0, out, NULL, err, errlen);
}

/* parse_hdr - status of a compact message with this header */
static dance_status parse_hdr(const char *hdr)
{
    char *m = jt_jws_sig(hdr, "payload", FAKE_SIG), err[DANCE_REASON_MAX];
    dance_jws *jws = NULL;
    dance_status st = parse_str(m, &jws, err, sizeof(err));

    if (st == DANCE_OK)
        assert_non_null(jws);
    else {
        assert_null(jws);
        assert_true(err[0] != '\0');    /* every refusal says why */
    }
    dance_jws_free(jws);
    free(m);
    return st;
}

/* ------------------------------------------------------------ DNS URIs */

static void test_uri_good(void **state)
{
    static const char *const ok[] = {
        "dns:dev1._device.acme.example?type=TLSA",
        "dns://1.2.3.4/dev1._device.acme.example?type=TLSA",
        "dns://dev1._device.acme.example?type=TLSA",          /* prototypes */
        "DNS:Dev1._Device.ACME.example.?TYPE=tlsa",
        "dns:dev1._device.acme.example?type=TLSA;class=IN",
        "dns:dev1._device.acme.example?class=IN;type=52",
        "dns:///dev1._device.acme.example?type=TLSA",
        "dns://[2001:db8::1]:53/dev1._device.acme.example?type=TLSA",
        "dns://ns.example:5353/dev1._device.acme.example?type=TLSA",
        "dns:dev1.%5Fdevice.acme.example?type=TLSA",
    };
    char name[DANCE_NAME_MAX + 1], err[DANCE_REASON_MAX];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        name[0] = '\0';
        if (dance_dns_uri_name(ok[i], name, sizeof(name), err, sizeof(err)) != 0)
            fail_msg("%s refused: %s", ok[i], err);
        assert_string_equal(name, JT_NAME);
    }
}

static void test_uri_bad(void **state)
{
    static const char *const bad[] = {
        "https://dev1._device.acme.example/key",
        "dns:dev1._device.acme.example",                    /* no query */
        "dns:dev1._device.acme.example?type=A",
        "dns:dev1._device.acme.example?type=TLSA;class=CH",
        "dns:dev1._device.acme.example?foo=bar",
        "dns:dev1._device.acme.example?",
        "dns://1.2.3.4:53?type=TLSA",                       /* a server, no name */
        "dns:?type=TLSA",
        "dns://1.2.3.4/?type=TLSA",
        "dns:a..b?type=TLSA",
        "dns:na%2Fme.example?type=TLSA",                    /* decodes to '/' */
        "dns:x%0?type=TLSA",
        "dns:x%00y.example?type=TLSA",
        "dns:x%zz.example?type=TLSA",
        "dns:dev1._device.acme.example?type=TLSA#frag",
        "dns://1.2.3.4/a/b?type=TLSA",
        "dns:bad name.example?type=TLSA",
        "",
    };
    char name[DANCE_NAME_MAX + 1], err[DANCE_REASON_MAX];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (dance_dns_uri_name(bad[i], name, sizeof(name), err, sizeof(err)) == 0)
            fail_msg("%s accepted as %s", bad[i], name);
        assert_true(err[0] != '\0');
    }
}

/* ------------------------------------------------------------- headers */

static void test_header_fields(void **state)
{
    char *m = jt_jws_sig("{\"alg\":\"ES256\",\"kid\":\"Dev1._Device.ACME.example.\","
                         "\"iat\":1700000000.75,\"jti\":\"abc\",\"topic\":\"sensors/x\","
                         "\"typ\":\"JOSE\",\"x5t\":\"ignored\"}",
                         "hello", FAKE_SIG);
    dance_jws *jws = NULL;
    const dance_jws_header *h;
    char err[DANCE_REASON_MAX];

    (void)state;
    assert_int_equal(parse_str(m, &jws, err, sizeof(err)), DANCE_OK);
    h = dance_jws_get_header(jws);
    assert_int_equal(h->serialization, DANCE_JWS_COMPACT);
    assert_int_equal(h->alg, DANCE_JWS_ES256);
    assert_string_equal(h->sender, JT_NAME);
    assert_string_equal(h->kid, "Dev1._Device.ACME.example.");
    assert_null(h->x5u);
    assert_true(h->has_iat);
    assert_int_equal(h->iat, 1700000000);
    assert_string_equal(h->jti, "abc");
    assert_string_equal(h->topic, "sensors/x");
    assert_int_equal(h->x5c_count, 0);
    dance_jws_free(jws);
    free(m);
}

static void test_algs(void **state)
{
    static const char *const names[] = { "ES256", "ES384", "ES512", "RS256", "RS384",
                                         "RS512", "PS256", "PS384", "PS512", "EdDSA" };
    char hdr[200];
    size_t i;
    dance_jws_alg a;

    (void)state;
    for (i = 0; i < 10; i++) {
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"" JT_NAME "\"}", names[i]);
        assert_int_equal(parse_hdr(hdr), DANCE_OK);
        assert_int_equal(dance_jws_alg_parse(names[i], &a), 0);
        assert_string_equal(dance_jws_alg_name(a), names[i]);
    }
    assert_int_equal(parse_hdr("{\"alg\":\"none\",\"kid\":\"" JT_NAME "\"}"),
                     DANCE_BAD_ALG);
    assert_int_equal(parse_hdr("{\"alg\":\"HS256\",\"kid\":\"" JT_NAME "\"}"),
                     DANCE_BAD_ALG);
    assert_int_equal(parse_hdr("{\"alg\":\"HS512\",\"kid\":\"" JT_NAME "\"}"),
                     DANCE_BAD_ALG);
    assert_int_equal(parse_hdr("{\"alg\":\"es256\",\"kid\":\"" JT_NAME "\"}"),
                     DANCE_BAD_ALG);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256K\",\"kid\":\"" JT_NAME "\"}"),
                     DANCE_BAD_ALG);
    assert_int_equal(parse_hdr("{\"kid\":\"" JT_NAME "\"}"), DANCE_BAD_ALG);
    assert_int_equal(parse_hdr("{\"alg\":256,\"kid\":\"" JT_NAME "\"}"), DANCE_BAD_ALG);
    assert_int_equal(dance_jws_alg_parse("none", &a), -1);
}

static void test_refused_alg_reports_sender(void **state)
{
    char *m = jt_jws_sig("{\"alg\":\"none\",\"kid\":\"" JT_NAME "\"}", "x", FAKE_SIG);
    char sender[DANCE_NAME_MAX + 1], err[DANCE_REASON_MAX];
    dance_jws *jws = NULL;

    (void)state;
    assert_int_equal(dance_jws_parse(m, strlen(m), 0, &jws, sender, err, sizeof(err)),
                     DANCE_BAD_ALG);
    assert_string_equal(sender, JT_NAME);
    assert_non_null(strstr(err, "none"));
    free(m);
}

static void test_crit_b64(void **state)
{
    (void)state;
    /* unknown critical extension */
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"exp\":1,"
                               "\"crit\":[\"exp\"]}"), DANCE_UNSUPPORTED);
    /* b64:false, with or without crit */
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"b64\":false,"
                               "\"crit\":[\"b64\"]}"), DANCE_UNSUPPORTED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"b64\":false}"),
                     DANCE_UNSUPPORTED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"b64\":\"no\"}"),
                     DANCE_MALFORMED);
    /* b64:true is the default and fine, also critical */
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"b64\":true,"
                               "\"crit\":[\"b64\"]}"), DANCE_OK);
    /* crit rules of RFC 7515 4.1.11 */
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"crit\":[]}"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"crit\":\"iat\","
                               "\"iat\":1}"), DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"crit\":[\"kid\"]}"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\","
                               "\"crit\":[\"topic\"]}"), DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"iat\":1,"
                               "\"crit\":[\"iat\",\"iat\"]}"), DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"crit\":[7]}"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"iat\":1,"
                               "\"jti\":\"j\",\"topic\":\"t\","
                               "\"crit\":[\"iat\",\"jti\",\"topic\"]}"), DANCE_OK);
}

static void test_sender_rules(void **state)
{
    (void)state;
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\"}"), DANCE_NO_SENDER);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"jku\":\"https://x/\"}"),
                     DANCE_NO_SENDER);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"not a name!\"}"),
                     DANCE_BAD_SENDER);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":42}"), DANCE_BAD_SENDER);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"\"}"), DANCE_BAD_SENDER);
    /* x5u alone, in each URI form */
    assert_int_equal(parse_hdr("{\"alg\":\"RS256\",\"x5u\":\"dns://" JT_NAME
                               "?type=TLSA\"}"), DANCE_OK);
    assert_int_equal(parse_hdr("{\"alg\":\"RS256\",\"x5u\":\"dns:" JT_NAME
                               "?type=TLSA\"}"), DANCE_OK);
    assert_int_equal(parse_hdr("{\"alg\":\"RS256\",\"x5u\":\"dns://127.0.0.1/" JT_NAME
                               "?type=TLSA\"}"), DANCE_OK);
    /* keys are never fetched from URLs */
    assert_int_equal(parse_hdr("{\"alg\":\"RS256\",\"x5u\":\"https://evil.example/k.pem\"}"),
                     DANCE_BAD_SENDER);
    assert_int_equal(parse_hdr("{\"alg\":\"RS256\",\"kid\":\"" JT_NAME "\","
                               "\"x5u\":\"https://evil.example/k.pem\"}"),
                     DANCE_BAD_SENDER);
    assert_int_equal(parse_hdr("{\"alg\":\"RS256\",\"x5u\":\"dns:" JT_NAME "\"}"),
                     DANCE_BAD_SENDER);
    /* kid and x5u must agree (case and trailing dot do not matter) */
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"DEV1._device.acme.example.\","
                               "\"x5u\":\"dns:" JT_NAME "?type=TLSA\"}"), DANCE_OK);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"dev2._device.acme.example\","
                               "\"x5u\":\"dns:" JT_NAME "?type=TLSA\"}"),
                     DANCE_BAD_SENDER);
    /* kid may itself be a DNS URI, as prototypes write it */
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"dns://" JT_NAME
                               "?type=TLSA\"}"), DANCE_OK);
    /* an unprotected kid never names the sender */
    {
        char *c = jt_jws_sig("{\"alg\":\"ES256\"}", "x", FAKE_SIG);
        char *f = jt_flattened(c, "\"header\":{\"kid\":\"" JT_NAME "\"},");
        char err[DANCE_REASON_MAX];
        dance_jws *jws = NULL;
        assert_int_equal(parse_str(f, &jws, err, sizeof(err)), DANCE_NO_SENDER);
        free(c);
        free(f);
    }
}

static void test_header_types(void **state)
{
    (void)state;
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"iat\":\"now\"}"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"iat\":-5}"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"iat\":1e300}"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"jti\":\"\"}"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"jti\":5}"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"topic\":[]}"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"x5c\":\"MII\"}"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"x5c\":[]}"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\","
                               "\"x5c\":[\"not*base64\"]}"), DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\","
                               "\"x5c\":[\"AAAA\",\"AAAA\",\"AAAA\",\"AAAA\",\"AAAA\","
                               "\"AAAA\",\"AAAA\",\"AAAA\",\"AAAA\"]}"), DANCE_MALFORMED);
    /* x5c DER is parsed only at verification: here it just has to decode */
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\","
                               "\"x5c\":[\"AAAA\"]}"), DANCE_OK);
    /* JSON oddities */
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\",\"alg\":\"none\"}"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\\u0000.evil\"}"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("[\"alg\",\"ES256\"]"), DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\"} x"),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\""),
                     DANCE_MALFORMED);
    assert_int_equal(parse_hdr("not json"), DANCE_MALFORMED);
    assert_int_equal(parse_hdr(""), DANCE_MALFORMED);
}

/* ------------------------------------------------------------ structure */

static dance_status st_of(const char *s)
{
    char err[DANCE_REASON_MAX];
    dance_jws *jws = NULL;
    dance_status st = parse_str(s, &jws, err, sizeof(err));

    dance_jws_free(jws);
    return st;
}

static void test_structure(void **state)
{
    char *good = jt_jws_sig("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\"}", "hi", FAKE_SIG);
    char buf[1024];
    const char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
    int hl = (int)(d1 - good), pl = (int)(d2 - d1 - 1);
    char err[DANCE_REASON_MAX];
    dance_jws *jws = NULL;

    (void)state;
    assert_int_equal(st_of(good), DANCE_OK);
    snprintf(buf, sizeof(buf), "%s\r\n", good);             /* trailing newline */
    assert_int_equal(st_of(buf), DANCE_OK);
    snprintf(buf, sizeof(buf), "%.*s.%s", hl, good, d2 + 1); /* two parts */
    assert_int_equal(st_of(buf), DANCE_MALFORMED);
    snprintf(buf, sizeof(buf), "%s.", good);                 /* four parts */
    assert_int_equal(st_of(buf), DANCE_MALFORMED);
    snprintf(buf, sizeof(buf), "%s.AA.AA", good);            /* five: JWE */
    assert_int_equal(st_of(buf), DANCE_MALFORMED);
    snprintf(buf, sizeof(buf), "%.*s.%.*s.", hl, good, pl, d1 + 1);  /* no signature */
    assert_int_equal(st_of(buf), DANCE_MALFORMED);
    snprintf(buf, sizeof(buf), "%.*s.%.*s.AB+/", hl, good, pl, d1 + 1); /* base64, not url */
    assert_int_equal(st_of(buf), DANCE_MALFORMED);
    snprintf(buf, sizeof(buf), "%.*s.%.*s.AB==", hl, good, pl, d1 + 1); /* padding */
    assert_int_equal(st_of(buf), DANCE_MALFORMED);
    snprintf(buf, sizeof(buf), "%.*s.%.*s.ABD", hl, good, pl, d1 + 1);  /* unused bits */
    assert_int_equal(st_of(buf), DANCE_MALFORMED);
    snprintf(buf, sizeof(buf), "%.*s.%.*s.A", hl, good, pl, d1 + 1);    /* 1 mod 4 */
    assert_int_equal(st_of(buf), DANCE_MALFORMED);
    snprintf(buf, sizeof(buf), "%.*s.a b.%s", hl, good, d2 + 1);      /* payload */
    assert_int_equal(st_of(buf), DANCE_MALFORMED);
    snprintf(buf, sizeof(buf), "%.*s=.%.*s.%s", hl, good, pl, d1 + 1, d2 + 1);
    assert_int_equal(st_of(buf), DANCE_MALFORMED);
    snprintf(buf, sizeof(buf), ".%.*s.%s", pl, d1 + 1, d2 + 1);        /* no header */
    assert_int_equal(st_of(buf), DANCE_MALFORMED);
    assert_int_equal(st_of(""), DANCE_MALFORMED);
    assert_int_equal(st_of(" \n"), DANCE_MALFORMED);
    /* an empty payload is a payload */
    free(good);
    good = jt_jws_sig("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\"}", "", FAKE_SIG);
    assert_int_equal(st_of(good), DANCE_OK);
    /* a NUL inside the message */
    memcpy(buf, good, strlen(good) + 1);
    buf[3] = '\0';
    assert_int_equal(dance_jws_parse(buf, strlen(good), 0, &jws, NULL, err, sizeof(err)),
                     DANCE_MALFORMED);
    free(good);
}

static void test_size_limit(void **state)
{
    char *big = malloc(200001), *m;
    char err[DANCE_REASON_MAX];
    dance_jws *jws = NULL;

    (void)state;
    assert_non_null(big);
    memset(big, 'a', 200000);
    big[200000] = '\0';
    m = jt_jws_sig("{\"alg\":\"ES256\",\"kid\":\"" JT_NAME "\"}", big, FAKE_SIG);
    /* default limit 64 KiB */
    assert_int_equal(dance_jws_parse(m, strlen(m), 0, &jws, NULL, err, sizeof(err)),
                     DANCE_TOO_LARGE);
    assert_null(jws);
    assert_non_null(strstr(err, "limit"));
    /* a configured one */
    assert_int_equal(dance_jws_parse(m, strlen(m), 1000000, &jws, NULL, err, sizeof(err)),
                     DANCE_OK);
    dance_jws_free(jws);
    assert_int_equal(dance_jws_parse(m, strlen(m), strlen(m) - 1, &jws, NULL, err,
                                     sizeof(err)), DANCE_TOO_LARGE);
    free(m);
    free(big);
}

static void test_flattened(void **state)
{
    char *c = jt_jws_sig("{\"alg\":\"RS256\",\"x5u\":\"dns://" JT_NAME "?type=TLSA\"}",
                         "reading", FAKE_SIG);
    char *f = jt_flattened(c, NULL), *g;
    char buf[2048], err[DANCE_REASON_MAX];
    dance_jws *jws = NULL;

    (void)state;
    assert_int_equal(parse_str(f, &jws, err, sizeof(err)), DANCE_OK);
    assert_int_equal(dance_jws_get_header(jws)->serialization, DANCE_JWS_FLATTENED);
    assert_string_equal(dance_jws_get_header(jws)->sender, JT_NAME);
    dance_jws_free(jws);
    /* an unprotected header is allowed (and ignored) */
    g = jt_flattened(c, "\"header\":{\"kid\":\"other.example\",\"note\":1},");
    assert_int_equal(st_of(g), DANCE_OK);
    free(g);
    /* ... but not one carrying crit or b64, nor a non-object */
    g = jt_flattened(c, "\"header\":{\"crit\":[\"exp\"]},");
    assert_int_equal(st_of(g), DANCE_MALFORMED);
    free(g);
    g = jt_flattened(c, "\"header\":{\"b64\":false},");
    assert_int_equal(st_of(g), DANCE_MALFORMED);
    free(g);
    g = jt_flattened(c, "\"header\":7,");
    assert_int_equal(st_of(g), DANCE_MALFORMED);
    free(g);
    /* repeated members */
    g = jt_flattened(c, "\"payload\":\"eA\",");
    assert_int_equal(st_of(g), DANCE_MALFORMED);
    free(g);
    /* general serialization */
    snprintf(buf, sizeof(buf), "{\"payload\":\"eA\",\"signatures\":[]}");
    assert_int_equal(st_of(buf), DANCE_UNSUPPORTED);
    /* missing parts */
    assert_int_equal(st_of("{\"protected\":\"e30\",\"payload\":\"eA\"}"), DANCE_MALFORMED);
    assert_int_equal(st_of("{\"signature\":\"AA\",\"payload\":\"eA\"}"), DANCE_MALFORMED);
    assert_int_equal(st_of("{\"signature\":\"AA\",\"protected\":\"e30\"}"), DANCE_MALFORMED);
    assert_int_equal(st_of("{\"protected\":1,\"payload\":\"eA\",\"signature\":\"AA\"}"),
                     DANCE_MALFORMED);
    /* broken JSON, trailing garbage */
    assert_int_equal(st_of("{\"protected\":"), DANCE_MALFORMED);
    snprintf(buf, sizeof(buf), "%s}", f);
    assert_int_equal(st_of(buf), DANCE_MALFORMED);
    snprintf(buf, sizeof(buf), "%s\n", f);
    assert_int_equal(st_of(buf), DANCE_OK);
    free(f);
    free(c);
}

static void test_status_names(void **state)
{
    int i, j;

    (void)state;
    assert_string_equal(dance_status_name(DANCE_OK), "verified");
    assert_string_equal(dance_status_name(DANCE_STATUS_COUNT), "unknown");
    for (i = 0; i < DANCE_STATUS_COUNT; i++) {
        assert_string_not_equal(dance_status_name((dance_status)i), "unknown");
        for (j = i + 1; j < DANCE_STATUS_COUNT; j++)
            assert_string_not_equal(dance_status_name((dance_status)i),
                                    dance_status_name((dance_status)j));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_good),
        cmocka_unit_test(test_uri_bad),
        cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_algs),
        cmocka_unit_test(test_refused_alg_reports_sender),
        cmocka_unit_test(test_crit_b64),
        cmocka_unit_test(test_sender_rules),
        cmocka_unit_test(test_header_types),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_flattened),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
