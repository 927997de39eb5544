/*
 * plugin/decide.c - the DANE verdict for one certificate (see decide.h).
 *
 * All X.509 and DANE work is libdance's (dance_match over OpenSSL's DANE
 * code, dance_cert_dnsnames); this file only maps library statuses to
 * verdicts (mdp_verdict_of, the one mapping) and applies the plugin's
 * rule for identities named by the MQTT username.
 */
#include "decide.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "dance/error.h"
#include "dance/name.h"

const char *mdp_verdict_name(mdp_verdict_code code)
{
    if ((int)code >= 0 && (int)code < DANCE_STATUS_COUNT)
        return dance_status_name((dance_status)code);
    switch (code) {
    case MDP_V_ACCEPTED: return "accepted";
    case MDP_V_NO_CERTIFICATE: return "no_certificate";
    case MDP_V_IDENTITY: return "identity";
    case MDP_V_PENDING: return "pending";
    case MDP_V_NO_MATCH: return "no_match";
    case MDP_V_TOKEN_INVALID: return "token_invalid";
    case MDP_V_TOKEN_AUDIENCE: return "token_audience";
    case MDP_V_TOKEN_EXPIRED: return "token_expired";
    case MDP_V_TOKEN_REPLAY: return "token_replay";
    case MDP_V_CLIENT_ID: return "client_id";
    case MDP_V_CERT_EXPIRED: return "certificate_expired";
    default: break;             /* library codes, above */
    }
    return "unknown";
}

bool mdp_verdict_is_code(int code)
{
    if (code >= DANCE_STATUS_COUNT)
        return code < MDP_V_COUNT;
    /* a library code is one when no group takes it in */
    return code >= 0 && (int)mdp_verdict_of((dance_status)code) == code;
}

/* A switch without default: the compiler names a status added without a
 * verdict. */
mdp_verdict_code mdp_verdict_of(dance_status st)
{
    switch (st) {
    case DANCE_OK: return MDP_V_ACCEPTED;
    case DANCE_MALFORMED:
    case DANCE_TOO_LARGE:
    case DANCE_BAD_ALG:
    case DANCE_UNSUPPORTED:
    case DANCE_TOPIC_MISMATCH:
    case DANCE_TYP: return MDP_V_TOKEN_INVALID;
    case DANCE_NO_SENDER:
    case DANCE_BAD_SENDER:
    case DANCE_IDENTITY_MISMATCH: return MDP_V_IDENTITY;
    case DANCE_NOT_ALLOWED: return MDP_V_OUTSIDE;
    case DANCE_WRONG_AUDIENCE: return MDP_V_TOKEN_AUDIENCE;
    case DANCE_STALE:
    case DANCE_EXPIRED:
    case DANCE_NOT_YET_VALID:
    case DANCE_LIFETIME: return MDP_V_TOKEN_EXPIRED;
    case DANCE_REPLAY: return MDP_V_TOKEN_REPLAY;
    case DANCE_LOOKUP_FAILED:
    case DANCE_RATE_LIMITED: return MDP_V_LOOKUP_FAILURE;
    case DANCE_NO_RECORD: return MDP_V_NO_RECORD;
    case DANCE_INSECURE: return MDP_V_INSECURE;
    case DANCE_BOGUS: return MDP_V_BOGUS;
    case DANCE_NO_USABLE_RECORD:
    case DANCE_CERT_MISMATCH:
    case DANCE_KEY_MISMATCH:
    case DANCE_BAD_SIGNATURE: return MDP_V_NO_MATCH;
    case DANCE_DECRYPT_FAILED:  /* the plugin never decrypts */
    case DANCE_ENCRYPTED:       /* a message refusal, never a login's */
    case DANCE_INTERNAL:
    case DANCE_STATUS_COUNT: break;
    }
    return MDP_V_INTERNAL;
}

/* record_text - "u s m SHORTHEX" of the record that matched. */
static void record_text(const dance_match_input *in, const dance_match_result *mr,
                        char *buf, size_t buflen)
{
    if (mr->matched_index >= 0 && (size_t)mr->matched_index < in->tlsa->count)
        dance_tlsa_format(&in->tlsa->rr[mr->matched_index], 1, buf, buflen);
    else
        snprintf(buf, buflen, "%u %u %u", mr->matched.usage,
                 mr->matched.selector, mr->matched.mtype);
}

