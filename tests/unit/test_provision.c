/*
 * test_provision.c - unit tests for lib/provision.c: key generation and
 * files, certificate issuance, TLSA data. Results are checked with OpenSSL
 * calls made here (X509_verify, X509_check_host, extension flags), not with
 * provision.c itself. The CLI-level contract is tested by
 * tests/integration/test_cli.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "dance/provision.h"

static char tmpdir[] = "/tmp/dance-provision-XXXXXX";

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* count_entries - files in tmpdir whose name starts with prefix */
static int count_entries(const char *prefix)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static void test_key_type_names(void **state)
{
    dance_key_type t;
    int i;

    (void)state;
    for (i = 0; i < DANCE_KEY_TYPE_COUNT; i++) {
        assert_int_equal(dance_key_type_parse(dance_key_type_name((dance_key_type)i), &t), 0);
        assert_int_equal(t, i);
    }
    assert_int_equal(dance_key_type_parse("EC256", &t), -1);
    assert_int_equal(dance_key_type_parse("", &t), -1);
    assert_int_equal(dance_key_type_parse("rsa1024", &t), -1);
    assert_int_equal(dance_key_type_parse(NULL, &t), -1);
    assert_string_equal(dance_key_type_name(DANCE_KEY_TYPE_COUNT), "unknown");
}

static void test_generate_and_digest(void **state)
{
    static const struct {
        dance_key_type type;
        const char *alg;
        int bits;
        const char *digest;     /* NULL: no external digest */
    } cases[] = {
        { DANCE_KEY_EC256, "EC", 256, "SHA256" },
        { DANCE_KEY_EC384, "EC", 384, "SHA384" },
        { DANCE_KEY_EC521, "EC", 521, "SHA512" },
        { DANCE_KEY_RSA2048, "RSA", 2048, "SHA256" },
        { DANCE_KEY_RSA3072, "RSA", 3072, "SHA256" },
        { DANCE_KEY_ED25519, "ED25519", 256, NULL },
    };
    char err[DANCE_REASON_MAX];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        EVP_PKEY *k = dance_key_generate(cases[i].type, err, sizeof(err));
        const EVP_MD *md;

        assert_non_null(k);
        assert_true(EVP_PKEY_is_a(k, cases[i].alg));
        assert_int_equal(EVP_PKEY_get_bits(k), cases[i].bits);
        md = dance_sign_digest(k);
        if (cases[i].digest == NULL) {
            assert_null(md);
            assert_true(dance_key_is_eddsa(k));
        } else {
            assert_non_null(md);
            assert_true(EVP_MD_is_a(md, cases[i].digest));
            assert_false(dance_key_is_eddsa(k));
        }
        EVP_PKEY_free(k);
    }
    err[0] = '\0';
    assert_null(dance_key_generate(DANCE_KEY_TYPE_COUNT, err, sizeof(err)));
    assert_true(err[0] != '\0');
}

static void test_key_write_load(void **state)
{
    char path[256], err[1024];
    EVP_PKEY *k, *k2, *loaded;
    struct stat st;

    (void)state;
    tmp_path(path, sizeof(path), "k.pem");
    k = dance_key_generate(DANCE_KEY_EC256, err, sizeof(err));
    k2 = dance_key_generate(DANCE_KEY_ED25519, err, sizeof(err));
    assert_non_null(k);
    assert_non_null(k2);

    assert_int_equal(dance_key_write(path, k, false, err, sizeof(err)), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    loaded = dance_key_load(path, err, sizeof(err));
    assert_non_null(loaded);
    assert_int_equal(EVP_PKEY_eq(k, loaded), 1);
    EVP_PKEY_free(loaded);

    /* no overwrite: refused, file unchanged */
    assert_int_equal(dance_key_write(path, k2, false, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "exists"));
    loaded = dance_key_load(path, err, sizeof(err));
    assert_non_null(loaded);
    assert_int_equal(EVP_PKEY_eq(k, loaded), 1);
    EVP_PKEY_free(loaded);

    /* overwrite: replaced, still 0600 even if the old file was not */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(dance_key_write(path, k2, true, err, sizeof(err)), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    loaded = dance_key_load(path, err, sizeof(err));
    assert_non_null(loaded);
    assert_int_equal(EVP_PKEY_eq(k2, loaded), 1);
    EVP_PKEY_free(loaded);
    assert_int_equal(count_entries("k.pem."), 0);   /* no temporary files left */

    /* a directory that does not exist */
    tmp_path(path, sizeof(path), "missing/k.pem");
    assert_int_equal(dance_key_write(path, k, true, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "missing/k.pem"));
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
}

static void test_key_load_errors(void **state)
{
    char path[256], err[1024];
    EVP_PKEY *k;
    FILE *f;

    (void)state;
    tmp_path(path, sizeof(path), "nonexistent.pem");
    assert_null(dance_key_load(path, err, sizeof(err)));
    assert_non_null(strstr(err, "No such file"));

    tmp_path(path, sizeof(path), "garbage.pem");
    write_text(path, "not a key\n");
    assert_null(dance_key_load(path, err, sizeof(err)));
    assert_non_null(strstr(err, "no PEM private key"));

    assert_null(dance_key_load(tmpdir, err, sizeof(err)));
    assert_non_null(strstr(err, "not a regular file"));

    /* encrypted: refused without prompting */
    k = dance_key_generate(DANCE_KEY_EC256, err, sizeof(err));
    assert_non_null(k);
    tmp_path(path, sizeof(path), "enc.pem");
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, EVP_aes_256_cbc(),
                                          (unsigned char *)"secret", 6, NULL, NULL), 1);
    fclose(f);
    assert_null(dance_key_load(path, err, sizeof(err)));
    assert_non_null(strstr(err, "encrypted"));
    EVP_PKEY_free(k);
}

