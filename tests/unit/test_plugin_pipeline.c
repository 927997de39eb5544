/*
 * tests/unit/test_plugin_pipeline.c - the plugin's message pipeline
 * (plugin/pipeline.c) with real threads, a real TLSA cache, the real
 * worker pool and libdance's JWS code: warm senders verified in
 * per-sender order across verify threads, JWS and COSE_Sign1 from one
 * sender mixed (binary payloads kept byte for byte), refusals on the spot (nothing
 * queued, no lookup), the queue cap in messages and in bytes, a cold
 * sender parked behind one DNS lookup while a warm sender on the same
 * thread goes on, lookup budgets per publisher (rate_limited), and
 * stopping with messages in flight (checked by ASan/LSan in sanitizer
 * builds).
 *
 * Records are put into the cache directly; "DNS" for cold senders is a
 * UDP socket that never answers, so their lookups fail after the timeout
 * (the integration tests cover cold senders that do get an answer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dance/cose.h"
#include "dance/jws.h"
#include "dance/name.h"
#include "pipeline.h"
#include "workers.h"

#define TOPIC "sensors/x"
#define WARM1 "warm1._device.acme.example"
#define WARM2 "warm2._device.acme.example"
#define COLD "cold._device.acme.example"
#define MAX_OUT 512

/* What drain reported, copied out of the callback. */
typedef struct outcome {
    dance_status status;
    char sender[DANCE_NAME_MAX + 1];
    char key_source[DANCE_JWS_KEY_SOURCE_MAX];
    char payload[512];          /* the JWS as published */
    unsigned char raw[512];     /* its first bytes, any bytes */
    size_t raw_len;             /* the whole message's length */
    char topic[64];
    int qos;
    bool retain;
    bool forwarded;
} outcome;

typedef struct env {
    char ta_path[32];
    int hole;
    dance_resolver_config rc;
    char upstream[64];
    dance_cache *cache;
    dance_matcher *matcher;
    mdp_workers *workers;
    dance_allowlist *allow;
    mdp_pipeline *pl;
    EVP_PKEY *k1, *k2, *kcold;
    uint64_t now_ms;            /* the pipeline's clock (env_new_limits) */
    outcome out[MAX_OUT];
    size_t n_out;
} env;

static uint64_t env_clock(void *ctx)
{
    return ((env *)ctx)->now_ms;
}

static void on_outcome(void *ctx, const mdp_msg_outcome *o)
{
    env *e = ctx;
    outcome *d;

    assert_true(e->n_out < MAX_OUT);
    d = &e->out[e->n_out++];
    d->status = o->result->status;
    snprintf(d->sender, sizeof(d->sender), "%s", o->result->sender);
    snprintf(d->key_source, sizeof(d->key_source), "%s", o->result->key_source);
    snprintf(d->payload, sizeof(d->payload), "%.*s", (int)o->payload_len,
             (const char *)o->payload);
    memcpy(d->raw, o->payload, o->payload_len < sizeof(d->raw) ? o->payload_len
                                                               : sizeof(d->raw));
    d->raw_len = o->payload_len;
    snprintf(d->topic, sizeof(d->topic), "%s", o->topic);
    d->qos = o->qos;
    d->retain = o->retain;
    d->forwarded = o->forwarded;
    assert_null(o->result->payload);
}

/* drain_until - drain until n outcomes in total (10 s at most). */
static void drain_until(env *e, size_t n)
{
    for (int i = 0; i < 2000 && e->n_out < n; i++) {
        mdp_pipeline_drain(e->pl, on_outcome, e);
        if (e->n_out < n)
            usleep(5000);
    }
    if (e->n_out < n)
        fail_msg("only %zu of %zu outcomes", e->n_out, n);
}

static EVP_PKEY *ec_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    assert_non_null(k);
    return k;
}

/* put_key - a secure 3 1 0 record of key's SPKI for owner in the cache. */
static void put_key(dance_cache *c, const char *owner, EVP_PKEY *key)
{
    dance_tlsa_result r;
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(key, &der);

    assert_true(len > 0);
    memset(&r, 0, sizeof(r));
    r.status = DANCE_OK;
    r.ttl = 600;
    assert_int_equal(dance_tlsa_rrset_add(&r.records, 3, 1, 0, der, (size_t)len), 0);
    assert_int_equal(dance_cache_put(c, owner, &r), 0);
    dance_tlsa_result_clear(&r);
    OPENSSL_free(der);
}

