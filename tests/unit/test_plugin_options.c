/*
 * tests/unit/test_plugin_options.c - the plugin's option parser
 * (plugin/options.c): defaults, every option, every kind of bad value,
 * cross-option rules, and that the manual page documents every plugin option.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "options.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char err[MDP_OPT_ERR_MAX];

static int parse(const mdp_plugin_opt *o, size_t n, mdp_plugin_config *c)
{
    memset(err, 0, sizeof(err));
    return mdp_plugin_options_parse(o, n, c, err, sizeof(err));
}

/* expect_error - parsing fails and the error starts with prefix. */
static void expect_error(const mdp_plugin_opt *o, size_t n, const char *prefix)
{
    mdp_plugin_config c;

    assert_int_equal(parse(o, n, &c), -1);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", err, prefix);
    mdp_plugin_config_clear(&c);
}

/* one_bad - allowed_domains plus key=value must fail with the standard
 * "plugin_opt_<key> '<value>': expected" line. */
static void one_bad(const char *key, const char *value)
{
    mdp_plugin_opt o[] = {{"allowed_domains", "acme.example"}, {key, value}};
    char prefix[1024];

    snprintf(prefix, sizeof(prefix), "plugin_opt_%s '%s': expected", key, value);
    if (strcmp(key, "allowed_domains") == 0)
        expect_error(o + 1, 1, prefix);
    else
        expect_error(o, N(o), prefix);
}

static void test_defaults(void **state)
{
    mdp_plugin_opt o[] = {{"allowed_domains", "acme.example"}};
    mdp_plugin_config c;

    (void)state;
    assert_int_equal(parse(o, N(o), &c), 0);
    assert_null(c.resolver);
    assert_null(c.trust_anchor);
    assert_int_equal(c.dns_transport, DANCE_TRANSPORT_UDP);
    assert_null(c.tls_auth_name);
    assert_int_equal(c.lookup_timeout_ms, MDP_OPT_DEFAULT_LOOKUP_TIMEOUT_MS);
    assert_string_equal(c.allowed_domains, "acme.example");
    assert_non_null(c.allowlist);
    assert_true(dance_allowlist_match(c.allowlist, "d._device.acme.example"));
    assert_false(dance_allowlist_match(c.allowlist, "d._device.badacme.example"));
    assert_int_equal(c.identity_source, MDP_IDSRC_SAN);
    assert_null(c.tlsa_owner_label);
    assert_null(c.cafile);
    assert_int_equal(c.fallback, MDP_FALLBACK_DENY);
    assert_int_equal(c.connect_budget_ms, MDP_OPT_DEFAULT_CONNECT_BUDGET_MS);
    assert_int_equal(c.cache_size, MDP_OPT_DEFAULT_CACHE_SIZE);
    assert_int_equal(c.min_ttl, MDP_OPT_DEFAULT_MIN_TTL);
    assert_int_equal(c.max_ttl, MDP_OPT_DEFAULT_MAX_TTL);
    assert_int_equal(c.negative_ttl, MDP_OPT_DEFAULT_NEGATIVE_TTL);
    assert_int_equal(c.failure_ttl, MDP_OPT_DEFAULT_FAILURE_TTL);
    assert_int_equal(c.revalidate_interval, MDP_OPT_DEFAULT_REVALIDATE_INTERVAL);
    assert_int_equal(c.stats_interval, MDP_OPT_DEFAULT_STATS_INTERVAL);
    assert_int_equal(c.worker_threads, MDP_OPT_DEFAULT_WORKER_THREADS);
    assert_int_equal(c.queue_size, MDP_OPT_DEFAULT_QUEUE_SIZE);
    assert_int_equal(c.dns_inflight, 256);
    assert_null(c.identities_file);
    /* message verification: off */
    assert_null(c.verify_topics);
    assert_false(mdp_plugin_config_verifying(&c));
    assert_string_equal(c.verified_prefix, "verified/");
    assert_null(c.rejected_prefix);
    assert_int_equal(c.max_payload, 65536);
    /* the strict profile's defaults */
    assert_int_equal(c.message_profile, MDP_PROFILE_STRICT);
    assert_true(c.require_iat);
    assert_int_equal(c.max_skew, 300);
    assert_int_equal(c.replay_window, MDP_OPT_DEFAULT_REPLAY_WINDOW);
    assert_false(c.require_jti);
    assert_true(c.require_topic_binding);
    assert_int_equal(c.verify_threads, MDP_OPT_DEFAULT_VERIFY_THREADS);
    assert_int_equal(c.verify_queue_size, MDP_OPT_DEFAULT_VERIFY_QUEUE_SIZE);
    assert_int_equal(c.key_cache_size, MDP_OPT_DEFAULT_KEY_CACHE_SIZE);
    assert_int_equal(c.replay_cache_size, 100000);
    assert_int_equal(c.verify_queue_bytes, 64u * 1024u * 1024u);
    assert_int_equal(c.sender_lookup_rate, 10);
    assert_int_equal(c.sender_lookup_burst, 50);
    mdp_plugin_config_clear(&c);
    assert_null(c.allowlist);
    assert_null(c.verified_prefix);
}

