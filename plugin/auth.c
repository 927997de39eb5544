/*
 * plugin/auth.c - DANE client authentication at CONNECT (MOSQ_EVT_BASIC_AUTH).
 *
 * certificate -> identity -> allow-list -> TLSA answer (cache, or a lookup
 * on the DNS thread waited for within the wait budget, waitbudget.h) -> DANE match -> on success
 * mosquitto_set_username(identity), so ACL patterns such as %u name the
 * device. One log line per decision.
 *
 * Runs on the broker thread, which serves every client: it never talks to
 * the network itself. A warm cache answers at once; a cold lookup starts on
 * the DNS thread (workers.h) and this thread waits for that lookup's answer
 * only up to the budget. A lookup
 * that takes longer is refused ("lookup pending") and keeps running, so
 * the client's retry finds the answer cached.
 *
 * Clients without a certificate may log in with a token instead (option
 * token_auth, mosquitto-dance(5)): username = identity, password = a JWS signed
 * with the key in the identity's TLSA records. Same shape: the cheap
 * checks (syntax, username == kid, allow-list, audience, times) first and
 * without DNS, then the records from the cache or a worker within the
 * budget, then the signature and the jti replay cache (libdance's token.c),
 * which plugin_opt_token_replay_file keeps across restarts (filesaver.h).
 * A client that presents a certificate is always judged by it: the TLS
 * handshake proved it holds the key, which a bearer token cannot.
 *
 * A client may resume a TLS 1.3 session (doc/design.md, "TLS session
 * resumption"): Mosquitto then hands us the certificate stored in the
 * session ticket, which it verified at the session's first full handshake
 * and never again. The decision below is the same either way - the leaf,
 * the CA file and the records in DNS now -, plus a check of the leaf's
 * validity period, the one thing a full handshake would check today that
 * the ticket cannot.
 *
 * Mosquitto 2.0 also calls BASIC_AUTH for every connected client after a
 * configuration reload (SIGHUP). Those re-checks are recognised (registry
 * entry + reload window) and answered from the registry, because the cache
 * has just been flushed: re-deciding on the spot would refuse every device
 * as "lookup pending". Their records are re-checked on the workers instead.
 */
#include "auth.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/x509.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include "dance/error.h"
#include "dance/name.h"
#include "decide.h"
#include "log.h"
#include "waitbudget.h"

struct mdp_auth {
    const mdp_plugin_config *cfg;
    const dance_matcher *matcher;
    dance_cache *cache;
    mdp_workers *workers;
    mdp_clients *clients;
    mdp_tokens *tokens;           /* NULL: token logins off */
    mdp_guard *guard;
    mdp_warmstart *warmstart;     /* NULL: no identities_file */
    mdp_identities *identities;   /* the warm start's; NULL without it */
    mdp_wait_budget wait_budget;  /* the broker thread's waiting on DNS */
    mdp_auth_counters counters;
    uint64_t first_auth_ms;         /* first BASIC_AUTH, for the TICK watchdog */
    bool tick_seen;                 /* TICK arrives: global plugin, good */
    bool warned_no_tick;
    bool reload_window;             /* from RELOAD to the next TICK */
};

mdp_auth *mdp_auth_new(const mdp_auth_config *c)
{
    mdp_auth *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return NULL;
    a->cfg = c->cfg;
    a->matcher = c->matcher;
    a->cache = c->cache;
    a->workers = c->workers;
    a->clients = c->clients;
    a->tokens = c->tokens;
    a->guard = c->guard;
    a->warmstart = c->warmstart;
    a->identities = c->warmstart != NULL ? mdp_warmstart_identities(c->warmstart)
                                         : NULL;
    mdp_wait_budget_init(&a->wait_budget, c->cfg->connect_budget_ms,
                           mdp_plugin_now_ms());
    return a;
}

void mdp_auth_free(mdp_auth *a)
{
    free(a);
}

void mdp_auth_tick(mdp_auth *a)
{
    a->tick_seen = true;
    a->reload_window = false;
}

void mdp_auth_reload(mdp_auth *a)
{
    a->reload_window = true;
}

void mdp_auth_get_counters(const mdp_auth *a, mdp_auth_counters *out)
{
    *out = a->counters;
}

