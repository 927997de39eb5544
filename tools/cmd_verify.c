/*
 * cmd_verify.c - `dance verify`: verify a JWS or a COSE_Sign1 read from
 * stdin against the sender's DNSSEC-validated TLSA records (or, offline, a
 * given key) with the same library calls the plugin and the example
 * subscriber use.
 *
 * Formats: a first byte that is not ASCII is CBOR (COSE_Sign1, binary);
 * text that is neither JSON nor compact JWS (no '{', no '.') and decodes
 * as base64 to CBOR is a COSE_Sign1 in base64 (`dance sign --cose
 * --base64`); anything else goes to the JWS parser.
 *
 * Output contract: stdout carries exactly the verified payload bytes and
 * nothing else (so it can be piped); the verdict line (sender, algorithm,
 * key source, or the refusal reason) goes to stderr.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "cli.h"
#include "cli_io.h"
#include "cli_util.h"
#include <openssl/evp.h>

#include "dance/cose.h"
#include "dance/error.h"
#include "dance/jwe.h"
#include "dance/jws.h"
#include "dance/provision.h"

/* Read at most this much; the --max-size check proper is the library's,
 * so an oversized message gets its "too_large" verdict. */
#define VERIFY_READ_MAX (64u * 1024u * 1024u)

static void verify_usage(FILE *f)
{
    fprintf(f,
"usage: dance verify [--resolver IP[@PORT],...] [--trust-anchor FILE]\n"
"                    [--timeout MS] [--transport udp|tcp|tls] [--tls-auth-name NAME]\n"
"                    [--allowed-domains LIST] [--service-label _LABEL] [--cafile FILE]\n"
"                    [--topic TOPIC] [--require-topic] [--max-skew S] [--require-iat]\n"
"                    [--max-size BYTES] [--decrypt-key KEY.pem]\n"
"       dance verify (--key PUB.pem | --cert CERT.pem) [policy options]\n"
"\n"
"Read a JWS (compact or flattened JSON) or a COSE_Sign1 (binary CBOR, or\n"
"its base64) from stdin, find the sender's TLSA records in DNS (DNSSEC-\n"
"validated), and verify. On success the payload goes to stdout (exact\n"
"bytes) and 'verified: sender S, alg A, key K' to stderr; otherwise\n"
"'not verified (REASON): ...' goes to stderr.\n"
"\n"
"DNS:\n"
"  --resolver LIST      upstream resolvers IP[@PORT], comma separated\n"
"                       (default: the system's)\n"
"  --trust-anchor FILE  DNSSEC trust anchor, DS or DNSKEY in zone-file syntax\n"
"                       (default: the system's root key)\n"
"  --timeout MS         per query (default 2000)\n"
"  --transport T        udp (default), tcp or tls (needs --tls-auth-name)\n"
"  --tls-auth-name NAME name in the DNS-over-TLS server's certificate\n"
"  --service-label L    records at L.<sender> (e.g. _mqtt) instead of <sender>\n"
"Policy:\n"
"  --allowed-domains LIST  only senders under these domains (comma list);\n"
"                       others are refused before any DNS query\n"
"  --cafile FILE        CA certificates for PKIX usages (0, 1) with x5c\n"
"  --topic TOPIC        the topic the message was published on: a topic\n"
"                       header must equal it\n"
"  --require-topic      refuse messages without a topic header (needs --topic)\n"
"  --max-skew S         allowed |now - iat| in seconds (default 300)\n"
"  --require-iat        refuse messages without iat\n"
"  --max-size BYTES     largest message accepted (default 65536)\n"
"  --decrypt-key FILE   for encrypted messages, with this private key (PEM):\n"
"                       a JWE whose plaintext is the JWS is decrypted first,\n"
"                       then the JWS inside is verified (sign-then-encrypt);\n"
"                       a JWS with cty JWE is verified first, then its\n"
"                       payload is decrypted (encrypt-then-sign). The\n"
"                       plaintext goes to stdout\n"
"Offline (no DNS; the sender name is reported but not tied to the key):\n"
"  --key FILE           public (or private) key PEM to verify with\n"
"  --cert FILE          certificate PEM whose key to verify with\n"
"\n"
"Exit status: 0 verified, 1 not verified, 2 bad usage or unreadable input,\n"
"3 DNS lookup failure (the verdict is unknown; try again).\n");
}

