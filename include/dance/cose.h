/*
 * dance/cose.h - COSE_Sign1 messages (RFC 9052) signed by DNS-named
 * senders: the CBOR counterpart of the JWS messages of jws.h, for devices
 * that speak CBOR.
 *
 * A parsed COSE_Sign1 is a dance_jws: the same header view, the same
 * policy, the same verification calls (dance_jws_check, dance_jws_verify,
 * dance_jws_verify_dns, dance_jws_verify_key), the same key and replay
 * caches, statuses and reasons. Only parsing and signing differ.
 *
 * Profile (doc/formats.md, "COSE_Sign1 messages"):
 *   - Tag 18 or untagged; a tagged item with another tag is refused.
 *   - Strict CBOR: definite lengths only, no duplicate map keys (keys are
 *     integers or strings), no tags inside, no bytes after the item, at
 *     most DANCE_COSE_DEPTH_MAX levels and DANCE_COSE_ITEMS_MAX items.
 *   - The protected header (a bstr holding a map) carries everything the
 *     verifier relies on: alg (1), kid (4: the sender's DNS name as UTF-8
 *     bytes), crit (2), x5chain (33), and the claims iat, jti, topic in a
 *     CWT Claims map (label 15, RFC 9597): iat = claim 6, jti = claim 7
 *     (cti, bytes; reported as lowercase hex), topic = claim "topic". The
 *     unprotected header is checked for form and otherwise ignored; alg,
 *     kid, crit, x5chain or claims there are refused.
 *   - alg: ES256 (-7), ES384 (-35), ES512 (-36), EdDSA (-8), PS256 (-37),
 *     RS256 (-257); keys as for JWS (dance_jws_key_fits).
 *   - The payload is a bstr (detached payloads are refused); external_aad
 *     is empty.
 *
 * The first byte tells the formats apart: every JWS starts with an ASCII
 * character, every CBOR item this profile accepts with 0x84 or a tag byte,
 * so dance_message_parse takes either.
 */
#ifndef DANCE_COSE_H
#define DANCE_COSE_H

#include <stdbool.h>
#include <stddef.h>

#include "dance/jws.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DANCE_COSE_TAG_SIGN1   18
#define DANCE_COSE_DEPTH_MAX   8      /* nesting levels in the whole item */
#define DANCE_COSE_ITEMS_MAX   256    /* CBOR data items in the whole item */
#define DANCE_COSE_CTI_MAX     128    /* octets of a cti (its hex fits a jti) */

/* COSE header labels and CWT claim keys of the profile. */
#define DANCE_COSE_HDR_ALG          1
#define DANCE_COSE_HDR_CRIT         2
#define DANCE_COSE_HDR_KID          4
#define DANCE_COSE_HDR_CWT_CLAIMS   15
#define DANCE_COSE_HDR_X5CHAIN      33
#define DANCE_COSE_CLAIM_IAT        6
#define DANCE_COSE_CLAIM_CTI        7
#define DANCE_COSE_CLAIM_TOPIC      "topic"

/* dance_cose_alg_id - the COSE algorithm number of alg (-7 for ES256, ...);
 * 0 for algorithms the profile does not take (RS384, RS512, PS384, PS512). */
int dance_cose_alg_id(dance_jws_alg alg);

/* dance_cose_alg_from_id - the algorithm for a COSE number. 0, or -1. */
int dance_cose_alg_from_id(long long id, dance_jws_alg *out);

/* dance_is_cose - whether a message is to be read as CBOR: its first byte
 * is not ASCII (no JWS starts so). */
bool dance_is_cose(const void *data, size_t len);

/* dance_cose_parse - parse len bytes of a COSE_Sign1 (a copy is kept),
 * with the same contract as dance_jws_parse: DANCE_OK and *out (free with
 * dance_jws_free; its header's serialization is DANCE_JWS_COSE_SIGN1), or
 * a refusal (MALFORMED, TOO_LARGE, BAD_ALG, UNSUPPORTED, NO_SENDER,
 * BAD_SENDER, INTERNAL) with a reason, and the claimed sender in
 * sender_out when it was known. */
dance_status dance_cose_parse(const void *data, size_t len, size_t max_size,
                              dance_jws **out, char *sender_out,
                              char *err, size_t errlen);

/* dance_message_parse - dance_cose_parse when dance_is_cose, otherwise
 * dance_jws_parse. */
dance_status dance_message_parse(const void *data, size_t len, size_t max_size,
                                 dance_jws **out, char *sender_out,
                                 char *err, size_t errlen);

/* dance_cose_sign - a tagged COSE_Sign1 of len bytes of payload, with the
 * options of dance_jws_sign: protected header {alg, kid, x5chain when
 * o->x5c, CWT claims iat / cti (the jti's bytes) / topic when asked}.
 * o->x5u and o->serialization do not apply (x5u is refused). *out (*outlen
 * bytes, binary) is freed with dance_cose_output_free. 0, or -1 with a
 * reason (also for RS384/512 and PS384/512, which have no place here). */
int dance_cose_sign(const dance_jws_sign_opts *o, const void *payload, size_t len,
                    unsigned char **out, size_t *outlen, char *err, size_t errlen);

/* dance_cose_output_free - NULL-safe. */
void dance_cose_output_free(unsigned char *out);

#ifdef __cplusplus
}
#endif
#endif
