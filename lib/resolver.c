/*
 * resolver.c - DNSSEC-validated TLSA lookups with getdns 1.6 in stub mode
 * (implements dance/resolver.h).
 *
 * One getdns context per upstream, all on the first context's event loop;
 * a resolver is used by one thread at a time. The lookup itself is a state
 * machine on the context's event loop (resolver_lookup, resolver_internal.h),
 * driven here for one synchronous lookup and in resolver_async.c for many
 * at once. Result values (dance_tlsa_result)
 * belong to the caller; this file only fills them.
 *
 * How an answer is classified (all in resolver_classify(), the one place
 * where getdns codes become dance_status):
 *   - We ask with the "dnssec_return_all_statuses" extension and read the
 *     per-reply "dnssec_status". We do NOT use "dnssec_return_status" or
 *     "dnssec_return_only_secure" to decide: with those getdns 1.6 reports a
 *     bogus answer as "no name" (response status 901 with no replies), which
 *     would turn a forged answer into a "secure negative". Checked against
 *     the signed test bed (tests/testbed/dnstestbed.py): secure 400, bogus
 *     401 (also for a wrong trust anchor), insecure 403, every time in 30
 *     runs of each case, straight to knotd (no recursive resolver between).
 *   - Records are copied out only when the reply's dnssec_status is SECURE.
 *     Every other path leaves out->records empty.
 *   - A lookup never blocks much longer than the configured timeout: the
 *     query runs on the context's event loop with our own deadline timer,
 *     because a validating stub sends several queries in sequence (answer,
 *     then DS/DNSKEY for each zone) and getdns' timeout is per query.
 *   - That deadline is the only timeout that ever fires while a lookup
 *     lives: getdns' own is set well beyond it (getdns_timeout_ms). When
 *     getdns (1.6.0 to 1.7.3) times out a DS or DNSKEY query of a DNSSEC
 *     chain by itself, it frees that query while the chain still points to
 *     it, and the chain's next step (its own timeout, or cancelling it)
 *     reads and frees it again: a use-after-free and double free, seen as a
 *     broker abort under slow DNS. Withdrawing the whole request at our
 *     deadline frees the chain and its queries once, the way getdns does
 *     for a cancelled request.
 *   - With several upstreams the timeout is shared among them and a failed
 *     try is repeated on the next upstream. Each upstream has a context of
 *     its own: one context holding them all keeps a single "current
 *     upstream" that every failure moves along, so with many lookups in
 *     flight the failures swing it back and forth and retries land on the
 *     dead upstream again. A lookup walks the contexts itself, starting at
 *     `preferred`, which moves to the next upstream when it fails.
 *   - Only our trust anchors count: getdns' "zero configuration DNSSEC"
 *     (fetching the IANA root anchors over HTTP) is switched off.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>

#include <getdns/getdns.h>
#include <getdns/getdns_extra.h>

#include "dance/clock.h"
#include "dance/error.h"
#include "dance/resolver.h"
#include "resolver_internal.h"

#define RESOLVER_DEFAULT_TIMEOUT_MS 2000u
#define RESOLVER_MAX_TIMEOUT_MS 600000u
#define RESOLVER_SYSTEM_ROOT_KEY "/usr/share/dns/root.key"
/* A trust anchor file holds a few records; anything larger is a mistake. */
#define TRUST_ANCHOR_MAX (1024 * 1024)
/* Grace after a try's share of the timeout before our deadline cuts it. */
#define RESOLVER_DEADLINE_GRACE_MS 150u
/* getdns backs off a failing TLS upstream for an hour by default; a broker
 * must recover quickly when its resolver comes back. */
#define RESOLVER_TLS_BACKOFF_S 5
#define RESOLVER_UPSTREAMS_MAX 16
/* Shortest try per upstream when the timeout is shared among several. */
#define RESOLVER_MIN_ATTEMPT_MS 200u

/* getdns_timeout_ms - getdns' per-query timeout for a try of attempt_ms:
 * far enough past our deadline (attempt_ms + grace at most) that our
 * withdrawal always comes first, even when the loop thread was held up
 * and several timers fall due in one turn of the loop. */
static uint64_t getdns_timeout_ms(unsigned attempt_ms)
{
    return (uint64_t)attempt_ms * 3 + 1000;
}

/* The first context's event loop as seen by the other contexts: it forwards
 * everything except cleanup, because getdns_context_destroy cleans up its
 * context's loop and the first context owns this one. */
typedef struct resolver_shared_loop {
    getdns_eventloop loop;
    getdns_eventloop *host;
} resolver_shared_loop;

struct dance_resolver {
    getdns_context **ctx;   /* one per upstream (nservers); ctx[0] owns loop */
    unsigned preferred;     /* the upstream a new lookup asks first */
    resolver_shared_loop shared;
    getdns_dict *extensions;        /* a full, validated lookup */
    getdns_dict *one_query_extensions;  /* the TLSA RRset alone, DO bit */
    resolver_zonekeys *zonekeys;    /* owning thread */
    unsigned timeout_ms;    /* the whole lookup */
    unsigned attempt_ms;    /* one try: timeout_ms shared among the upstreams */
    unsigned nservers;      /* upstreams, i.e. contexts */
    char *servers;          /* for reasons: the upstream list or "the system resolver" */
    char *tls_auth_name;    /* for reasons; NULL unless DNS over TLS */
    getdns_eventloop *loop; /* ctx[0]'s, all contexts' (shared); owning thread */
    resolver_lookup *ready_head;    /* lookups whose attempt ended */
    resolver_lookup **ready_tail;
};

/* One parsed upstream. */
typedef struct resolver_upstream {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned port;          /* 0: default for the transport */
} resolver_upstream;