static int exit_for(dance_status st)
{
    if (st == DANCE_OK)
        return CLI_OK;
    if (st == DANCE_LOOKUP_FAILED)
        return CLI_LOOKUP_FAILED;
    return CLI_NEGATIVE;
}

/* verified_line - "verified: sender S, alg A, key K" on stderr for a
 * verified res (the sender escaped) */
static void verified_line(const char *cmd, const dance_jws_result *res)
{
    char sender[DANCE_ESCAPE_SIZE(sizeof(res->sender))];

    dance_escape(res->sender, strlen(res->sender), sender, sizeof(sender));
    fprintf(stderr, "dance %s: verified: sender %s, alg %s, key %s\n", cmd,
            sender, dance_jws_alg_name(res->alg), res->key_source);
}

/* report - the verdict on stderr, the payload on stdout. The sender and the
 * reason may quote header strings the signer chose: they are printed
 * escaped (dance/error.h), so a message cannot write to the terminal. */
static int report(const char *cmd, const dance_jws_result *res)
{
    char sender[DANCE_ESCAPE_SIZE(sizeof(res->sender))];
    char why[sizeof(res->reason)];

    dance_escape(res->sender, strlen(res->sender), sender, sizeof(sender));
    dance_escape_text(res->reason, strlen(res->reason), why, sizeof(why));
    if (res->status == DANCE_OK) {
        if (fwrite(res->payload, 1, res->payload_len, stdout) != res->payload_len
            || fflush(stdout) != 0) {
            cli_error(cmd, "cannot write the payload to stdout");
            return CLI_USAGE;
        }
        verified_line(cmd, res);
        return CLI_OK;
    }
    if (res->sender[0] != '\0')
        fprintf(stderr, "dance %s: not verified (%s, sender %s): %s\n", cmd,
                dance_status_name(res->status), sender, why);
    else
        fprintf(stderr, "dance %s: not verified (%s): %s\n", cmd,
                dance_status_name(res->status), why);
    return exit_for(res->status);
}

/* cose_from_base64 - when input is text holding only base64 (standard or
 * URL-safe alphabet, padding optional, line breaks and spaces anywhere, as
 * base64(1) wraps it) that decodes to CBOR, replace it by the decoded
 * bytes; leave it alone otherwise, for the JWS parser to judge. Decoding
 * is OpenSSL's (EVP_DecodeBlock); whitespace, the alphabet and padding are
 * normalised here first. 0, or -1 on ENOMEM. */
static int cose_from_base64(unsigned char **input, size_t *inlen)
{
    const unsigned char *s = *input;
    size_t len = *inlen, n = 0, i, pad = 0, eq = 0;
    unsigned char *t = NULL, *out = NULL;
    int got;

    if (len < 4 || len > (size_t)INT_MAX - 4)
        return 0;
    if ((t = malloc(len + 4)) == NULL)
        return -1;
    for (i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            eq++;
        } else if (eq > 0 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                               || (c >= '0' && c <= '9') || c == '+' || c == '/'
                               || c == '-' || c == '_')) {
            free(t);            /* not base64: padding only at the end */
            return 0;
        }
        t[n++] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    if (n < 4 || eq > 2 || (eq > 0 && n % 4 != 0)) {
        free(t);
        return 0;
    }
    while (n % 4 != 0)
        t[n++] = '=';
    if ((out = malloc(n)) == NULL) {     /* 3 bytes out for every 4 in */
        free(t);
        return -1;
    }
    for (i = n; i > 0 && t[i - 1] == '='; i--)
        pad++;
    got = EVP_DecodeBlock(out, t, (int)n);
    free(t);
    if (got < 0 || (size_t)got < pad || pad > 2
        || !dance_is_cose(out, (size_t)got - pad)) {
        free(out);
        return 0;
    }
    free(*input);
    *input = out;
    *inlen = (size_t)got - pad;
    return 0;
}

