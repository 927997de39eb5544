/*
 * testcerts.c - test-time keys and certificates (see testcerts.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "testcerts.h"

EVP_PKEY *tc_key(void)
{
    return EVP_EC_gen("P-256");
}

/* add_conf_ext - one extension from its openssl.cnf-style value */
static int add_conf_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return -1;
    ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* push_name - one GENERAL_NAME of the given type with raw bytes */
static int push_name(GENERAL_NAMES *gens, int type, const unsigned char *data, size_t len)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    if (g == NULL || s == NULL || !ASN1_STRING_set(s, data, (int)len))
        goto fail;
    GENERAL_NAME_set0_value(g, type, s);
    s = NULL;
    if (!sk_GENERAL_NAME_push(gens, g))
        goto fail;
    return 0;
fail:
    ASN1_IA5STRING_free(s);
    GENERAL_NAME_free(g);
    return -1;
}

/* add_san - subjectAltName from "DNS:x,IP:y,email:z" plus one raw dNSName */
static int add_san(X509 *cert, const tc_spec *spec)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    char *copy = NULL, *item, *save = NULL;
    int rc = -1;

    if (gens == NULL)
        return -1;
    if (spec->san != NULL) {
        copy = strdup(spec->san);
        if (copy == NULL)
            goto done;
        for (item = strtok_r(copy, ",", &save); item != NULL;
             item = strtok_r(NULL, ",", &save)) {
            if (strncmp(item, "DNS:", 4) == 0) {
                if (push_name(gens, GEN_DNS, (const unsigned char *)item + 4,
                              strlen(item + 4)) != 0)
                    goto done;
            } else if (strncmp(item, "email:", 6) == 0) {
                if (push_name(gens, GEN_EMAIL, (const unsigned char *)item + 6,
                              strlen(item + 6)) != 0)
                    goto done;
            } else if (strncmp(item, "IP:", 3) == 0) {
                GENERAL_NAME *g = GENERAL_NAME_new();
                ASN1_OCTET_STRING *ip = a2i_IPADDRESS(item + 3);
                if (g == NULL || ip == NULL) {
                    GENERAL_NAME_free(g);
                    ASN1_OCTET_STRING_free(ip);
                    goto done;
                }
                GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
                if (!sk_GENERAL_NAME_push(gens, g)) {
                    GENERAL_NAME_free(g);
                    goto done;
                }
            } else {
                goto done;
            }
        }
    }
    if (spec->raw_dns != NULL
        && push_name(gens, GEN_DNS, spec->raw_dns, spec->raw_dns_len) != 0)
        goto done;
    rc = X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1 ? 0 : -1;
done:
    free(copy);
    GENERAL_NAMES_free(gens);
    return rc;
}

X509 *tc_cert(const tc_spec *spec, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
    static long serial = 1;
    X509 *cert = X509_new();
    X509_NAME *name;

    if (cert == NULL)
        return NULL;
    if (issuer == NULL)
        issuer_key = key;
    if (!X509_set_version(cert, X509_VERSION_3)
        || !ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++)
        || X509_gmtime_adj(X509_getm_notBefore(cert), spec->not_before) == NULL
        || X509_gmtime_adj(X509_getm_notAfter(cert), spec->not_after) == NULL
        || !X509_set_pubkey(cert, key))
        goto fail;
    name = X509_get_subject_name(cert);
    if (spec->cn != NULL
        && !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       (const unsigned char *)spec->cn, -1, -1, 0))
        goto fail;
    if (!X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name))
        goto fail;
    if (spec->ca) {
        if (add_conf_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE") != 0
            || add_conf_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign") != 0)
            goto fail;
    } else {
        if (add_conf_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE") != 0
            || add_conf_ext(cert, issuer, NID_key_usage, "critical,digitalSignature") != 0)
            goto fail;
    }
    if (add_conf_ext(cert, issuer, NID_subject_key_identifier, "hash") != 0)
        goto fail;
    if (issuer != NULL
        && add_conf_ext(cert, issuer, NID_authority_key_identifier, "keyid:always") != 0)
        goto fail;
    if (spec->eku != NULL && add_conf_ext(cert, issuer, NID_ext_key_usage, spec->eku) != 0)
        goto fail;
    if ((spec->san != NULL || spec->raw_dns != NULL) && add_san(cert, spec) != 0)
        goto fail;
    if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0)
        goto fail;
    return cert;
fail:
    X509_free(cert);
    return NULL;
}

int tc_tlsa_add(dance_tlsa_rrset *set, uint8_t usage, uint8_t selector,
                uint8_t mtype, X509 *cert, int flip)
{
    unsigned char *der = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const unsigned char *data;
    size_t len;
    int derlen, rc;

    if (selector == 0)
        derlen = i2d_X509(cert, &der);
    else
        derlen = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
    if (derlen <= 0)
        return -1;
    if (mtype == 0) {
        data = der;
        len = (size_t)derlen;
    } else {
        const EVP_MD *type = mtype == 1 ? EVP_sha256() : EVP_sha512();
        if (!EVP_Digest(der, (size_t)derlen, md, &mdlen, type, NULL)) {
            OPENSSL_free(der);
            return -1;
        }
        data = md;
        len = mdlen;
    }
    if (flip) {
        if (data == der)
            der[len - 1] ^= 0x01;
        else
            md[len - 1] ^= 0x01;
    }
    rc = dance_tlsa_rrset_add(set, usage, selector, mtype, data, len);
    OPENSSL_free(der);
    return rc;
}

int tc_write_pem(char *path, X509 *const *certs)
{
    FILE *f;
    int fd, ok = 1;

    strcpy(path, "/tmp/dance-testcerts-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        unlink(path);
        return -1;
    }
    for (; *certs != NULL; certs++)
        ok &= PEM_write_X509(f, *certs);
    if (fclose(f) != 0 || !ok) {
        unlink(path);
        return -1;
    }
    return 0;
}
