/*
 * test_dane.c - unit tests for lib/dane.c: the DANE matcher's edge cases,
 * with certificates made at test time (testcerts.c).
 *
 * One CA and a family of leaves are built once per run (group setup):
 *   ca          self-signed CA "Test CA"
 *   leaf        issued by ca, SAN dev1._device.example.com, clientAuth
 *   leaf_srv    issued by ca, same SAN, serverAuth only
 *   leaf_exp    issued by ca, same SAN, clientAuth, expired an hour ago
 *   leaf_cn     issued by ca, CN dev1._device.example.com, no SAN
 *   self_exp    self-signed, same SAN, expired (a DANE-EE device key)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>

#include <cmocka.h>
#include <openssl/err.h>

#include "dance/dane.h"
#include "testcerts.h"

#define NAME "dev1._device.example.com"

static struct fixture {
    EVP_PKEY *ca_key, *key;
    X509 *ca, *leaf, *leaf_srv, *leaf_exp, *leaf_cn, *self_exp;
    STACK_OF(X509) *chain;          /* [ca] */
    char cafile[64];
    dance_matcher *plain;           /* no CA file */
    dance_matcher *with_ca;         /* CA file holding ca */
} fx;

static int setup(void **state)
{
    tc_spec ca = { .cn = "Test CA", .ca = true, .not_before = -3600, .not_after = 86400 };
    tc_spec leaf = { .cn = "device", .san = "DNS:" NAME, .eku = "clientAuth",
                     .not_before = -3600, .not_after = 86400 };
    tc_spec leaf_srv = leaf, leaf_exp = leaf, self_exp = leaf;
    tc_spec leaf_cn = { .cn = NAME, .eku = "clientAuth",
                        .not_before = -3600, .not_after = 86400 };
    X509 *cas[2];
    char err[256];

    (void)state;
    leaf_srv.eku = "serverAuth";
    leaf_exp.not_before = -7200;
    leaf_exp.not_after = -3600;
    self_exp.not_before = -7200;
    self_exp.not_after = -3600;

    fx.ca_key = tc_key();
    fx.key = tc_key();
    if (fx.ca_key == NULL || fx.key == NULL)
        return -1;
    fx.ca = tc_cert(&ca, fx.ca_key, NULL, NULL);
    if (fx.ca == NULL)
        return -1;
    fx.leaf = tc_cert(&leaf, fx.key, fx.ca, fx.ca_key);
    fx.leaf_srv = tc_cert(&leaf_srv, fx.key, fx.ca, fx.ca_key);
    fx.leaf_exp = tc_cert(&leaf_exp, fx.key, fx.ca, fx.ca_key);
    fx.leaf_cn = tc_cert(&leaf_cn, fx.key, fx.ca, fx.ca_key);
    fx.self_exp = tc_cert(&self_exp, fx.key, NULL, NULL);
    fx.chain = sk_X509_new_null();
    if (fx.leaf == NULL || fx.leaf_srv == NULL || fx.leaf_exp == NULL
        || fx.leaf_cn == NULL || fx.self_exp == NULL || fx.chain == NULL
        || !sk_X509_push(fx.chain, fx.ca))
        return -1;
    X509_up_ref(fx.ca);
    cas[0] = fx.ca;
    cas[1] = NULL;
    if (tc_write_pem(fx.cafile, cas) != 0)
        return -1;
    fx.plain = dance_matcher_new(NULL, err, sizeof(err));
    fx.with_ca = dance_matcher_new(fx.cafile, err, sizeof(err));
    if (fx.plain == NULL || fx.with_ca == NULL) {
        fprintf(stderr, "matcher: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dance_matcher_free(fx.plain);
    dance_matcher_free(fx.with_ca);
    if (fx.cafile[0] != '\0')
        unlink(fx.cafile);
    sk_X509_pop_free(fx.chain, X509_free);
    X509_free(fx.ca);
    X509_free(fx.leaf);
    X509_free(fx.leaf_srv);
    X509_free(fx.leaf_exp);
    X509_free(fx.leaf_cn);
    X509_free(fx.self_exp);
    EVP_PKEY_free(fx.ca_key);
    EVP_PKEY_free(fx.key);
    return 0;
}

/* match - run dance_match and check the return code agrees with the verdict */
static int match(const dance_matcher *m, X509 *leaf, STACK_OF(X509) *chain,
                 const char *name, dance_purpose purpose, bool no_ee,
                 const dance_tlsa_rrset *set, dance_match_result *res)
{
    dance_match_input in = { .leaf = leaf, .chain = chain, .name = name,
                             .no_ee_namechecks = no_ee, .purpose = purpose, .tlsa = set };
    int rc = dance_match(m, &in, res);

    if (rc != -1 && rc != (res->authenticated ? 0 : 1))
        fail_msg("rc %d disagrees with authenticated %d (%s)", rc, res->authenticated,
                 res->reason);
    return rc;
}

static void assert_reason(const dance_match_result *res, const char *want)
{
    if (strstr(res->reason, want) == NULL)
        fail_msg("reason \"%s\" does not mention \"%s\"", res->reason, want);
}

static void test_dane_ee_ignores_expiry(void **state)
{
    dance_tlsa_rrset set = { 0, NULL };
    dance_match_result res;

    (void)state;
    assert_int_equal(tc_tlsa_add(&set, 3, 1, 1, fx.self_exp, 0), 0);
    assert_int_equal(match(fx.plain, fx.self_exp, NULL, NAME, DANCE_PURPOSE_CLIENT, false,
                           &set, &res), 0);
    assert_true(res.authenticated);
    assert_int_equal(res.depth, 0);
    assert_int_equal(res.matched.usage, 3);
    assert_int_equal(res.matched.selector, 1);
    assert_int_equal(res.matched.mtype, 1);
    assert_null(res.matched.data);
    assert_int_equal(res.usable, 1);
    assert_int_equal(res.x509_error, 0);
    assert_reason(&res, "DANE-EE 3 1 1 matched at depth 0");
    /* an expired leaf under a CA, pinned by DANE-EE: dates are ignored too */
    dance_tlsa_rrset_clear(&set);
    assert_int_equal(tc_tlsa_add(&set, 3, 0, 1, fx.leaf_exp, 0), 0);
    assert_int_equal(match(fx.with_ca, fx.leaf_exp, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &set, &res), 0);
    dance_tlsa_rrset_clear(&set);
}

static void test_dane_ta_rejects_expired_leaf(void **state)
{
    dance_tlsa_rrset set = { 0, NULL };
    dance_match_result res;

    (void)state;
    assert_int_equal(tc_tlsa_add(&set, 2, 0, 1, fx.ca, 0), 0);
    /* control: the valid leaf passes with the same record */
    assert_int_equal(match(fx.plain, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_CLIENT, false,
                           &set, &res), 0);
    assert_int_equal(res.depth, 1);
    assert_reason(&res, "DANE-TA 2 0 1 matched at depth 1");

    assert_int_equal(match(fx.plain, fx.leaf_exp, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &set, &res), 1);
    assert_false(res.authenticated);
    assert_int_equal(res.x509_error, X509_V_ERR_CERT_HAS_EXPIRED);
    assert_int_equal(res.depth, 1);         /* the record did match */
    assert_int_equal(res.matched.usage, 2);
    assert_int_equal(res.matched_index, 0);
    assert_reason(&res, "DANE-TA 2 0 1 matched at depth 1 but certificate has expired");
    dance_tlsa_rrset_clear(&set);
}

static void test_wrong_name(void **state)
{
    dance_tlsa_rrset ta = { 0, NULL }, ee = { 0, NULL };
    dance_match_result res;

    (void)state;
    assert_int_equal(tc_tlsa_add(&ta, 2, 1, 1, fx.ca, 0), 0);
    assert_int_equal(tc_tlsa_add(&ee, 3, 1, 1, fx.leaf, 0), 0);

    /* DANE-TA always checks the name */
    assert_int_equal(match(fx.plain, fx.leaf, fx.chain, "dev2._device.example.com",
                           DANCE_PURPOSE_CLIENT, true, &ta, &res), 1);
    assert_int_equal(res.x509_error, X509_V_ERR_HOSTNAME_MISMATCH);
    assert_int_equal(res.depth, 1);
    assert_reason(&res, "dev2._device.example.com");
    /* a parent name is not the name either */
    assert_int_equal(match(fx.plain, fx.leaf, fx.chain, "_device.example.com",
                           DANCE_PURPOSE_CLIENT, false, &ta, &res), 1);
    /* DANE-EE checks it unless told not to */
    assert_int_equal(match(fx.plain, fx.leaf, NULL, "dev2._device.example.com",
                           DANCE_PURPOSE_CLIENT, false, &ee, &res), 1);
    assert_int_equal(res.x509_error, X509_V_ERR_HOSTNAME_MISMATCH);
    assert_int_equal(match(fx.plain, fx.leaf, NULL, "dev2._device.example.com",
                           DANCE_PURPOSE_CLIENT, true, &ee, &res), 0);
    assert_reason(&res, "name not checked");
    /* the reference name is normalised: case and trailing dot */
    assert_int_equal(match(fx.plain, fx.leaf, fx.chain, "DEV1._device.Example.COM.",
                           DANCE_PURPOSE_CLIENT, false, &ta, &res), 0);
    /* no name: no check */
    assert_int_equal(match(fx.plain, fx.leaf, fx.chain, NULL, DANCE_PURPOSE_CLIENT, false,
                           &ta, &res), 0);
    /* an invalid reference name is refused before any matching */
    assert_int_equal(match(fx.plain, fx.leaf, fx.chain, "a..example.com",
                           DANCE_PURPOSE_CLIENT, false, &ta, &res), 1);
    assert_reason(&res, "invalid reference name");
    /* the subject CN does not count as a name, only dNSName SANs do */
    assert_int_equal(match(fx.plain, fx.leaf_cn, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &ta, &res), 1);
    assert_int_equal(res.x509_error, X509_V_ERR_HOSTNAME_MISMATCH);
    dance_tlsa_rrset_clear(&ta);
    dance_tlsa_rrset_clear(&ee);
}

/* An identity is one exact name: under a DANE-TA record of the CA, a leaf
 * from that CA whose only name is a wildcard must not stand for a name the
 * wildcard covers (OpenSSL's host check would allow whole-label wildcards),
 * with or without DANE-EE name checks, for any purpose. This is the
 * connect-time check as the plugin makes it (bare leaf, CA file, clientAuth)
 * and the x5c one (chain, no purpose). The exact-name leaf from the same CA
 * is the positive control. */
static void test_wildcard_never_an_identity(void **state)
{
    tc_spec wild = { .cn = "wild", .san = "DNS:*.example.com", .eku = "clientAuth",
                     .not_before = -3600, .not_after = 86400 };
    tc_spec wild_dev = wild, exact = wild;
    dance_tlsa_rrset ta = { 0, NULL }, ta_key = { 0, NULL };
    dance_match_result res;
    X509 *leaf_wild, *leaf_wild_dev, *leaf_exact;

    (void)state;
    wild_dev.san = "DNS:*._device.example.com";
    exact.san = "DNS:victim.example.com";
    leaf_wild = tc_cert(&wild, fx.key, fx.ca, fx.ca_key);
    leaf_wild_dev = tc_cert(&wild_dev, fx.key, fx.ca, fx.ca_key);
    leaf_exact = tc_cert(&exact, fx.key, fx.ca, fx.ca_key);
    assert_non_null(leaf_wild);
    assert_non_null(leaf_wild_dev);
    assert_non_null(leaf_exact);
    assert_int_equal(tc_tlsa_add(&ta, 2, 0, 1, fx.ca, 0), 0);
    assert_int_equal(tc_tlsa_add(&ta_key, 2, 1, 1, fx.ca, 0), 0);

    /* positive control: the exact name from the same CA */
    assert_int_equal(match(fx.plain, leaf_exact, fx.chain, "victim.example.com",
                           DANCE_PURPOSE_CLIENT, false, &ta, &res), 0);
    /* the bare leaf with the CA from the CA file (the plugin's case) */
    assert_int_equal(match(fx.with_ca, leaf_exact, NULL, "victim.example.com",
                           DANCE_PURPOSE_CLIENT, false, &ta_key, &res), 0);

    /* the wildcard leaf: the record matches (depth 1), the name does not */
    assert_int_equal(match(fx.plain, leaf_wild, fx.chain, "victim.example.com",
                           DANCE_PURPOSE_CLIENT, false, &ta, &res), 1);
    assert_false(res.authenticated);
    assert_int_equal(res.x509_error, X509_V_ERR_HOSTNAME_MISMATCH);
    assert_int_equal(res.depth, 1);
    assert_int_equal(match(fx.with_ca, leaf_wild, NULL, "victim.example.com",
                           DANCE_PURPOSE_CLIENT, false, &ta_key, &res), 1);
    assert_int_equal(res.x509_error, X509_V_ERR_HOSTNAME_MISMATCH);
    /* as for x5c messages and tokens: no purpose, DANE-EE name checks off */
    assert_int_equal(match(fx.plain, leaf_wild, fx.chain, "victim.example.com",
                           DANCE_PURPOSE_NONE, true, &ta, &res), 1);
    assert_int_equal(res.x509_error, X509_V_ERR_HOSTNAME_MISMATCH);
    /* a DevID-form name under a wildcard of its parent (OpenSSL already
     * refuses a pattern with an underscore label; kept to catch a change) */
    assert_int_equal(match(fx.plain, leaf_wild_dev, fx.chain, NAME,
                           DANCE_PURPOSE_CLIENT, false, &ta, &res), 1);
    assert_int_equal(res.x509_error, X509_V_ERR_HOSTNAME_MISMATCH);
    /* nor does the wildcard string itself name anything */
    assert_int_equal(match(fx.plain, leaf_wild, fx.chain, "*.example.com",
                           DANCE_PURPOSE_CLIENT, false, &ta, &res), 1);
    assert_reason(&res, "invalid reference name");

    dance_tlsa_rrset_clear(&ta);
    dance_tlsa_rrset_clear(&ta_key);
    X509_free(leaf_wild);
    X509_free(leaf_wild_dev);
    X509_free(leaf_exact);
}

static void test_digest_agility(void **state)
{
    dance_tlsa_rrset set = { 0, NULL };
    dance_match_result res;

    (void)state;
    /* SHA2-512 outranks SHA2-256 for the same usage and selector: a correct
     * 3 1 1 does not rescue a wrong 3 1 2 (RFC 7671 section 9) */
    assert_int_equal(tc_tlsa_add(&set, 3, 1, 1, fx.leaf, 0), 0);
    assert_int_equal(tc_tlsa_add(&set, 3, 1, 2, fx.leaf, 1), 0);
    assert_int_equal(match(fx.plain, fx.leaf, NULL, NAME, DANCE_PURPOSE_CLIENT, false,
                           &set, &res), 1);
    assert_int_equal(res.usable, 2);
    assert_int_equal(res.x509_error, X509_V_ERR_DANE_NO_MATCH);
    assert_int_equal(res.matched_index, -1);
    assert_reason(&res, "does not match any of 2 TLSA records");
    dance_tlsa_rrset_clear(&set);

    /* the other way round: the strongest digest matches */
    assert_int_equal(tc_tlsa_add(&set, 3, 1, 1, fx.leaf, 1), 0);
    assert_int_equal(tc_tlsa_add(&set, 3, 1, 2, fx.leaf, 0), 0);
    assert_int_equal(match(fx.plain, fx.leaf, NULL, NAME, DANCE_PURPOSE_CLIENT, false,
                           &set, &res), 0);
    assert_int_equal(res.matched.mtype, 2);
    assert_int_equal(res.matched_index, 1);
    dance_tlsa_rrset_clear(&set);

    /* agility is per selector: a wrong 3 0 2 does not hide a right 3 1 1 */
    assert_int_equal(tc_tlsa_add(&set, 3, 0, 2, fx.leaf, 1), 0);
    assert_int_equal(tc_tlsa_add(&set, 3, 1, 1, fx.leaf, 0), 0);
    assert_int_equal(match(fx.plain, fx.leaf, NULL, NAME, DANCE_PURPOSE_CLIENT, false,
                           &set, &res), 0);
    assert_int_equal(res.matched.selector, 1);
    assert_int_equal(res.matched.mtype, 1);
    dance_tlsa_rrset_clear(&set);
}

static void test_unknown_records_ignored(void **state)
{
    static const unsigned char digest[32] = { 1, 2, 3 };
    dance_tlsa_rrset set = { 0, NULL };
    dance_match_result res;

    (void)state;
    /* alone: not authenticated, "no usable" */
    assert_int_equal(dance_tlsa_rrset_add(&set, 4, 1, 1, digest, sizeof(digest)), 0);
    assert_int_equal(match(fx.with_ca, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &set, &res), 1);
    assert_false(res.authenticated);
    assert_int_equal(res.usable, 0);
    assert_int_equal(res.depth, -1);
    assert_reason(&res, "no usable TLSA record");
    assert_reason(&res, "4 1 1");
    assert_int_equal(dance_tlsa_rrset_add(&set, 3, 2, 1, digest, sizeof(digest)), 0);
    assert_int_equal(dance_tlsa_rrset_add(&set, 3, 1, 3, digest, sizeof(digest)), 0);
    assert_int_equal(dance_tlsa_rrset_add(&set, 3, 1, 1, digest, 31), 0);  /* short */
    assert_int_equal(dance_tlsa_rrset_add(&set, 3, 0, 0, digest, sizeof(digest)), 0);
    assert_int_equal(match(fx.with_ca, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &set, &res), 1);
    assert_int_equal(res.usable, 0);
    assert_reason(&res, "no usable TLSA record among 5");

    /* beside a good record they are ignored */
    assert_int_equal(tc_tlsa_add(&set, 3, 1, 1, fx.leaf, 0), 0);
    assert_int_equal(match(fx.with_ca, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &set, &res), 0);
    assert_int_equal(res.usable, 1);
    assert_int_equal(res.matched_index, 5);     /* not the short 3 1 1 at 3 */
    dance_tlsa_rrset_clear(&set);

    /* beside a wrong record the reason counts them */
    assert_int_equal(dance_tlsa_rrset_add(&set, 4, 1, 1, digest, sizeof(digest)), 0);
    assert_int_equal(tc_tlsa_add(&set, 3, 1, 1, fx.leaf, 1), 0);
    assert_int_equal(match(fx.plain, fx.leaf, NULL, NAME, DANCE_PURPOSE_CLIENT, false,
                           &set, &res), 1);
    assert_reason(&res, "does not match the TLSA record (1 more unusable");
    dance_tlsa_rrset_clear(&set);
}

static void test_no_pkix_fallback(void **state)
{
    static const unsigned char digest[32] = { 9 };
    dance_tlsa_rrset set = { 0, NULL };
    dance_match_result res;

    (void)state;
    /* the chain is PKIX-valid against the CA file, but the only record is
     * unusable: OpenSSL would pass it as plain PKIX; we must not */
    assert_int_equal(dance_tlsa_rrset_add(&set, 3, 1, 7, digest, sizeof(digest)), 0);
    assert_int_equal(match(fx.with_ca, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &set, &res), 1);
    dance_tlsa_rrset_clear(&set);
    /* a usable record that does not match: DANE failure, not PKIX success */
    assert_int_equal(tc_tlsa_add(&set, 3, 1, 1, fx.leaf_srv, 0), 0);
    assert_int_equal(tc_tlsa_add(&set, 3, 1, 1, fx.leaf, 1), 0);
    assert_int_equal(match(fx.with_ca, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &set, &res), 0);  /* same key: 3 1 1 matches */
    dance_tlsa_rrset_clear(&set);
    assert_int_equal(tc_tlsa_add(&set, 3, 0, 1, fx.leaf_srv, 0), 0);
    assert_int_equal(match(fx.with_ca, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &set, &res), 1);
    assert_int_equal(res.x509_error, X509_V_ERR_DANE_NO_MATCH);
    assert_int_equal(res.depth, -1);
    dance_tlsa_rrset_clear(&set);
}

static void test_pkix_needs_ca(void **state)
{
    dance_tlsa_rrset ee = { 0, NULL }, ta = { 0, NULL };
    dance_match_result res;

    (void)state;
    assert_int_equal(tc_tlsa_add(&ee, 1, 1, 1, fx.leaf, 0), 0);
    assert_int_equal(tc_tlsa_add(&ta, 0, 0, 1, fx.ca, 0), 0);
    /* without the CA in the CA file there is no PKIX path */
    assert_int_equal(match(fx.plain, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_CLIENT, false,
                           &ee, &res), 1);
    assert_int_equal(res.depth, 0);         /* matched, but not trusted */
    assert_int_not_equal(res.x509_error, 0);
    assert_reason(&res, "PKIX-EE 1 1 1 matched at depth 0 but");
    assert_int_equal(match(fx.plain, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_CLIENT, false,
                           &ta, &res), 1);
    /* with it, both PKIX usages pass */
    assert_int_equal(match(fx.with_ca, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &ee, &res), 0);
    assert_int_equal(res.depth, 0);
    assert_int_equal(match(fx.with_ca, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &ta, &res), 0);
    assert_int_equal(res.depth, 1);
    assert_int_equal(res.matched.usage, 0);
    /* the CA file also supplies the issuer when the client sent only its leaf */
    assert_int_equal(match(fx.with_ca, fx.leaf, NULL, NAME, DANCE_PURPOSE_CLIENT,
                           false, &ta, &res), 0);
    /* PKIX still checks dates */
    assert_int_equal(match(fx.with_ca, fx.leaf_exp, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &ee, &res), 1);
    assert_int_equal(res.x509_error, X509_V_ERR_CERT_HAS_EXPIRED);
    dance_tlsa_rrset_clear(&ee);
    dance_tlsa_rrset_clear(&ta);
}

static void test_dane_ta_issuer_sources(void **state)
{
    dance_tlsa_rrset hash = { 0, NULL }, full = { 0, NULL };
    dance_match_result res;

    (void)state;
    assert_int_equal(tc_tlsa_add(&hash, 2, 0, 1, fx.ca, 0), 0);
    assert_int_equal(tc_tlsa_add(&full, 2, 0, 0, fx.ca, 0), 0);
    /* leaf only, no CA file: a hash cannot supply the issuer */
    assert_int_equal(match(fx.plain, fx.leaf, NULL, NAME, DANCE_PURPOSE_CLIENT, false,
                           &hash, &res), 1);
    /* ... the CA file can */
    assert_int_equal(match(fx.with_ca, fx.leaf, NULL, NAME, DANCE_PURPOSE_CLIENT, false,
                           &hash, &res), 0);
    assert_int_equal(res.depth, 1);
    /* ... and so can a full certificate in DNS (2 0 0) */
    assert_int_equal(match(fx.plain, fx.leaf, NULL, NAME, DANCE_PURPOSE_CLIENT, false,
                           &full, &res), 0);
    assert_int_equal(res.depth, 1);
    dance_tlsa_rrset_clear(&hash);
    dance_tlsa_rrset_clear(&full);
}

/* A client sends leaf + intermediate, DNS pins the root that only the CA
 * file holds: OpenSSL alone would not look in the CA file for DANE-TA, the
 * matcher's second attempt does. */
static void test_dane_ta_root_from_cafile(void **state)
{
    tc_spec inter_spec = { .cn = "Test Intermediate", .ca = true,
                           .not_before = -3600, .not_after = 86400 };
    tc_spec leaf_spec = { .cn = "device", .san = "DNS:" NAME, .eku = "clientAuth",
                          .not_before = -3600, .not_after = 86400 };
    dance_tlsa_rrset set = { 0, NULL };
    dance_match_result res;
    STACK_OF(X509) *chain = sk_X509_new_null();
    EVP_PKEY *ikey = tc_key();
    X509 *inter, *leaf;

    (void)state;
    assert_non_null(chain);
    assert_non_null(ikey);
    inter = tc_cert(&inter_spec, ikey, fx.ca, fx.ca_key);
    assert_non_null(inter);
    leaf = tc_cert(&leaf_spec, fx.key, inter, ikey);
    assert_non_null(leaf);
    assert_true(sk_X509_push(chain, inter));
    assert_int_equal(tc_tlsa_add(&set, 2, 0, 1, fx.ca, 0), 0);

    assert_int_equal(match(fx.with_ca, leaf, chain, NAME, DANCE_PURPOSE_CLIENT, false,
                           &set, &res), 0);
    assert_int_equal(res.depth, 2);
    assert_reason(&res, "DANE-TA 2 0 1 matched at depth 2");
    /* without the CA file nothing supplies the root */
    assert_int_equal(match(fx.plain, leaf, chain, NAME, DANCE_PURPOSE_CLIENT, false,
                           &set, &res), 1);
    assert_int_equal(res.x509_error, X509_V_ERR_DANE_NO_MATCH);
    /* a record for the intermediate matches at depth 1 straight away */
    dance_tlsa_rrset_clear(&set);
    assert_int_equal(tc_tlsa_add(&set, 2, 1, 2, inter, 0), 0);
    assert_int_equal(match(fx.plain, leaf, chain, NAME, DANCE_PURPOSE_CLIENT, false,
                           &set, &res), 0);
    assert_int_equal(res.depth, 1);
    dance_tlsa_rrset_clear(&set);
    sk_X509_pop_free(chain, X509_free);
    X509_free(leaf);
    EVP_PKEY_free(ikey);
}

static void test_empty_set(void **state)
{
    dance_tlsa_rrset set = { 0, NULL };
    dance_match_input in = { .leaf = fx.leaf, .chain = fx.chain, .name = NAME,
                             .purpose = DANCE_PURPOSE_CLIENT, .tlsa = NULL };
    dance_match_result res;

    (void)state;
    assert_int_equal(match(fx.with_ca, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &set, &res), 1);
    assert_false(res.authenticated);
    assert_int_equal(res.depth, -1);
    assert_int_equal(res.x509_error, -1);
    assert_reason(&res, "no usable TLSA record");
    assert_int_equal(dance_match(fx.with_ca, &in, &res), 1);
    assert_false(res.authenticated);
    /* bad calls are internal errors, never success */
    in.leaf = NULL;
    assert_int_equal(dance_match(fx.with_ca, &in, &res), -1);
    assert_false(res.authenticated);
    assert_int_equal(dance_match(NULL, &in, &res), -1);
    assert_int_equal(dance_match(fx.with_ca, &in, NULL), -1);
}

static void test_purpose(void **state)
{
    dance_tlsa_rrset ta = { 0, NULL }, pkix = { 0, NULL }, ee = { 0, NULL };
    dance_match_result res;

    (void)state;
    assert_int_equal(tc_tlsa_add(&ta, 2, 1, 1, fx.ca, 0), 0);
    assert_int_equal(tc_tlsa_add(&pkix, 0, 1, 1, fx.ca, 0), 0);
    assert_int_equal(tc_tlsa_add(&ee, 3, 1, 1, fx.leaf_srv, 0), 0);

    /* serverAuth-only leaf: refused as a client, accepted as a server or
     * without a purpose */
    assert_int_equal(match(fx.with_ca, fx.leaf_srv, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &ta, &res), 1);
    assert_int_equal(res.x509_error, X509_V_ERR_INVALID_PURPOSE);
    assert_int_equal(res.depth, 1);
    assert_reason(&res, "unsuitable certificate purpose");
    assert_int_equal(match(fx.with_ca, fx.leaf_srv, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &pkix, &res), 1);
    assert_int_equal(res.x509_error, X509_V_ERR_INVALID_PURPOSE);
    assert_int_equal(match(fx.with_ca, fx.leaf_srv, fx.chain, NAME, DANCE_PURPOSE_SERVER,
                           false, &ta, &res), 0);
    assert_int_equal(match(fx.with_ca, fx.leaf_srv, fx.chain, NAME, DANCE_PURPOSE_NONE,
                           false, &pkix, &res), 0);
    /* clientAuth leaf the other way round */
    assert_int_equal(match(fx.with_ca, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_SERVER,
                           false, &ta, &res), 1);
    assert_int_equal(res.x509_error, X509_V_ERR_INVALID_PURPOSE);
    /* DANE-EE pins the key: RFC 7671 ignores the certificate's other fields */
    assert_int_equal(match(fx.with_ca, fx.leaf_srv, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &ee, &res), 0);
    /* an out-of-range purpose is an internal error */
    assert_int_equal(match(fx.with_ca, fx.leaf, fx.chain, NAME, DANCE_PURPOSE_COUNT,
                           false, &ta, &res), -1);
    dance_tlsa_rrset_clear(&ta);
    dance_tlsa_rrset_clear(&pkix);
    dance_tlsa_rrset_clear(&ee);
}

static void test_error_queue_untouched(void **state)
{
    static const unsigned char digest[32] = { 7 };
    dance_tlsa_rrset set = { 0, NULL };
    dance_match_result res;
    unsigned long before;

    (void)state;
    ERR_clear_error();
    assert_int_equal(dance_tlsa_rrset_add(&set, 9, 9, 9, digest, sizeof(digest)), 0);
    assert_int_equal(tc_tlsa_add(&set, 2, 0, 1, fx.ca, 0), 0);
    assert_int_equal(match(fx.plain, fx.leaf_exp, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &set, &res), 1);
    assert_int_equal(ERR_peek_error(), 0);
    /* an error the caller had queued is still there afterwards */
    ERR_raise(ERR_LIB_SSL, ERR_R_PASSED_NULL_PARAMETER);
    before = ERR_peek_last_error();
    assert_int_equal(match(fx.plain, fx.leaf_exp, fx.chain, NAME, DANCE_PURPOSE_CLIENT,
                           false, &set, &res), 1);
    assert_int_equal(ERR_peek_last_error(), before);
    ERR_clear_error();
    dance_tlsa_rrset_clear(&set);
}

static void test_matcher_new_errors(void **state)
{
    char err[256] = "";
    char path[64];
    X509 *none[1] = { NULL };
    dance_matcher *m;

    (void)state;
    m = dance_matcher_new("/nonexistent/ca.pem", err, sizeof(err));
    assert_null(m);
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
    assert_non_null(strstr(err, "No such file"));
    /* a readable file without certificates */
    assert_int_equal(tc_write_pem(path, none), 0);
    err[0] = '\0';
    m = dance_matcher_new(path, err, sizeof(err));
    unlink(path);
    assert_null(m);
    assert_non_null(strstr(err, path));
    assert_int_equal(ERR_peek_error(), 0);
    dance_matcher_free(NULL);
}

/* Threads share one matcher: each runs a passing and a failing match many
 * times and checks every verdict. */
struct worker {
    const dance_tlsa_rrset *good, *bad;
    int errors;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    dance_match_result res;
    int i;

    for (i = 0; i < 200; i++) {
        dance_match_input in = { .leaf = fx.leaf, .chain = fx.chain, .name = NAME,
                                 .purpose = DANCE_PURPOSE_CLIENT, .tlsa = w->good };
        if (dance_match(fx.with_ca, &in, &res) != 0 || res.depth != 1)
            w->errors++;
        in.tlsa = w->bad;
        if (dance_match(fx.with_ca, &in, &res) != 1 || res.authenticated)
            w->errors++;
    }
    return NULL;
}

static void test_threads_share_matcher(void **state)
{
    dance_tlsa_rrset good = { 0, NULL }, bad = { 0, NULL };
    pthread_t t[4];
    struct worker w[4];
    int i;

    (void)state;
    assert_int_equal(tc_tlsa_add(&good, 2, 1, 1, fx.ca, 0), 0);
    assert_int_equal(tc_tlsa_add(&bad, 2, 1, 1, fx.ca, 1), 0);
    for (i = 0; i < 4; i++) {
        w[i] = (struct worker){ &good, &bad, 0 };
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].errors, 0);
    }
    dance_tlsa_rrset_clear(&good);
    dance_tlsa_rrset_clear(&bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dane_ee_ignores_expiry),
        cmocka_unit_test(test_dane_ta_rejects_expired_leaf),
        cmocka_unit_test(test_wrong_name),
        cmocka_unit_test(test_wildcard_never_an_identity),
        cmocka_unit_test(test_digest_agility),
        cmocka_unit_test(test_unknown_records_ignored),
        cmocka_unit_test(test_no_pkix_fallback),
        cmocka_unit_test(test_pkix_needs_ca),
        cmocka_unit_test(test_dane_ta_issuer_sources),
        cmocka_unit_test(test_dane_ta_root_from_cafile),
        cmocka_unit_test(test_empty_set),
        cmocka_unit_test(test_purpose),
        cmocka_unit_test(test_error_queue_untouched),
        cmocka_unit_test(test_matcher_new_errors),
        cmocka_unit_test(test_threads_share_matcher),
    };

    return cmocka_run_group_tests_name("dane", tests, setup, teardown);
}
