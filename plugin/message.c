/*
 * plugin/message.c - Mosquitto glue for signed messages: the MESSAGE hook's
 * verification, publication of verified copies and diagnostics at TICK
 * (the guard on the reserved topic trees is guard.c's).
 *
 * MESSAGE (broker thread, every message the broker receives):
 *   - verification off: return at once.
 *   - writes into verified_prefix and rejected_prefix were refused before
 *     (guard.c: ACL_CHECK, and MESSAGE for bridges).
 *   - a topic matching verify_topics goes to the pipeline (pipeline.c):
 *     cheap header checks here, refusals reported at once, signature and
 *     DNS on other threads. An encrypted message (JWE) is not: the broker
 *     cannot read, so cannot verify it (see "Encrypted messages" below).
 *   - the message itself continues on its own topic unchanged, except a
 *     forwarder's copy under forwarded_prefix (only forwarders get that far,
 *     guard.c): it is verified on the topic below the prefix, as if its
 *     device had published there, and never delivered as is; it comes out
 *     as the same verified copy a direct message gets, or as a refusal.
 * TICK: finished verifications come back in per-sender order and the
 * verified copies go out with mosquitto_broker_publish_copy, which is not
 * thread-safe and so is called from here only (and from MESSAGE, also the
 * broker thread, for diagnostics of on-the-spot refusals).
 *
 * Encrypted messages: a JWE on a verify_topics topic is refused as
 * "encrypted" and not delivered (plugin_opt_encrypted refuse, the default),
 * or delivered as is on its own topic and never verified (pass). Told
 * apart from a JWS by structure alone (dance_jwe_is_jwe), before any
 * parsing. Refusing means not delivering, so it happens where Mosquitto
 * still asks: in ACL_CHECK (WRITE), which sees every client PUBLISH and
 * every will (wills never reach MESSAGE), and in MESSAGE for what ACL_CHECK
 * does not see (messages over the broker's own bridges). A JWE under
 * forwarded_prefix is refused in both modes: an edge forwards only what it
 * verified, which a JWE never is.
 *
 * Ownership: the property list handed to Mosquitto belongs to it once the
 * publish call succeeds; on failure we free it.
 */
#include "message.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <mqtt_protocol.h>
#include "dance/cose.h"
#include "dance/error.h"
#include "dance/jwe.h"
#include "pipeline.h"
#include "topics.h"

/* MQTT topics are at most 65535 bytes (a 16-bit length). */
#define MQTT_TOPIC_MAX 65535u

struct mdp_messages {
    const mdp_plugin_config *cfg;
    mdp_clients *clients;         /* whose budget a message is charged to */
    mdp_log_limiter *log;         /* per-message lines; the guard's too */
    size_t verified_prefix_len, rejected_prefix_len, forwarded_prefix_len;
    /* NULL when verification is off */
    mdp_pipeline *pipeline;
    dance_jws_keycache *keycache;
    dance_replay *replay;
    mdp_msg_stats mstats;
    uint64_t next_replay_check_ms;  /* when to look at evictions again */
    uint64_t replay_evicted_seen;   /* evictions already warned about */
    char *topic_buf;                /* "<prefix><topic>" is built here */
    size_t topic_buf_cap;
};

/* prefixed - "<prefix><topic>" in the plugin's reusable buffer, or NULL
 * when it would exceed the MQTT limit or memory is short. */
static const char *prefixed(mdp_messages *p, const char *prefix, size_t plen,
                            const char *topic)
{
    size_t tlen = strlen(topic);

    if (plen + tlen > MQTT_TOPIC_MAX)
        return NULL;
    if (p->topic_buf_cap < plen + tlen + 1) {
        size_t cap = plen + tlen + 1 < 256 ? 256 : plen + tlen + 1;
        char *b = realloc(p->topic_buf, cap);
        if (b == NULL)
            return NULL;
        p->topic_buf = b;
        p->topic_buf_cap = cap;
    }
    memcpy(p->topic_buf, prefix, plen);
    memcpy(p->topic_buf + plen, topic, tlen + 1);
    return p->topic_buf;
}

/* printable - printable ASCII only: reasons may quote header strings the
 * sender chose (control characters could forge log lines), and the
 * diagnostic must stay valid UTF-8 JSON. */
static const char *printable(const char *s, char *buf, size_t buflen)
{
    return dance_escape_text(s, strlen(s), buf, buflen);
}

