/*
 * plugin/decide.h - the DANE verdict for one certificate, shared by the
 * CONNECT path (broker thread) and revalidation (worker threads).
 *
 * Pure: no Mosquitto headers, no DNS. Input is the leaf certificate, the
 * identity, how the identity was found, and the cached DNS answer; output
 * is a verdict code (which doubles as the metrics reason), a reason a user
 * can act on and the matched record in log form ("3 1 1 ABCD1234...").
 */
#ifndef MDP_DECIDE_H
#define MDP_DECIDE_H

#include <stdbool.h>
#include <openssl/x509.h>
#include "dance/dane.h"
#include "dance/resolver.h"
#include "dance/status.h"
#include "options.h"

/* Outcomes of an authentication decision; their names are the metric and
 * log names. A refusal the library names (status.h) keeps its code and its
 * name; the plugin's own outcomes come after DANCE_STATUS_COUNT, among them
 * the groups the metrics count several library refusals under (no_match,
 * token_*: see mdp_verdict_of). */
typedef enum mdp_verdict_code {
    MDP_V_OUTSIDE = DANCE_NOT_ALLOWED,        /* identity outside allowed_domains */
    MDP_V_LOOKUP_FAILURE = DANCE_LOOKUP_FAILED, /* DNS timeout, SERVFAIL, network */
    MDP_V_NO_RECORD = DANCE_NO_RECORD,        /* secure NXDOMAIN/NODATA */
    MDP_V_INSECURE = DANCE_INSECURE,          /* zone not signed */
    MDP_V_BOGUS = DANCE_BOGUS,                /* DNSSEC validation failed */
    MDP_V_INTERNAL = DANCE_INTERNAL,          /* allocation or OpenSSL failure */
    MDP_V_ACCEPTED = DANCE_STATUS_COUNT,      /* "accepted" */
    MDP_V_NO_CERTIFICATE,     /* "no_certificate": client sent no certificate */
    MDP_V_IDENTITY,           /* "identity": no single usable identity (SANs,
                                   username, the token's kid) */
    MDP_V_PENDING,            /* "pending": cold lookup not done within the budget */
    MDP_V_NO_MATCH,           /* "no_match": records there, certificate (or the
                                   token's key) does not match */
    MDP_V_TOKEN_INVALID,      /* "token_invalid": malformed, alg none/HS*,
                                   unsupported */
    MDP_V_TOKEN_AUDIENCE,     /* "token_audience": token for another broker */
    MDP_V_TOKEN_EXPIRED,      /* "token_expired": expired, not yet valid, or too
                                   long-lived */
    MDP_V_TOKEN_REPLAY,       /* "token_replay": token's jti used before */
    MDP_V_CLIENT_ID,          /* "client_id": client id not bound to the identity */
    MDP_V_CERT_EXPIRED,       /* "certificate_expired": the client certificate is
                                   outside its validity period now (a resumed
                                   TLS session brings it unchecked) */
    MDP_V_COUNT
} mdp_verdict_code;

/* mdp_verdict_name - the name above, dance_status_name for the library's
 * codes; "unknown" out of range. */
const char *mdp_verdict_name(mdp_verdict_code code);

/* mdp_verdict_is_code - whether code is one a decision can end in (the
 * library codes above and the plugin's own), for walking the metrics. */
bool mdp_verdict_is_code(int code);

#define MDP_RECORD_TEXT_MAX 64

typedef struct mdp_verdict {
    mdp_verdict_code code;
    char reason[2 * DANCE_REASON_MAX];
    char record[MDP_RECORD_TEXT_MAX];     /* "" when none matched */
} mdp_verdict;

/* mdp_verdict_of - the verdict for a library outcome: a DNS answer that
 * is not secure, or a login token's status (token.h). The DNS and key
 * refusals share the certificate path's names (no_record, no_match, ...),
 * the token's own get token_*; DANCE_OK is accepted. Cannot fail. */
mdp_verdict_code mdp_verdict_of(dance_status st);

/* mdp_decide - the verdict for leaf as identity given the DNS answer.
 * Secure answers go to dance_match (purpose client, names checked except
 * for DANE-EE when idsrc is username); every other status is a refusal
 * named after it. With idsrc username a match by a usage other than
 * DANE-EE additionally needs identity among the certificate's dNSNames.
 * Always fills out; out->code is MDP_V_ACCEPTED only for a DANE match. */
void mdp_decide(const dance_matcher *m, X509 *leaf, const char *identity,
                  mdp_identity_source idsrc, const dance_tlsa_result *answer,
                  mdp_verdict *out);

/* Client ids bound to identities (plugin_opt_client_id_binding): a client
 * id names the identity, alone or followed by "/" and a suffix of the
 * device's choosing ("dev1._device.acme.example/2"). "/" never occurs in a
 * DNS name, so no identity's ids overlap another's, and Mosquitto's
 * takeover by client id can only replace a session of the same device. */

/* mdp_client_id_bound - client_id is identity or identity "/" suffix
 * (suffix not empty; the identity part compared case-insensitively). */
bool mdp_client_id_bound(const char *client_id, const char *identity);

/* mdp_client_id_claims_identity - the part of client_id before any "/"
 * is a DNS name under the allow-list: an id that only that device may use,
 * so a client admitted otherwise (fallback defer) may not. */
bool mdp_client_id_claims_identity(const char *client_id, const dance_allowlist *allow);

#endif
