/*
 * cmd_lookup.c - `dance lookup`: fetch an identity's TLSA RRset with DNSSEC
 * validation and say what DNS proved (see lib/resolver.c).
 *
 * Uses the same library calls as the plugin, so
 * what this prints is what the broker would see (minus its cache).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "dance/name.h"
#include "dance/resolver.h"

#define LOOKUP_TIMEOUT_MAX 600000UL

static void lookup_usage(FILE *f)
{
    fprintf(f,
"usage: dance lookup NAME [--resolver IP[@PORT][,...]] [--trust-anchor FILE]\n"
"                         [--timeout MS] [--transport udp|tcp|tls]\n"
"                         [--tls-auth-name NAME] [--service-label _LABEL]\n"
"\n"
"Look up the TLSA records of NAME (a device identity) with DNSSEC validation.\n"
"Prints each record as a zone-file line, then the verdict:\n"
"  NAME. TTL IN TLSA U S M HEX\n"
"  ; DNSSEC: secure (N records)\n"
"or   ; DNSSEC: <secure negative|insecure|bogus|failure>: <reason>\n"
"Only a DNSSEC-secure answer prints records.\n"
"\n"
"  --resolver LIST       resolvers to ask, IPv4 or IPv6 with an optional port,\n"
"                        comma separated (default: the system resolver from\n"
"                        /etc/resolv.conf)\n"
"  --trust-anchor FILE   DS or DNSKEY records in zone-file syntax (default:\n"
"                        the system root key /usr/share/dns/root.key)\n"
"  --timeout MS          give up after MS milliseconds, 1-%lu (default 2000)\n"
"  --transport T         udp (TCP on truncation, the default), tcp, or tls\n"
"                        (DNS over TLS, port 853 unless given)\n"
"  --tls-auth-name NAME  the resolver's name in its TLS certificate (tls)\n"
"  --service-label _LABEL\n"
"                        look up _LABEL.NAME (service form, e.g. _mqtt)\n"
"                        instead of NAME itself (DevID form), as the same flag\n"
"                        of dance verify and dance token does\n"
"  --owner-prefix _LABEL the older spelling of --service-label\n"
"  --help                show this help\n"
"\n"
"Example: dance lookup dev1._device.example.com --resolver 127.0.0.1@5353 \\\n"
"             --trust-anchor root.ds\n"
"\n"
"Exit status: 0 secure records, 1 secure negative (no record), insecure or\n"
"bogus answer, 2 bad usage, 3 lookup failure (timeout, SERVFAIL, network).\n",
            LOOKUP_TIMEOUT_MAX);
}

/* print_records - one zone-file line per record; 0 or -1 (out of memory) */
static int print_records(const char *owner, const dance_tlsa_result *res)
{
    size_t i;

    for (i = 0; i < res->records.count; i++) {
        const dance_tlsa_rr *rr = &res->records.rr[i];
        size_t len = 16 + 2 * rr->len;     /* "255 255 255 " + hex + NUL */
        char *line = malloc(len);

        if (line == NULL)
            return -1;
        dance_tlsa_format(rr, 0, line, len);
        printf("%s. %lu IN TLSA %s\n", owner, (unsigned long)res->ttl, line);
        free(line);
    }
    return 0;
}

/* The command line, checked. */
struct lookup_args {
    dance_resolver_config cfg;
    char owner[DANCE_NAME_MAX + 1];     /* the name to ask for */
};

/* lookup_parse - the options into *a: CLI_PARSED, or the exit status (help
 * printed, or the error) */
