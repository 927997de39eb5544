/*
 * test_resolver_config.c - unit tests for the configuration side of
 * lib/resolver.c: upstream syntax, trust anchor files, transport needs,
 * and that every refusal names the bad value. No DNS server is needed; the
 * one lookup here goes to a closed loopback port and must be a FAILURE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dance/resolver.h"

/* The real root KSK-2017 DS record, as published by IANA. */
#define ROOT_DS ". 86400 IN DS 20326 8 2 " \
    "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"

static char err[512];
static char ds_file[64], garbage_file[64], empty_file[64], mixed_file[64];

static void write_temp(char *path, const char *content)
{
    int fd;

    strcpy(path, "/tmp/dance-ta-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    write_temp(ds_file, "; root trust anchor\n" ROOT_DS);
    write_temp(garbage_file, ". 300 IN DS not a ds record at all\n");
    write_temp(empty_file, "; nothing but a comment\n");
    write_temp(mixed_file, "$ORIGIN .\n@ 300 IN SOA a. b. 1 2 3 4 5\n" ROOT_DS);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(ds_file);
    unlink(garbage_file);
    unlink(empty_file);
    unlink(mixed_file);
    return 0;
}

static dance_resolver_config base(const char *upstreams)
{
    dance_resolver_config c;

    memset(&c, 0, sizeof(c));
    c.upstreams = upstreams;
    c.trust_anchor_file = ds_file;
    c.transport = DANCE_TRANSPORT_UDP;
    return c;
}

/* check_ok - the config passes the check and builds a resolver */
static void check_ok(const dance_resolver_config *c)
{
    dance_resolver *r;

    err[0] = '\0';
    if (dance_resolver_config_check(c, err, sizeof(err)) != 0)
        fail_msg("config with upstreams \"%s\" refused: %s",
                 c->upstreams ? c->upstreams : "(system)", err);
    r = dance_resolver_new(c, err, sizeof(err));
    if (r == NULL)
        fail_msg("dance_resolver_new failed: %s", err);
    dance_resolver_free(r);
}

/* check_bad - refused by the check and by dance_resolver_new, with a
 * reason containing want */
static void check_bad(const dance_resolver_config *c, const char *want)
{
    err[0] = '\0';
    if (dance_resolver_config_check(c, err, sizeof(err)) == 0)
        fail_msg("config should be refused (expected a reason with \"%s\")", want);
    if (strstr(err, want) == NULL)
        fail_msg("reason \"%s\" does not mention \"%s\"", err, want);
    err[0] = '\0';
    if (dance_resolver_new(c, err, sizeof(err)) != NULL)
        fail_msg("dance_resolver_new accepted a bad config (\"%s\")", want);
    if (strstr(err, want) == NULL)
        fail_msg("dance_resolver_new reason \"%s\" does not mention \"%s\"", err, want);
}

static void test_upstreams_valid(void **state)
{
    static const char *ok[] = {
        "127.0.0.1", "127.0.0.1@5353", "::1", "::1@53", "2001:db8::53@853",
        " 192.0.2.1@53 , ::1 ", "192.0.2.1,192.0.2.2@1,192.0.2.3@65535",
    };
    size_t i;
    dance_resolver_config c;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        c = base(ok[i]);
        check_ok(&c);
    }
}

static void test_upstreams_bad_address(void **state)
{
    dance_resolver_config c;

    (void)state;
    c = base("127.0.0.256");
    check_bad(&c, "'127.0.0.256'");
    c = base("127.0.0.1,localhost@53");
    check_bad(&c, "'localhost'");
    c = base("[::1]@53");
    check_bad(&c, "[::1]");
    c = base("@53");
    check_bad(&c, "'@53'");
}

static void test_upstreams_bad_port(void **state)
{
    dance_resolver_config c;

    (void)state;
    c = base("127.0.0.1@0");
    check_bad(&c, "port '0'");
    c = base("127.0.0.1@65536");
    check_bad(&c, "port '65536'");
    c = base("::1@5x");
    check_bad(&c, "port '5x'");
    c = base("127.0.0.1@");
    check_bad(&c, "port ''");
    c = base("127.0.0.1@-1");
    check_bad(&c, "port '-1'");
}