static void test_message_options(void **state)
{
    mdp_plugin_opt o[] = {
        {"allowed_domains", "acme.example"},
        {"verify_topics", " sensors/# ,gw/+/data,$share-not/x"},
        {"verified_prefix", "v/"},
        {"rejected_prefix", "rejected/msgs/"},
        {"max_payload", "1024"},
        {"require_iat", "true"},
        {"max_skew", "30"},
        {"replay_window", "60"},
        {"require_jti", "true"},
        {"require_topic_binding", "true"},
        {"verify_threads", "3"},
        {"verify_queue_size", "77"},
        {"key_cache_size", "5"},
        {"replay_cache_size", "5000000"},
        {"verify_queue_bytes", "2097152"},
        {"sender_lookups_per_client", "5/20"},
    };
    mdp_plugin_opt off[] = {{"allowed_domains", "acme.example"},
                              {"verify_topics", " "}, {"require_iat", "false"}};
    mdp_plugin_config c;

    (void)state;
    assert_int_equal(parse(o, N(o), &c), 0);
    assert_true(mdp_plugin_config_verifying(&c));
    assert_int_equal(mdp_topics_count(c.topics), 3);
    assert_true(mdp_topics_match(c.topics, "sensors/a/b"));
    assert_true(mdp_topics_match(c.topics, "gw/1/data"));
    assert_false(mdp_topics_match(c.topics, "gw/1/data/x"));
    assert_false(mdp_topics_match(c.topics, "other"));
    assert_string_equal(c.verified_prefix, "v/");
    assert_string_equal(c.rejected_prefix, "rejected/msgs/");
    assert_int_equal(c.max_payload, 1024);
    assert_true(c.require_iat);
    assert_int_equal(c.max_skew, 30);
    assert_int_equal(c.replay_window, 60);
    assert_true(c.require_jti);
    assert_true(c.require_topic_binding);
    assert_int_equal(c.verify_threads, 3);
    assert_int_equal(c.verify_queue_size, 77);
    assert_int_equal(c.key_cache_size, 5);
    assert_int_equal(c.replay_cache_size, 5000000);
    assert_int_equal(c.verify_queue_bytes, 2097152);
    assert_int_equal(c.sender_lookup_rate, 5);
    assert_int_equal(c.sender_lookup_burst, 20);
    mdp_plugin_config_clear(&c);
    assert_null(c.topics);

    /* An empty (blank) list switches verification off; then the other
     * message options may stay. */
    assert_int_equal(parse(off, N(off), &c), 0);
    assert_false(mdp_plugin_config_verifying(&c));
    mdp_plugin_config_clear(&c);
}

static void test_message_cross_rules(void **state)
{
    mdp_plugin_opt no_topics[] = {{"allowed_domains", "a.example"},
                                    {"rejected_prefix", "rejected/"}};
    mdp_plugin_opt nested[] = {{"allowed_domains", "a.example"}, {"verify_topics", "s/#"},
                                 {"rejected_prefix", "verified/rejected/"}};
    mdp_plugin_opt nested2[] = {{"allowed_domains", "a.example"}, {"verify_topics", "s/#"},
                                  {"verified_prefix", "out/verified/"},
                                  {"rejected_prefix", "out/"}};
    mdp_plugin_opt same[] = {{"allowed_domains", "a.example"}, {"verify_topics", "s/#"},
                               {"rejected_prefix", "verified/"}};
    mdp_plugin_opt jti[] = {{"allowed_domains", "a.example"}, {"verify_topics", "s/#"},
                              {"message_profile", "compat"}, {"require_iat", "true"},
                              {"require_jti", "true"}};
    mdp_plugin_opt window[] = {{"allowed_domains", "a.example"}, {"verify_topics", "s/#"},
                                 {"replay_window", "599"}};
    mdp_plugin_opt window_ok[] = {{"allowed_domains", "a.example"}, {"verify_topics", "s/#"},
                                    {"replay_window", "20"}, {"max_skew", "10"},
                                    {"rejected_prefix", "verifiedx/"}};
    mdp_plugin_config c;

    (void)state;
    expect_error(no_topics, N(no_topics), "plugin_opt_rejected_prefix is set but "
                 "plugin_opt_verify_topics is not");
    expect_error(nested, N(nested), "plugin_opt_rejected_prefix 'verified/rejected/': "
                 "expected a topic tree apart from plugin_opt_verified_prefix 'verified/'");
    expect_error(nested2, N(nested2), "plugin_opt_rejected_prefix 'out/': expected a "
                 "topic tree apart");
    expect_error(same, N(same), "plugin_opt_rejected_prefix 'verified/': expected");
    expect_error(jti, N(jti), "plugin_opt_require_jti 'true': expected "
                 "plugin_opt_replay_window too");
    expect_error(window, N(window), "plugin_opt_replay_window '599': expected at least "
                 "twice plugin_opt_max_skew (300 s)");
    assert_int_equal(parse(window_ok, N(window_ok), &c), 0);
    mdp_plugin_config_clear(&c);
}

/* Secure message defaults, the compat profile, and the combinations that
 * leave a replay or topic hole. */
