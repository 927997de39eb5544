/*
 * dance/dane.h - DANE matching of a certificate against TLSA records.
 *
 * A thin, offline use of OpenSSL's own DANE verifier (RFC 6698/7671
 * semantics, digest agility, DANE-EE ignoring dates and names when asked).
 * A matcher holds a DANE-enabled SSL_CTX and the optional CA store; it is
 * immutable after creation and may be shared by threads.
 */
#ifndef DANCE_DANE_H
#define DANCE_DANE_H

#include <stdbool.h>
#include <openssl/x509.h>
#include "dance/tlsa.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dance_purpose {
    DANCE_PURPOSE_NONE,     /* no extended key usage check (conformance vectors) */
    DANCE_PURPOSE_CLIENT,   /* TLS client (devices connecting to the broker) */
    DANCE_PURPOSE_SERVER,
    DANCE_PURPOSE_COUNT
} dance_purpose;

typedef struct dance_matcher dance_matcher;

/* dance_matcher_new - cafile (PEM, may be NULL) supplies issuers and trust
 * anchors for usages 0/1 (PKIX) and issuers for 2 (so a bare leaf matches a
 * DANE-TA record of its CA). Read once here, never per check. Returns NULL
 * with a reason in err when the file cannot be read, holds no certificate,
 * or OpenSSL fails. */
dance_matcher *dance_matcher_new(const char *cafile, char *err, size_t errlen);
void dance_matcher_free(dance_matcher *m);

typedef struct dance_match_input {
    X509 *leaf;                     /* required */
    STACK_OF(X509) *chain;          /* untrusted intermediates, may be NULL */
    const char *name;               /* reference identity; NULL: no name check */
    bool no_ee_namechecks;          /* DANE-EE matches without a name check */
    dance_purpose purpose;
    const dance_tlsa_rrset *tlsa;   /* records from a secure answer */
} dance_match_input;

typedef struct dance_match_result {
    bool authenticated;             /* true only for a DANE match */
    int depth;                      /* chain depth of the match, -1 when none */
    dance_tlsa_rr matched;          /* u/s/m of the matched record; data NULL */
    int usable;                     /* records OpenSSL found usable */
    char reason[DANCE_REASON_MAX];  /* why not, or what matched */
    int x509_error;                 /* OpenSSL X509_V_* code of the chain check
                                       (0 passed), -1 when none ran; diagnostics */
    int matched_index;              /* in->tlsa->rr[matched_index] is the record
                                       that matched; -1 when none */
} dance_match_result;

/* dance_match - match in->leaf (and chain) against in->tlsa.
 * Always fills out. Returns 0 when authenticated, 1 when not, -1 on an
 * internal error (allocation, OpenSSL, no leaf); only 0 may be treated as
 * success. "No usable record" is never authenticated.
 * When a record matched but the check still failed (expired certificate under
 * DANE-TA, wrong name, purpose), out->depth and out->matched name that record
 * and out->reason says what failed; out->authenticated stays false.
 * in->name is normalised first (trailing dot, case); names are taken from the
 * certificate's dNSName subjectAltNames only and compared exactly (no CN
 * fallback, no wildcards: "*.example.com" never stands for a name).
 * Leaves OpenSSL's error queue as it found it. Thread-safe. */
int dance_match(const dance_matcher *m, const dance_match_input *in,
                dance_match_result *out);

#ifdef __cplusplus
}
#endif
#endif