static void test_upstreams_list_shape(void **state)
{
    char many[17 * 16];
    dance_resolver_config c;
    int i;

    (void)state;
    c = base("127.0.0.1,");
    check_bad(&c, "empty entry");
    c = base(",127.0.0.1");
    check_bad(&c, "empty entry");
    c = base("127.0.0.1, ,::1");
    check_bad(&c, "empty entry");
    many[0] = '\0';
    for (i = 0; i < 16; i++)
        strcat(many, i ? ",127.0.0.1" : "127.0.0.1");
    c = base(many);
    check_ok(&c);
    strcat(many, ",::1");
    c = base(many);
    check_bad(&c, "too many");
}

static void test_trust_anchor_files(void **state)
{
    dance_resolver_config c;

    (void)state;
    c = base("127.0.0.1");
    c.trust_anchor_file = mixed_file;      /* other records are ignored */
    check_ok(&c);
    c.trust_anchor_file = "/usr/share/dns/root.key";   /* DNSKEY form */
    check_ok(&c);
    c.trust_anchor_file = NULL;            /* the same, as the default */
    check_ok(&c);
    c.trust_anchor_file = "/nonexistent/anchor.ds";
    check_bad(&c, "/nonexistent/anchor.ds");
    c.trust_anchor_file = garbage_file;
    check_bad(&c, garbage_file);
    c.trust_anchor_file = empty_file;
    check_bad(&c, "no DS or DNSKEY");
    c.trust_anchor_file = "/etc";           /* a directory */
    check_bad(&c, "'/etc'");
}

static void test_transport_needs(void **state)
{
    dance_resolver_config c;

    (void)state;
    c = base("127.0.0.1@853");
    c.transport = DANCE_TRANSPORT_TLS;
    check_bad(&c, "authentication name");
    c.tls_auth_name = "";
    check_bad(&c, "authentication name");
    c.tls_auth_name = "dns resolver";
    check_bad(&c, "'dns resolver'");
    c.tls_auth_name = "dns.example.net";
    check_ok(&c);
    c.transport = DANCE_TRANSPORT_TCP;
    check_ok(&c);
    c.transport = (dance_dns_transport)7;
    check_bad(&c, "transport 7");
}

static void test_timeout_bound(void **state)
{
    dance_resolver_config c;

    (void)state;
    c = base("127.0.0.1");
    c.timeout_ms = 600000;
    check_ok(&c);
    c.timeout_ms = 600001;
    check_bad(&c, "600001");
}

static void test_null_config(void **state)
{
    (void)state;
    assert_int_equal(dance_resolver_config_check(NULL, err, sizeof(err)), -1);
    assert_null(dance_resolver_new(NULL, err, sizeof(err)));
    dance_resolver_free(NULL);
}

/* A closed port gives a FAILURE with a reason and no records. */
static void test_lookup_unreachable_is_failure(void **state)
{
    dance_resolver_config c;
    dance_resolver *r;
    dance_tlsa_result res;

    (void)state;
    c = base("127.0.0.1@9");
    c.timeout_ms = 300;
    r = dance_resolver_new(&c, err, sizeof(err));
    assert_non_null(r);
    memset(&res, 0, sizeof(res));
    dance_resolver_lookup_tlsa(r, "dev1._device.example.com", &res);
    assert_int_equal(res.status, DANCE_LOOKUP_FAILED);
    assert_int_equal(res.records.count, 0);
    assert_int_equal(res.ttl, 0);
    assert_non_null(strstr(res.reason, "dev1._device.example.com"));
    assert_non_null(strstr(res.reason, "127.0.0.1@9"));
    dance_resolver_lookup_tlsa(r, "", &res);
    assert_int_equal(res.status, DANCE_LOOKUP_FAILED);
    assert_true(res.reason[0] != '\0');
    dance_resolver_lookup_tlsa(r, NULL, &res);
    assert_int_equal(res.status, DANCE_LOOKUP_FAILED);
    dance_tlsa_result_clear(&res);
    dance_resolver_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upstreams_valid),
        cmocka_unit_test(test_upstreams_bad_address),
        cmocka_unit_test(test_upstreams_bad_port),
        cmocka_unit_test(test_upstreams_list_shape),
        cmocka_unit_test(test_trust_anchor_files),
        cmocka_unit_test(test_transport_needs),
        cmocka_unit_test(test_timeout_bound),
        cmocka_unit_test(test_null_config),
        cmocka_unit_test(test_lookup_unreachable_is_failure),
    };

    return cmocka_run_group_tests_name("resolver_config", tests, setup, teardown);
}