static void test_message_profile(void **state)
{
#define V {"allowed_domains", "a.example"}, {"verify_topics", "s/#"}
    mdp_plugin_opt strict[] = {V};
    mdp_plugin_opt strict_named[] = {V, {"message_profile", "strict"}};
    mdp_plugin_opt wide_skew[] = {V, {"max_skew", "400"}};
    mdp_plugin_opt narrow_skew[] = {V, {"max_skew", "10"}};
    mdp_plugin_opt no_iat[] = {V, {"require_iat", "false"}};
    mdp_plugin_opt no_topic[] = {V, {"require_topic_binding", "false"}};
    mdp_plugin_opt no_window[] = {V, {"replay_window", "0"}};
    mdp_plugin_opt short_window[] = {V, {"max_skew", "100"}, {"replay_window", "199"}};
    mdp_plugin_opt jti_ok[] = {V, {"require_jti", "true"}};
    mdp_plugin_opt compat[] = {V, {"message_profile", "compat"}};
    mdp_plugin_opt compat_window[] = {V, {"message_profile", "compat"},
                                        {"replay_window", "60"}};
    mdp_plugin_opt compat_iat_short[] = {V, {"message_profile", "compat"},
                                           {"require_iat", "true"},
                                           {"replay_window", "60"}};
    mdp_plugin_opt compat_jti_hole[] = {V, {"message_profile", "compat"},
                                          {"replay_window", "600"},
                                          {"require_jti", "true"}};
    mdp_plugin_opt compat_jti_ok[] = {V, {"message_profile", "compat"},
                                        {"replay_window", "600"}, {"require_jti", "true"},
                                        {"require_iat", "true"}};
    mdp_plugin_opt compat_mixed[] = {V, {"message_profile", "compat"},
                                       {"require_topic_binding", "true"},
                                       {"require_iat", "false"}};
    mdp_plugin_opt profile_alone[] = {{"allowed_domains", "a.example"},
                                        {"message_profile", "compat"}};
    mdp_plugin_opt compat_size_alone[] = {V, {"message_profile", "compat"},
                                            {"replay_cache_size", "200000"}};
    mdp_plugin_opt compat_size[] = {V, {"message_profile", "compat"},
                                      {"replay_window", "60"},
                                      {"replay_cache_size", "200000"}};
#undef V
    mdp_plugin_config c;

    (void)state;
    assert_int_equal(parse(strict, N(strict), &c), 0);
    assert_int_equal(c.message_profile, MDP_PROFILE_STRICT);
    assert_string_equal(mdp_message_profile_name(c.message_profile), "strict");
    assert_true(c.require_iat);
    assert_true(c.require_topic_binding);
    assert_int_equal(c.max_skew, 300);
    assert_int_equal(c.replay_window, 600);
    assert_false(c.require_jti);
    mdp_plugin_config_clear(&c);
    assert_int_equal(parse(strict_named, N(strict_named), &c), 0);
    assert_int_equal(c.replay_window, 600);
    mdp_plugin_config_clear(&c);
    /* the default window grows with max_skew, never below 600 s */
    assert_int_equal(parse(wide_skew, N(wide_skew), &c), 0);
    assert_int_equal(c.replay_window, 800);
    mdp_plugin_config_clear(&c);
    assert_int_equal(parse(narrow_skew, N(narrow_skew), &c), 0);
    assert_int_equal(c.replay_window, 600);
    mdp_plugin_config_clear(&c);
    assert_int_equal(parse(jti_ok, N(jti_ok), &c), 0);
    assert_true(c.require_jti);
    mdp_plugin_config_clear(&c);

    /* strict refuses what weakens it, and says how to get it */
    expect_error(no_iat, N(no_iat), "plugin_opt_require_iat 'false': refused by "
                 "plugin_opt_message_profile strict (the default)");
    assert_non_null(strstr(err, "plugin_opt_message_profile compat"));
    expect_error(no_topic, N(no_topic), "plugin_opt_require_topic_binding 'false': "
                 "refused by plugin_opt_message_profile strict");
    assert_non_null(strstr(err, "compat"));
    expect_error(no_window, N(no_window), "plugin_opt_replay_window '0': refused by "
                 "plugin_opt_message_profile strict");
    expect_error(short_window, N(short_window), "plugin_opt_replay_window '199': "
                 "expected at least twice plugin_opt_max_skew (100 s)");

    /* compat: today's prototype behaviour unless configured */
    assert_int_equal(parse(compat, N(compat), &c), 0);
    assert_int_equal(c.message_profile, MDP_PROFILE_COMPAT);
    assert_string_equal(mdp_message_profile_name(c.message_profile), "compat");
    assert_false(c.require_iat);
    assert_false(c.require_topic_binding);
    assert_int_equal(c.replay_window, 0);
    mdp_plugin_config_clear(&c);
    /* a short window only drops duplicates when iat is not required */
    assert_int_equal(parse(compat_window, N(compat_window), &c), 0);
    assert_int_equal(c.replay_window, 60);
    mdp_plugin_config_clear(&c);
    expect_error(compat_iat_short, N(compat_iat_short), "plugin_opt_replay_window '60': "
                 "expected at least twice plugin_opt_max_skew (300 s)");
    /* a jti leaves the cache after the window: without iat it works again */
    expect_error(compat_jti_hole, N(compat_jti_hole), "plugin_opt_require_jti 'true': "
                 "expected plugin_opt_require_iat true too");
    assert_int_equal(parse(compat_jti_ok, N(compat_jti_ok), &c), 0);
    assert_true(c.require_jti);
    assert_true(c.require_iat);
    assert_false(c.require_topic_binding);
    mdp_plugin_config_clear(&c);
    assert_int_equal(parse(compat_mixed, N(compat_mixed), &c), 0);
    assert_false(c.require_iat);
    assert_true(c.require_topic_binding);
    mdp_plugin_config_clear(&c);
    /* a size for a replay cache that compat leaves off is a mistake */
    expect_error(compat_size_alone, N(compat_size_alone), "plugin_opt_replay_cache_size "
                 "is set but plugin_opt_replay_window is 0");
    assert_int_equal(parse(compat_size, N(compat_size), &c), 0);
    assert_int_equal(c.replay_cache_size, 200000);
    mdp_plugin_config_clear(&c);

    expect_error(profile_alone, N(profile_alone), "plugin_opt_message_profile is set but "
                 "plugin_opt_verify_topics is not");
    one_bad("message_profile", "STRICT");
    one_bad("message_profile", "");
    one_bad("message_profile", "off");
    assert_string_equal(mdp_message_profile_name(MDP_PROFILE_COUNT), "unknown");
}

