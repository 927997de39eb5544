/*
 * cmd_token.c - `dance token`: make an MQTT password token (a compact JWS
 * with the claims aud, iat, exp, jti, signed with the device's DANE-bound
 * key), or with --verify check one the way the broker plugin does (DNSSEC
 * TLSA lookup, same library calls: dance_token_verify_password).
 *
 * Output contract: making a token prints exactly the token and a newline
 * on stdout (so `-P "$(dance token ...)"` works); --verify prints one
 * verdict line on stdout ("valid: ..." or "not valid (REASON): ...").
 * Errors go to stderr. The private key is never printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_io.h"
#include "cli_util.h"
#include "dance/error.h"
#include "dance/provision.h"
#include "dance/token.h"

#define TOKEN_LIFETIME_MAX 86400UL      /* a day: tokens are meant to be short */
#define TOKEN_READ_MAX (1024u * 1024u)  /* --verify input; the library's limit is lower */

static void token_usage(FILE *f)
{
    fprintf(f,
"usage: dance token --key KEY.pem --name NAME --aud BROKER [--lifetime SECONDS]\n"
"                   [--x5c CERT.pem] [--alg ALG]\n"
"       dance token --verify --name NAME --aud BROKER [--max-lifetime S]\n"
"                   [--max-skew S] [--resolver IP[@PORT],...] [--trust-anchor FILE]\n"
"                   [--timeout MS] [--transport udp|tcp|tls] [--tls-auth-name NAME]\n"
"                   [--service-label _LABEL] [--allowed-domains LIST] [--cafile FILE]\n"
"\n"
"Print a token to use as the MQTT password (with the username NAME): a\n"
"compact JWS signed with KEY.pem, header {alg, kid: NAME, typ: JWT [, x5c]},\n"
"claims {aud: BROKER, iat: now, exp: now + lifetime, jti: 128 random bits}.\n"
"The broker finds the key in the TLSA records of NAME. A jti is accepted\n"
"once: make a new token for every connection.\n"
"\n"
"  --key FILE       the device's private key (PEM, unencrypted)\n"
"  --name NAME      the device's DNS identity, e.g. dev1._device.example.com\n"
"  --aud BROKER     the broker's name (its plugin_opt_token_audience)\n"
"  --lifetime S     seconds until the token expires, 1-%lu (default %u);\n"
"                   the broker refuses tokens living longer than its maximum\n"
"  --x5c FILE       certificate (leaf first) to send in x5c: needed when DNS\n"
"                   holds only a digest (3 1 1, 3 0 1, ...)\n"
"  --alg ALG        ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384,\n"
"                   PS512 or EdDSA; default from the key\n"
"\n"
"With --verify, read a token from stdin and check it as the broker would\n"
"(allow-list before any DNS query, audience, lifetime, expiry, key from\n"
"DNSSEC-validated TLSA records, signature; no replay cache):\n"
"  --max-lifetime S  longest exp - iat accepted (default %u)\n"
"  --max-skew S      how far iat may lie in the future (default %u)\n"
"  --resolver, --trust-anchor, --timeout, --transport, --tls-auth-name,\n"
"  --service-label, --allowed-domains, --cafile: as for dance verify\n"
"\n"
"Exit status: 0 token printed or valid, 1 not valid, 2 bad usage or\n"
"unreadable input, 3 DNS lookup failure (--verify).\n",
            TOKEN_LIFETIME_MAX, DANCE_TOKEN_LIFETIME_DEFAULT,
            DANCE_TOKEN_MAX_LIFETIME_DEFAULT, DANCE_TOKEN_MAX_SKEW_DEFAULT);
}

/* The command line: the options as given, then what token_parse made of
 * them for the mode (verify, or make). */
typedef struct token_args {
    const char *key, *name, *aud, *lifetime, *x5c, *alg;
    const char *max_lifetime, *max_skew, *resolver, *anchor, *timeout, *transport;
    const char *tls_name, *label, *domains, *cafile;
    bool verify;
    unsigned long lifetime_s;                   /* make */
    unsigned long max_life, skew;               /* verify */
    dance_resolver_config rc_cfg;               /* verify */
    dance_allowlist *allow;                     /* verify; the caller frees it */
} token_args;

/* make_args - the checks of the options for making a token */
static int make_args(const char *cmd, token_args *a)
{
    if (a->max_lifetime || a->max_skew || a->resolver || a->anchor || a->timeout
        || a->transport || a->tls_name || a->label || a->domains || a->cafile) {
        cli_usage_error(cmd, "DNS and policy options only apply with --verify");
        return CLI_USAGE;
    }
    if (a->key == NULL || a->name == NULL || a->aud == NULL) {
        cli_usage_error(cmd, "--key FILE, --name NAME and --aud BROKER are required");
        return CLI_USAGE;
    }
    a->lifetime_s = DANCE_TOKEN_LIFETIME_DEFAULT;
    if (a->lifetime != NULL
        && cli_parse_uint(cmd, "lifetime", a->lifetime, 1, TOKEN_LIFETIME_MAX,
                          &a->lifetime_s))
        return CLI_USAGE;
    return CLI_PARSED;
}