/* format_name - "cose" or "jws": the parser the message went to, by the
 * same first-byte rule (dance_is_cose), so also for one that failed to
 * parse. */
static const char *format_name(const void *payload, size_t len)
{
    return dance_is_cose(payload, len) ? "cose" : "jws";
}

/* diagnose - publish {topic, sender, reason, reason_code, detail, format}
 * under rejected_prefix (QoS 0, not retained). */
static void diagnose(mdp_messages *p, const char *topic, bool forwarded,
                     const char *format, const dance_jws_result *r)
{
    cJSON *o;
    char *json = NULL;
    const char *dtopic;
    char detail[sizeof(r->reason)];
    int rc;

    if (p->cfg->rejected_prefix == NULL)
        return;
    o = cJSON_CreateObject();
    if (o == NULL ||
        cJSON_AddStringToObject(o, "topic", topic) == NULL ||
        (r->sender[0] != '\0'
             ? cJSON_AddStringToObject(o, "sender", r->sender)
             : cJSON_AddNullToObject(o, "sender")) == NULL ||
        cJSON_AddStringToObject(o, "reason", dance_status_name(r->status)) == NULL ||
        cJSON_AddNumberToObject(o, "reason_code", (double)r->status) == NULL ||
        cJSON_AddStringToObject(o, "detail", printable(r->reason, detail,
                                                       sizeof(detail))) == NULL ||
        (r->has_alg && cJSON_AddStringToObject(o, "alg", dance_jws_alg_name(r->alg))
                           == NULL) ||
        cJSON_AddStringToObject(o, "format", format) == NULL ||
        (forwarded && cJSON_AddTrueToObject(o, "forwarded") == NULL) ||
        (json = cJSON_PrintUnformatted(o)) == NULL) {
        cJSON_Delete(o);
        p->mstats.publish_failures++;
        mdp_log_limited(p->log, MOSQ_LOG_ERR, "dance: out of memory building a diagnostic");
        return;
    }
    cJSON_Delete(o);
    dtopic = prefixed(p, p->cfg->rejected_prefix, p->rejected_prefix_len, topic);
    rc = dtopic == NULL ? MOSQ_ERR_NOMEM
       : mosquitto_broker_publish_copy(NULL, dtopic, (int)strlen(json), json, 0,
                                       false, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        char t[128];
        p->mstats.publish_failures++;
        mdp_log_limited(p->log, MOSQ_LOG_WARNING, "dance: cannot publish the diagnostic for "
                "topic \"%s\" under %s: %s", mdp_log_safe(topic, t, sizeof(t)),
                p->cfg->rejected_prefix, dtopic == NULL ? "topic too long or out "
                "of memory" : mosquitto_strerror(rc));
    }
    cJSON_free(json);
}

/* refused - count, log and diagnose one refused message (forwarded: a
 * forwarder's copy, topic the one below forwarded_prefix; format: its
 * format_name). */
static void refused(mdp_messages *p, const char *topic, bool forwarded,
                    const char *format, const dance_jws_result *r)
{
    char t[128], why[sizeof(r->reason)];
    dance_status st = r->status;

    if ((int)st < 0 || (st >= DANCE_MESSAGE_STATUS_END && st != DANCE_ENCRYPTED) ||
        st == DANCE_OK)
        st = DANCE_INTERNAL;
    p->mstats.refused[st]++;
    mdp_log_limited(p->log, st == DANCE_INTERNAL ? MOSQ_LOG_ERR : MOSQ_LOG_NOTICE,
            "dance: %smessage refused topic=\"%s\" sender=%s format=%s reason=%s: %s",
            forwarded ? "forwarded " : "", mdp_log_safe(topic, t, sizeof(t)),
            r->sender[0] ? r->sender : "-", format,
            dance_status_name(st), printable(r->reason, why, sizeof(why)));
    diagnose(p, topic, forwarded, format, r);
}

/* encrypted_payload - a JWE (structure only: nothing is decoded, no key is
 * used). Within max_payload both forms; over it only the compact form (a
 * scan of the bytes, no allocation), since the JSON form would have to be
 * parsed: an oversize JSON JWE is left to the JWS parser, which refuses it
 * as too_large without reading it (Mosquitto's message_size_limit keeps
 * such messages out altogether). */
