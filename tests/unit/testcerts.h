/*
 * testcerts.h - certificates made at test time for the name and DANE unit
 * tests, straight from OpenSSL APIs (no dependency on lib/provision.c, so a
 * bug there cannot hide one in the matcher).
 *
 * Every function returns a new reference the caller frees, or NULL/-1 on
 * failure; tests assert_non_null the result.
 */
#ifndef DANCE_TESTCERTS_H
#define DANCE_TESTCERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dance/tlsa.h"

typedef struct tc_spec {
    const char *cn;             /* subject CN, NULL for an empty subject */
    const char *san;            /* "DNS:a.example,IP:127.0.0.1,email:x@y" or NULL */
    const unsigned char *raw_dns;  /* one more dNSName with arbitrary bytes */
    size_t raw_dns_len;
    const char *eku;            /* "clientAuth", "serverAuth,clientAuth", NULL: none */
    bool ca;                    /* CA:TRUE, keyCertSign */
    long not_before;            /* seconds from now; negative is the past */
    long not_after;
} tc_spec;

/* tc_key - a fresh P-256 key */
EVP_PKEY *tc_key(void);

/* tc_cert - certificate for key per spec, signed by issuer_key under
 * issuer's name; issuer NULL makes it self-signed. */
X509 *tc_cert(const tc_spec *spec, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key);

/* tc_tlsa_add - append (usage selector mtype data-of-cert) to set, with the
 * data computed from cert (mtype 0 full, 1 SHA-256, 2 SHA-512). flip != 0
 * corrupts the last byte so the record no longer matches. */
int tc_tlsa_add(dance_tlsa_rrset *set, uint8_t usage, uint8_t selector,
                uint8_t mtype, X509 *cert, int flip);

/* tc_write_pem - write the certificates (NULL-terminated) to a new temp
 * file; path receives its name (size >= 64). Returns 0 or -1. */
int tc_write_pem(char *path, X509 *const *certs);

#endif
