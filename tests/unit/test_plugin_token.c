/*
 * test_plugin_token.c - the plugin's Mosquitto-free parts of token
 * authentication: the token_* options and their cross rules
 * (plugin/options.c), verdicts for token outcomes (decide.c), token entries
 * in the client registry and the expiry scan (clients.c), plain-listener
 * detection in the configuration scan (confscan.c), and token re-checks on
 * a worker thread against cached answers (workers.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "clients.h"
#include "confscan.h"
#include "decide.h"
#include "options.h"
#include "workers.h"
#include "dance/provision.h"
#include "dance/token.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char err[MDP_OPT_ERR_MAX];

static int parse(const mdp_plugin_opt *o, size_t n, mdp_plugin_config *c)
{
    memset(err, 0, sizeof(err));
    return mdp_plugin_options_parse(o, n, c, err, sizeof(err));
}

static void expect_error(const mdp_plugin_opt *o, size_t n, const char *prefix)
{
    mdp_plugin_config c;

    assert_int_equal(parse(o, n, &c), -1);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("error '%s' does not start with '%s'", err, prefix);
    mdp_plugin_config_clear(&c);
}

/* ------------------------------------------------------------- options */

static void test_token_option_defaults(void **state)
{
    mdp_plugin_opt o[] = { {"allowed_domains", "acme.example"} };
    mdp_plugin_config c;

    (void)state;
    assert_int_equal(parse(o, N(o), &c), 0);
    assert_false(c.token_auth);
    assert_null(c.token_audience);
    /* five minutes: a captured token is worth little for long */
    assert_int_equal(c.token_max_lifetime, 300);
    assert_false(c.token_disconnect_on_expiry);
    assert_null(c.token_replay_file);
    assert_int_equal(c.token_replay_per_identity, 1000);
    mdp_plugin_config_clear(&c);
}

static void test_token_options_set(void **state)
{
    mdp_plugin_opt o[] = {
        {"allowed_domains", "acme.example"}, {"token_auth", "on"},
        {"token_audience", "broker.acme.example"}, {"token_max_lifetime", "600"},
        {"token_disconnect_on_expiry", "true"},
        {"token_replay_file", "/var/lib/mosquitto/dance-jti.db"},
        {"token_replay_per_identity", "50"},
    };
    mdp_plugin_opt off[] = {
        {"allowed_domains", "acme.example"}, {"token_auth", "off"},
    };
    mdp_plugin_config c;

    (void)state;
    assert_int_equal(parse(o, N(o), &c), 0);
    assert_true(c.token_auth);
    assert_string_equal(c.token_audience, "broker.acme.example");
    assert_int_equal(c.token_max_lifetime, 600);
    assert_true(c.token_disconnect_on_expiry);
    assert_string_equal(c.token_replay_file, "/var/lib/mosquitto/dance-jti.db");
    assert_int_equal(c.token_replay_per_identity, 50);
    mdp_plugin_config_clear(&c);
    assert_null(c.token_audience);      /* cleared */
    assert_null(c.token_replay_file);
    assert_int_equal(parse(off, N(off), &c), 0);
    assert_false(c.token_auth);
    mdp_plugin_config_clear(&c);
}

