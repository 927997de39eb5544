/*
 * tests/unit/test_plugin_core.c - the plugin's Mosquitto-free parts:
 * the client registry and revalidation rounds (plugin/clients.c), the
 * broker config scan (plugin/confscan.c), verdict mapping (plugin/decide.c),
 * topic filters (plugin/topics.c), the wait budget (plugin/waitbudget.c),
 * the thread pool (plugin/threadpool.c) and the worker pool
 * (plugin/workers.c) against a DNS server that is not there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "clients.h"
#include "confscan.h"
#include "decide.h"
#include "threadpool.h"
#include "topics.h"
#include "waitbudget.h"
#include "workers.h"

/* ---- registry ---- */

static int keys[8];     /* addresses used as opaque client pointers */

static void test_registry_basics(void **state)
{
    mdp_clients *r = mdp_clients_new();
    uint64_t t1, t2;
    const mdp_client *e;

    (void)state;
    assert_non_null(r);
    t1 = mdp_clients_add(r, &keys[0], "id0", true, "d0.acme.example",
                           "d0.acme.example", NULL);
    t2 = mdp_clients_add(r, &keys[1], "id1", false, NULL, NULL, NULL);
    assert_true(t1 != 0 && t2 != 0 && t1 != t2);
    assert_int_equal(mdp_clients_count(r), 2);
    assert_int_equal(mdp_clients_dane_count(r), 1);
    e = mdp_clients_find(r, &keys[0]);
    assert_non_null(e);
    assert_string_equal(e->client_id, "id0");
    assert_string_equal(e->identity, "d0.acme.example");
    assert_true(e->dane);
    assert_null(mdp_clients_find(r, &keys[2]));
    assert_true(mdp_clients_remove(r, &keys[1]));
    assert_false(mdp_clients_remove(r, &keys[1]));
    assert_int_equal(mdp_clients_count(r), 1);
    mdp_clients_free(r);
}

/* A new connection taking over client id "x": the newcomer is registered
 * first, then Mosquitto disconnects the old one. The old one's DISCONNECT
 * must not remove the newcomer's entry. */
static void test_registry_takeover(void **state)
{
    mdp_clients *r = mdp_clients_new();

    (void)state;
    mdp_clients_add(r, &keys[0], "x", true, "a.acme.example", "a.acme.example", NULL);
    mdp_clients_add(r, &keys[1], "x", true, "a.acme.example", "a.acme.example", NULL);
    assert_true(mdp_clients_remove(r, &keys[0]));     /* old one's DISCONNECT */
    assert_non_null(mdp_clients_find(r, &keys[1]));
    assert_int_equal(mdp_clients_dane_count(r), 1);
    mdp_clients_free(r);
}

static void test_registry_grows(void **state)
{
    mdp_clients *r = mdp_clients_new();
    char *block = malloc(5000);
    char id[32];

    (void)state;
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        assert_true(mdp_clients_add(r, block + i, id, i % 2 == 0, "n.example",
                                      "n.example", NULL) != 0);
    }
    assert_int_equal(mdp_clients_count(r), 5000);
    assert_int_equal(mdp_clients_dane_count(r), 2500);
    for (int i = 0; i < 5000; i++) {
        const mdp_client *e = mdp_clients_find(r, block + i);
        snprintf(id, sizeof(id), "c%d", i);
        assert_non_null(e);
        assert_string_equal(e->client_id, id);
    }
    for (int i = 0; i < 5000; i += 3)
        assert_true(mdp_clients_remove(r, block + i));
    assert_int_equal(mdp_clients_count(r), 5000 - 1667);
    mdp_clients_free(r);
    free(block);
}

