/*
 * tlsa_result.c - lifetime of dance_tlsa_result values (see resolver.h).
 */
#include <string.h>

#include "dance/resolver.h"

const char *dance_dns_status_name(dance_dns_status st)
{
    switch (st) {
    case DANCE_DNS_FAILURE:         return "failure";
    case DANCE_DNS_BOGUS:           return "bogus";
    case DANCE_DNS_INSECURE:        return "insecure";
    case DANCE_DNS_SECURE_NEGATIVE: return "secure negative";
    case DANCE_DNS_SECURE:          return "secure";
    case DANCE_DNS_STATUS_COUNT:    break;
    }
    return "unknown";
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
    r->status = DANCE_DNS_FAILURE;
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
