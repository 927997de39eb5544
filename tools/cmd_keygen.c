/*
 * cmd_keygen.c - `dance keygen`: generate a private key and write it as an
 * unencrypted PKCS#8 PEM file readable only by its owner.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "cli.h"
#include "cli_util.h"
#include "dance/provision.h"

static void keygen_usage(FILE *f)
{
    fprintf(f,
"usage: dance keygen --type TYPE --out KEY.pem [--force]\n"
"\n"
"Generate a private key and write it to KEY.pem (unencrypted PKCS#8 PEM,\n"
"mode 0600). Prints nothing on success.\n"
"\n"
"  --type TYPE   ec256 (ECDSA P-256), ec384, ec521, rsa2048, rsa3072, ed25519\n"
"  --out FILE    where to write the key; an existing file is refused\n"
"  --force       replace an existing FILE (atomically)\n"
"  --help        show this help\n"
"\n"
"Exit status: 0 written, 2 bad usage or the file cannot be written.\n");
}

/* The command line, checked. */
struct keygen_args {
    const char *out;
    dance_key_type type;
    bool force;
};

/* keygen_parse - the options into *a: CLI_PARSED, or the exit status (help
 * printed, or the error) */
static int keygen_parse(int argc, char **argv, struct keygen_args *a)
{
    static const struct option opts[] = {
        { "type",  required_argument, NULL, 't' },
        { "out",   required_argument, NULL, 'o' },
        { "force", no_argument,       NULL, 'f' },
        { "help",  no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmd = argv[0], *type_name = NULL;
    int c;

    memset(a, 0, sizeof(*a));
    while ((c = cli_getopt(cmd, argc, argv, opts)) != -1) {
        switch (c) {
        case 't':
            if (cli_set_once(cmd, "type", &type_name, optarg) != 0)
                return CLI_USAGE;
            break;
        case 'o':
            if (cli_set_once(cmd, "out", &a->out, optarg) != 0)
                return CLI_USAGE;
            break;
        case 'f':
            a->force = true;
            break;
        case 'h':
            keygen_usage(stdout);
            return CLI_OK;
        default:
            return CLI_USAGE;
        }
    }
    if (optind < argc) {
        cli_usage_error(cmd, "unexpected argument '%.80s'", argv[optind]);
        return CLI_USAGE;
    }
    if (type_name == NULL) {
        cli_usage_error(cmd, "--type is required (ec256, ec384, ec521, rsa2048, "
                        "rsa3072 or ed25519)");
        return CLI_USAGE;
    }
    if (dance_key_type_parse(type_name, &a->type) != 0) {
        cli_usage_error(cmd, "unknown key type '%.80s' (choose ec256, ec384, ec521, "
                        "rsa2048, rsa3072 or ed25519)", type_name);
        return CLI_USAGE;
    }
    if (a->out == NULL || *a->out == '\0') {
        cli_usage_error(cmd, "--out FILE is required");
        return CLI_USAGE;
    }
    return CLI_PARSED;
}

/* keygen_write - make the key and write it; the exit status */
static int keygen_write(const char *cmd, const struct keygen_args *a)
{
    EVP_PKEY *key;
    struct stat st;
    char err[CLI_ERR_MAX];

    /* Checked before the (slow, for RSA) generation for a quick answer;
     * dance_key_write refuses atomically anyway. */
    if (!a->force && lstat(a->out, &st) == 0) {
        cli_error(cmd, "%s exists; use --force to replace it", a->out);
        return CLI_USAGE;
    }
    key = dance_key_generate(a->type, err, sizeof(err));
    if (key == NULL) {
        cli_error(cmd, "%s", err);
        return CLI_USAGE;
    }
    if (dance_key_write(a->out, key, a->force, err, sizeof(err)) != 0) {
        cli_error(cmd, "%s", err);
        EVP_PKEY_free(key);
        return CLI_USAGE;
    }
    EVP_PKEY_free(key);
    return CLI_OK;
}

int cmd_keygen(int argc, char **argv)
{
    struct keygen_args a;
    int rc = keygen_parse(argc, argv, &a);

    return rc == CLI_PARSED ? keygen_write(argv[0], &a) : rc;
}
