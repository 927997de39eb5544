/*
 * dance/tlsa.h - TLSA records as plain data.
 *
 * The one representation of a TLSA record shared by the resolver, the
 * cache, the DANE matcher, the CLI and the plugin. A record set owns its
 * records and their data; copies are deep. All functions accept NULL where
 * a "free" or "clear" makes sense.
 */
#ifndef DANCE_TLSA_H
#define DANCE_TLSA_H

#include <stddef.h>
#include <stdint.h>

#include "dance/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest TLSA rdata we accept (certificate data). 64 KiB is the DNS limit. */
#define DANCE_TLSA_DATA_MAX 65535

typedef struct dance_tlsa_rr {
    uint8_t usage;          /* 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE */
    uint8_t selector;       /* 0 full certificate, 1 SubjectPublicKeyInfo */
    uint8_t mtype;          /* 0 exact, 1 SHA-256, 2 SHA-512 */
    size_t len;
    unsigned char *data;    /* owned */
} dance_tlsa_rr;

typedef struct dance_tlsa_rrset {
    size_t count;
    dance_tlsa_rr *rr;      /* owned array of count records */
} dance_tlsa_rrset;

/* dance_tlsa_rrset_add - append a copy of (u, s, m, data, len).
 * Returns 0, or -1 on allocation failure (set unchanged). */
int dance_tlsa_rrset_add(dance_tlsa_rrset *set, uint8_t usage, uint8_t selector,
                         uint8_t mtype, const unsigned char *data, size_t len);

/* dance_tlsa_rrset_copy - deep copy src into dst (dst must be empty).
 * Returns 0, or -1 on allocation failure (dst left empty). */
int dance_tlsa_rrset_copy(dance_tlsa_rrset *dst, const dance_tlsa_rrset *src);

/* dance_tlsa_rrset_clear - free the records; the set becomes empty. */
void dance_tlsa_rrset_clear(dance_tlsa_rrset *set);

/* dance_tlsa_parse - parse presentation form "U S M HEX" (hex may contain
 * spaces, as zone files split it). Fields must fit 0..255 and the hex must be
 * non-empty and even. On error returns -1 and writes a reason to err.
 * On success appends the record to set and returns 0. */
int dance_tlsa_parse(dance_tlsa_rrset *set, const char *text,
                     char *err, size_t errlen);

/* dance_tlsa_format - "U S M HEX" into buf (uppercase hex). When
 * short_hex is non-zero the hex is shortened to its first 8 and last 8
 * digits ("U S M 3A1B...9F00") for log lines. Returns buf. */
char *dance_tlsa_format(const dance_tlsa_rr *rr, int short_hex,
                        char *buf, size_t buflen);

/* Names of the fields, for reasons and logs ("DANE-EE", "SPKI", "SHA-256");
 * unknown values give "unknown". */
const char *dance_tlsa_usage_name(uint8_t usage);
const char *dance_tlsa_selector_name(uint8_t selector);
const char *dance_tlsa_mtype_name(uint8_t mtype);

#ifdef __cplusplus
}
#endif
#endif