static void test_token_option_errors(void **state)
{
    (void)state;
    {
        mdp_plugin_opt o[] = { {"allowed_domains", "acme.example"},
                                 {"token_auth", "yes"} };
        expect_error(o, N(o), "plugin_opt_token_auth 'yes': expected on or off");
    }
    {
        mdp_plugin_opt o[] = { {"allowed_domains", "acme.example"},
                                 {"token_auth", "on"} };
        expect_error(o, N(o), "plugin_opt_token_audience is required with "
                     "plugin_opt_token_auth on");
    }
    {
        mdp_plugin_opt o[] = { {"allowed_domains", "acme.example"},
                                 {"token_audience", "b"} };
        expect_error(o, N(o), "plugin_opt_token_audience is set but "
                     "plugin_opt_token_auth is not on");
    }
    {
        mdp_plugin_opt o[] = { {"allowed_domains", "acme.example"},
                                 {"token_auth", "off"}, {"token_max_lifetime", "60"} };
        expect_error(o, N(o), "plugin_opt_token_max_lifetime is set but");
    }
    {
        mdp_plugin_opt o[] = { {"allowed_domains", "acme.example"},
                                 {"token_disconnect_on_expiry", "on"} };
        expect_error(o, N(o), "plugin_opt_token_disconnect_on_expiry is set but");
    }
    {
        mdp_plugin_opt o[] = { {"allowed_domains", "acme.example"},
                                 {"token_replay_file", "/tmp/jti.db"} };
        expect_error(o, N(o), "plugin_opt_token_replay_file is set but");
    }
    {
        /* relative to whatever directory the daemon runs in: refused */
        mdp_plugin_opt o[] = { {"allowed_domains", "acme.example"},
                                 {"token_auth", "on"}, {"token_audience", "b"},
                                 {"token_replay_file", "dance-jti.db"} };
        expect_error(o, N(o), "plugin_opt_token_replay_file 'dance-jti.db': expected "
                     "the absolute path");
    }
    {
        static const char *bad_share[] = { "0", "100001", "-1", "x" };
        for (size_t i = 0; i < N(bad_share); i++) {
            mdp_plugin_opt o[] = { {"allowed_domains", "acme.example"},
                                     {"token_auth", "on"}, {"token_audience", "b"},
                                     {"token_replay_per_identity", bad_share[i]} };
            expect_error(o, N(o), "plugin_opt_token_replay_per_identity '");
        }
    }
    {
        static const char *bad_aud[] = { "", "two words", "tab\tbed", "\x7f" };
        for (size_t i = 0; i < N(bad_aud); i++) {
            mdp_plugin_opt o[] = { {"allowed_domains", "acme.example"},
                                     {"token_auth", "on"}, {"token_audience", bad_aud[i]} };
            expect_error(o, N(o), "plugin_opt_token_audience '");
        }
    }
    {
        char longaud[258];
        memset(longaud, 'a', sizeof(longaud) - 1);
        longaud[sizeof(longaud) - 1] = '\0';
        mdp_plugin_opt o[] = { {"allowed_domains", "acme.example"},
                                 {"token_auth", "on"}, {"token_audience", longaud} };
        expect_error(o, N(o), "plugin_opt_token_audience 'aaa");
        longaud[256] = '\0';        /* 256 is fine */
        mdp_plugin_config c;
        assert_int_equal(parse(o, N(o), &c), 0);
        mdp_plugin_config_clear(&c);
    }
    {
        static const char *bad_life[] = { "0", "86401", "-1", "1h", "" };
        for (size_t i = 0; i < N(bad_life); i++) {
            mdp_plugin_opt o[] = { {"allowed_domains", "acme.example"},
                                     {"token_auth", "on"}, {"token_audience", "b"},
                                     {"token_max_lifetime", bad_life[i]} };
            expect_error(o, N(o), "plugin_opt_token_max_lifetime '");
        }
    }
    {
        mdp_plugin_opt o[] = { {"allowed_domains", "acme.example"},
                                 {"token_auth", "on"}, {"token_audience", "b"},
                                 {"token_disconnect_on_expiry", "1"} };
        expect_error(o, N(o), "plugin_opt_token_disconnect_on_expiry '1': expected on or off");
    }
}

/* ------------------------------------------------------------ verdicts */

