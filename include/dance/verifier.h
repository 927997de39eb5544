/*
 * dance/verifier.h - one object that verifies signed messages from end to
 * end (JWS, jws.h, or COSE_Sign1, cose.h: told apart by the first byte),
 * configured by name = value options and shared by threads:
 * for language bindings (the Python module `dance`) and hosts that would
 * rather not assemble resolvers, caches and a policy themselves.
 *
 * Make one with dance_verifier_new, set options with dance_verifier_set,
 * then dance_verifier_start (which checks them and builds the parts); after
 * that only dance_verifier_verify and dance_verifier_free. Options (all
 * optional; values are text):
 *
 *   resolver         upstreams "IP[@PORT],..." (default: the system's)
 *   trust_anchor     DNSSEC trust anchor file (default: the system's root key)
 *   timeout          DNS timeout in milliseconds (default 2000)
 *   dns_transport    udp, tcp or tls
 *   tls_auth_name    the DNS-over-TLS server's name (needed for tls)
 *   allowed_domains  comma list: other senders are refused before any query
 *   service_label    records at _LABEL.<sender> instead of <sender>
 *   cafile           CA certificates for PKIX usages (0, 1) with x5c
 *   max_skew         allowed |now - iat| in seconds (default 300)
 *   require_iat      true or false (default false)
 *   require_topic    true or false: messages must carry the topic header
 *                    and be verified with a topic (default false)
 *   max_size         largest message in bytes (default 65536)
 *   cache_max_ttl    seconds a secure answer is kept at most (default 3600;
 *                    0: no cache, every message asks DNS). Only secure
 *                    answers are kept, within their TTL; negative and
 *                    failed lookups are asked again every time
 *   replay_window    seconds: remember every verified message that long
 *                    (by jti, else a digest of what was signed) and refuse
 *                    a second copy (DANCE_REPLAY); 0, the default: off.
 *                    Pair it with require_iat and max_skew <= window / 2
 *   key              PEM text (public key, certificate or private key):
 *                    verify offline with this key, no DNS; the DNS options
 *                    above (resolver ... service_label) are then refused
 *
 * Threads: dance_verifier_verify may run on any number of threads at once.
 * The shared parts (the TLSA cache, the key cache, the DANE matcher, the
 * allow-list) are thread-safe; a getdns context is not (resolver.h), so
 * each call takes a resolver from a pool (making one when none is idle)
 * and gives it back, and no two calls ever share one.
 */
#ifndef DANCE_VERIFIER_H
#define DANCE_VERIFIER_H

#include <stddef.h>

#include "dance/jws.h"
#include "dance/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dance_verifier dance_verifier;

/* dance_verifier_new - an unstarted verifier with default options; NULL
 * on ENOMEM. */
dance_verifier *dance_verifier_new(void);

/* dance_verifier_set - set option name to value (copied). 0, or -1 with a
 * reason: unknown option, invalid value, or the verifier already started. */
int dance_verifier_set(dance_verifier *v, const char *name, const char *value,
                       char *err, size_t errlen);

/* dance_verifier_start - check the options together and build the parts
 * (the first resolver too, so that a bad trust anchor or upstream shows
 * here, not at the first message). 0, or -1 with a reason; a verifier that
 * failed to start can only be freed. */
int dance_verifier_start(dance_verifier *v, char *err, size_t errlen);

/* dance_verifier_verify - verify len bytes of message, published on topic
 * (NULL: unknown), into res (zeroed or from dance_jws_result_new; cleared
 * here). Returns res->status (status.h): DANCE_OK with the payload, or
 * the refusal and its reason. Thread-safe. Blocks for DNS up to about the
 * timeout (per upstream tried) on a cache miss. */
dance_status dance_verifier_verify(dance_verifier *v, const void *msg, size_t len,
                                   const char *topic, dance_jws_result *res);

/* dance_verifier_free - NULL-safe; no call may be running on v. */
void dance_verifier_free(dance_verifier *v);

#ifdef __cplusplus
}
#endif
#endif