/* cert_has_name - identity among the leaf's dNSName SANs. -1 on ENOMEM. */
static int cert_has_name(X509 *leaf, const char *identity)
{
    char **names = NULL;
    int n = dance_cert_dnsnames(leaf, &names);
    int found = 0;

    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], identity) == 0)
            found = 1;
    dance_names_free(names);
    return found;
}

void mdp_decide(const dance_matcher *m, X509 *leaf, const char *identity,
                  mdp_identity_source idsrc, const dance_tlsa_result *answer,
                  mdp_verdict *out)
{
    dance_match_input in;
    dance_match_result mr;
    int rc;

    memset(out, 0, sizeof(*out));
    if (answer->status != DANCE_OK) {
        out->code = mdp_verdict_of(answer->status);
        dance_set_err(out->reason, sizeof(out->reason), "%s",
                      answer->reason[0] != '\0' ? answer->reason
                                          : dance_dns_answer_name(answer->status));
        return;
    }

    memset(&in, 0, sizeof(in));
    in.leaf = leaf;
    in.chain = NULL;            /* Mosquitto hands plugins the leaf only */
    in.name = identity;
    /* With a username-named identity the draft lets DANE-EE match without
     * the name in the certificate (the name is signalled separately); the
     * other usages still check it, and so do we below. */
    in.no_ee_namechecks = idsrc == MDP_IDSRC_USERNAME;
    in.purpose = DANCE_PURPOSE_CLIENT;
    in.tlsa = &answer->records;

    memset(&mr, 0, sizeof(mr));
    rc = dance_match(m, &in, &mr);
    if (rc < 0) {
        out->code = MDP_V_INTERNAL;
        dance_set_err(out->reason, sizeof(out->reason), "DANE check failed: %s",
                      mr.reason);
        return;
    }
    if (rc != 0 || !mr.authenticated) {
        out->code = MDP_V_NO_MATCH;
        dance_set_err(out->reason, sizeof(out->reason), "%s", mr.reason);
        if (mr.depth >= 0)
            record_text(&in, &mr, out->record, sizeof(out->record));
        return;
    }
    record_text(&in, &mr, out->record, sizeof(out->record));

    if (idsrc == MDP_IDSRC_USERNAME && mr.matched.usage != 3) {
        int has = cert_has_name(leaf, identity);
        if (has < 0) {
            out->code = MDP_V_INTERNAL;
            dance_set_err(out->reason, sizeof(out->reason), "out of memory");
            return;
        }
        if (has == 0) {
            out->code = MDP_V_NO_MATCH;
            dance_set_err(out->reason, sizeof(out->reason), "record %s matched but "
                          "%s is not a dNSName of the certificate (required for "
                          "usages other than DANE-EE)", out->record, identity);
            return;
        }
    }
    out->code = MDP_V_ACCEPTED;
    dance_set_err(out->reason, sizeof(out->reason), "%s", mr.reason);
}

bool mdp_client_id_bound(const char *client_id, const char *identity)
{
    size_t n = strlen(identity);

    if (client_id == NULL || n == 0 || strncasecmp(client_id, identity, n) != 0)
        return false;
    return client_id[n] == '\0' || (client_id[n] == '/' && client_id[n + 1] != '\0');
}

bool mdp_client_id_claims_identity(const char *client_id, const dance_allowlist *allow)
{
    char name[DANCE_NAME_MAX + 1], norm[DANCE_NAME_MAX + 1], why[DANCE_REASON_MAX];
    size_t n;

    if (client_id == NULL)
        return false;
    n = strcspn(client_id, "/");
    if (n == 0 || n > DANCE_NAME_MAX)
        return false;
    memcpy(name, client_id, n);
    name[n] = '\0';
    if (dance_name_normalize(name, norm, sizeof(norm), why, sizeof(why)) != 0)
        return false;
    return dance_allowlist_match(allow, norm);
}