static void test_verdicts_for_tokens(void **state)
{
    (void)state;
    for (int st = 0; st < DANCE_STATUS_COUNT; st++) {
        mdp_verdict_code v = mdp_verdict_of((dance_status)st);
        assert_true(v < MDP_V_COUNT);
        assert_string_not_equal(mdp_verdict_name(v), "unknown");
        /* only a valid token is accepted */
        assert_true((v == MDP_V_ACCEPTED) == (st == DANCE_OK));
    }
    assert_int_equal(mdp_verdict_of(DANCE_BAD_ALG), MDP_V_TOKEN_INVALID);
    assert_int_equal(mdp_verdict_of(DANCE_WRONG_AUDIENCE),
                     MDP_V_TOKEN_AUDIENCE);
    assert_int_equal(mdp_verdict_of(DANCE_EXPIRED), MDP_V_TOKEN_EXPIRED);
    assert_int_equal(mdp_verdict_of(DANCE_LIFETIME), MDP_V_TOKEN_EXPIRED);
    assert_int_equal(mdp_verdict_of(DANCE_REPLAY), MDP_V_TOKEN_REPLAY);
    assert_int_equal(mdp_verdict_of(DANCE_NOT_ALLOWED), MDP_V_OUTSIDE);
    assert_int_equal(mdp_verdict_of(DANCE_IDENTITY_MISMATCH), MDP_V_IDENTITY);
    assert_int_equal(mdp_verdict_of(DANCE_BAD_SIGNATURE), MDP_V_NO_MATCH);
    assert_int_equal(mdp_verdict_of(DANCE_NO_RECORD), MDP_V_NO_RECORD);
    assert_int_equal(mdp_verdict_of(DANCE_LOOKUP_FAILED),
                     MDP_V_LOOKUP_FAILURE);
    assert_int_equal(mdp_verdict_of(DANCE_STATUS_COUNT), MDP_V_INTERNAL);
    assert_string_equal(mdp_verdict_name(MDP_V_TOKEN_REPLAY), "token_replay");
}

/* ------------------------------------------------------------ registry */

typedef struct seen { const char *ids[8]; size_t n; } seen;

static void collect(void *ctx, const mdp_client *e)
{
    seen *s = ctx;

    assert_true(s->n < N(s->ids));
    s->ids[s->n++] = e->client_id;
}

static void test_registry_token_entries(void **state)
{
    mdp_clients *r = mdp_clients_new();
    int k1, k2, k3;
    seen s;
    const mdp_client *e;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_non_null(r);
    assert_int_equal(mdp_clients_expired(r, 100, collect, &s), 0);
    assert_true(mdp_clients_add_token(r, &k1, "t1", "a.acme.example", "a.acme.example",
                                        "eyJ.x.y", 1000) != 0);
    assert_true(mdp_clients_add_token(r, &k2, "t2", "b.acme.example", "b.acme.example",
                                        "eyJ.z.w", 2000) != 0);
    assert_true(mdp_clients_add(r, &k3, "c3", true, "c.acme.example", "c.acme.example",
                                  NULL) != 0);
    assert_int_equal(mdp_clients_count(r), 3);
    assert_int_equal(mdp_clients_dane_count(r), 3);
    assert_int_equal(mdp_clients_token_count(r), 2);
    e = mdp_clients_find(r, &k1);
    assert_non_null(e);
    assert_true(e->dane);
    assert_null(e->leaf);
    assert_string_equal(e->password, "eyJ.x.y");
    assert_int_equal(e->expires, 1000);
    assert_null(mdp_clients_find(r, &k3)->password);

    /* nothing expired yet: the earliest expiry comes back */
    memset(&s, 0, sizeof(s));
    assert_int_equal(mdp_clients_expired(r, 999, collect, &s), 1000);
    assert_int_equal(s.n, 0);
    /* at exp the first is due, the second is next */
    assert_int_equal(mdp_clients_expired(r, 1000, collect, &s), 2000);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ids[0], "t1");
    memset(&s, 0, sizeof(s));
    assert_int_equal(mdp_clients_expired(r, 5000, collect, &s), 0);
    assert_int_equal(s.n, 2);

    /* token entries take part in revalidation rounds */
    assert_int_equal(mdp_clients_round_start(r), 1);
    {
        size_t n = 0, tokens = 0;
        while ((e = mdp_clients_round_next(r)) != NULL) {
            n++;
            tokens += e->password != NULL;
        }
        assert_int_equal(n, 3);
        assert_int_equal(tokens, 2);
    }

    /* replacing and removing keep the counts right */
    assert_true(mdp_clients_add(r, &k1, "t1", false, NULL, NULL, NULL) != 0);
    assert_int_equal(mdp_clients_token_count(r), 1);
    assert_true(mdp_clients_remove(r, &k2));
    assert_int_equal(mdp_clients_token_count(r), 0);
    assert_int_equal(mdp_clients_dane_count(r), 1);
    memset(&s, 0, sizeof(s));
    assert_int_equal(mdp_clients_expired(r, 5000, collect, &s), 0);
    assert_int_equal(s.n, 0);
    mdp_clients_free(r);
}