static char *sign(EVP_PKEY *key, const char *name, const char *payload, const char *topic)
{
    dance_jws_sign_opts o;
    char *out = NULL, err[256];
    size_t len;

    memset(&o, 0, sizeof(o));
    o.key = key;
    o.name = name;
    o.topic = topic;
    o.serialization = DANCE_JWS_COMPACT;
    if (dance_jws_sign(&o, payload, strlen(payload), &out, &len, err, sizeof(err)) != 0)
        fail_msg("sign: %s", err);
    return out;
}

/* sign_cose - a COSE_Sign1 of len bytes of payload (binary). */
static unsigned char *sign_cose(EVP_PKEY *key, const char *name, const void *payload,
                                size_t len, const char *topic, size_t *outlen)
{
    dance_jws_sign_opts o;
    unsigned char *out = NULL;
    char err[256];

    memset(&o, 0, sizeof(o));
    o.key = key;
    o.name = name;
    o.topic = topic;
    if (dance_cose_sign(&o, payload, len, &out, outlen, err, sizeof(err)) != 0)
        fail_msg("sign: %s", err);
    return out;
}

/* blackhole_udp - a bound local UDP socket that never answers. */
static int blackhole_udp(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int s = socket(AF_INET, SOCK_DGRAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return s;
}

/* Bounds beyond env_new's: bytes, lookup budget (with env's clock). */
typedef struct limits {
    size_t queue_bytes;
    unsigned rate, burst;
} limits;

static env *env_new_limits(unsigned threads, size_t queue_max, size_t dns_reserve,
                           const limits *lim)
{
    env *e = calloc(1, sizeof(*e));
    mdp_workers_config wc;
    mdp_pipeline_config pc;
    dance_cache_config cc;
    char err[256];
    int fd, port;
    const char *ds = ". IN DS 20326 8 2 "
        "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";

    assert_non_null(e);
    snprintf(e->ta_path, sizeof(e->ta_path), "/tmp/dance-ta-XXXXXX");
    fd = mkstemp(e->ta_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, ds, strlen(ds)), (ssize_t)strlen(ds));
    close(fd);
    e->hole = blackhole_udp(&port);
    snprintf(e->upstream, sizeof(e->upstream), "127.0.0.1@%d", port);
    e->rc.upstreams = e->upstream;
    e->rc.trust_anchor_file = e->ta_path;
    e->rc.timeout_ms = 300;
    e->rc.transport = DANCE_TRANSPORT_UDP;
    memset(&cc, 0, sizeof(cc));
    e->cache = dance_cache_new(&cc);
    assert_non_null(e->cache);
    e->matcher = dance_matcher_new(NULL, err, sizeof(err));
    assert_non_null(e->matcher);
    memset(&wc, 0, sizeof(wc));
    wc.threads = 1;
    wc.queue_max = 16;
    wc.resolver = &e->rc;
    wc.cache = e->cache;
    wc.matcher = e->matcher;
    e->workers = mdp_workers_start(&wc, NULL, err, sizeof(err));
    if (e->workers == NULL)
        fail_msg("workers: %s", err);
    e->allow = dance_allowlist_parse("acme.example", err, sizeof(err));
    assert_non_null(e->allow);

    e->k1 = ec_key();
    e->k2 = ec_key();
    e->kcold = ec_key();
    put_key(e->cache, WARM1, e->k1);
    put_key(e->cache, WARM2, e->k2);

    memset(&pc, 0, sizeof(pc));
    pc.threads = threads;
    pc.queue_max = queue_max;
    pc.max_payload = 4096;
    pc.policy.allow = e->allow;
    pc.policy.matcher = e->matcher;
    pc.cache = e->cache;
    pc.workers = e->workers;
    pc.dns_reserve = dns_reserve;
    if (lim != NULL) {
        pc.queue_bytes = lim->queue_bytes;
        pc.lookup_rate = lim->rate;
        pc.lookup_burst = lim->burst;
        pc.clock = env_clock;
        pc.clock_ctx = e;
        e->now_ms = 1000000;
    }
    e->pl = mdp_pipeline_start(&pc, err, sizeof(err));
    if (e->pl == NULL)
        fail_msg("pipeline: %s", err);
    return e;
}