/* parse_port - decimal 1..65535, digits only */
static int parse_port(const char *s, size_t len, unsigned *out)
{
    unsigned long v = 0;
    size_t i;

    if (len == 0 || len > 5)
        return -1;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* parse_upstreams - "IP[@PORT],..." into ups (at most RESOLVER_UPSTREAMS_MAX).
 * Spaces around items are ignored. Returns the count, or -1 with a reason. */
static int parse_upstreams(const char *list, resolver_upstream *ups,
                           char *err, size_t errlen)
{
    const char *p = list;
    int n = 0;

    for (;;) {
        const char *end = strchr(p, ',');
        const char *b = p, *e = end ? end : p + strlen(p);
        const char *at;
        char ip[INET6_ADDRSTRLEN + 1];
        size_t iplen;

        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (b == e) {
            dance_set_err(err, errlen, "empty entry in resolver list '%s' "
                          "(expected IP[@PORT],...)", list);
            return -1;
        }
        if (n == RESOLVER_UPSTREAMS_MAX) {
            dance_set_err(err, errlen, "too many resolvers in '%s' (at most %d)",
                          list, RESOLVER_UPSTREAMS_MAX);
            return -1;
        }
        /* IPv6 addresses contain no '@', so the last '@' starts the port. */
        at = memchr(b, '@', (size_t)(e - b));
        iplen = (size_t)((at ? at : e) - b);
        if (iplen == 0 || iplen >= sizeof(ip)) {
            dance_set_err(err, errlen, "resolver '%.*s' is not an IPv4 or IPv6 "
                          "address (expected IP[@PORT])", (int)(e - b), b);
            return -1;
        }
        memcpy(ip, b, iplen);
        ip[iplen] = '\0';
        memset(&ups[n], 0, sizeof(ups[n]));
        if (inet_pton(AF_INET, ip, ups[n].addr) == 1)
            ups[n].family = AF_INET;
        else if (inet_pton(AF_INET6, ip, ups[n].addr) == 1)
            ups[n].family = AF_INET6;
        else {
            dance_set_err(err, errlen, "resolver '%.*s': '%s' is not an IPv4 or "
                          "IPv6 address", (int)(e - b), b, ip);
            return -1;
        }
        if (at != NULL
            && parse_port(at + 1, (size_t)(e - at - 1), &ups[n].port) != 0) {
            dance_set_err(err, errlen, "resolver '%.*s': port '%.*s' is not a "
                          "number from 1 to 65535", (int)(e - b), b,
                          (int)(e - at - 1), at + 1);
            return -1;
        }
        n++;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return n;
}

/* read_small_file - a regular file of at most TRUST_ANCHOR_MAX bytes into a
 * malloc'd buffer (*text, caller frees). Returns 0 or -1 with a reason. */
static int read_small_file(const char *path, char **text, size_t *len,
                           char *err, size_t errlen)
{
    struct stat st;
    char *buf;
    FILE *f;
    size_t got;

    *text = NULL;
    *len = 0;
    f = fopen(path, "r");
    if (f == NULL) {
        dance_set_err(err, errlen, "cannot read trust anchor file '%s': %s",
                      path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        dance_set_err(err, errlen, "trust anchor file '%s' is not a regular file",
                      path);
        return -1;
    }
    if (st.st_size > TRUST_ANCHOR_MAX) {
        fclose(f);
        dance_set_err(err, errlen, "trust anchor file '%s' is too large (over %d "
                      "bytes)", path, TRUST_ANCHOR_MAX);
        return -1;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        fclose(f);
        dance_set_err(err, errlen, "out of memory reading trust anchor file '%s'", path);
        return -1;
    }
    got = fread(buf, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        fclose(f);
        free(buf);
        dance_set_err(err, errlen, "cannot read trust anchor file '%s'", path);
        return -1;
    }
    fclose(f);
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return 0;
}

/* load_trust_anchor - read DS/DNSKEY records in zone-file syntax from path.
 * Other records in the file are ignored (a zone file excerpt may carry its
 * SOA or comments); at least one DS or DNSKEY is required. On success *out
 * is a getdns list of just those records, which the caller destroys. */
static int load_trust_anchor(const char *path, getdns_list **out,
                             char *err, size_t errlen)
{
    FILE *f;
    getdns_list *rrs = NULL, *anchors = NULL;
    getdns_return_t rc;
    size_t n = 0, i, usable = 0, len;
    char *text;

    *out = NULL;
    if (read_small_file(path, &text, &len, err, errlen) != 0)
        return -1;
    if (len == 0) {
        free(text);
        dance_set_err(err, errlen, "trust anchor file '%s' is empty (DS or DNSKEY "
                      "records expected)", path);
        return -1;
    }
    /* getdns_fp2rr_list spins forever on a stream that fails to read (a
     * directory, say): give it an in-memory copy, which cannot fail. */
    f = fmemopen(text, len, "r");
    if (f == NULL) {
        free(text);
        dance_set_err(err, errlen, "cannot read trust anchor file '%s': %s",
                      path, strerror(errno));
        return -1;
    }
    rc = getdns_fp2rr_list(f, &rrs, NULL, 3600);
    fclose(f);
    free(text);
    if (rc != GETDNS_RETURN_GOOD) {
        const char *why = getdns_get_errorstr_by_id((uint16_t)rc);
        dance_set_err(err, errlen, "trust anchor file '%s' could not be parsed "
                      "(DS or DNSKEY records in zone-file syntax expected): %s",
                      path, why ? why : "parse error");
        getdns_list_destroy(rrs);
        return -1;
    }
    anchors = getdns_list_create();
    if (anchors == NULL) {
        dance_set_err(err, errlen, "out of memory reading trust anchor file '%s'", path);
        getdns_list_destroy(rrs);
        return -1;
    }
    (void)getdns_list_get_length(rrs, &n);
    for (i = 0; i < n; i++) {
        getdns_dict *rr = NULL;
        uint32_t type = 0;

        if (getdns_list_get_dict(rrs, i, &rr) != GETDNS_RETURN_GOOD
            || getdns_dict_get_int(rr, "type", &type) != GETDNS_RETURN_GOOD
            || (type != GETDNS_RRTYPE_DS && type != GETDNS_RRTYPE_DNSKEY))
            continue;
        if (getdns_list_set_dict(anchors, usable, rr) != GETDNS_RETURN_GOOD) {
            dance_set_err(err, errlen, "out of memory reading trust anchor file '%s'",
                          path);
            getdns_list_destroy(anchors);
            getdns_list_destroy(rrs);
            return -1;
        }
        usable++;
    }
    getdns_list_destroy(rrs);
    if (usable == 0) {
        dance_set_err(err, errlen, "trust anchor file '%s' holds no DS or DNSKEY "
                      "record", path);
        getdns_list_destroy(anchors);
        return -1;
    }
    *out = anchors;
    return 0;
}

/* config_trust_anchor_path - the file to read: the configured one or the
 * system root key. Never NULL. */
static const char *config_trust_anchor_path(const dance_resolver_config *cfg)
{
    if (cfg->trust_anchor_file != NULL && cfg->trust_anchor_file[0] != '\0')
        return cfg->trust_anchor_file;
    return RESOLVER_SYSTEM_ROOT_KEY;
}

/* check_tls_auth_name - a plausible host name (the TLS library checks it
 * against the certificate; we only catch obvious typos early) */
static int check_tls_auth_name(const char *name, char *err, size_t errlen)
{
    size_t i, len = strlen(name);

    if (len == 0 || len > 253) {
        dance_set_err(err, errlen, "TLS authentication name '%s' must be 1 to 253 "
                      "characters", name);
        return -1;
    }
    for (i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) {
            dance_set_err(err, errlen, "TLS authentication name '%s' contains "
                          "'%c' (a host name is expected)", name, c);
            return -1;
        }
    }
    return 0;
}

/* config_check_common - everything but the trust anchor contents */
static int config_check_common(const dance_resolver_config *cfg,
                               resolver_upstream *ups, int *nups,
                               char *err, size_t errlen)
{
    *nups = 0;
    if (cfg->upstreams != NULL && cfg->upstreams[0] != '\0') {
        int n = parse_upstreams(cfg->upstreams, ups, err, errlen);
        if (n < 0)
            return -1;
        *nups = n;
    }
    if (cfg->timeout_ms > RESOLVER_MAX_TIMEOUT_MS) {
        dance_set_err(err, errlen, "DNS timeout %u ms is too large (at most %u ms)",
                      cfg->timeout_ms, RESOLVER_MAX_TIMEOUT_MS);
        return -1;
    }
    switch (cfg->transport) {
    case DANCE_TRANSPORT_UDP:
    case DANCE_TRANSPORT_TCP:
        break;
    case DANCE_TRANSPORT_TLS:
        if (cfg->tls_auth_name == NULL || cfg->tls_auth_name[0] == '\0') {
            dance_set_err(err, errlen, "DNS over TLS needs a TLS authentication "
                          "name (the resolver's host name in its certificate)");
            return -1;
        }
        if (check_tls_auth_name(cfg->tls_auth_name, err, errlen) != 0)
            return -1;
        break;
    case DANCE_TRANSPORT_COUNT:
    default:
        dance_set_err(err, errlen, "unknown DNS transport %d (udp, tcp or tls)",
                      (int)cfg->transport);
        return -1;
    }
    return 0;
}

int dance_resolver_config_check(const dance_resolver_config *cfg,
                                char *err, size_t errlen)
{
    resolver_upstream ups[RESOLVER_UPSTREAMS_MAX];
    getdns_list *ta = NULL;
    int nups;

    if (cfg == NULL) {
        dance_set_err(err, errlen, "no resolver configuration");
        return -1;
    }
    if (config_check_common(cfg, ups, &nups, err, errlen) != 0)
        return -1;
    if (load_trust_anchor(config_trust_anchor_path(cfg), &ta, err, errlen) != 0)
        return -1;
    getdns_list_destroy(ta);
    return 0;
}

/* upstream_dict - one getdns upstream dict */
static getdns_dict *upstream_dict(const resolver_upstream *u,
                                  const dance_resolver_config *cfg)
{
    getdns_dict *d = getdns_dict_create();
    getdns_bindata addr, type;
    int ok;

    if (d == NULL)
        return NULL;
    type.data = (uint8_t *)(u->family == AF_INET ? "IPv4" : "IPv6");
    type.size = 4;
    addr.data = (uint8_t *)u->addr;
    addr.size = u->family == AF_INET ? 4 : 16;
    ok = getdns_dict_set_bindata(d, "address_type", &type) == GETDNS_RETURN_GOOD
         && getdns_dict_set_bindata(d, "address_data", &addr) == GETDNS_RETURN_GOOD;
    if (ok && cfg->transport == DANCE_TRANSPORT_TLS) {
        if (u->port != 0)
            ok = getdns_dict_set_int(d, "tls_port", u->port) == GETDNS_RETURN_GOOD;
    } else if (ok && u->port != 0) {
        ok = getdns_dict_set_int(d, "port", u->port) == GETDNS_RETURN_GOOD;
    }
    if (!ok) {
        getdns_dict_destroy(d);
        return NULL;
    }
    return d;
}

/* resolver_upstream_list - configured upstreams, or the ones getdns read
 * from /etc/resolv.conf into ctx; for TLS each gets the authentication
 * name. *out (non-empty) is the caller's to destroy. */
static int resolver_upstream_list(getdns_context *ctx,
                                  const dance_resolver_config *cfg,
                                  const resolver_upstream *ups, int nups,
                                  getdns_list **out, char *err, size_t errlen)
{
    getdns_list *list = NULL;
    size_t i, n = 0;
    int rc = -1;

    if (nups > 0) {
        list = getdns_list_create();
        if (list == NULL)
            goto oom;
        for (i = 0; i < (size_t)nups; i++) {
            getdns_dict *d = upstream_dict(&ups[i], cfg);
            getdns_return_t r;

            if (d == NULL)
                goto oom;
            r = getdns_list_set_dict(list, i, d);
            getdns_dict_destroy(d);
            if (r != GETDNS_RETURN_GOOD)
                goto oom;
        }
    } else {
        if (getdns_context_get_upstream_recursive_servers(ctx, &list)
            != GETDNS_RETURN_GOOD)
            goto oom;
        (void)getdns_list_get_length(list, &n);
        if (n == 0) {
            dance_set_err(err, errlen, "no resolver configured and none found in "
                          "/etc/resolv.conf");
            goto out;
        }
    }
    if (cfg->transport == DANCE_TRANSPORT_TLS) {
        getdns_bindata name;

        name.data = (uint8_t *)cfg->tls_auth_name;
        name.size = strlen(cfg->tls_auth_name);
        (void)getdns_list_get_length(list, &n);
        for (i = 0; i < n; i++) {
            getdns_dict *d = NULL;

            if (getdns_list_get_dict(list, i, &d) != GETDNS_RETURN_GOOD
                || getdns_dict_set_bindata(d, "tls_auth_name", &name)
                   != GETDNS_RETURN_GOOD)
                goto oom;
        }
    }
    *out = list;
    return 0;
oom:
    dance_set_err(err, errlen, "out of memory setting up the resolver list");
out:
    getdns_list_destroy(list);
    return rc;
}

/* resolver_set_transport - transport list, TLS authentication */
static int resolver_set_transport(getdns_context *ctx,
                                  const dance_resolver_config *cfg)
{
    getdns_transport_list_t udp[] = { GETDNS_TRANSPORT_UDP, GETDNS_TRANSPORT_TCP };
    getdns_transport_list_t tcp[] = { GETDNS_TRANSPORT_TCP };
    getdns_transport_list_t tls[] = { GETDNS_TRANSPORT_TLS };

    switch (cfg->transport) {
    case DANCE_TRANSPORT_UDP:
        return getdns_context_set_dns_transport_list(ctx, 2, udp)
               == GETDNS_RETURN_GOOD ? 0 : -1;
    case DANCE_TRANSPORT_TCP:
        return getdns_context_set_dns_transport_list(ctx, 1, tcp)
               == GETDNS_RETURN_GOOD ? 0 : -1;
    case DANCE_TRANSPORT_TLS:
        /* Strict: an unauthenticated TLS upstream is never used. */
        if (getdns_context_set_dns_transport_list(ctx, 1, tls) != GETDNS_RETURN_GOOD
            || getdns_context_set_tls_authentication(ctx, GETDNS_AUTHENTICATION_REQUIRED)
               != GETDNS_RETURN_GOOD
            || getdns_context_set_tls_backoff_time(ctx, RESOLVER_TLS_BACKOFF_S)
               != GETDNS_RETURN_GOOD)
            return -1;
        return 0;
    case DANCE_TRANSPORT_COUNT:
        break;
    }
    return -1;
}

/* ---------------------------------------------- the shared event loop */

static void shared_loop_cleanup(getdns_eventloop *loop)
{
    (void)loop;                         /* ctx[0] cleans up the host loop */
}

static getdns_return_t shared_loop_schedule(getdns_eventloop *loop, int fd,
                                            uint64_t timeout,
                                            getdns_eventloop_event *ev)
{
    getdns_eventloop *host = ((resolver_shared_loop *)(void *)loop)->host;

    return host->vmt->schedule(host, fd, timeout, ev);
}

static getdns_return_t shared_loop_clear(getdns_eventloop *loop,
                                         getdns_eventloop_event *ev)
{
    getdns_eventloop *host = ((resolver_shared_loop *)(void *)loop)->host;

    return host->vmt->clear(host, ev);
}

static void shared_loop_run(getdns_eventloop *loop)
{
    getdns_eventloop *host = ((resolver_shared_loop *)(void *)loop)->host;

    host->vmt->run(host);
}

static void shared_loop_run_once(getdns_eventloop *loop, int blocking)
{
    getdns_eventloop *host = ((resolver_shared_loop *)(void *)loop)->host;

    host->vmt->run_once(host, blocking);
}

static getdns_eventloop_vmt shared_loop_vmt = {
    shared_loop_cleanup,
    shared_loop_schedule,
    shared_loop_clear,
    shared_loop_run,
    shared_loop_run_once
};

/* resolver_context_setup - stub mode, our trust anchors, the transport,
 * one upstream and the per-try timeout on a new context */
static int resolver_context_setup(getdns_context *ctx, const dance_resolver_config *cfg,
                                  getdns_list *ta, getdns_dict *upstream,
                                  unsigned attempt_ms, char *err, size_t errlen)
{
    getdns_list *one;
    getdns_return_t rc;

    if (getdns_context_set_resolution_type(ctx, GETDNS_RESOLUTION_STUB)
            != GETDNS_RETURN_GOOD
        /* Our trust anchors only: an empty verify CA turns off getdns'
         * "zero configuration DNSSEC", which would otherwise fetch the
         * IANA root anchors over HTTP when our anchor does not validate
         * the root (as with a test bed's fake root). */
        || getdns_context_set_trust_anchors_verify_CA(ctx, "") != GETDNS_RETURN_GOOD
        || getdns_context_set_dnssec_trust_anchors(ctx, ta) != GETDNS_RETURN_GOOD) {
        dance_set_err(err, errlen, "cannot configure the getdns context");
        return -1;
    }
    if (resolver_set_transport(ctx, cfg) != 0) {
        dance_set_err(err, errlen, "cannot set DNS transport %s",
                      cfg->transport == DANCE_TRANSPORT_TLS ? "tls"
                      : cfg->transport == DANCE_TRANSPORT_TCP ? "tcp" : "udp");
        return -1;
    }
    one = getdns_list_create();
    if (one == NULL || getdns_list_set_dict(one, 0, upstream) != GETDNS_RETURN_GOOD) {
        getdns_list_destroy(one);
        dance_set_err(err, errlen, "out of memory setting up the resolver list");
        return -1;
    }
    rc = getdns_context_set_upstream_recursive_servers(ctx, one);
    getdns_list_destroy(one);
    if (rc != GETDNS_RETURN_GOOD) {
        dance_set_err(err, errlen, "getdns refused the resolver list");
        return -1;
    }
    if (getdns_context_set_timeout(ctx, getdns_timeout_ms(attempt_ms))
        != GETDNS_RETURN_GOOD) {
        dance_set_err(err, errlen, "cannot set the DNS timeout");
        return -1;
    }
    return 0;
}

dance_resolver *dance_resolver_new(const dance_resolver_config *cfg,
                                   char *err, size_t errlen)
{
    resolver_upstream ups[RESOLVER_UPSTREAMS_MAX];
    getdns_list *ta = NULL, *list = NULL;
    dance_resolver *r;
    size_t n = 0;
    unsigned i;
    int nups;

    if (cfg == NULL) {
        dance_set_err(err, errlen, "no resolver configuration");
        return NULL;
    }
    if (config_check_common(cfg, ups, &nups, err, errlen) != 0)
        return NULL;
    if (load_trust_anchor(config_trust_anchor_path(cfg), &ta, err, errlen) != 0)
        return NULL;

    r = calloc(1, sizeof(*r));
    if (r == NULL)
        goto oom;
    r->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : RESOLVER_DEFAULT_TIMEOUT_MS;
    if (nups > 0) {
        r->servers = strdup(cfg->upstreams);
    } else {
        r->servers = strdup("the system resolver (/etc/resolv.conf)");
    }
    if (r->servers == NULL)
        goto oom;
    if (cfg->transport == DANCE_TRANSPORT_TLS) {
        r->tls_auth_name = strdup(cfg->tls_auth_name);
        if (r->tls_auth_name == NULL)
            goto oom;
    }
    r->ctx = calloc(RESOLVER_UPSTREAMS_MAX, sizeof(*r->ctx));
    if (r->ctx == NULL)
        goto oom;

    /* set_from_os = 1 reads /etc/resolv.conf for the system resolver case;
     * explicit upstreams replace what it found. */
    if (getdns_context_create(&r->ctx[0], 1) != GETDNS_RETURN_GOOD) {
        r->ctx[0] = NULL;
        dance_set_err(err, errlen, "cannot create a getdns context");
        goto fail;
    }
    if (resolver_upstream_list(r->ctx[0], cfg, ups, nups, &list, err, errlen) != 0)
        goto fail;
    (void)getdns_list_get_length(list, &n);
    /* /etc/resolv.conf may name more servers than we ask in one lookup */
    r->nservers = n > RESOLVER_UPSTREAMS_MAX ? RESOLVER_UPSTREAMS_MAX : (unsigned)n;
    /* getdns gives up on an upstream after its (per query) timeout and
     * does not retry by itself: share the time among the upstreams and try
     * the next one (resolver_lookup_settle), so one dead upstream in a list
     * does not fail every other lookup. */
    r->attempt_ms = r->timeout_ms / r->nservers;
    if (r->attempt_ms < RESOLVER_MIN_ATTEMPT_MS)
        r->attempt_ms = r->timeout_ms < RESOLVER_MIN_ATTEMPT_MS
                        ? r->timeout_ms : RESOLVER_MIN_ATTEMPT_MS;
    if (getdns_context_get_eventloop(r->ctx[0], &r->loop) != GETDNS_RETURN_GOOD
        || r->loop == NULL) {
        dance_set_err(err, errlen, "getdns has no event loop");
        goto fail;
    }
    r->shared.loop.vmt = &shared_loop_vmt;
    r->shared.host = r->loop;
    for (i = 0; i < r->nservers; i++) {
        getdns_dict *upstream = NULL;

        if (i > 0) {
            if (getdns_context_create(&r->ctx[i], 1) != GETDNS_RETURN_GOOD) {
                r->ctx[i] = NULL;
                dance_set_err(err, errlen, "cannot create a getdns context");
                goto fail;
            }
            if (getdns_context_set_eventloop(r->ctx[i], &r->shared.loop)
                != GETDNS_RETURN_GOOD) {
                dance_set_err(err, errlen, "cannot share the getdns event loop");
                goto fail;
            }
        }
        if (getdns_list_get_dict(list, i, &upstream) != GETDNS_RETURN_GOOD)
            goto oom;
        if (resolver_context_setup(r->ctx[i], cfg, ta, upstream, r->attempt_ms,
                                   err, errlen) != 0)
            goto fail;
    }
    r->ready_tail = &r->ready_head;

    /* The validation chain of a full lookup is where zone keys are
     * learnt; a one-query lookup asks with the DO bit for the RRSIGs and
     * no validation extension, so getdns sends no chain queries. */
    r->extensions = getdns_dict_create();
    r->one_query_extensions = getdns_dict_create();
    r->zonekeys = resolver_zonekeys_new();
    if (r->extensions == NULL || r->one_query_extensions == NULL || r->zonekeys == NULL
        || getdns_dict_set_int(r->extensions, "dnssec_return_all_statuses",
                               GETDNS_EXTENSION_TRUE) != GETDNS_RETURN_GOOD
        || getdns_dict_set_int(r->extensions, "dnssec_return_validation_chain",
                               GETDNS_EXTENSION_TRUE) != GETDNS_RETURN_GOOD
        || getdns_dict_set_int(r->one_query_extensions, "/add_opt_parameters/do_bit", 1)
           != GETDNS_RETURN_GOOD)
        goto oom;
    getdns_list_destroy(list);
    getdns_list_destroy(ta);
    return r;

oom:
    dance_set_err(err, errlen, "out of memory creating the resolver");
fail:
    getdns_list_destroy(list);
    getdns_list_destroy(ta);
    dance_resolver_free(r);
    return NULL;
}

void dance_resolver_free(dance_resolver *r)
{
    unsigned i;

    if (r == NULL)
        return;
    if (r->extensions != NULL)
        getdns_dict_destroy(r->extensions);
    if (r->one_query_extensions != NULL)
        getdns_dict_destroy(r->one_query_extensions);
    resolver_zonekeys_free(r->zonekeys);
    if (r->ctx != NULL) {
        /* the others first: they schedule on ctx[0]'s loop */
        for (i = RESOLVER_UPSTREAMS_MAX; i-- > 0; )
            if (r->ctx[i] != NULL)
                getdns_context_destroy(r->ctx[i]);
        free(r->ctx);
    }
    free(r->servers);
    free(r->tls_auth_name);
    free(r);
}

/* ------------------------------------------------------------- answers */

/* resolver_name_equal - see resolver_internal.h */
int resolver_name_equal(const getdns_bindata *wire, const char *name)
{
    char *fqdn = NULL;
    size_t a, b;
    int eq;

    if (getdns_convert_dns_name_to_fqdn(wire, &fqdn) != GETDNS_RETURN_GOOD
        || fqdn == NULL)
        return 0;
    a = strlen(fqdn);
    b = strlen(name);
    if (a > 0 && fqdn[a - 1] == '.')
        a--;
    if (b > 0 && name[b - 1] == '.')
        b--;
    eq = a == b && strncasecmp(fqdn, name, a) == 0;
    free(fqdn);
    return eq;
}

/* rcode_name - mnemonic of a DNS response code for reasons */
static const char *rcode_name(uint32_t rcode)
{
    switch (rcode) {
    case GETDNS_RCODE_NOERROR:  return "NOERROR";
    case GETDNS_RCODE_FORMERR:  return "FORMERR";
    case GETDNS_RCODE_SERVFAIL: return "SERVFAIL";
    case GETDNS_RCODE_NXDOMAIN: return "NXDOMAIN";
    case GETDNS_RCODE_NOTIMP:   return "NOTIMP";
    case GETDNS_RCODE_REFUSED:  return "REFUSED";
    default:                    return "an error";
    }
}

/* negative_ttl - min(SOA TTL, SOA minimum) from the authority section
 * (RFC 2308 section 5); 0 when there is no SOA */
static uint32_t negative_ttl(getdns_dict *reply)
{
    getdns_list *auth = NULL;
    size_t n = 0, i;

    if (getdns_dict_get_list(reply, "authority", &auth) != GETDNS_RETURN_GOOD)
        return 0;
    (void)getdns_list_get_length(auth, &n);
    for (i = 0; i < n; i++) {
        getdns_dict *rr = NULL;
        uint32_t type = 0, ttl = 0, minimum = 0;

        if (getdns_list_get_dict(auth, i, &rr) != GETDNS_RETURN_GOOD
            || getdns_dict_get_int(rr, "type", &type) != GETDNS_RETURN_GOOD
            || type != GETDNS_RRTYPE_SOA
            || getdns_dict_get_int(rr, "ttl", &ttl) != GETDNS_RETURN_GOOD
            || getdns_dict_get_int(rr, "/rdata/minimum", &minimum) != GETDNS_RETURN_GOOD)
            continue;
        return ttl < minimum ? ttl : minimum;
    }
    return 0;
}

/* rrsig_ttl_cap - for an RRSIG over the TLSA RRset at target, the longest
 * the RRset may be cached (RFC 4035 section 5.3.3): no longer than the
 * signed original TTL nor past the signature's expiration. Returns the
 * smaller of cap and that; cap unchanged for other RRSIGs. */
static uint32_t rrsig_ttl_cap(getdns_dict *rr, const char *target, uint32_t now,
                              uint32_t cap)
{
    getdns_bindata *name = NULL;
    uint32_t covered = 0, orig = 0, expires = 0;
    int32_t left;

    if (getdns_dict_get_bindata(rr, "name", &name) != GETDNS_RETURN_GOOD
        || getdns_dict_get_int(rr, "/rdata/type_covered", &covered) != GETDNS_RETURN_GOOD
        || covered != GETDNS_RRTYPE_TLSA
        || getdns_dict_get_int(rr, "/rdata/original_ttl", &orig) != GETDNS_RETURN_GOOD
        || getdns_dict_get_int(rr, "/rdata/signature_expiration", &expires)
           != GETDNS_RETURN_GOOD
        || !resolver_name_equal(name, target))
        return cap;
    if (orig < cap)
        cap = orig;
    /* RRSIG times are serial numbers (RFC 4034 section 3.1.5) */
    left = (int32_t)(expires - now);
    if (left < 0)
        left = 0;
    if ((uint32_t)left < cap)
        cap = (uint32_t)left;
    return cap;
}

/* rrsig_left - seconds until this RRSIG expires (0 when it has), or -1 when
 * rr is not an RRSIG with an expiration. Serial arithmetic as above. */
static int64_t rrsig_left(getdns_dict *rr, uint32_t now)
{
    uint32_t expires = 0;
    int32_t left;

    if (getdns_dict_get_int(rr, "/rdata/signature_expiration", &expires)
        != GETDNS_RETURN_GOOD)
        return -1;
    left = (int32_t)(expires - now);
    return left < 0 ? 0 : left;
}

/* collect_tlsa - copy the TLSA records at the reply's canonical name (the
 * owner, or the end of a CNAME chain from it) into out->records and set
 * out->ttl to the smallest TTL of that RRset and of any CNAME leading to it,
 * capped by its signature (rrsig_ttl_cap); out->sig_ttl to the time left of
 * the earliest-expiring RRSIG in the answer (the TLSA RRset's and the
 * CNAMEs': the section holds nothing else), 0 when there is none to read.
 * Returns the number of records seen (usable or not) or -1 on allocation
 * failure. *bad counts records getdns could not parse as TLSA. */
static int collect_tlsa(getdns_dict *reply, const char *owner, uint32_t now,
                        dance_tlsa_result *out, size_t *bad)
{
    getdns_list *answer = NULL;
    getdns_bindata *canon = NULL;
    char *target = NULL;
    size_t n = 0, i;
    int seen = 0, rc = 0;
    uint32_t min_ttl = UINT32_MAX, sig_ttl = UINT32_MAX;
    int64_t sig_left = -1;

    *bad = 0;
    if (getdns_dict_get_list(reply, "answer", &answer) != GETDNS_RETURN_GOOD)
        return 0;
    if (getdns_dict_get_bindata(reply, "canonical_name", &canon) == GETDNS_RETURN_GOOD
        && getdns_convert_dns_name_to_fqdn(canon, &target) != GETDNS_RETURN_GOOD)
        target = NULL;
    (void)getdns_list_get_length(answer, &n);
    for (i = 0; i < n; i++) {
        getdns_dict *rr = NULL;
        getdns_bindata *name = NULL, *data = NULL;
        uint32_t type = 0, ttl = 0, u, s, m;

        if (getdns_list_get_dict(answer, i, &rr) != GETDNS_RETURN_GOOD
            || getdns_dict_get_int(rr, "type", &type) != GETDNS_RETURN_GOOD
            || getdns_dict_get_int(rr, "ttl", &ttl) != GETDNS_RETURN_GOOD
            || getdns_dict_get_bindata(rr, "name", &name) != GETDNS_RETURN_GOOD)
            continue;
        if (type == GETDNS_RRTYPE_CNAME) {
            if (ttl < min_ttl)
                min_ttl = ttl;
            continue;
        }
        if (type == GETDNS_RRTYPE_RRSIG) {
            int64_t left = rrsig_left(rr, now);

            if (left >= 0 && (sig_left < 0 || left < sig_left))
                sig_left = left;
            sig_ttl = rrsig_ttl_cap(rr, target != NULL ? target : owner, now, sig_ttl);
            continue;
        }
        if (type != GETDNS_RRTYPE_TLSA
            || !resolver_name_equal(name, target != NULL ? target : owner))
            continue;
        seen++;
        if (ttl < min_ttl)
            min_ttl = ttl;
        if (getdns_dict_get_int(rr, "/rdata/certificate_usage", &u) != GETDNS_RETURN_GOOD
            || getdns_dict_get_int(rr, "/rdata/selector", &s) != GETDNS_RETURN_GOOD
            || getdns_dict_get_int(rr, "/rdata/matching_type", &m) != GETDNS_RETURN_GOOD
            || getdns_dict_get_bindata(rr, "/rdata/certificate_association_data", &data)
               != GETDNS_RETURN_GOOD
            || u > 255 || s > 255 || m > 255 || data->size == 0) {
            (*bad)++;
            continue;
        }
        if (dance_tlsa_rrset_add(&out->records, (uint8_t)u, (uint8_t)s,
                                 (uint8_t)m, data->data, data->size) != 0) {
            rc = -1;
            break;
        }
    }
    free(target);
    if (rc != 0)
        return -1;
    if (sig_ttl < min_ttl)
        min_ttl = sig_ttl;
    /* nor past a CNAME's signature: the whole answer is the proof */
    if (sig_left >= 0 && (uint64_t)sig_left < min_ttl)
        min_ttl = (uint32_t)sig_left;
    out->ttl = seen > 0 ? min_ttl : 0;
    out->sig_ttl = seen > 0 && sig_left > 0 ? (uint32_t)sig_left : 0;
    return seen;
}

/* ------------------------------------------------- the one status mapping */

/* What classifying needs besides the response: names for reasons, and the
 * wall clock (serial seconds) that RRSIG expirations are read against. */
typedef struct classify_ctx {
    const char *servers;
    unsigned timeout_ms;
    uint32_t now;
} classify_ctx;

/* resolver_classify_reply - one reply of a validated response into out.
 * Records are only ever kept for a reply getdns marked DNSSEC-SECURE. */
static void resolver_classify_reply(const classify_ctx *r, const char *owner,
                                    getdns_dict *reply, dance_tlsa_result *out)
{
    uint32_t rcode = 0, dnssec = 0;
    size_t bad = 0;
    int seen;

    if (getdns_dict_get_int(reply, "/header/rcode", &rcode) != GETDNS_RETURN_GOOD) {
        out->status = DANCE_LOOKUP_FAILED;
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s failed: "
                      "malformed reply from %s", owner, r->servers);
        return;
    }
    if (rcode != GETDNS_RCODE_NOERROR && rcode != GETDNS_RCODE_NXDOMAIN) {
        /* A validating upstream answers SERVFAIL for bogus data too; we
         * cannot tell that apart from an outage, so it is a failure. */
        out->status = DANCE_LOOKUP_FAILED;
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s failed: "
                      "%s answered %s", owner, r->servers, rcode_name(rcode));
        return;
    }
    if (getdns_dict_get_int(reply, "dnssec_status", &dnssec) != GETDNS_RETURN_GOOD)
        dnssec = GETDNS_DNSSEC_NOT_PERFORMED;

    switch (dnssec) {
    case GETDNS_DNSSEC_SECURE:
        if (rcode == GETDNS_RCODE_NXDOMAIN) {
            out->status = DANCE_NO_RECORD;
            out->ttl = negative_ttl(reply);
            dance_set_err(out->reason, sizeof(out->reason), "no TLSA record for %s: "
                          "the name does not exist (secure NXDOMAIN)", owner);
            return;
        }
        seen = collect_tlsa(reply, owner, r->now, out, &bad);
        if (seen < 0) {
            dance_tlsa_result_clear(out);
            dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s "
                          "failed: out of memory", owner);
            return;
        }
        if (seen == 0) {
            out->status = DANCE_NO_RECORD;
            out->ttl = negative_ttl(reply);
            dance_set_err(out->reason, sizeof(out->reason), "no TLSA record for %s: "
                          "the name exists but has no TLSA records (secure NODATA)",
                          owner);
            return;
        }
        if (out->records.count == 0) {
            dance_tlsa_result_clear(out);
            dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s "
                          "failed: all %zu TLSA records are malformed", owner, bad);
            return;
        }
        out->status = DANCE_OK;
        out->reason[0] = '\0';
        return;
    case GETDNS_DNSSEC_BOGUS:
        out->status = DANCE_BOGUS;
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s was "
                      "bogus (DNSSEC): the answer does not validate from the trust "
                      "anchor (bad or expired signatures, wrong DS, or wrong trust "
                      "anchor)", owner);
        return;
    case GETDNS_DNSSEC_INSECURE:
        out->status = DANCE_INSECURE;
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s was "
                      "insecure: the zone is not DNSSEC-signed (unsigned "
                      "delegation), so its records cannot be used for DANE", owner);
        return;
    case GETDNS_DNSSEC_INDETERMINATE:
        /* No chain to any configured anchor: as unusable as bogus. */
        out->status = DANCE_BOGUS;
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s was "
                      "bogus (DNSSEC indeterminate): no configured trust anchor "
                      "covers the name", owner);
        return;
    default:
        out->status = DANCE_LOOKUP_FAILED;
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s failed: "
                      "the answer was not DNSSEC-validated", owner);
        return;
    }
}

