/*
 * test_cache.c - unit tests for lib/cache.c (include/dance/cache.h).
 *
 * Expiry runs on a fake clock; single flight and waiting use real threads.
 * Threads never call cmocka assertions (they are not thread-safe): they
 * record what they saw and the main thread asserts after joining.
 *
 * Allocation failures are injected by wrapping malloc/calloc/realloc at
 * link time (-Wl,--wrap=..., see tests/11-unit-cache.cmake); libdance is a
 * static library, so its calls go through the wrappers too.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "dance/cache.h"

/* --- allocation failure injection --- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

/* fail_in: the allocation that many calls from now fails (0 = the next);
 * -1 = none. Only set in single-threaded tests. */
static atomic_int fail_in = -1;
static atomic_bool fail_all_calloc = false;

static bool should_fail(void)
{
    int n = atomic_load(&fail_in);

    if (n < 0)
        return false;
    atomic_store(&fail_in, n - 1);
    return n == 0;
}

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    if (atomic_load(&fail_all_calloc))
        return NULL;
    return should_fail() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

/* injected - true when the armed failure happened (the countdown reached
 * the failing call); disarms */
static bool injected(void)
{
    return atomic_exchange(&fail_in, -1) == -1;
}

/* --- fake clock --- */

static _Atomic uint64_t fake_now_ms;

static uint64_t fake_clock(void *ctx)
{
    (void)ctx;
    return atomic_load(&fake_now_ms);
}

static void advance_ms(uint64_t ms)
{
    atomic_fetch_add(&fake_now_ms, ms);
}

static dance_cache *new_cache(size_t cap, uint32_t min_ttl, uint32_t max_ttl,
                              uint32_t neg_ttl, uint32_t fail_ttl)
{
    dance_cache_config cfg = {
        .capacity = cap, .min_ttl = min_ttl, .max_ttl = max_ttl,
        .negative_ttl = neg_ttl, .failure_ttl = fail_ttl,
        .clock = fake_clock, .clock_ctx = NULL,
    };
    dance_cache *c;

    atomic_store(&fake_now_ms, 1000000);
    c = dance_cache_new(&cfg);
    assert_non_null(c);
    return c;
}

/* --- answers --- */

/* What the fixtures' answers say is left of their signatures (a day), so
 * that min_ttl may raise their TTLs; expiry_cases vary it. */
#define SIG_TTL 86400

static void make_answer(dance_tlsa_result *r, dance_status st, uint32_t ttl,
                        unsigned char marker)
{
    unsigned char data[32];

    memset(r, 0, sizeof(*r));
    r->status = st;
    r->ttl = ttl;
    if (st == DANCE_OK)
        r->sig_ttl = SIG_TTL;
    if (st == DANCE_OK) {
        memset(data, marker, sizeof(data));
        assert_int_equal(dance_tlsa_rrset_add(&r->records, 3, 1, 1, data, sizeof(data)), 0);
        data[0] ^= 0xff;
        assert_int_equal(dance_tlsa_rrset_add(&r->records, 2, 0, 2, data, 16), 0);
    }
    snprintf(r->reason, sizeof(r->reason), "answer %u", (unsigned)marker);
}

static int put(dance_cache *c, const char *owner, dance_status st, uint32_t ttl,
               unsigned char marker)
{
    dance_tlsa_result r;
    int rc;

    make_answer(&r, st, ttl, marker);
    rc = dance_cache_put(c, owner, &r);
    dance_tlsa_result_clear(&r);
    return rc;
}

/* has - get owner; returns the marker of a SECURE answer, 0 for another
 * status, -1 for a miss */
static int has(dance_cache *c, const char *owner)
{
    dance_tlsa_result r;
    int marker = 0;

    memset(&r, 0, sizeof(r));
    if (!dance_cache_get(c, owner, &r)) {
        assert_int_equal(r.status, DANCE_LOOKUP_FAILED);
        assert_int_equal(r.records.count, 0);
        return -1;
    }
    if (r.status == DANCE_OK) {
        assert_int_equal(r.records.count, 2);
        marker = r.records.rr[0].data[0];
    } else {
        assert_int_equal(r.records.count, 0);
    }
    dance_tlsa_result_clear(&r);
    return marker;
}

static dance_cache_stats stats(dance_cache *c)
{
    dance_cache_stats s;

    dance_cache_get_stats(c, &s);
    return s;
}

/* --- fetch function for tests --- */

typedef struct fetch_ctx {
    atomic_int calls;
    dance_status status;
    uint32_t ttl;
    unsigned char marker;
    unsigned sleep_ms;
    /* gate: when gated, the fetch blocks until open */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool gated, open;
} fetch_ctx;

static void fetch_ctx_init(fetch_ctx *f, dance_status st, uint32_t ttl,
                           unsigned char marker)
{
    memset(f, 0, sizeof(*f));
    atomic_init(&f->calls, 0);
    f->status = st;
    f->ttl = ttl;
    f->marker = marker;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
}

