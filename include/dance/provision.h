/*
 * dance/provision.h - keys, certificates and TLSA data for provisioning
 * DNS-bound device identities.
 *
 * What the `dance` CLI (keygen, cert, tlsa, match), the demo, the tests and
 * the examples use to make and read key material. Everything here is
 * offline: no DNS.
 *
 * Ownership: every function returning an OpenSSL object hands the caller
 * one reference (free with EVP_PKEY_free, X509_free, or
 * sk_X509_pop_free(stack, X509_free)). Inputs are borrowed. Every function
 * that can fail takes (err, errlen) and writes a reason a user can act on:
 * "cannot read certificate from dev.pem: no PEM CERTIFICATE block found";
 * err may be NULL when errlen is 0.
 */
#ifndef DANCE_PROVISION_H
#define DANCE_PROVISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "dance/tlsa.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dance_key_type {
    DANCE_KEY_EC256,        /* ECDSA P-256 ("ec256") */
    DANCE_KEY_EC384,        /* ECDSA P-384 ("ec384") */
    DANCE_KEY_EC521,        /* ECDSA P-521 ("ec521") */
    DANCE_KEY_RSA2048,      /* RSA 2048, e = 65537 ("rsa2048") */
    DANCE_KEY_RSA3072,      /* RSA 3072, e = 65537 ("rsa3072") */
    DANCE_KEY_ED25519,      /* Ed25519 ("ed25519") */
    DANCE_KEY_TYPE_COUNT
} dance_key_type;

/* dance_key_type_parse - "ec256" ... "ed25519" (exact, lowercase).
 * Returns 0, or -1 for an unknown name. */
int dance_key_type_parse(const char *name, dance_key_type *out);

/* dance_key_type_name - the name dance_key_type_parse accepts; "unknown"
 * for values out of range. */
const char *dance_key_type_name(dance_key_type type);

/* dance_key_generate - a fresh private key of the given type.
 * Returns NULL with a reason on failure. */
EVP_PKEY *dance_key_generate(dance_key_type type, char *err, size_t errlen);

/* dance_key_load - read an unencrypted PEM private key (PKCS#8 or the
 * traditional RSA/EC forms). Encrypted keys are refused rather than
 * prompting for a passphrase. Returns NULL with a reason on failure. */
EVP_PKEY *dance_key_load(const char *path, char *err, size_t errlen);

/* dance_key_from_pem - dance_key_load from len bytes of PEM text in
 * memory (for bindings and programs that hold keys outside files). */
EVP_PKEY *dance_key_from_pem(const void *pem, size_t len, char *err, size_t errlen);

/* dance_key_write - write key as an unencrypted PKCS#8 PEM file readable
 * only by its owner (mode 0600). An existing file is refused unless
 * overwrite is true; then it is replaced atomically (temporary file in the
 * same directory + rename), so a crash never leaves half a key, and the
 * new file is 0600 whatever the old one was. Returns 0, or -1 with a
 * reason (the path is left as it was). */
int dance_key_write(const char *path, EVP_PKEY *key, bool overwrite,
                    char *err, size_t errlen);

/* dance_cert_load - the first certificate of a PEM file. Returns NULL with
 * a reason when the file cannot be read or holds no certificate. */
X509 *dance_cert_load(const char *path, char *err, size_t errlen);

/* dance_certs_load - every certificate of a PEM file, in file order, at
 * least one. Text between PEM blocks is ignored; a damaged block is an
 * error. Returns NULL with a reason on failure. */
STACK_OF(X509) *dance_certs_load(const char *path, char *err, size_t errlen);

/* dance_certs_from_pem - dance_certs_load from len bytes of PEM text. */
STACK_OF(X509) *dance_certs_from_pem(const void *pem, size_t len, char *err, size_t errlen);

/* dance_public_key_from_pem - a public key to verify with, from len bytes
 * of PEM text: a PUBLIC KEY block, else the first CERTIFICATE's key, else
 * the public half of an (unencrypted) private key. NULL with a reason. */
EVP_PKEY *dance_public_key_from_pem(const void *pem, size_t len, char *err, size_t errlen);