/* resolver_classify - a getdns response into out (cleared). Several replies
 * (not expected for one TLSA query) give the least proven outcome. */
static void resolver_classify(const classify_ctx *r, const char *owner,
                              getdns_dict *resp, dance_tlsa_result *out)
{
    getdns_list *replies = NULL;
    uint32_t status = 0;
    size_t n = 0, i;

    if (getdns_dict_get_int(resp, "status", &status) != GETDNS_RETURN_GOOD) {
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s failed: "
                      "malformed response from getdns", owner);
        return;
    }
    switch (status) {
    case GETDNS_RESPSTATUS_GOOD:
    case GETDNS_RESPSTATUS_NO_NAME:
        break;          /* decided per reply below */
    case GETDNS_RESPSTATUS_ALL_TIMEOUT:
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s failed: "
                      "no answer from %s within %u ms", owner, r->servers,
                      r->timeout_ms);
        return;
    case GETDNS_RESPSTATUS_ALL_BOGUS_ANSWERS:   /* only_secure; not used */
        out->status = DANCE_BOGUS;
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s was "
                      "bogus (DNSSEC)", owner);
        return;
    case GETDNS_RESPSTATUS_NO_SECURE_ANSWERS:   /* only_secure; not used */
        out->status = DANCE_INSECURE;
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s was "
                      "insecure (not DNSSEC-signed)", owner);
        return;
    default:
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s failed: "
                      "unexpected getdns status %u", owner, (unsigned)status);
        return;
    }
    if (getdns_dict_get_list(resp, "replies_tree", &replies) != GETDNS_RETURN_GOOD
        || getdns_list_get_length(replies, &n) != GETDNS_RETURN_GOOD || n == 0) {
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s failed: "
                      "no usable reply from %s", owner, r->servers);
        return;
    }
    for (i = 0; i < n; i++) {
        getdns_dict *reply = NULL;
        dance_tlsa_result tmp;

        memset(&tmp, 0, sizeof(tmp));
        dance_tlsa_result_clear(&tmp);
        if (getdns_list_get_dict(replies, i, &reply) != GETDNS_RETURN_GOOD) {
            dance_set_err(tmp.reason, sizeof(tmp.reason), "TLSA lookup for %s "
                          "failed: malformed reply list", owner);
        } else {
            resolver_classify_reply(r, owner, reply, &tmp);
        }
        if (i == 0 || dance_dns_answer_rank(tmp.status) < dance_dns_answer_rank(out->status)) {
            dance_tlsa_result_clear(out);
            *out = tmp;             /* moves the records */
        } else {
            dance_tlsa_result_clear(&tmp);
        }
    }
}

