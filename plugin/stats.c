/*
 * plugin/stats.c - the plugin's counters as retained $SYS messages.
 *
 * Published from TICK (mosquitto_broker_publish* is not thread-safe) every
 * stats_interval seconds, one topic per counter, payload the decimal
 * value, like Mosquitto's own $SYS/broker/... tree:
 *
 *   $SYS/broker/dance/auth/accepted
 *   $SYS/broker/dance/auth/refused/<reason>    (every reason, also zeros)
 *   $SYS/broker/dance/auth/deferred/<reason>   (no_certificate, outside_allowed_domains)
 *   $SYS/broker/dance/auth/revocations
 *   $SYS/broker/dance/auth/bypass
 *   $SYS/broker/dance/clients/connected
 *   with token authentication on:
 *   $SYS/broker/dance/auth/token/accepted, .../auth/token/expired
 *   $SYS/broker/dance/clients/token
 *   $SYS/broker/dance/auth/token/replay/entries, .../evicted, .../evicted_full,
 *   $SYS/broker/dance/auth/token/replay/save_failures
 *   $SYS/broker/dance/revalidate/checks, .../revalidate/failures
 *   $SYS/broker/dance/cache/hits, misses, entries, evictions
 *   $SYS/broker/dance/dns/queries, failures, inflight, queued
 *   $SYS/broker/dance/workers/queued, dropped
 *   with an identities file (warm start):
 *   $SYS/broker/dance/prefetch/identities, secure, negative, failed, pending,
 *   $SYS/broker/dance/prefetch/skipped
 *   $SYS/broker/dance/identities/known, .../identities/save_failures
 *   with message verification on:
 *   $SYS/broker/dance/messages/verified
 *   $SYS/broker/dance/messages/refused/<reason>  (dance_status_name tokens)
 *   $SYS/broker/dance/messages/queued, dropped, denied, lookups,
 *   $SYS/broker/dance/messages/publish_failures, queued_bytes
 *   $SYS/broker/dance/messages/dropped/<reason>  (mdp_pipeline_drop_name)
 *   $SYS/broker/dance/messages/lookup_budgets
 */
#include "stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

#define SYS_PREFIX "$SYS/broker/dance/"

static void pub(const char *topic_tail, uint64_t value)
{
    char topic[128];
    char payload[24];
    int n;

    snprintf(topic, sizeof(topic), SYS_PREFIX "%s", topic_tail);
    n = snprintf(payload, sizeof(payload), "%" PRIu64, value);
    /* Retained so a subscriber sees the values at once, as with $SYS. */
    if (mosquitto_broker_publish_copy(NULL, topic, n, payload, 0, true, NULL)
        != MOSQ_ERR_SUCCESS)
        mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: cannot publish %s", topic);
}

/* publish_token_replay - the jti cache: evicted counts every jti forgotten
 * before its time (such a token could be used again), evicted_full those
 * taken because the whole cache was full (from the identity holding the
 * most), save_failures the failed writes of token_replay_file. */
static void publish_token_replay(const mdp_tokens *t)
{
    mdp_tokens_counters tc;

    mdp_tokens_get_counters(t, &tc);
    pub("auth/token/replay/entries", tc.replay.entries);
    pub("auth/token/replay/evicted", tc.replay.evicted_early);
    pub("auth/token/replay/evicted_full", tc.replay.evicted_full);
    pub("auth/token/replay/save_failures", tc.save_failures);
}

/* publish_warmstart - the warm start's prefetch (what the identities file
 * named, how the lookups answered, how many are still under way or
 * waiting) and the identities kept for the next start */
static void publish_warmstart(mdp_warmstart *ws)
{
    mdp_warmstart_counters wc;

    mdp_warmstart_get_counters(ws, &wc);
    pub("prefetch/identities", wc.prefetch.identities);
    pub("prefetch/secure", wc.prefetch.secure);
    pub("prefetch/negative", wc.prefetch.negative);
    pub("prefetch/failed", wc.prefetch.failed);
    pub("prefetch/pending", wc.prefetch.pending);
    pub("prefetch/skipped", wc.skipped);
    pub("identities/known", wc.known);
    pub("identities/save_failures", wc.save_failures);
}

