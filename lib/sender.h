/*
 * sender.h - what the two verifiers of DNS-named signers share: the message
 * verifier (jws_*.c) and the login token verifier (token.c). Refusals and
 * what a result notes about the signer, the refusal for a DNS answer that
 * is not secure, fetching the signer's TLSA answer, and the few JWS calls
 * the token verifier needs (it never sees the parsed message's struct).
 */
#ifndef DANCE_SENDER_H
#define DANCE_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dance/jws.h"
#include "dance/resolver.h"
#include "dance/status.h"

struct cJSON;

/* sender_refuse - the refusal writer of both verifiers: *status = st and
 * the reason through dance_vset_err. Returns st. */
dance_status sender_refuse(dance_status *status, char *reason, size_t reasonlen,
                           dance_status st, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* SENDER_REFUSE - sender_refuse into a result that has status and reason
 * members (dance_jws_result, dance_token_result). */
#define SENDER_REFUSE(res, st, ...) \
    sender_refuse(&(res)->status, (res)->reason, sizeof((res)->reason), (st), __VA_ARGS__)

/* sender_note - what a result says about the signer before any check:
 * its name (DANCE_NAME_MAX + 1 bytes) and algorithm. */
void sender_note(const dance_jws *jws, char *name, dance_jws_alg *alg, bool *has_alg);

/* sender_dns_refusal - refuse for a DNS answer about name that is not
 * secure: NO_RECORD, INSECURE or BOGUS as it says, LOOKUP_FAILED for
 * anything else; the reason is dns_reason, or "TLSA lookup for NAME: <how
 * resolver.h words the answer>" when there is none. Returns the status. */
dance_status sender_dns_refusal(dance_status *status, char *reason, size_t reasonlen,
                                const char *name, dance_status st, const char *dns_reason);

/* sender_fetch - the TLSA answer at name's owner name (service_label as in
 * dance_owner_name) from src, through its cache when it has one. 0 with out
 * filled (out must be cleared or zeroed); -1 without a resolver and -2
 * without an owner name, with a reason in err and out untouched. */
int sender_fetch(const dance_jws_source *src, const char *name, const char *service_label,
                 dance_tlsa_result *out, char *err, size_t errlen);

/* sender_now - the policy's wall clock, time(NULL) without one. */
int64_t sender_now(dance_wallclock_fn now, void *ctx);

/* jws_typ_kind - what a protected header's typ says (RFC 8725 3.11
 * explicit typing; media type names compared case-insensitively, with or
 * without "application/", RFC 7515 4.1.9): JWS_TYP_NONE for no typ (NULL),
 * JWS_TYP_JWT for "JWT" / "application/jwt" (a login token), JWS_TYP_JWT_
 * KIND for any other JWT type ("at+jwt", "application/secevent+jwt"),
 * JWS_TYP_OTHER for the rest ("JOSE", "", ...). */
typedef enum jws_typ_kind {
    JWS_TYP_NONE, JWS_TYP_JWT, JWS_TYP_JWT_KIND, JWS_TYP_OTHER
} jws_typ_kind;
jws_typ_kind jws_typ_kind_of(const char *typ);

/* jws_typ - the protected header's typ as sent ("" when not a string),
 * NULL when absent (jws_parse.c). */
const char *jws_typ(const dance_jws *jws);

/* jws_payload_object - the payload as a JSON object of at most max members
 * with unique names, through the strict reader of headers (jws_parse.c):
 * 0 with *out (cJSON_Delete it), 1 when it is not one, -1 on ENOMEM. */
int jws_payload_object(const dance_jws *jws, int max, struct cJSON **out);

/* jws_verify_token - dance_jws_verify for a login token (token.c): the same
 * checks, except that typ JWT, which a message may never carry, is what a
 * token must carry (token.c checks that itself). */
dance_status jws_verify_token(const dance_jws *jws, const dance_tlsa_rrset *tlsa,
                              const dance_jws_policy *pol, dance_jws_result *res);

/* jws_sign_typed - dance_jws_sign with a "typ" member in the protected
 * header (NULL: none), for tokens (token.c). */
int jws_sign_typed(const dance_jws_sign_opts *o, const char *typ,
                   const void *payload, size_t len,
                   char **out, size_t *outlen, char *err, size_t errlen);

#endif