static env *env_new(unsigned threads, size_t queue_max, size_t dns_reserve)
{
    return env_new_limits(threads, queue_max, dns_reserve, NULL);
}

/* env_free - in the plugin's order: verify threads, DNS workers, rest. */
static void env_free(env *e)
{
    mdp_pipeline_stop(e->pl);
    mdp_workers_stop(e->workers);
    mdp_pipeline_free(e->pl);
    dance_allowlist_free(e->allow);
    dance_matcher_free(e->matcher);
    dance_cache_free(e->cache);
    EVP_PKEY_free(e->k1);
    EVP_PKEY_free(e->k2);
    EVP_PKEY_free(e->kcold);
    close(e->hole);
    unlink(e->ta_path);
    free(e);
}

static mdp_pipeline_submit_result submit(env *e, const char *topic, const char *msg,
                                           dance_jws_result *refusal)
{
    return mdp_pipeline_submit(e->pl, NULL, topic, msg, strlen(msg), 1, false, refusal,
                                 NULL);
}

/* Two warm senders on two verify threads: every message verified, each
 * sender's in the order submitted, QoS/retain/topic/payload kept. */
static void test_warm_senders_in_order(void **state)
{
    env *e = env_new(2, 1000, 0);
    enum { PER = 60 };
    char *msgs[2][PER];
    dance_jws_result r;
    mdp_pipeline_stats st;
    size_t next[2] = {0, 0};

    (void)state;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < PER; i++) {
        char body[32];
        snprintf(body, sizeof(body), "w1 %d", i);
        msgs[0][i] = sign(e->k1, WARM1, body, NULL);
        snprintf(body, sizeof(body), "w2 %d", i);
        msgs[1][i] = sign(e->k2, WARM2, body, NULL);
    }
    for (int i = 0; i < PER; i++) {
        assert_int_equal(mdp_pipeline_submit(e->pl, NULL, TOPIC, msgs[0][i],
                                               strlen(msgs[0][i]), i % 3, i % 2 == 0,
                                               &r, NULL),
                         MDP_PIPELINE_QUEUED);
        assert_int_equal(submit(e, "sensors/y", msgs[1][i], &r), MDP_PIPELINE_QUEUED);
    }
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.submitted, 2 * PER);
    drain_until(e, 2 * PER);
    for (size_t i = 0; i < e->n_out; i++) {
        outcome *o = &e->out[i];
        int s = strcmp(o->sender, WARM1) == 0 ? 0 : 1;

        assert_int_equal(o->status, DANCE_OK);
        assert_string_equal(o->key_source, "tlsa 3 1 0");
        assert_true(next[s] < PER);
        assert_string_equal(o->payload, msgs[s][next[s]]);     /* in order */
        if (s == 0) {
            assert_string_equal(o->topic, TOPIC);
            assert_int_equal(o->qos, (int)(next[s] % 3));
            assert_int_equal(o->retain, next[s] % 2 == 0);
        } else {
            assert_string_equal(o->topic, "sensors/y");
        }
        next[s]++;
    }
    assert_int_equal(next[0], PER);
    assert_int_equal(next[1], PER);
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.lookups, 0);
    for (int i = 0; i < PER; i++) {
        free(msgs[0][i]);
        free(msgs[1][i]);
    }
    env_free(e);
}

/* Refusals on the broker thread: reported at once, nothing queued, no
 * lookup; the claimed sender is reported when known. */
