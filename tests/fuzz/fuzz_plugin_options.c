/*
 * fuzz_plugin_options.c - libFuzzer harness for the plugin's option parser
 * (plugin/options.c, linked from dance_plugin_core; no Mosquitto involved).
 *
 * Input: one option per line, "key=value" (the key without plugin_opt_, as
 * Mosquitto hands it over); a line without '=' gives a NULL value. The
 * first byte also picks the size of the error buffer, so that truncated
 * error lines are exercised. Checked: success means a complete, consistent
 * configuration (allow-list present, values within the documented bounds,
 * tls only with its name and resolver, usable and separate topic prefixes,
 * replay window at least twice the skew, jti only with a replay cache,
 * tokens only with an audience); failure means one non-empty,
 * terminated error line; parsing twice gives the same answer; clear frees
 * everything (LeakSanitizer).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "options.h"
#include "topics.h"

#define MAX_OPTS 40

static void check_config(const mdp_plugin_config *c)
{
    dance_resolver_config rc;
    dance_cache_config cc;

    FZ_ASSERT(c->allowlist != NULL && c->allowed_domains != NULL);
    FZ_ASSERT(dance_allowlist_count(c->allowlist) > 0);
    FZ_ASSERT(c->lookup_timeout_ms >= 1 && c->lookup_timeout_ms <= 60000);
    FZ_ASSERT(c->connect_budget_ms <= 10000);
    FZ_ASSERT(c->cache_size >= 1 && c->cache_size <= 10000000);
    FZ_ASSERT(c->min_ttl <= c->max_ttl && c->max_ttl >= 1 && c->max_ttl <= 604800);
    FZ_ASSERT(c->negative_ttl <= 604800 && c->failure_ttl <= 3600);
    FZ_ASSERT(c->revalidate_interval <= 86400 && c->stats_interval <= 86400);
    FZ_ASSERT(c->worker_threads >= 1 && c->worker_threads <= 64);
    FZ_ASSERT(c->queue_size >= 1 && c->queue_size <= 1000000);
    FZ_ASSERT((unsigned)c->identity_source < MDP_IDSRC_COUNT);
    FZ_ASSERT((unsigned)c->fallback < MDP_FALLBACK_COUNT);
    FZ_ASSERT(c->tlsa_owner_label == NULL || (c->tlsa_owner_label[0] == '_'
                                              && strchr(c->tlsa_owner_label, '.') == NULL));
    if (c->dns_transport == DANCE_TRANSPORT_TLS)
        FZ_ASSERT(c->tls_auth_name != NULL && c->resolver != NULL);
    else
        FZ_ASSERT(c->tls_auth_name == NULL);
    /* message verification: prefixes usable and apart, replay rules */
    FZ_ASSERT(c->verified_prefix != NULL
              && mdp_topic_prefix_check(c->verified_prefix, NULL, 0) == 0);
    if (c->rejected_prefix != NULL) {
        FZ_ASSERT(mdp_topic_prefix_check(c->rejected_prefix, NULL, 0) == 0);
        FZ_ASSERT(strncmp(c->rejected_prefix, c->verified_prefix,
                          strlen(c->verified_prefix)) != 0
                  && strncmp(c->verified_prefix, c->rejected_prefix,
                             strlen(c->rejected_prefix)) != 0);
    }
    FZ_ASSERT(c->max_payload >= 1 && c->max_payload <= 268435455);
    FZ_ASSERT(c->max_skew >= 1 && c->max_skew <= 86400);
    FZ_ASSERT(c->replay_window == 0 || c->replay_window >= 2 * c->max_skew);
    FZ_ASSERT(!c->require_jti || c->replay_window > 0);
    FZ_ASSERT(c->verify_threads >= 1 && c->verify_threads <= 64);
    FZ_ASSERT(c->verify_queue_size >= 1 && c->verify_queue_size <= 1000000);
    FZ_ASSERT(c->verify_topics != NULL || mdp_topics_count(c->topics) == 0);
    /* tokens need an audience */
    FZ_ASSERT(!c->token_auth || (c->token_audience != NULL && c->token_audience[0] != '\0'));
    mdp_plugin_config_resolver(c, &rc);
    FZ_ASSERT(rc.timeout_ms == c->lookup_timeout_ms);
    mdp_plugin_config_cache(c, &cc);
    FZ_ASSERT(cc.capacity == c->cache_size && cc.max_ttl == c->max_ttl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdp_plugin_opt opts[MAX_OPTS];
    mdp_plugin_config cfg, cfg2;
    char *text, *line, *next, *err, err2[MDP_OPT_ERR_MAX];
    size_t n = 0, errlen;
    int rc, rc2;

    if (size < 1 || size > 8192)
        return 0;
    errlen = data[0] & 0x80 ? (size_t)(data[0] & 0x7f) + 1 : MDP_OPT_ERR_MAX;
    text = fz_strndup0(data + 1, size - 1);
    for (line = text; line != NULL && n < MAX_OPTS; line = next) {
        char *eq;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        eq = strchr(line, '=');
        if (eq != NULL)
            *eq++ = '\0';
        opts[n].key = line;
        opts[n].value = eq;
        n++;
    }

    err = malloc(errlen);       /* exactly sized: ASan sees overruns */
    FZ_ASSERT(err != NULL);
    rc = mdp_plugin_options_parse(opts, n, &cfg, err, errlen);
    FZ_ASSERT(rc == 0 || rc == -1);
    FZ_ASSERT(memchr(err, '\0', errlen) != NULL);
    if (rc == 0)
        check_config(&cfg);
    else
        FZ_ASSERT(errlen == 1 || err[0] != '\0');

    rc2 = mdp_plugin_options_parse(opts, n, &cfg2, err2, sizeof(err2));
    FZ_ASSERT(rc2 == rc);
    if (rc != 0 && errlen >= sizeof(err2))
        FZ_ASSERT(strcmp(err, err2) == 0);

    mdp_plugin_config_clear(&cfg);
    mdp_plugin_config_clear(&cfg2);
    mdp_plugin_config_clear(NULL);
    free(err);
    free(text);
    return 0;
}