static void test_rounds(void **state)
{
    mdp_clients *r = mdp_clients_new();
    const mdp_client *e, *got[4];
    uint64_t t3;
    size_t n = 0;

    (void)state;
    mdp_clients_add(r, &keys[0], "a", true, "a.example", "a.example", NULL);
    mdp_clients_add(r, &keys[1], "b", false, NULL, NULL, NULL);    /* not DANE */
    mdp_clients_add(r, &keys[2], "c", true, "c.example", "c.example", NULL);
    t3 = mdp_clients_add(r, &keys[3], "d", true, "d.example", "d.example", NULL);

    assert_int_equal(mdp_clients_round_start(r), 1);
    assert_int_equal(mdp_clients_round_start(r), 0);      /* one at a time */
    assert_true(mdp_clients_round_active(r));
    /* Entries that leave or are replaced during the round are skipped. */
    mdp_clients_remove(r, &keys[2]);
    mdp_clients_add(r, &keys[3], "d", true, "d.example", "d.example", NULL);
    while ((e = mdp_clients_round_next(r)) != NULL) {
        assert_true(n < 4);
        got[n++] = e;
        assert_true(e->checking);
    }
    assert_int_equal(n, 1);
    assert_string_equal(got[0]->client_id, "a");
    assert_false(mdp_clients_round_active(r));

    /* Completion for a replaced entry is ignored; for the right one it
     * clears the mark. */
    assert_null(mdp_clients_check_done(r, &keys[3], t3));
    e = mdp_clients_check_done(r, &keys[0], got[0]->token);
    assert_non_null(e);
    assert_false(e->checking);

    /* A new round hands out every DANE entry not being checked. */
    assert_int_equal(mdp_clients_round_start(r), 1);
    n = 0;
    while ((e = mdp_clients_round_next(r)) != NULL)
        n++;
    assert_int_equal(n, 2);
    /* ...and while they are being checked, the next round skips them. */
    assert_int_equal(mdp_clients_round_start(r), 1);
    assert_null(mdp_clients_round_next(r));
    mdp_clients_free(r);
}

/* ---- config scan ---- */

static void test_confscan_text(void **state)
{
    const char *conf =
        "# per_listener_settings true\n"
        "per_listener_settings false\n"
        "listener 8883\n"
        "  use_identity_as_username   false\n"
        "listener 8884\r\n"
        "\tuse_subject_as_username true\r\n"
        "include_dir /etc/mosquitto/conf.d \n"
        "include_dir /other dir\n"
        "per_listener_settings true";
    mdp_confscan s;
    char **dirs = NULL;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(mdp_confscan_text(conf, "m.conf", &s, &dirs), 0);
    assert_true(s.per_listener_settings);
    assert_true(s.per_listener_true.found);
    assert_int_equal(s.per_listener_true.line, 9);
    assert_false(s.identity_as_username.found);
    assert_true(s.subject_as_username.found);
    assert_string_equal(s.subject_as_username.file, "m.conf");
    assert_int_equal(s.subject_as_username.line, 6);
    assert_non_null(dirs);
    assert_string_equal(dirs[0], "/etc/mosquitto/conf.d");
    assert_string_equal(dirs[1], "/other dir");
    assert_null(dirs[2]);
    mdp_confscan_dirs_free(dirs);

    memset(&s, 0, sizeof(s));
    assert_int_equal(mdp_confscan_text("per_listener_settings true\n"
                                         "per_listener_settings false\n", "x", &s, NULL), 0);
    assert_false(s.per_listener_settings);
}

/* Mosquitto's own boolean spellings (conf__parse_bool), plugin lines in
 * order, acl_file. */
static void test_confscan_spellings_and_plugins(void **state)
{
    const char *conf =
        "listener 8883\n"
        "use_identity_as_username 1\n"
        "use_subject_as_username 0\n"
        "plugin /usr/lib/x/mosquitto_dynamic_security.so\n"
        "auth_plugin /opt/my plugins/dance.so  \n"
        "acl_file /etc/mosquitto/acl\n"
        "per_listener_settings 1\n";
    mdp_confscan s;

    (void)state;
    assert_int_equal(mdp_confscan_bool("true", 4), 1);
    assert_int_equal(mdp_confscan_bool("1", 1), 1);
    assert_int_equal(mdp_confscan_bool("false", 5), 0);
    assert_int_equal(mdp_confscan_bool("0", 1), 0);
    assert_int_equal(mdp_confscan_bool("yes", 3), -1);
    assert_int_equal(mdp_confscan_bool("True", 4), -1);   /* Mosquitto refuses it */

    memset(&s, 0, sizeof(s));
    assert_int_equal(mdp_confscan_text(conf, "m.conf", &s, NULL), 0);
    assert_true(s.identity_as_username.found);
    assert_int_equal(s.identity_as_username.line, 2);
    assert_false(s.subject_as_username.found);
    assert_true(s.per_listener_settings);
    assert_true(s.acl_file.found);
    assert_int_equal(s.acl_file.line, 6);
    assert_int_equal(s.plugin_count, 2);
    assert_string_equal(s.plugins[0].path, "/usr/lib/x/mosquitto_dynamic_security.so");
    assert_int_equal(s.plugins[0].where.line, 4);
    assert_string_equal(s.plugins[1].path, "/opt/my plugins/dance.so");

    /* a later false does not hide an earlier true: fail closed */
    memset(&s, 0, sizeof(s));
    assert_int_equal(mdp_confscan_text("use_subject_as_username true\n"
                                         "use_subject_as_username false\n", "x", &s, NULL), 0);
    assert_true(s.subject_as_username.found);
}