/* resolver_classify_response - see resolver_internal.h */
void resolver_classify_response(const char *servers, uint32_t now, const char *owner,
                                getdns_dict *resp, dance_tlsa_result *out)
{
    classify_ctx cc = { servers, 0, now };

    resolver_classify(&cc, owner, resp, out);
}

/* ------------------------------------------------------------- lookups */

getdns_eventloop *resolver_loop(dance_resolver *r)
{
    return r->loop;
}

/* ready_push - lk's attempt ended: the owning thread settles it next */
static void ready_push(dance_resolver *r, resolver_lookup *lk)
{
    if (lk->on_ready)
        return;
    lk->on_ready = 1;
    lk->ready_next = NULL;
    *r->ready_tail = lk;
    r->ready_tail = &lk->ready_next;
}

resolver_lookup *resolver_ready_pop(dance_resolver *r)
{
    resolver_lookup *lk = r->ready_head;

    if (lk == NULL)
        return NULL;
    r->ready_head = lk->ready_next;
    if (r->ready_head == NULL)
        r->ready_tail = &r->ready_head;
    lk->ready_next = NULL;
    lk->on_ready = 0;
    return lk;
}

/* ready_remove - take lk off the ready list wherever it is */
static void ready_remove(dance_resolver *r, resolver_lookup *lk)
{
    resolver_lookup **pp = &r->ready_head;

    if (!lk->on_ready)
        return;
    while (*pp != NULL && *pp != lk)
        pp = &(*pp)->ready_next;
    if (*pp == lk) {
        *pp = lk->ready_next;
        if (*pp == NULL)
            r->ready_tail = pp;
    }
    lk->ready_next = NULL;
    lk->on_ready = 0;
}