static void fetch_ctx_open(fetch_ctx *f)
{
    pthread_mutex_lock(&f->mu);
    f->open = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void fetch_ctx_destroy(fetch_ctx *f)
{
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void test_fetch(void *ctx, const char *owner, dance_tlsa_result *out)
{
    fetch_ctx *f = ctx;
    unsigned char data[32];

    atomic_fetch_add(&f->calls, 1);
    pthread_mutex_lock(&f->mu);
    while (f->gated && !f->open)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
    if (f->sleep_ms > 0)
        sleep_ms(f->sleep_ms);

    out->status = f->status;
    out->ttl = f->ttl;
    out->sig_ttl = f->status == DANCE_OK ? SIG_TTL : 0;
    snprintf(out->reason, sizeof(out->reason), "fetched %s", owner);
    if (f->status == DANCE_OK) {
        memset(data, f->marker, sizeof(data));
        if (dance_tlsa_rrset_add(&out->records, 3, 1, 1, data, sizeof(data)) != 0 ||
            dance_tlsa_rrset_add(&out->records, 3, 1, 2, data, 16) != 0) {
            dance_tlsa_rrset_clear(&out->records);
            out->status = DANCE_LOOKUP_FAILED;
            snprintf(out->reason, sizeof(out->reason), "test fetch out of memory");
        }
    }
}

/* ======================= expiry ======================= */

static void test_positive_ttl(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);
    dance_tlsa_result r;

    (void)state;
    assert_int_equal(put(c, "a._device.example.com", DANCE_OK, 60, 7), 0);
    assert_int_equal(has(c, "a._device.example.com"), 7);
    advance_ms(59999);
    memset(&r, 0, sizeof(r));
    assert_true(dance_cache_get(c, "a._device.example.com", &r));
    assert_int_equal(r.status, DANCE_OK);
    assert_int_equal(r.ttl, 60);                        /* TTL as fetched */
    assert_string_equal(r.reason, "answer 7");
    assert_int_equal(r.records.rr[0].usage, 3);
    assert_int_equal(r.records.rr[0].selector, 1);
    assert_int_equal(r.records.rr[0].mtype, 1);
    assert_int_equal(r.records.rr[0].len, 32);
    assert_int_equal(r.records.rr[1].usage, 2);
    assert_int_equal(r.records.rr[1].mtype, 2);
    assert_int_equal(r.records.rr[1].len, 16);
    assert_int_equal(r.records.rr[1].data[0], 7 ^ 0xff);
    dance_tlsa_result_clear(&r);
    advance_ms(1);
    assert_int_equal(has(c, "a._device.example.com"), -1);
    assert_int_equal(stats(c).entries, 0);              /* expired one dropped */
    dance_cache_free(c);
}

/* One answer put into a fresh cache: handed out as fetched (status, TTL,
 * signature life, reason) and served for served_ms, gone 1 ms later;
 * served_ms 0: never stored. */
typedef struct expiry_case {
    const char *what;
    uint32_t min_ttl, max_ttl, negative_ttl, failure_ttl;
    dance_status status;
    uint32_t ttl, sig_ttl;
    uint64_t served_ms;
} expiry_case;

#define SECURE DANCE_OK
#define NEGATIVE DANCE_NO_RECORD

static const expiry_case expiry_cases[] = {
    /* what                                 min   max  neg fail status   ttl   sig  served */
    { "min_ttl raises a short TTL",          30,  600,  0, 0, SECURE,     5, SIG_TTL, 30000 },
    { "max_ttl cuts a long TTL",              0,  100,  0, 0, SECURE, 86400, SIG_TTL, 100000 },
    { "max_ttl 0 means 3600",                 0,    0,  0, 0, SECURE, 100000, SIG_TTL, 3600000 },
    { "max_ttl wins over min_ttl",          500,   50,  0, 0, SECURE,    10, SIG_TTL, 50000 },
    /* min_ttl raises a short TTL only as far as the answer's signatures
     * last (sig_ttl); when that is unknown (0) it does not raise it */
    { "min_ttl stops at the signature",     300, 3600,  0, 0, SECURE,    10,  50, 50000 },
    { "unknown signature life",             300, 3600,  0, 0, SECURE,    10,   0, 10000 },
    { "signature outlives min_ttl",         300, 3600,  0, 0, SECURE,    10, 1000, 300000 },
    /* a TTL already longer than the signature (hand-made answer) is not
     * cut by this rule: it only limits what min_ttl adds */
    { "TTL longer than the signature",      300, 3600,  0, 0, SECURE,   100,  20, 100000 },
    { "TTL 0 is not stored",                  0,    0,  0, 0, SECURE,     0, SIG_TTL, 0 },
    /* the SOA TTL (300) and min_ttl do not apply: negative_ttl does */
    { "negative answer: negative_ttl",      100, 3600, 10, 0, NEGATIVE, 300,   0, 10000 },
    { "negative_ttl 0",                       0,    0,  0, 0, NEGATIVE, 300,   0, 0 },
    { "failure: failure_ttl",               100, 3600, 600, 5, DANCE_LOOKUP_FAILED,  0, 0, 5000 },
    { "bogus: failure_ttl",                 100, 3600, 600, 5, DANCE_BOGUS,    0, 0, 5000 },
    { "insecure: failure_ttl",              100, 3600, 600, 5, DANCE_INSECURE, 0, 0, 5000 },
    { "failure_ttl 0: failure",               0,    0,  0, 0, DANCE_LOOKUP_FAILED,  0, 0, 0 },
    { "failure_ttl 0: bogus",                 0,    0,  0, 0, DANCE_BOGUS,    0, 0, 0 },
    { "failure_ttl 0: insecure",              0,    0,  0, 0, DANCE_INSECURE, 0, 0, 0 },
};

#undef SECURE
#undef NEGATIVE

static void test_expiry(void **state)
{
    const expiry_case *t = *state;
    unsigned char marker = (unsigned char)(t - expiry_cases + 1);
    dance_cache *c = new_cache(0, t->min_ttl, t->max_ttl, t->negative_ttl, t->failure_ttl);
    const char *owner = "expiry.example";
    char reason[32];
    dance_tlsa_result r;

    make_answer(&r, t->status, t->ttl, marker);
    r.sig_ttl = t->sig_ttl;
    assert_int_equal(dance_cache_put(c, owner, &r), 0);
    dance_tlsa_result_clear(&r);
    if (t->served_ms == 0) {
        assert_int_equal(has(c, owner), -1);
        assert_int_equal(stats(c).entries, 0);
        dance_cache_free(c);
        return;
    }
    memset(&r, 0, sizeof(r));
    assert_true(dance_cache_get(c, owner, &r));
    assert_int_equal(r.status, t->status);
    assert_int_equal(r.ttl, t->ttl);                    /* TTL as fetched */
    assert_int_equal(r.sig_ttl, t->sig_ttl);
    assert_int_equal(r.records.count, t->status == DANCE_OK ? 2 : 0);
    snprintf(reason, sizeof(reason), "answer %u", (unsigned)marker);
    assert_string_equal(r.reason, reason);
    dance_tlsa_result_clear(&r);
    advance_ms(t->served_ms - 1);
    assert_int_equal(has(c, owner), t->status == DANCE_OK ? marker : 0);
    advance_ms(1);
    assert_int_equal(has(c, owner), -1);
    dance_cache_free(c);
}

/* a newer unstorable answer removes an older stored one */
static void test_unstorable_replaces_stored(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);

    (void)state;
    assert_int_equal(put(c, "z.example", DANCE_OK, 50, 4), 0);
    assert_int_equal(has(c, "z.example"), 4);
    assert_int_equal(put(c, "z.example", DANCE_LOOKUP_FAILED, 0, 0), 0);  /* failure_ttl 0 */
    assert_int_equal(has(c, "z.example"), -1);
    dance_cache_free(c);
}

/* records handed in with a non-secure status are never served */
static void test_records_only_when_secure(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 60);
    dance_tlsa_result r;

    (void)state;
    make_answer(&r, DANCE_OK, 60, 9);
    r.status = DANCE_BOGUS;
    assert_int_equal(dance_cache_put(c, "b.example", &r), 0);
    dance_tlsa_result_clear(&r);
    memset(&r, 0, sizeof(r));
    assert_true(dance_cache_get(c, "b.example", &r));
    assert_int_equal(r.status, DANCE_BOGUS);
    assert_int_equal(r.records.count, 0);
    assert_null(r.records.rr);
    dance_tlsa_result_clear(&r);
    dance_cache_free(c);
}

static void test_fetch_failure_cached(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 5);
    fetch_ctx f;
    dance_tlsa_result r;
    dance_cache_stats s;

    (void)state;
    fetch_ctx_init(&f, DANCE_LOOKUP_FAILED, 0, 0);
    memset(&r, 0, sizeof(r));
    assert_int_equal(dance_cache_fetch(c, "dead.example", test_fetch, &f, &r), 0);
    assert_int_equal(r.status, DANCE_LOOKUP_FAILED);
    assert_string_equal(r.reason, "fetched dead.example");
    dance_tlsa_result_clear(&r);
    advance_ms(4999);
    assert_int_equal(dance_cache_fetch(c, "dead.example", test_fetch, &f, &r), 0);
    assert_int_equal(r.status, DANCE_LOOKUP_FAILED);
    assert_int_equal(atomic_load(&f.calls), 1);          /* not hammered */
    advance_ms(1);
    assert_int_equal(dance_cache_fetch(c, "dead.example", test_fetch, &f, &r), 0);
    assert_int_equal(atomic_load(&f.calls), 2);
    s = stats(c);
    assert_int_equal(s.queries, 2);
    assert_int_equal(s.failures, 2);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.misses, 2);
    dance_cache_free(c);

    /* failure_ttl 0: every fetch asks again; bogus is not a "failure" */
    c = new_cache(0, 0, 0, 0, 0);
    assert_int_equal(dance_cache_fetch(c, "dead.example", test_fetch, &f, &r), 0);
    assert_int_equal(dance_cache_fetch(c, "dead.example", test_fetch, &f, &r), 0);
    assert_int_equal(atomic_load(&f.calls), 4);
    f.status = DANCE_BOGUS;
    assert_int_equal(dance_cache_fetch(c, "dead.example", test_fetch, &f, &r), 0);
    assert_int_equal(r.status, DANCE_BOGUS);
    s = stats(c);
    assert_int_equal(s.queries, 3);
    assert_int_equal(s.failures, 2);
    assert_int_equal(s.entries, 0);
    dance_cache_free(c);
    fetch_ctx_destroy(&f);
}