static bool encrypted_payload(const mdp_messages *p, const void *payload, size_t len)
{
    const unsigned char *s = payload;
    size_t i = 0;

    if (payload == NULL)
        return false;
    if (len <= p->cfg->max_payload)
        return dance_jwe_is_jwe(payload, len);
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i < len && s[i] != '{' && dance_jwe_is_jwe(payload, len);
}

/* refuse_encrypted - count, log and diagnose an encrypted message on topic
 * (forwarded: a forwarder's copy, topic the one below forwarded_prefix),
 * which the caller does not deliver. */
static void refuse_encrypted(mdp_messages *p, const char *topic, bool forwarded)
{
    dance_jws_result r;

    memset(&r, 0, sizeof(r));
    r.status = DANCE_ENCRYPTED;
    if (forwarded)
        dance_set_err(r.reason, sizeof(r.reason), "the forwarded copy is encrypted "
                      "(JWE): a forwarder sends only messages it verified, and an "
                      "encrypted one cannot be; not delivered");
    else
        dance_set_err(r.reason, sizeof(r.reason), "the message is encrypted (JWE), "
                      "which the broker cannot verify: not delivered (plugin_opt_encrypted "
                      "refuse); to have it verified, sign the JWE (dance sign --cty JWE); "
                      "to deliver such messages unverified, set plugin_opt_encrypted pass");
    refused(p, topic, forwarded, "jwe", &r);
}

/* publish_verified - the copy under verified_prefix: payload, QoS and
 * retain as received, plus the user properties dance-sender, dance-alg,
 * dance-key (MQTT v5 subscribers see them; v3 subscribers get the copy
 * without). The publisher's own properties are not copied: it could
 * otherwise add a dance-sender of its choosing. */
static void publish_verified(mdp_messages *p, const mdp_msg_outcome *o)
{
    const dance_jws_result *r = o->result;
    mosquitto_property *props = NULL;
    const char *vtopic;
    char t[128];
    int rc;

    p->mstats.verified++;
    if (o->forwarded)
        p->mstats.forwarded_verified++;
    vtopic = prefixed(p, p->cfg->verified_prefix, p->verified_prefix_len, o->topic);
    if (vtopic == NULL) {
        rc = MOSQ_ERR_NOMEM;
        goto fail;
    }
    rc = mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY,
                                            "dance-sender", r->sender);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY,
                                                "dance-alg", dance_jws_alg_name(r->alg));
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY,
                                                "dance-key", r->key_source);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_broker_publish_copy(NULL, vtopic, (int)o->payload_len, o->payload,
                                           o->qos, o->retain, props);
    if (rc == MOSQ_ERR_SUCCESS) {
        mdp_log_limited(p->log, MOSQ_LOG_DEBUG, "dance: %smessage verified topic=\"%s\" "
                "sender=%s format=%s alg=%s key=\"%s\"", o->forwarded ? "forwarded " : "",
                mdp_log_safe(o->topic, t, sizeof(t)), r->sender,
                format_name(o->payload, o->payload_len),
                dance_jws_alg_name(r->alg), r->key_source);
        return;
    }
    mosquitto_property_free_all(&props);
fail:
    p->mstats.publish_failures++;
    mdp_log_limited(p->log, MOSQ_LOG_WARNING, "dance: verified message from %s on topic \"%s\" "
            "could not be republished under %s: %s", r->sender,
            mdp_log_safe(o->topic, t, sizeof(t)), p->cfg->verified_prefix,
            vtopic == NULL ? "topic too long or out of memory" : mosquitto_strerror(rc));
}

static void outcome_cb(void *ctx, const mdp_msg_outcome *o)
{
    mdp_messages *p = ctx;

    if (o->result->status == DANCE_OK)
        publish_verified(p, o);
    else
        refused(p, o->topic, o->forwarded, format_name(o->payload, o->payload_len),
                o->result);
}

/* watch_replay - a full replay cache forgets verified messages before
 * replay_window ends, and a copy of one is then verified again within its
 * iat window. Counted in $SYS, but a silent hole, so it is also logged:
 * looked at every second, logged once a minute at most, with what to
 * change. */