/* check_leaf - the device certificate profile of dance/provision.h */
static void check_leaf(X509 *x, EVP_PKEY *key, const char *name, bool rsa)
{
    uint32_t ku = X509_get_key_usage(x);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);

    assert_int_equal(X509_get_version(x), X509_VERSION_3);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), key), 1);
    assert_int_equal(X509_check_host(x, name, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
                                     NULL), 1);
    assert_true(X509_get_extension_flags(x) & EXFLAG_XKUSAGE);
    assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
    assert_false(X509_get_extension_flags(x) & EXFLAG_CA);
    assert_int_equal(X509_check_ca(x), 0);
    assert_int_equal(ku, rsa ? (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT)
                             : KU_DIGITAL_SIGNATURE);
    assert_non_null(X509_get0_subject_key_id(x));
    assert_non_null(X509_get0_authority_key_id(x));
    /* serial: positive, non-zero, at most 128 bits */
    assert_non_null(bn);
    assert_false(BN_is_negative(bn));
    assert_false(BN_is_zero(bn));
    assert_true(BN_num_bits(bn) <= 128);
    BN_free(bn);
    /* notBefore in the past, notAfter in the future */
    assert_true(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
    assert_true(X509_cmp_current_time(X509_get0_notAfter(x)) > 0);
}

static void test_self_signed_leaf(void **state)
{
    static const dance_key_type types[] = { DANCE_KEY_EC256, DANCE_KEY_RSA2048,
                                            DANCE_KEY_ED25519 };
    char err[1024];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        EVP_PKEY *k = dance_key_generate(types[i], err, sizeof(err));
        dance_cert_request req = { .key = k, .name = "Dev1._device.Example.com." };
        X509 *x;
        int pday, psec;

        assert_non_null(k);
        x = dance_cert_issue(&req, err, sizeof(err));
        assert_non_null(x);
        check_leaf(x, k, "dev1._device.example.com", types[i] == DANCE_KEY_RSA2048);
        assert_int_equal(X509_verify(x, k), 1);
        assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
        /* default validity: 365 days plus the minute of back-dating */
        assert_int_equal(ASN1_TIME_diff(&pday, &psec, X509_get0_notBefore(x),
                                        X509_get0_notAfter(x)), 1);
        assert_int_equal(pday, 365);
        assert_int_equal(psec, 60);
        X509_free(x);
        EVP_PKEY_free(k);
    }
}

static void test_ca_issued_leaf(void **state)
{
    char err[1024];
    EVP_PKEY *cak = dance_key_generate(DANCE_KEY_EC384, err, sizeof(err));
    EVP_PKEY *k = dance_key_generate(DANCE_KEY_EC256, err, sizeof(err));
    dance_cert_request careq = { .key = cak, .name = "Test CA", .is_ca = true,
                                 .days = 30 };
    dance_cert_request req = { .key = k, .name = "dev2._device.example.com",
                               .days = 7 };
    X509 *ca, *x;

    (void)state;
    assert_non_null(cak);
    assert_non_null(k);
    ca = dance_cert_issue(&careq, err, sizeof(err));
    assert_non_null(ca);
    assert_int_equal(X509_check_ca(ca), 1);
    assert_int_equal(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_int_equal(X509_verify(ca, cak), 1);

    req.issuer_cert = ca;
    req.issuer_key = cak;
    x = dance_cert_issue(&req, err, sizeof(err));
    assert_non_null(x);
    check_leaf(x, k, "dev2._device.example.com", false);
    assert_int_equal(X509_check_issued(ca, x), X509_V_OK);
    assert_int_equal(X509_verify(x, cak), 1);
    assert_int_equal(X509_verify(x, k), 0);
    assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
                                           X509_get0_subject_key_id(ca)), 0);
    assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA384);
    X509_free(x);
    X509_free(ca);
    EVP_PKEY_free(k);
    EVP_PKEY_free(cak);
}