static void test_every_option(void **state)
{
    mdp_plugin_opt o[] = {
        {"resolver", "127.0.0.1@5353, ::1,192.0.2.1@53"},
        {"trust_anchor", "/etc/root.ds"},
        {"dns_transport", "tls"},
        {"tls_auth_name", "dns.example"},
        {"lookup_timeout_ms", "750"},
        {"allowed_domains", "acme.example, Other.Example."},
        {"identity_source", "username"},
        {"tlsa_owner", "_mqtt"},
        {"cafile", "/etc/ca.pem"},
        {"fallback", "defer"},
        {"connect_budget_ms", "0"},
        {"cache_size", "42"},
        {"min_ttl", "5"},
        {"max_ttl", "600"},
        {"negative_ttl", "7"},
        {"failure_ttl", "0"},
        {"revalidate_interval", "0"},
        {"stats_interval", "3"},
        {"worker_threads", "4"},
        {"queue_size", "9"},
        {"dns_inflight", "65536"},
        {"identities_file", "/var/lib/mosquitto/dance-identities"},
    };
    mdp_plugin_config c;
    dance_resolver_config rc;
    dance_cache_config cc;

    (void)state;
    assert_int_equal(parse(o, N(o), &c), 0);
    assert_string_equal(c.resolver, "127.0.0.1@5353, ::1,192.0.2.1@53");
    assert_string_equal(c.trust_anchor, "/etc/root.ds");
    assert_int_equal(c.dns_transport, DANCE_TRANSPORT_TLS);
    assert_string_equal(c.tls_auth_name, "dns.example");
    assert_int_equal(c.lookup_timeout_ms, 750);
    assert_true(dance_allowlist_match(c.allowlist, "x.other.example"));
    assert_int_equal(c.identity_source, MDP_IDSRC_USERNAME);
    assert_string_equal(c.tlsa_owner_label, "_mqtt");
    assert_string_equal(c.cafile, "/etc/ca.pem");
    assert_int_equal(c.fallback, MDP_FALLBACK_DEFER);
    assert_int_equal(c.connect_budget_ms, 0);
    assert_int_equal(c.cache_size, 42);
    assert_int_equal(c.min_ttl, 5);
    assert_int_equal(c.max_ttl, 600);
    assert_int_equal(c.negative_ttl, 7);
    assert_int_equal(c.failure_ttl, 0);
    assert_int_equal(c.revalidate_interval, 0);
    assert_int_equal(c.stats_interval, 3);
    assert_int_equal(c.worker_threads, 4);
    assert_int_equal(c.queue_size, 9);
    assert_int_equal(c.dns_inflight, 65536);
    assert_string_equal(c.identities_file, "/var/lib/mosquitto/dance-identities");

    mdp_plugin_config_resolver(&c, &rc);
    assert_string_equal(rc.upstreams, c.resolver);
    assert_string_equal(rc.trust_anchor_file, "/etc/root.ds");
    assert_int_equal(rc.timeout_ms, 750);
    assert_int_equal(rc.transport, DANCE_TRANSPORT_TLS);
    assert_string_equal(rc.tls_auth_name, "dns.example");
    mdp_plugin_config_cache(&c, &cc);
    assert_int_equal(cc.capacity, 42);
    assert_int_equal(cc.min_ttl, 5);
    assert_int_equal(cc.max_ttl, 600);
    assert_int_equal(cc.negative_ttl, 7);
    assert_int_equal(cc.failure_ttl, 0);
    mdp_plugin_config_clear(&c);
}

static void test_required_and_unknown(void **state)
{
    mdp_plugin_opt none[] = {{"cafile", "/x"}};
    mdp_plugin_opt unknown[] = {{"allowed_domains", "a.example"}, {"resolvers", "1.1.1.1"}};
    mdp_plugin_opt twice[] = {{"allowed_domains", "a.example"}, {"min_ttl", "1"},
                                {"min_ttl", "2"}};
    mdp_plugin_config c;

    (void)state;
    expect_error(none, N(none), "plugin_opt_allowed_domains is required");
    assert_int_equal(parse(NULL, 0, &c), -1);
    assert_non_null(strstr(err, "plugin_opt_allowed_domains"));
    mdp_plugin_config_clear(&c);
    expect_error(unknown, N(unknown), "plugin_opt_resolvers '1.1.1.1': unknown option");
    assert_non_null(strstr(err, "resolver"));      /* lists the known ones, */
    {
        /* all of them: the list ends with the table's last option */
        size_t last = 0;
        char tail[128];
        while (mdp_plugin_option_name(last + 1) != NULL)
            last++;
        snprintf(tail, sizeof(tail), "%s)", mdp_plugin_option_name(last));
        assert_non_null(strstr(err, tail));
    }
    expect_error(twice, N(twice), "plugin_opt_min_ttl '2': given twice");
}

