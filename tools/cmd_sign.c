/*
 * cmd_sign.c - `dance sign`: sign stdin as a JWS (or, with --cose, a
 * COSE_Sign1) whose protected header names the sender's DNS identity (kid),
 * for `dance verify`, the plugin and any subscriber to check against the
 * sender's TLSA records.
 *
 * iat is written by default (the plugin's strict profile requires it);
 * --no-iat leaves it out, --iat is still taken (it was the way to ask for
 * it). The topic cannot be guessed: without --topic a note on stderr says
 * that strict verifiers will refuse the message.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_io.h"
#include "cli_util.h"
#include <openssl/evp.h>

#include "dance/cose.h"
#include "dance/jws.h"
#include "dance/provision.h"

/* Payloads above this are refused rather than buffered without end. */
#define SIGN_INPUT_MAX (16u * 1024u * 1024u)

static void sign_usage(FILE *f)
{
    fprintf(f,
"usage: dance sign --key KEY.pem --name NAME [--alg ALG] [--x5c CERT.pem]\n"
"                  [--topic TOPIC] [--jti] [--no-iat] [--x5u] [--json]\n"
"                  [--cty CTY] [--cose [--base64]]\n"
"\n"
"Read the payload from stdin and write a JWS signed with KEY.pem to stdout\n"
"(one line). The protected header carries alg, kid = NAME and what the\n"
"options add; verifiers find the key in the TLSA records of NAME.\n"
"With --cose the output is a COSE_Sign1 (CBOR, binary) instead.\n"
"\n"
"  --key FILE     private key (PEM, unencrypted)\n"
"  --name NAME    the sender's DNS identity, e.g. dev1._device.example.com\n"
"  --alg ALG      ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384,\n"
"                 PS512 or EdDSA; default from the key: EC P-256 ES256,\n"
"                 P-384 ES384, P-521 ES512, RSA RS256, Ed25519 EdDSA\n"
"  --x5c FILE     certificate (chain, leaf first) to send in x5c: needed\n"
"                 when DNS holds only a digest (3 1 1, 2 0 1, ...)\n"
"  --topic TOPIC  bind the message to the MQTT topic it will be published on\n"
"                 (brokers with the default strict profile require it)\n"
"  --jti          add a random jti (verifiers with a replay cache refuse\n"
"                 the same message twice; they do without one too)\n"
"  --no-iat       leave out iat, which is otherwise set to now (verifiers\n"
"                 check it against their clock; strict brokers require it)\n"
"  --iat          add iat (the default; kept for older scripts)\n"
"  --x5u          also add x5u = dns:NAME?type=TLSA (implied by --json)\n"
"  --json         flattened JSON serialization instead of compact\n"
"  --cty CTY      content type in the protected header; --cty JWE signs a\n"
"                 JWE (from dance encrypt) as the payload: encrypt-then-sign,\n"
"                 which brokers verify while only the recipient can read it\n"
"  --cose         a COSE_Sign1 message (tag 18, binary; algorithms ES256,\n"
"                 ES384, ES512, EdDSA, PS256, RS256; no --x5u, --json)\n"
"  --base64       with --cose: standard base64 on one line, not binary\n"
"  --help         show this help\n"
"\n"
"Exit status: 0 signed, 2 bad usage, unreadable key or certificate, or a\n"
"key that does not fit the algorithm.\n");
}

/* The command line, checked. */
struct sign_args {
    const char *keyfile, *name, *alg, *x5cfile, *topic, *cty;
    bool iat, jti, x5u, json, cose, base64;
};

/* sign_parse - the options into *a: CLI_PARSED, or the exit status (help
 * printed, or the error) */
