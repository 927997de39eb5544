/*
 * dance/resolver.h - DNSSEC-validated TLSA lookups (getdns, stub mode).
 *
 * A resolver wraps one getdns context and is NOT thread-safe: give each
 * thread its own (they may share one dance_resolver_config). Its lookups
 * are synchronous and bounded by the configured timeout. An asynchronous
 * resolver (dance_resolver_async below) runs many lookups at once on one
 * context and its own thread, with the same outcomes.
 *
 * Only DNSSEC-secure answers carry records. "Nothing there" (secure
 * negative), "unsigned" (insecure), "forged" (bogus) and "could not ask"
 * (failure) are distinct outcomes and are never merged.
 */
#ifndef DANCE_RESOLVER_H
#define DANCE_RESOLVER_H

#include <stddef.h>
#include <stdint.h>
#include "dance/status.h"
#include "dance/tlsa.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The status of an answer is a dance_status (status.h): DANCE_OK (secure
 * records), DANCE_NO_RECORD (secure NXDOMAIN or NODATA), DANCE_INSECURE
 * (provably unsigned: not usable for DANE), DANCE_BOGUS (DNSSEC validation
 * failed) or DANCE_LOOKUP_FAILED (timeout, SERVFAIL, network error). */

/* dance_dns_answer_name - how DNS output (`dance lookup`, resolver log
 * lines, reasons) words an answer's status: "secure", "secure negative",
 * "insecure", "bogus", "failure"; dance_status_name for any other code. */
const char *dance_dns_answer_name(dance_status st);

/* dance_dns_answer_rank - how much an answer with this status proves, from
 * "learnt nothing" to "proven" (compare ranks with < and >=):
 * LOOKUP_FAILED 0, BOGUS 1, INSECURE 2, NO_RECORD 3, OK 4; -1 for codes a
 * DNS answer never has. */
int dance_dns_answer_rank(dance_status st);

typedef enum dance_dns_transport {
    DANCE_TRANSPORT_UDP,        /* UDP with TCP fallback on truncation */
    DANCE_TRANSPORT_TCP,
    DANCE_TRANSPORT_TLS,        /* DNS over TLS, authenticated by tls_auth_name */
    DANCE_TRANSPORT_COUNT
} dance_dns_transport;

/* dance_dns_transport_parse - "udp", "tcp", "tls". Returns 0 or -1. */
int dance_dns_transport_parse(const char *s, dance_dns_transport *out);

typedef struct dance_resolver_config {
    const char *upstreams;       /* "IP[@PORT],IP[@PORT]" (IPv4 or IPv6, at most
                                    16, port 53 or 853 for TLS by default);
                                    NULL/"": system resolver (/etc/resolv.conf) */
    const char *trust_anchor_file; /* DS/DNSKEY in zone-file syntax (other
                                    records ignored); NULL: system root key
                                    /usr/share/dns/root.key */
    unsigned timeout_ms;         /* whole lookup, shared among the upstreams
                                    (a timed-out try moves on to the next);
                                    0: default 2000; at most 600000 */
    dance_dns_transport transport;
    const char *tls_auth_name;   /* required for DANCE_TRANSPORT_TLS; the
                                    certificate is checked against OpenSSL's
                                    default CA store (SSL_CERT_FILE honoured) */
} dance_resolver_config;

typedef struct dance_tlsa_result {
    dance_status status;
    uint32_t ttl;                /* OK: min TTL of the RRset;
                                    NO_RECORD: negative TTL from the SOA;
                                    otherwise 0 */
    uint32_t sig_ttl;            /* OK: seconds from the lookup until the
                                    first RRSIG of the answer's RRsets (TLSA
                                    and any CNAME to it) expires: the proof's
                                    life. A cache's min_ttl never raises ttl
                                    past it. 0: not known (or expired), and
                                    then min_ttl does not raise ttl at all */
    dance_tlsa_rrset records;    /* only for OK */
    char reason[DANCE_REASON_MAX]; /* e.g. "TLSA lookup for X was bogus (DNSSEC)";
                                    empty for OK */
} dance_tlsa_result;