static void test_bad_values(void **state)
{
    (void)state;
    /* numbers: not digits, sign, blanks, empty, bounds, overflow */
    one_bad("identities_file", "");
    one_bad("identities_file", "dance-identities");   /* relative */
    one_bad("lookup_timeout_ms", "");
    one_bad("lookup_timeout_ms", "0");
    one_bad("lookup_timeout_ms", "60001");
    one_bad("lookup_timeout_ms", "-5");
    one_bad("lookup_timeout_ms", "+5");
    one_bad("lookup_timeout_ms", " 5");
    one_bad("lookup_timeout_ms", "5ms");
    one_bad("lookup_timeout_ms", "0x10");
    one_bad("connect_budget_ms", "10001");
    one_bad("connect_budget_ms", "99999999999999999999999999");
    one_bad("cache_size", "0");
    one_bad("cache_size", "18446744073709551617");
    one_bad("min_ttl", "604801");
    one_bad("max_ttl", "0");
    one_bad("negative_ttl", "x");
    one_bad("failure_ttl", "3601");
    one_bad("revalidate_interval", "86401");
    one_bad("stats_interval", "1.5");
    one_bad("worker_threads", "0");
    one_bad("worker_threads", "65");
    one_bad("queue_size", "0");
    one_bad("dns_inflight", "0");
    one_bad("dns_inflight", "65537");
    /* enumerations */
    one_bad("dns_transport", "https");
    one_bad("dns_transport", "UDP ");
    one_bad("identity_source", "cn");
    one_bad("identity_source", "");
    one_bad("fallback", "allow");
    one_bad("tlsa_owner", "mqtt");
    one_bad("tlsa_owner", "_");
    one_bad("tlsa_owner", "_mq.tt");
    one_bad("tlsa_owner", "_mq_tt");
    /* strings */
    one_bad("trust_anchor", "");
    one_bad("cafile", "");
    one_bad("tls_auth_name", "");
    /* lists */
    one_bad("resolver", "");
    one_bad("resolver", "127.0.0.1,");
    one_bad("resolver", "localhost");
    one_bad("resolver", "127.0.0.1@0");
    one_bad("resolver", "127.0.0.1@65536");
    one_bad("resolver", "127.0.0.1@");
    one_bad("resolver", "300.1.1.1");
    one_bad("resolver", "@53");
    one_bad("allowed_domains", "");
    one_bad("allowed_domains", "a.example,,b.example");
    one_bad("allowed_domains", "bad domain.example");
    /* message verification */
    one_bad("verify_topics", "a/#/b");
    one_bad("verify_topics", "a/b#");
    one_bad("verify_topics", "a/+b");
    one_bad("verify_topics", "a,,b");
    one_bad("verify_topics", "a, ");
    one_bad("verified_prefix", "verified");
    one_bad("verified_prefix", "");
    one_bad("verified_prefix", "v/+/");
    one_bad("verified_prefix", "v/#/");
    one_bad("verified_prefix", "$SYS/v/");
    one_bad("rejected_prefix", "rejected");
    one_bad("forwarded_prefix", "forwarded");
    one_bad("forwarded_prefix", "f/+/");
    one_bad("forwarded_prefix", "$share/f/");
    one_bad("forwarders", "edge1._broker.acme.example,,edge2._broker.acme.example");
    one_bad("forwarders", "edge1._broker.acme.example,");
    one_bad("forwarders", "bad name.acme.example");
    one_bad("forwarders", "edge1/._broker.acme.example");
    one_bad("max_payload", "0");
    one_bad("max_payload", "268435456");
    one_bad("require_iat", "yes");
    one_bad("require_iat", "TRUE");
    one_bad("require_jti", "1");
    one_bad("require_topic_binding", "");
    one_bad("max_skew", "0");
    one_bad("max_skew", "86401");
    one_bad("replay_window", "86401");
    one_bad("verify_threads", "0");
    one_bad("verify_threads", "65");
    one_bad("verify_queue_size", "0");
    one_bad("verify_queue_size", "1000001");
    one_bad("key_cache_size", "0");
    one_bad("key_cache_size", "10000001");
    one_bad("replay_cache_size", "999");
    one_bad("replay_cache_size", "100000001");
    one_bad("verify_queue_bytes", "1048575");
    one_bad("verify_queue_bytes", "68719476737");
    one_bad("verify_queue_bytes", "64M");
    one_bad("sender_lookups_per_client", "10");
    one_bad("sender_lookups_per_client", "10/");
    one_bad("sender_lookups_per_client", "/50");
    one_bad("sender_lookups_per_client", "0/50");
    one_bad("sender_lookups_per_client", "1001/50");
    one_bad("sender_lookups_per_client", "10/0");
    one_bad("sender_lookups_per_client", "10/100001");
    one_bad("sender_lookups_per_client", "10/5/5");
    one_bad("sender_lookups_per_client", "-1/5");
    one_bad("sender_lookups_per_client", "10 / 50");
}

/* The byte bound fits a message of max_payload: an explicit value that
 * does not is refused, the default grows to fit. */
static void test_queue_bytes_fits_max_payload(void **state)
{
    mdp_plugin_opt small[] = {{"allowed_domains", "a.example"}, {"verify_topics", "s/#"},
                                {"max_payload", "1000000"},
                                {"verify_queue_bytes", "3999999"}};
    mdp_plugin_opt big[] = {{"allowed_domains", "a.example"}, {"verify_topics", "s/#"},
                              {"max_payload", "100000000"}};
    mdp_plugin_opt fits[] = {{"allowed_domains", "a.example"}, {"verify_topics", "s/#"},
                               {"max_payload", "1000000"},
                               {"verify_queue_bytes", "4000000"}};
    mdp_plugin_config c;

    (void)state;
    expect_error(small, N(small), "plugin_opt_verify_queue_bytes '3999999': expected at "
                 "least 4000000");
    assert_int_equal(parse(big, N(big), &c), 0);
    assert_int_equal(c.verify_queue_bytes, 400000000u);
    mdp_plugin_config_clear(&c);
    assert_int_equal(parse(fits, N(fits), &c), 0);
    assert_int_equal(c.verify_queue_bytes, 4000000u);
    mdp_plugin_config_clear(&c);
}

