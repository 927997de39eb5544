/*
 * tlsa.c - TLSA records as plain data: copy, parse, format.
 *
 * Hand-written because neither OpenSSL nor getdns offers a standalone TLSA
 * presentation-format parser we could use without a DNS context.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dance/error.h"
#include "dance/tlsa.h"

/* dance_tlsa_rrset_add - append a deep copy of one record */
int dance_tlsa_rrset_add(dance_tlsa_rrset *set, uint8_t usage, uint8_t selector,
                         uint8_t mtype, const unsigned char *data, size_t len)
{
    unsigned char *copy = NULL;
    dance_tlsa_rr *grown;

    if (len > DANCE_TLSA_DATA_MAX)
        return -1;
    if (len > 0) {
        copy = malloc(len);
        if (copy == NULL)
            return -1;
        memcpy(copy, data, len);
    }
    grown = realloc(set->rr, (set->count + 1) * sizeof(*grown));
    if (grown == NULL) {
        free(copy);
        return -1;
    }
    set->rr = grown;
    set->rr[set->count] = (dance_tlsa_rr){ usage, selector, mtype, len, copy };
    set->count++;
    return 0;
}

/* dance_tlsa_rrset_copy - deep copy, all or nothing */
int dance_tlsa_rrset_copy(dance_tlsa_rrset *dst, const dance_tlsa_rrset *src)
{
    size_t i;

    dst->count = 0;
    dst->rr = NULL;
    for (i = 0; i < src->count; i++) {
        const dance_tlsa_rr *r = &src->rr[i];
        if (dance_tlsa_rrset_add(dst, r->usage, r->selector, r->mtype,
                                 r->data, r->len) != 0) {
            dance_tlsa_rrset_clear(dst);
            return -1;
        }
    }
    return 0;
}

/* dance_tlsa_rrset_clear - free records; NULL-safe */
void dance_tlsa_rrset_clear(dance_tlsa_rrset *set)
{
    size_t i;

    if (set == NULL)
        return;
    for (i = 0; i < set->count; i++)
        free(set->rr[i].data);
    free(set->rr);
    set->rr = NULL;
    set->count = 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* parse_field - one decimal 0..255 field followed by whitespace */
static int parse_field(const char **p, uint8_t *out)
{
    const char *s = *p;
    unsigned v = 0;
    int digits = 0;

    while (isspace((unsigned char)*s))
        s++;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (unsigned)(*s - '0');
        if (v > 255 || ++digits > 3)
            return -1;
        s++;
    }
    if (digits == 0 || !isspace((unsigned char)*s))
        return -1;
    *out = (uint8_t)v;
    *p = s;
    return 0;
}

/* dance_tlsa_parse - "U S M HEX" into one more record of set */
int dance_tlsa_parse(dance_tlsa_rrset *set, const char *text,
                     char *err, size_t errlen)
{
    uint8_t u, s, m;
    const char *p = text;
    unsigned char *buf;
    size_t n = 0, cap;
    int hi = -1, rc;

    if (text == NULL) {
        dance_set_err(err, errlen, "empty TLSA record");
        return -1;
    }
    if (parse_field(&p, &u) != 0 || parse_field(&p, &s) != 0
        || parse_field(&p, &m) != 0) {
        dance_set_err(err, errlen, "TLSA record \"%.40s\" must start with three numbers "
                      "0-255 (usage selector matching-type)", text);
        return -1;
    }
    cap = strlen(p) / 2 + 1;
    buf = malloc(cap);
    if (buf == NULL) {
        dance_set_err(err, errlen, "out of memory");
        return -1;
    }
    for (; *p != '\0'; p++) {
        int v;
        if (isspace((unsigned char)*p))
            continue;
        v = hexval((unsigned char)*p);
        if (v < 0) {
            dance_set_err(err, errlen, "TLSA record data has a non-hex character '%c'", *p);
            free(buf);
            return -1;
        }
        if (hi < 0) {
            hi = v;
        } else {
            buf[n++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0 || n == 0) {
        dance_set_err(err, errlen, n == 0 ? "TLSA record has no data"
                                     : "TLSA record data has an odd number of hex digits");
        free(buf);
        return -1;
    }
    rc = dance_tlsa_rrset_add(set, u, s, m, buf, n);
    free(buf);
    if (rc != 0)
        dance_set_err(err, errlen, n > DANCE_TLSA_DATA_MAX ? "TLSA record data too long"
                                                      : "out of memory");
    return rc;
}

/* dance_tlsa_format - presentation form, optionally shortened for logs */
char *dance_tlsa_format(const dance_tlsa_rr *rr, int short_hex,
                        char *buf, size_t buflen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t off, i;
    int n;

    if (buflen == 0)
        return buf;
    n = snprintf(buf, buflen, "%u %u %u ", rr->usage, rr->selector, rr->mtype);
    if (n < 0 || (size_t)n >= buflen)
        return buf;
    off = (size_t)n;
    /* Every write is checked against buflen: after the "..." there may be
     * no room left for the next two digits. */
    for (i = 0; i < rr->len; i++) {
        if (short_hex && rr->len > 8 && i == 4) {
            if (off + 3 >= buflen)
                break;
            memcpy(buf + off, "...", 3);
            off += 3;
            i = rr->len - 4;
        }
        if (off + 2 >= buflen)
            break;
        buf[off++] = hex[rr->data[i] >> 4];
        buf[off++] = hex[rr->data[i] & 15];
    }
    buf[off] = '\0';
    return buf;
}

const char *dance_tlsa_usage_name(uint8_t usage)
{
    switch (usage) {
    case 0: return "PKIX-TA";
    case 1: return "PKIX-EE";
    case 2: return "DANE-TA";
    case 3: return "DANE-EE";
    }
    return "unknown";
}

const char *dance_tlsa_selector_name(uint8_t selector)
{
    switch (selector) {
    case 0: return "Cert";
    case 1: return "SPKI";
    }
    return "unknown";
}

const char *dance_tlsa_mtype_name(uint8_t mtype)
{
    switch (mtype) {
    case 0: return "Full";
    case 1: return "SHA2-256";
    case 2: return "SHA2-512";
    }
    return "unknown";
}