static void watch_replay(mdp_messages *p, uint64_t now_ms)
{
    dance_replay_stats st;

    p->next_replay_check_ms = now_ms + 1000u;
    dance_replay_get_stats(p->replay, &st);
    if (st.evicted_early <= p->replay_evicted_seen)
        return;
    p->next_replay_check_ms = now_ms + 60000u;
    mosquitto_log_printf(MOSQ_LOG_WARNING, "dance: warning: the message replay cache "
        "is full: %llu verified messages forgotten before replay_window (%u s) ended "
        "since the last warning, so a copy of one could be verified again; set "
        "plugin_opt_replay_cache_size (now %zu) to at least verified messages per "
        "second x replay_window",
        (unsigned long long)(st.evicted_early - p->replay_evicted_seen),
        (unsigned)p->cfg->replay_window, p->cfg->replay_cache_size);
    p->replay_evicted_seen = st.evicted_early;
}

void mdp_messages_tick(mdp_messages *p, uint64_t now_ms)
{
    if (p->pipeline != NULL)
        mdp_pipeline_drain(p->pipeline, outcome_cb, p);
    if (p->replay != NULL && now_ms >= p->next_replay_check_ms)
        watch_replay(p, now_ms);
}

/* publisher_of - whose lookup budget a message is charged to: the
 * identity the plugin authenticated (so that reconnecting or a second
 * client id does not buy another budget), else the client id. */
static void publisher_of(mdp_messages *p, struct mosquitto *client,
                         mdp_pipeline_publisher *out)
{
    const mdp_client *e = client != NULL ? mdp_clients_find(p->clients, client)
                                           : NULL;

    out->forwarded = false;
    if (e != NULL && e->dane && e->identity != NULL) {
        out->name = e->identity;
        out->authenticated = true;
    } else {
        out->name = client != NULL ? mosquitto_client_id(client) : NULL;
        out->authenticated = false;
    }
}

/* dropped - log a message dropped from verification, with the bound that
 * was hit. The message itself goes on under its own topic; only the
 * verified copy (or diagnostic) is not made. */
static void dropped(mdp_messages *p, const struct mosquitto_evt_message *ed,
                    bool forwarded, mdp_pipeline_drop why)
{
    char t[128], cid[128];
    const char *bound;

    switch (why) {
    case MDP_PIPELINE_DROP_QUEUE_FULL:
        bound = "the verification queue holds plugin_opt_verify_queue_size messages";
        break;
    case MDP_PIPELINE_DROP_QUEUE_BYTES:
        bound = "the verification queue holds plugin_opt_verify_queue_bytes bytes";
        break;
    case MDP_PIPELINE_DROP_NO_MEMORY:
    case MDP_PIPELINE_DROP_COUNT:
    default:
        bound = "out of memory";
        break;
    }
    mdp_log_limited(p->log, MOSQ_LOG_WARNING, "dance: %smessage on topic \"%s\" from "
            "client_id=\"%s\" not verified (%s) reason=%s: %s",
            forwarded ? "forwarded " : "", mdp_log_safe(ed->topic, t, sizeof(t)),
            mdp_log_safe(ed->client ? mosquitto_client_id(ed->client) : NULL,
                           cid, sizeof(cid)),
            forwarded ? "not delivered, no verified copy: the forwarding broker "
            "was told it was not accepted" : "delivered unverified on its own "
            "topic, no verified copy", mdp_pipeline_drop_name(why), bound);
}

/* on_forwarded - a forwarder's copy (the guard let only forwarders
 * through): verified on the topic below the prefix, charged to no lookup
 * budget, and denied as such so that no subscriber sees it unverified
 * (QoS 1/2 over MQTT v5: the forwarder gets "not authorized" and drops its
 * copy; whether it passed shows on verified_prefix and in the counters). */
