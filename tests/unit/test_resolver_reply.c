/*
 * test_resolver_reply.c - how lib/resolver.c reads a validated getdns
 * response (replies_tree), without a DNS server: the fixture is zone-file
 * text turned into getdns RR dicts (getdns_str2rr_dict) inside a response
 * dict shaped as getdns returns it, classified at a fixed clock.
 *
 * What is checked: a secure answer's ttl and sig_ttl (the time left of the
 * earliest RRSIG in the answer: TLSA and CNAMEs), and that a cache with a
 * large min_ttl never keeps the record past that expiration; with no RRSIG
 * to read, sig_ttl is 0 and min_ttl does not raise the TTL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <getdns/getdns.h>
#include <getdns/getdns_extra.h>

#include "dance/cache.h"
#include "dance/resolver.h"
#include "resolver_internal.h"

#define NOW 1796083200u                 /* 2026-12-01 00:00:00 UTC */
#define OWNER "dev1._device.acme.example"
#define ALIAS "alias._device.acme.example"
#define HEX "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
#define SIG "xtQOP+tgFO7xNY2qDzGh+QhcIIzV8JrwmXmoff3lIdgcwMj1QfFt3me+3A3Ef9ky" \
            "aIjOe0mBgEuE0a/us53Agw=="

/* response - a getdns response dict with one secure NOERROR reply whose
 * answer section holds the given RRs (presentation format, NULL-ended) and
 * whose canonical name is canon */
static getdns_dict *response(const char *canon, const char *const *rrs)
{
    getdns_dict *resp = getdns_dict_create(), *reply = getdns_dict_create();
    getdns_dict *header = getdns_dict_create();
    getdns_list *answer = getdns_list_create(), *replies = getdns_list_create();
    getdns_bindata *cn = NULL;
    size_t i;

    assert_non_null(resp);
    assert_non_null(reply);
    assert_non_null(header);
    assert_non_null(answer);
    assert_non_null(replies);
    for (i = 0; rrs[i] != NULL; i++) {
        getdns_dict *rr = NULL;
        if (getdns_str2rr_dict(rrs[i], &rr, NULL, 3600) != GETDNS_RETURN_GOOD)
            fail_msg("fixture RR does not parse: %s", rrs[i]);
        assert_int_equal(getdns_list_set_dict(answer, i, rr), GETDNS_RETURN_GOOD);
        getdns_dict_destroy(rr);
    }
    assert_int_equal(getdns_dict_set_int(header, "rcode", GETDNS_RCODE_NOERROR),
                     GETDNS_RETURN_GOOD);
    assert_int_equal(getdns_dict_set_dict(reply, "header", header), GETDNS_RETURN_GOOD);
    assert_int_equal(getdns_dict_set_int(reply, "dnssec_status", GETDNS_DNSSEC_SECURE),
                     GETDNS_RETURN_GOOD);
    assert_int_equal(getdns_dict_set_list(reply, "answer", answer), GETDNS_RETURN_GOOD);
    assert_int_equal(getdns_convert_fqdn_to_dns_name(canon, &cn), GETDNS_RETURN_GOOD);
    assert_int_equal(getdns_dict_set_bindata(reply, "canonical_name", cn),
                     GETDNS_RETURN_GOOD);
    assert_int_equal(getdns_list_set_dict(replies, 0, reply), GETDNS_RETURN_GOOD);
    assert_int_equal(getdns_dict_set_int(resp, "status", GETDNS_RESPSTATUS_GOOD),
                     GETDNS_RETURN_GOOD);
    assert_int_equal(getdns_dict_set_list(resp, "replies_tree", replies),
                     GETDNS_RETURN_GOOD);
    free(cn->data);
    free(cn);
    getdns_dict_destroy(header);
    getdns_dict_destroy(reply);
    getdns_list_destroy(answer);
    getdns_list_destroy(replies);
    return resp;
}

static void classify(const char *owner, const char *canon, const char *const *rrs,
                     dance_tlsa_result *out)
{
    getdns_dict *resp = response(canon, rrs);

    memset(out, 0, sizeof(*out));
    resolver_classify_response("fixture", NOW, owner, resp, out);
    getdns_dict_destroy(resp);
}

/* the fixture's answer, handed to a cache as its fetch function */
static const dance_tlsa_result *fetch_answer;
static uint64_t fake_ms;

static uint64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_ms;
}

static void fixture_fetch(void *ctx, const char *owner, dance_tlsa_result *out)
{
    (void)ctx;
    (void)owner;
    assert_int_equal(dance_tlsa_result_copy(out, fetch_answer), 0);
}

/* served_s - for how many whole seconds a cache with min_ttl 3600 serves
 * the answer without asking again */
