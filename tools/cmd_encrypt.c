/*
 * cmd_encrypt.c - `dance encrypt`: encrypt stdin as a JWE to a recipient's
 * public key, from its certificate (offline) or from its DNSSEC-validated
 * TLSA records (--to NAME, the lookup `dance verify` makes for senders),
 * with the library calls the examples use (dance/jwe.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_io.h"
#include "cli_util.h"
#include "dance/jwe.h"
#include "dance/name.h"
#include "dance/provision.h"
#include "dance/resolver.h"

/* Plaintexts above this are refused rather than buffered without end. */
#define ENCRYPT_INPUT_MAX (16u * 1024u * 1024u)

static void encrypt_usage(FILE *f)
{
    fprintf(f,
"usage: dance encrypt --to NAME [--resolver IP[@PORT],...] [--trust-anchor FILE]\n"
"                     [--timeout MS] [--service-label _LABEL] [JWE options]\n"
"       dance encrypt --cert CERT.pem [--to NAME] [JWE options]\n"
"JWE options: [--alg ALG] [--enc ENC] [--cty CTY] [--json]\n"
"\n"
"Read the plaintext from stdin and write a JWE (one line) that only the\n"
"holder of the recipient's private key can decrypt. The key comes from the\n"
"certificate given, or from the recipient's TLSA records in DNS (3 1 0 or\n"
"3 0 0, DNSSEC-validated). --to also names the recipient in the protected\n"
"header (x5u dns://NAME?type=TLSA).\n"
"\n"
"  --to NAME            the recipient's DNS identity\n"
"  --cert FILE          the recipient's certificate (PEM): no DNS lookup\n"
"  --alg ALG            RSA-OAEP-256 (RSA keys; the default for them),\n"
"                       ECDH-ES (EC P-256/P-384; their default) or ECDH-ES+A256KW\n"
"  --enc ENC            A256GCM (default) or A256CBC-HS512\n"
"  --cty CTY            content type in the protected header (e.g. JWT)\n"
"  --json               flattened JSON serialization instead of compact\n"
"DNS (with --to and no --cert):\n"
"  --resolver LIST      upstream resolvers IP[@PORT], comma separated\n"
"                       (default: the system's)\n"
"  --trust-anchor FILE  DNSSEC trust anchor (default: the system's root key)\n"
"  --timeout MS         per query (default 2000)\n"
"  --service-label L    records at L.<NAME> (e.g. _mqtt) instead of <NAME>\n"
"\n"
"Exit status: 0 encrypted, 1 no usable key in DNS (no, insecure or bogus\n"
"records, or none holding a key), 2 bad usage, unreadable input or a key\n"
"that does not fit, 3 DNS lookup failure (try again).\n");
}

struct encrypt_args {
    const char *to, *certfile, *alg, *enc, *cty;
    const char *resolver, *anchor, *label;
    bool json;
    unsigned long timeout_ms;
};