/* ------------------------------------------------------------ confscan */

static mdp_confscan scan(const char *text)
{
    mdp_confscan s;

    memset(&s, 0, sizeof(s));
    assert_int_equal(mdp_confscan_text(text, "test.conf", &s, NULL), 0);
    mdp_confscan_finish(&s);
    return s;
}

static void test_confscan_plain_listeners(void **state)
{
    mdp_confscan s;

    (void)state;
    s = scan("listener 8883\ncertfile /s.pem\nkeyfile /s.key\n"
             "listener 8884 127.0.0.1\npsk_hint dance\n"
             "listener 0 /run/mosquitto.sock\n");
    assert_int_equal(s.plain_listeners, 0);
    assert_false(s.default_listener_plain);

    s = scan("# comment\nlistener 8883\ncertfile /s.pem\n\nlistener 1883\n"
             "  listener   1884  \nprotocol websockets\n");
    assert_int_equal(s.plain_listeners, 2);
    assert_true(s.plain_listener.found);
    assert_int_equal(s.plain_listener.line, 5);
    assert_string_equal(s.plain_listener.file, "test.conf");
    assert_false(s.default_listener_plain);

    /* no listener at all: Mosquitto's default one, plain unless TLS is set
     * globally; a port line adds the default listener too */
    s = scan("allow_anonymous false\n");
    assert_true(s.default_listener_plain);
    s = scan("certfile /s.pem\nkeyfile /s.key\n");
    assert_false(s.default_listener_plain);
    s = scan("port 1883\nlistener 8883\ncertfile /s.pem\n");
    assert_true(s.default_listener_plain);
    assert_int_equal(s.plain_listeners, 0);
    /* "#certfile" is a comment, not TLS */
    s = scan("listener 8883\n#certfile /s.pem\n");
    assert_int_equal(s.plain_listeners, 1);
}

/* ------------------------------------------------------------- workers */

typedef struct reval_log {
    int n;
    mdp_verdict_code code;
    char reason[2 * DANCE_REASON_MAX];
    char record[MDP_RECORD_TEXT_MAX];
} reval_log;

static void on_reval(void *ctx, const mdp_revalidate_done *d)
{
    reval_log *l = ctx;

    l->n++;
    l->code = d->verdict->code;
    snprintf(l->reason, sizeof(l->reason), "%s", d->verdict->reason);
    snprintf(l->record, sizeof(l->record), "%s", d->verdict->record);
}

static void spki_record(EVP_PKEY *key, dance_tlsa_result *r)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key, &der);

    assert_true(n > 0);
    memset(r, 0, sizeof(*r));
    r->status = DANCE_OK;
    r->ttl = 300;
    assert_int_equal(dance_tlsa_rrset_add(&r->records, 3, 1, 0, der, (size_t)n), 0);
    OPENSSL_free(der);
}