static unsigned served_s(const dance_tlsa_result *answer)
{
    dance_cache_config cfg = { .capacity = 4, .min_ttl = 3600, .max_ttl = 86400,
                               .clock = fake_clock };
    dance_cache *c;
    dance_tlsa_result r;
    unsigned s;

    fake_ms = 1000000;
    fetch_answer = answer;
    c = dance_cache_new(&cfg);
    assert_non_null(c);
    memset(&r, 0, sizeof(r));
    dance_cache_fetch(c, OWNER, fixture_fetch, NULL, &r);
    assert_int_equal(r.status, DANCE_OK);
    dance_tlsa_result_clear(&r);
    for (s = 0; s < 100000; s++) {
        fake_ms += 1000;
        if (!dance_cache_get(c, OWNER, &r))
            break;
        dance_tlsa_result_clear(&r);
    }
    dance_cache_free(c);
    return s;
}

/* TTL 60, signature expires in 100 s: ttl 60, sig_ttl 100; a cache with
 * min_ttl 3600 keeps it for 100 s, not an hour */
static void test_sig_expiry_caps_min_ttl(void **state)
{
    static const char *const rrs[] = {
        OWNER ". 60 IN TLSA 3 1 1 " HEX,
        OWNER ". 60 IN RRSIG TLSA 13 4 3600 20261201000140 20261101000000 12345 "
              "acme.example. " SIG,
        NULL
    };
    dance_tlsa_result r;

    (void)state;
    classify(OWNER, OWNER ".", rrs, &r);
    assert_int_equal(r.status, DANCE_OK);
    assert_int_equal(r.records.count, 1);
    assert_int_equal(r.ttl, 60);
    assert_int_equal(r.sig_ttl, 100);
    assert_int_equal(served_s(&r), 99);
    dance_tlsa_result_clear(&r);
}

/* the earliest RRSIG of the answer counts, a CNAME's too, and it also caps
 * the TTL itself */
static void test_cname_signature_counts(void **state)
{
    static const char *const rrs[] = {
        ALIAS ". 600 IN CNAME " OWNER ".",
        ALIAS ". 600 IN RRSIG CNAME 13 4 600 20261201000030 20261101000000 12345 "
              "acme.example. " SIG,
        OWNER ". 600 IN TLSA 3 1 1 " HEX,
        OWNER ". 600 IN RRSIG TLSA 13 4 600 20261201100000 20261101000000 12345 "
              "acme.example. " SIG,
        NULL
    };
    dance_tlsa_result r;

    (void)state;
    classify(ALIAS, OWNER ".", rrs, &r);
    assert_int_equal(r.status, DANCE_OK);
    assert_int_equal(r.records.count, 1);
    assert_int_equal(r.sig_ttl, 30);
    assert_int_equal(r.ttl, 30);
    assert_true(served_s(&r) < 30);
    dance_tlsa_result_clear(&r);
}

/* no RRSIG to read: sig_ttl 0, and min_ttl does not raise the TTL */
static void test_no_rrsig_no_raise(void **state)
{
    static const char *const rrs[] = { OWNER ". 20 IN TLSA 3 1 1 " HEX, NULL };
    dance_tlsa_result r;

    (void)state;
    classify(OWNER, OWNER ".", rrs, &r);
    assert_int_equal(r.status, DANCE_OK);
    assert_int_equal(r.ttl, 20);
    assert_int_equal(r.sig_ttl, 0);
    assert_int_equal(served_s(&r), 19);
    dance_tlsa_result_clear(&r);
}

/* an expired signature (the resolver validated at another clock): nothing
 * to keep, ttl and sig_ttl 0 */
static void test_expired_signature(void **state)
{
    static const char *const rrs[] = {
        OWNER ". 60 IN TLSA 3 1 1 " HEX,
        OWNER ". 60 IN RRSIG TLSA 13 4 3600 20261130000000 20261101000000 12345 "
              "acme.example. " SIG,
        NULL
    };
    dance_tlsa_result r;

    (void)state;
    classify(OWNER, OWNER ".", rrs, &r);
    assert_int_equal(r.status, DANCE_OK);
    assert_int_equal(r.ttl, 0);
    assert_int_equal(r.sig_ttl, 0);
    assert_int_equal(served_s(&r), 0);
    dance_tlsa_result_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sig_expiry_caps_min_ttl),
        cmocka_unit_test(test_cname_signature_counts),
        cmocka_unit_test(test_no_rrsig_no_raise),
        cmocka_unit_test(test_expired_signature),
    };

    return cmocka_run_group_tests_name("resolver_reply", tests, NULL, NULL);
}