static int encrypt_parse(int argc, char **argv, struct encrypt_args *a)
{
    static const struct option opts[] = {
        { "to",            required_argument, NULL, 'n' },
        { "cert",          required_argument, NULL, 'c' },
        { "alg",           required_argument, NULL, 'a' },
        { "enc",           required_argument, NULL, 'e' },
        { "cty",           required_argument, NULL, 'y' },
        { "json",          no_argument,       NULL, 'J' },
        { "resolver",      required_argument, NULL, 'r' },
        { "trust-anchor",  required_argument, NULL, 'T' },
        { "timeout",       required_argument, NULL, 'o' },
        { "service-label", required_argument, NULL, 'L' },
        { "help",          no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmd = argv[0], *timeout_s = NULL;
    int c;

    memset(a, 0, sizeof(*a));
    while ((c = cli_getopt(cmd, argc, argv, opts)) != -1) {
        const char **dst = NULL, *name = NULL;
        switch (c) {
        case 'n': dst = &a->to; name = "to"; break;
        case 'c': dst = &a->certfile; name = "cert"; break;
        case 'a': dst = &a->alg; name = "alg"; break;
        case 'e': dst = &a->enc; name = "enc"; break;
        case 'y': dst = &a->cty; name = "cty"; break;
        case 'r': dst = &a->resolver; name = "resolver"; break;
        case 'T': dst = &a->anchor; name = "trust-anchor"; break;
        case 'o': dst = &timeout_s; name = "timeout"; break;
        case 'L': dst = &a->label; name = "service-label"; break;
        case 'J': a->json = true; break;
        case 'h': encrypt_usage(stdout); return CLI_OK;
        default: return CLI_USAGE;
        }
        if (dst != NULL && cli_set_once(cmd, name, dst, optarg) != 0)
            return CLI_USAGE;
    }
    if (optind < argc) {
        cli_usage_error(cmd, "unexpected argument '%.80s' (the plaintext is read from "
                        "stdin)", argv[optind]);
        return CLI_USAGE;
    }
    if (a->to == NULL && a->certfile == NULL) {
        cli_usage_error(cmd, "give --to NAME (key from DNS) or --cert FILE");
        return CLI_USAGE;
    }
    if (a->certfile != NULL && (a->resolver || a->anchor || timeout_s || a->label)) {
        cli_usage_error(cmd, "--cert encrypts offline: DNS options do not apply");
        return CLI_USAGE;
    }
    if (timeout_s && cli_parse_uint(cmd, "timeout", timeout_s, 1, 600000, &a->timeout_ms))
        return CLI_USAGE;
    if (a->label != NULL && a->label[0] != '_') {
        cli_usage_error(cmd, "--service-label must start with '_' (e.g. _mqtt)");
        return CLI_USAGE;
    }
    return CLI_PARSED;
}

/* exit_for_lookup - the exit status for a key not found in DNS */
static int exit_for_lookup(dance_status st)
{
    if (st == DANCE_LOOKUP_FAILED)
        return CLI_LOOKUP_FAILED;
    if (st == DANCE_INTERNAL || st == DANCE_BAD_SENDER)
        return CLI_USAGE;
    return CLI_NEGATIVE;
}

/* note_other_name - a note on stderr when the certificate names other DNS
 * identities than --to: x5u would then name someone else than the key's
 * owner (not refused: the certificate may name the device, --to a
 * service form of it) */
static void note_other_name(const char *cmd, X509 *cert, const char *to)
{
    char norm[DANCE_NAME_MAX + 1], **names = NULL;
    int n = dance_cert_dnsnames(cert, &names);
    bool found = false;

    if (n > 0 && dance_name_normalize(to, norm, sizeof(norm), NULL, 0) == 0) {
        for (int i = 0; i < n; i++)
            found = found || strcmp(names[i], norm) == 0;
        if (!found)
            fprintf(stderr, "dance %s: note: the certificate names %s%s, not %s\n", cmd,
                    names[0], n > 1 ? " (and others)" : "", norm);
    }
    dance_names_free(names);
}

/* recipient_key - the key to encrypt to, or NULL after printing why
 * (*rc the exit status) */
static EVP_PKEY *recipient_key(const char *cmd, const struct encrypt_args *a, int *rc)
{
    char err[CLI_ERR_MAX];
    dance_resolver_config cfg;
    dance_resolver *r;
    dance_jws_source src;
    dance_status st = DANCE_INTERNAL;
    EVP_PKEY *key = NULL;
    X509 *cert;

    *rc = CLI_USAGE;
    if (a->certfile != NULL) {
        if ((cert = dance_cert_load(a->certfile, err, sizeof(err))) == NULL) {
            cli_error(cmd, "%s", err);
            return NULL;
        }
        if ((key = X509_get_pubkey(cert)) == NULL)
            cli_error(cmd, "%s: the certificate has an unusable key", a->certfile);
        else if (a->to != NULL)
            note_other_name(cmd, cert, a->to);
        X509_free(cert);
        return key;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.upstreams = a->resolver;
    cfg.trust_anchor_file = a->anchor;
    cfg.timeout_ms = (unsigned)a->timeout_ms;
    if (dance_resolver_config_check(&cfg, err, sizeof(err)) != 0) {
        cli_usage_error(cmd, "%s", err);
        return NULL;
    }
    if ((r = dance_resolver_new(&cfg, err, sizeof(err))) == NULL) {
        cli_error(cmd, "%s", err);
        return NULL;
    }
    memset(&src, 0, sizeof(src));
    src.resolver = r;
    key = dance_jwe_recipient_key(&src, a->to, a->label, &st, err, sizeof(err));
    dance_resolver_free(r);
    if (key == NULL) {
        /* library reasons are escaped already (dance/error.h) */
        cli_error(cmd, "no key to encrypt to (%s): %s", dance_status_name(st), err);
        *rc = exit_for_lookup(st);
    }
    return key;
}

int cmd_encrypt(int argc, char **argv)
{
    const char *cmd = argv[0];
    struct encrypt_args a;
    dance_jwe_encrypt_opts o;
    unsigned char *input = NULL;
    size_t inlen = 0, outlen = 0;
    char err[CLI_ERR_MAX], *out = NULL;
    EVP_PKEY *key = NULL;
    int rc = encrypt_parse(argc, argv, &a);

    if (rc != CLI_PARSED)
        return rc;
    if ((key = recipient_key(cmd, &a, &rc)) == NULL)
        return rc;
    rc = CLI_USAGE;
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "dance %s: reading the plaintext from stdin (end with Ctrl-D)\n",
                cmd);
    if (cli_read_all(stdin, ENCRYPT_INPUT_MAX, &input, &inlen, err, sizeof(err)) != 0) {
        cli_error(cmd, "cannot read the plaintext from stdin: %s", err);
        goto out;
    }
    memset(&o, 0, sizeof(o));
    o.key = key;
    o.recipient = a.to;
    o.alg = a.alg;
    o.enc = a.enc;
    o.cty = a.cty;
    o.serialization = a.json ? DANCE_JWS_FLATTENED : DANCE_JWS_COMPACT;
    if (dance_jwe_encrypt(&o, input, inlen, &out, &outlen, err, sizeof(err)) != 0) {
        cli_error(cmd, "%s", err);
        goto out;
    }
    if (fwrite(out, 1, outlen, stdout) != outlen || fputc('\n', stdout) == EOF
        || fflush(stdout) != 0) {
        cli_error(cmd, "cannot write to stdout");
        goto out;
    }
    rc = CLI_OK;
out:
    free(out);
    free(input);
    EVP_PKEY_free(key);
    return rc;
}
