/*
 * status.c - the names of dance_status codes (dance/status.h).
 */
#include "dance/status.h"

/* A switch without default: the compiler names a code added without one. */
const char *dance_status_name(dance_status st)
{
    switch (st) {
    case DANCE_OK:                  return "verified";
    case DANCE_MALFORMED:           return "malformed";
    case DANCE_TOO_LARGE:           return "too_large";
    case DANCE_BAD_ALG:             return "bad_alg";
    case DANCE_UNSUPPORTED:         return "unsupported";
    case DANCE_NO_SENDER:           return "no_sender";
    case DANCE_BAD_SENDER:          return "bad_sender";
    case DANCE_NOT_ALLOWED:         return "outside_allowed_domains";
    case DANCE_STALE:               return "stale";
    case DANCE_TOPIC_MISMATCH:      return "topic_mismatch";
    case DANCE_LOOKUP_FAILED:       return "lookup_failure";
    case DANCE_NO_RECORD:           return "no_record";
    case DANCE_INSECURE:            return "insecure";
    case DANCE_BOGUS:               return "bogus";
    case DANCE_NO_USABLE_RECORD:    return "no_usable_record";
    case DANCE_CERT_MISMATCH:       return "cert_mismatch";
    case DANCE_KEY_MISMATCH:        return "key_mismatch";
    case DANCE_BAD_SIGNATURE:       return "bad_signature";
    case DANCE_REPLAY:              return "replay";
    case DANCE_RATE_LIMITED:        return "rate_limited";
    case DANCE_TYP:                 return "typ";
    case DANCE_INTERNAL:            return "internal";
    case DANCE_IDENTITY_MISMATCH:   return "identity_mismatch";
    case DANCE_WRONG_AUDIENCE:      return "wrong_audience";
    case DANCE_EXPIRED:             return "expired";
    case DANCE_NOT_YET_VALID:       return "not_yet_valid";
    case DANCE_LIFETIME:            return "lifetime_too_long";
    case DANCE_DECRYPT_FAILED:      return "decryption_failed";
    case DANCE_ENCRYPTED:           return "encrypted";
    case DANCE_STATUS_COUNT:        break;
    }
    return "unknown";
}