static void test_refused_on_the_spot(void **state)
{
    env *e = env_new(1, 10, 0);
    EVP_PKEY *other = ec_key();
    char *outside = sign(other, "dev._device.other.example", "x", NULL);
    char *bound = sign(e->k1, WARM1, "x", "sensors/elsewhere");
    char big[5000];
    dance_jws_result r;
    mdp_pipeline_stats st;

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(submit(e, TOPIC, "21.5", &r), MDP_PIPELINE_REFUSED);
    assert_int_equal(r.status, DANCE_MALFORMED);
    assert_string_equal(r.sender, "");
    assert_true(r.reason[0] != '\0');

    assert_int_equal(submit(e, TOPIC, outside, &r), MDP_PIPELINE_REFUSED);
    assert_int_equal(r.status, DANCE_NOT_ALLOWED);
    assert_string_equal(r.sender, "dev._device.other.example");

    assert_int_equal(submit(e, TOPIC, bound, &r), MDP_PIPELINE_REFUSED);
    assert_int_equal(r.status, DANCE_TOPIC_MISMATCH);
    assert_string_equal(r.sender, WARM1);
    assert_true(r.has_alg);
    assert_int_equal(r.alg, DANCE_JWS_ES256);
    /* the same message on the topic it was signed for */
    assert_int_equal(submit(e, "sensors/elsewhere", bound, &r), MDP_PIPELINE_QUEUED);

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(submit(e, TOPIC, big, &r), MDP_PIPELINE_REFUSED);
    assert_int_equal(r.status, DANCE_TOO_LARGE);
    assert_null(r.payload);

    drain_until(e, 1);
    assert_int_equal(e->out[0].status, DANCE_OK);
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.submitted, 1);
    assert_int_equal(st.lookups, 0);
    dance_jws_result_clear(&r);
    free(outside);
    free(bound);
    EVP_PKEY_free(other);
    env_free(e);
}

/* The cap counts messages from submit to drain; beyond it messages are
 * dropped (and counted) until drain makes room. */
static void test_queue_cap(void **state)
{
    env *e = env_new(1, 3, 0);
    char *m = sign(e->k1, WARM1, "x", NULL);
    dance_jws_result r;
    mdp_pipeline_stats st;

    (void)state;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < 3; i++)
        assert_int_equal(submit(e, TOPIC, m, &r), MDP_PIPELINE_QUEUED);
    assert_int_equal(submit(e, TOPIC, m, &r), MDP_PIPELINE_DROPPED);
    /* even a message that would be refused is not parsed over the cap */
    assert_int_equal(submit(e, TOPIC, "junk", &r), MDP_PIPELINE_DROPPED);
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.depth, 3);
    assert_int_equal(st.dropped, 2);
    drain_until(e, 3);
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.depth, 0);
    assert_int_equal(submit(e, TOPIC, m, &r), MDP_PIPELINE_QUEUED);
    drain_until(e, 4);
    free(m);
    env_free(e);
}

/* The byte bound: messages count mdp_pipeline_msg_cost from submit to
 * drain; one that would pass queue_bytes is dropped (reason queue_bytes)
 * before it is parsed, and counted apart from queue_full; a small one
 * still fits; drain gives the bytes back. */
static void test_queue_bytes(void **state)
{
    char body[1500];
    char *big, *small;
    size_t big_cost, small_cost;
    limits lim;
    env *e;
    dance_jws_result r;
    mdp_pipeline_stats st;
    mdp_pipeline_drop why = MDP_PIPELINE_DROP_COUNT;

    (void)state;
    memset(body, 'b', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    memset(&lim, 0, sizeof(lim));
    {
        EVP_PKEY *k = ec_key();
        big = sign(k, WARM1, body, NULL);          /* only for its size */
        small = sign(k, WARM1, "s", NULL);
        EVP_PKEY_free(k);
    }
    big_cost = mdp_pipeline_msg_cost(strlen(TOPIC), strlen(big));
    small_cost = mdp_pipeline_msg_cost(strlen(TOPIC), strlen(small));
    assert_true(big_cost > 2 * strlen(big));       /* payload twice, + more */
    assert_true(small_cost < big_cost);
    /* room for two big ones and one small one, not three big ones */
    lim.queue_bytes = 2 * big_cost + small_cost;
    e = env_new_limits(1, 100, 0, &lim);
    free(big);
    free(small);
    big = sign(e->k1, WARM1, body, NULL);
    small = sign(e->k1, WARM1, "s", NULL);
    assert_int_equal(mdp_pipeline_msg_cost(strlen(TOPIC), strlen(big)), big_cost);

    memset(&r, 0, sizeof(r));
    assert_int_equal(submit(e, TOPIC, big, &r), MDP_PIPELINE_QUEUED);
    assert_int_equal(submit(e, TOPIC, big, &r), MDP_PIPELINE_QUEUED);
    assert_int_equal(mdp_pipeline_submit(e->pl, NULL, TOPIC, big, strlen(big), 1, false,
                                           &r, &why), MDP_PIPELINE_DROPPED);
    assert_int_equal(why, MDP_PIPELINE_DROP_QUEUE_BYTES);
    /* over the byte bound nothing is parsed either */
    memset(body, '!', sizeof(body) - 1);
    assert_int_equal(mdp_pipeline_submit(e->pl, NULL, TOPIC, body, strlen(body), 1,
                                           false, &r, &why), MDP_PIPELINE_DROPPED);
    assert_int_equal(why, MDP_PIPELINE_DROP_QUEUE_BYTES);
    assert_int_equal(submit(e, TOPIC, small, &r), MDP_PIPELINE_QUEUED);
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.depth, 3);
    assert_int_equal(st.bytes, 2 * big_cost + small_cost);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.dropped_by[MDP_PIPELINE_DROP_QUEUE_BYTES], 2);
    assert_int_equal(st.dropped_by[MDP_PIPELINE_DROP_QUEUE_FULL], 0);
    assert_string_equal(mdp_pipeline_drop_name(MDP_PIPELINE_DROP_QUEUE_BYTES),
                        "queue_bytes");

    drain_until(e, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(e->out[i].status, DANCE_OK);
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.depth, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(submit(e, TOPIC, big, &r), MDP_PIPELINE_QUEUED);
    drain_until(e, 4);
    free(big);
    free(small);
    env_free(e);
}