/* lookup_cb - getdns answered (or gave up on) the current attempt. Only
 * records it; a callback for an attempt we withdrew (cancel, our own
 * deadline) is dropped. */
static void lookup_cb(getdns_context *ctx, getdns_callback_type_t type,
                      getdns_dict *response, void *userarg,
                      getdns_transaction_t tid)
{
    resolver_lookup *lk = userarg;

    (void)ctx;
    (void)tid;
    if (lk->phase != LOOKUP_QUERYING) {
        if (response != NULL)
            getdns_dict_destroy(response);
        return;
    }
    lk->phase = LOOKUP_ANSWERED;
    lk->type = type;
    lk->response = response;
    ready_push(lk->r, lk);
}

static void deadline_cb(void *userarg)
{
    resolver_lookup *lk = userarg;

    /* the poll loop keeps a fired timer until it is cleared */
    if (lk->deadline.ev != NULL)
        (void)lk->r->loop->vmt->clear(lk->r->loop, &lk->deadline);
    if (lk->phase != LOOKUP_QUERYING)
        return;
    lk->phase = LOOKUP_TIMED_OUT;
    ready_push(lk->r, lk);
}

/* clear_deadline - withdraw lk's timer if it is scheduled */
static void clear_deadline(dance_resolver *r, resolver_lookup *lk)
{
    if (lk->deadline.ev != NULL)
        (void)r->loop->vmt->clear(r->loop, &lk->deadline);
}