/* dance_cert_file_identity - the one dNSName (normalised) of the first
 * certificate of a PEM file: the identity a client with that certificate
 * has, and so the start of its client id. 0, or -1 with a reason (the file
 * cannot be read, the certificate has no or several usable names, or the
 * name does not fit in out). */
int dance_cert_file_identity(const char *path, char *out, size_t outlen,
                             char *err, size_t errlen);

/* dance_cert_write - write cert as PEM (mode 0644 before the umask), with
 * the same overwrite rule and atomic replacement as dance_key_write. */
int dance_cert_write(const char *path, X509 *cert, bool overwrite,
                     char *err, size_t errlen);

/* dance_key_matches_cert - true when key is the private half of cert's
 * public key. Clears the OpenSSL error queue it touches. */
bool dance_key_matches_cert(EVP_PKEY *key, X509 *cert);

/* dance_sign_digest - the digest to sign with key: NULL for Ed25519/Ed448
 * (they hash internally and refuse an external digest), otherwise SHA-256
 * up to 128-bit security (P-256, RSA-2048/3072), SHA-384 up to 192
 * (P-384) and SHA-512 above (P-521). Returns NULL also for keys it does
 * not know; use dance_key_is_eddsa to tell the two apart. */
const EVP_MD *dance_sign_digest(EVP_PKEY *key);
bool dance_key_is_eddsa(EVP_PKEY *key);

#define DANCE_CERT_DAYS_DEFAULT 365
#define DANCE_CERT_DAYS_MAX     36500   /* a hundred years is plenty */

/* What dance_cert_issue makes. */
typedef struct dance_cert_request {
    EVP_PKEY *key;          /* subject key (required); signs when self-signed */
    const char *name;       /* leaf: DNS name of the identity, normalised here;
                               CA: subject common name, 1..64 printable ASCII */
    int days;               /* validity, 1..DANCE_CERT_DAYS_MAX; 0: default */
    bool is_ca;             /* make a CA certificate instead of a leaf */
    X509 *issuer_cert;      /* both NULL: self-signed; both set: issued by */
    EVP_PKEY *issuer_key;   /* this CA, whose key must match issuer_cert */
} dance_cert_request;

/* dance_cert_issue - make and sign an X.509 v3 certificate.
 *
 * Every certificate: random positive 128-bit serial, notBefore one minute
 * in the past (tolerates small clock skew between issuer and verifier),
 * notAfter `days` from now, subjectKeyIdentifier, and authorityKeyIdentifier
 * (keyid of the issuer, for a self-signed certificate its own; issuer name
 * and serial for an issuer certificate without a subjectKeyIdentifier).
 *
 * Leaf (is_ca false): subject CN=NAME (or an empty subject when NAME is
 * longer than the 64-character limit of a common name; the SAN is then
 * critical, RFC 5280 4.2.1.6), subjectAltName dNSName NAME,
 * extendedKeyUsage clientAuth, basicConstraints CA:FALSE (critical),
 * keyUsage digitalSignature (+ keyEncipherment for RSA keys) (critical).
 *
 * CA (is_ca true): subject CN=NAME, basicConstraints CA:TRUE (critical),
 * keyUsage keyCertSign + cRLSign (critical), no SAN or EKU.
 *
 * An issuer certificate that is not a CA (no basicConstraints CA:TRUE or no
 * keyCertSign) or whose key does not match issuer_key is refused. The
 * signature digest follows dance_sign_digest(issuer key).
 * Returns NULL with a reason on failure. */
X509 *dance_cert_issue(const dance_cert_request *req, char *err, size_t errlen);

/* dance_tlsa_from_cert - compute the TLSA record (usage, selector, mtype)
 * for cert and append it to set. selector 0 = the certificate's DER,
 * 1 = its SubjectPublicKeyInfo DER; mtype 0 = the data itself, 1 = its
 * SHA-256, 2 = its SHA-512. usage must be 0..3, selector 0..1, mtype 0..2.
 * Returns 0, or -1 with a reason (set unchanged). */
int dance_tlsa_from_cert(X509 *cert, uint8_t usage, uint8_t selector,
                         uint8_t mtype, dance_tlsa_rrset *set,
                         char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