static int lookup_parse(int argc, char **argv, struct lookup_args *a)
{
    static const struct option opts[] = {
        { "resolver",      required_argument, NULL, 'r' },
        { "trust-anchor",  required_argument, NULL, 'a' },
        { "timeout",       required_argument, NULL, 't' },
        { "transport",     required_argument, NULL, 'T' },
        { "tls-auth-name", required_argument, NULL, 'n' },
        { "service-label", required_argument, NULL, 'p' },
        { "owner-prefix",  required_argument, NULL, 'p' },   /* older spelling */
        { "help",          no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmd = argv[0];
    const char *resolver_s = NULL, *anchor = NULL, *timeout_s = NULL;
    const char *transport_s = NULL, *auth_name = NULL, *prefix = NULL;
    char name[DANCE_NAME_MAX + 1];
    char err[CLI_ERR_MAX];
    dance_resolver_config *cfg = &a->cfg;
    unsigned long timeout = 0;
    int c;

    memset(a, 0, sizeof(*a));
    while ((c = cli_getopt(cmd, argc, argv, opts)) != -1) {
        const char **dst = NULL;
        const char *opt = NULL;
        switch (c) {
        case 'r': dst = &resolver_s;  opt = "resolver";      break;
        case 'a': dst = &anchor;      opt = "trust-anchor";  break;
        case 't': dst = &timeout_s;   opt = "timeout";       break;
        case 'T': dst = &transport_s; opt = "transport";     break;
        case 'n': dst = &auth_name;   opt = "tls-auth-name"; break;
        case 'p': dst = &prefix;      opt = "service-label"; break;
        case 'h':
            lookup_usage(stdout);
            return CLI_OK;
        default:
            return CLI_USAGE;
        }
        if (cli_set_once(cmd, opt, dst, optarg) != 0)
            return CLI_USAGE;
    }
    if (optind >= argc) {
        cli_usage_error(cmd, "which name? Give the identity to look up, "
                        "e.g. dev1._device.example.com");
        return CLI_USAGE;
    }
    if (optind + 1 < argc) {
        cli_usage_error(cmd, "one name only (got '%s' and '%s')",
                        argv[optind], argv[optind + 1]);
        return CLI_USAGE;
    }
    if (dance_name_normalize(argv[optind], name, sizeof(name),
                             err, sizeof(err)) != 0) {
        cli_usage_error(cmd, "'%s' is not a valid DNS name: %s", argv[optind], err);
        return CLI_USAGE;
    }
    if (dance_owner_name(name, prefix, a->owner, sizeof(a->owner), err, sizeof(err)) != 0) {
        cli_usage_error(cmd, "--service-label '%s': %s", prefix ? prefix : "", err);
        return CLI_USAGE;
    }
    if (timeout_s != NULL
        && cli_parse_uint(cmd, "timeout", timeout_s, 1, LOOKUP_TIMEOUT_MAX,
                          &timeout) != 0)
        return CLI_USAGE;
    cfg->transport = DANCE_TRANSPORT_UDP;
    if (transport_s != NULL
        && dance_dns_transport_parse(transport_s, &cfg->transport) != 0) {
        cli_usage_error(cmd, "--transport '%s': expected udp, tcp or tls",
                        transport_s);
        return CLI_USAGE;
    }
    if (auth_name != NULL && cfg->transport != DANCE_TRANSPORT_TLS) {
        cli_usage_error(cmd, "--tls-auth-name only applies to --transport tls");
        return CLI_USAGE;
    }
    cfg->upstreams = resolver_s;
    cfg->trust_anchor_file = anchor;
    cfg->timeout_ms = (unsigned)timeout;
    cfg->tls_auth_name = auth_name;
    if (dance_resolver_config_check(cfg, err, sizeof(err)) != 0) {
        cli_usage_error(cmd, "%s", err);
        return CLI_USAGE;
    }
    return CLI_PARSED;
}

int cmd_lookup(int argc, char **argv)
{
    const char *cmd = argv[0];
    struct lookup_args a;
    char err[CLI_ERR_MAX];
    dance_resolver *res;
    dance_tlsa_result result = { 0 };
    int rc = lookup_parse(argc, argv, &a);

    if (rc != CLI_PARSED)
        return rc;
    res = dance_resolver_new(&a.cfg, err, sizeof(err));
    if (res == NULL) {
        cli_error(cmd, "%s", err);
        return CLI_LOOKUP_FAILED;
    }
    dance_resolver_lookup_tlsa(res, a.owner, &result);
    dance_resolver_free(res);

    if (result.status == DANCE_OK) {
        if (print_records(a.owner, &result) != 0) {
            cli_error(cmd, "out of memory");
            dance_tlsa_result_clear(&result);
            return CLI_LOOKUP_FAILED;
        }
        printf("; DNSSEC: secure (%zu record%s)\n", result.records.count,
               result.records.count == 1 ? "" : "s");
        rc = CLI_OK;
    } else {
        printf("; DNSSEC: %s: %s\n", dance_dns_answer_name(result.status),
               result.reason);
        cli_error(cmd, "%s", result.reason);
        rc = result.status == DANCE_LOOKUP_FAILED ? CLI_LOOKUP_FAILED : CLI_NEGATIVE;
    }
    dance_tlsa_result_clear(&result);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error(cmd, "cannot write to standard output");
        return CLI_USAGE;
    }
    return rc;
}