/* withdraw - cancel the attempt's getdns transaction; its cancel callback
 * (getdns calls it from inside getdns_cancel_callback) finds the lookup no
 * longer querying and drops it */
static void withdraw(dance_resolver *r, resolver_lookup *lk)
{
    resolver_lookup_phase was = lk->phase;

    lk->phase = LOOKUP_SETTLED;
    if (was == LOOKUP_QUERYING || was == LOOKUP_TIMED_OUT)
        (void)getdns_cancel_callback(r->ctx[lk->upstream], lk->tid);
}

/* attempt_start - one query (plus getdns' DNSSEC chain queries), cut off
 * after limit_ms by our deadline; an attempt that cannot start settles
 * at once with its reason */
static void attempt_start(dance_resolver *r, resolver_lookup *lk, uint64_t limit_ms)
{
    getdns_transaction_t tid = 0;
    getdns_return_t rc;

    dance_tlsa_result_clear(&lk->result);
    lk->attempt++;
    lk->type = GETDNS_CALLBACK_ERROR;
    lk->response = NULL;
    memset(&lk->deadline, 0, sizeof(lk->deadline));
    lk->deadline.userarg = lk;
    lk->deadline.timeout_cb = deadline_cb;
    /* getdns may call back before getdns_general returns: until then any
     * transaction id is ours */
    lk->phase = LOOKUP_QUERYING;
    lk->tid = 0;
    rc = getdns_general(r->ctx[lk->upstream], lk->owner, GETDNS_RRTYPE_TLSA,
                        lk->one_query ? r->one_query_extensions : r->extensions,
                        lk, &tid, lookup_cb);
    if (rc != GETDNS_RETURN_GOOD) {
        const char *why = getdns_get_errorstr_by_id((uint16_t)rc);

        if (lk->response != NULL) {
            getdns_dict_destroy(lk->response);
            lk->response = NULL;
        }
        lk->phase = LOOKUP_SETTLED;
        dance_set_err(lk->result.reason, sizeof(lk->result.reason), "TLSA lookup "
                      "for %s failed: could not query %s (%s)", lk->owner,
                      r->servers, why ? why : "getdns error");
        ready_push(r, lk);
        return;
    }
    lk->tid = tid;
    if (lk->phase != LOOKUP_QUERYING)
        return;                         /* answered already */
    if (r->loop->vmt->schedule(r->loop, -1, limit_ms, &lk->deadline)
        != GETDNS_RETURN_GOOD) {
        lk->deadline.ev = NULL;
        withdraw(r, lk);
        dance_set_err(lk->result.reason, sizeof(lk->result.reason), "TLSA lookup "
                      "for %s failed: cannot schedule the timeout", lk->owner);
        ready_push(r, lk);
    }
}

