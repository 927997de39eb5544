/*
 * test_name.c - unit tests for lib/name.c: name rules, allow-list, owner
 * names, dNSName extraction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dance/name.h"
#include "testcerts.h"

static char out[DANCE_NAME_MAX + 1];
static char err[256];

/* norm_ok - normalise and return the result (asserting success) */
static const char *norm_ok(const char *in)
{
    err[0] = '\0';
    if (dance_name_normalize(in, out, sizeof(out), err, sizeof(err)) != 0)
        fail_msg("\"%s\" should be valid, got: %s", in, err);
    return out;
}

/* norm_bad - normalisation must fail with a reason containing want */
static void norm_bad(const char *in, const char *want)
{
    err[0] = '\0';
    strcpy(out, "untouched");
    if (dance_name_normalize(in, out, sizeof(out), err, sizeof(err)) == 0)
        fail_msg("\"%s\" should be rejected, got \"%s\"", in, out);
    if (strstr(err, want) == NULL)
        fail_msg("reason for \"%s\" is \"%s\", expected it to mention \"%s\"", in, err, want);
}

/* repeat - n copies of c */
static char *repeat(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/* long_name - labels of 63 'a's joined by dots, cut/padded to total length len */
static char *name_of_length(char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        buf[i] = (i % 64 == 63) ? '.' : 'a';
    if (len > 0 && buf[len - 1] == '.')
        buf[len - 1] = 'b';
    buf[len] = '\0';
    return buf;
}

static void test_normalize_case_and_dot(void **state)
{
    (void)state;
    assert_string_equal(norm_ok("Dev1._Device.Example.COM"), "dev1._device.example.com");
    assert_string_equal(norm_ok("example.com."), "example.com");
    assert_string_equal(norm_ok("a"), "a");
    assert_string_equal(norm_ok("my-dev.example-1.com"), "my-dev.example-1.com");
    assert_string_equal(norm_ok("123.example"), "123.example");
    norm_bad("example.com..", "empty label");   /* only one trailing dot */
    norm_bad(".", "root");
    norm_bad("", "empty");
    assert_int_equal(dance_name_normalize(NULL, out, sizeof(out), err, sizeof(err)), -1);
}

static void test_normalize_empty_labels(void **state)
{
    (void)state;
    norm_bad("a..example.com", "empty label");
    norm_bad(".example.com", "empty label");
    norm_bad("..", "empty label");
}

static void test_normalize_label_length(void **state)
{
    char buf[128], name[160];

    (void)state;
    snprintf(name, sizeof(name), "%s.example.com", repeat(buf, 'x', 63));
    assert_string_equal(norm_ok(name), name);
    snprintf(name, sizeof(name), "%s.example.com", repeat(buf, 'x', 64));
    norm_bad(name, "longer than 63");
    snprintf(name, sizeof(name), "example.%s", repeat(buf, 'x', 64));
    norm_bad(name, "longer than 63");
    snprintf(name, sizeof(name), "_%s.example.com", repeat(buf, 'x', 62));
    assert_string_equal(norm_ok(name), name);
}

static void test_normalize_name_length(void **state)
{
    char name[300];

    (void)state;
    name_of_length(name, 253);
    assert_int_equal(strlen(norm_ok(name)), 253);
    strcat(name, ".");                      /* 254 with the trailing dot: fine */
    assert_int_equal(strlen(norm_ok(name)), 253);
    name_of_length(name, 254);
    norm_bad(name, "more than 253");
    /* output buffer too small is an error, never a truncation */
    assert_int_equal(dance_name_normalize("example.com", out, 11, err, sizeof(err)), -1);
    assert_int_equal(dance_name_normalize("example.com", out, 12, err, sizeof(err)), 0);
    assert_string_equal(out, "example.com");
}

static void test_normalize_characters(void **state)
{
    size_t i;

    (void)state;
    assert_string_equal(norm_ok("_device.example.com"), "_device.example.com");
    assert_string_equal(norm_ok("_.example.com"), "_.example.com");
    norm_bad("a_b.example.com", "underscore");
    norm_bad("_a_b.example.com", "underscore");
    norm_bad("dev_.example.com", "underscore");
    norm_bad("*.example.com", "'*'");
    norm_bad("a b.example.com", "byte 0x20");
    norm_bad("a/b.example.com", "'/'");
    norm_bad("caf\xc3\xa9.example", "byte 0xc3");
    norm_bad("a@b.example", "'@'");
    /* a hostile name cannot put line breaks into the reason */
    norm_bad("a..b\nFAKE LOG LINE", "empty label");
    for (i = 0; err[i] != '\0'; i++)
        assert_true(err[i] >= 0x20 && err[i] < 0x7f);
    /* errors without a reason buffer are fine */
    assert_int_equal(dance_name_normalize("a..b", out, sizeof(out), NULL, 0), -1);
}

static void test_is_under(void **state)
{
    (void)state;
    assert_true(dance_name_is_under("a._device.example.com", "example.com"));
    assert_true(dance_name_is_under("example.com", "example.com"));
    assert_true(dance_name_is_under("x.example.com", "com"));
    assert_false(dance_name_is_under("badexample.com", "example.com"));
    assert_false(dance_name_is_under("example.com", "a.example.com"));
    assert_false(dance_name_is_under("example.com.evil", "example.com"));
    assert_false(dance_name_is_under("example.com", ""));
    assert_false(dance_name_is_under(NULL, "example.com"));
    assert_true(dance_name_is_under("A.Example.COM", "example.com"));
}

static void test_allowlist_parse(void **state)
{
    dance_allowlist *al;

    (void)state;
    al = dance_allowlist_parse("example.com, org.example", err, sizeof(err));
    assert_non_null(al);
    assert_int_equal(dance_allowlist_count(al), 2);
    dance_allowlist_free(al);

    al = dance_allowlist_parse("  Example.COM.  ", err, sizeof(err));
    assert_non_null(al);
    assert_int_equal(dance_allowlist_count(al), 1);
    assert_true(dance_allowlist_match(al, "dev._device.example.com"));
    dance_allowlist_free(al);

    err[0] = '\0';
    assert_null(dance_allowlist_parse("", err, sizeof(err)));
    assert_non_null(strstr(err, "empty"));
    assert_null(dance_allowlist_parse("   ", err, sizeof(err)));
    assert_null(dance_allowlist_parse(NULL, err, sizeof(err)));
    err[0] = '\0';
    assert_null(dance_allowlist_parse("a.example,,b.example", err, sizeof(err)));
    assert_non_null(strstr(err, "empty item"));
    assert_null(dance_allowlist_parse("a.example,", err, sizeof(err)));
    assert_null(dance_allowlist_parse(",a.example", err, sizeof(err)));
    err[0] = '\0';
    assert_null(dance_allowlist_parse("example.com, bad_name.example", err, sizeof(err)));
    assert_non_null(strstr(err, "underscore"));
    assert_null(dance_allowlist_parse("a..example", err, sizeof(err)));
    dance_allowlist_free(NULL);
    assert_int_equal(dance_allowlist_count(NULL), 0);
}

static void test_allowlist_match(void **state)
{
    dance_allowlist *al = dance_allowlist_parse("example.com,org.example", err, sizeof(err));

    (void)state;
    assert_non_null(al);
    assert_true(dance_allowlist_match(al, "a._device.example.com"));
    assert_true(dance_allowlist_match(al, "example.com"));
    assert_true(dance_allowlist_match(al, "dev.org.example"));
    assert_true(dance_allowlist_match(al, "A._DEVICE.Example.Com."));
    assert_false(dance_allowlist_match(al, "badexample.com"));
    assert_false(dance_allowlist_match(al, "example.com.evil.net"));
    assert_false(dance_allowlist_match(al, "org.example.net"));
    assert_false(dance_allowlist_match(al, "com"));
    assert_false(dance_allowlist_match(al, "a..example.com"));     /* invalid: closed */
    assert_false(dance_allowlist_match(al, "*.example.com"));
    assert_false(dance_allowlist_match(al, ""));
    assert_false(dance_allowlist_match(al, NULL));
    assert_false(dance_allowlist_match(NULL, "example.com"));
    dance_allowlist_free(al);
}

static void test_owner_name(void **state)
{
    char buf[DANCE_NAME_MAX + 1], label[80], id[300];

    (void)state;
    assert_int_equal(dance_owner_name("Dev1._device.Example.com.", NULL, buf, sizeof(buf),
                                      err, sizeof(err)), 0);
    assert_string_equal(buf, "dev1._device.example.com");
    assert_int_equal(dance_owner_name("dev1._device.example.com", "", buf, sizeof(buf),
                                      err, sizeof(err)), 0);
    assert_string_equal(buf, "dev1._device.example.com");
    assert_int_equal(dance_owner_name("client.example.com", "_mqtt", buf, sizeof(buf),
                                      err, sizeof(err)), 0);
    assert_string_equal(buf, "_mqtt.client.example.com");
    assert_int_equal(dance_owner_name("client.example.com", "_MQTT", buf, sizeof(buf),
                                      err, sizeof(err)), 0);
    assert_string_equal(buf, "_mqtt.client.example.com");

    err[0] = '\0';
    assert_int_equal(dance_owner_name("client.example.com", "mqtt", buf, sizeof(buf),
                                      err, sizeof(err)), -1);
    assert_non_null(strstr(err, "underscore"));
    assert_int_equal(dance_owner_name("client.example.com", "_a.b", buf, sizeof(buf),
                                      err, sizeof(err)), -1);
    assert_int_equal(dance_owner_name("client.example.com", "_a_b", buf, sizeof(buf),
                                      err, sizeof(err)), -1);
    label[0] = '_';
    repeat(label + 1, 'l', 63);             /* 64 octets with the underscore */
    assert_int_equal(dance_owner_name("client.example.com", label, buf, sizeof(buf),
                                      err, sizeof(err)), -1);
    assert_int_equal(dance_owner_name("bad_id.example.com", NULL, buf, sizeof(buf),
                                      err, sizeof(err)), -1);
    assert_int_equal(dance_owner_name(NULL, NULL, buf, sizeof(buf), err, sizeof(err)), -1);
    /* identity of 250 octets + "_mqtt." would exceed 253 */
    name_of_length(id, 250);
    assert_int_equal(dance_owner_name(id, NULL, buf, sizeof(buf), err, sizeof(err)), 0);
    err[0] = '\0';
    assert_int_equal(dance_owner_name(id, "_mqtt", buf, sizeof(buf), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer than 253"));
    /* small output buffer */
    assert_int_equal(dance_owner_name("client.example.com", "_mqtt", buf, 10,
                                      err, sizeof(err)), -1);
}

/* names_of - dNSNames of a certificate built from spec */
static int names_of(const tc_spec *spec, char ***names)
{
    EVP_PKEY *key = tc_key();
    X509 *cert;
    int n;

    assert_non_null(key);
    cert = tc_cert(spec, key, NULL, NULL);
    assert_non_null(cert);
    n = dance_cert_dnsnames(cert, names);
    X509_free(cert);
    EVP_PKEY_free(key);
    return n;
}

static void test_dnsnames_several(void **state)
{
    tc_spec spec = { .cn = "ignored.example.com",
                     .san = "DNS:Dev1._device.Example.com,DNS:second.example.org.,"
                            "IP:192.0.2.1,email:dev@example.com,DNS:dev1._device.example.com",
                     .not_after = 3600 };
    char **names = NULL;

    (void)state;
    assert_int_equal(names_of(&spec, &names), 2);
    assert_string_equal(names[0], "dev1._device.example.com");
    assert_string_equal(names[1], "second.example.org");
    assert_null(names[2]);
    dance_names_free(names);
}

static void test_dnsnames_none(void **state)
{
    tc_spec no_san = { .cn = "cn-only.example.com", .not_after = 3600 };
    tc_spec only_ip = { .cn = "x", .san = "IP:192.0.2.1,email:a@example.com", .not_after = 3600 };
    char **names = (char **)&names;

    (void)state;
    assert_int_equal(names_of(&no_san, &names), 0);
    assert_non_null(names);                 /* empty array, not NULL */
    assert_null(names[0]);
    dance_names_free(names);
    assert_int_equal(names_of(&only_ip, &names), 0);
    dance_names_free(names);
    assert_int_equal(dance_cert_dnsnames(NULL, &names), -1);
    assert_null(names);
    dance_names_free(NULL);
}

static void test_dnsnames_invalid_skipped(void **state)
{
    static const unsigned char nul_name[] = "evil.example.com\0.good.example.com";
    char buf[128], san[512];
    tc_spec spec = { .san = san, .raw_dns = nul_name, .raw_dns_len = sizeof(nul_name) - 1,
                     .not_after = 3600 };
    char **names = NULL;

    (void)state;
    snprintf(san, sizeof(san),
             "DNS:*.example.com,DNS:bad_name.example.com,DNS:a..example.com,"
             "DNS:%s.example.com,DNS:ok.example.com,DNS:caf\xc3\xa9.example",
             repeat(buf, 'x', 64));
    assert_int_equal(names_of(&spec, &names), 1);
    assert_string_equal(names[0], "ok.example.com");
    assert_null(names[1]);
    dance_names_free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_case_and_dot),
        cmocka_unit_test(test_normalize_empty_labels),
        cmocka_unit_test(test_normalize_label_length),
        cmocka_unit_test(test_normalize_name_length),
        cmocka_unit_test(test_normalize_characters),
        cmocka_unit_test(test_is_under),
        cmocka_unit_test(test_allowlist_parse),
        cmocka_unit_test(test_allowlist_match),
        cmocka_unit_test(test_owner_name),
        cmocka_unit_test(test_dnsnames_several),
        cmocka_unit_test(test_dnsnames_none),
        cmocka_unit_test(test_dnsnames_invalid_skipped),
    };

    return cmocka_run_group_tests_name("name", tests, NULL, NULL);
}