/* max_queued_messages: the last line counts, read as Mosquitto's atoi
 * does (anything not above 0 is unlimited). */
static void test_confscan_max_queued(void **state)
{
    static const struct {
        const char *conf;
        bool unlimited;
        unsigned line;
    } cases[] = {
        {"listener 1883\n", false, 0},
        {"max_queued_messages 0\n", true, 1},
        {"max_queued_messages 1000\n", false, 1},
        {"max_queued_messages -5\n", true, 1},
        {"max_queued_messages 00\n", true, 1},
        {"max_queued_messages 0\nmax_queued_messages 100\n", false, 2},
        {"max_queued_messages 100\n# x\nmax_queued_messages 0\n", true, 3},
    };
    mdp_confscan s;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&s, 0, sizeof(s));
        assert_int_equal(mdp_confscan_text(cases[i].conf, "m.conf", &s, NULL), 0);
        assert_int_equal(s.max_queued_unlimited, cases[i].unlimited);
        assert_int_equal(s.max_queued.line, cases[i].line);
    }
}

static void test_reserved_prefix_and_client_ids(void **state)
{
    char why[256];
    dance_allowlist *al = dance_allowlist_parse("acme.example", why, sizeof(why));

    (void)state;
    assert_true(mdp_topic_under_prefix("verified/a/b", "verified/", 9));
    assert_true(mdp_topic_under_prefix("verified/", "verified/", 9));
    assert_true(mdp_topic_under_prefix("verified", "verified/", 9));     /* bare level */
    assert_true(mdp_topic_under_prefix("verified//x", "verified/", 9));
    assert_false(mdp_topic_under_prefix("verifiedx", "verified/", 9));
    assert_false(mdp_topic_under_prefix("verifie", "verified/", 9));
    assert_false(mdp_topic_under_prefix("/verified/a", "verified/", 9));
    assert_false(mdp_topic_under_prefix("x/verified", "verified/", 9));
    assert_false(mdp_topic_under_prefix("verified", NULL, 0));
    assert_true(mdp_topic_under_prefix("a/b", "a/b/", 4));
    assert_false(mdp_topic_under_prefix("a", "a/b/", 4));

    assert_true(mdp_client_id_bound("d1._device.acme.example", "d1._device.acme.example"));
    assert_true(mdp_client_id_bound("D1._Device.acme.example/2", "d1._device.acme.example"));
    assert_false(mdp_client_id_bound("d1._device.acme.example/", "d1._device.acme.example"));
    assert_false(mdp_client_id_bound("d1._device.acme.examplex", "d1._device.acme.example"));
    assert_false(mdp_client_id_bound("d1._device.acme.example.", "d1._device.acme.example"));
    assert_false(mdp_client_id_bound("d2._device.acme.example", "d1._device.acme.example"));
    assert_false(mdp_client_id_bound("x/d1._device.acme.example", "d1._device.acme.example"));
    assert_false(mdp_client_id_bound(NULL, "d1._device.acme.example"));

    assert_non_null(al);
    assert_true(mdp_client_id_claims_identity("d1._device.acme.example", al));
    assert_true(mdp_client_id_claims_identity("D1._device.ACME.example/x", al));
    assert_false(mdp_client_id_claims_identity("alice", al));
    assert_false(mdp_client_id_claims_identity("d1.other.example/x", al));
    assert_false(mdp_client_id_claims_identity("/d1._device.acme.example", al));
    assert_false(mdp_client_id_claims_identity(NULL, al));
    dance_allowlist_free(al);
}

