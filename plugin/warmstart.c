/*
 * plugin/warmstart.c - plugin_opt_identities_file (warmstart.h).
 *
 * Why a warm start: after a broker restart every device reconnects within
 * seconds with every cache cold, and each cold device is refused once as
 * "pending" before its retry finds the answer. Knowing which identities
 * were admitted before, the plugin asks DNS for them first, so that most
 * devices find their answer cached on their first try.
 *
 * Failure policy: the file is an optimisation, so its content never stops
 * the broker (a corrupt or oversize file is logged and ignored, bad names
 * are skipped and counted); a file the broker cannot read or replace is a
 * configuration the operator must fix (a path or a permission), and
 * refuses the start like any other bad option. A later write failure is
 * logged (and counted in $SYS) but changes no decision.
 */
#include "warmstart.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "dance/error.h"
#include "dance/name.h"
#include "dance/status.h"
#include "filesaver.h"
#include "log.h"

struct mdp_warmstart {
    const mdp_plugin_config *cfg;
    mdp_identities *ids;
    mdp_file_saver *saver;
    mdp_prefetch *prefetch;
    uint64_t skipped;
    uint64_t started_ms;
    uint64_t save_failures_seen;
    bool save_failing;
};

static int ids_save(void *state, const char *path, char *err, size_t errlen)
{
    return mdp_identities_save(state, path, err, errlen);
}

static bool ids_dirty(void *state)
{
    return mdp_identities_dirty(state);
}

static const mdp_file_saver_ops identities_file_ops = {ids_save, ids_dirty};

/* log_load - one line on what the file held and what was skipped */
static void log_load(const mdp_warmstart *ws, const mdp_identities_load_info *li,
                     const char *why)
{
    const char *path = ws->cfg->identities_file;

    if (li->missing) {
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: identities file %s created "
                             "(first start: nothing to prefetch)", path);
        return;
    }
    if (li->corrupt) {
        mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: identities file ignored: %s; "
                             "nothing prefetched, the file is rewritten from the "
                             "devices admitted from now on", why);
        return;
    }
    if (li->invalid + li->outside + li->duplicates + li->over_cap > 0)
        mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: identities file %s: skipped "
            "%zu lines that are not DNS names, %zu names not under "
            "plugin_opt_allowed_domains, %zu duplicates, %zu past plugin_opt_cache_size "
            "%zu", path, li->invalid, li->outside, li->duplicates, li->over_cap,
            ws->cfg->cache_size);
}

/* make_prefetch - the owner names of the loaded identities, in file order */
static int make_prefetch(mdp_warmstart *ws, char *err, size_t errlen)
{
    char why[DANCE_REASON_MAX];
    size_t n = 0, k = 0;
    char **names = mdp_identities_names(ws->ids, &n);
    char **owners = calloc(n ? n : 1, sizeof(*owners));
    const char **idents = calloc(n ? n : 1, sizeof(*idents));
    int rc = -1;

    if (names == NULL || owners == NULL || idents == NULL) {
        snprintf(err, errlen, "out of memory reading plugin_opt_identities_file");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char owner[DANCE_NAME_MAX + 1];
        if (dance_owner_name(names[i], ws->cfg->tlsa_owner_label, owner, sizeof(owner),
                             why, sizeof(why)) != 0) {
            ws->skipped++;      /* too long with the service label */
            continue;
        }
        idents[k] = names[i];
        if ((owners[k] = strdup(owner)) == NULL) {
            snprintf(err, errlen, "out of memory reading plugin_opt_identities_file");
            goto out;
        }
        k++;
    }
    /* half the lookups in flight, half the queue: the rest is for CONNECTs */
    ws->prefetch = mdp_prefetch_new((const char *const *)idents,
                                    (const char *const *)owners, k,
                                    ws->cfg->dns_inflight / 2u, ws->cfg->queue_size / 2u);
    if (ws->prefetch == NULL) {
        snprintf(err, errlen, "out of memory reading plugin_opt_identities_file");
        goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; owners != NULL && i < k; i++)
        free(owners[i]);
    free(owners);
    free(idents);
    mdp_identities_names_free(names);
    return rc;
}

