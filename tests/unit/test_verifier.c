/*
 * test_verifier.c - the binding-facing API: dance_verifier (options,
 * start, offline verification), results read through accessors,
 * dance_jws_sign_pem and the PEM-text loaders (lib/verifier.c,
 * jws_result.c, jws_sign.c, provision.c).
 *
 * DNS verification with a started resolver is exercised against the real
 * test bed by tests/python/test_dance.py; here only what needs no server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "dance/jws.h"
#include "dance/provision.h"
#include "dance/verifier.h"
#include "jwstest.h"

/* pem_of - key or certificate as PEM text (malloc'd) by the writer given */
enum pem_kind { PEM_PRIVATE, PEM_PUBLIC, PEM_CERT };

static char *pem_of(enum pem_kind kind, EVP_PKEY *key, X509 *cert)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;
    int ok = 0;

    assert_non_null(b);
    switch (kind) {
    case PEM_PRIVATE: ok = PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL); break;
    case PEM_PUBLIC: ok = PEM_write_bio_PUBKEY(b, key); break;
    case PEM_CERT: ok = PEM_write_bio_X509(b, cert); break;
    }
    assert_int_equal(ok, 1);
    n = BIO_get_mem_data(b, &data);
    out = malloc((size_t)n + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(b);
    return out;
}

/* signed_msg - payload signed with key's PEM as JT_NAME (freed with
 * dance_jws_output_free) */
static char *signed_msg(const char *key_pem, const char *payload, const char *topic,
                        unsigned flags)
{
    char err[256], *out = NULL;
    size_t outlen = 0;
    int rc = dance_jws_sign_pem(key_pem, JT_NAME, NULL, NULL, NULL, topic, flags,
                                payload, strlen(payload), &out, &outlen, err, sizeof(err));

    if (rc != 0)
        fail_msg("sign_pem: %s", err);
    assert_int_equal(strlen(out), outlen);
    return out;
}

/* offline - a started verifier with key_pem and the extra option pairs */
static dance_verifier *offline(const char *key_pem, const char *opt, const char *val)
{
    dance_verifier *v = dance_verifier_new();
    char err[256];

    assert_non_null(v);
    if (dance_verifier_set(v, "key", key_pem, err, sizeof(err)) != 0)
        fail_msg("key: %s", err);
    if (opt != NULL && dance_verifier_set(v, opt, val, err, sizeof(err)) != 0)
        fail_msg("%s: %s", opt, err);
    if (dance_verifier_start(v, err, sizeof(err)) != 0)
        fail_msg("start: %s", err);
    return v;
}