/* count_status - outcomes with status st (and sender prefix, if given). */
static size_t count_status(const env *e, dance_status st, const char *prefix)
{
    size_t n = 0;

    for (size_t i = 0; i < e->n_out; i++)
        if (e->out[i].status == st &&
            (prefix == NULL || strncmp(e->out[i].sender, prefix, strlen(prefix)) == 0))
            n++;
    return n;
}

/* A forwarder's copies (another broker's verified messages) are charged to
 * no lookup budget: a whole edge's cold senders are looked up, none is
 * refused as rate_limited, no budget is kept for the forwarder, and the
 * outcomes say forwarded. */
static void test_forwarded_no_budget(void **state)
{
    limits lim = {0, 1, 3};         /* 1 per second, burst 3 */
    env *e = env_new_limits(1, 100, 0, &lim);
    mdp_pipeline_publisher edge = {"edge1._broker.acme.example", true, true};
    mdp_pipeline_publisher device = {"edge1._broker.acme.example", true, false};
    char *m[8], *direct;
    dance_jws_result r;
    mdp_pipeline_stats st;

    (void)state;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < 8; i++) {
        char name[64];
        snprintf(name, sizeof(name), "f%d._device.acme.example", i);
        m[i] = sign(e->kcold, name, "x", NULL);
    }
    for (int i = 0; i < 8; i++)
        assert_int_equal(mdp_pipeline_submit(e->pl, &edge, TOPIC, m[i], strlen(m[i]), 1,
                                             false, &r, NULL), MDP_PIPELINE_QUEUED);
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.publishers, 0);
    drain_until(e, 8);
    assert_int_equal(count_status(e, DANCE_LOOKUP_FAILED, "f"), 8);
    assert_int_equal(count_status(e, DANCE_RATE_LIMITED, NULL), 0);
    for (size_t i = 0; i < e->n_out; i++)
        assert_true(e->out[i].forwarded);

    /* the same identity publishing directly has a budget as usual */
    direct = sign(e->kcold, "direct._device.acme.example", "x", NULL);
    assert_int_equal(mdp_pipeline_submit(e->pl, &device, TOPIC, direct, strlen(direct),
                                         1, false, &r, NULL), MDP_PIPELINE_QUEUED);
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.publishers, 1);
    drain_until(e, 9);
    assert_false(e->out[8].forwarded);

    for (int i = 0; i < 8; i++)
        free(m[i]);
    free(direct);
    env_free(e);
}

/* Lookup budgets: a publisher naming many cold senders starts at most
 * its burst of lookups, the rest are refused as rate_limited without a
 * lookup; a second message of a sender already waiting costs nothing; its
 * warm senders still verify; another publisher (and the same name as a
 * client id rather than an identity) has its own budget; time refills the
 * budget; idle, refilled budgets are freed. */
