/*
 * plugin/rechecks.c - revalidation rounds and the worker completions (see
 * rechecks.h).
 */
#include "rechecks.h"

#include <stdlib.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include "decide.h"
#include "log.h"

struct mdp_rechecks {
    const mdp_plugin_config *cfg;
    mdp_clients *clients;
    mdp_kicks *kicks;
    bool revalidate_now;            /* start a round at the next TICK */
    uint64_t next_round_ms;
    mdp_rechecks_counters counters;
};

mdp_rechecks *mdp_rechecks_new(const mdp_plugin_config *cfg, mdp_clients *clients,
                                   mdp_kicks *kicks, uint64_t now_ms)
{
    mdp_rechecks *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->cfg = cfg;
    r->clients = clients;
    r->kicks = kicks;
    r->next_round_ms = now_ms + (uint64_t)cfg->revalidate_interval * 1000u;
    return r;
}

void mdp_rechecks_free(mdp_rechecks *r)
{
    free(r);
}

/* fetch_done_hook - a background lookup finished */
static void fetch_done_hook(void *ctx, const mdp_fetch_done *d)
{
    (void)ctx;
    /* A failed background lookup explains later "lookup pending" or
     * "lookup_failure" refusals; successes are logged per decision. */
    if (dance_dns_answer_rank(d->status) < dance_dns_answer_rank(DANCE_NO_RECORD))
        mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: TLSA lookup for %s: %s: %s",
                             d->owner, dance_dns_answer_name(d->status), d->reason);
}

static void revalidate_done_hook(void *ctx, const mdp_revalidate_done *d)
{
    mdp_rechecks *p = ctx;
    const mdp_verdict *v = d->verdict;
    const mdp_client *e = mdp_clients_check_done(p->clients, d->client, d->token);
    char cid[128];

    if (e == NULL)
        return;                 /* disconnected or replaced meanwhile */
    p->counters.rechecks++;
    switch (v->code) {
    case MDP_V_ACCEPTED:
        return;
    case MDP_V_LOOKUP_FAILURE:
    case MDP_V_PENDING:
    case MDP_V_INTERNAL:
        /* Could not decide: a temporary DNS failure is never read as
         * "no TLSA record". The client stays; the next round retries. */
        p->counters.recheck_failures++;
        mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: re-check of identity=%s "
            "client_id=\"%s\" undecided (%s): %s; keeping the client",
            d->identity, mdp_log_safe(e->client_id, cid, sizeof(cid)),
            mdp_verdict_name(v->code), v->reason);
        return;
    default:
        break;
    }
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: revoked identity=%s "
        "client_id=\"%s\" reason=%s record=\"%s\": %s; disconnecting",
        d->identity, mdp_log_safe(e->client_id, cid, sizeof(cid)),
        mdp_verdict_name(v->code), v->record, v->reason);
    if (mdp_kicks_queue(p->kicks, e, false) != 0)
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: out of memory queueing the "
                             "disconnect of %s; retrying next round", d->identity);
}

void mdp_rechecks_hooks(mdp_rechecks *r, mdp_workers_hooks *out)
{
    out->ctx = r;
    out->fetch_done = fetch_done_hook;
    out->revalidate_done = revalidate_done_hook;
}

void mdp_rechecks_tick(mdp_rechecks *p, mdp_workers *workers, uint64_t now)
{
    size_t reserve = p->cfg->queue_size / 2;

    if (p->cfg->revalidate_interval == 0)
        return;
    if (p->revalidate_now || now >= p->next_round_ms) {
        if (mdp_clients_round_start(p->clients) >= 0) {
            p->revalidate_now = false;
            p->next_round_ms = now + (uint64_t)p->cfg->revalidate_interval * 1000u;
        }
    }
    while (mdp_clients_round_active(p->clients) &&
           mdp_workers_room(workers) > reserve) {
        const mdp_client *e = mdp_clients_round_next(p->clients);
        mdp_submit_result sr;
        if (e == NULL)
            break;
        if (e->password != NULL)
            sr = mdp_workers_submit_revalidate_token(workers, e->key, e->token,
                                                       e->identity, e->owner,
                                                       e->password);
        else
            sr = mdp_workers_submit_revalidate(workers, e->key, e->token,
                                                 e->identity, e->owner, e->leaf);
        /* not queued: the check is over before it began */
        if (sr != MDP_SUBMIT_QUEUED)
            (void)mdp_clients_check_done(p->clients, e->key, e->token);
    }
}

bool mdp_rechecks_reload(mdp_rechecks *r)
{
    r->revalidate_now = r->cfg->revalidate_interval > 0;
    return r->revalidate_now;
}

void mdp_rechecks_get_counters(const mdp_rechecks *r, mdp_rechecks_counters *out)
{
    *out = r->counters;
}