/* verify_args - the checks of the options for verifying a token */
static int verify_args(const char *cmd, token_args *a)
{
    unsigned long timeout_ms = 0;
    char err[CLI_ERR_MAX];

    if (a->key || a->lifetime || a->x5c || a->alg) {
        cli_usage_error(cmd, "--key, --lifetime, --x5c and --alg make tokens: they do "
                        "not apply with --verify");
        return CLI_USAGE;
    }
    if (a->name == NULL || a->aud == NULL) {
        cli_usage_error(cmd, "--verify needs --name NAME (the MQTT username) and --aud "
                        "BROKER");
        return CLI_USAGE;
    }
    if ((a->max_lifetime && cli_parse_uint(cmd, "max-lifetime", a->max_lifetime, 1,
                                           0xffffffffUL, &a->max_life))
        || (a->max_skew && cli_parse_uint(cmd, "max-skew", a->max_skew, 1, 0xffffffffUL,
                                          &a->skew))
        || (a->timeout && cli_parse_uint(cmd, "timeout", a->timeout, 1, 600000,
                                         &timeout_ms)))
        return CLI_USAGE;
    if (a->transport != NULL
        && dance_dns_transport_parse(a->transport, &a->rc_cfg.transport)) {
        cli_usage_error(cmd, "unknown transport '%.40s' (udp, tcp or tls)", a->transport);
        return CLI_USAGE;
    }
    if (a->label != NULL && a->label[0] != '_') {
        cli_usage_error(cmd, "--service-label must start with '_' (e.g. _mqtt)");
        return CLI_USAGE;
    }
    if (a->domains != NULL
        && (a->allow = dance_allowlist_parse(a->domains, err, sizeof(err))) == NULL) {
        cli_usage_error(cmd, "--allowed-domains: %s", err);
        return CLI_USAGE;
    }
    a->rc_cfg.upstreams = a->resolver;
    a->rc_cfg.trust_anchor_file = a->anchor;
    a->rc_cfg.timeout_ms = (unsigned)timeout_ms;
    a->rc_cfg.tls_auth_name = a->tls_name;
    if (dance_resolver_config_check(&a->rc_cfg, err, sizeof(err)) != 0) {
        cli_usage_error(cmd, "%s", err);
        return CLI_USAGE;
    }
    return CLI_PARSED;
}

/* token_parse - the options into *a: CLI_PARSED, or the exit status (help
 * printed, or the error) */
