/*
 * dance/status.h - why an identity or a message was accepted or refused:
 * one vocabulary for DNS answers (resolver.h), signed messages (jws.h) and
 * login tokens (token.h).
 *
 * Every refusal has its own code, so that hosts can count refusals by
 * reason; dance_status_name gives each a stable token (lowercase with
 * underscores) for logs, CLI output and counter names.
 *
 * Order: DANCE_OK (0), the refusals a signed message can get, then those
 * only login tokens get (from DANCE_MESSAGE_STATUS_END), then the one only
 * encrypted messages get (DANCE_DECRYPT_FAILED; a JWE's other refusals
 * share the message codes), then DANCE_ENCRYPTED, the plugin's refusal of
 * an encrypted message on a verified topic. The numbers are
 * stable (the plugin publishes them as "reason_code"): new codes go just
 * before DANCE_STATUS_COUNT. A zeroed status reads DANCE_OK: a result is
 * read only after a call filled it, and clear functions reset to a refusal.
 *
 * A DNS answer is one of DANCE_OK (secure records), DANCE_NO_RECORD,
 * DANCE_INSECURE, DANCE_BOGUS or DANCE_LOOKUP_FAILED ("could not ask", the
 * only one worth retrying); resolver.h words and ranks them for DNS output.
 *
 * Reasons: one printable line without a final period, naming the value at
 * fault; written only through dance_set_err (error.h), which escapes it.
 */
#ifndef DANCE_STATUS_H
#define DANCE_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Room for a reason in every result struct, terminating NUL included. */
#define DANCE_REASON_MAX 256

typedef enum dance_status {
    DANCE_OK = 0,               /* "verified": accepted (secure DNS answer) */
    DANCE_MALFORMED,            /* "malformed": structure, base64url, JSON, types */
    DANCE_TOO_LARGE,            /* "too_large": input over the configured size */
    DANCE_BAD_ALG,              /* "bad_alg": none, HS*, unknown or missing alg */
    DANCE_UNSUPPORTED,          /* "unsupported": unknown crit, b64:false, general
                                   JSON; for tokens a typ missing or not JWT */
    DANCE_NO_SENDER,            /* "no_sender": neither kid nor x5u */
    DANCE_BAD_SENDER,           /* "bad_sender": invalid name/URI, kid and x5u
                                   disagree */
    DANCE_NOT_ALLOWED,          /* "outside_allowed_domains" (no DNS query made) */
    DANCE_STALE,                /* "stale": iat missing (required) or outside the
                                   window */
    DANCE_TOPIC_MISMATCH,       /* "topic_mismatch": topic header differs or is
                                   missing */
    DANCE_LOOKUP_FAILED,        /* "lookup_failure": DNS could not be asked
                                   (timeout, SERVFAIL, network; try later) */
    DANCE_NO_RECORD,            /* "no_record": secure NXDOMAIN/NODATA (unknown,
                                   revoked) */
    DANCE_INSECURE,             /* "insecure": provably unsigned answer, not usable */
    DANCE_BOGUS,                /* "bogus": DNSSEC validation failed */
    DANCE_NO_USABLE_RECORD,     /* "no_usable_record": no key from the records
                                   (digest records, no x5c) */
    DANCE_CERT_MISMATCH,        /* "cert_mismatch": x5c does not DANE-match the
                                   records */
    DANCE_KEY_MISMATCH,         /* "key_mismatch": key type/curve/size does not fit
                                   alg */
    DANCE_BAD_SIGNATURE,        /* "bad_signature": wrong key or tampered */
    DANCE_REPLAY,               /* "replay": a copy of a verified message or a
                                   used token, its jti seen before, or jti missing
                                   when required */
    DANCE_RATE_LIMITED,         /* "rate_limited": host refused a cold lookup
                                   (publisher over its lookup budget; try later) */
    DANCE_TYP,                  /* "typ": typ names a JWT (a login token), not a
                                   message */
    DANCE_INTERNAL,             /* "internal": allocation or OpenSSL failure, or a
                                   verifier without what it needs (no DANE
                                   matcher for x5c, no audience) */
    DANCE_IDENTITY_MISMATCH,    /* "identity_mismatch": token without kid, no or
                                   invalid username, username differs from kid */
    DANCE_WRONG_AUDIENCE,       /* "wrong_audience": token for another verifier */
    DANCE_EXPIRED,              /* "expired": token's exp not in the future */
    DANCE_NOT_YET_VALID,        /* "not_yet_valid": token's iat or nbf in the
                                   future beyond the allowed skew */
    DANCE_LIFETIME,             /* "lifetime_too_long": token's exp - iat over the
                                   maximum, or exp not after iat */
    DANCE_DECRYPT_FAILED,       /* "decryption_failed": a JWE (jwe.h) that does
                                   not decrypt with the given key, whatever the
                                   cause once the key is used (wrong key,
                                   tampered): one code, no oracle */
    DANCE_ENCRYPTED,            /* "encrypted": a JWE where a signed message
                                   was expected (the broker cannot verify
                                   what it cannot read) */
    DANCE_STATUS_COUNT
} dance_status;

/* The verdicts a signed message can get are the codes below this one; the
 * codes from it on are login tokens' own, DANCE_DECRYPT_FAILED and
 * DANCE_ENCRYPTED (which the plugin also counts as a message refusal). */
#define DANCE_MESSAGE_STATUS_END DANCE_IDENTITY_MISMATCH

/* dance_status_name - the token quoted above for each code; "unknown" out
 * of range. Cannot fail. */
const char *dance_status_name(dance_status st);

#ifdef __cplusplus
}
#endif
#endif
