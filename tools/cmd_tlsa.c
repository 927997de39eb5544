/*
 * cmd_tlsa.c - `dance tlsa`: print the TLSA record that publishes a
 * certificate, or a raw public key (--key, DANE-EE 3 1 x: for devices that
 * have only a key pair and authenticate with tokens), as bare "U S M HEX"
 * or as a zone-file line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cli.h"
#include "cli_io.h"
#include "cli_util.h"
#include "dance/name.h"
#include "dance/provision.h"

/* Short enough that removing a record (revoking a device) takes effect
 * within minutes, long enough to keep DNS traffic low. */
#define TLSA_TTL_DEFAULT 300UL
#define TLSA_TTL_MAX 2147483647UL     /* RFC 2181, section 8 */

static void tlsa_usage(FILE *f)
{
    fprintf(f,
"usage: dance tlsa --usage U --selector S --mtype M [--owner NAME] [--ttl T] CERT.pem\n"
"       dance tlsa --usage 3 --selector 1 --mtype M [--owner NAME] [--ttl T] --key KEY.pem\n"
"\n"
"Print the TLSA record for the first certificate in CERT.pem (PEM), or with\n"
"--key for a raw public key (a PUBLIC KEY PEM, or the public half of a\n"
"private key file): DANE-EE, selector 1 only.\n"
"Without --owner:  U S M HEX\n"
"With --owner:     NAME. T IN TLSA U S M HEX   (a zone-file line)\n"
"HEX is uppercase, on one line.\n"
"\n"
"  --usage U      0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE\n"
"  --selector S   0 the whole certificate, 1 its SubjectPublicKeyInfo\n"
"  --mtype M      0 the data itself, 1 SHA-256, 2 SHA-512\n"
"  --owner NAME   owner name of the record (e.g. dev1._device.example.com)\n"
"  --ttl T        TTL of the zone-file line, 0-%lu (default %lu); needs --owner\n"
"  --key FILE     a key instead of CERT.pem (usage 3, selector 1 only)\n"
"  --help         show this help\n"
"\n"
"For usage 2 (DANE-TA) give the CA certificate, not the device's.\n"
"Example: dance tlsa --usage 3 --selector 1 --mtype 1 --owner dev1._device.example.com dev1.pem\n"
"\n"
"Exit status: 0 printed, 2 bad usage or unreadable certificate or key.\n",
            TLSA_TTL_MAX, TLSA_TTL_DEFAULT);
}

/* tlsa_from_key - 3 1 M for a raw public key: the SubjectPublicKeyInfo
 * DER, or its digest; the same bytes dance_tlsa_from_cert takes from a
 * certificate holding that key (RFC 7250 raw keys are published so) */
static int tlsa_from_key(EVP_PKEY *key, uint8_t mtype, dance_tlsa_rrset *set,
                         char *err, size_t errlen)
{
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int n = i2d_PUBKEY(key, &der), rc = -1;

    if (n <= 0) {
        snprintf(err, errlen, "cannot encode the public key");
        ERR_clear_error();
        return -1;
    }
    if (mtype == 0)
        rc = dance_tlsa_rrset_add(set, 3, 1, 0, der, (size_t)n);
    else if (EVP_Digest(der, (size_t)n, md, &mdlen,
                        mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL))
        rc = dance_tlsa_rrset_add(set, 3, 1, mtype, md, mdlen);
    if (rc != 0)
        snprintf(err, errlen, "cannot compute the record: out of memory or digest failure");
    ERR_clear_error();
    OPENSSL_free(der);
    return rc;
}

/* The command line, checked. */
struct tlsa_args {
    unsigned long usage, selector, mtype, ttl;
    const char *owner, *keyfile, *path;     /* path: the certificate file */
    char owner_n[DANCE_NAME_MAX + 1];       /* owner normalised */
};

/* tlsa_parse - the options into *a: CLI_PARSED, or the exit status (help
 * printed, or the error) */