static void test_issue_refusals(void **state)
{
    char err[1024];
    char longcn[80];
    EVP_PKEY *k = dance_key_generate(DANCE_KEY_EC256, err, sizeof(err));
    EVP_PKEY *other = dance_key_generate(DANCE_KEY_EC256, err, sizeof(err));
    dance_cert_request careq = { .key = k, .name = "CA", .is_ca = true };
    dance_cert_request leafreq = { .key = k, .name = "leaf.example" };
    X509 *ca, *leaf;
    struct refusal {
        dance_cert_request req;
        const char *why;
    } cases[8];
    size_t i, n = 0;

    (void)state;
    assert_non_null(k);
    assert_non_null(other);
    ca = dance_cert_issue(&careq, err, sizeof(err));
    leaf = dance_cert_issue(&leafreq, err, sizeof(err));
    assert_non_null(ca);
    assert_non_null(leaf);
    memset(longcn, 'C', 65);
    longcn[65] = '\0';

    cases[n++] = (struct refusal){ { .key = k, .name = "a.example", .issuer_cert = ca },
                                     "both" };
    cases[n++] = (struct refusal){ { .key = k, .name = "a.example", .issuer_key = k },
                                     "both" };
    cases[n++] = (struct refusal){ { .key = k, .name = "a.example", .issuer_cert = ca,
                                       .issuer_key = other }, "does not match" };
    cases[n++] = (struct refusal){ { .key = k, .name = "a.example", .issuer_cert = leaf,
                                       .issuer_key = k }, "not a CA" };
    cases[n++] = (struct refusal){ { .key = k, .name = "a.example", .days = -1 }, "days" };
    cases[n++] = (struct refusal){ { .key = k, .name = "a.example",
                                       .days = DANCE_CERT_DAYS_MAX + 1 }, "days" };
    cases[n++] = (struct refusal){ { .key = k, .name = "bad name" }, "bad name" };
    cases[n++] = (struct refusal){ { .key = k, .name = longcn, .is_ca = true }, "64" };
    for (i = 0; i < n; i++) {
        err[0] = '\0';
        assert_null(dance_cert_issue(&cases[i].req, err, sizeof(err)));
        if (strstr(err, cases[i].why) == NULL)
            fail_msg("case %zu: reason \"%s\" lacks \"%s\"", i, err, cases[i].why);
    }
    assert_null(dance_cert_issue(NULL, err, sizeof(err)));
    X509_free(leaf);
    X509_free(ca);
    EVP_PKEY_free(other);
    EVP_PKEY_free(k);
}