static void test_fetch_secure_then_expiry(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);
    fetch_ctx f;
    dance_tlsa_result r;

    (void)state;
    fetch_ctx_init(&f, DANCE_OK, 30, 5);
    memset(&r, 0, sizeof(r));
    assert_int_equal(dance_cache_fetch(c, "Dev.Example.", test_fetch, &f, &r), 0);
    assert_int_equal(r.status, DANCE_OK);
    assert_string_equal(r.reason, "fetched dev.example");   /* fetch sees the key */
    assert_int_equal(r.records.count, 2);
    dance_tlsa_result_clear(&r);
    assert_int_equal(has(c, "dev.example"), 5);
    f.marker = 6;                                           /* record changed */
    advance_ms(29999);
    assert_int_equal(dance_cache_fetch(c, "dev.example", test_fetch, &f, &r), 0);
    assert_int_equal(r.records.rr[0].data[0], 5);           /* still the cached one */
    dance_tlsa_result_clear(&r);
    advance_ms(1);
    assert_int_equal(dance_cache_fetch(c, "dev.example", test_fetch, &f, &r), 0);
    assert_int_equal(r.records.rr[0].data[0], 6);
    dance_tlsa_result_clear(&r);
    assert_int_equal(atomic_load(&f.calls), 2);
    dance_cache_free(c);
    fetch_ctx_destroy(&f);
}

/* a fetch function returning nonsense is stored as a failure */
static void bad_status_fetch(void *ctx, const char *owner, dance_tlsa_result *out)
{
    unsigned char d[4] = { 1, 2, 3, 4 };

    (void)ctx;
    (void)owner;
    assert_int_equal(dance_tlsa_rrset_add(&out->records, 3, 1, 1, d, sizeof(d)), 0);
    out->status = (dance_status)42;
    out->ttl = 100;
}

/* a bogus answer carrying records and a TTL is cut down to what counts */
static void bogus_with_records_fetch(void *ctx, const char *owner, dance_tlsa_result *out)
{
    unsigned char d[4] = { 1, 2, 3, 4 };

    (void)ctx;
    (void)owner;
    assert_int_equal(dance_tlsa_rrset_add(&out->records, 3, 1, 1, d, sizeof(d)), 0);
    out->status = DANCE_BOGUS;
    out->ttl = 100;
}

static void test_fetch_invalid_status(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 60);
    dance_tlsa_result r;

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(dance_cache_fetch(c, "x.example", bad_status_fetch, NULL, &r), 0);
    assert_int_equal(r.status, DANCE_LOOKUP_FAILED);
    assert_int_equal(r.records.count, 0);
    assert_non_null(strstr(r.reason, "invalid status"));
    assert_int_equal(has(c, "x.example"), 0);
    assert_int_equal(stats(c).failures, 1);
    assert_int_equal(dance_cache_fetch(c, "y.example", bogus_with_records_fetch, NULL, &r), 0);
    assert_int_equal(r.status, DANCE_BOGUS);
    assert_int_equal(r.records.count, 0);
    assert_int_equal(r.ttl, 0);
    dance_tlsa_result_clear(&r);
    assert_true(dance_cache_get(c, "y.example", &r));
    assert_int_equal(r.records.count, 0);
    assert_int_equal(r.ttl, 0);
    dance_cache_free(c);
}

/* ======================= LRU, capacity, flush, stats ======================= */

static void test_lru_order(void **state)
{
    dance_cache *c = new_cache(3, 0, 0, 0, 0);
    dance_cache_stats s;

    (void)state;
    assert_int_equal(put(c, "a.example", DANCE_OK, 60, 1), 0);
    assert_int_equal(put(c, "b.example", DANCE_OK, 60, 2), 0);
    assert_int_equal(put(c, "c.example", DANCE_OK, 60, 3), 0);
    assert_int_equal(has(c, "a.example"), 1);                 /* a is now newest */
    assert_int_equal(put(c, "d.example", DANCE_OK, 60, 4), 0);  /* evicts b */
    s = stats(c);
    assert_int_equal(s.evictions, 1);
    assert_int_equal(s.entries, 3);
    assert_int_equal(has(c, "b.example"), -1);
    /* touch c, a, d in that order: c becomes the least recently used */
    assert_int_equal(has(c, "c.example"), 3);
    assert_int_equal(has(c, "a.example"), 1);
    assert_int_equal(has(c, "d.example"), 4);
    assert_int_equal(put(c, "e.example", DANCE_OK, 60, 5), 0);
    assert_int_equal(has(c, "c.example"), -1);
    assert_int_equal(has(c, "a.example"), 1);
    assert_int_equal(has(c, "d.example"), 4);
    assert_int_equal(has(c, "e.example"), 5);
    /* replacing an existing name evicts nothing */
    assert_int_equal(put(c, "a.example", DANCE_OK, 60, 9), 0);
    assert_int_equal(has(c, "a.example"), 9);
    s = stats(c);
    assert_int_equal(s.evictions, 2);
    assert_int_equal(s.entries, 3);
    dance_cache_free(c);
}

static void test_capacity_one(void **state)
{
    dance_cache *c = new_cache(1, 0, 0, 0, 0);

    (void)state;
    assert_int_equal(put(c, "a.example", DANCE_OK, 60, 1), 0);
    assert_int_equal(put(c, "b.example", DANCE_OK, 60, 2), 0);
    assert_int_equal(has(c, "a.example"), -1);
    assert_int_equal(has(c, "b.example"), 2);
    assert_int_equal(put(c, "b.example", DANCE_OK, 60, 3), 0);
    assert_int_equal(has(c, "b.example"), 3);
    assert_int_equal(stats(c).evictions, 1);
    assert_int_equal(stats(c).entries, 1);
    dance_cache_free(c);
}

/* dropping an entry that had expired anyway is not an eviction */
static void test_expired_not_evicted(void **state)
{
    dance_cache *c = new_cache(2, 0, 0, 0, 0);

    (void)state;
    assert_int_equal(put(c, "a.example", DANCE_OK, 1, 1), 0);
    assert_int_equal(put(c, "b.example", DANCE_OK, 100, 2), 0);
    advance_ms(2000);
    assert_int_equal(put(c, "c.example", DANCE_OK, 100, 3), 0);
    assert_int_equal(stats(c).evictions, 0);
    assert_int_equal(stats(c).entries, 2);
    assert_int_equal(has(c, "b.example"), 2);
    assert_int_equal(has(c, "c.example"), 3);
    dance_cache_free(c);
}

/* many entries: table growth keeps every entry reachable */
static void test_many_entries(void **state)
{
    dance_cache *c = new_cache(5000, 0, 0, 0, 0);
    char name[64];
    int i;

    (void)state;
    for (i = 0; i < 6000; i++) {
        snprintf(name, sizeof(name), "d%d._device.example.org", i);
        assert_int_equal(put(c, name, DANCE_OK, 60, (unsigned char)(i & 0x7f) + 1), 0);
    }
    assert_int_equal(stats(c).entries, 5000);
    assert_int_equal(stats(c).evictions, 1000);
    for (i = 0; i < 6000; i++) {
        snprintf(name, sizeof(name), "d%d._device.example.org", i);
        assert_int_equal(has(c, name), i < 1000 ? -1 : (i & 0x7f) + 1);
    }
    dance_cache_free(c);
}