static void test_reasons_name_the_part(void **state)
{
    (void)state;
    one_bad("resolver", "127.0.0.1,10.0.0.1@99999");
    assert_non_null(strstr(err, "99999"));
    one_bad("resolver", "1.2.3.4,nope");
    assert_non_null(strstr(err, "'nope' is not an IPv4 or IPv6 address"));
    one_bad("lookup_timeout_ms", "0");
    assert_non_null(strstr(err, "from 1 to 60000"));
    one_bad("verify_topics", "ok/#,a/#/b");
    assert_non_null(strstr(err, "'a/#/b': '#' must be the last level"));
    one_bad("verify_topics", "x/y+");
    assert_non_null(strstr(err, "'+' must be a whole level"));
    one_bad("verified_prefix", "verified");
    assert_non_null(strstr(err, "it must end in '/'"));
}

static void test_cross_rules(void **state)
{
    mdp_plugin_opt ttl[] = {{"allowed_domains", "a.example"}, {"min_ttl", "700"},
                              {"max_ttl", "600"}};
    mdp_plugin_opt tls[] = {{"allowed_domains", "a.example"}, {"resolver", "192.0.2.1@853"},
                              {"dns_transport", "tls"}};
    mdp_plugin_opt tls_nores[] = {{"allowed_domains", "a.example"},
                                    {"dns_transport", "tls"}, {"tls_auth_name", "d.example"}};
    mdp_plugin_opt name_only[] = {{"allowed_domains", "a.example"},
                                    {"tls_auth_name", "d.example"}};
    mdp_plugin_opt ok[] = {{"allowed_domains", "a.example"}, {"min_ttl", "600"},
                             {"max_ttl", "600"}};
    mdp_plugin_config c;

    (void)state;
    expect_error(ttl, N(ttl), "plugin_opt_min_ttl '700': expected at most plugin_opt_max_ttl (600)");
    expect_error(tls, N(tls), "plugin_opt_dns_transport 'tls': expected plugin_opt_tls_auth_name");
    expect_error(tls_nores, N(tls_nores), "plugin_opt_dns_transport 'tls': expected plugin_opt_resolver");
    expect_error(name_only, N(name_only), "plugin_opt_tls_auth_name 'd.example': only used");
    assert_int_equal(parse(ok, N(ok), &c), 0);
    mdp_plugin_config_clear(&c);
}

static void test_owner_identity_resets(void **state)
{
    mdp_plugin_opt o[] = {{"allowed_domains", "a.example"}, {"tlsa_owner", "identity"}};
    mdp_plugin_config c;

    (void)state;
    assert_int_equal(parse(o, N(o), &c), 0);
    assert_null(c.tlsa_owner_label);
    mdp_plugin_config_clear(&c);
}

static void test_check_resolver_names_trust_anchor(void **state)
{
    mdp_plugin_opt o[] = {{"allowed_domains", "a.example"},
                            {"trust_anchor", "/nonexistent/dance/root.ds"}};
    mdp_plugin_config c;

    (void)state;
    assert_int_equal(parse(o, N(o), &c), 0);
    assert_int_equal(mdp_plugin_options_check_resolver(&c, err, sizeof(err)), -1);
    if (strncmp(err, "plugin_opt_trust_anchor '/nonexistent/dance/root.ds': expected", 62) != 0)
        fail_msg("unexpected error: %s", err);
    mdp_plugin_config_clear(&c);
}


/* encrypted: refuse by default, pass when named, nothing else (exact
 * words), and only with verify_topics. */
static void test_encrypted_option(void **state)
{
#define V {"allowed_domains", "a.example"}, {"verify_topics", "s/#"}
    mdp_plugin_opt dflt[] = {V};
    mdp_plugin_opt refuse[] = {V, {"encrypted", "refuse"}};
    mdp_plugin_opt pass[] = {V, {"encrypted", "pass"}};
    mdp_plugin_opt upper[] = {V, {"encrypted", "PASS"}};
    mdp_plugin_opt other[] = {V, {"encrypted", "deliver"}};
    mdp_plugin_opt alone[] = {{"allowed_domains", "a.example"}, {"encrypted", "pass"}};
#undef V
    mdp_plugin_config c;

    (void)state;
    assert_int_equal(parse(dflt, N(dflt), &c), 0);
    assert_false(c.encrypted_pass);
    mdp_plugin_config_clear(&c);
    assert_int_equal(parse(refuse, N(refuse), &c), 0);
    assert_false(c.encrypted_pass);
    mdp_plugin_config_clear(&c);
    assert_int_equal(parse(pass, N(pass), &c), 0);
    assert_true(c.encrypted_pass);
    mdp_plugin_config_clear(&c);
    expect_error(upper, N(upper), "plugin_opt_encrypted 'PASS': expected refuse "
                 "(encrypted messages on verify_topics are not delivered) or pass");
    expect_error(other, N(other), "plugin_opt_encrypted 'deliver': expected refuse");
    expect_error(alone, N(alone), "plugin_opt_encrypted is set but "
                 "plugin_opt_verify_topics is not");
}
/* forwarders and forwarded_prefix: defaults, normalised names, and every
 * rule that keeps the forwarded tree apart and the feature whole. */
