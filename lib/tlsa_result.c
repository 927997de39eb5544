/*
 * tlsa_result.c - DNS answers (see resolver.h): how their statuses are
 * worded and ranked, and the lifetime of dance_tlsa_result values.
 */
#include <string.h>

#include "dance/resolver.h"

const char *dance_dns_answer_name(dance_status st)
{
    switch (st) {
    case DANCE_LOOKUP_FAILED:   return "failure";
    case DANCE_NO_RECORD:       return "secure negative";
    case DANCE_OK:              return "secure";
    default:                    return dance_status_name(st);
    }
}

int dance_dns_answer_rank(dance_status st)
{
    switch (st) {
    case DANCE_LOOKUP_FAILED:   return 0;
    case DANCE_BOGUS:           return 1;
    case DANCE_INSECURE:        return 2;
    case DANCE_NO_RECORD:       return 3;
    case DANCE_OK:              return 4;
    default:                    return -1;
    }
}

int dance_dns_transport_parse(const char *s, dance_dns_transport *out)
{
    if (s == NULL)
        return -1;
    if (strcmp(s, "udp") == 0)
        *out = DANCE_TRANSPORT_UDP;
    else if (strcmp(s, "tcp") == 0)
        *out = DANCE_TRANSPORT_TCP;
    else if (strcmp(s, "tls") == 0)
        *out = DANCE_TRANSPORT_TLS;
    else
        return -1;
    return 0;
}

/* dance_tlsa_result_clear - free and reset; NULL-safe */
void dance_tlsa_result_clear(dance_tlsa_result *r)
{
    if (r == NULL)
        return;
    dance_tlsa_rrset_clear(&r->records);
    r->status = DANCE_LOOKUP_FAILED;
    r->ttl = 0;
    r->sig_ttl = 0;
    r->reason[0] = '\0';
}

/* dance_tlsa_result_copy - deep copy, all or nothing */
int dance_tlsa_result_copy(dance_tlsa_result *dst, const dance_tlsa_result *src)
{
    if (dance_tlsa_rrset_copy(&dst->records, &src->records) != 0) {
        dance_tlsa_result_clear(dst);
        return -1;
    }
    dst->status = src->status;
    dst->ttl = src->ttl;
    dst->sig_ttl = src->sig_ttl;
    memcpy(dst->reason, src->reason, sizeof(dst->reason));
    return 0;
}