static void test_flush(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);
    fetch_ctx f;
    dance_tlsa_result r;

    (void)state;
    assert_int_equal(put(c, "a.example", DANCE_OK, 60, 1), 0);
    assert_int_equal(put(c, "b.example", DANCE_NO_RECORD, 60, 0), 0);
    dance_cache_flush(c);
    assert_int_equal(stats(c).entries, 0);
    assert_int_equal(stats(c).evictions, 0);
    assert_int_equal(has(c, "a.example"), -1);
    assert_int_equal(has(c, "b.example"), -1);
    /* and it works as before afterwards */
    fetch_ctx_init(&f, DANCE_OK, 60, 8);
    memset(&r, 0, sizeof(r));
    assert_int_equal(dance_cache_fetch(c, "a.example", test_fetch, &f, &r), 0);
    dance_tlsa_result_clear(&r);
    assert_int_equal(has(c, "a.example"), 8);
    dance_cache_flush(c);
    dance_cache_flush(c);                                  /* idempotent */
    assert_int_equal(stats(c).entries, 0);
    dance_cache_free(c);
    fetch_ctx_destroy(&f);
}

static void test_stats(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);
    fetch_ctx f;
    dance_tlsa_result r;
    const dance_cache_entry *e;
    dance_cache_stats s;

    (void)state;
    s = stats(c);
    assert_int_equal(s.hits + s.misses + s.queries + s.failures + s.evictions + s.entries, 0);
    fetch_ctx_init(&f, DANCE_OK, 60, 1);
    memset(&r, 0, sizeof(r));
    assert_false(dance_cache_get(c, "a.example", &r));          /* miss */
    assert_int_equal(dance_cache_fetch(c, "a.example", test_fetch, &f, &r), 0); /* miss+query */
    dance_tlsa_result_clear(&r);
    assert_true(dance_cache_get(c, "a.example", &r));           /* hit */
    dance_tlsa_result_clear(&r);
    assert_int_equal(dance_cache_fetch(c, "a.example", test_fetch, &f, &r), 0); /* hit */
    dance_tlsa_result_clear(&r);
    e = dance_cache_acquire(c, "a.example");                    /* hit */
    assert_non_null(e);
    dance_cache_entry_release(e);
    assert_null(dance_cache_acquire(c, "b.example"));           /* miss */
    assert_true(dance_cache_wait(c, "a.example", 0, &r));       /* not counted */
    dance_tlsa_result_clear(&r);
    assert_false(dance_cache_wait(c, "b.example", 0, &r));      /* not counted */
    s = stats(c);
    assert_int_equal(s.hits, 3);
    assert_int_equal(s.misses, 3);
    assert_int_equal(s.queries, 1);
    assert_int_equal(s.failures, 0);
    assert_int_equal(s.entries, 1);
    dance_cache_get_stats(NULL, &s);
    assert_int_equal(s.hits, 0);
    dance_cache_free(c);
    fetch_ctx_destroy(&f);
}

/* ======================= keys, copies, handles ======================= */

static void test_owner_keys(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);
    dance_tlsa_result r;
    const dance_cache_entry *e;
    char longname[300];

    (void)state;
    assert_int_equal(put(c, "Dev.Example.COM.", DANCE_OK, 60, 1), 0);
    assert_int_equal(has(c, "dev.example.com"), 1);
    assert_int_equal(has(c, "DEV.EXAMPLE.COM"), 1);
    assert_int_equal(has(c, "dev.example.com."), 1);
    assert_int_equal(has(c, "dev.example.com.."), -1);      /* only one dot stripped */
    e = dance_cache_acquire(c, "dev.example.com");
    assert_non_null(e);
    assert_string_equal(dance_cache_entry_owner(e), "dev.example.com");
    dance_cache_entry_release(e);

    memset(&r, 0, sizeof(r));
    assert_int_equal(dance_cache_put(c, NULL, &r), -1);
    assert_int_equal(dance_cache_put(c, "", &r), -1);
    assert_int_equal(dance_cache_put(c, ".", &r), -1);
    assert_int_equal(dance_cache_put(NULL, "a.example", &r), -1);
    assert_int_equal(dance_cache_put(c, "a.example", NULL), -1);
    memset(longname, 'a', sizeof(longname));
    longname[254] = '\0';
    assert_int_equal(dance_cache_put(c, longname, &r), -1);   /* 254 octets */
    longname[253] = '.';
    assert_int_equal(dance_cache_put(c, longname, &r), 0);    /* 253 + dot: ok */
    longname[253] = '\0';
    assert_int_equal(has(c, longname), -1);   /* FAILURE answer, failure_ttl 0 */
    memset(longname, 'a', sizeof(longname));
    longname[299] = '\0';
    assert_false(dance_cache_get(c, longname, &r));
    assert_false(dance_cache_get(c, NULL, &r));
    assert_int_equal(dance_cache_fetch(c, NULL, test_fetch, NULL, &r), -1);
    assert_int_equal(r.status, DANCE_LOOKUP_FAILED);
    assert_non_null(strstr(r.reason, "not a usable owner name"));
    assert_int_equal(dance_cache_fetch(c, "", test_fetch, NULL, &r), -1);
    assert_int_equal(dance_cache_fetch(c, "a.example", NULL, NULL, &r), -1);
    assert_false(dance_cache_wait(c, "", 10, &r));
    assert_false(dance_cache_in_flight(c, NULL));
    assert_null(dance_cache_acquire(c, ""));
    dance_cache_flush(NULL);
    dance_cache_free(NULL);
    dance_cache_entry_release(NULL);
    dance_cache_free(c);
}

static void test_deep_copies(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);
    dance_tlsa_result in, out;

    (void)state;
    make_answer(&in, DANCE_OK, 60, 0x11);
    assert_int_equal(dance_cache_put(c, "a.example", &in), 0);
    /* the cache copied what it was given */
    in.records.rr[0].data[0] = 0x99;
    in.records.rr[0].usage = 0;
    strcpy(in.reason, "changed");
    dance_tlsa_result_clear(&in);

    memset(&out, 0, sizeof(out));
    assert_true(dance_cache_get(c, "a.example", &out));
    assert_int_equal(out.records.rr[0].data[0], 0x11);
    /* mutating and freeing what we got back leaves the cache alone */
    out.records.rr[0].data[0] = 0x77;
    out.records.rr[0].usage = 1;
    strcpy(out.reason, "mutated");
    dance_tlsa_result_clear(&out);

    assert_true(dance_cache_get(c, "a.example", &out));
    assert_int_equal(out.records.rr[0].data[0], 0x11);
    assert_int_equal(out.records.rr[0].usage, 3);
    assert_string_equal(out.reason, "answer 17");
    dance_tlsa_result_clear(&out);
    dance_cache_free(c);
}

