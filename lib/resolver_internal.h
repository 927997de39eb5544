/*
 * resolver_internal.h - the part of lib/resolver.c that unit tests reach
 * without a DNS server: classifying a getdns response dict (replies_tree)
 * into a dance_tlsa_result, at a given wall-clock time. Not public API.
 */
#ifndef DANCE_RESOLVER_INTERNAL_H
#define DANCE_RESOLVER_INTERNAL_H

#include <stdint.h>
#include <getdns/getdns.h>

#include "dance/resolver.h"

/* resolver_classify_response - what dance_resolver_lookup_tlsa makes of
 * resp (a getdns response dict: status, replies_tree) for owner, with RRSIG
 * expirations read against now (seconds since the epoch, serial arithmetic)
 * and servers named in reasons. out must be cleared or zeroed; it is
 * filled as by a lookup (status, ttl, sig_ttl, records, reason). */
void resolver_classify_response(const char *servers, uint32_t now, const char *owner,
                                getdns_dict *resp, dance_tlsa_result *out);

#endif