static int on_forwarded(mdp_messages *p, const struct mosquitto_evt_message *ed)
{
    dance_jws_result r;
    mdp_pipeline_publisher pub;
    mdp_pipeline_drop drop = MDP_PIPELINE_DROP_NO_MEMORY;
    const char *topic;

    memset(&r, 0, sizeof(r));
    p->mstats.forwarded++;
    if (strlen(ed->topic) <= p->forwarded_prefix_len) {
        /* the bare level ("forwarded") or the prefix alone: no topic to
         * verify against, and none a device could have published on */
        r.status = DANCE_TOPIC_MISMATCH;
        dance_set_err(r.reason, sizeof(r.reason), "a forwarded copy must name a "
                      "topic below %s", p->cfg->forwarded_prefix);
        refused(p, ed->topic, true, format_name(ed->payload, (size_t)ed->payloadlen),
                &r);
        return MOSQ_ERR_ACL_DENIED;
    }
    topic = ed->topic + p->forwarded_prefix_len;
    if (encrypted_payload(p, ed->payload, ed->payloadlen)) {
        refuse_encrypted(p, topic, true);
        return MOSQ_ERR_ACL_DENIED;
    }
    publisher_of(p, ed->client, &pub);
    pub.forwarded = true;
    switch (mdp_pipeline_submit(p->pipeline, &pub, topic, ed->payload,
                                  ed->payloadlen, ed->qos, ed->retain, &r, &drop)) {
    case MDP_PIPELINE_QUEUED:
        break;
    case MDP_PIPELINE_REFUSED:
        refused(p, topic, true, format_name(ed->payload, (size_t)ed->payloadlen), &r);
        break;
    case MDP_PIPELINE_DROPPED:
    case MDP_PIPELINE_SUBMIT_COUNT:
        dropped(p, ed, true, drop);
        break;
    }
    dance_jws_result_clear(&r);
    return MOSQ_ERR_ACL_DENIED;
}

int mdp_messages_on_message(mdp_messages *p, const struct mosquitto_evt_message *ed)
{
    dance_jws_result r;
    mdp_pipeline_publisher pub;
    mdp_pipeline_drop drop = MDP_PIPELINE_DROP_NO_MEMORY;

    if (ed->topic == NULL)
        return MOSQ_ERR_SUCCESS;
    if (p->forwarded_prefix_len > 0 &&
        mdp_topic_under_prefix(ed->topic, p->cfg->forwarded_prefix,
                                 p->forwarded_prefix_len))
        return p->pipeline != NULL ? on_forwarded(p, ed) : MOSQ_ERR_ACL_DENIED;
    if (p->pipeline == NULL)
        return MOSQ_ERR_SUCCESS;
    if (!mdp_topics_match(p->cfg->topics, ed->topic))
        return MOSQ_ERR_SUCCESS;
    /* With refuse, a client's JWE was refused in ACL_CHECK already: only
     * what no ACL check saw (the broker's own bridges, whose connections
     * are no registered clients) is looked at again. With pass, every JWE
     * must be kept out of the pipeline here. */
    if ((p->cfg->encrypted_pass || ed->client == NULL ||
         mdp_clients_find(p->clients, ed->client) == NULL) &&
        encrypted_payload(p, ed->payload, ed->payloadlen)) {
        char t[128];
        if (!p->cfg->encrypted_pass) {
            refuse_encrypted(p, ed->topic, false);
            return MOSQ_ERR_ACL_DENIED;
        }
        p->mstats.encrypted_passed++;
        mdp_log_limited(p->log, MOSQ_LOG_DEBUG, "dance: encrypted message passed "
                        "unverified topic=\"%s\" (plugin_opt_encrypted pass)",
                        mdp_log_safe(ed->topic, t, sizeof(t)));
        return MOSQ_ERR_SUCCESS;
    }

    memset(&r, 0, sizeof(r));
    publisher_of(p, ed->client, &pub);
    switch (mdp_pipeline_submit(p->pipeline, &pub, ed->topic, ed->payload,
                                  ed->payloadlen, ed->qos, ed->retain, &r, &drop)) {
    case MDP_PIPELINE_QUEUED:
        break;
    case MDP_PIPELINE_REFUSED:
        refused(p, ed->topic, false, format_name(ed->payload, (size_t)ed->payloadlen),
                &r);
        break;
    case MDP_PIPELINE_DROPPED:
    case MDP_PIPELINE_SUBMIT_COUNT:
        dropped(p, ed, false, drop);
        break;
    }
    dance_jws_result_clear(&r);
    return MOSQ_ERR_SUCCESS;
}

int mdp_messages_on_acl_write(mdp_messages *p, const struct mosquitto_evt_acl_check *ed)
{
    if (p->pipeline == NULL || p->cfg->encrypted_pass || ed->access != MOSQ_ACL_WRITE ||
        ed->topic == NULL || !mdp_topics_match(p->cfg->topics, ed->topic) ||
        !encrypted_payload(p, ed->payload, ed->payloadlen))
        return MOSQ_ERR_SUCCESS;
    refuse_encrypted(p, ed->topic, false);
    return MOSQ_ERR_ACL_DENIED;
}