static void test_entry_handles(void **state)
{
    dance_cache *c = new_cache(1, 0, 0, 0, 0);
    const dance_cache_entry *e, *e2;
    const dance_tlsa_rrset *set;
    dance_tlsa_result r;

    (void)state;
    assert_null(dance_cache_acquire(c, "a.example"));
    assert_int_equal(put(c, "a.example", DANCE_OK, 60, 0x21), 0);
    e = dance_cache_acquire(c, "a.example");
    assert_non_null(e);
    assert_int_equal(dance_cache_entry_status(e), DANCE_OK);
    assert_int_equal(dance_cache_entry_ttl(e), 60);
    assert_string_equal(dance_cache_entry_reason(e), "answer 33");
    set = dance_cache_entry_records(e);
    assert_int_equal(set->count, 2);
    assert_int_equal(set->rr[0].len, 32);
    assert_int_equal(set->rr[0].data[31], 0x21);
    assert_int_equal(set->rr[1].len, 16);

    /* replaced, evicted, flushed, cache freed: the handle stays valid */
    assert_int_equal(put(c, "a.example", DANCE_OK, 60, 0x22), 0);
    e2 = dance_cache_acquire(c, "a.example");
    assert_int_equal(dance_cache_entry_records(e2)->rr[0].data[0], 0x22);
    assert_int_equal(put(c, "b.example", DANCE_OK, 60, 0x23), 0);
    dance_cache_flush(c);
    dance_cache_free(c);
    assert_int_equal(set->rr[0].data[0], 0x21);
    assert_string_equal(dance_cache_entry_owner(e), "a.example");
    memset(&r, 0, sizeof(r));
    assert_int_equal(dance_cache_entry_to_result(e2, &r), 0);
    assert_int_equal(r.records.rr[0].data[0], 0x22);
    dance_tlsa_result_clear(&r);
    dance_cache_entry_release(e);
    dance_cache_entry_release(e2);

    /* a non-secure entry has an empty record set and a reason */
    c = new_cache(0, 0, 0, 0, 30);
    assert_int_equal(put(c, "a.example", DANCE_BOGUS, 0, 0), 0);
    e = dance_cache_acquire(c, "a.example");
    assert_non_null(e);
    assert_int_equal(dance_cache_entry_status(e), DANCE_BOGUS);
    assert_int_equal(dance_cache_entry_records(e)->count, 0);
    assert_null(dance_cache_entry_records(e)->rr);
    assert_string_equal(dance_cache_entry_reason(e), "answer 0");
    dance_cache_entry_release(e);
    dance_cache_free(c);
}

/* ======================= threads: single flight, wait ======================= */

#define SF_THREADS 8

typedef struct sf_arg {
    dance_cache *c;
    fetch_ctx *f;
    const char *owner;
    pthread_barrier_t *barrier;
    int rc;
    dance_tlsa_result r;
    bool waited;                 /* for wait threads: return value */
    unsigned timeout_ms;
    atomic_bool finished;
} sf_arg;

static void *fetch_thread(void *p)
{
    sf_arg *a = p;

    if (a->barrier != NULL)
        pthread_barrier_wait(a->barrier);
    memset(&a->r, 0, sizeof(a->r));
    a->rc = dance_cache_fetch(a->c, a->owner, test_fetch, a->f, &a->r);
    return NULL;
}

static void *wait_thread(void *p)
{
    sf_arg *a = p;

    memset(&a->r, 0, sizeof(a->r));
    a->waited = dance_cache_wait(a->c, a->owner, a->timeout_ms, &a->r);
    atomic_store(&a->finished, true);
    return NULL;
}

static void test_single_flight(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);
    pthread_t th[SF_THREADS];
    sf_arg arg[SF_THREADS];
    pthread_barrier_t barrier;
    fetch_ctx f;
    dance_cache_stats s;
    int i;

    (void)state;
    fetch_ctx_init(&f, DANCE_OK, 60, 0x42);
    f.sleep_ms = 100;
    pthread_barrier_init(&barrier, NULL, SF_THREADS);
    for (i = 0; i < SF_THREADS; i++) {
        arg[i] = (sf_arg){ .c = c, .f = &f, .owner = "sf._device.example.com",
                           .barrier = &barrier };
        assert_int_equal(pthread_create(&th[i], NULL, fetch_thread, &arg[i]), 0);
    }
    for (i = 0; i < SF_THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&f.calls), 1);
    for (i = 0; i < SF_THREADS; i++) {
        assert_int_equal(arg[i].rc, 0);
        assert_int_equal(arg[i].r.status, DANCE_OK);
        assert_int_equal(arg[i].r.records.count, 2);
        assert_int_equal(arg[i].r.records.rr[0].data[5], 0x42);
        assert_string_equal(arg[i].r.reason, "fetched sf._device.example.com");
        dance_tlsa_result_clear(&arg[i].r);
    }
    s = stats(c);
    assert_int_equal(s.queries, 1);
    assert_int_equal(s.hits + s.misses, SF_THREADS);
    assert_int_equal(s.entries, 1);
    pthread_barrier_destroy(&barrier);
    dance_cache_free(c);
    fetch_ctx_destroy(&f);
}

/* wait_for_misses - spin until the cache counted n misses: a fetch caller
 * counts its miss under the lock in the same critical section in which it
 * joins (or opens) the flight, so after this every one of them is in. */
static void wait_for_misses(dance_cache *c, uint64_t n)
{
    int ms = 0;

    while (stats(c).misses < n && ms < 20000) {
        sleep_ms(1);
        ms++;
    }
    assert_true(stats(c).misses >= n);        /* not a deadline: a hang guard */
}

/* waiters joined before the answer that is not storable still get it */
static void test_single_flight_unstorable(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);           /* failure_ttl 0 */
    pthread_t th[4];
    sf_arg arg[4];
    fetch_ctx f;
    int i;

    (void)state;
    fetch_ctx_init(&f, DANCE_LOOKUP_FAILED, 0, 0);
    f.gated = true;
    for (i = 0; i < 4; i++) {
        arg[i] = (sf_arg){ .c = c, .f = &f, .owner = "down.example" };
        assert_int_equal(pthread_create(&th[i], NULL, fetch_thread, &arg[i]), 0);
    }
    wait_for_misses(c, 4);
    assert_true(dance_cache_in_flight(c, "down.example"));
    assert_true(dance_cache_in_flight(c, "DOWN.example."));
    assert_false(dance_cache_in_flight(c, "up.example"));
    fetch_ctx_open(&f);
    for (i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&f.calls), 1);
    for (i = 0; i < 4; i++) {
        assert_int_equal(arg[i].rc, 0);
        assert_int_equal(arg[i].r.status, DANCE_LOOKUP_FAILED);
        assert_string_equal(arg[i].r.reason, "fetched down.example");
    }
    assert_false(dance_cache_in_flight(c, "down.example"));
    assert_int_equal(stats(c).entries, 0);
    assert_int_equal(stats(c).failures, 1);
    dance_cache_free(c);
    fetch_ctx_destroy(&f);
}

/* flush while a fetch runs: waiters get the answer, it is not stored */
static void test_flush_during_fetch(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);
    pthread_t th[3];
    sf_arg arg[3];
    fetch_ctx f;
    int i;

    (void)state;
    fetch_ctx_init(&f, DANCE_OK, 60, 0x33);
    f.gated = true;
    assert_int_equal(put(c, "other.example", DANCE_OK, 60, 1), 0);
    for (i = 0; i < 3; i++) {
        arg[i] = (sf_arg){ .c = c, .f = &f, .owner = "flushed.example" };
        assert_int_equal(pthread_create(&th[i], NULL, fetch_thread, &arg[i]), 0);
    }
    wait_for_misses(c, 3);
    dance_cache_flush(c);
    assert_true(dance_cache_in_flight(c, "flushed.example"));   /* flight kept */
    fetch_ctx_open(&f);
    for (i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < 3; i++) {
        assert_int_equal(arg[i].rc, 0);
        assert_int_equal(arg[i].r.status, DANCE_OK);
        assert_int_equal(arg[i].r.records.rr[0].data[0], 0x33);
        dance_tlsa_result_clear(&arg[i].r);
    }
    assert_int_equal(atomic_load(&f.calls), 1);
    assert_int_equal(stats(c).entries, 0);
    assert_int_equal(has(c, "flushed.example"), -1);
    assert_int_equal(has(c, "other.example"), -1);
    /* a fetch begun after the flush is stored again */
    f.gated = false;
    memset(&arg[0].r, 0, sizeof(arg[0].r));
    assert_int_equal(dance_cache_fetch(c, "flushed.example", test_fetch, &f, &arg[0].r), 0);
    dance_tlsa_result_clear(&arg[0].r);
    assert_int_equal(has(c, "flushed.example"), 0x33);
    dance_cache_free(c);
    fetch_ctx_destroy(&f);
}