mdp_warmstart *mdp_warmstart_start(const mdp_plugin_config *cfg, char *err,
                                   size_t errlen)
{
    const char *path = cfg->identities_file;
    mdp_warmstart *ws = calloc(1, sizeof(*ws));
    mdp_identities_load_info li;
    mdp_prefetch_counters pc;
    char why[DANCE_REASON_MAX];

    if (ws == NULL || (ws->ids = mdp_identities_new(cfg->cache_size)) == NULL) {
        free(ws);
        snprintf(err, errlen, "out of memory setting up plugin_opt_identities_file");
        return NULL;
    }
    ws->cfg = cfg;
    ws->started_ms = mdp_plugin_now_ms();
    why[0] = '\0';
    if (mdp_identities_load(ws->ids, path, cfg->allowlist, &li, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "plugin_opt_identities_file: %s. Fix the path or the "
                 "file's permissions, or remove the file (the next start is then "
                 "cold)", why);
        goto fail;
    }
    log_load(ws, &li, why);
    ws->skipped = li.invalid + li.outside + li.duplicates + li.over_cap;
    if (make_prefetch(ws, err, errlen) != 0)
        goto fail;
    /* Written back at once: proves that the user Mosquitto runs as (it
     * drops privileges before plugins start) can replace it, and drops
     * what was skipped. */
    if (mdp_identities_save(ws->ids, path, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "plugin_opt_identities_file %s cannot be written by the "
                 "broker (uid %u): %s. The broker replaces it with a new file in the "
                 "same directory: make that directory writable by the user Mosquitto "
                 "runs as (e.g. /var/lib/mosquitto, owned by mosquitto)",
                 path, (unsigned)geteuid(), why);
        goto fail;
    }
    ws->saver = mdp_file_saver_start(&identities_file_ops, ws->ids, path,
                                     MDP_FILE_SAVE_INTERVAL_MS, why, sizeof(why));
    if (ws->saver == NULL) {
        snprintf(err, errlen, "plugin_opt_identities_file: %s", why);
        goto fail;
    }
    mdp_prefetch_get_counters(ws->prefetch, &pc);
    if (pc.identities > 0)
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: prefetching %" PRIu64 " identities "
                             "from %s", pc.identities, path);
    return ws;
fail:
    mdp_warmstart_free(ws);
    return NULL;
}

mdp_identities *mdp_warmstart_identities(mdp_warmstart *ws)
{
    return ws->ids;
}

/* watch_saver - each new write failure (at most one line per interval)
 * and the recovery */
static void watch_saver(mdp_warmstart *ws)
{
    mdp_file_saver_status st;

    mdp_file_saver_get_status(ws->saver, &st);
    if (!st.ok && st.failures != ws->save_failures_seen)
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: cannot write the identities file: "
            "%s; the next start may prefetch an older list (authentication is not "
            "affected)", st.err);
    else if (st.ok && ws->save_failing)
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: identities file %s written again",
                             ws->cfg->identities_file);
    ws->save_failures_seen = st.failures;
    ws->save_failing = !st.ok;
}

void mdp_warmstart_tick(mdp_warmstart *ws, mdp_workers *w)
{
    if (!mdp_prefetch_complete(ws->prefetch))
        mdp_prefetch_tick(ws->prefetch, w);
    watch_saver(ws);
}

void mdp_warmstart_fetch_done(mdp_warmstart *ws, const mdp_fetch_done *d)
{
    mdp_prefetch_counters pc;
    const char *identity;
    bool complete = mdp_prefetch_fetch_done(ws->prefetch, d, &identity);

    /* A secure "no such record" means the device was revoked: it is no
     * longer one to prefetch (it is noted again if it is ever admitted). */
    if (identity != NULL && d->status == DANCE_NO_RECORD)
        mdp_identities_forget(ws->ids, identity);
    if (!complete)
        return;
    mdp_prefetch_get_counters(ws->prefetch, &pc);
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: prefetch done in %" PRIu64 " ms: "
        "%" PRIu64 " identities, %" PRIu64 " secure, %" PRIu64 " negative, %" PRIu64
        " failed", mdp_plugin_now_ms() - ws->started_ms, pc.identities, pc.secure,
        pc.negative, pc.failed);
}

void mdp_warmstart_asked(mdp_warmstart *ws, const char *owner)
{
    if (!mdp_prefetch_complete(ws->prefetch))
        mdp_prefetch_asked(ws->prefetch, owner);
}

size_t mdp_warmstart_unasked(const mdp_warmstart *ws)
{
    return mdp_prefetch_unasked(ws->prefetch);
}

void mdp_warmstart_get_counters(mdp_warmstart *ws, mdp_warmstart_counters *out)
{
    mdp_file_saver_status st;

    memset(out, 0, sizeof(*out));
    mdp_prefetch_get_counters(ws->prefetch, &out->prefetch);
    out->skipped = ws->skipped;
    out->known = mdp_identities_count(ws->ids);
    mdp_file_saver_get_status(ws->saver, &st);
    out->save_failures = st.failures;
}

void mdp_warmstart_free(mdp_warmstart *ws)
{
    char err[DANCE_REASON_MAX];

    if (ws == NULL)
        return;
    if (ws->saver != NULL && mdp_file_saver_stop(ws->saver, err, sizeof(err)) != 0)
        mosquitto_log_printf(MOSQ_LOG_ERR, "dance: could not write the identities file "
                             "at shutdown: %s; the next start prefetches the list of "
                             "the last successful write", err);
    mdp_prefetch_free(ws->prefetch);
    mdp_identities_free(ws->ids);
    free(ws);
}