/* A decision in the making: what the log line and counters need. */
typedef struct auth_ctx {
    mdp_auth *p;
    struct mosquitto *client;
    const char *client_id;
    const char *address;
    char identity[DANCE_NAME_MAX + 1];
    char owner[DANCE_NAME_MAX + 1];
    bool queue_full;        /* the lookup could not even be queued */
    uint64_t waited_ms;     /* how long the broker thread waited for DNS */
} auth_ctx;

/* finish - log the decision, count it, and return the broker answer.
 * accepted: MOSQ_ERR_SUCCESS; deferred: MOSQ_ERR_PLUGIN_DEFER; else AUTH. */
static int finish(auth_ctx *a, const mdp_verdict *v, bool defer)
{
    char cid[128], addr[64], record[sizeof(v->record)], why[sizeof(v->reason)];
    const char *verdict = v->code == MDP_V_ACCEPTED ? "accepted"
                        : defer ? "deferred" : "refused";
    int level = v->code == MDP_V_ACCEPTED ? MOSQ_LOG_INFO
              : v->code == MDP_V_INTERNAL ? MOSQ_LOG_ERR : MOSQ_LOG_NOTICE;

    mosquitto_log_printf(level,
        "dance: %s identity=%s client_id=\"%s\" address=%s reason=%s "
        "record=\"%s\": %s",
        verdict, a->identity[0] ? a->identity : "-",
        mdp_log_safe(a->client_id, cid, sizeof(cid)),
        mdp_log_safe(a->address, addr, sizeof(addr)),
        mdp_verdict_name(v->code),
        dance_escape(v->record, strlen(v->record), record, sizeof(record)),
        dance_escape_text(v->reason, strlen(v->reason), why, sizeof(why)));

    if (v->code == MDP_V_ACCEPTED) {
        a->p->counters.accepted++;
        /* for the next start's prefetch; a failure (ENOMEM) only loses that */
        if (a->p->identities != NULL && a->identity[0] != '\0')
            (void)mdp_identities_note(a->p->identities, a->identity);
        mdp_guard_admitted(a->p->guard, a->client);  /* a takeover's will follows */
        return MOSQ_ERR_SUCCESS;
    }
    if (defer) {
        mdp_guard_admitted(a->p->guard, a->client);
        a->p->counters.deferred[v->code]++;
        return MOSQ_ERR_PLUGIN_DEFER;
    }
    a->p->counters.refused[v->code]++;
    return MOSQ_ERR_AUTH;
}