/* next_attempt - start the next try if the whole lookup's time and the
 * upstream list allow one. Returns 1 when one started. */
static int next_attempt(dance_resolver *r, resolver_lookup *lk)
{
    uint64_t now = dance_clock_monotonic_ms(NULL);
    uint64_t limit = (uint64_t)r->attempt_ms + RESOLVER_DEADLINE_GRACE_MS;

    if (lk->attempt >= r->nservers)
        return 0;
    if (lk->attempt > 0 && now + RESOLVER_DEADLINE_GRACE_MS >= lk->end_ms)
        return 0;
    if (now + limit > lk->end_ms)
        limit = lk->end_ms > now ? lk->end_ms - now : 0;
    lk->upstream = (lk->first + lk->attempt) % r->nservers;
    if (lk->attempt > 0)
        lk->one_query = 0;              /* a failover asks the full way */
    attempt_start(r, lk, limit);
    return 1;
}

/* ask_full_again - a one-query answer was not taken: ask the same upstream
 * the full way within what is left of the lookup's time; not counted as an
 * attempt (it is the same try). Returns 1 when it started. */
static int ask_full_again(dance_resolver *r, resolver_lookup *lk)
{
    uint64_t now = dance_clock_monotonic_ms(NULL);
    uint64_t limit = (uint64_t)r->attempt_ms + RESOLVER_DEADLINE_GRACE_MS;

    lk->one_query = 0;
    if (now + RESOLVER_DEADLINE_GRACE_MS >= lk->end_ms)
        return 0;
    if (now + limit > lk->end_ms)
        limit = lk->end_ms - now;
    lk->attempt--;                      /* attempt_start counts it again */
    attempt_start(r, lk, limit);
    return 1;
}

