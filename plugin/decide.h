/*
 * plugin/decide.h - the DANE verdict for one certificate, shared by the
 * CONNECT path (broker thread) and revalidation (worker threads).
 *
 * Pure: no Mosquitto headers, no DNS. Input is the leaf certificate, the
 * identity, how the identity was found, and the cached DNS answer; output
 * is a verdict code (which doubles as the metrics reason), a reason a user
 * can act on and the matched record in log form ("3 1 1 ABCD1234...").
 */
#ifndef DANCE_PLUGIN_DECIDE_H
#define DANCE_PLUGIN_DECIDE_H

#include <stdbool.h>
#include <openssl/x509.h>
#include "dance/dane.h"
#include "dance/resolver.h"
#include "dance/token.h"
#include "options.h"

/* Outcomes of an authentication decision. The names are the metric and
 * log names; keep dance_verdict_name in step. */
typedef enum dance_verdict_code {
    DANCE_V_ACCEPTED,
    DANCE_V_NO_CERTIFICATE,     /* client sent no certificate */
    DANCE_V_IDENTITY,           /* no single usable identity (SANs, username) */
    DANCE_V_OUTSIDE,            /* identity outside allowed_domains */
    DANCE_V_PENDING,            /* cold lookup not done within the budget */
    DANCE_V_LOOKUP_FAILURE,     /* DNS timeout, SERVFAIL, network */
    DANCE_V_BOGUS,              /* DNSSEC validation failed */
    DANCE_V_INSECURE,           /* zone not signed */
    DANCE_V_NO_RECORD,          /* secure NXDOMAIN/NODATA */
    DANCE_V_NO_MATCH,           /* records there, certificate (or the token's
                                   key) does not match */
    DANCE_V_TOKEN_INVALID,      /* token: malformed, alg none/HS*, unsupported */
    DANCE_V_TOKEN_AUDIENCE,     /* token for another broker */
    DANCE_V_TOKEN_EXPIRED,      /* token expired, not yet valid, or too long-lived */
    DANCE_V_TOKEN_REPLAY,       /* token's jti used before */
    DANCE_V_CLIENT_ID,          /* client id not bound to the identity */
    DANCE_V_INTERNAL,           /* allocation or OpenSSL failure */
    DANCE_V_COUNT
} dance_verdict_code;

/* "accepted", "no_certificate", "identity", "outside_allowed_domains",
 * "pending", "lookup_failure", "bogus", "insecure", "no_record",
 * "no_match", "token_invalid", "token_audience", "token_expired",
 * "token_replay", "client_id", "internal". */
const char *dance_verdict_name(dance_verdict_code code);

#define DANCE_RECORD_TEXT_MAX 64

typedef struct dance_verdict {
    dance_verdict_code code;
    char reason[2 * DANCE_REASON_MAX];
    char record[DANCE_RECORD_TEXT_MAX];     /* "" when none matched */
} dance_verdict;

/* dance_verdict_from_dns - map a non-SECURE DNS status to its refusal.
 * Cannot fail. */
dance_verdict_code dance_verdict_from_dns(dance_dns_status st);

/* dance_verdict_from_token - the verdict for a token outcome (token.h):
 * the DNS and key refusals share the certificate path's names (no_record,
 * no_match, ...), the token's own get token_*. Cannot fail. */
dance_verdict_code dance_verdict_from_token(dance_token_status st);

/* dance_decide - the verdict for leaf as identity given the DNS answer.
 * SECURE answers go to dance_match (purpose client, names checked except
 * for DANE-EE when idsrc is username); every other status is a refusal
 * named after it. With idsrc username a match by a usage other than
 * DANE-EE additionally needs identity among the certificate's dNSNames.
 * Always fills out; out->code is DANCE_V_ACCEPTED only for a DANE match. */
void dance_decide(const dance_matcher *m, X509 *leaf, const char *identity,
                  dance_identity_source idsrc, const dance_tlsa_result *answer,
                  dance_verdict *out);

/* Client ids bound to identities (plugin_opt_client_id_binding): a client
 * id names the identity, alone or followed by "/" and a suffix of the
 * device's choosing ("dev1._device.acme.example/2"). "/" never occurs in a
 * DNS name, so no identity's ids overlap another's, and Mosquitto's
 * takeover by client id can only replace a session of the same device. */

/* dance_client_id_bound - client_id is identity or identity "/" suffix
 * (suffix not empty; the identity part compared case-insensitively). */
bool dance_client_id_bound(const char *client_id, const char *identity);

/* dance_client_id_claims_identity - the part of client_id before any "/"
 * is a DNS name under the allow-list: an id that only that device may use,
 * so a client admitted otherwise (fallback defer) may not. */
bool dance_client_id_claims_identity(const char *client_id, const dance_allowlist *allow);

#endif