static void test_confscan_cmdline(void **state)
{
    const char a1[] = "/usr/sbin/mosquitto\0-v\0-c\0/etc/m.conf\0";
    const char a2[] = "mosquitto\0--config-file\0rel.conf\0-d\0";
    const char a3[] = "mosquitto\0-p\0" "1883\0";
    const char a4[] = "mosquitto\0-c\0";
    char path[64];

    (void)state;
    assert_int_equal(mdp_confscan_cmdline(a1, sizeof(a1) - 1, path, sizeof(path)), 0);
    assert_string_equal(path, "/etc/m.conf");
    assert_int_equal(mdp_confscan_cmdline(a2, sizeof(a2) - 1, path, sizeof(path)), 0);
    assert_string_equal(path, "rel.conf");
    assert_int_equal(mdp_confscan_cmdline(a3, sizeof(a3) - 1, path, sizeof(path)), -1);
    assert_int_equal(mdp_confscan_cmdline(a4, sizeof(a4) - 1, path, sizeof(path)), -1);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_confscan_include_dir(void **state)
{
    char dir[] = "/tmp/dance-confscan-XXXXXX";
    char conf[128], sub[128], f1[160], f2[160], f3[160], text[256];
    mdp_confscan s;
    char err[256];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(conf, sizeof(conf), "%s/main.conf", dir);
    snprintf(sub, sizeof(sub), "%s/conf.d", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(f1, sizeof(f1), "%s/a.conf", sub);
    snprintf(f2, sizeof(f2), "%s/b.conf", sub);
    snprintf(f3, sizeof(f3), "%s/c.conf.bak", sub);
    snprintf(text, sizeof(text), "listener 1883\ninclude_dir %s\nplugin /main.so\n", sub);
    write_file(conf, text);
    write_file(f1, "plugin /included.so\n");
    write_file(f2, "listener 8883\nuse_identity_as_username true\n");
    write_file(f3, "per_listener_settings true\n");   /* not *.conf: ignored */

    memset(&s, 0, sizeof(s));
    assert_int_equal(mdp_confscan_file(conf, &s, err, sizeof(err)), 0);
    assert_int_equal(s.files, 3);
    assert_false(s.per_listener_settings);
    assert_true(s.identity_as_username.found);
    assert_string_equal(s.identity_as_username.file, f2);
    assert_int_equal(s.identity_as_username.line, 2);
    /* include_dir files are read where their line stands */
    assert_int_equal(s.plugin_count, 2);
    assert_string_equal(s.plugins[0].path, "/included.so");
    assert_string_equal(s.plugins[1].path, "/main.so");

    memset(&s, 0, sizeof(s));
    assert_int_equal(mdp_confscan_file("/nonexistent/dance.conf", &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/dance.conf"));

    unlink(f1); unlink(f2); unlink(f3); unlink(conf); rmdir(sub); rmdir(dir);
}

/* ---- verdicts ---- */

static void test_verdict_names_and_dns(void **state)
{
    dance_tlsa_result res;
    mdp_verdict v;

    (void)state;
    for (int i = 0; i < MDP_V_COUNT; i++)
        assert_string_not_equal(mdp_verdict_name((mdp_verdict_code)i), "unknown");
    assert_string_equal(mdp_verdict_name(MDP_V_OUTSIDE), "outside_allowed_domains");
    assert_int_equal(mdp_verdict_of(DANCE_LOOKUP_FAILED), MDP_V_LOOKUP_FAILURE);
    assert_int_equal(mdp_verdict_of(DANCE_BOGUS), MDP_V_BOGUS);
    assert_int_equal(mdp_verdict_of(DANCE_INSECURE), MDP_V_INSECURE);
    assert_int_equal(mdp_verdict_of(DANCE_NO_RECORD), MDP_V_NO_RECORD);

    /* A non-secure answer is refused before any certificate is looked at
     * (so no leaf is needed) and keeps the resolver's reason. */
    memset(&res, 0, sizeof(res));
    res.status = DANCE_BOGUS;
    snprintf(res.reason, sizeof(res.reason), "TLSA lookup for x was bogus");
    mdp_decide(NULL, NULL, "x.example", MDP_IDSRC_SAN, &res, &v);
    assert_int_equal(v.code, MDP_V_BOGUS);
    assert_string_equal(v.reason, "TLSA lookup for x was bogus");
    assert_string_equal(v.record, "");
}

/* ---- thread pool ---- */

typedef struct pool_job {
    mdp_pool_item item;           /* first */
    unsigned queue, seq;
    int ran_on;                     /* thread index, -1 before */
} pool_job;

typedef struct pool_ctx {
    mdp_pool *pool;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool gate_closed;               /* run waits while set */
    unsigned running;               /* runs that reached the gate */
} pool_ctx;

static void pool_run(void *ctx, unsigned thread, mdp_pool_item *item)
{
    pool_ctx *c = ctx;
    pool_job *j = (pool_job *)(void *)item;

    pthread_mutex_lock(&c->lock);
    c->running++;
    pthread_cond_broadcast(&c->cond);
    while (c->gate_closed)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    j->ran_on = (int)thread;
    mdp_pool_done(c->pool, &j->item);
}

static void pool_count_free(void *ctx, mdp_pool_item *item)
{
    (void)item;
    (*(unsigned *)ctx)++;
}

/* take_done_n - collect n completions in order, waiting up to 5 s. */
static size_t take_done_n(mdp_pool *pool, pool_job **out, size_t n)
{
    size_t got = 0;

    for (int tries = 0; got < n && tries < 5000; tries++) {
        mdp_pool_item *it = mdp_pool_take_done(pool);
        struct timespec ms = {0, 1000000};
        for (; it != NULL && got < n; it = it->next)
            out[got++] = (pool_job *)(void *)it;
        if (got < n)
            nanosleep(&ms, NULL);
    }
    return got;
}

static pool_ctx *pool_ctx_new(unsigned threads, unsigned queues)
{
    pool_ctx *c = calloc(1, sizeof(*c));
    mdp_pool_config pc = {threads, queues, pool_run, NULL, "test pool"};
    char err[128];

    assert_non_null(c);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    pc.ctx = c;
    c->pool = mdp_pool_start(&pc, err, sizeof(err));
    assert_non_null(c->pool);
    return c;
}

static void pool_ctx_free(pool_ctx *c, unsigned *freed)
{
    mdp_pool_free(c->pool, pool_count_free, freed);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* one queue per thread: each item runs on its queue's thread, and each
 * queue's items complete in the order they were pushed */
static void test_threadpool_queues_in_order(void **state)
{
    enum { N = 200 };
    pool_ctx *c = pool_ctx_new(2, 2);
    pool_job jobs[N], *done[N];
    unsigned last[2] = {0, 0}, freed = 0;
    mdp_pool_stats st;

    (void)state;
    for (unsigned i = 0; i < N; i++) {
        jobs[i].queue = i % 2;
        jobs[i].seq = i + 1;
        jobs[i].ran_on = -1;
        assert_true(mdp_pool_push(c->pool, jobs[i].queue, &jobs[i].item, 0));
    }
    assert_int_equal(take_done_n(c->pool, done, N), N);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(done[i]->ran_on, (int)done[i]->queue);
        assert_true(done[i]->seq > last[done[i]->queue]);
        last[done[i]->queue] = done[i]->seq;
    }
    mdp_pool_get_stats(c->pool, &st);
    assert_int_equal(st.queued, 0);
    assert_null(mdp_pool_take_done(c->pool));
    pool_ctx_free(c, &freed);
    assert_int_equal(freed, 0);
}

/* the bound, push_front, and what free hands back */
static void test_threadpool_bound_front_and_free(void **state)
{
    pool_ctx *c = pool_ctx_new(1, 1);
    pool_job j[5], *done[5];
    unsigned freed = 0;
    char err[64];
    mdp_pool_config bad = {2, 3, pool_run, NULL, "bad pool"};

    (void)state;
    assert_null(mdp_pool_start(&bad, err, sizeof(err)));
    assert_string_equal(err, "bad pool: invalid configuration");
    memset(j, 0, sizeof(j));
    for (unsigned i = 0; i < 5; i++)
        j[i].seq = i;
    /* j0 runs and waits at the gate; j1, j2 fill a bound of 2 */
    c->gate_closed = true;
    assert_true(mdp_pool_push(c->pool, 0, &j[0].item, 2));
    pthread_mutex_lock(&c->lock);
    while (c->running == 0)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    assert_true(mdp_pool_push(c->pool, 0, &j[1].item, 2));
    assert_true(mdp_pool_push(c->pool, 0, &j[2].item, 2));
    assert_false(mdp_pool_push(c->pool, 0, &j[3].item, 2));
    assert_int_equal(mdp_pool_room(c->pool, 2), 0);
    assert_int_equal(mdp_pool_room(c->pool, 5), 3);
    mdp_pool_push_front(c->pool, 0, &j[4].item);
    pthread_mutex_lock(&c->lock);
    c->gate_closed = false;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    /* j0, then the one put in front, then the rest in order */
    assert_int_equal(take_done_n(c->pool, done, 4), 4);
    assert_int_equal(done[0]->seq, 0);
    assert_int_equal(done[1]->seq, 4);
    assert_int_equal(done[2]->seq, 1);
    assert_int_equal(done[3]->seq, 2);
    /* a completion nobody took is handed to the free function */
    assert_true(mdp_pool_push(c->pool, 0, &j[3].item, 0));
    for (int tries = 0; tries < 5000; tries++) {
        mdp_pool_stats st;
        struct timespec ms = {0, 1000000};
        mdp_pool_get_stats(c->pool, &st);
        if (st.completed == 5)
            break;
        nanosleep(&ms, NULL);
    }
    mdp_pool_stop(c->pool);
    mdp_pool_stop(c->pool);          /* idempotent */
    pool_ctx_free(c, &freed);
    assert_int_equal(freed, 1);
}

/* ---- workers ---- */

typedef struct hook_log {
    int fetches;
    dance_status last;
} hook_log;

static void on_fetch(void *ctx, const mdp_fetch_done *d)
{
    hook_log *h = ctx;

    h->fetches++;
    h->last = d->status;
}

/* blackhole_udp - a bound local UDP socket that never answers; its port
 * in *port. Queries to it take the full lookup timeout. */
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

static void test_workers_fetch_failure_and_bounds(void **state)
{
    char ta_path[] = "/tmp/dance-ta-XXXXXX";
    char upstream[64], err[256];
    dance_resolver_config rc;
    dance_cache_config cc;
    dance_cache *cache;
    dance_matcher *m;
    mdp_workers_config wc;
    mdp_workers_hooks hooks;
    mdp_workers *w;
    mdp_workers_stats st;
    hook_log h = {0, DANCE_OK};
    int fd, port, hole;

    (void)state;
    /* A syntactically valid root DS (the IANA 2017 KSK); nothing answers. */
    fd = mkstemp(ta_path);
    assert_true(fd >= 0);
    {
        const char *ds = ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
        assert_int_equal(write(fd, ds, strlen(ds)), (ssize_t)strlen(ds));
        close(fd);
    }
    hole = blackhole_udp(&port);
    snprintf(upstream, sizeof(upstream), "127.0.0.1@%d", port);
    memset(&rc, 0, sizeof(rc));
    rc.upstreams = upstream;
    rc.trust_anchor_file = ta_path;
    rc.timeout_ms = 1500;   /* keeps "a" in flight while b, c and d come */
    rc.transport = DANCE_TRANSPORT_UDP;
    memset(&cc, 0, sizeof(cc));
    cc.failure_ttl = 60;
    cache = dance_cache_new(&cc);
    assert_non_null(cache);
    m = dance_matcher_new(NULL, err, sizeof(err));
    assert_non_null(m);

    memset(&wc, 0, sizeof(wc));
    wc.threads = 1;
    wc.queue_max = 2;
    wc.dns_inflight = 1;
    wc.resolver = &rc;
    wc.cache = cache;
    wc.matcher = m;
    hooks.ctx = &h;
    hooks.fetch_done = on_fetch;
    hooks.revalidate_done = NULL;
    w = mdp_workers_start(&wc, &hooks, err, sizeof(err));
    if (w == NULL)
        fail_msg("workers: %s", err);

    assert_int_equal(mdp_workers_submit_fetch(w, "dev._device.acme.example"),
                     MDP_SUBMIT_QUEUED);
    /* The answer arrives within about the lookup timeout; wait on the
     * cache as the CONNECT path does. */
    {
        dance_tlsa_result res;
        memset(&res, 0, sizeof(res));
        assert_true(dance_cache_wait(cache, "dev._device.acme.example", 10000, &res));
        assert_int_equal(res.status, DANCE_LOOKUP_FAILED);
        dance_tlsa_result_clear(&res);
    }
    /* The completion reaches the host only through drain. */
    for (int i = 0; i < 200 && h.fetches == 0; i++) {
        mdp_workers_drain(w);
        if (h.fetches == 0)
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    assert_int_equal(h.fetches, 1);
    assert_int_equal(h.last, DANCE_LOOKUP_FAILED);
    mdp_workers_get_stats(w, &st);
    assert_int_equal(st.submitted, 1);
    assert_int_equal(st.completed, 1);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(mdp_workers_room(w), 2);

    /* Bounds: one lookup in flight, two waiting for the DNS slot, the next
     * one dropped; a fetch already waiting is not queued twice. */
    assert_int_equal(mdp_workers_submit_fetch(w, "a.acme.example"), MDP_SUBMIT_QUEUED);
    assert_true(dance_cache_in_flight(cache, "a.acme.example"));
    /* until the DNS thread has taken it up, "a" waits for the slot too */
    for (int i = 0; i < 2500; i++) {
        mdp_workers_get_stats(w, &st);
        if (st.dns_inflight == 1)
            break;
        nanosleep(&(struct timespec){0, 2 * 1000 * 1000}, NULL);
    }
    assert_int_equal(st.dns_inflight, 1);
    assert_int_equal(mdp_workers_submit_fetch(w, "a.acme.example"), MDP_SUBMIT_DUPLICATE);
    assert_int_equal(mdp_workers_submit_fetch(w, "b.acme.example"), MDP_SUBMIT_QUEUED);
    assert_int_equal(mdp_workers_submit_fetch(w, "b.acme.example"), MDP_SUBMIT_DUPLICATE);
    assert_int_equal(mdp_workers_submit_fetch(w, "c.acme.example"), MDP_SUBMIT_QUEUED);
    assert_int_equal(mdp_workers_room(w), 0);
    assert_int_equal(mdp_workers_submit_fetch(w, "d.acme.example"), MDP_SUBMIT_FULL);
    mdp_workers_get_stats(w, &st);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.queued, 2);

    /* Stop cancels the lookup in flight and frees the waiting ones. */
    mdp_workers_stop(w);
    close(hole);
    dance_matcher_free(m);
    dance_cache_free(cache);
    unlink(ta_path);
}

static void test_workers_bad_resolver_config(void **state)
{
    dance_resolver_config rc;
    dance_cache_config cc;
    dance_cache *cache;
    dance_matcher *m;
    mdp_workers_config wc;
    char err[256] = "";

    (void)state;
    memset(&rc, 0, sizeof(rc));
    rc.upstreams = "127.0.0.1@53";
    rc.trust_anchor_file = "/nonexistent/dance-ta.ds";
    memset(&cc, 0, sizeof(cc));
    cache = dance_cache_new(&cc);
    m = dance_matcher_new(NULL, err, sizeof(err));
    memset(&wc, 0, sizeof(wc));
    wc.threads = 2;
    wc.queue_max = 4;
    wc.resolver = &rc;
    wc.cache = cache;
    wc.matcher = m;
    assert_null(mdp_workers_start(&wc, NULL, err, sizeof(err)));
    assert_true(err[0] != '\0');
    dance_matcher_free(m);
    dance_cache_free(cache);
}

/* ---- topic filters ---- */

static void test_topic_filter_matching(void **state)
{
    static const struct {
        const char *filter, *topic;
        bool match;
    } cases[] = {
        {"a/b", "a/b", true},
        {"a/b", "a/c", false},
        {"a/b", "a/bc", false},
        {"a/bc", "a/b", false},
        {"a/b", "a/b/c", false},
        {"a/b/c", "a/b", false},
        {"a/+", "a/b", true},
        {"a/+", "a/", true},             /* + matches an empty level */
        {"a/+", "a", false},
        {"a/+", "a/b/c", false},
        {"+/+", "/", true},
        {"+", "a", true},
        {"+", "a/b", false},
        {"+/b", "x/b", true},
        {"a/+/c", "a/xyz/c", true},
        {"a/+/c", "a/xyz/d", false},
        {"#", "a/b/c", true},
        {"#", "/", true},
        {"a/#", "a", true},              /* # includes the parent level */
        {"a/#", "a/", true},
        {"a/#", "a/b/c", true},
        {"a/#", "ab", false},
        {"a/#", "b/a", false},
        {"a/+/#", "a/b", true},
        {"a/+/#", "a", false},
        {"#", "$SYS/broker", false},     /* $ topics and leading wildcards */
        {"+/broker", "$SYS/broker", false},
        {"$SYS/#", "$SYS/broker", true},
        {"a//b", "a//b", true},
        {"a//b", "a/x/b", false},
        {"a/+/b", "a//b", true},
    };
    char why[256];
    mdp_topics *t;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (mdp_topic_filter_matches(cases[i].filter, cases[i].topic) != cases[i].match)
            fail_msg("filter '%s' topic '%s': expected %s", cases[i].filter,
                     cases[i].topic, cases[i].match ? "match" : "no match");

    t = mdp_topics_parse("sensors/#, gw/+/data ,exact", why, sizeof(why));
    assert_non_null(t);
    assert_int_equal(mdp_topics_count(t), 3);
    assert_true(mdp_topics_match(t, "sensors"));
    assert_true(mdp_topics_match(t, "sensors/a/b"));
    assert_true(mdp_topics_match(t, "gw/7/data"));
    assert_true(mdp_topics_match(t, "exact"));
    assert_false(mdp_topics_match(t, "exact/no"));
    assert_false(mdp_topics_match(t, "gw/7/data/x"));
    assert_false(mdp_topics_match(t, "verified/sensors/a"));
    assert_false(mdp_topics_match(NULL, "sensors"));
    mdp_topics_free(t);

    t = mdp_topics_parse("  ", why, sizeof(why));
    assert_non_null(t);
    assert_int_equal(mdp_topics_count(t), 0);
    assert_false(mdp_topics_match(t, "anything"));
    mdp_topics_free(t);
    mdp_topics_free(NULL);
}

static void test_topic_filter_refusals(void **state)
{
    static const char *const bad[] = {
        "a/#/b", "a#", "#a", "a/b#", "+a", "a/+b", "a/b+", "a,,b", "a, ,b", ",a", "a,",
    };
    static const char *const good_prefix[] = {"verified/", "a/b/", "/x/", "v-1/"};
    static const char *const bad_prefix[] = {"verified", "", "$SYS/", "a/+/", "a/#/", "#/"};
    char why[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (mdp_topics_parse(bad[i], why, sizeof(why)) != NULL)
            fail_msg("'%s' accepted", bad[i]);
        assert_true(why[0] != '\0');
    }
    for (size_t i = 0; i < sizeof(good_prefix) / sizeof(good_prefix[0]); i++)
        assert_int_equal(mdp_topic_prefix_check(good_prefix[i], why, sizeof(why)), 0);
    for (size_t i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++)
        if (mdp_topic_prefix_check(bad_prefix[i], why, sizeof(why)) != -1)
            fail_msg("prefix '%s' accepted", bad_prefix[i]);
}

/* ---- wait budget ---- */

static void test_wait_budget(void **state)
{
    mdp_wait_budget b;
    uint64_t t = 1000;

    (void)state;
    /* a quiet broker: the first cold device may wait the whole budget */
    mdp_wait_budget_init(&b, 500, t);
    assert_int_equal(mdp_wait_budget_allow(&b, t), 500);
    /* an answer after 30 ms takes only 30 ms */
    mdp_wait_budget_spend(&b, 30);
    assert_int_equal(mdp_wait_budget_allow(&b, t), 470);
    /* a storm: each cold device waits what is left, then nothing */
    mdp_wait_budget_spend(&b, 470);
    assert_int_equal(mdp_wait_budget_allow(&b, t), 0);
    /* refill at the share: 1 s of broker time buys 100 ms of waiting */
    t += 1000;
    assert_int_equal(mdp_wait_budget_allow(&b, t), 1000 * MDP_WAIT_SHARE_PERMILLE / 1000);
    /* so over 10 s of storm the broker waits at most budget + 10% */
    {
        uint64_t waited = 0;
        mdp_wait_budget_init(&b, 500, 0);
        for (uint64_t now = 0; now < 10000; now += 7) {
            unsigned allow = mdp_wait_budget_allow(&b, now);
            waited += allow;
            mdp_wait_budget_spend(&b, allow);
        }
        assert_true(waited <= 500 + 10000 * MDP_WAIT_SHARE_PERMILLE / 1000);
        assert_true(waited >= 10000 * MDP_WAIT_SHARE_PERMILLE / 1000 - 10);
    }
    /* a long quiet spell refills to the cap and no further */
    assert_int_equal(mdp_wait_budget_allow(&b, UINT64_C(1) << 40), 500);
    /* the clock never goes back, but if it did nothing is refilled */
    mdp_wait_budget_spend(&b, 500);
    assert_int_equal(mdp_wait_budget_allow(&b, 5), 0);
    /* budget 0: never wait */
    mdp_wait_budget_init(&b, 0, 0);
    assert_int_equal(mdp_wait_budget_allow(&b, 100000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_basics),
        cmocka_unit_test(test_wait_budget),
        cmocka_unit_test(test_registry_takeover),
        cmocka_unit_test(test_registry_grows),
        cmocka_unit_test(test_rounds),
        cmocka_unit_test(test_confscan_text),
        cmocka_unit_test(test_confscan_max_queued),
        cmocka_unit_test(test_confscan_cmdline),
        cmocka_unit_test(test_confscan_spellings_and_plugins),
        cmocka_unit_test(test_reserved_prefix_and_client_ids),
        cmocka_unit_test(test_confscan_include_dir),
        cmocka_unit_test(test_verdict_names_and_dns),
        cmocka_unit_test(test_topic_filter_matching),
        cmocka_unit_test(test_topic_filter_refusals),
        cmocka_unit_test(test_threadpool_queues_in_order),
        cmocka_unit_test(test_threadpool_bound_front_and_free),
        cmocka_unit_test(test_workers_fetch_failure_and_bounds),
        cmocka_unit_test(test_workers_bad_resolver_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
