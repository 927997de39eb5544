/*
 * fuzz_cert_names.c - libFuzzer harness for identities taken from
 * certificates: dance_cert_dnsnames (lib/name.c) on DER input, and the
 * TLSA/DANE paths a hostile certificate goes through (dance_tlsa_from_cert,
 * dance_match against its own records and against the fixed set).
 *
 * Input: a DER certificate (what mosquitto_client_certificate or an x5c
 * entry hands over). Checked: every extracted name is a normal form, the
 * list has no duplicates and is NULL-terminated at the count; records made
 * from the certificate have the lengths their match types promise; matching
 * keeps the dance_match contract.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "dance/dane.h"
#include "dance/name.h"
#include "dance/provision.h"
#include "fuzz_common.h"

static dance_matcher *matcher;
static dance_tlsa_rrset fixed;

static void init(void)
{
    char err[256];

    if (matcher != NULL)
        return;
    matcher = dance_matcher_new(fz_ca_path(), err, sizeof(err));
    FZ_ASSERT(matcher != NULL);
    fz_tlsa_add(&fixed, 3, 1, 1, FZ_DEV_EC);
    fz_tlsa_add(&fixed, 2, 0, 1, FZ_CA);
    fz_tlsa_add(&fixed, 2, 1, 0, FZ_CA);
    fz_tlsa_add(&fixed, 1, 0, 2, FZ_DEV_RSA);
}

static void check_names(X509 *cert, char **first)
{
    char **names = NULL, norm[DANCE_NAME_MAX + 1];
    int n, i, j;

    *first = NULL;
    n = dance_cert_dnsnames(cert, &names);
    FZ_ASSERT(n >= 0 && names != NULL);
    for (i = 0; i < n; i++) {
        FZ_ASSERT(names[i] != NULL);
        FZ_ASSERT(dance_name_normalize(names[i], norm, sizeof(norm), NULL, 0) == 0);
        FZ_ASSERT(strcmp(norm, names[i]) == 0);
        for (j = 0; j < i; j++)
            FZ_ASSERT(strcmp(names[i], names[j]) != 0);
    }
    FZ_ASSERT(names[n] == NULL);
    if (n > 0) {
        *first = strdup(names[0]);
        FZ_ASSERT(*first != NULL);
    }
    dance_names_free(names);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t mlen[3] = { 0, 32, 64 };
    const unsigned char *p = data;
    dance_tlsa_rrset own = {0};
    dance_match_input in;
    dance_match_result res;
    char err[256], *first;
    X509 *cert;
    int rc;
    uint8_t s, m;

    if (size > 32768)
        return 0;
    init();
    cert = d2i_X509(NULL, &p, (long)size);
    if (cert == NULL) {
        ERR_clear_error();
        return 0;
    }
    check_names(cert, &first);

    for (s = 0; s < 2; s++) {
        for (m = 0; m < 3; m++) {
            size_t before = own.count;
            if (dance_tlsa_from_cert(cert, 3, s, m, &own, err, sizeof(err)) != 0) {
                FZ_ASSERT(own.count == before);
                continue;
            }
            FZ_ASSERT(own.count == before + 1);
            if (m > 0)
                FZ_ASSERT(own.rr[before].len == mlen[m]);
            else
                FZ_ASSERT(own.rr[before].len > 0);
        }
    }
    ERR_clear_error();

    memset(&in, 0, sizeof(in));
    in.leaf = cert;
    in.name = first;
    in.purpose = DANCE_PURPOSE_CLIENT;
    in.tlsa = &fixed;
    rc = dance_match(matcher, &in, &res);
    fz_check_match(&in, rc, &res);
    if (own.count > 0) {
        in.tlsa = &own;
        in.no_ee_namechecks = true;
        in.purpose = DANCE_PURPOSE_NONE;
        rc = dance_match(matcher, &in, &res);
        fz_check_match(&in, rc, &res);
    }
    /* OpenSSL must leave no error behind (dane.h promises this) */
    FZ_ASSERT(ERR_peek_error() == 0);

    dance_tlsa_rrset_clear(&own);
    free(first);
    X509_free(cert);
    return 0;
}