/* mark_secure - the one reply of a one-query response, validated by us,
 * as getdns would have marked it */
static int mark_secure(getdns_dict *response)
{
    getdns_list *replies = NULL;
    getdns_dict *reply = NULL;

    if (getdns_dict_get_list(response, "replies_tree", &replies) != GETDNS_RETURN_GOOD
        || getdns_list_get_dict(replies, 0, &reply) != GETDNS_RETURN_GOOD
        || getdns_dict_set_int(reply, "dnssec_status", GETDNS_DNSSEC_SECURE)
           != GETDNS_RETURN_GOOD)
        return -1;
    return 0;
}

void resolver_lookup_start(dance_resolver *r, resolver_lookup *lk, const char *owner)
{
    memset(lk, 0, sizeof(*lk));
    dance_tlsa_result_clear(&lk->result);
    lk->r = r;
    lk->owner = owner;
    lk->end_ms = dance_clock_monotonic_ms(NULL) + r->timeout_ms
                 + RESOLVER_DEADLINE_GRACE_MS;
    lk->first = r->preferred;
    lk->one_query = resolver_zonekeys_find(r->zonekeys, owner,
                                           dance_clock_monotonic_ms(NULL)) != NULL;
    (void)next_attempt(r, lk);
}

/* attempt_classify - the ended attempt's outcome into lk->result */
static void attempt_classify(dance_resolver *r, resolver_lookup *lk)
{
    dance_tlsa_result *out = &lk->result;
    const char *owner = lk->owner;

    if (lk->phase == LOOKUP_SETTLED)
        return;                         /* the reason is set already */
    if (lk->phase == LOOKUP_TIMED_OUT) {
        /* Our bound passed (a chain of slow answers): give up. */
        withdraw(r, lk);
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s "
                      "failed: no complete answer from %s within %u ms", owner,
                      r->servers, r->timeout_ms);
        return;
    }
    lk->phase = LOOKUP_SETTLED;
    switch (lk->type) {
    case GETDNS_CALLBACK_COMPLETE:
        if (lk->response != NULL && lk->one_query) {
            classify_ctx cc = { r->servers, r->timeout_ms, (uint32_t)time(NULL) };
            getdns_list *keys = resolver_zonekeys_find(r->zonekeys, owner,
                                                       dance_clock_monotonic_ms(NULL));

            if (resolver_zonekeys_validate(keys, lk->response, owner, cc.now)
                && mark_secure(lk->response) == 0)
                resolver_classify(&cc, owner, lk->response, out);
            if (out->status != DANCE_OK) {
                /* only a secure positive answer is taken this way */
                dance_tlsa_result_clear(out);
                lk->ask_again = 1;
            }
            break;
        }
        if (lk->response != NULL) {
            classify_ctx cc = { r->servers, r->timeout_ms, (uint32_t)time(NULL) };

            resolver_classify(&cc, owner, lk->response, out);
            if (out->status == DANCE_OK)
                resolver_zonekeys_learn(r->zonekeys, lk->response, owner, cc.now,
                                        dance_clock_monotonic_ms(NULL));
            break;
        }
        /* fall through */
    case GETDNS_CALLBACK_ERROR:
        if (r->tls_auth_name != NULL)
            dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s "
                          "failed: could not reach %s over TLS as '%s' (server "
                          "down, or its certificate is not trusted or not for "
                          "that name)", owner, r->servers, r->tls_auth_name);
        else
            dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s "
                          "failed: could not reach %s", owner, r->servers);
        break;
    case GETDNS_CALLBACK_TIMEOUT:
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s failed: "
                      "no answer from %s within %u ms", owner, r->servers,
                      r->timeout_ms);
        break;
    case GETDNS_CALLBACK_CANCEL:
    default:
        dance_set_err(out->reason, sizeof(out->reason), "TLSA lookup for %s failed: "
                      "the query was cancelled", owner);
        break;
    }
}

int resolver_lookup_settle(dance_resolver *r, resolver_lookup *lk)
{
    clear_deadline(r, lk);
    attempt_classify(r, lk);
    if (lk->response != NULL) {
        getdns_dict_destroy(lk->response);
        lk->response = NULL;
    }
    if (lk->ask_again) {
        lk->ask_again = 0;
        if (ask_full_again(r, lk))
            return 0;
        dance_set_err(lk->result.reason, sizeof(lk->result.reason), "TLSA lookup "
                      "for %s failed: no complete answer from %s within %u ms",
                      lk->owner, r->servers, r->timeout_ms);
    }
    /* New lookups ask the next upstream first once this one failed; only
     * a failure of the preferred one moves it, so many failures at once
     * move it once. */
    if (lk->result.status == DANCE_LOOKUP_FAILED && lk->upstream == r->preferred)
        r->preferred = (lk->upstream + 1) % r->nservers;
    /* Only "could not ask" is worth another upstream; an answer, even a
     * bogus one, is final. */
    if (lk->result.status == DANCE_LOOKUP_FAILED && next_attempt(r, lk))
        return 0;
    lk->phase = LOOKUP_IDLE;
    return 1;
}

void resolver_lookup_cancel(dance_resolver *r, resolver_lookup *lk)
{
    if (lk->phase == LOOKUP_IDLE)
        return;
    clear_deadline(r, lk);
    withdraw(r, lk);
    ready_remove(r, lk);
    if (lk->response != NULL) {
        getdns_dict_destroy(lk->response);
        lk->response = NULL;
    }
    lk->phase = LOOKUP_IDLE;
    dance_tlsa_result_clear(&lk->result);
    dance_set_err(lk->result.reason, sizeof(lk->result.reason), "TLSA lookup for %s "
                  "failed: the query was cancelled", lk->owner);
}

void dance_resolver_lookup_tlsa(dance_resolver *r, const char *owner,
                                dance_tlsa_result *out)
{
    resolver_lookup lk;
    resolver_lookup *ready;

    dance_tlsa_result_clear(out);
    if (r == NULL || owner == NULL || owner[0] == '\0') {
        dance_set_err(out->reason, sizeof(out->reason),
                      "TLSA lookup failed: no resolver or no owner name");
        return;
    }
    /* the one lookup in flight on this context: run its loop until over */
    resolver_lookup_start(r, &lk, owner);
    for (;;) {
        ready = resolver_ready_pop(r);
        if (ready == NULL) {
            r->loop->vmt->run_once(r->loop, 1);
            continue;
        }
        if (resolver_lookup_settle(r, ready) && ready == &lk)
            break;
    }
    *out = lk.result;                   /* moves the records */
}
