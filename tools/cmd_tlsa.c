/*
 * cmd_tlsa.c - `dance tlsa`: print the TLSA record that publishes a
 * certificate, as bare "U S M HEX" or as a zone-file line.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/x509.h>

#include "cli.h"
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
"\n"
"Print the TLSA record for the first certificate in CERT.pem (PEM).\n"
"Without --owner:  U S M HEX\n"
"With --owner:     NAME. T IN TLSA U S M HEX   (a zone-file line)\n"
"HEX is uppercase, on one line.\n"
"\n"
"  --usage U      0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE\n"
"  --selector S   0 the whole certificate, 1 its SubjectPublicKeyInfo\n"
"  --mtype M      0 the data itself, 1 SHA-256, 2 SHA-512\n"
"  --owner NAME   owner name of the record (e.g. dev1._device.example.com)\n"
"  --ttl T        TTL of the zone-file line, 0-%lu (default %lu); needs --owner\n"
"  --help         show this help\n"
"\n"
"For usage 2 (DANE-TA) give the CA certificate, not the device's.\n"
"Example: dance tlsa --usage 3 --selector 1 --mtype 1 --owner dev1._device.example.com dev1.pem\n"
"\n"
"Exit status: 0 printed, 2 bad usage or unreadable certificate.\n",
            TLSA_TTL_MAX, TLSA_TTL_DEFAULT);
}

int cmd_tlsa(int argc, char **argv)
{
    static const struct option opts[] = {
        { "usage",    required_argument, NULL, 'u' },
        { "selector", required_argument, NULL, 's' },
        { "mtype",    required_argument, NULL, 'm' },
        { "owner",    required_argument, NULL, 'O' },
        { "ttl",      required_argument, NULL, 'T' },
        { "help",     no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmd = argv[0];
    const char *usage_s = NULL, *selector_s = NULL, *mtype_s = NULL;
    const char *owner = NULL, *ttl_s = NULL, *path;
    unsigned long usage, selector, mtype, ttl = TLSA_TTL_DEFAULT;
    char owner_n[DANCE_NAME_MAX + 1];
    char err[CLI_ERR_MAX];
    dance_tlsa_rrset set = { 0, NULL };
    X509 *cert;
    char *line;
    size_t linelen;
    int c;

    while ((c = cli_getopt(cmd, argc, argv, opts)) != -1) {
        const char **dst = NULL;
        const char *opt = NULL;
        switch (c) {
        case 'u': dst = &usage_s;    opt = "usage";    break;
        case 's': dst = &selector_s; opt = "selector"; break;
        case 'm': dst = &mtype_s;    opt = "mtype";    break;
        case 'O': dst = &owner;      opt = "owner";    break;
        case 'T': dst = &ttl_s;      opt = "ttl";      break;
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
    if (cli_parse_uint(cmd, "usage", usage_s, 0, 3, &usage) != 0
        || cli_parse_uint(cmd, "selector", selector_s, 0, 1, &selector) != 0
        || cli_parse_uint(cmd, "mtype", mtype_s, 0, 2, &mtype) != 0)
        return CLI_USAGE;
    if (ttl_s != NULL) {
        if (owner == NULL) {
            cli_usage_error(cmd, "--ttl only applies to the zone-file line: give --owner too");
            return CLI_USAGE;
        }
        if (cli_parse_uint(cmd, "ttl", ttl_s, 0, TLSA_TTL_MAX, &ttl) != 0)
            return CLI_USAGE;
    }
    if (owner != NULL && dance_name_normalize(owner, owner_n, sizeof(owner_n),
                                              err, sizeof(err)) != 0) {
        cli_usage_error(cmd, "--owner '%.80s' is not a valid DNS name: %s", owner, err);
        return CLI_USAGE;
    }
    if (optind >= argc) {
        cli_usage_error(cmd, "which certificate? Give CERT.pem after the options");
        return CLI_USAGE;
    }
    if (optind + 1 < argc) {
        cli_usage_error(cmd, "one certificate file only (got '%s' and '%s')",
                        argv[optind], argv[optind + 1]);
        return CLI_USAGE;
    }
    path = argv[optind];

    cert = dance_cert_load(path, err, sizeof(err));
    if (cert == NULL) {
        cli_error(cmd, "%s", err);
        return CLI_USAGE;
    }
    if (dance_tlsa_from_cert(cert, (uint8_t)usage, (uint8_t)selector, (uint8_t)mtype,
                             &set, err, sizeof(err)) != 0) {
        cli_error(cmd, "%s: %s", path, err);
        X509_free(cert);
        return CLI_USAGE;
    }
    X509_free(cert);
    /* "255 255 255 " + two hex digits per byte + NUL */
    linelen = 16 + 2 * set.rr[0].len;
    line = malloc(linelen);
    if (line == NULL) {
        cli_error(cmd, "out of memory");
        dance_tlsa_rrset_clear(&set);
        return CLI_USAGE;
    }
    dance_tlsa_format(&set.rr[0], 0, line, linelen);
    if (owner != NULL)
        printf("%s. %lu IN TLSA %s\n", owner_n, ttl, line);
    else
        printf("%s\n", line);
    free(line);
    dance_tlsa_rrset_clear(&set);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error(cmd, "cannot write to standard output");
        return CLI_USAGE;
    }
    return CLI_OK;
}