static int refuse(auth_ctx *a, mdp_verdict_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(auth_ctx *a, mdp_verdict_code code, const char *fmt, ...)
{
    mdp_verdict v;
    va_list ap;

    memset(&v, 0, sizeof(v));
    v.code = code;
    va_start(ap, fmt);
    dance_vset_err(v.reason, sizeof(v.reason), fmt, ap);
    va_end(ap);
    return finish(a, &v, false);
}

/* fallback - refuse, or defer to other authentication when configured
 * (only for clients without a certificate or outside allowed_domains).
 * Deferred clients are registered so that DISCONNECT and the bypass check
 * recognise them. */
static int fallback(auth_ctx *a, mdp_verdict_code code, const char *reason)
{
    mdp_verdict v;
    bool defer = a->p->cfg->fallback == MDP_FALLBACK_DEFER;

    memset(&v, 0, sizeof(v));
    if (defer && a->p->cfg->client_id_binding &&
        mdp_client_id_claims_identity(a->client_id, a->p->cfg->allowlist)) {
        char cid[128];
        v.code = MDP_V_CLIENT_ID;
        snprintf(v.reason, sizeof(v.reason), "%s; the client id \"%s\" names a device "
                 "identity under plugin_opt_allowed_domains, which only that device "
                 "may use (plugin_opt_client_id_binding on)", reason,
                 mdp_log_safe(a->client_id, cid, sizeof(cid)));
        return finish(a, &v, false);
    }
    v.code = code;
    snprintf(v.reason, sizeof(v.reason), "%s%s", reason,
             defer ? "; deferring to other authentication (plugin_opt_fallback defer)"
                   : "");
    if (defer && mdp_clients_add(a->p->clients, a->client, a->client_id, false,
                                   NULL, NULL, NULL) == 0) {
        v.code = MDP_V_INTERNAL;
        snprintf(v.reason, sizeof(v.reason), "out of memory registering the client");
        return finish(a, &v, false);
    }
    return finish(a, &v, defer);
}

/* check_client_id - with plugin_opt_client_id_binding on, an admitted
 * identity's client id must be the identity or identity/suffix, so one
 * device cannot take over (and so disconnect) another's session. 0 when
 * bound or not enforced; else the refusal's broker answer in *rc. */
static int check_client_id(auth_ctx *a, int *rc)
{
    char cid[128];

    if (!a->p->cfg->client_id_binding || mdp_client_id_bound(a->client_id, a->identity))
        return 0;
    *rc = refuse(a, MDP_V_CLIENT_ID, "client id \"%s\" is not bound to identity %s: "
                 "connect with the client id %s or %s/<suffix> "
                 "(plugin_opt_client_id_binding on)",
                 mdp_log_safe(a->client_id, cid, sizeof(cid)), a->identity,
                 a->identity, a->identity);
    return -1;
}

/* check_validity - the leaf must be within its validity period now. A
 * full handshake gets this from Mosquitto's own chain check; a resumed
 * TLS session does not: OpenSSL gives a resumed connection a fresh ticket
 * with a fresh lifetime, so a device that reconnects often enough keeps
 * the verdict of one full handshake forever. DANE-EE records ignore dates
 * (RFC 7671), so the match would not notice either. 0 when valid; else
 * the refusal's broker answer in *rc. */
static int check_validity(auth_ctx *a, X509 *leaf, int *rc)
{
    int after = X509_cmp_current_time(X509_get0_notAfter(leaf));
    int before = X509_cmp_current_time(X509_get0_notBefore(leaf));

    if (after > 0 && before < 0)
        return 0;
    if (after == 0 || before == 0)
        *rc = refuse(a, MDP_V_CERT_EXPIRED, "the client certificate's validity "
                     "period cannot be read");
    else if (after < 0)
        *rc = refuse(a, MDP_V_CERT_EXPIRED, "the client certificate has expired "
                     "(a resumed TLS session carries the certificate of its first "
                     "handshake): the device needs a new certificate, then a full "
                     "TLS handshake");
    else
        *rc = refuse(a, MDP_V_CERT_EXPIRED, "the client certificate is not valid "
                     "yet: check the device's certificate and the broker's clock");
    return -1;
}

/* identity_from_san - the certificate's one dNSName. */
static int identity_from_san(auth_ctx *a, X509 *leaf, mdp_verdict *v)
{
    char **names = NULL;
    int n = dance_cert_dnsnames(leaf, &names);

    if (n < 0) {
        v->code = MDP_V_INTERNAL;
        snprintf(v->reason, sizeof(v->reason), "out of memory reading the certificate");
        return -1;
    }
    if (n == 1) {
        snprintf(a->identity, sizeof(a->identity), "%s", names[0]);
        dance_names_free(names);
        return 0;
    }
    v->code = MDP_V_IDENTITY;
    if (n == 0) {
        snprintf(v->reason, sizeof(v->reason), "the certificate has no usable "
                 "dNSName subjectAltName to take the identity from");
    } else {
        snprintf(v->reason, sizeof(v->reason), "the certificate has %d dNSNames "
                 "(%s, %s%s) and plugin_opt_identity_source is san, which needs "
                 "exactly one; use identity_source username to let the client "
                 "name its identity", n, names[0], names[1], n > 2 ? ", ..." : "");
    }
    dance_names_free(names);
    return -1;
}

/* identity_from_username - the MQTT username, normalised. */
static int identity_from_username(auth_ctx *a, const char *username, mdp_verdict *v)
{
    char why[DANCE_REASON_MAX], safe[128];

    if (username == NULL || username[0] == '\0') {
        v->code = MDP_V_IDENTITY;
        snprintf(v->reason, sizeof(v->reason), "no MQTT username: with "
                 "plugin_opt_identity_source username the username names the "
                 "identity");
        return -1;
    }
    if (dance_name_normalize(username, a->identity, sizeof(a->identity),
                             why, sizeof(why)) != 0) {
        a->identity[0] = '\0';
        v->code = MDP_V_IDENTITY;
        snprintf(v->reason, sizeof(v->reason), "username \"%s\" is not a DNS "
                 "name: %s", mdp_log_safe(username, safe, sizeof(safe)), why);
        return -1;
    }
    return 0;
}

/* recheck_after_reload - Mosquitto re-runs BASIC_AUTH for connected
 * clients after SIGHUP. Answer as before; the workers re-check DANE
 * clients against DNS at the next TICK (revalidate_now). */
static int recheck_after_reload(mdp_auth *p, const mdp_client *e)
{
    (void)p;
    return e->dane ? MOSQ_ERR_SUCCESS : MOSQ_ERR_PLUGIN_DEFER;
}

/* devices_waiting - lookups under way that devices wait on (the warm
 * start's that no device asked for yet are not a storm of devices) */
static size_t devices_waiting(mdp_auth *p)
{
    size_t all = mdp_workers_lookups_pending(p->workers);
    size_t warm = p->warmstart != NULL ? mdp_warmstart_unasked(p->warmstart) : 0;

    return all > warm ? all - warm : 0;
}

/* lookup - the TLSA answer for a->owner: cache, or queue a fetch and wait
 * for it as long as the wait budget allows (waitbudget.h: at most
 * connect_budget_ms, and a bounded share of the broker's time). Returns
 * true with *res filled; false when the lookup is still pending. */
static bool lookup(auth_ctx *a, dance_tlsa_result *res)
{
    mdp_auth *p = a->p;
    uint64_t t0;
    unsigned allow;
    bool answered;

    if (dance_cache_get(p->cache, a->owner, res))
        return true;
    dance_tlsa_result_clear(res);
    /* Queue the fetch before waiting: the wait also picks up an answer
     * from a fetch that starts while we wait. When the queue is full and
     * no fetch for this name runs, there is nothing to wait for. */
    switch (mdp_workers_submit_fetch(p->workers, a->owner)) {
    case MDP_SUBMIT_QUEUED:
    case MDP_SUBMIT_DUPLICATE:
        break;
    case MDP_SUBMIT_FULL:
    case MDP_SUBMIT_NOMEM:
    case MDP_SUBMIT_RESULT_COUNT:
        if (!dance_cache_in_flight(p->cache, a->owner)) {
            a->queue_full = true;
            return false;
        }
        break;
    }
    if (p->warmstart != NULL)
        mdp_warmstart_asked(p->warmstart, a->owner);
    /* many cold devices at once: refuse at once (waitbudget.h) */
    if (devices_waiting(p) > MDP_WAIT_ALONE_MAX)
        return false;
    t0 = mdp_plugin_now_ms();
    allow = mdp_wait_budget_allow(&p->wait_budget, t0);
    if (allow == 0)
        return false;
    answered = dance_cache_wait(p->cache, a->owner, allow, res);
    a->waited_ms = mdp_plugin_now_ms() - t0;
    mdp_wait_budget_spend(&p->wait_budget, a->waited_ms);
    return answered;
}

/* refuse_pending - the lookup did not answer within what the budget
 * allowed this time */
static int refuse_pending(auth_ctx *a)
{
    mdp_auth *p = a->p;

    if (a->queue_full)
        return refuse(a, MDP_V_PENDING, "TLSA lookup for %s could not be "
                      "queued: the worker queue is full (plugin_opt_queue_size "
                      "%zu); retry later", a->owner, p->cfg->queue_size);
    return refuse(a, MDP_V_PENDING, "TLSA lookup for %s still pending "
                  "after %llu ms (the broker waits at most "
                  "plugin_opt_connect_budget_ms %u on one connect and %u%% of "
                  "its time in all, and not while more than %u lookups are under "
                  "way); it goes on in the background: the device "
                  "should retry in about 1 s, resuming its TLS session (Mosquitto "
                  "2.0's CONNACK says only 'not authorized')", a->owner,
                  (unsigned long long)a->waited_ms, p->cfg->connect_budget_ms,
                  MDP_WAIT_SHARE_PERMILLE / 10u, MDP_WAIT_ALONE_MAX);
}

static int authenticate(auth_ctx *a, X509 *leaf, const char *username)
{
    mdp_auth *p = a->p;
    dance_tlsa_result res;
    mdp_verdict v;
    char why[DANCE_REASON_MAX];
    int rc;

    memset(&v, 0, sizeof(v));
    if (p->cfg->identity_source == MDP_IDSRC_SAN)
        rc = identity_from_san(a, leaf, &v);
    else
        rc = identity_from_username(a, username, &v);
    if (rc != 0)
        return finish(a, &v, false);
    if (check_validity(a, leaf, &rc) != 0)
        return rc;

    /* Allow-list before any DNS: names outside never cause a query. */
    if (!dance_allowlist_match(p->cfg->allowlist, a->identity)) {
        char r[DANCE_REASON_MAX + 64];
        snprintf(r, sizeof(r), "%s is not under plugin_opt_allowed_domains (%s)",
                 a->identity, p->cfg->allowed_domains);
        return fallback(a, MDP_V_OUTSIDE, r);
    }
    /* before DNS: a mismatch costs no query */
    if (check_client_id(a, &rc) != 0)
        return rc;

    if (dance_owner_name(a->identity, p->cfg->tlsa_owner_label, a->owner,
                         sizeof(a->owner), why, sizeof(why)) != 0)
        return refuse(a, MDP_V_IDENTITY, "no TLSA owner name for %s: %s",
                      a->identity, why);

    memset(&res, 0, sizeof(res));
    if (!lookup(a, &res)) {
        dance_tlsa_result_clear(&res);
        return refuse_pending(a);
    }
    mdp_decide(p->matcher, leaf, a->identity, p->cfg->identity_source, &res, &v);
    dance_tlsa_result_clear(&res);
    if (v.code != MDP_V_ACCEPTED)
        return finish(a, &v, false);

    if (mosquitto_set_username(a->client, a->identity) != MOSQ_ERR_SUCCESS)
        return refuse(a, MDP_V_INTERNAL, "cannot set the username to %s",
                      a->identity);
    /* Registry entry for DISCONNECT, revalidation and reload re-checks; it
     * takes its own reference on leaf. Without it the client could not be
     * revoked, so failing to make it refuses the client. */
    if (X509_up_ref(leaf) != 1 ||
        mdp_clients_add(p->clients, a->client, a->client_id, true,
                          a->identity, a->owner, leaf) == 0)
        return refuse(a, MDP_V_INTERNAL, "out of memory registering the client");
    return finish(a, &v, false);
}

/* looks_like_token - a compact JWS with a JSON header: three parts, the
 * first starting with base64url '{"'. Any other password is no token (it
 * may be for password_file behind fallback defer). */
static bool looks_like_token(const char *password)
{
    const char *dot;

    if (password == NULL || strncmp(password, "eyJ", 3) != 0)
        return false;
    dot = strchr(password, '.');
    if (dot == NULL || (dot = strchr(dot + 1, '.')) == NULL)
        return false;
    return strchr(dot + 1, '.') == NULL;
}

/* token_refuse - the verdict for a refused token; outside allowed_domains
 * follows plugin_opt_fallback as for certificates */
static int token_refuse(auth_ctx *a, const dance_token_result *tr)
{
    mdp_verdict_code code = mdp_verdict_of(tr->status);
    char r[DANCE_REASON_MAX + 64];

    if (a->identity[0] == '\0' && tr->identity[0] != '\0')
        snprintf(a->identity, sizeof(a->identity), "%s", tr->identity);
    snprintf(r, sizeof(r), "token %s: %s", dance_status_name(tr->status),
             tr->reason);
    if (code == MDP_V_OUTSIDE)
        return fallback(a, code, r);
    return refuse(a, code, "%s", r);
}

/* token_authenticate - a client without a certificate whose password is a
 * token (see the file comment) */
static int token_authenticate(auth_ctx *a, const char *username, const char *password)
{
    mdp_auth *p = a->p;
    dance_token *tok = NULL;
    dance_token_result tr;
    dance_tlsa_result res;
    mdp_verdict v;
    char why[DANCE_REASON_MAX];
    int rc;

    if (dance_token_parse(password, strlen(password), username, &tok, &tr)
        != DANCE_OK)
        return token_refuse(a, &tr);
    snprintf(a->identity, sizeof(a->identity), "%s", dance_token_identity(tok));
    /* Fail closed: a jti accepted while its file cannot be written would be
     * forgotten at the next restart. */
    if (mdp_tokens_replay_unsaved(p->tokens)) {
        rc = refuse(a, MDP_V_INTERNAL, "the token replay file %s cannot be written "
                    "(see the error above); token logins are refused until it can",
                    p->cfg->token_replay_file);
        goto out;
    }
    /* allow-list (no DNS for names outside it), audience, times */
    if (dance_token_check(tok, mdp_tokens_policy(p->tokens), &tr) != DANCE_OK) {
        rc = token_refuse(a, &tr);
        goto out;
    }
    /* before DNS and before the jti is spent */
    if (check_client_id(a, &rc) != 0)
        goto out;
    if (dance_owner_name(a->identity, p->cfg->tlsa_owner_label, a->owner,
                         sizeof(a->owner), why, sizeof(why)) != 0) {
        rc = refuse(a, MDP_V_IDENTITY, "no TLSA owner name for %s: %s",
                    a->identity, why);
        goto out;
    }
    memset(&res, 0, sizeof(res));
    if (!lookup(a, &res)) {
        dance_tlsa_result_clear(&res);
        rc = refuse_pending(a);
        goto out;
    }
    dance_token_verify_dns(tok, res.status, &res.records, res.reason,
                           mdp_tokens_policy(p->tokens), &tr);
    dance_tlsa_result_clear(&res);
    if (tr.status != DANCE_OK) {
        rc = token_refuse(a, &tr);
        goto out;
    }
    if (mosquitto_set_username(a->client, a->identity) != MOSQ_ERR_SUCCESS) {
        rc = refuse(a, MDP_V_INTERNAL, "cannot set the username to %s", a->identity);
        goto out;
    }
    /* Registered like a certificate client: re-checked every round (the
     * records must still give the token's key) and, when configured,
     * disconnected at the token's exp. Unregistered it could not be
     * revoked, so failing to register refuses it. */
    if (mdp_clients_add_token(p->clients, a->client, a->client_id, a->identity,
                                a->owner, password, tr.exp) == 0) {
        rc = refuse(a, MDP_V_INTERNAL, "out of memory registering the client");
        goto out;
    }
    mdp_tokens_admitted(p->tokens, tr.exp);
    p->counters.token_accepted++;
    memset(&v, 0, sizeof(v));
    v.code = MDP_V_ACCEPTED;
    snprintf(v.record, sizeof(v.record), "%s", tr.key_source);
    snprintf(v.reason, sizeof(v.reason), "token valid: alg %s, key %s, expires in "
             "%lld s", dance_jws_alg_name(tr.alg), tr.key_source,
             (long long)(tr.exp - (int64_t)time(NULL)));
    rc = finish(a, &v, false);
out:
    dance_token_free(tok);
    return rc;
}

int mdp_auth_on_basic_auth(mdp_auth *p, const struct mosquitto_evt_basic_auth *ed)
{
    auth_ctx a;
    const mdp_client *e;
    X509 *leaf;
    int rc;

    memset(&a, 0, sizeof(a));
    a.p = p;
    a.client = ed->client;
    a.client_id = mosquitto_client_id(ed->client);
    a.address = mosquitto_client_address(ed->client);

    e = mdp_clients_find(p->clients, ed->client);
    if (e != NULL) {
        if (p->reload_window)
            return recheck_after_reload(p, e);
        /* Outside a reload a known pointer means a DISCONNECT we never
         * saw and a new connection at the same address: start afresh. */
        mdp_clients_remove(p->clients, ed->client);
    }

    leaf = mosquitto_client_certificate(ed->client);
    if (leaf == NULL && p->reload_window)
        return MOSQ_ERR_PLUGIN_DEFER;   /* offline session or not ours */

    /* TICK never arriving means a per-listener plugin (see environment.c):
     * revocation and metrics would be dead, so refuse loudly. A global
     * plugin gets TICK at the end of the broker loop iteration that
     * handled the first CONNECT; 30 s leaves room for iterations slowed
     * by connect budgets. */
    if (p->first_auth_ms == 0)
        p->first_auth_ms = mdp_plugin_now_ms();
    if (!p->tick_seen && mdp_plugin_now_ms() - p->first_auth_ms > 30000) {
        if (!p->warned_no_tick) {
            p->warned_no_tick = true;
            mosquitto_log_printf(MOSQ_LOG_ERR, "dance: no TICK event has "
                "reached the plugin since it started: it was probably loaded "
                "with per_listener_settings true, where Mosquitto 2.0 never "
                "delivers TICK. Refusing every client; set "
                "per_listener_settings false.");
        }
        X509_free(leaf);
        return refuse(&a, MDP_V_INTERNAL, "plugin receives no TICK events "
                      "(per_listener_settings true?)");
    }

    if (leaf == NULL) {
        if (p->cfg->token_auth && looks_like_token(ed->password))
            return token_authenticate(&a, ed->username, ed->password);
        if (p->cfg->token_auth)
            return fallback(&a, MDP_V_NO_CERTIFICATE, "the client sent neither a "
                            "certificate nor a token as password");
        return fallback(&a, MDP_V_NO_CERTIFICATE, "the client sent no "
                        "certificate (DANE needs a TLS listener with require_certificate true)");
    }

    rc = authenticate(&a, leaf, ed->username);
    X509_free(leaf);
    return rc;
}