/* an answer for a name evicted (or never stored) meanwhile is stored */
static void test_answer_after_eviction(void **state)
{
    dance_cache *c = new_cache(1, 0, 0, 0, 0);
    pthread_t th;
    sf_arg arg;
    fetch_ctx f;

    (void)state;
    fetch_ctx_init(&f, DANCE_OK, 60, 0x44);
    f.gated = true;
    assert_int_equal(put(c, "a.example", DANCE_OK, 1, 1), 0);
    advance_ms(1000);                                    /* a expired */
    arg = (sf_arg){ .c = c, .f = &f, .owner = "a.example" };
    assert_int_equal(pthread_create(&th, NULL, fetch_thread, &arg), 0);
    wait_for_misses(c, 1);
    assert_int_equal(put(c, "b.example", DANCE_OK, 60, 2), 0);  /* a gone */
    assert_int_equal(has(c, "a.example"), -1);
    fetch_ctx_open(&f);
    pthread_join(th, NULL);
    assert_int_equal(arg.rc, 0);
    dance_tlsa_result_clear(&arg.r);
    assert_int_equal(has(c, "a.example"), 0x44);         /* stored, evicting b */
    assert_int_equal(has(c, "b.example"), -1);
    assert_int_equal(stats(c).evictions, 1);
    dance_cache_free(c);
    fetch_ctx_destroy(&f);
}

/* the answer that arrives last wins, also over a put made while fetching */
static void test_last_answer_wins(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);           /* failure_ttl 0 */
    pthread_t th;
    sf_arg arg;
    fetch_ctx f;

    (void)state;
    fetch_ctx_init(&f, DANCE_OK, 60, 0x71);
    f.gated = true;
    arg = (sf_arg){ .c = c, .f = &f, .owner = "l.example" };
    assert_int_equal(pthread_create(&th, NULL, fetch_thread, &arg), 0);
    wait_for_misses(c, 1);
    assert_int_equal(put(c, "l.example", DANCE_OK, 60, 0x70), 0);
    assert_int_equal(has(c, "l.example"), 0x70);
    fetch_ctx_open(&f);
    pthread_join(th, NULL);
    dance_tlsa_result_clear(&arg.r);
    assert_int_equal(has(c, "l.example"), 0x71);          /* replaced */

    /* an unstorable answer removes what was put meanwhile */
    advance_ms(60000);
    f.status = DANCE_LOOKUP_FAILED;
    f.open = false;
    arg = (sf_arg){ .c = c, .f = &f, .owner = "l.example" };
    assert_int_equal(pthread_create(&th, NULL, fetch_thread, &arg), 0);
    wait_for_misses(c, 2);
    assert_int_equal(put(c, "l.example", DANCE_OK, 60, 0x72), 0);
    assert_int_equal(has(c, "l.example"), 0x72);
    fetch_ctx_open(&f);
    pthread_join(th, NULL);
    assert_int_equal(arg.r.status, DANCE_LOOKUP_FAILED);
    assert_int_equal(has(c, "l.example"), -1);
    assert_int_equal(atomic_load(&f.calls), 2);
    dance_cache_free(c);
    fetch_ctx_destroy(&f);
}

static void test_wait_timeout(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);
    dance_tlsa_result r;
    fetch_ctx f;
    pthread_t th;
    sf_arg arg;

    (void)state;
    memset(&r, 0, sizeof(r));
    /* nothing cached, nobody fetching */
    assert_false(dance_cache_wait(c, "slow.example", 50, &r));
    assert_int_equal(r.status, DANCE_LOOKUP_FAILED);
    assert_int_equal(r.records.count, 0);
    assert_string_equal(r.reason, "no TLSA answer for slow.example within 50 ms");
    assert_false(dance_cache_in_flight(c, "slow.example"));  /* wait left no mark */
    assert_false(dance_cache_wait(c, "slow.example", 0, &r));

    /* a fetch that is stuck: the wait gives up, the fetch carries on */
    fetch_ctx_init(&f, DANCE_OK, 60, 0x55);
    f.gated = true;
    arg = (sf_arg){ .c = c, .f = &f, .owner = "slow.example" };
    assert_int_equal(pthread_create(&th, NULL, fetch_thread, &arg), 0);
    wait_for_misses(c, 1);
    assert_false(dance_cache_wait(c, "slow.example", 30, &r));
    assert_int_equal(r.status, DANCE_LOOKUP_FAILED);
    assert_true(dance_cache_in_flight(c, "slow.example"));
    fetch_ctx_open(&f);
    pthread_join(th, NULL);
    assert_int_equal(arg.rc, 0);
    assert_int_equal(arg.r.status, DANCE_OK);
    dance_tlsa_result_clear(&arg.r);
    /* now cached: wait returns at once, even with no time to spare */
    assert_true(dance_cache_wait(c, "slow.example", 0, &r));
    assert_int_equal(r.records.rr[0].data[0], 0x55);
    dance_tlsa_result_clear(&r);
    assert_int_equal(atomic_load(&f.calls), 1);
    dance_cache_free(c);
    fetch_ctx_destroy(&f);
}

/* the broker thread waits while a worker fetches */
static void test_wait_for_fetch(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);            /* failure_ttl 0 */
    dance_tlsa_result r;
    fetch_ctx f;
    pthread_t th;
    sf_arg arg;

    (void)state;
    fetch_ctx_init(&f, DANCE_LOOKUP_FAILED, 0, 0);
    f.sleep_ms = 100;
    arg = (sf_arg){ .c = c, .f = &f, .owner = "w.example" };
    assert_int_equal(pthread_create(&th, NULL, fetch_thread, &arg), 0);
    while (!dance_cache_in_flight(c, "w.example") && atomic_load(&f.calls) == 0)
        sleep_ms(1);
    memset(&r, 0, sizeof(r));
    /* A FAILURE with failure_ttl 0 is never stored, so getting it proves the
     * wait joined the flight. The flight may in principle end before we
     * join it (slow machine); then we see the answer of a second fetch. */
    while (!dance_cache_wait(c, "w.example", 5000, &r)) {
        pthread_join(th, NULL);
        dance_tlsa_result_clear(&arg.r);
        assert_int_equal(pthread_create(&th, NULL, fetch_thread, &arg), 0);
    }
    assert_int_equal(r.status, DANCE_LOOKUP_FAILED);
    assert_string_equal(r.reason, "fetched w.example");
    pthread_join(th, NULL);
    assert_int_equal(arg.rc, 0);
    dance_cache_free(c);
    fetch_ctx_destroy(&f);
}

