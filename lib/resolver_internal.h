/*
 * resolver_internal.h - the parts of lib/resolver.c that others in libdance
 * reach: classifying a getdns response dict (replies_tree) into a
 * dance_tlsa_result at a given wall-clock time (unit tests, without a DNS
 * server), and the one lookup state machine that the synchronous lookup and
 * the asynchronous resolver (resolver_async.c) share. Not public API.
 */
#ifndef DANCE_RESOLVER_INTERNAL_H
#define DANCE_RESOLVER_INTERNAL_H

#include <stdint.h>
#include <getdns/getdns.h>
#include <getdns/getdns_extra.h>

#include "dance/resolver.h"

/* resolver_classify_response - what dance_resolver_lookup_tlsa makes of
 * resp (a getdns response dict: status, replies_tree) for owner, with RRSIG
 * expirations read against now (seconds since the epoch, serial arithmetic)
 * and servers named in reasons. out must be cleared or zeroed; it is
 * filled as by a lookup (status, ttl, sig_ttl, records, reason). */
void resolver_classify_response(const char *servers, uint32_t now, const char *owner,
                                getdns_dict *resp, dance_tlsa_result *out);

/*
 * One TLSA lookup as a state machine on its resolver's getdns event loop:
 * the code that the synchronous dance_resolver_lookup_tlsa and the
 * asynchronous resolver (resolver_async.c) share, so that both ask, retry,
 * time out and classify in exactly the same way.
 *
 * A lookup is one or more attempts (one per upstream at most, each on that
 * upstream's own getdns context, sharing the configured timeout). getdns' callback and our deadline timer only record
 * what happened and put the lookup on its resolver's ready list; the thread
 * that owns the context then takes it off (resolver_ready_pop) and settles
 * it (resolver_lookup_settle): classify the attempt, start the next one on
 * "could not ask", or say the lookup is over. Nothing is decided inside a
 * getdns callback, so getdns is never re-entered from one.
 *
 * The struct is the caller's memory (on the stack for the synchronous call,
 * inside a request for the asynchronous one) and must stay put from
 * resolver_lookup_start until the lookup is over or cancelled.
 */
typedef enum resolver_lookup_phase {
    LOOKUP_IDLE,            /* not started, over, or cancelled */
    LOOKUP_QUERYING,        /* a getdns transaction and our deadline are out */
    LOOKUP_ANSWERED,        /* getdns called back: type and response set */
    LOOKUP_TIMED_OUT,       /* our deadline fired first */
    LOOKUP_SETTLED          /* the attempt's outcome is in result already */
} resolver_lookup_phase;

typedef struct resolver_lookup {
    struct resolver_lookup *ready_next;  /* the resolver's ready list */
    dance_resolver *r;
    const char *owner;                   /* the caller's, outlives the lookup */
    dance_tlsa_result result;            /* the last attempt's outcome */
    uint64_t end_ms;                     /* monotonic: the whole lookup's bound */
    unsigned attempt;                    /* attempts started */
    unsigned first;                      /* the upstream asked first */
    unsigned upstream;                   /* the current attempt's (context) */
    resolver_lookup_phase phase;
    int on_ready;                        /* linked on the ready list */
    int one_query;                       /* this attempt: TLSA only, checked
                                          * with a kept zone key */
    int ask_again;                       /* settle: repeat the attempt the
                                          * full way, same upstream */
    getdns_transaction_t tid;
    getdns_callback_type_t type;
    getdns_dict *response;               /* owned while set */
    getdns_eventloop_event deadline;
} resolver_lookup;

/* resolver_name_equal - 1 when a wire-format name from getdns and a
 * presentation name are the same name: case-insensitive, a trailing dot
 * ignored. */
int resolver_name_equal(const getdns_bindata *wire, const char *name);

/* resolver_loop - the event loop all of r's getdns contexts run on (never
 * NULL for a resolver dance_resolver_new returned). */
getdns_eventloop *resolver_loop(dance_resolver *r);

/* resolver_lookup_start - begin looking up owner (normalised, non-empty;
 * the string must outlive the lookup) with lk's memory. Cannot fail: an
 * attempt that cannot even start settles at once (lk goes on the ready
 * list with its reason). Owning thread only. */
void resolver_lookup_start(dance_resolver *r, resolver_lookup *lk, const char *owner);

/* resolver_ready_pop - the oldest lookup whose attempt ended, or NULL. */
resolver_lookup *resolver_ready_pop(dance_resolver *r);

/* resolver_lookup_settle - lk came off the ready list: classify its
 * attempt into lk->result. Returns 1 when the lookup is over (lk->result
 * is the answer, the caller's to take; lk no longer referenced by getdns
 * or the loop), 0 when another attempt started (lk will be ready again). */
int resolver_lookup_settle(dance_resolver *r, resolver_lookup *lk);

/* resolver_lookup_cancel - end a lookup that is not over: its getdns
 * transaction and deadline are withdrawn (getdns' cancel callback is
 * ignored), it leaves the ready list, and lk->result says "cancelled".
 * Safe on a lookup that is over (then it does nothing). */
void resolver_lookup_cancel(dance_resolver *r, resolver_lookup *lk);

/*
 * Zone keys (zonekeys.c): the DNSKEY sets of the zones TLSA answers came
 * from, as validated by a full lookup, kept for min(their TTL, their
 * signature's time left, an hour) so that a later lookup for a name in the
 * same zone asks one query instead of the whole chain.
 *
 * A lookup for a name under a kept zone first asks for the TLSA RRset
 * alone with the DO bit (getdns does no validation, so sends no chain
 * queries) and checks it with getdns_validate_dnssec2, the kept keys as the
 * only trust anchor. Only a SECURE answer with TLSA records at the owner
 * itself is taken; anything else (NXDOMAIN, NODATA, bogus, unsigned, a
 * CNAME, a key that rolled) is asked again the full way, so every negative
 * or failed outcome and its reason are the full lookup's. Owned by one
 * resolver; only the thread running its loop touches it.
 */
typedef struct resolver_zonekeys resolver_zonekeys;

resolver_zonekeys *resolver_zonekeys_new(void);
void resolver_zonekeys_free(resolver_zonekeys *z);

/* resolver_zonekeys_find - the kept keys of the closest zone owner is in
 * (borrowed: valid until the next call on z), or NULL; expired entries are
 * dropped on the way. now_ms: monotonic. */
getdns_list *resolver_zonekeys_find(resolver_zonekeys *z, const char *owner,
                                    uint64_t now_ms);

/* resolver_zonekeys_learn - after a full lookup that getdns validated as
 * SECURE with TLSA records (response made with the
 * dnssec_return_validation_chain extension): keep the DNSKEY set of the
 * zone that signed the TLSA RRset. Nothing is kept when anything is
 * missing. now: wall clock (RRSIG times); now_ms: monotonic. */
void resolver_zonekeys_learn(resolver_zonekeys *z, getdns_dict *response,
                             const char *owner, uint32_t now, uint64_t now_ms);

/* resolver_zonekeys_validate - 1 when response (to a TLSA query asked with
 * the DO bit and no validation) is one NOERROR reply whose answer is only
 * the TLSA RRset at owner and its RRSIGs, and that RRset validates as
 * SECURE with keys as the trust anchor at wall-clock time now; else 0. */
int resolver_zonekeys_validate(getdns_list *keys, getdns_dict *response,
                               const char *owner, uint32_t now);

#endif