static void test_lookup_budget(void **state)
{
    limits lim = {0, 1, 3};         /* 1 per second, burst 3 */
    env *e = env_new_limits(1, 100, 0, &lim);
    mdp_pipeline_publisher flood = {"flood._device.acme.example", true, false};
    mdp_pipeline_publisher same_as_id = {"flood._device.acme.example", false, false};
    mdp_pipeline_publisher other = {"other._device.acme.example", true, false};
    char *m[8], *again, *warm, *o1, *o2, *late;
    dance_jws_result r;
    mdp_pipeline_stats st;

    (void)state;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < 8; i++) {
        char name[64];
        snprintf(name, sizeof(name), "n%d._device.acme.example", i);
        m[i] = sign(e->kcold, name, "x", NULL);
    }
    again = sign(e->kcold, "n0._device.acme.example", "again", NULL);
    warm = sign(e->k1, WARM1, "w", NULL);
    o1 = sign(e->kcold, "o1._device.acme.example", "x", NULL);
    o2 = sign(e->kcold, "o2._device.acme.example", "x", NULL);
    late = sign(e->kcold, "late._device.acme.example", "x", NULL);

#define SUBMIT_AS(pub, msg) mdp_pipeline_submit(e->pl, &(pub), TOPIC, (msg), \
                                                  strlen(msg), 1, false, &r, NULL)
    assert_int_equal(SUBMIT_AS(flood, m[0]), MDP_PIPELINE_QUEUED);
    assert_int_equal(SUBMIT_AS(flood, again), MDP_PIPELINE_QUEUED);
    for (int i = 1; i < 8; i++)
        assert_int_equal(SUBMIT_AS(flood, m[i]), MDP_PIPELINE_QUEUED);
    assert_int_equal(SUBMIT_AS(flood, warm), MDP_PIPELINE_QUEUED);
    assert_int_equal(SUBMIT_AS(other, o1), MDP_PIPELINE_QUEUED);
    assert_int_equal(SUBMIT_AS(same_as_id, o2), MDP_PIPELINE_QUEUED);
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.publishers, 3);
    drain_until(e, 12);

    /* n0 (twice: one lookup), n1, n2 looked up (and failed: no DNS here);
     * n3..n7 refused on the budget */
    assert_int_equal(count_status(e, DANCE_LOOKUP_FAILED, "n"), 4);
    assert_int_equal(count_status(e, DANCE_RATE_LIMITED, "n"), 5);
    assert_int_equal(count_status(e, DANCE_RATE_LIMITED, NULL), 5);
    assert_int_equal(count_status(e, DANCE_OK, WARM1), 1);
    assert_int_equal(count_status(e, DANCE_LOOKUP_FAILED, "o"), 2);
    for (size_t i = 0; i < e->n_out; i++)
        if (e->out[i].status == DANCE_RATE_LIMITED)
            assert_string_equal(e->out[i].sender + 2, "._device.acme.example");
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.lookups, 5);
    assert_int_equal(st.rate_limited, 5);
    assert_string_equal(dance_status_name(DANCE_RATE_LIMITED), "rate_limited");

    /* still spent at the same time; one second later, one more lookup */
    assert_int_equal(SUBMIT_AS(flood, late), MDP_PIPELINE_QUEUED);
    drain_until(e, 13);
    assert_int_equal(e->out[12].status, DANCE_RATE_LIMITED);
    e->now_ms += 1000;
    assert_int_equal(SUBMIT_AS(flood, late), MDP_PIPELINE_QUEUED);
    drain_until(e, 14);
    assert_int_equal(e->out[13].status, DANCE_LOOKUP_FAILED);

    /* nothing queued and refilled: the sweep in drain frees the budgets */
    e->now_ms += 10000;
    mdp_pipeline_drain(e->pl, on_outcome, e);
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.publishers, 0);
#undef SUBMIT_AS

    for (int i = 0; i < 8; i++)
        free(m[i]);
    free(again);
    free(warm);
    free(o1);
    free(o2);
    free(late);
    env_free(e);
}

