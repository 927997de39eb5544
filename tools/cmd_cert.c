/*
 * cmd_cert.c - `dance cert`: issue a certificate for a DNS identity
 * (self-signed, or by a CA given as certificate + key), or a CA
 * certificate for tests, demos and small deployments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cli.h"
#include "cli_util.h"
#include "dance/name.h"
#include "dance/provision.h"

static void cert_usage(FILE *f)
{
    fprintf(f,
"usage: dance cert --key KEY.pem --name NAME [--days N]\n"
"                  [--ca CA.pem --ca-key CAKEY.pem] [--is-ca] --out CERT.pem [--force]\n"
"\n"
"Issue an X.509 certificate for the public key of KEY.pem and write it to\n"
"CERT.pem (PEM, mode 0644). Prints nothing on success.\n"
"\n"
"Device certificate (default): subject CN=NAME, subjectAltName DNS:NAME,\n"
"extendedKeyUsage clientAuth, basicConstraints CA:FALSE, keyUsage\n"
"digitalSignature (+keyEncipherment for RSA). NAME is a DNS name; it is\n"
"lowercased and a trailing dot is dropped.\n"
"\n"
"  --key FILE      private key of the subject (PEM, unencrypted)\n"
"  --name NAME     the identity (DNS name); with --is-ca: the CA's common\n"
"                  name, 1-64 printable ASCII characters\n"
"  --days N        validity in days, 1-%d (default %d); notBefore is one\n"
"                  minute in the past\n"
"  --ca FILE       issuing CA certificate (the first certificate in FILE)\n"
"  --ca-key FILE   the issuing CA's private key (required with --ca);\n"
"                  without --ca the certificate is self-signed by --key\n"
"  --is-ca         make a CA certificate: basicConstraints CA:TRUE,\n"
"                  keyUsage keyCertSign+cRLSign, no SAN or EKU\n"
"  --out FILE      where to write the certificate; an existing file is refused\n"
"  --force         replace an existing FILE (atomically)\n"
"  --help          show this help\n"
"\n"
"Exit status: 0 written, 2 bad usage, unreadable input or unwritable output.\n",
            DANCE_CERT_DAYS_MAX, DANCE_CERT_DAYS_DEFAULT);
}

/* The command line, checked. */
struct cert_args {
    const char *key_path, *name, *ca_path, *ca_key_path, *out;
    bool force, is_ca;
    unsigned long days;
    char normal[DANCE_NAME_MAX + 1];    /* name normalised (not for --is-ca) */
};

/* cert_parse - the options into *a: CLI_PARSED, or the exit status (help
 * printed, or the error) */
static int cert_parse(int argc, char **argv, struct cert_args *a)
{
    static const struct option opts[] = {
        { "key",    required_argument, NULL, 'k' },
        { "name",   required_argument, NULL, 'n' },
        { "days",   required_argument, NULL, 'd' },
        { "ca",     required_argument, NULL, 'c' },
        { "ca-key", required_argument, NULL, 'K' },
        { "is-ca",  no_argument,       NULL, 'C' },
        { "out",    required_argument, NULL, 'o' },
        { "force",  no_argument,       NULL, 'f' },
        { "help",   no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmd = argv[0], *days_s = NULL;
    char err[CLI_ERR_MAX];
    struct stat st;
    int c;

    memset(a, 0, sizeof(*a));
    a->days = DANCE_CERT_DAYS_DEFAULT;
    while ((c = cli_getopt(cmd, argc, argv, opts)) != -1) {
        const char **dst = NULL;
        const char *opt = NULL;
        switch (c) {
        case 'k': dst = &a->key_path;    opt = "key";    break;
        case 'n': dst = &a->name;        opt = "name";   break;
        case 'd': dst = &days_s;         opt = "days";   break;
        case 'c': dst = &a->ca_path;     opt = "ca";     break;
        case 'K': dst = &a->ca_key_path; opt = "ca-key"; break;
        case 'o': dst = &a->out;         opt = "out";    break;
        case 'C': a->is_ca = true; break;
        case 'f': a->force = true; break;
        case 'h':
            cert_usage(stdout);
            return CLI_OK;
        default:
            return CLI_USAGE;
        }
        if (dst != NULL && cli_set_once(cmd, opt, dst, optarg) != 0)
            return CLI_USAGE;
    }
    if (optind < argc) {
        cli_usage_error(cmd, "unexpected argument '%.80s'", argv[optind]);
        return CLI_USAGE;
    }
    if (a->key_path == NULL || a->name == NULL || a->out == NULL) {
        cli_usage_error(cmd, "--key, --name and --out are required");
        return CLI_USAGE;
    }
    if (*a->out == '\0') {
        cli_usage_error(cmd, "--out needs a file name");
        return CLI_USAGE;
    }
    if ((a->ca_path == NULL) != (a->ca_key_path == NULL)) {
        cli_usage_error(cmd, "--ca and --ca-key go together (the CA's certificate "
                        "and its private key)");
        return CLI_USAGE;
    }
    if (days_s != NULL && cli_parse_uint(cmd, "days", days_s, 1,
                                         DANCE_CERT_DAYS_MAX, &a->days) != 0)
        return CLI_USAGE;
    if (!a->is_ca && dance_name_normalize(a->name, a->normal, sizeof(a->normal),
                                          err, sizeof(err)) != 0) {
        cli_usage_error(cmd, "--name '%.80s' is not a valid DNS name: %s", a->name, err);
        return CLI_USAGE;
    }
    if (!a->force && lstat(a->out, &st) == 0) {
        cli_error(cmd, "%s exists; use --force to replace it", a->out);
        return CLI_USAGE;
    }
    return CLI_PARSED;
}

/* cert_write - load the keys (and the CA), issue the certificate and write
 * it; the exit status */
static int cert_write(const char *cmd, const struct cert_args *a)
{
    char err[CLI_ERR_MAX];
    EVP_PKEY *key = NULL, *ca_key = NULL;
    X509 *ca = NULL, *cert = NULL;
    dance_cert_request req;
    int rc = CLI_USAGE;

    key = dance_key_load(a->key_path, err, sizeof(err));
    if (key == NULL) {
        cli_error(cmd, "%s", err);
        goto done;
    }
    if (a->ca_path != NULL) {
        ca = dance_cert_load(a->ca_path, err, sizeof(err));
        if (ca == NULL) {
            cli_error(cmd, "%s", err);
            goto done;
        }
        ca_key = dance_key_load(a->ca_key_path, err, sizeof(err));
        if (ca_key == NULL) {
            cli_error(cmd, "%s", err);
            goto done;
        }
        if (!dance_key_matches_cert(ca_key, ca)) {
            cli_error(cmd, "the key in %s does not belong to the CA certificate in %s",
                      a->ca_key_path, a->ca_path);
            goto done;
        }
    }
    req = (dance_cert_request){
        .key = key,
        .name = a->is_ca ? a->name : a->normal,
        .days = (int)a->days,
        .is_ca = a->is_ca,
        .issuer_cert = ca,
        .issuer_key = ca_key,
    };
    cert = dance_cert_issue(&req, err, sizeof(err));
    if (cert == NULL) {
        cli_error(cmd, "%s", err);
        goto done;
    }
    if (dance_cert_write(a->out, cert, a->force, err, sizeof(err)) != 0) {
        cli_error(cmd, "%s", err);
        goto done;
    }
    rc = CLI_OK;
done:
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    return rc;
}

int cmd_cert(int argc, char **argv)
{
    struct cert_args a;
    int rc = cert_parse(argc, argv, &a);

    return rc == CLI_PARSED ? cert_write(argv[0], &a) : rc;
}