static void test_forwarding_options(void **state)
{
    mdp_plugin_opt on[] = {{"allowed_domains", "acme.example"},
                             {"verify_topics", "devices/#"},
                             {"forwarders", " Edge1._broker.acme.example. , "
                                            "edge2._broker.acme.example"}};
    mdp_plugin_opt prefix[] = {{"allowed_domains", "acme.example"},
                                 {"verify_topics", "devices/#"},
                                 {"forwarders", "edge1._broker.acme.example"},
                                 {"forwarded_prefix", "hub/in/"}};
    mdp_plugin_opt blank[] = {{"allowed_domains", "acme.example"},
                                {"verify_topics", "devices/#"}, {"forwarders", " "}};
    mdp_plugin_opt blank_prefix[] = {{"allowed_domains", "acme.example"},
                                       {"verify_topics", "devices/#"}, {"forwarders", ""},
                                       {"forwarded_prefix", "f/"}};
    mdp_plugin_opt prefix_only[] = {{"allowed_domains", "acme.example"},
                                      {"verify_topics", "devices/#"},
                                      {"forwarded_prefix", "f/"}};
    mdp_plugin_opt no_topics[] = {{"allowed_domains", "acme.example"},
                                    {"forwarders", "edge1._broker.acme.example"}};
    mdp_plugin_opt off[] = {{"allowed_domains", "acme.example"}, {"verify_topics", ""},
                              {"forwarders", "edge1._broker.acme.example"}};
    mdp_plugin_opt in_verified[] = {{"allowed_domains", "acme.example"},
                                      {"verify_topics", "devices/#"},
                                      {"forwarders", "edge1._broker.acme.example"},
                                      {"forwarded_prefix", "verified/forwarded/"}};
    mdp_plugin_opt around_rejected[] = {{"allowed_domains", "acme.example"},
                                          {"verify_topics", "devices/#"},
                                          {"rejected_prefix", "out/rejected/"},
                                          {"forwarders", "edge1._broker.acme.example"},
                                          {"forwarded_prefix", "out/"}};
    mdp_plugin_opt under_filter[] = {{"allowed_domains", "acme.example"},
                                       {"verify_topics", "devices/#, +/x"},
                                       {"forwarders", "edge1._broker.acme.example"}};
    mdp_plugin_opt bare_filter[] = {{"allowed_domains", "acme.example"},
                                      {"verify_topics", "devices/#,forwarded"},
                                      {"forwarders", "edge1._broker.acme.example"}};
    mdp_plugin_opt everything[] = {{"allowed_domains", "acme.example"},
                                     {"verify_topics", "#"},
                                     {"forwarders", "edge1._broker.acme.example"}};
    mdp_plugin_opt outside[] = {{"allowed_domains", "acme.example"},
                                  {"verify_topics", "devices/#"},
                                  {"forwarders", "edge1._broker.acme.example,"
                                                 "edge1.other.example"}};
    mdp_plugin_opt no_replay[] = {{"allowed_domains", "acme.example"},
                                    {"verify_topics", "devices/#"},
                                    {"message_profile", "compat"},
                                    {"forwarders", "edge1._broker.acme.example"}};
    mdp_plugin_config c;

    (void)state;
    assert_int_equal(parse(on, N(on), &c), 0);
    assert_int_equal(c.forwarder_count, 2);
    assert_string_equal(c.forwarder_names[0], "edge1._broker.acme.example");
    assert_string_equal(c.forwarded_prefix, "forwarded/");
    assert_true(mdp_plugin_config_forwarder(&c, "edge1._broker.acme.example"));
    assert_true(mdp_plugin_config_forwarder(&c, "edge2._broker.acme.example"));
    assert_false(mdp_plugin_config_forwarder(&c, "edge3._broker.acme.example"));
    assert_false(mdp_plugin_config_forwarder(&c, "x.edge1._broker.acme.example"));
    assert_false(mdp_plugin_config_forwarder(&c, "_broker.acme.example"));
    assert_false(mdp_plugin_config_forwarder(&c, NULL));
    mdp_plugin_config_clear(&c);

    assert_int_equal(parse(prefix, N(prefix), &c), 0);
    assert_string_equal(c.forwarded_prefix, "hub/in/");
    mdp_plugin_config_clear(&c);

    /* off: absent or blank; no prefix then, and no forwarder */
    assert_int_equal(parse(on, 2, &c), 0);
    assert_int_equal(c.forwarder_count, 0);
    assert_null(c.forwarded_prefix);
    assert_false(mdp_plugin_config_forwarder(&c, "edge1._broker.acme.example"));
    mdp_plugin_config_clear(&c);
    assert_int_equal(parse(blank, N(blank), &c), 0);
    assert_int_equal(c.forwarder_count, 0);
    assert_null(c.forwarded_prefix);
    mdp_plugin_config_clear(&c);

    expect_error(blank_prefix, N(blank_prefix), "plugin_opt_forwarded_prefix is set but "
                 "plugin_opt_forwarders is empty");
    expect_error(prefix_only, N(prefix_only), "plugin_opt_forwarded_prefix is set but "
                 "plugin_opt_forwarders is not");
    expect_error(no_topics, N(no_topics), "plugin_opt_forwarders is set but "
                 "plugin_opt_verify_topics is not");
    expect_error(off, N(off), "plugin_opt_forwarders 'edge1._broker.acme.example': "
                 "expected message verification on");
    expect_error(in_verified, N(in_verified), "plugin_opt_forwarded_prefix "
                 "'verified/forwarded/': expected a topic tree apart from "
                 "plugin_opt_verified_prefix 'verified/'");
    expect_error(around_rejected, N(around_rejected), "plugin_opt_forwarded_prefix "
                 "'out/': expected a topic tree apart");
    expect_error(under_filter, N(under_filter), "plugin_opt_forwarded_prefix "
                 "'forwarded/': expected a topic tree apart from plugin_opt_verify_topics, "
                 "but its filter '+/x'");
    expect_error(bare_filter, N(bare_filter), "plugin_opt_forwarded_prefix "
                 "'forwarded/': expected a topic tree apart from plugin_opt_verify_topics, "
                 "but its filter 'forwarded'");
    expect_error(everything, N(everything), "plugin_opt_forwarded_prefix "
                 "'forwarded/': expected a topic tree apart from plugin_opt_verify_topics, "
                 "but its filter '#'");
    expect_error(outside, N(outside), "plugin_opt_forwarders "
                 "'edge1._broker.acme.example,edge1.other.example': expected identities "
                 "under plugin_opt_allowed_domains 'acme.example', but edge1.other.example");
    expect_error(no_replay, N(no_replay), "plugin_opt_forwarders "
                 "'edge1._broker.acme.example': expected plugin_opt_replay_window too");
    {
        /* 254 bytes before the trailing dot: one too many */
        char long_name[300];
        memset(long_name, 'a', 254);
        for (int i = 60; i < 254; i += 61)
            long_name[i] = '.';
        long_name[254] = '\0';
        one_bad("forwarders", long_name);
        long_name[253] = '.';                   /* 253 and a trailing dot: fine */
        {
            mdp_plugin_opt ok[] = {{"allowed_domains", long_name + 244},
                                     {"verify_topics", "d/#"},
                                     {"forwarders", long_name}};
            assert_int_equal(parse(ok, N(ok), &c), 0);
            assert_int_equal(strlen(c.forwarder_names[0]), 253);
            mdp_plugin_config_clear(&c);
        }
    }
}

