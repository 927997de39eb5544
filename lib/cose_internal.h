/*
 * cose_internal.h - what lib/cose_*.c share with each other and with the
 * unit tests, beyond dance/cose.h.
 */
#ifndef DANCE_COSE_INTERNAL_H
#define DANCE_COSE_INTERNAL_H

#include <stddef.h>

#include "dance/cose.h"

/* Flags of cose_parse_flags. */
#define COSE_PARSE_ANY_SENDER 0x1u  /* a kid that is missing, unprotected or
                                       not a DNS name leaves the sender ""
                                       instead of refusing: only for checking
                                       third-party vectors offline (their kids
                                       are "11", in the unprotected header) */

/* cose_parse_flags - dance_cose_parse with flags. */
dance_status cose_parse_flags(const void *data, size_t len, size_t max_size,
                              unsigned flags, dance_jws **out, char *sender_out,
                              char *err, size_t errlen);

#endif