static void test_cert_files(void **state)
{
    char err[1024], a[256], b[256], chain[256], bad[256], empty[256];
    EVP_PKEY *k = dance_key_generate(DANCE_KEY_EC256, err, sizeof(err));
    dance_cert_request r1 = { .key = k, .name = "one.example" };
    dance_cert_request r2 = { .key = k, .name = "two.example" };
    X509 *x1, *x2, *loaded;
    STACK_OF(X509) *all;
    struct stat st;
    FILE *f;

    (void)state;
    x1 = dance_cert_issue(&r1, err, sizeof(err));
    x2 = dance_cert_issue(&r2, err, sizeof(err));
    assert_non_null(x1);
    assert_non_null(x2);
    tmp_path(a, sizeof(a), "one.pem");
    tmp_path(b, sizeof(b), "two.pem");
    assert_int_equal(dance_cert_write(a, x1, false, err, sizeof(err)), 0);
    assert_int_equal(stat(a, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(dance_cert_write(a, x2, false, err, sizeof(err)), -1);
    assert_int_equal(dance_cert_write(b, x2, false, err, sizeof(err)), 0);
    loaded = dance_cert_load(a, err, sizeof(err));
    assert_non_null(loaded);
    assert_int_equal(X509_cmp(loaded, x1), 0);
    X509_free(loaded);
    /* the identity a client with the file's certificate has */
    {
        char id[64], tiny[4];
        assert_int_equal(dance_cert_file_identity(a, id, sizeof(id), err, sizeof(err)), 0);
        assert_string_equal(id, "one.example");
        assert_int_equal(dance_cert_file_identity(a, tiny, sizeof(tiny), err,
                                                  sizeof(err)), -1);
        assert_int_equal(dance_cert_file_identity("/nonexistent.pem", id, sizeof(id),
                                                  err, sizeof(err)), -1);
        assert_non_null(strstr(err, "/nonexistent.pem"));
    }

    /* a chain file: text between blocks is ignored, order kept */
    tmp_path(chain, sizeof(chain), "chain.pem");
    f = fopen(chain, "w");
    assert_non_null(f);
    fputs("leaf:\n", f);
    PEM_write_X509(f, x1);
    fputs("issuer:\n", f);
    PEM_write_X509(f, x2);
    fclose(f);
    all = dance_certs_load(chain, err, sizeof(err));
    assert_non_null(all);
    assert_int_equal(sk_X509_num(all), 2);
    assert_int_equal(X509_cmp(sk_X509_value(all, 0), x1), 0);
    assert_int_equal(X509_cmp(sk_X509_value(all, 1), x2), 0);
    sk_X509_pop_free(all, X509_free);
    loaded = dance_cert_load(chain, err, sizeof(err));
    assert_non_null(loaded);
    assert_int_equal(X509_cmp(loaded, x1), 0);
    X509_free(loaded);

    /* a damaged second block is an error, not a shorter chain */
    tmp_path(bad, sizeof(bad), "bad.pem");
    f = fopen(bad, "w");
    assert_non_null(f);
    PEM_write_X509(f, x1);
    fputs("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    assert_null(dance_certs_load(bad, err, sizeof(err)));
    assert_non_null(strstr(err, "PEM block 2"));

    tmp_path(empty, sizeof(empty), "empty.pem");
    write_text(empty, "");
    assert_null(dance_cert_load(empty, err, sizeof(err)));
    assert_non_null(strstr(err, "no PEM CERTIFICATE"));

    X509_free(x1);
    X509_free(x2);
    EVP_PKEY_free(k);
}

static void test_tlsa_from_cert(void **state)
{
    char err[1024];
    EVP_PKEY *k = dance_key_generate(DANCE_KEY_EC256, err, sizeof(err));
    dance_cert_request req = { .key = k, .name = "t.example" };
    dance_tlsa_rrset set = { 0, NULL };
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    X509 *x;
    int n;

    (void)state;
    x = dance_cert_issue(&req, err, sizeof(err));
    assert_non_null(x);

    /* 3 0 0: the certificate's DER */
    assert_int_equal(dance_tlsa_from_cert(x, 3, 0, 0, &set, err, sizeof(err)), 0);
    n = i2d_X509(x, &der);
    assert_true(n > 0);
    assert_int_equal(set.rr[0].len, (size_t)n);
    assert_memory_equal(set.rr[0].data, der, (size_t)n);
    OPENSSL_free(der);
    der = NULL;

    /* 2 1 1: SHA-256 of the public key's DER (i2d_PUBKEY from the key) */
    assert_int_equal(dance_tlsa_from_cert(x, 2, 1, 1, &set, err, sizeof(err)), 0);
    n = i2d_PUBKEY(k, &der);
    assert_true(n > 0);
    assert_int_equal(EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL), 1);
    assert_int_equal(set.rr[1].usage, 2);
    assert_int_equal(set.rr[1].selector, 1);
    assert_int_equal(set.rr[1].mtype, 1);
    assert_int_equal(set.rr[1].len, 32);
    assert_memory_equal(set.rr[1].data, md, 32);

    /* 3 1 2: SHA-512 */
    assert_int_equal(dance_tlsa_from_cert(x, 3, 1, 2, &set, err, sizeof(err)), 0);
    assert_int_equal(EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha512(), NULL), 1);
    assert_int_equal(set.rr[2].len, 64);
    assert_memory_equal(set.rr[2].data, md, 64);
    OPENSSL_free(der);

    /* out-of-range fields: refused, set unchanged */
    assert_int_equal(dance_tlsa_from_cert(x, 4, 1, 1, &set, err, sizeof(err)), -1);
    assert_int_equal(dance_tlsa_from_cert(x, 3, 2, 1, &set, err, sizeof(err)), -1);
    assert_int_equal(dance_tlsa_from_cert(x, 3, 1, 3, &set, err, sizeof(err)), -1);
    assert_int_equal(dance_tlsa_from_cert(NULL, 3, 1, 1, &set, err, sizeof(err)), -1);
    assert_int_equal(set.count, 3);

    dance_tlsa_rrset_clear(&set);
    X509_free(x);
    EVP_PKEY_free(k);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[sizeof(tmpdir) + 16];

    (void)state;
    /* the directory holds only files this test made */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_type_names),
        cmocka_unit_test(test_generate_and_digest),
        cmocka_unit_test(test_key_write_load),
        cmocka_unit_test(test_key_load_errors),
        cmocka_unit_test(test_self_signed_leaf),
        cmocka_unit_test(test_ca_issued_leaf),
        cmocka_unit_test(test_issue_refusals),
        cmocka_unit_test(test_cert_files),
        cmocka_unit_test(test_tlsa_from_cert),
    };

    return cmocka_run_group_tests_name("provision", tests, setup, teardown);
}