/* recheck - put answer in the cache, run one token re-check, wait for it */
static void recheck(mdp_workers *w, dance_cache *cache, const dance_tlsa_result *answer,
                    const char *password, reval_log *l)
{
    int before = l->n, dummy;

    dance_cache_flush(cache);
    assert_int_equal(dance_cache_put(cache, "dev1._device.acme.example", answer), 0);
    assert_int_equal(mdp_workers_submit_revalidate_token(w, &dummy, 7,
                         "dev1._device.acme.example", "dev1._device.acme.example",
                         password), MDP_SUBMIT_QUEUED);
    for (int i = 0; i < 500 && l->n == before; i++) {
        mdp_workers_drain(w);
        if (l->n == before)
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    assert_int_equal(l->n, before + 1);
}

static void test_worker_token_recheck(void **state)
{
    char ta_path[] = "/tmp/dance-ta-XXXXXX", err2[256];
    dance_resolver_config rc;
    dance_cache_config cc;
    dance_cache *cache;
    dance_matcher *m;
    mdp_workers_config wc;
    mdp_workers_hooks hooks;
    mdp_workers *w;
    dance_token_policy pol;
    dance_token_sign_opts so;
    dance_tlsa_result good, other, gone;
    EVP_PKEY *key, *key2;
    reval_log l;
    char *token = NULL;
    int fd;

    (void)state;
    fd = mkstemp(ta_path);
    assert_true(fd >= 0);
    {
        const char *ds = ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
        assert_int_equal(write(fd, ds, strlen(ds)), (ssize_t)strlen(ds));
        close(fd);
    }
    memset(&rc, 0, sizeof(rc));
    rc.upstreams = "127.0.0.1@9";       /* never asked: answers come from the cache */
    rc.trust_anchor_file = ta_path;
    rc.timeout_ms = 300;
    memset(&cc, 0, sizeof(cc));
    cc.negative_ttl = 60;               /* so that "gone" is cached too */
    cache = dance_cache_new(&cc);
    assert_non_null(cache);
    m = dance_matcher_new(NULL, err2, sizeof(err2));
    assert_non_null(m);

    key = dance_key_generate(DANCE_KEY_EC256, err2, sizeof(err2));
    key2 = dance_key_generate(DANCE_KEY_EC256, err2, sizeof(err2));
    assert_non_null(key);
    assert_non_null(key2);
    memset(&so, 0, sizeof(so));
    so.key = key;
    so.name = "dev1._device.acme.example";
    so.audience = "b";
    so.lifetime = 1;
    so.now = NULL;
    assert_int_equal(dance_token_sign(&so, &token, NULL, err2, sizeof(err2)), 0);
    spki_record(key, &good);
    spki_record(key2, &other);
    memset(&gone, 0, sizeof(gone));
    gone.status = DANCE_NO_RECORD;
    snprintf(gone.reason, sizeof(gone.reason), "no TLSA record (secure NXDOMAIN)");

    memset(&pol, 0, sizeof(pol));
    pol.audience = "b";
    pol.matcher = m;
    memset(&wc, 0, sizeof(wc));
    wc.threads = 1;
    wc.queue_max = 4;
    wc.resolver = &rc;
    wc.cache = cache;
    wc.matcher = m;
    wc.token_policy = &pol;
    memset(&l, 0, sizeof(l));
    hooks.ctx = &l;
    hooks.fetch_done = NULL;
    hooks.revalidate_done = on_reval;
    w = mdp_workers_start(&wc, &hooks, err2, sizeof(err2));
    if (w == NULL)
        fail_msg("workers: %s", err2);

    /* the key still published: kept, even though the token (1 s) may have
     * expired by now - re-checks ask about the key only */
    recheck(w, cache, &good, token, &l);
    assert_int_equal(l.code, MDP_V_ACCEPTED);
    assert_string_equal(l.record, "tlsa 3 1 0");
    /* another key published: revoked */
    recheck(w, cache, &other, token, &l);
    assert_int_equal(l.code, MDP_V_NO_MATCH);
    assert_non_null(strstr(l.reason, "bad_signature"));
    /* records removed: revoked */
    recheck(w, cache, &gone, token, &l);
    assert_int_equal(l.code, MDP_V_NO_RECORD);

    mdp_workers_stop(w);
    dance_tlsa_result_clear(&good);
    dance_tlsa_result_clear(&other);
    dance_tlsa_result_clear(&gone);
    free(token);
    EVP_PKEY_free(key);
    EVP_PKEY_free(key2);
    dance_matcher_free(m);
    dance_cache_free(cache);
    unlink(ta_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_option_defaults),
        cmocka_unit_test(test_token_options_set),
        cmocka_unit_test(test_token_option_errors),
        cmocka_unit_test(test_verdicts_for_tokens),
        cmocka_unit_test(test_registry_token_entries),
        cmocka_unit_test(test_confscan_plain_listeners),
        cmocka_unit_test(test_worker_token_recheck),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