/* The command line, checked. */
struct verify_args {
    const char *resolver, *anchor, *tls_name, *label, *cafile, *topic, *keyfile, *certfile;
    const char *decrypt_key;
    bool require_topic, require_iat;
    unsigned long timeout_ms, skew, max_size;
    dance_resolver_config rc_cfg;       /* transport set; the rest by verify_input */
    dance_allowlist *allow;             /* the caller frees it */
};

/* verify_parse - the options into *a: CLI_PARSED, or the exit status (help
 * printed, or the error) */
static int verify_parse(int argc, char **argv, struct verify_args *a)
{
    static const struct option opts[] = {
        { "resolver",        required_argument, NULL, 'r' },
        { "trust-anchor",    required_argument, NULL, 'T' },
        { "timeout",         required_argument, NULL, 'o' },
        { "transport",       required_argument, NULL, 'p' },
        { "tls-auth-name",   required_argument, NULL, 'A' },
        { "service-label",   required_argument, NULL, 'L' },
        { "allowed-domains", required_argument, NULL, 'd' },
        { "cafile",          required_argument, NULL, 'C' },
        { "topic",           required_argument, NULL, 't' },
        { "require-topic",   no_argument,       NULL, 'R' },
        { "max-skew",        required_argument, NULL, 's' },
        { "require-iat",     no_argument,       NULL, 'I' },
        { "max-size",        required_argument, NULL, 'm' },
        { "key",             required_argument, NULL, 'k' },
        { "cert",            required_argument, NULL, 'c' },
        { "decrypt-key",     required_argument, NULL, 'D' },
        { "help",            no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmd = argv[0];
    const char *timeout_s = NULL, *transport_s = NULL, *domains = NULL;
    const char *skew_s = NULL, *size_s = NULL;
    char err[CLI_ERR_MAX];
    int c;

    memset(a, 0, sizeof(*a));
    while ((c = cli_getopt(cmd, argc, argv, opts)) != -1) {
        const char **dst = NULL, *name = NULL;
        switch (c) {
        case 'r': dst = &a->resolver; name = "resolver"; break;
        case 'T': dst = &a->anchor; name = "trust-anchor"; break;
        case 'o': dst = &timeout_s; name = "timeout"; break;
        case 'p': dst = &transport_s; name = "transport"; break;
        case 'A': dst = &a->tls_name; name = "tls-auth-name"; break;
        case 'L': dst = &a->label; name = "service-label"; break;
        case 'd': dst = &domains; name = "allowed-domains"; break;
        case 'C': dst = &a->cafile; name = "cafile"; break;
        case 't': dst = &a->topic; name = "topic"; break;
        case 's': dst = &skew_s; name = "max-skew"; break;
        case 'm': dst = &size_s; name = "max-size"; break;
        case 'k': dst = &a->keyfile; name = "key"; break;
        case 'c': dst = &a->certfile; name = "cert"; break;
        case 'D': dst = &a->decrypt_key; name = "decrypt-key"; break;
        case 'R': a->require_topic = true; break;
        case 'I': a->require_iat = true; break;
        case 'h': verify_usage(stdout); return CLI_OK;
        default: return CLI_USAGE;
        }
        if (dst != NULL && cli_set_once(cmd, name, dst, optarg) != 0)
            return CLI_USAGE;
    }
    if (optind < argc) {
        cli_usage_error(cmd, "unexpected argument '%.80s' (the message is read from stdin)",
                        argv[optind]);
        return CLI_USAGE;
    }
    if (a->keyfile != NULL && a->certfile != NULL) {
        cli_usage_error(cmd, "give --key or --cert, not both");
        return CLI_USAGE;
    }
    if ((a->keyfile != NULL || a->certfile != NULL)
        && (a->resolver || a->anchor || timeout_s || transport_s || a->tls_name || a->label)) {
        cli_usage_error(cmd, "--key/--cert verify offline: DNS options do not apply");
        return CLI_USAGE;
    }
    if (a->require_topic && a->topic == NULL) {
        cli_usage_error(cmd, "--require-topic needs --topic TOPIC (the publish topic)");
        return CLI_USAGE;
    }
    if ((timeout_s && cli_parse_uint(cmd, "timeout", timeout_s, 1, 600000, &a->timeout_ms))
        || (skew_s && cli_parse_uint(cmd, "max-skew", skew_s, 1, 0xffffffffUL, &a->skew))
        || (size_s && cli_parse_uint(cmd, "max-size", size_s, 1, VERIFY_READ_MAX,
                                     &a->max_size)))
        return CLI_USAGE;
    if (transport_s != NULL && dance_dns_transport_parse(transport_s, &a->rc_cfg.transport)) {
        cli_usage_error(cmd, "unknown transport '%.40s' (udp, tcp or tls)", transport_s);
        return CLI_USAGE;
    }
    if (a->label != NULL && a->label[0] != '_') {
        cli_usage_error(cmd, "--service-label must start with '_' (e.g. _mqtt)");
        return CLI_USAGE;
    }
    if (domains != NULL
        && (a->allow = dance_allowlist_parse(domains, err, sizeof(err))) == NULL) {
        cli_usage_error(cmd, "--allowed-domains: %s", err);
        return CLI_USAGE;
    }
    return CLI_PARSED;
}

/* decrypt_verified - encrypt-then-sign: res verified the JWS in input,
 * whose payload must be a JWE (protected cty JWE); decrypt it with dkey and
 * report both verdicts, the plaintext on stdout. Returns the exit status:
 * a signature that verified over something that does not decrypt is not a
 * readable message. */
static int decrypt_verified(const char *cmd, const unsigned char *input, size_t inlen,
                            size_t max_size, EVP_PKEY *dkey, const dance_jws_result *res)
{
    dance_jws *jws = NULL;
    dance_jwe_result dres;
    char err[DANCE_REASON_MAX];
    bool encrypted;
    int rc;

    /* parsed once already by the verification: cannot fail but for memory */
    if (dance_message_parse(input, inlen, max_size, &jws, NULL, err, sizeof(err))
        != DANCE_OK) {
        cli_error(cmd, "%s", err);
        return CLI_USAGE;
    }
    encrypted = dance_jwe_type_is_jwe(dance_jws_get_header(jws)->cty);
    dance_jws_free(jws);
    verified_line(cmd, res);
    if (!encrypted) {
        cli_error(cmd, "--decrypt-key: the message is signed but not encrypted (a JWS "
                  "without cty JWE, not a JWE); nothing written");
        return CLI_NEGATIVE;
    }
    memset(&dres, 0, sizeof(dres));
    dance_jwe_decrypt(res->payload, res->payload_len, max_size, dkey, &dres);
    rc = cli_jwe_report(cmd, &dres, true);
    dance_jwe_result_clear(&dres);
    return rc;
}

/* verify_input - read the JWS from stdin and verify it as *a says, the
 * verdict in *res: CLI_PARSED, or the exit status after an error (printed)
 * that left no verdict */
static int verify_input(const char *cmd, struct verify_args *a, dance_jws_result *res)
{
    dance_resolver_config *rc_cfg = &a->rc_cfg;
    dance_resolver *res_dns = NULL;
    dance_matcher *matcher = NULL;
    dance_jws_policy pol;
    dance_jws_source src;
    dance_jws *jws = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    EVP_PKEY *dkey = NULL;
    bool sign_then_encrypt = false;
    dance_jwe_result dres;
    unsigned char *input = NULL;
    size_t inlen = 0;
    char err[CLI_ERR_MAX], label_src[DANCE_JWS_KEY_SOURCE_MAX];
    int rc = CLI_USAGE;

    memset(&pol, 0, sizeof(pol));
    memset(&dres, 0, sizeof(dres));
    pol.allow = a->allow;
    pol.service_label = a->label;
    pol.topic = a->topic;
    pol.require_topic = a->require_topic;
    pol.require_iat = a->require_iat;
    pol.max_skew = (uint32_t)a->skew;

    if (a->keyfile != NULL) {
        if ((key = cli_load_pubkey(a->keyfile, err, sizeof(err))) == NULL) {
            cli_error(cmd, "%s", err);
            goto out;
        }
        snprintf(label_src, sizeof(label_src), "offline key");
    } else if (a->certfile != NULL) {
        if ((cert = dance_cert_load(a->certfile, err, sizeof(err))) == NULL
            || (key = X509_get_pubkey(cert)) == NULL) {
            cli_error(cmd, "%s", cert ? "certificate has an unusable key" : err);
            goto out;
        }
        snprintf(label_src, sizeof(label_src), "offline certificate");
    } else {
        rc_cfg->upstreams = a->resolver;
        rc_cfg->trust_anchor_file = a->anchor;
        rc_cfg->timeout_ms = (unsigned)a->timeout_ms;
        rc_cfg->tls_auth_name = a->tls_name;
        if (dance_resolver_config_check(rc_cfg, err, sizeof(err)) != 0) {
            cli_usage_error(cmd, "%s", err);
            goto out;
        }
        matcher = dance_matcher_new(a->cafile, err, sizeof(err));
        if (matcher == NULL) {
            cli_error(cmd, "%s", err);
            goto out;
        }
        pol.matcher = matcher;
    }

    if (isatty(STDIN_FILENO))
        fprintf(stderr, "dance %s: reading the message from stdin (end with Ctrl-D)\n",
                cmd);
    if (cli_read_all(stdin, VERIFY_READ_MAX, &input, &inlen, err, sizeof(err)) != 0) {
        cli_error(cmd, "cannot read the message from stdin: %s", err);
        goto out;
    }
    if (!dance_is_cose(input, inlen) && cose_from_base64(&input, &inlen) != 0) {
        cli_error(cmd, "out of memory");
        goto out;
    }

    if (a->decrypt_key != NULL
        && (dkey = dance_key_load(a->decrypt_key, err, sizeof(err))) == NULL) {
        cli_error(cmd, "%s", err);
        goto out;
    }
    sign_then_encrypt = dkey != NULL && dance_jwe_is_jwe(input, inlen);
    if (sign_then_encrypt) {
        /* sign-then-encrypt: the JWS is the JWE's plaintext; a refusal to
         * decrypt is the verdict (nothing to verify) */
        if (dance_jwe_decrypt(input, inlen, a->max_size, dkey, &dres) != DANCE_OK) {
            rc = cli_jwe_report(cmd, &dres, false);
            goto out;
        }
        cli_jwe_report(cmd, &dres, false);
        free(input);
        input = dres.plaintext;
        inlen = dres.plaintext_len;
        dres.plaintext = NULL;
        dres.plaintext_len = 0;
    }
    if (key != NULL) {
        dance_status st = dance_message_parse(input, inlen, a->max_size, &jws,
                                              res->sender, res->reason,
                                              sizeof(res->reason));
        if (st != DANCE_OK)
            res->status = st;
        else
            dance_jws_verify_key(jws, key, label_src, &pol, res);
        rc = CLI_PARSED;
        goto decrypt;
    }
    res_dns = dance_resolver_new(rc_cfg, err, sizeof(err));
    if (res_dns == NULL) {
        cli_error(cmd, "%s", err);
        goto out;
    }
    memset(&src, 0, sizeof(src));
    src.resolver = res_dns;
    dance_jws_verify_message(input, inlen, a->max_size, &pol, &src, res);
    rc = CLI_PARSED;
decrypt:
    /* encrypt-then-sign: decrypted once verified (the input was no JWE) */
    if (dkey != NULL && !sign_then_encrypt && res->status == DANCE_OK)
        rc = decrypt_verified(cmd, input, inlen, a->max_size, dkey, res);
out:
    dance_jws_free(jws);
    dance_resolver_free(res_dns);
    dance_matcher_free(matcher);
    EVP_PKEY_free(key);
    EVP_PKEY_free(dkey);
    X509_free(cert);
    dance_jwe_result_clear(&dres);
    free(input);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    struct verify_args a;
    dance_jws_result res;
    int rc;

    memset(&res, 0, sizeof(res));
    rc = verify_parse(argc, argv, &a);
    if (rc == CLI_PARSED) {
        rc = verify_input(argv[0], &a, &res);
        if (rc == CLI_PARSED)
            rc = report(argv[0], &res);
    }
    dance_jws_result_clear(&res);
    dance_allowlist_free(a.allow);
    return rc;
}