/* a wait that starts before any worker: a later fetch or put answers it */
static void test_wait_before_fetch(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);            /* nothing stored */
    pthread_t th;
    sf_arg arg;
    dance_tlsa_result r;
    fetch_ctx f;
    int rounds = 0;

    (void)state;
    arg = (sf_arg){ .c = c, .owner = "early.example", .timeout_ms = 30000 };
    assert_int_equal(pthread_create(&th, NULL, wait_thread, &arg), 0);
    /* put (not storable here) completes the waiter's flight; repeat in case
     * the waiter was not registered yet */
    fetch_ctx_init(&f, DANCE_BOGUS, 0, 0);
    do {
        sleep_ms(20);
        memset(&r, 0, sizeof(r));
        make_answer(&r, DANCE_BOGUS, 0, 0x66);
        assert_int_equal(dance_cache_put(c, "early.example", &r), 0);
        dance_tlsa_result_clear(&r);
        rounds++;
    } while (rounds < 1000 && !atomic_load(&arg.finished));
    pthread_join(th, NULL);
    assert_true(rounds < 1000);
    assert_true(arg.waited);
    assert_int_equal(arg.r.status, DANCE_BOGUS);
    assert_string_equal(arg.r.reason, "answer 102");
    assert_int_equal(stats(c).entries, 0);

    /* same with a fetch starting after the wait: it takes over the flight */
    arg = (sf_arg){ .c = c, .owner = "early.example", .timeout_ms = 30000 };
    assert_int_equal(pthread_create(&th, NULL, wait_thread, &arg), 0);
    rounds = 0;
    do {
        sleep_ms(20);
        memset(&r, 0, sizeof(r));
        assert_int_equal(dance_cache_fetch(c, "early.example", test_fetch, &f, &r), 0);
        assert_int_equal(r.status, DANCE_BOGUS);
        dance_tlsa_result_clear(&r);
        rounds++;
    } while (rounds < 1000 && !atomic_load(&arg.finished));
    pthread_join(th, NULL);
    assert_true(rounds < 1000);
    assert_true(arg.waited);
    assert_int_equal(arg.r.status, DANCE_BOGUS);
    assert_string_equal(arg.r.reason, "fetched early.example");
    assert_false(dance_cache_in_flight(c, "early.example"));
    dance_cache_free(c);
    fetch_ctx_destroy(&f);
}

/* ======================= asynchronous flights ======================= */

/* One dance_cache_begin .. dance_cache_complete on a fresh cache (fake
 * clock): what begin says, what the answer becomes, whether it is stored,
 * and the counters. */
typedef struct flight_case {
    const char *what;
    uint32_t negative_ttl, failure_ttl;
    bool cached;                /* a fresh entry (marker 9) before begin */
    bool flush;                 /* flush between begin and complete */
    dance_status status;        /* the lookup's answer */
    uint32_t ttl;
    int begin;                  /* dance_cache_begin's return */
    dance_status handed;        /* answer status after complete */
    size_t records;             /* answer records after complete */
    uint32_t handed_ttl;
    int stored;                 /* has() after: marker, 0 other status, -1 none */
    uint64_t queries, failures;
} flight_case;

static const flight_case flight_cases[] = {
    /* what                              neg fail cached flush status              ttl begin handed              rec ttl  stored q  f */
    { "cold name: begin starts, stored",   0,  0, false, false, DANCE_OK,            60, 1, DANCE_OK,            2,  60, 0x42, 1, 0 },
    { "fresh entry: nothing to start",     0,  0, true,  false, DANCE_OK,            60, 0, DANCE_OK,            2,  60, 9,    0, 0 },
    { "failure_ttl 0: handed, not stored", 0,  0, false, false, DANCE_LOOKUP_FAILED,  0, 1, DANCE_LOOKUP_FAILED, 0,   0, -1,   1, 1 },
    { "failure cached for failure_ttl",    0,  5, false, false, DANCE_LOOKUP_FAILED,  0, 1, DANCE_LOOKUP_FAILED, 0,   0, 0,    1, 1 },
    { "negative: negative_ttl",           10,  0, false, false, DANCE_NO_RECORD,    300, 1, DANCE_NO_RECORD,     0, 300, 0,    1, 0 },
    { "bogus: its TTL dropped",            0,  5, false, false, DANCE_BOGUS,         60, 1, DANCE_BOGUS,         0,   0, 0,    1, 0 },
    { "invalid status: a failure",         0,  5, false, false, DANCE_BAD_SIGNATURE, 60, 1, DANCE_LOOKUP_FAILED, 0,   0, 0,    1, 1 },
    { "flush between: not stored",         0,  0, false, true,  DANCE_OK,            60, 1, DANCE_OK,            2,  60, -1,   1, 0 },
};

static void test_flight(void **state)
{
    const flight_case *t = *state;
    dance_cache *c = new_cache(0, 0, 0, t->negative_ttl, t->failure_ttl);
    const char *owner = "flight._device.example";
    dance_tlsa_result r;
    dance_cache_stats s;

    if (t->cached)
        assert_int_equal(put(c, owner, DANCE_OK, 60, 9), 0);
    assert_int_equal(dance_cache_begin(c, "Flight._Device.Example."), t->begin);
    assert_int_equal(dance_cache_in_flight(c, owner), t->begin == 1);
    if (t->begin == 1) {
        /* one flight per name: a second begin has nothing to start */
        assert_int_equal(dance_cache_begin(c, owner), 0);
        if (t->flush)
            dance_cache_flush(c);
        make_answer(&r, t->status, t->ttl, 0x42);
        assert_int_equal(dance_cache_complete(c, owner, &r), 0);
        assert_int_equal(r.status, t->handed);
        assert_int_equal(r.records.count, t->records);
        assert_int_equal(r.ttl, t->handed_ttl);
        if (t->handed != t->status)
            assert_string_equal(r.reason, "TLSA lookup for flight._device.example "
                                "returned an invalid status");
        dance_tlsa_result_clear(&r);
        assert_false(dance_cache_in_flight(c, owner));
    }
    assert_int_equal(has(c, owner), t->stored);
    s = stats(c);
    assert_int_equal(s.queries, t->queries);
    assert_int_equal(s.failures, t->failures);
    assert_int_equal(s.misses, t->stored == -1 ? 1 : 0);  /* has() only */
    dance_cache_free(c);
}

/* a dance_cache_wait caller joins a flight that dance_cache_begin marked,
 * and gets its answer even when it is not stored; begin takes over a
 * flight opened by a waiter */
static void test_flight_waiters(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);            /* nothing stored */
    pthread_t th;
    sf_arg arg;
    dance_tlsa_result r;
    int rounds = 0;

    (void)state;
    arg = (sf_arg){ .c = c, .owner = "joined.example", .timeout_ms = 30000 };
    assert_int_equal(dance_cache_begin(c, "joined.example"), 1);
    assert_int_equal(pthread_create(&th, NULL, wait_thread, &arg), 0);
    /* The waiter may register only after a complete (slow machine): then
     * it opened a flight of its own, which the next begin takes over. */
    for (;;) {
        sleep_ms(20);
        make_answer(&r, DANCE_BOGUS, 0, 0x77);
        assert_int_equal(dance_cache_complete(c, "joined.example", &r), 0);
        dance_tlsa_result_clear(&r);
        rounds++;
        if (atomic_load(&arg.finished) || rounds == 1000)
            break;
        assert_int_equal(dance_cache_begin(c, "joined.example"), 1);
    }
    pthread_join(th, NULL);
    assert_true(rounds < 1000);
    assert_true(arg.waited);
    assert_int_equal(arg.r.status, DANCE_BOGUS);
    assert_string_equal(arg.r.reason, "answer 119");
    dance_tlsa_result_clear(&arg.r);
    assert_int_equal(stats(c).entries, 0);
    assert_false(dance_cache_in_flight(c, "joined.example"));

    /* a complete without a begin stores like put; unusable names refused */
    make_answer(&r, DANCE_OK, 60, 0x31);
    assert_int_equal(dance_cache_complete(c, "loose.example", &r), 0);
    dance_tlsa_result_clear(&r);
    assert_int_equal(has(c, "loose.example"), 0x31);
    assert_int_equal(dance_cache_begin(c, ""), -1);
    assert_int_equal(dance_cache_begin(NULL, "a.example"), -1);
    dance_cache_free(c);
}