/* A tampered message is refused by the verify thread with the sender. */
static void test_bad_signature(void **state)
{
    env *e = env_new(1, 10, 0);
    char *m = sign(e->k1, WARM1, "genuine", NULL);
    char *forged = sign(e->k2, WARM1, "genuine", NULL);      /* wrong key */
    dance_jws_result r;

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(submit(e, TOPIC, forged, &r), MDP_PIPELINE_QUEUED);
    assert_int_equal(submit(e, TOPIC, m, &r), MDP_PIPELINE_QUEUED);
    drain_until(e, 2);
    assert_int_equal(e->out[0].status, DANCE_BAD_SIGNATURE);
    assert_string_equal(e->out[0].sender, WARM1);
    assert_int_equal(e->out[1].status, DANCE_OK);
    free(m);
    free(forged);
    env_free(e);
}

/* COSE_Sign1 and JWS messages of one sender, mixed: each format goes to
 * its parser, all are verified in the order submitted, and the COSE ones
 * (binary, NUL bytes inside) come back byte for byte. A COSE message
 * signed with another key than its kid's is refused by the verify thread
 * (bad_signature, sender named); one bound to another topic on the spot. */
static void test_cose_and_jws_mixed(void **state)
{
    env *e = env_new(2, 100, 0);
    enum { PER = 10 };
    char *jws[PER];
    unsigned char *cose[PER], *forged, *elsewhere;
    size_t cose_len[PER], forged_len, elsewhere_len;
    const unsigned char body[] = { 0xa1, 0x00, 0x00, 0x61, 't' };  /* NULs inside */
    dance_jws_result r;

    (void)state;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < PER; i++) {
        char txt[16];
        snprintf(txt, sizeof(txt), "jws %d", i);
        jws[i] = sign(e->k1, WARM1, txt, TOPIC);
        cose[i] = sign_cose(e->k1, WARM1, body, sizeof(body) - (size_t)(i % 2), TOPIC,
                            &cose_len[i]);
        assert_true(dance_is_cose(cose[i], cose_len[i]));
    }
    forged = sign_cose(e->k2, WARM1, body, sizeof(body), TOPIC, &forged_len);
    elsewhere = sign_cose(e->k1, WARM1, body, sizeof(body), "sensors/other",
                          &elsewhere_len);

    assert_int_equal(mdp_pipeline_submit(e->pl, NULL, TOPIC, elsewhere, elsewhere_len, 1,
                                         false, &r, NULL), MDP_PIPELINE_REFUSED);
    assert_int_equal(r.status, DANCE_TOPIC_MISMATCH);
    assert_string_equal(r.sender, WARM1);
    for (int i = 0; i < PER; i++) {
        assert_int_equal(submit(e, TOPIC, jws[i], &r), MDP_PIPELINE_QUEUED);
        assert_int_equal(mdp_pipeline_submit(e->pl, NULL, TOPIC, cose[i], cose_len[i], 1,
                                             false, &r, NULL), MDP_PIPELINE_QUEUED);
    }
    assert_int_equal(mdp_pipeline_submit(e->pl, NULL, TOPIC, forged, forged_len, 1, false,
                                         &r, NULL), MDP_PIPELINE_QUEUED);
    drain_until(e, 2 * PER + 1);
    for (int i = 0; i < PER; i++) {
        outcome *oj = &e->out[2 * i], *oc = &e->out[2 * i + 1];
        assert_int_equal(oj->status, DANCE_OK);
        assert_string_equal(oj->payload, jws[i]);
        assert_int_equal(oc->status, DANCE_OK);
        assert_string_equal(oc->sender, WARM1);
        assert_string_equal(oc->key_source, "tlsa 3 1 0");
        assert_int_equal(oc->raw_len, cose_len[i]);
        assert_memory_equal(oc->raw, cose[i], cose_len[i]);
    }
    assert_int_equal(e->out[2 * PER].status, DANCE_BAD_SIGNATURE);
    assert_string_equal(e->out[2 * PER].sender, WARM1);
    for (int i = 0; i < PER; i++) {
        free(jws[i]);
        dance_cose_output_free(cose[i]);
    }
    dance_cose_output_free(forged);
    dance_cose_output_free(elsewhere);
    dance_jws_result_clear(&r);
    env_free(e);
}

/* A cold sender's messages wait behind one lookup (here failing after
 * the timeout: lookup_failure, in order); a warm sender on the same verify
 * thread is not held up. */
