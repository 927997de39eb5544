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
 *   $SYS/broker/dance/dns/queries, failures
 *   $SYS/broker/dance/workers/queued, dropped
 *   with message verification on:
 *   $SYS/broker/dance/messages/verified
 *   $SYS/broker/dance/messages/refused/<reason>  (dance_status_name tokens)
 *   $SYS/broker/dance/messages/queued, dropped, denied, lookups,
 *   $SYS/broker/dance/messages/publish_failures, queued_bytes
 *   $SYS/broker/dance/messages/dropped/<reason>  (dance_pipeline_drop_name)
 *   $SYS/broker/dance/messages/lookup_budgets
 */
#include "plugin.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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
static void publish_token_replay(struct dance_plugin *p)
{
    dance_replay_stats rs;
    dance_replay_saver_status ss;

    dance_replay_get_stats(p->token_replay, &rs);
    pub("auth/token/replay/entries", rs.entries);
    pub("auth/token/replay/evicted", rs.evicted_early);
    pub("auth/token/replay/evicted_full", rs.evicted_full);
    memset(&ss, 0, sizeof(ss));
    if (p->token_saver != NULL)
        dance_replay_saver_get_status(p->token_saver, &ss);
    pub("auth/token/replay/save_failures", ss.failures);
}

void dance_stats_publish(struct dance_plugin *p)
{
    const dance_stats *s = &p->stats;
    dance_cache_stats cs;
    dance_workers_stats ws;
    char tail[96];

    pub("auth/accepted", s->accepted);
    for (int v = 0; v < DANCE_V_COUNT; v++) {
        if (v == DANCE_V_ACCEPTED || !dance_verdict_is_code(v))
            continue;
        snprintf(tail, sizeof(tail), "auth/refused/%s",
                 dance_verdict_name((dance_verdict_code)v));
        pub(tail, s->refused[v]);
    }
    pub("auth/deferred/no_certificate", s->deferred[DANCE_V_NO_CERTIFICATE]);
    pub("auth/deferred/outside_allowed_domains", s->deferred[DANCE_V_OUTSIDE]);
    pub("auth/revocations", s->revocations);
    pub("auth/bypass", s->bypass);
    for (int g = 0; g < DANCE_GUARD_PATH_COUNT; g++) {
        snprintf(tail, sizeof(tail), "reserved/denied/%s",
                 dance_guard_path_name((dance_guard_path)g));
        pub(tail, p->reserved_denied[g]);
    }
    pub("clients/connected", dance_clients_dane_count(p->clients));
    if (p->cfg.token_auth) {
        pub("auth/token/accepted", s->token_accepted);
        pub("auth/token/expired", s->token_expiries);
        pub("clients/token", dance_clients_token_count(p->clients));
        publish_token_replay(p);
    }
    pub("revalidate/checks", s->rechecks);
    pub("revalidate/failures", s->recheck_failures);

    memset(&cs, 0, sizeof(cs));
    dance_cache_get_stats(p->cache, &cs);
    pub("cache/hits", cs.hits);
    pub("cache/misses", cs.misses);
    pub("cache/entries", cs.entries);
    pub("cache/evictions", cs.evictions);
    pub("dns/queries", cs.queries);
    pub("dns/failures", cs.failures);

    memset(&ws, 0, sizeof(ws));
    dance_workers_get_stats(p->workers, &ws);
    pub("workers/queued", ws.queued);
    pub("workers/dropped", ws.dropped);

    if (p->pipeline != NULL) {
        const dance_msg_stats *m = &p->mstats;
        dance_pipeline_stats ps;

        dance_pipeline_get_stats(p->pipeline, &ps);
        pub("messages/verified", m->verified);
        for (int st = 0; st < DANCE_MESSAGE_STATUS_END; st++) {
            if (st == DANCE_OK)
                continue;
            snprintf(tail, sizeof(tail), "messages/refused/%s",
                     dance_status_name((dance_status)st));
            pub(tail, m->refused[st]);
        }
        pub("messages/queued", ps.depth);
        pub("messages/queued_bytes", ps.bytes);
        pub("messages/dropped", ps.dropped);
        for (int d = 0; d < DANCE_PIPELINE_DROP_COUNT; d++) {
            snprintf(tail, sizeof(tail), "messages/dropped/%s",
                     dance_pipeline_drop_name((dance_pipeline_drop)d));
            pub(tail, ps.dropped_by[d]);
        }
        pub("messages/lookup_budgets", ps.publishers);
        /* the guard's count, kept under its first name */
        pub("messages/denied", p->reserved_denied[DANCE_GUARD_PUBLISH] +
                               p->reserved_denied[DANCE_GUARD_BRIDGE]);
        pub("messages/lookups", ps.lookups);
        if (p->replay != NULL) {
            /* an evicted message could be verified again within the window */
            dance_replay_stats rs;
            dance_replay_get_stats(p->replay, &rs);
            pub("messages/replay/entries", rs.entries);
            pub("messages/replay/evicted", rs.evicted_early);
        }
        pub("messages/publish_failures", m->publish_failures);
    }
}
