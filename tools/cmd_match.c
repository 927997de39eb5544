/*
 * cmd_match.c - `dance match`: DANE-match a certificate (and chain)
 * against TLSA records given on the command line, offline, with the same
 * matcher the plugin uses (dance/dane.h).
 *
 * Output contract: exactly one line on stdout, "authenticated: <what
 * matched>" (exit 0) or "not authenticated: <why>" (exit 1). Bad usage and
 * unreadable files print to stderr only and exit 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "cli.h"
#include "cli_util.h"
#include "dance/dane.h"
#include "dance/name.h"
#include "dance/provision.h"

static void match_usage(FILE *f)
{
    fprintf(f,
"usage: dance match --cert LEAF.pem [--chain CHAIN.pem] [--cafile CA.pem]\n"
"                   [--name NAME] [--no-ee-namechecks] [--purpose client|server|none]\n"
"                   --tlsa \"U S M HEX\" [--tlsa \"U S M HEX\" ...]\n"
"\n"
"DANE-authenticate a certificate against TLSA records (RFC 6698/7671, with\n"
"OpenSSL's DANE code), offline: the records come from the command line.\n"
"Prints one line: \"authenticated: <record> matched at depth <d>\" or\n"
"\"not authenticated: <reason>\".\n"
"\n"
"  --cert FILE         the certificate to check (PEM); further certificates in\n"
"                      FILE are used as its chain\n"
"  --chain FILE        untrusted intermediate certificates (PEM)\n"
"  --cafile FILE       trusted CA certificates (PEM): trust anchors for usages\n"
"                      0 and 1, and issuers for usage 2\n"
"  --name NAME         the identity: must be a dNSName subjectAltName of the\n"
"                      certificate (checked for every usage); without --name no\n"
"                      name is checked, and the verdict says so\n"
"  --no-ee-namechecks  no name check for DANE-EE (usage 3) records, as the\n"
"                      draft allows when the identity is signalled separately\n"
"  --purpose P         client (default: extendedKeyUsage must allow TLS client\n"
"                      auth), server, or none\n"
"  --tlsa RECORD       a TLSA record \"U S M HEX\" (repeat for an RRset); records\n"
"                      with unknown usage/selector/mtype are ignored (RFC 7671)\n"
"  --help              show this help\n"
"\n"
"DANE-EE (3) ignores the certificate's dates; DANE-TA (2) and the PKIX usages\n"
"(0, 1) check dates, names and purpose along the chain.\n"
"\n"
"Exit status: 0 authenticated, 1 not authenticated (also when no record is\n"
"usable), 2 bad usage or unreadable input.\n");
}

/* The command line, checked. */
struct match_args {
    const char *cert_path, *chain_path, *cafile, *name;    /* name: normalised or NULL */
    bool no_ee_namechecks;
    dance_purpose purpose;
    dance_tlsa_rrset tlsa;              /* the caller clears it */
    char norm[DANCE_NAME_MAX + 1];
};

/* match_parse - the options into *a: CLI_PARSED, or the exit status (help
 * printed, or the error) */