static int sign_parse(int argc, char **argv, struct sign_args *a)
{
    static const struct option opts[] = {
        { "key",   required_argument, NULL, 'k' },
        { "name",  required_argument, NULL, 'n' },
        { "alg",   required_argument, NULL, 'a' },
        { "x5c",   required_argument, NULL, 'c' },
        { "iat",   no_argument,       NULL, 'i' },
        { "no-iat", no_argument,      NULL, 'I' },
        { "jti",   no_argument,       NULL, 'j' },
        { "topic", required_argument, NULL, 't' },
        { "x5u",   no_argument,       NULL, 'u' },
        { "json",  no_argument,       NULL, 'J' },
        { "cty",   required_argument, NULL, 'T' },
        { "cose",  no_argument,       NULL, 'C' },
        { "base64", no_argument,      NULL, 'B' },
        { "help",  no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmd = argv[0];
    bool iat_given = false, no_iat = false;
    int c;

    memset(a, 0, sizeof(*a));
    while ((c = cli_getopt(cmd, argc, argv, opts)) != -1) {
        switch (c) {
        case 'k': if (cli_set_once(cmd, "key", &a->keyfile, optarg)) return CLI_USAGE; break;
        case 'n': if (cli_set_once(cmd, "name", &a->name, optarg)) return CLI_USAGE; break;
        case 'a': if (cli_set_once(cmd, "alg", &a->alg, optarg)) return CLI_USAGE; break;
        case 'c': if (cli_set_once(cmd, "x5c", &a->x5cfile, optarg)) return CLI_USAGE; break;
        case 't': if (cli_set_once(cmd, "topic", &a->topic, optarg)) return CLI_USAGE; break;
        case 'T': if (cli_set_once(cmd, "cty", &a->cty, optarg)) return CLI_USAGE; break;
        case 'i': iat_given = true; break;
        case 'I': no_iat = true; break;
        case 'j': a->jti = true; break;
        case 'u': a->x5u = true; break;
        case 'J': a->json = true; break;
        case 'C': a->cose = true; break;
        case 'B': a->base64 = true; break;
        case 'h': sign_usage(stdout); return CLI_OK;
        default: return CLI_USAGE;
        }
    }
    if (optind < argc) {
        cli_usage_error(cmd, "unexpected argument '%.80s' (the payload is read from "
                        "stdin)", argv[optind]);
        return CLI_USAGE;
    }
    if (a->keyfile == NULL || a->name == NULL) {
        cli_usage_error(cmd, "--key FILE and --name NAME are required");
        return CLI_USAGE;
    }
    if (iat_given && no_iat) {
        cli_usage_error(cmd, "--iat and --no-iat contradict each other");
        return CLI_USAGE;
    }
    if (a->base64 && !a->cose) {
        cli_usage_error(cmd, "--base64 applies to --cose output only");
        return CLI_USAGE;
    }
    if (a->cose && (a->json || a->x5u)) {
        cli_usage_error(cmd, "--cose makes a COSE_Sign1: --json and --x5u are JWS options");
        return CLI_USAGE;
    }
    if (a->cose && a->cty != NULL) {
        cli_usage_error(cmd, "--cose makes a COSE_Sign1: --cty is a JWS option");
        return CLI_USAGE;
    }
    a->iat = !no_iat;
    return CLI_PARSED;
}

/* sign_input - read the payload from stdin and sign it as *a says into
 * *out (malloc'd, *outlen bytes): 0, or -1 after printing why */
static int sign_input(const char *cmd, const struct sign_args *a, char **out,
                      size_t *outlen)
{
    dance_jws_sign_opts so;
    char err[CLI_ERR_MAX], jtibuf[32];
    EVP_PKEY *key = NULL;
    STACK_OF(X509) *chain = NULL;
    unsigned char *payload = NULL;
    size_t plen = 0;
    int rc = -1;

    key = dance_key_load(a->keyfile, err, sizeof(err));
    if (key == NULL) {
        cli_error(cmd, "%s", err);
        goto out;
    }
    if (a->x5cfile != NULL
        && (chain = dance_certs_load(a->x5cfile, err, sizeof(err))) == NULL) {
        cli_error(cmd, "%s", err);
        goto out;
    }
    if (a->jti && dance_jws_random_jti(jtibuf, sizeof(jtibuf)) != 0) {
        cli_error(cmd, "cannot make a random jti (RNG failure)");
        goto out;
    }
    if (cli_read_all(stdin, SIGN_INPUT_MAX, &payload, &plen, err, sizeof(err)) != 0) {
        cli_error(cmd, "cannot read the payload from stdin: %s", err);
        goto out;
    }
    memset(&so, 0, sizeof(so));
    so.key = key;
    so.name = a->name;
    so.alg = a->alg;
    so.x5c = chain;
    so.x5u = a->x5u || a->json;
    so.iat = a->iat;
    so.jti = a->jti ? jtibuf : NULL;
    so.topic = a->topic;
    so.cty = a->cty;
    so.serialization = a->json ? DANCE_JWS_FLATTENED : DANCE_JWS_COMPACT;
    if (a->cose) {
        so.serialization = DANCE_JWS_COSE_SIGN1;
        rc = dance_cose_sign(&so, payload, plen, (unsigned char **)out, outlen, err,
                             sizeof(err));
    } else {
        rc = dance_jws_sign(&so, payload, plen, out, outlen, err, sizeof(err));
    }
    if (rc != 0) {
        cli_error(cmd, "%s", err);
        goto out;
    }
out:
    free(payload);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    return rc;
}

/* cli_base64 - replace *buf by its standard base64 (RFC 4648 4, padded,
 * one line), with OpenSSL's encoder. 0, or -1 (*buf untouched) on ENOMEM. */
static int cli_base64(char **buf, size_t *len)
{
    size_t n = 4 * ((*len + 2) / 3);
    char *b64;

    if (*len > (size_t)INT_MAX / 2 || (b64 = malloc(n + 1)) == NULL)
        return -1;
    n = (size_t)EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)*buf,
                                (int)*len);
    b64[n] = '\0';
    free(*buf);
    *buf = b64;
    *len = n;
    return 0;
}

int cmd_sign(int argc, char **argv)
{
    const char *cmd = argv[0];
    struct sign_args a;
    size_t outlen = 0;
    char *out = NULL;
    int rc = sign_parse(argc, argv, &a);

    if (rc != CLI_PARSED)
        return rc;
    if (a.topic == NULL)
        fprintf(stderr, "dance %s: note: no --topic: the message is not bound to a "
                "topic, and brokers with the default strict message profile refuse it "
                "(topic_mismatch)\n", cmd);
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "dance %s: reading the payload from stdin (end with Ctrl-D)\n",
                cmd);
    if (sign_input(cmd, &a, &out, &outlen) != 0) {
        free(out);
        return CLI_USAGE;
    }
    if (a.base64 && cli_base64(&out, &outlen) != 0) {
        cli_error(cmd, "out of memory");
        free(out);
        return CLI_USAGE;
    }
    rc = CLI_OK;
    /* binary COSE goes out as it is; text gets its end of line */
    if (fwrite(out, 1, outlen, stdout) != outlen
        || ((!a.cose || a.base64) && fputc('\n', stdout) == EOF)
        || fflush(stdout) != 0) {
        cli_error(cmd, "cannot write to stdout");
        rc = CLI_USAGE;
    }
    free(out);
    return rc;
}