/* dance_tlsa_result_clear - free records, reset to LOOKUP_FAILED with empty reason. */
void dance_tlsa_result_clear(dance_tlsa_result *r);

/* dance_tlsa_result_copy - deep copy; dst must be cleared or zeroed.
 * Returns 0 or -1 on allocation failure (dst left cleared). */
int dance_tlsa_result_copy(dance_tlsa_result *dst, const dance_tlsa_result *src);

/* dance_resolver_config_check - validate a config without building a
 * context (upstream syntax, trust anchor readable and parseable, transport
 * needs). Returns 0, or -1 with a reason naming the bad value. */
int dance_resolver_config_check(const dance_resolver_config *cfg,
                                char *err, size_t errlen);

typedef struct dance_resolver dance_resolver;

/* dance_resolver_new - returns NULL with a reason in err. The config
 * strings are copied. */
dance_resolver *dance_resolver_new(const dance_resolver_config *cfg,
                                   char *err, size_t errlen);
void dance_resolver_free(dance_resolver *r);

/* dance_resolver_lookup_tlsa - query TLSA at owner (a normalised name)
 * and validate. Always fills out (out must be cleared or zeroed); never
 * blocks longer than about the configured timeout. A secure answer's ttl
 * is the smallest TTL of the RRset, capped by its signature's original TTL
 * and expiry; its sig_ttl is what is left of the earliest signature. */
void dance_resolver_lookup_tlsa(dance_resolver *r, const char *owner,
                                dance_tlsa_result *out);

/*
 * Asynchronous lookups: many in flight on one getdns context.
 *
 * dance_resolver_async_start builds a resolver (as dance_resolver_new) and
 * starts one thread that owns its context and runs its event loop. Any
 * thread may submit lookups; each answer goes to its callback on that
 * thread. At most max_inflight lookups run at once; more wait in a FIFO
 * queue. Each lookup asks, retries on the next upstream, times out and is
 * classified exactly as dance_resolver_lookup_tlsa does (same statuses,
 * TTLs and reasons). The thread blocks every signal.
 */
typedef struct dance_resolver_async dance_resolver_async;

/* Receives one answer on the resolver's thread. answer is valid during
 * the call; the callee may take its records (move them out and leave
 * answer->records empty). cancelled: the resolver is stopping and the
 * lookup was not made or not finished (answer then says LOOKUP_FAILED,
 * "... the query was cancelled"). Must not block for long (it holds up
 * every other lookup) and must not call dance_resolver_async_stop. */
typedef void (*dance_resolver_answer_fn)(void *arg, const char *owner,
                                         dance_tlsa_result *answer, int cancelled);

typedef struct dance_resolver_async_stats {
    size_t queued;              /* submitted, not started */
    size_t inflight;            /* started, not answered */
} dance_resolver_async_stats;

/* dance_resolver_async_start - NULL with a reason in err. max_inflight 0
 * means 1. */
dance_resolver_async *dance_resolver_async_start(const dance_resolver_config *cfg,
                                                 unsigned max_inflight,
                                                 char *err, size_t errlen);

/* dance_resolver_async_submit - queue a lookup of owner (copied); fn(arg,
 * ...) runs exactly once unless this returns -1 (NULL or empty owner,
 * out of memory, or the resolver is stopping), and then never. Any
 * thread, including the resolver's own from a callback. */
int dance_resolver_async_submit(dance_resolver_async *ra, const char *owner,
                                dance_resolver_answer_fn fn, void *arg);

/* dance_resolver_async_get_stats - any thread. */
void dance_resolver_async_get_stats(dance_resolver_async *ra,
                                    dance_resolver_async_stats *out);

/* dance_resolver_async_stop - cancel what is queued or in flight (each
 * callback not yet run runs once, with cancelled set, on the resolver's
 * thread), join the thread and free everything. No callback runs after it
 * returns. NULL-safe; not from a callback. */
void dance_resolver_async_stop(dance_resolver_async *ra);

#ifdef __cplusplus
}
#endif
#endif