static int token_parse(int argc, char **argv, token_args *a)
{
    static const struct option opts[] = {
        { "key",             required_argument, NULL, 'k' },
        { "name",            required_argument, NULL, 'n' },
        { "aud",             required_argument, NULL, 'a' },
        { "lifetime",        required_argument, NULL, 'l' },
        { "x5c",             required_argument, NULL, 'c' },
        { "alg",             required_argument, NULL, 'g' },
        { "verify",          no_argument,       NULL, 'V' },
        { "max-lifetime",    required_argument, NULL, 'L' },
        { "max-skew",        required_argument, NULL, 's' },
        { "resolver",        required_argument, NULL, 'r' },
        { "trust-anchor",    required_argument, NULL, 'T' },
        { "timeout",         required_argument, NULL, 'o' },
        { "transport",       required_argument, NULL, 'p' },
        { "tls-auth-name",   required_argument, NULL, 'A' },
        { "service-label",   required_argument, NULL, 'S' },
        { "allowed-domains", required_argument, NULL, 'd' },
        { "cafile",          required_argument, NULL, 'C' },
        { "help",            no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmd = argv[0];
    int c;

    memset(a, 0, sizeof(*a));
    while ((c = cli_getopt(cmd, argc, argv, opts)) != -1) {
        const char **dst = NULL, *name = NULL;
        switch (c) {
        case 'k': dst = &a->key; name = "key"; break;
        case 'n': dst = &a->name; name = "name"; break;
        case 'a': dst = &a->aud; name = "aud"; break;
        case 'l': dst = &a->lifetime; name = "lifetime"; break;
        case 'c': dst = &a->x5c; name = "x5c"; break;
        case 'g': dst = &a->alg; name = "alg"; break;
        case 'L': dst = &a->max_lifetime; name = "max-lifetime"; break;
        case 's': dst = &a->max_skew; name = "max-skew"; break;
        case 'r': dst = &a->resolver; name = "resolver"; break;
        case 'T': dst = &a->anchor; name = "trust-anchor"; break;
        case 'o': dst = &a->timeout; name = "timeout"; break;
        case 'p': dst = &a->transport; name = "transport"; break;
        case 'A': dst = &a->tls_name; name = "tls-auth-name"; break;
        case 'S': dst = &a->label; name = "service-label"; break;
        case 'd': dst = &a->domains; name = "allowed-domains"; break;
        case 'C': dst = &a->cafile; name = "cafile"; break;
        case 'V': a->verify = true; break;
        case 'h': token_usage(stdout); return CLI_OK;
        default: return CLI_USAGE;
        }
        if (dst != NULL && cli_set_once(cmd, name, dst, optarg) != 0)
            return CLI_USAGE;
    }
    if (optind < argc) {
        cli_usage_error(cmd, "unexpected argument '%.80s'", argv[optind]);
        return CLI_USAGE;
    }
    return a->verify ? verify_args(cmd, a) : make_args(cmd, a);
}

/* make_token - sign a token and print it; the exit status */
static int make_token(const char *cmd, const token_args *a)
{
    dance_token_sign_opts so;
    char err[CLI_ERR_MAX], *out = NULL;
    EVP_PKEY *key = NULL;
    STACK_OF(X509) *chain = NULL;
    size_t outlen = 0;
    int rc = CLI_USAGE;

    key = dance_key_load(a->key, err, sizeof(err));
    if (key == NULL) {
        cli_error(cmd, "%s", err);
        goto out;
    }
    if (a->x5c != NULL && (chain = dance_certs_load(a->x5c, err, sizeof(err))) == NULL) {
        cli_error(cmd, "%s", err);
        goto out;
    }
    memset(&so, 0, sizeof(so));
    so.key = key;
    so.name = a->name;
    so.audience = a->aud;
    so.lifetime = (uint32_t)a->lifetime_s;
    so.alg = a->alg;
    so.x5c = chain;
    if (dance_token_sign(&so, &out, &outlen, err, sizeof(err)) != 0) {
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
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    return rc;
}

/* verify_token - read the token from stdin, verify it and print the
 * verdict; the exit status */
static int verify_token(const char *cmd, const token_args *a)
{
    dance_resolver *resolver = NULL;
    dance_matcher *matcher = NULL;
    dance_token_policy pol;
    dance_token_result res;
    dance_jws_source src;
    unsigned char *input = NULL;
    size_t inlen = 0;
    char err[CLI_ERR_MAX];
    char identity[DANCE_ESCAPE_SIZE(sizeof(res.identity))], why[sizeof(res.reason)];
    int rc = CLI_USAGE;

    matcher = dance_matcher_new(a->cafile, err, sizeof(err));
    if (matcher == NULL) {
        cli_error(cmd, "%s", err);
        goto out;
    }
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "dance %s: reading the token from stdin (end with Ctrl-D)\n", cmd);
    if (cli_read_all(stdin, TOKEN_READ_MAX, &input, &inlen, err, sizeof(err)) != 0) {
        cli_error(cmd, "cannot read the token from stdin: %s", err);
        goto out;
    }
    resolver = dance_resolver_new(&a->rc_cfg, err, sizeof(err));
    if (resolver == NULL) {
        cli_error(cmd, "%s", err);
        goto out;
    }
    memset(&pol, 0, sizeof(pol));
    pol.audience = a->aud;
    pol.max_lifetime = (uint32_t)a->max_life;
    pol.max_skew = (uint32_t)a->skew;
    pol.allow = a->allow;
    pol.service_label = a->label;
    pol.matcher = matcher;
    memset(&src, 0, sizeof(src));
    src.resolver = resolver;
    dance_token_verify_password(input, inlen, a->name, &pol, &src, &res);
    /* The identity and the reason quote what the token says: escaped
     * (dance/error.h), so a token cannot write to the terminal. */
    dance_escape(res.identity, strlen(res.identity), identity, sizeof(identity));
    dance_escape_text(res.reason, strlen(res.reason), why, sizeof(why));
    if (res.status == DANCE_OK) {
        printf("valid: identity %s, alg %s, key %s, expires in %lld s\n", identity,
               dance_jws_alg_name(res.alg), res.key_source,
               (long long)(res.exp - (int64_t)time(NULL)));
        rc = CLI_OK;
    } else {
        printf("not valid (%s%s%s): %s\n", dance_status_name(res.status),
               identity[0] ? ", identity " : "", identity, why);
        rc = res.status == DANCE_LOOKUP_FAILED ? CLI_LOOKUP_FAILED : CLI_NEGATIVE;
    }
    if (fflush(stdout) != 0) {
        cli_error(cmd, "cannot write to stdout");
        rc = CLI_USAGE;
    }
out:
    free(input);
    dance_resolver_free(resolver);
    dance_matcher_free(matcher);
    return rc;
}

int cmd_token(int argc, char **argv)
{
    token_args a;
    int rc = token_parse(argc, argv, &a);

    if (rc == CLI_PARSED)
        rc = a.verify ? verify_token(argv[0], &a) : make_token(argv[0], &a);
    dance_allowlist_free(a.allow);
    return rc;
}
