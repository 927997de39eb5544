/*
 * cmd_decrypt.c - `dance decrypt`: decrypt a JWE read from stdin with one's
 * own private key (dance/jwe.h).
 *
 * Output contract, as `dance verify`'s: stdout carries exactly the
 * plaintext and nothing else, and only when decryption succeeded; the
 * verdict line goes to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_io.h"
#include "cli_util.h"
#include "dance/error.h"
#include "dance/jwe.h"
#include "dance/provision.h"

/* Read at most this much; the --max-size check proper is the library's. */
#define DECRYPT_READ_MAX (64u * 1024u * 1024u)

static void decrypt_usage(FILE *f)
{
    fprintf(f,
"usage: dance decrypt --key KEY.pem [--max-size BYTES]\n"
"\n"
"Read a JWE (compact or JSON) from stdin and decrypt it with KEY.pem, the\n"
"recipient's private key. On success the plaintext goes to stdout (exact\n"
"bytes) and 'decrypted: alg A, enc E' to stderr; otherwise\n"
"'not decrypted (REASON): ...' goes to stderr and nothing to stdout.\n"
"Accepted: alg RSA-OAEP-256, ECDH-ES, ECDH-ES+A256KW; enc A256GCM,\n"
"A256CBC-HS512; every parameter in the protected header. Refused: zip, crit,\n"
"other algorithms, several recipients, a JWE inside a JWE.\n"
"\n"
"  --key FILE        the recipient's private key (PEM, unencrypted)\n"
"  --max-size BYTES  largest message accepted (default 65536)\n"
"\n"
"Exit status: 0 decrypted, 1 refused (decryption_failed: wrong key or\n"
"tampered message; or the refusal named), 2 bad usage or unreadable input.\n");
}

/* jwe_report - the verdict on stderr and the plaintext on stdout; the exit
 * status. Shared with `dance verify --decrypt-key`, which reports only
 * refusals here (plaintext NULL-ed out by passing print false). */
int cli_jwe_report(const char *cmd, const dance_jwe_result *res, bool print)
{
    char why[sizeof(res->reason)];

    if (res->status == DANCE_OK) {
        if (print && (fwrite(res->plaintext, 1, res->plaintext_len, stdout)
                          != res->plaintext_len || fflush(stdout) != 0)) {
            cli_error(cmd, "cannot write the plaintext to stdout");
            return CLI_USAGE;
        }
        fprintf(stderr, "dance %s: decrypted: alg %s, enc %s%s%s\n", cmd,
                dance_jwe_alg_name(res->alg), dance_jwe_enc_name(res->enc),
                res->recipient[0] ? ", recipient " : "", res->recipient);
        return CLI_OK;
    }
    dance_escape_text(res->reason, strlen(res->reason), why, sizeof(why));
    fprintf(stderr, "dance %s: not decrypted (%s): %s\n", cmd,
            dance_status_name(res->status), why);
    return res->status == DANCE_INTERNAL ? CLI_USAGE : CLI_NEGATIVE;
}

int cmd_decrypt(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key",      required_argument, NULL, 'k' },
        { "max-size", required_argument, NULL, 'm' },
        { "help",     no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmd = argv[0], *keyfile = NULL, *size_s = NULL;
    unsigned long max_size = 0;
    dance_jwe_result res;
    unsigned char *input = NULL;
    size_t inlen = 0;
    char err[CLI_ERR_MAX];
    EVP_PKEY *key = NULL;
    int c, rc = CLI_USAGE;

    while ((c = cli_getopt(cmd, argc, argv, opts)) != -1) {
        switch (c) {
        case 'k': if (cli_set_once(cmd, "key", &keyfile, optarg)) return CLI_USAGE; break;
        case 'm': if (cli_set_once(cmd, "max-size", &size_s, optarg)) return CLI_USAGE;
                  break;
        case 'h': decrypt_usage(stdout); return CLI_OK;
        default: return CLI_USAGE;
        }
    }
    if (optind < argc) {
        cli_usage_error(cmd, "unexpected argument '%.80s' (the JWE is read from stdin)",
                        argv[optind]);
        return CLI_USAGE;
    }
    if (keyfile == NULL) {
        cli_usage_error(cmd, "--key FILE (the recipient's private key) is required");
        return CLI_USAGE;
    }
    if (size_s && cli_parse_uint(cmd, "max-size", size_s, 1, DECRYPT_READ_MAX, &max_size))
        return CLI_USAGE;
    if ((key = dance_key_load(keyfile, err, sizeof(err))) == NULL) {
        cli_error(cmd, "%s", err);
        return CLI_USAGE;
    }
    memset(&res, 0, sizeof(res));
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "dance %s: reading the JWE from stdin (end with Ctrl-D)\n", cmd);
    if (cli_read_all(stdin, DECRYPT_READ_MAX, &input, &inlen, err, sizeof(err)) != 0) {
        cli_error(cmd, "cannot read the JWE from stdin: %s", err);
        goto out;
    }
    dance_jwe_decrypt(input, inlen, max_size, key, &res);
    rc = cli_jwe_report(cmd, &res, true);
out:
    dance_jwe_result_clear(&res);
    free(input);
    EVP_PKEY_free(key);
    return rc;
}