/* start_pipeline - the key and replay caches and the verify threads. */
static int start_pipeline(mdp_messages *p, const dance_matcher *matcher,
                          dance_cache *cache, mdp_workers *workers,
                          char *err, size_t errlen)
{
    mdp_pipeline_config pc;

    p->keycache = dance_jws_keycache_new(p->cfg->key_cache_size);
    if (p->keycache == NULL) {
        snprintf(err, errlen, "out of memory creating the key cache");
        return -1;
    }
    if (p->cfg->replay_window > 0) {
        p->replay = dance_replay_new(p->cfg->replay_cache_size, p->cfg->replay_window,
                                     NULL, NULL);
        if (p->replay == NULL) {
            snprintf(err, errlen, "out of memory creating the replay cache");
            return -1;
        }
    }
    memset(&pc, 0, sizeof(pc));
    pc.threads = p->cfg->verify_threads;
    pc.queue_max = p->cfg->verify_queue_size;
    pc.max_payload = p->cfg->max_payload;
    pc.policy.allow = p->cfg->allowlist;
    pc.policy.service_label = p->cfg->tlsa_owner_label;
    pc.policy.matcher = matcher;
    pc.policy.keys = p->keycache;
    pc.policy.replay = p->replay;
    pc.policy.require_jti = p->cfg->require_jti;
    pc.policy.require_iat = p->cfg->require_iat;
    pc.policy.max_skew = p->cfg->max_skew;
    pc.policy.require_topic = p->cfg->require_topic_binding;
    pc.cache = cache;
    pc.workers = workers;
    pc.dns_reserve = p->cfg->queue_size / 2;     /* as for re-checks */
    pc.queue_bytes = p->cfg->verify_queue_bytes;
    pc.lookup_rate = p->cfg->sender_lookup_rate;
    pc.lookup_burst = p->cfg->sender_lookup_burst;
    p->pipeline = mdp_pipeline_start(&pc, err, errlen);
    if (p->pipeline == NULL)
        return -1;
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: message flood bounds: "
                         "verify_queue_size=%zu verify_queue_bytes=%zu "
                         "sender_lookups_per_client=%u/%u", p->cfg->verify_queue_size,
                         p->cfg->verify_queue_bytes, p->cfg->sender_lookup_rate,
                         p->cfg->sender_lookup_burst);
    return 0;
}

mdp_messages *mdp_messages_start(const mdp_plugin_config *cfg,
                                     const dance_matcher *matcher, dance_cache *cache,
                                     mdp_workers *workers, mdp_clients *clients,
                                     char *err, size_t errlen)
{
    mdp_messages *p = calloc(1, sizeof(*p));

    if (p == NULL || (p->log = mdp_log_limiter_new()) == NULL) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = cfg;
    p->clients = clients;
    p->verified_prefix_len = strlen(cfg->verified_prefix);
    p->rejected_prefix_len = cfg->rejected_prefix ? strlen(cfg->rejected_prefix) : 0;
    p->forwarded_prefix_len = cfg->forwarded_prefix ? strlen(cfg->forwarded_prefix) : 0;
    if (mdp_plugin_config_verifying(cfg) &&
        start_pipeline(p, matcher, cache, workers, err, errlen) != 0) {
        mdp_messages_free(p);
        return NULL;
    }
    return p;
}

bool mdp_messages_verifying(const mdp_messages *p)
{
    return p->pipeline != NULL;
}

mdp_log_limiter *mdp_messages_log(mdp_messages *p)
{
    return p->log;
}

void mdp_messages_get_counters(const mdp_messages *p, mdp_messages_counters *out)
{
    memset(out, 0, sizeof(*out));
    out->msg = p->mstats;
    if (p->pipeline != NULL)
        mdp_pipeline_get_stats(p->pipeline, &out->pipeline);
    out->has_replay = p->replay != NULL;
    out->forwarding = p->forwarded_prefix_len > 0;
    if (p->replay != NULL)
        dance_replay_get_stats(p->replay, &out->replay);
}

void mdp_messages_stop(mdp_messages *p)
{
    if (p != NULL)
        mdp_pipeline_stop(p->pipeline);
}

void mdp_messages_free(mdp_messages *p)
{
    if (p == NULL)
        return;
    mdp_pipeline_free(p->pipeline);
    dance_replay_free(p->replay);
    dance_jws_keycache_free(p->keycache);
    free(p->topic_buf);
    mdp_log_limiter_free(p->log);
    free(p);
}