static int match_parse(int argc, char **argv, struct match_args *a)
{
    static const struct option opts[] = {
        { "cert",             required_argument, NULL, 'c' },
        { "chain",            required_argument, NULL, 'C' },
        { "cafile",           required_argument, NULL, 'A' },
        { "name",             required_argument, NULL, 'n' },
        { "no-ee-namechecks", no_argument,       NULL, 'E' },
        { "purpose",          required_argument, NULL, 'p' },
        { "tlsa",             required_argument, NULL, 't' },
        { "help",             no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *cmd = argv[0], *purpose_s = NULL;
    char err[CLI_ERR_MAX];
    int c;

    memset(a, 0, sizeof(*a));
    a->purpose = DANCE_PURPOSE_CLIENT;
    while ((c = cli_getopt(cmd, argc, argv, opts)) != -1) {
        const char **dst = NULL;
        const char *opt = NULL;
        switch (c) {
        case 'c': dst = &a->cert_path;  opt = "cert";    break;
        case 'C': dst = &a->chain_path; opt = "chain";   break;
        case 'A': dst = &a->cafile;     opt = "cafile";  break;
        case 'n': dst = &a->name;       opt = "name";    break;
        case 'p': dst = &purpose_s;     opt = "purpose"; break;
        case 'E':
            a->no_ee_namechecks = true;
            break;
        case 't':
            if (dance_tlsa_parse(&a->tlsa, optarg, err, sizeof(err)) != 0) {
                cli_usage_error(cmd, "--tlsa \"%.80s\": %s", optarg, err);
                return CLI_USAGE;
            }
            break;
        case 'h':
            match_usage(stdout);
            return CLI_OK;
        default:
            return CLI_USAGE;
        }
        if (dst != NULL && cli_set_once(cmd, opt, dst, optarg) != 0)
            return CLI_USAGE;
    }
    if (optind < argc) {
        cli_usage_error(cmd, "unexpected argument '%.80s' (the certificate goes after "
                        "--cert)", argv[optind]);
        return CLI_USAGE;
    }
    if (a->cert_path == NULL) {
        cli_usage_error(cmd, "--cert LEAF.pem is required");
        return CLI_USAGE;
    }
    if (a->tlsa.count == 0) {
        cli_usage_error(cmd, "at least one --tlsa \"U S M HEX\" record is required");
        return CLI_USAGE;
    }
    if (purpose_s != NULL) {
        if (strcmp(purpose_s, "client") == 0) {
            a->purpose = DANCE_PURPOSE_CLIENT;
        } else if (strcmp(purpose_s, "server") == 0) {
            a->purpose = DANCE_PURPOSE_SERVER;
        } else if (strcmp(purpose_s, "none") == 0) {
            a->purpose = DANCE_PURPOSE_NONE;
        } else {
            cli_usage_error(cmd, "--purpose must be client, server or none, not '%.80s'",
                            purpose_s);
            return CLI_USAGE;
        }
    }
    if (a->name != NULL) {
        if (dance_name_normalize(a->name, a->norm, sizeof(a->norm), err, sizeof(err)) != 0) {
            cli_usage_error(cmd, "--name '%.80s' is not a valid DNS name: %s", a->name, err);
            return CLI_USAGE;
        }
        a->name = a->norm;
    }
    return CLI_PARSED;
}

/* match_files - load the certificates and the CA file, and DANE-match: the
 * exit status, with the verdict (authenticated or not) in *res */
static int match_files(const char *cmd, const struct match_args *a, dance_match_result *res)
{
    char err[CLI_ERR_MAX];
    STACK_OF(X509) *leaf_file = NULL, *chain = NULL;
    X509 *leaf = NULL;
    dance_matcher *m = NULL;
    dance_match_input in;
    int r, rc = CLI_USAGE;

    /* Inputs: every failure here is "unreadable input", exit 2. */
    leaf_file = dance_certs_load(a->cert_path, err, sizeof(err));
    if (leaf_file == NULL) {
        cli_error(cmd, "%s", err);
        goto done;
    }
    leaf = sk_X509_shift(leaf_file);
    if (a->chain_path != NULL) {
        chain = dance_certs_load(a->chain_path, err, sizeof(err));
        if (chain == NULL) {
            cli_error(cmd, "%s", err);
            goto done;
        }
    } else {
        chain = sk_X509_new_null();
        if (chain == NULL) {
            cli_error(cmd, "out of memory");
            goto done;
        }
    }
    /* Certificates after the leaf in --cert (a "fullchain" file) join the
     * chain; ownership moves to the chain stack one by one. */
    while (sk_X509_num(leaf_file) > 0) {
        X509 *x = sk_X509_shift(leaf_file);
        if (!sk_X509_push(chain, x)) {
            X509_free(x);
            cli_error(cmd, "out of memory");
            goto done;
        }
    }
    m = dance_matcher_new(a->cafile, err, sizeof(err));
    if (m == NULL) {
        cli_error(cmd, "%s", err);
        goto done;
    }

    in = (dance_match_input){
        .leaf = leaf,
        .chain = chain,
        .name = a->name,
        .no_ee_namechecks = a->no_ee_namechecks,
        .purpose = a->purpose,
        .tlsa = &a->tlsa,
    };
    r = dance_match(m, &in, res);
    /* Fail closed: only 0 with authenticated set counts. An internal error
     * (-1, e.g. out of memory) is reported as not authenticated. */
    rc = r == 0 && res->authenticated ? CLI_OK : CLI_NEGATIVE;
done:
    dance_matcher_free(m);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(leaf_file, X509_free);
    X509_free(leaf);
    return rc;
}

/* match_print - the one line of the verdict; the exit status */
static int match_print(const char *cmd, int rc, const dance_match_result *res)
{
    if (rc == CLI_OK)
        printf("authenticated: %s\n", res->reason);
    else
        printf("not authenticated: %s\n", res->reason[0] != '\0' ? res->reason
                                                                 : "unknown reason");
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error(cmd, "cannot write to standard output");
        return CLI_USAGE;
    }
    return rc;
}

int cmd_match(int argc, char **argv)
{
    struct match_args a;
    dance_match_result res;
    int rc = match_parse(argc, argv, &a);

    if (rc == CLI_PARSED) {
        rc = match_files(argv[0], &a, &res);
        if (rc != CLI_USAGE)
            rc = match_print(argv[0], rc, &res);
    }
    dance_tlsa_rrset_clear(&a.tlsa);
    return rc;
}
