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

int cmd_match(int argc, char **argv)
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
    const char *cmd = argv[0];
    const char *cert_path = NULL, *chain_path = NULL, *cafile = NULL;
    const char *name = NULL, *purpose_s = NULL;
    bool no_ee_namechecks = false;
    dance_purpose purpose = DANCE_PURPOSE_CLIENT;
    dance_tlsa_rrset tlsa = { 0, NULL };
    char norm[DANCE_NAME_MAX + 1];
    char err[CLI_ERR_MAX];
    STACK_OF(X509) *leaf_file = NULL, *chain = NULL;
    X509 *leaf = NULL;
    dance_matcher *m = NULL;
    dance_match_input in;
    dance_match_result res;
    int c, r, rc = CLI_USAGE;

    while ((c = cli_getopt(cmd, argc, argv, opts)) != -1) {
        const char **dst = NULL;
        const char *opt = NULL;
        switch (c) {
        case 'c': dst = &cert_path;  opt = "cert";    break;
        case 'C': dst = &chain_path; opt = "chain";   break;
        case 'A': dst = &cafile;     opt = "cafile";  break;
        case 'n': dst = &name;       opt = "name";    break;
        case 'p': dst = &purpose_s;  opt = "purpose"; break;
        case 'E':
            no_ee_namechecks = true;
            break;
        case 't':
            if (dance_tlsa_parse(&tlsa, optarg, err, sizeof(err)) != 0) {
                cli_usage_error(cmd, "--tlsa \"%.80s\": %s", optarg, err);
                goto done;
            }
            break;
        case 'h':
            match_usage(stdout);
            rc = CLI_OK;
            goto done;
        default:
            goto done;
        }
        if (dst != NULL && cli_set_once(cmd, opt, dst, optarg) != 0)
            goto done;
    }
    if (optind < argc) {
        cli_usage_error(cmd, "unexpected argument '%.80s' (the certificate goes after "
                        "--cert)", argv[optind]);
        goto done;
    }
    if (cert_path == NULL) {
        cli_usage_error(cmd, "--cert LEAF.pem is required");
        goto done;
    }
    if (tlsa.count == 0) {
        cli_usage_error(cmd, "at least one --tlsa \"U S M HEX\" record is required");
        goto done;
    }
    if (purpose_s != NULL) {
        if (strcmp(purpose_s, "client") == 0) {
            purpose = DANCE_PURPOSE_CLIENT;
        } else if (strcmp(purpose_s, "server") == 0) {
            purpose = DANCE_PURPOSE_SERVER;
        } else if (strcmp(purpose_s, "none") == 0) {
            purpose = DANCE_PURPOSE_NONE;
        } else {
            cli_usage_error(cmd, "--purpose must be client, server or none, not '%.80s'",
                            purpose_s);
            goto done;
        }
    }
    if (name != NULL) {
        if (dance_name_normalize(name, norm, sizeof(norm), err, sizeof(err)) != 0) {
            cli_usage_error(cmd, "--name '%.80s' is not a valid DNS name: %s", name, err);
            goto done;
        }
        name = norm;
    }

    /* Inputs: every failure here is "unreadable input", exit 2. */
    leaf_file = dance_certs_load(cert_path, err, sizeof(err));
    if (leaf_file == NULL) {
        cli_error(cmd, "%s", err);
        goto done;
    }
    leaf = sk_X509_shift(leaf_file);
    if (chain_path != NULL) {
        chain = dance_certs_load(chain_path, err, sizeof(err));
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
    m = dance_matcher_new(cafile, err, sizeof(err));
    if (m == NULL) {
        cli_error(cmd, "%s", err);
        goto done;
    }

    in = (dance_match_input){
        .leaf = leaf,
        .chain = chain,
        .name = name,
        .no_ee_namechecks = no_ee_namechecks,
        .purpose = purpose,
        .tlsa = &tlsa,
    };
    r = dance_match(m, &in, &res);
    /* Fail closed: only 0 with authenticated set counts. An internal error
     * (-1, e.g. out of memory) is reported as not authenticated. */
    if (r == 0 && res.authenticated) {
        printf("authenticated: %s\n", res.reason);
        rc = CLI_OK;
    } else {
        printf("not authenticated: %s\n", res.reason[0] != '\0' ? res.reason
                                                                : "unknown reason");
        rc = CLI_NEGATIVE;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error(cmd, "cannot write to standard output");
        rc = CLI_USAGE;
    }

done:
    dance_matcher_free(m);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(leaf_file, X509_free);
    X509_free(leaf);
    dance_tlsa_rrset_clear(&tlsa);
    return rc;
}