/* begin out of memory: -1 and no flight left behind */
static void test_alloc_begin(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);
    dance_tlsa_result r;

    (void)state;
    atomic_store(&fail_in, 0);
    assert_int_equal(dance_cache_begin(c, "a.example"), -1);
    assert_true(injected());
    assert_false(dance_cache_in_flight(c, "a.example"));
    assert_int_equal(stats(c).queries, 0);
    /* the entry for a completed flight cannot be built: the answer says so */
    assert_int_equal(dance_cache_begin(c, "a.example"), 1);
    make_answer(&r, DANCE_OK, 60, 3);
    atomic_store(&fail_in, 0);
    assert_int_equal(dance_cache_complete(c, "a.example", &r), -1);
    assert_true(injected());
    assert_int_equal(r.status, DANCE_LOOKUP_FAILED);
    assert_int_equal(r.records.count, 0);
    assert_string_equal(r.reason, "out of memory while caching the TLSA answer "
                        "for a.example");
    assert_false(dance_cache_in_flight(c, "a.example"));
    assert_int_equal(has(c, "a.example"), -1);
    dance_cache_free(c);
}

/* ======================= allocation failures ======================= */

static void test_alloc_new(void **state)
{
    dance_cache_config cfg = { .capacity = 10 };
    int n;

    (void)state;
    for (n = 0; n < 20; n++) {
        dance_cache *c;
        atomic_store(&fail_in, n);
        c = dance_cache_new(&cfg);
        if (!injected()) {
            assert_non_null(c);
            dance_cache_free(c);
            break;
        }
        assert_null(c);
    }
    assert_true(n > 0 && n < 20);
}

static void test_alloc_put_get(void **state)
{
    dance_cache *c = new_cache(0, 0, 0, 0, 0);
    dance_tlsa_result r;
    int n;

    (void)state;
    assert_int_equal(put(c, "a.example", DANCE_OK, 60, 1), 0);
    /* put fails cleanly: the old entry stays */
    make_answer(&r, DANCE_OK, 60, 2);
    atomic_store(&fail_in, 0);
    assert_int_equal(dance_cache_put(c, "a.example", &r), -1);
    assert_true(injected());
    dance_tlsa_result_clear(&r);
    assert_int_equal(has(c, "a.example"), 1);

    /* get: a copy that cannot be made is a FAILURE, not a partial answer */
    for (n = 0; n < 20; n++) {
        bool hit;
        memset(&r, 0, sizeof(r));
        atomic_store(&fail_in, n);
        hit = dance_cache_get(c, "a.example", &r);
        if (!injected()) {
            assert_true(hit);
            assert_int_equal(r.records.count, 2);
            dance_tlsa_result_clear(&r);
            break;
        }
        assert_false(hit);
        assert_int_equal(r.status, DANCE_LOOKUP_FAILED);
        assert_int_equal(r.records.count, 0);
        assert_null(r.records.rr);
        assert_non_null(strstr(r.reason, "out of memory"));
    }
    assert_true(n > 0 && n < 20);
    assert_int_equal(has(c, "a.example"), 1);
    dance_cache_free(c);
}

static void test_alloc_fetch(void **state)
{
    fetch_ctx f;
    int n;

    (void)state;
    fetch_ctx_init(&f, DANCE_OK, 60, 3);
    for (n = 0; n < 40; n++) {
        dance_cache *c = new_cache(0, 0, 0, 0, 0);
        dance_tlsa_result r;
        int rc;

        memset(&r, 0, sizeof(r));
        atomic_store(&fail_in, n);
        rc = dance_cache_fetch(c, "a.example", test_fetch, &f, &r);
        if (!injected()) {
            assert_int_equal(rc, 0);
            assert_int_equal(r.status, DANCE_OK);
            dance_tlsa_result_clear(&r);
            dance_cache_free(c);
            break;
        }
        /* either the cache failed (-1) or the fetch function reported it */
        assert_int_equal(r.status, DANCE_LOOKUP_FAILED);
        assert_int_equal(r.records.count, 0);
        assert_true(rc == -1 || strcmp(r.reason, "test fetch out of memory") == 0);
        if (rc == -1)
            assert_non_null(strstr(r.reason, "out of memory"));
        assert_false(dance_cache_in_flight(c, "a.example"));
        assert_int_equal(has(c, "a.example"), -1);       /* nothing half-stored */
        dance_tlsa_result_clear(&r);
        dance_cache_free(c);
    }
    assert_true(n > 2 && n < 40);
    fetch_ctx_destroy(&f);
}

static void test_alloc_grow(void **state)
{
    dance_cache *c = new_cache(1000, 0, 0, 0, 0);
    char name[64];
    int i;

    (void)state;
    atomic_store(&fail_all_calloc, true);      /* the table cannot grow */
    for (i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "g%d.example", i);
        assert_int_equal(put(c, name, DANCE_OK, 60, (unsigned char)(i % 100) + 1), 0);
    }
    atomic_store(&fail_all_calloc, false);
    for (i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "g%d.example", i);
        assert_int_equal(has(c, name), (i % 100) + 1);
    }
    assert_int_equal(stats(c).entries, 500);
    dance_cache_free(c);
}

int main(void)
{
    struct CMUnitTest expiry[sizeof(expiry_cases) / sizeof(expiry_cases[0])];
    size_t i;
    int failed;

    for (i = 0; i < sizeof(expiry) / sizeof(expiry[0]); i++) {
        struct CMUnitTest t = {
            .name = expiry_cases[i].what, .test_func = test_expiry,
            .initial_state = (void *)&expiry_cases[i],
        };
        expiry[i] = t;
    }
    failed = cmocka_run_group_tests_name("cache expiry", expiry, NULL, NULL);

    struct CMUnitTest flight[sizeof(flight_cases) / sizeof(flight_cases[0])];
    for (i = 0; i < sizeof(flight_cases) / sizeof(flight_cases[0]); i++) {
        struct CMUnitTest t = {
            .name = flight_cases[i].what, .test_func = test_flight,
            .initial_state = (void *)&flight_cases[i],
        };
        flight[i] = t;
    }
    failed += cmocka_run_group_tests_name("cache flights", flight, NULL, NULL);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positive_ttl),
        cmocka_unit_test(test_unstorable_replaces_stored),
        cmocka_unit_test(test_records_only_when_secure),
        cmocka_unit_test(test_fetch_failure_cached),
        cmocka_unit_test(test_fetch_secure_then_expiry),
        cmocka_unit_test(test_fetch_invalid_status),
        cmocka_unit_test(test_lru_order),
        cmocka_unit_test(test_capacity_one),
        cmocka_unit_test(test_expired_not_evicted),
        cmocka_unit_test(test_many_entries),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_owner_keys),
        cmocka_unit_test(test_deep_copies),
        cmocka_unit_test(test_entry_handles),
        cmocka_unit_test(test_single_flight),
        cmocka_unit_test(test_single_flight_unstorable),
        cmocka_unit_test(test_flush_during_fetch),
        cmocka_unit_test(test_answer_after_eviction),
        cmocka_unit_test(test_last_answer_wins),
        cmocka_unit_test(test_wait_timeout),
        cmocka_unit_test(test_wait_for_fetch),
        cmocka_unit_test(test_wait_before_fetch),
        cmocka_unit_test(test_flight_waiters),
        cmocka_unit_test(test_alloc_begin),
        cmocka_unit_test(test_alloc_new),
        cmocka_unit_test(test_alloc_put_get),
        cmocka_unit_test(test_alloc_fetch),
        cmocka_unit_test(test_alloc_grow),
    };

    return failed + cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
