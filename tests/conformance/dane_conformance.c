/*
 * dane_conformance.c - runs OpenSSL's DANE test vectors through dance_match.
 *
 *   dane_conformance [-v] BASEDOMAIN CAFILE TLSAFILE EXPECTED_CASES
 *
 * TLSAFILE is OpenSSL's test/danetest.in format (documented at its top):
 * a header "<TLSA-count> <cert-count> <nonamechecks> <desired-verify-result>
 * <desired-match-depth>", the TLSA records, then the PEM certificates, leaf
 * first. As in OpenSSL's test/danetest.c, desired-verify-result is an
 * X509_V_* code (0 = ok, 20 = unable to get local issuer certificate,
 * 62 = hostname mismatch, 65 = DANE no match) and the match depth is
 * compared whether or not verification passed. Each case must give:
 *   authenticated   exactly when the expected code is 0,
 *   x509_error      equal to the expected code,
 *   depth           equal to the expected depth,
 * under purpose "none" and again under purpose "server" (the vectors'
 * leaves are serverAuth certificates; OpenSSL's driver checks ssl_server).
 *
 * OpenSSL's driver ranks SHA2-256 above SHA2-512 (mtype_set ordinals); the
 * matcher keeps OpenSSL's default (SHA2-512 first). The vectors' expected
 * results hold under either order (README of the vectors).
 *
 * Prints one line per failure and "N passed, M failed"; exits 0 only when
 * nothing failed and exactly EXPECTED_CASES cases were read.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "dance/dane.h"
#include "dance/tlsa.h"

static int verbose;

/* read_line - next line without trailing whitespace; NULL at EOF */
static char *read_line(BIO *f, char *buf, int buflen)
{
    int n;

    if (BIO_gets(f, buf, buflen) <= 0)
        return NULL;
    n = (int)strlen(buf);
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        buf[--n] = '\0';
    return buf;
}

static const char *purpose_name(dance_purpose p)
{
    return p == DANCE_PURPOSE_SERVER ? "server" : p == DANCE_PURPOSE_CLIENT ? "client"
                                                                             : "none";
}

/* check_case - one case under one purpose; returns 1 when as expected */
static int check_case(const dance_matcher *m, int testno, const char *base,
                      X509 *leaf, STACK_OF(X509) *chain, const dance_tlsa_rrset *set,
                      int noncheck, int want, int want_depth, dance_purpose purpose)
{
    dance_match_input in = {
        .leaf = leaf, .chain = chain, .name = base,
        .no_ee_namechecks = noncheck != 0, .purpose = purpose, .tlsa = set,
    };
    dance_match_result res;
    int rc = dance_match(m, &in, &res);
    int good = rc == (res.authenticated ? 0 : 1)
               && res.authenticated == (want == 0)
               && res.x509_error == want
               && res.depth == want_depth
               && (res.depth < 0 ? res.matched_index == -1
                                 : res.matched_index >= 0
                                   && (size_t)res.matched_index < set->count
                                   && set->rr[res.matched_index].usage == res.matched.usage
                                   && set->rr[res.matched_index].selector
                                      == res.matched.selector
                                   && set->rr[res.matched_index].mtype == res.matched.mtype);

    if (!good || verbose)
        printf("%s case %d (purpose %s): rc=%d authenticated=%d x509_error=%d "
               "depth=%d record#%d, expected x509_error=%d depth=%d: %s\n",
               good ? "ok  " : "FAIL", testno, purpose_name(purpose), rc,
               res.authenticated, res.x509_error, res.depth, res.matched_index,
               want, want_depth, res.reason);
    return good;
}

int main(int argc, char **argv)
{
    const char *base, *cafile, *tlsafile;
    char err[DANCE_REASON_MAX];
    char line[8192];
    dance_matcher *m;
    BIO *f;
    int expected, testno = 0, passed = 0, failed = 0, argi = 1;

    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        verbose = 1;
        argi++;
    }
    if (argc - argi != 4) {
        fprintf(stderr, "usage: %s [-v] BASEDOMAIN CAFILE TLSAFILE EXPECTED_CASES\n",
                argv[0]);
        return 2;
    }
    base = argv[argi];
    cafile = argv[argi + 1];
    tlsafile = argv[argi + 2];
    expected = atoi(argv[argi + 3]);

    m = dance_matcher_new(cafile, err, sizeof(err));
    if (m == NULL) {
        fprintf(stderr, "cannot create matcher: %s\n", err);
        return 2;
    }
    f = BIO_new_file(tlsafile, "r");
    if (f == NULL) {
        fprintf(stderr, "cannot read %s\n", tlsafile);
        dance_matcher_free(m);
        return 2;
    }

    while (read_line(f, line, sizeof(line)) != NULL) {
        dance_tlsa_rrset set = { 0, NULL };
        STACK_OF(X509) *chain = NULL;
        X509 *leaf = NULL;
        int ntlsa, ncert, noncheck, want, want_depth, off = 0, i, ok = 1;
        char extra;

        if (line[0] == '\0' || line[0] == '#')
            continue;
        ++testno;
        if (sscanf(line, "%d %d %d %d %d%n", &ntlsa, &ncert, &noncheck, &want,
                   &want_depth, &off) != 5
            || sscanf(line + off, " %c", &extra) == 1 || ncert < 1 || ntlsa < 0) {
            printf("FAIL case %d: malformed header \"%s\"\n", testno, line);
            failed++;
            break;              /* cannot resynchronise with the file */
        }
        for (i = 0; i < ntlsa && ok; i++) {
            if (read_line(f, line, sizeof(line)) == NULL
                || dance_tlsa_parse(&set, line, err, sizeof(err)) != 0) {
                printf("FAIL case %d: bad TLSA line: %s\n", testno, err);
                ok = 0;
            }
        }
        if (ok) {
            chain = sk_X509_new_null();
            if (chain == NULL)
                ok = 0;
        }
        for (i = 0; i < ncert && ok; i++) {
            X509 *x = PEM_read_bio_X509(f, NULL, NULL, NULL);

            if (x == NULL) {
                printf("FAIL case %d: certificate %d does not parse\n", testno, i + 1);
                ok = 0;
            } else if (i == 0) {
                leaf = x;
            } else if (!sk_X509_push(chain, x)) {
                X509_free(x);
                ok = 0;
            }
        }
        ERR_clear_error();
        if (ok && sk_X509_num(chain) == 0) {
            /* Leaf only: pass no chain at all, as the plugin does, so the
             * matcher's own empty untrusted stack is what gets tested. */
            sk_X509_free(chain);
            chain = NULL;
        }
        if (ok) {
            int a = check_case(m, testno, base, leaf, chain, &set, noncheck, want,
                               want_depth, DANCE_PURPOSE_NONE);
            int b = check_case(m, testno, base, leaf, chain, &set, noncheck, want,
                               want_depth, DANCE_PURPOSE_SERVER);
            if (a && b)
                passed++;
            else
                failed++;
        } else {
            failed++;
        }
        X509_free(leaf);
        sk_X509_pop_free(chain, X509_free);
        dance_tlsa_rrset_clear(&set);
        if (!ok)
            break;              /* the file position is unknown now */
    }
    BIO_free(f);
    dance_matcher_free(m);

    if (testno != expected) {
        printf("FAIL: read %d cases from %s, expected %d\n", testno, tlsafile, expected);
        failed++;
    }
    printf("%s: %d passed, %d failed\n", tlsafile, passed, failed);
    return failed == 0 ? 0 : 1;
}