static void test_cold_sender_parked(void **state)
{
    env *e = env_new(1, 100, 0);
    char *cold[3], *warm[5];
    dance_jws_result r;
    mdp_pipeline_stats st;
    size_t nc = 0, nw = 0;

    (void)state;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < 3; i++) {
        char body[16];
        snprintf(body, sizeof(body), "c%d", i);
        cold[i] = sign(e->kcold, COLD, body, NULL);
    }
    for (int i = 0; i < 5; i++) {
        char body[16];
        snprintf(body, sizeof(body), "w%d", i);
        warm[i] = sign(e->k1, WARM1, body, NULL);
    }
    for (int i = 0; i < 5; i++) {
        if (i < 3)
            assert_int_equal(submit(e, TOPIC, cold[i], &r), MDP_PIPELINE_QUEUED);
        assert_int_equal(submit(e, TOPIC, warm[i], &r), MDP_PIPELINE_QUEUED);
    }
    drain_until(e, 8);
    for (size_t i = 0; i < e->n_out; i++) {
        outcome *o = &e->out[i];
        if (strcmp(o->sender, WARM1) == 0) {
            assert_int_equal(nc, 0);            /* all warm ones first */
            assert_int_equal(o->status, DANCE_OK);
            assert_string_equal(o->payload, warm[nw]);
            nw++;
        } else {
            assert_string_equal(o->sender, COLD);
            assert_int_equal(o->status, DANCE_LOOKUP_FAILED);
            assert_string_equal(o->payload, cold[nc]);
            nc++;
        }
    }
    assert_int_equal(nw, 5);
    assert_int_equal(nc, 3);
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.lookups, 1);        /* one lookup for the three */
    for (int i = 0; i < 5; i++) {
        if (i < 3)
            free(cold[i]);
        free(warm[i]);
    }
    env_free(e);
}

/* Cold senders' lookups leave the DNS queue's reserve to CONNECT: with
 * no room beyond it the sender is refused at once (lookup_failure), no
 * lookup is queued, and a warm sender is unaffected. */
static void test_dns_reserve(void **state)
{
    env *e = env_new(1, 10, 16);            /* the whole queue is reserved */
    char *cold = sign(e->kcold, COLD, "c", NULL);
    char *warm = sign(e->k1, WARM1, "w", NULL);
    dance_jws_result r;
    mdp_pipeline_stats st;

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(submit(e, TOPIC, cold, &r), MDP_PIPELINE_QUEUED);
    assert_int_equal(submit(e, TOPIC, warm, &r), MDP_PIPELINE_QUEUED);
    drain_until(e, 2);
    assert_int_equal(e->out[0].status, DANCE_LOOKUP_FAILED);
    assert_string_equal(e->out[0].sender, COLD);
    assert_int_equal(e->out[1].status, DANCE_OK);
    mdp_pipeline_get_stats(e->pl, &st);
    assert_int_equal(st.lookups, 0);
    free(cold);
    free(warm);
    env_free(e);
}

/* Stopping with messages queued, parked and finished but not drained
 * frees them all (LSan in sanitizer builds). */
static void test_stop_with_messages_in_flight(void **state)
{
    env *e = env_new(2, 100, 0);
    char *cold = sign(e->kcold, COLD, "c", NULL);
    char *warm = sign(e->k1, WARM1, "w", NULL);
    dance_jws_result r;

    (void)state;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < 20; i++) {
        assert_int_equal(submit(e, TOPIC, cold, &r), MDP_PIPELINE_QUEUED);
        assert_int_equal(submit(e, TOPIC, warm, &r), MDP_PIPELINE_QUEUED);
    }
    /* stop only once the cold sender is parked on its lookup */
    {
        mdp_pipeline_stats st;
        for (int i = 0; i < 500; i++) {
            mdp_pipeline_get_stats(e->pl, &st);
            if (st.lookups >= 1)
                break;
            usleep(2000);
        }
        assert_true(st.lookups >= 1);
    }
    free(cold);
    free(warm);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warm_senders_in_order),
        cmocka_unit_test(test_refused_on_the_spot),
        cmocka_unit_test(test_queue_cap),
        cmocka_unit_test(test_queue_bytes),
        cmocka_unit_test(test_lookup_budget),
        cmocka_unit_test(test_forwarded_no_budget),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_cose_and_jws_mixed),
        cmocka_unit_test(test_cold_sender_parked),
        cmocka_unit_test(test_dns_reserve),
        cmocka_unit_test(test_stop_with_messages_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
