/*
 * jwstest.h - helpers for the JWS unit tests: keys of every type, leaf
 * certificates for them, and a second, deliberately independent JWS signer
 * (OpenSSL EVP + its own base64url) so that the tests can craft messages
 * libdance's signer would refuse to make (ES384 with a P-256 key, RSA-1024,
 * odd headers) and check the verifier against a signer it does not share
 * code with.
 */
#ifndef DANCE_JWSTEST_H
#define DANCE_JWSTEST_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dance/tlsa.h"

#define JT_NAME "dev1._device.acme.example"

/* jt_key - "ec256", "ec384", "ec521", "rsa1024", "rsa2048", "ed25519",
 * "ed448"; aborts the test on failure */
EVP_PKEY *jt_key(const char *type);

/* jt_cert - leaf for key, SAN dNSName name, valid from a minute ago for a
 * day, issued by a throwaway P-256 issuer (Ed keys cannot self-sign with
 * the SHA-256 the cert helper uses; DANE-EE does not care who signed). */
X509 *jt_cert(EVP_PKEY *key, const char *name);

/* jt_b64url - base64url without padding, malloc'd */
char *jt_b64url(const void *data, size_t len);

/* How jt_jws signs: digest name ("SHA256" ...) or NULL for EdDSA; pss for
 * PS*; coord for ES* (bytes of r and s in the output, 0 otherwise). */
typedef struct jt_signer {
    const char *md;
    int pss;
    size_t coord;
} jt_signer;

/* jt_signer_for - the signer matching a JOSE alg name */
jt_signer jt_signer_for(const char *alg);

/* jt_jws - compact JWS with exactly hdr_json as protected header, signed by
 * key as s says; malloc'd */
char *jt_jws(const char *hdr_json, const char *payload, EVP_PKEY *key, jt_signer s);

/* jt_jws_sig - compact JWS with a given signature (base64url text) */
char *jt_jws_sig(const char *hdr_json, const char *payload, const char *sig_b64);

/* jt_flattened - the same message in flattened JSON form; extra is inserted
 * verbatim after the opening brace when not NULL (e.g. "\"header\":{},") */
char *jt_flattened(const char *compact, const char *extra);

/* jt_add - record (u s m) of cert via tc_tlsa_add; asserts */
void jt_add(dance_tlsa_rrset *set, int u, int s, int m, X509 *cert);

#endif