void mdp_stats_publish(const mdp_stats_sources *src)
{
    mdp_auth_counters ac;
    const mdp_auth_counters *s = &ac;
    mdp_kicks_counters kc;
    mdp_guard_counters gc;
    mdp_rechecks_counters rc;
    dance_cache_stats cs;
    mdp_workers_stats ws;
    char tail[96];

    mdp_auth_get_counters(src->auth, &ac);
    mdp_kicks_get_counters(src->kicks, &kc);
    mdp_guard_get_counters(src->guard, &gc);
    mdp_rechecks_get_counters(src->rechecks, &rc);

    pub("auth/accepted", s->accepted);
    for (int v = 0; v < MDP_V_COUNT; v++) {
        if (v == MDP_V_ACCEPTED || !mdp_verdict_is_code(v))
            continue;
        snprintf(tail, sizeof(tail), "auth/refused/%s",
                 mdp_verdict_name((mdp_verdict_code)v));
        pub(tail, s->refused[v]);
    }
    pub("auth/deferred/no_certificate", s->deferred[MDP_V_NO_CERTIFICATE]);
    pub("auth/deferred/outside_allowed_domains", s->deferred[MDP_V_OUTSIDE]);
    pub("auth/revocations", kc.revocations);
    pub("auth/bypass", gc.bypass);
    for (int g = 0; g < MDP_GUARD_PATH_COUNT; g++) {
        snprintf(tail, sizeof(tail), "reserved/denied/%s",
                 mdp_guard_path_name((mdp_guard_path)g));
        pub(tail, gc.reserved_denied[g]);
    }
    pub("clients/connected", mdp_clients_dane_count(src->clients));
    if (src->tokens != NULL) {
        pub("auth/token/accepted", s->token_accepted);
        pub("auth/token/expired", kc.token_expiries);
        pub("clients/token", mdp_clients_token_count(src->clients));
        publish_token_replay(src->tokens);
    }
    pub("revalidate/checks", rc.rechecks);
    pub("revalidate/failures", rc.recheck_failures);

    memset(&cs, 0, sizeof(cs));
    dance_cache_get_stats(src->cache, &cs);
    pub("cache/hits", cs.hits);
    pub("cache/misses", cs.misses);
    pub("cache/entries", cs.entries);
    pub("cache/evictions", cs.evictions);
    pub("dns/queries", cs.queries);
    pub("dns/failures", cs.failures);

    memset(&ws, 0, sizeof(ws));
    mdp_workers_get_stats(src->workers, &ws);
    pub("workers/queued", ws.queued);
    pub("workers/dropped", ws.dropped);
    pub("dns/inflight", ws.dns_inflight);
    pub("dns/queued", ws.dns_queued);
    if (src->warmstart != NULL)
        publish_warmstart(src->warmstart);

    if (mdp_messages_verifying(src->messages)) {
        mdp_messages_counters mc;
        const mdp_msg_stats *m = &mc.msg;
        const mdp_pipeline_stats *pst = &mc.pipeline;

        mdp_messages_get_counters(src->messages, &mc);
        pub("messages/verified", m->verified);
        for (int st = 0; st < DANCE_MESSAGE_STATUS_END; st++) {
            if (st == DANCE_OK)
                continue;
            snprintf(tail, sizeof(tail), "messages/refused/%s",
                     dance_status_name((dance_status)st));
            pub(tail, m->refused[st]);
        }
        snprintf(tail, sizeof(tail), "messages/refused/%s",
                 dance_status_name(DANCE_ENCRYPTED));
        pub(tail, m->refused[DANCE_ENCRYPTED]);
        pub("messages/encrypted_passed", m->encrypted_passed);
        pub("messages/queued", pst->depth);
        pub("messages/queued_bytes", pst->bytes);
        pub("messages/dropped", pst->dropped);
        for (int d = 0; d < MDP_PIPELINE_DROP_COUNT; d++) {
            snprintf(tail, sizeof(tail), "messages/dropped/%s",
                     mdp_pipeline_drop_name((mdp_pipeline_drop)d));
            pub(tail, pst->dropped_by[d]);
        }
        pub("messages/lookup_budgets", pst->publishers);
        /* the guard's count, kept under its first name */
        pub("messages/denied", gc.reserved_denied[MDP_GUARD_PUBLISH] +
                               gc.reserved_denied[MDP_GUARD_BRIDGE]);
        pub("messages/lookups", pst->lookups);
        if (mc.has_replay) {
            /* an evicted message could be verified again within the window */
            pub("messages/replay/entries", mc.replay.entries);
            pub("messages/replay/evicted", mc.replay.evicted_early);
        }
        pub("messages/publish_failures", m->publish_failures);
        if (mc.forwarding) {
            pub("messages/forwarded/received", m->forwarded);
            pub("messages/forwarded/verified", m->forwarded_verified);
        }
    }
}