static void test_offline_every_key_form(void **state)
{
    EVP_PKEY *key = jt_key("ec256");
    X509 *cert = jt_cert(key, JT_NAME);
    char *priv = pem_of(PEM_PRIVATE, key, NULL);
    char *forms[3] = { priv, pem_of(PEM_PUBLIC, key, NULL), pem_of(PEM_CERT, NULL, cert) };
    char *msg = signed_msg(priv, "temp=21.5", NULL, DANCE_JWS_SIGN_RANDOM_JTI);
    dance_jws_result *res = dance_jws_result_new();
    const unsigned char *p;
    size_t plen = 99;
    int i;

    (void)state;
    assert_non_null(res);
    for (i = 0; i < 3; i++) {
        dance_verifier *v = offline(forms[i], NULL, NULL);
        assert_int_equal(dance_verifier_verify(v, msg, strlen(msg), NULL, res), DANCE_OK);
        assert_int_equal(dance_jws_result_status(res), DANCE_OK);
        assert_string_equal(dance_jws_result_sender(res), JT_NAME);
        assert_string_equal(dance_jws_result_alg(res), "ES256");
        assert_string_equal(dance_jws_result_key_source(res), "offline key");
        p = dance_jws_result_payload(res, &plen);
        assert_int_equal(plen, 9);
        assert_memory_equal(p, "temp=21.5", 9);
        dance_verifier_free(v);
    }
    for (i = 0; i < 3; i++)
        free(forms[i]);
    dance_jws_output_free(msg);
    dance_jws_result_free(res);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void test_offline_refusals(void **state)
{
    EVP_PKEY *key = jt_key("ed25519"), *other = jt_key("ed25519");
    char *priv = pem_of(PEM_PRIVATE, key, NULL), *opub = pem_of(PEM_PUBLIC, other, NULL);
    char *msg = signed_msg(priv, "x", "sensors/a", DANCE_JWS_SIGN_FLATTENED);
    dance_jws_result *res = dance_jws_result_new();
    dance_verifier *v = offline(opub, NULL, NULL);
    size_t plen = 7;

    (void)state;
    assert_true(msg[0] == '{');
    assert_int_equal(dance_verifier_verify(v, msg, strlen(msg), NULL, res),
                     DANCE_BAD_SIGNATURE);
    assert_string_equal(dance_jws_result_sender(res), JT_NAME);
    assert_string_equal(dance_jws_result_alg(res), "EdDSA");
    assert_null(dance_jws_result_payload(res, &plen));
    assert_int_equal(plen, 0);
    assert_true(strlen(dance_jws_result_reason(res)) > 0);
    dance_verifier_free(v);

    v = offline(priv, "require_topic", "true");
    assert_int_equal(dance_verifier_verify(v, msg, strlen(msg), "sensors/b", res),
                     DANCE_TOPIC_MISMATCH);
    assert_int_equal(dance_verifier_verify(v, msg, strlen(msg), "sensors/a", res), DANCE_OK);
    assert_int_equal(dance_verifier_verify(v, "x.y", 3, NULL, res), DANCE_MALFORMED);
    assert_string_equal(dance_jws_result_alg(res), "");
    dance_verifier_free(v);

    v = offline(priv, "replay_window", "60");
    assert_int_equal(dance_verifier_verify(v, msg, strlen(msg), NULL, res), DANCE_OK);
    assert_int_equal(dance_verifier_verify(v, msg, strlen(msg), NULL, res), DANCE_REPLAY);
    dance_verifier_free(v);

    v = offline(priv, "max_size", "10");
    assert_int_equal(dance_verifier_verify(v, msg, strlen(msg), NULL, res), DANCE_TOO_LARGE);
    dance_verifier_free(v);

    free(priv);
    free(opub);
    dance_jws_output_free(msg);
    dance_jws_result_free(res);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void test_options(void **state)
{
    dance_verifier *v = dance_verifier_new();
    dance_jws_result *res = dance_jws_result_new();
    char err[256];

    (void)state;
    assert_int_equal(dance_verifier_set(v, "colour", "red", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown verifier option \"colour\""));
    assert_int_equal(dance_verifier_set(v, "timeout", "0", err, sizeof(err)), -1);
    assert_int_equal(dance_verifier_set(v, "timeout", "12x", err, sizeof(err)), -1);
    assert_int_equal(dance_verifier_set(v, "require_iat", "yes", err, sizeof(err)), -1);
    assert_int_equal(dance_verifier_set(v, "dns_transport", "quic", err, sizeof(err)), -1);
    assert_int_equal(dance_verifier_set(v, "service_label", "mqtt", err, sizeof(err)), -1);
    assert_int_equal(dance_verifier_set(v, "allowed_domains", "", err, sizeof(err)), -1);
    assert_int_equal(dance_verifier_set(v, "key", "not pem", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no PUBLIC KEY, CERTIFICATE or PRIVATE KEY block"));
    /* not started: refused, not crashed */
    assert_int_equal(dance_verifier_verify(v, "a.b.c", 5, NULL, res), DANCE_INTERNAL);
    /* a TLS transport without a name fails at start, naming it */
    assert_int_equal(dance_verifier_set(v, "dns_transport", "tls", err, sizeof(err)), 0);
    assert_int_equal(dance_verifier_start(v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "TLS authentication name"));
    dance_verifier_free(v);

    /* a key with DNS options is refused; options after start too */
    v = dance_verifier_new();
    {
        EVP_PKEY *key = jt_key("ec256");
        char *pub = pem_of(PEM_PUBLIC, key, NULL);
        assert_int_equal(dance_verifier_set(v, "key", pub, err, sizeof(err)), 0);
        assert_int_equal(dance_verifier_set(v, "resolver", "127.0.0.1", err, sizeof(err)), 0);
        assert_int_equal(dance_verifier_start(v, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "offline"));
        dance_verifier_free(v);
        v = offline(pub, NULL, NULL);
        assert_int_equal(dance_verifier_set(v, "max_skew", "5", err, sizeof(err)), -1);
        assert_non_null(strstr(err, "after the verifier started"));
        free(pub);
        EVP_PKEY_free(key);
    }
    dance_verifier_free(v);
    dance_jws_result_free(res);
    dance_verifier_free(NULL);
    dance_jws_result_free(NULL);
}

static void test_dns_mode_allow_list_first(void **state)
{
    /* an upstream nobody answers on: a sender outside the allow-list is
     * refused before any lookup, so the answer comes without DNS */
    dance_verifier *v = dance_verifier_new();
    dance_jws_result *res = dance_jws_result_new();
    EVP_PKEY *key = jt_key("ec256");
    char *priv = pem_of(PEM_PRIVATE, key, NULL);
    char *msg = signed_msg(priv, "x", NULL, 0);
    char err[256];

    (void)state;
    assert_int_equal(dance_verifier_set(v, "resolver", "127.0.0.1@9", err, sizeof(err)), 0);
    assert_int_equal(dance_verifier_set(v, "timeout", "200", err, sizeof(err)), 0);
    assert_int_equal(dance_verifier_set(v, "allowed_domains", "example.com", err,
                                        sizeof(err)), 0);
    if (dance_verifier_start(v, err, sizeof(err)) != 0)
        fail_msg("start: %s", err);
    assert_int_equal(dance_verifier_verify(v, msg, strlen(msg), NULL, res),
                     DANCE_NOT_ALLOWED);
    assert_string_equal(dance_jws_result_sender(res), JT_NAME);
    dance_verifier_free(v);
    dance_jws_result_free(res);
    dance_jws_output_free(msg);
    free(priv);
    EVP_PKEY_free(key);
}

static void test_sign_pem(void **state)
{
    EVP_PKEY *key = jt_key("ec256");
    X509 *cert = jt_cert(key, JT_NAME), *ocert;
    EVP_PKEY *other = jt_key("ec256");
    char *priv = pem_of(PEM_PRIVATE, key, NULL), *cpem = pem_of(PEM_CERT, NULL, cert);
    char err[256], *out = NULL;
    size_t outlen = 0;
    dance_jws *jws = NULL;
    const dance_jws_header *h;

    (void)state;
    assert_int_equal(dance_jws_sign_pem(priv, JT_NAME, "ES256", cpem, "j-1", "t/1",
                                        DANCE_JWS_SIGN_NO_IAT | DANCE_JWS_SIGN_X5U,
                                        "p", 1, &out, &outlen, err, sizeof(err)), 0);
    assert_int_equal(dance_jws_parse(out, outlen, 0, &jws, NULL, err, sizeof(err)), DANCE_OK);
    h = dance_jws_get_header(jws);
    assert_false(h->has_iat);
    assert_string_equal(h->jti, "j-1");
    assert_string_equal(h->topic, "t/1");
    assert_non_null(h->x5u);
    assert_int_equal(h->x5c_count, 1);
    dance_jws_free(jws);
    dance_jws_output_free(out);

    /* refusals with reasons */
    assert_int_equal(dance_jws_sign_pem(priv, JT_NAME, NULL, NULL, "j", NULL,
                                        DANCE_JWS_SIGN_RANDOM_JTI, "p", 1, &out, &outlen,
                                        err, sizeof(err)), -1);
    assert_null(out);
    assert_int_equal(dance_jws_sign_pem(priv, JT_NAME, "RS256", NULL, NULL, NULL, 0, "p", 1,
                                        &out, &outlen, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "RS256"));
    ocert = jt_cert(other, JT_NAME);
    free(cpem);
    cpem = pem_of(PEM_CERT, NULL, ocert);
    assert_int_equal(dance_jws_sign_pem(priv, JT_NAME, NULL, cpem, NULL, NULL, 0, "p", 1,
                                        &out, &outlen, err, sizeof(err)), -1);
    assert_int_equal(dance_jws_sign_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                        "-----END PRIVATE KEY-----\n", JT_NAME, NULL, NULL,
                                        NULL, NULL, 0, "p", 1, &out, &outlen, err,
                                        sizeof(err)), -1);
    assert_non_null(strstr(err, "the PEM text"));
    free(priv);
    free(cpem);
    X509_free(cert);
    X509_free(ocert);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline_every_key_form),
        cmocka_unit_test(test_offline_refusals),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_dns_mode_allow_list_first),
        cmocka_unit_test(test_sign_pem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