static int tlsa_parse(int argc, char **argv, struct tlsa_args *a)
{
    static const struct option opts[] = {
        { "usage",    required_argument, NULL, 'u' },
        { "selector", required_argument, NULL, 's' },
        { "mtype",    required_argument, NULL, 'm' },
        { "owner",    required_argument, NULL, 'O' },
        { "ttl",      required_argument, NULL, 'T' },
        { "key",      required_argument, NULL, 'k' },
        { "help",     no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmd = argv[0];
    const char *usage_s = NULL, *selector_s = NULL, *mtype_s = NULL, *ttl_s = NULL;
    char err[CLI_ERR_MAX];
    int c;

    memset(a, 0, sizeof(*a));
    a->ttl = TLSA_TTL_DEFAULT;
    while ((c = cli_getopt(cmd, argc, argv, opts)) != -1) {
        const char **dst = NULL;
        const char *opt = NULL;
        switch (c) {
        case 'u': dst = &usage_s;    opt = "usage";    break;
        case 's': dst = &selector_s; opt = "selector"; break;
        case 'm': dst = &mtype_s;    opt = "mtype";    break;
        case 'O': dst = &a->owner;   opt = "owner";    break;
        case 'T': dst = &ttl_s;      opt = "ttl";      break;
        case 'k': dst = &a->keyfile; opt = "key";      break;
        case 'h':
            tlsa_usage(stdout);
            return CLI_OK;
        default:
            return CLI_USAGE;
        }
        if (cli_set_once(cmd, opt, dst, optarg) != 0)
            return CLI_USAGE;
    }
    if (usage_s == NULL || selector_s == NULL || mtype_s == NULL) {
        cli_usage_error(cmd, "--usage, --selector and --mtype are required");
        return CLI_USAGE;
    }
    if (cli_parse_uint(cmd, "usage", usage_s, 0, 3, &a->usage) != 0
        || cli_parse_uint(cmd, "selector", selector_s, 0, 1, &a->selector) != 0
        || cli_parse_uint(cmd, "mtype", mtype_s, 0, 2, &a->mtype) != 0)
        return CLI_USAGE;
    if (ttl_s != NULL) {
        if (a->owner == NULL) {
            cli_usage_error(cmd, "--ttl only applies to the zone-file line: give --owner too");
            return CLI_USAGE;
        }
        if (cli_parse_uint(cmd, "ttl", ttl_s, 0, TLSA_TTL_MAX, &a->ttl) != 0)
            return CLI_USAGE;
    }
    if (a->owner != NULL && dance_name_normalize(a->owner, a->owner_n, sizeof(a->owner_n),
                                                 err, sizeof(err)) != 0) {
        cli_usage_error(cmd, "--owner '%.80s' is not a valid DNS name: %s", a->owner, err);
        return CLI_USAGE;
    }
    if (a->keyfile != NULL) {
        if (optind < argc) {
            cli_usage_error(cmd, "give --key KEY.pem or CERT.pem, not both");
            return CLI_USAGE;
        }
        if (a->usage != 3 || a->selector != 1) {
            cli_usage_error(cmd, "a raw public key is published as DANE-EE SPKI: --key "
                            "needs --usage 3 --selector 1");
            return CLI_USAGE;
        }
        return CLI_PARSED;
    }
    if (optind >= argc) {
        cli_usage_error(cmd, "which certificate? Give CERT.pem after the options "
                        "(or --key KEY.pem)");
        return CLI_USAGE;
    }
    if (optind + 1 < argc) {
        cli_usage_error(cmd, "one certificate file only (got '%s' and '%s')",
                        argv[optind], argv[optind + 1]);
        return CLI_USAGE;
    }
    a->path = argv[optind];
    return CLI_PARSED;
}

/* tlsa_record - the record for the key or certificate file into *set: 0,
 * or -1 after printing why */
static int tlsa_record(const char *cmd, const struct tlsa_args *a, dance_tlsa_rrset *set)
{
    char err[CLI_ERR_MAX];
    X509 *cert;

    if (a->keyfile != NULL) {
        EVP_PKEY *key;
        int krc;
        if ((key = cli_load_pubkey(a->keyfile, err, sizeof(err))) == NULL) {
            cli_error(cmd, "%s", err);
            return -1;
        }
        krc = tlsa_from_key(key, (uint8_t)a->mtype, set, err, sizeof(err));
        EVP_PKEY_free(key);
        if (krc != 0) {
            cli_error(cmd, "%s: %s", a->keyfile, err);
            return -1;
        }
        return 0;
    }
    cert = dance_cert_load(a->path, err, sizeof(err));
    if (cert == NULL) {
        cli_error(cmd, "%s", err);
        return -1;
    }
    if (dance_tlsa_from_cert(cert, (uint8_t)a->usage, (uint8_t)a->selector,
                             (uint8_t)a->mtype, set, err, sizeof(err)) != 0) {
        cli_error(cmd, "%s: %s", a->path, err);
        X509_free(cert);
        return -1;
    }
    X509_free(cert);
    return 0;
}

/* tlsa_print - the record as "U S M HEX", or a zone-file line with --owner;
 * the exit status */
static int tlsa_print(const char *cmd, const struct tlsa_args *a, const dance_tlsa_rr *rr)
{
    /* "255 255 255 " + two hex digits per byte + NUL */
    size_t linelen = 16 + 2 * rr->len;
    char *line = malloc(linelen);

    if (line == NULL) {
        cli_error(cmd, "out of memory");
        return CLI_USAGE;
    }
    dance_tlsa_format(rr, 0, line, linelen);
    if (a->owner != NULL)
        printf("%s. %lu IN TLSA %s\n", a->owner_n, a->ttl, line);
    else
        printf("%s\n", line);
    free(line);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error(cmd, "cannot write to standard output");
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cmd_tlsa(int argc, char **argv)
{
    struct tlsa_args a;
    dance_tlsa_rrset set = { 0, NULL };
    int rc = tlsa_parse(argc, argv, &a);

    if (rc != CLI_PARSED)
        return rc;
    rc = tlsa_record(argv[0], &a, &set) == 0 ? tlsa_print(argv[0], &a, &set.rr[0]) : CLI_USAGE;
    dance_tlsa_rrset_clear(&set);
    return rc;
}