/* The topic filters that reach into a prefix's tree, level by level. */
static void test_topics_overlap_prefix(void **state)
{
    static const struct {
        const char *filters, *prefix;
        const char *overlapping;        /* NULL: none */
    } cases[] = {
        {"devices/#", "forwarded/", NULL},
        {"forwarded/#", "forwarded/", "forwarded/#"},
        {"forwarded", "forwarded/", "forwarded"},
        {"forwardedx/#", "forwarded/", NULL},
        {"forward", "forwarded/", NULL},
        {"+", "forwarded/", "+"},
        {"+/+", "forwarded/", "+/+"},
        {"#", "forwarded/", "#"},
        {"a/b", "a/b/c/", NULL},
        {"a/+", "a/b/c/", NULL},
        {"a/+/c", "a/b/c/", "a/+/c"},
        {"a/+/#", "a/b/c/", "a/+/#"},
        {"a/#", "a/b/c/", "a/#"},
        {"a/x/#", "a/b/c/", NULL},
        {"x/y, a/b/c/d/e", "a/b/c/", "a/b/c/d/e"},
    };
    char why[256];

    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        mdp_topics *t = mdp_topics_parse(cases[i].filters, why, sizeof(why));
        const char *got;

        assert_non_null(t);
        got = mdp_topics_overlap_prefix(t, cases[i].prefix);
        if (cases[i].overlapping == NULL ? got != NULL
            : got == NULL || strcmp(got, cases[i].overlapping) != 0)
            fail_msg("filters '%s' prefix '%s': got %s, expected %s", cases[i].filters,
                     cases[i].prefix, got ? got : "none",
                     cases[i].overlapping ? cases[i].overlapping : "none");
        mdp_topics_free(t);
    }
}

/* Every option in the table has its entry under OPTIONS in the plugin's
 * manual page source, man/mosquitto-dance.5.scd: a line that starts with
 * the option's name in bold. */
static void test_documented(void **state)
{
    FILE *f = fopen(DANCE_PLUGIN_DOC, "r");
    char *doc;
    long len;

    (void)state;
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    doc = calloc(1, (size_t)len + 1);
    assert_non_null(doc);
    assert_int_equal(fread(doc, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    for (size_t i = 0; mdp_plugin_option_name(i) != NULL; i++) {
        char needle[96];
        snprintf(needle, sizeof(needle), "\n*plugin_opt_%s*", mdp_plugin_option_name(i));
        if (strstr(doc, needle) == NULL)
            fail_msg("the manual page source %s does not document plugin_opt_%s: add an "
                     "entry under OPTIONS (a line '*plugin_opt_%s* ...' with its default, "
                     "range and meaning)", DANCE_PLUGIN_DOC, mdp_plugin_option_name(i),
                     mdp_plugin_option_name(i));
    }
    assert_null(mdp_plugin_option_name(1000));
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_option),
        cmocka_unit_test(test_message_options),
        cmocka_unit_test(test_message_cross_rules),
        cmocka_unit_test(test_message_profile),
        cmocka_unit_test(test_required_and_unknown),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_reasons_name_the_part),
        cmocka_unit_test(test_cross_rules),
        cmocka_unit_test(test_queue_bytes_fits_max_payload),
        cmocka_unit_test(test_owner_identity_resets),
        cmocka_unit_test(test_check_resolver_names_trust_anchor),
        cmocka_unit_test(test_forwarding_options),
        cmocka_unit_test(test_encrypted_option),
        cmocka_unit_test(test_topics_overlap_prefix),
        cmocka_unit_test(test_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
