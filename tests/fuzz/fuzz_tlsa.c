/*
 * fuzz_tlsa.c - libFuzzer harness for TLSA data: presentation-form parsing
 * and formatting (lib/tlsa.c), deep copies, and the DANE matcher
 * (lib/dane.c) with fuzzed records against fixed certificates.
 *
 * Input: one flag byte, then the records.
 *   bit 0     0: text, one "U S M HEX" record per line (dance_tlsa_parse);
 *             1: binary, repeated (u, s, m, 16-bit length, data)
 *   bits 1-2  purpose (none, client, server)
 *   bit 3     check the leaf's name (its SAN) as reference identity
 *   bit 4     no_ee_namechecks
 *   bit 5     pass the CA as an untrusted chain certificate
 *   bits 6-7  leaf: EC, Ed25519, RSA device certificate, or the CA itself
 * Checked: text records survive format -> parse unchanged; the short log
 * form fits any buffer; a copy equals the original; dance_match keeps its
 * contract (fz_check_match), with the CA file as trust store and without.
 */
#include <stdlib.h>
#include <string.h>

#include "dance/dane.h"
#include "dance/tlsa.h"
#include "fuzz_common.h"

#define MAX_RECORDS 16

static dance_matcher *m_ca, *m_plain;

static void init(void)
{
    char err[256];

    if (m_plain != NULL)
        return;
    m_plain = dance_matcher_new(NULL, err, sizeof(err));
    m_ca = dance_matcher_new(fz_ca_path(), err, sizeof(err));
    FZ_ASSERT(m_plain != NULL && m_ca != NULL);
}

static void check_format(const dance_tlsa_rr *rr, unsigned tiny)
{
    /* presentation form: "255 255 255 " + 2 hex digits per octet */
    size_t full_len = 13 + 2 * rr->len;
    char *full = malloc(full_len), *small;
    dance_tlsa_rrset again = {0};
    char err[256];
    size_t smallen = tiny % 48 + 1;

    FZ_ASSERT(full != NULL);
    dance_tlsa_format(rr, 0, full, full_len);
    FZ_ASSERT(strlen(full) < full_len);
    if (rr->len > 0) {
        FZ_ASSERT(dance_tlsa_parse(&again, full, err, sizeof(err)) == 0);
        FZ_ASSERT(again.count == 1);
        FZ_ASSERT(again.rr[0].usage == rr->usage && again.rr[0].selector == rr->selector
                  && again.rr[0].mtype == rr->mtype && again.rr[0].len == rr->len
                  && memcmp(again.rr[0].data, rr->data, rr->len) == 0);
    }
    dance_tlsa_rrset_clear(&again);
    free(full);

    /* exactly sized heap buffers let ASan see any overrun */
    small = malloc(smallen);
    FZ_ASSERT(small != NULL);
    dance_tlsa_format(rr, 1, small, smallen);
    FZ_ASSERT(memchr(small, '\0', smallen) != NULL);
    dance_tlsa_format(rr, 0, small, smallen);
    FZ_ASSERT(memchr(small, '\0', smallen) != NULL);
    free(small);
}

static void parse_text(dance_tlsa_rrset *set, const uint8_t *data, size_t size)
{
    char *text = fz_strndup0(data, size), *line = text, *next;
    char err[DANCE_REASON_MAX];

    for (; line != NULL && set->count < MAX_RECORDS; line = next) {
        size_t before = set->count;
        int rc;

        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        err[0] = '\0';
        rc = dance_tlsa_parse(set, line, err, sizeof(err));
        if (rc == 0) {
            FZ_ASSERT(set->count == before + 1);
            FZ_ASSERT(set->rr[before].len > 0 && set->rr[before].data != NULL);
        } else {
            FZ_ASSERT(set->count == before && err[0] != '\0');
        }
    }
    free(text);
}

static void parse_binary(dance_tlsa_rrset *set, const uint8_t *p, size_t size)
{
    while (size >= 5 && set->count < MAX_RECORDS) {
        size_t len = (size_t)p[3] << 8 | p[4];
        if (len > size - 5)
            len = size - 5;
        FZ_ASSERT(dance_tlsa_rrset_add(set, p[0], p[1], p[2], p + 5, len) == 0);
        p += 5 + len;
        size -= 5 + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fz_cert_id leaves[4] = { FZ_DEV_EC, FZ_DEV_ED, FZ_DEV_RSA, FZ_CA };
    static const char *const names[4] = { FUZZ_DEV_EC, FUZZ_DEV_ED, FUZZ_DEV_RSA,
                                          "dance fuzz ca" };
    dance_tlsa_rrset set = {0}, copy = {0};
    dance_match_input in;
    dance_match_result res;
    STACK_OF(X509) *chain = NULL;
    uint8_t flags;
    size_t i;
    int rc;

    if (size < 1 || size > 16384)
        return 0;
    init();
    flags = data[0];
    if (flags & 1)
        parse_binary(&set, data + 1, size - 1);
    else
        parse_text(&set, data + 1, size - 1);

    for (i = 0; i < set.count; i++)
        check_format(&set.rr[i], (unsigned)(i + size));
    FZ_ASSERT(dance_tlsa_rrset_copy(&copy, &set) == 0);
    FZ_ASSERT(copy.count == set.count);
    for (i = 0; i < set.count; i++)
        FZ_ASSERT(copy.rr[i].len == set.rr[i].len
                  && (set.rr[i].len == 0
                      || memcmp(copy.rr[i].data, set.rr[i].data, set.rr[i].len) == 0));
    dance_tlsa_rrset_clear(&copy);

    if (flags & 0x20) {
        chain = sk_X509_new_null();
        FZ_ASSERT(chain != NULL && sk_X509_push(chain, fz_cert(FZ_CA)) > 0);
    }
    memset(&in, 0, sizeof(in));
    in.leaf = fz_cert(leaves[flags >> 6]);
    in.chain = chain;
    in.name = (flags & 0x08) ? names[flags >> 6] : NULL;
    in.no_ee_namechecks = (flags & 0x10) != 0;
    in.purpose = (dance_purpose)(((flags >> 1) & 3) % DANCE_PURPOSE_COUNT);
    in.tlsa = &set;
    rc = dance_match(m_ca, &in, &res);
    fz_check_match(&in, rc, &res);
    rc = dance_match(m_plain, &in, &res);
    fz_check_match(&in, rc, &res);
    /* a DANE-EE SPKI digest of the leaf always authenticates it */
    if (!(flags & 0x08)) {
        dance_tlsa_rrset own = {0};
        fz_tlsa_add(&own, 3, 1, 1, leaves[flags >> 6]);
        in.tlsa = &own;
        rc = dance_match(m_plain, &in, &res);
        fz_check_match(&in, rc, &res);
        FZ_ASSERT(rc == 0 || in.purpose != DANCE_PURPOSE_NONE);
        dance_tlsa_rrset_clear(&own);
    }
    sk_X509_free(chain);
    dance_tlsa_rrset_clear(&set);
    return 0;
}
