/*
 * backend_subscriber.c - an example backend that trusts devices, not the
 * broker: it subscribes (by default to verified/#, where the broker's DANCE
 * plugin republishes messages it verified) and verifies every payload again
 * end to end with libdance: the sender of the JWS or COSE_Sign1 (kid/x5u;
 * the library tells the formats apart by the first byte), that sender's TLSA
 * records fetched with DNSSEC validation, the signature, iat, the topic the
 * device bound the message to (both required unless --compat, as the
 * plugin's strict profile does) and replay (a copy of a message already
 * verified, by jti or by a digest of what was signed). A broker that forged,
 * altered, re-routed or repeated a message is caught here.
 *
 * Confidential messages (--decrypt-key KEY.pem, the backend's own key,
 * whose public half its TLSA records publish): a verified JWS with cty JWE
 * (encrypt-then-sign, as device_publisher --encrypt-to sends) is decrypted
 * after its signature checked out; a JWE (sign-then-encrypt, the DANCE
 * prototype's) is decrypted first and the JWS inside verified. A message
 * that does not decrypt is refused (decryption_failed, one reason for every
 * cause). Without the key, an encrypted reading shows as its JWE.
 *
 * One line per message on stdout:
 *     VERIFIED <sender> <topic> <payload>
 *     DECRYPTED <sender> <topic> <plaintext>    (verified, then decrypted)
 *     REFUSED <reason> <topic> claimed=<sender or -> <why, in words>
 * <reason> is libdance's token (no_record, bad_signature, replay, ...) or
 * sender_mismatch when the broker's dance-sender property names someone
 * else than the signature does.
 *
 * Verification runs in the message callback, on the one thread that also
 * runs the MQTT loop: simple, and fine for an example; DNS answers are
 * cached for their TTL (dance_cache), decoded keys by record
 * (dance_jws_keycache), so a known sender costs one signature check. A
 * busy backend would verify on worker threads, each with its own resolver.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <mqtt_protocol.h>

#include "dance/cache.h"
#include "dance/cose.h"
#include "dance/dane.h"
#include "dance/jwe.h"
#include "dance/jws.h"
#include "dance/keycache.h"
#include "dance/name.h"
#include "dance/provision.h"
#include "dance/replay.h"
#include "dance/resolver.h"
#include "example_common.h"

static const char *prog = "backend_subscriber";

#define MAX_FILTERS 16

typedef struct backend {
    const char *filters[MAX_FILTERS];
    size_t nfilters;
    size_t subacks;
    const char *verified_prefix;
    dance_jws_policy policy;        /* shared settings; copied per message */
    dance_jws_source source;
    EVP_PKEY *decrypt_key;          /* --decrypt-key; NULL: none */
    unsigned long seen, verified, refused, decrypted;
    bool subscribed_reported;
} backend;

static void usage(FILE *f)
{
    fprintf(f,
"usage: %s --cafile CA.pem --cert CERT.pem --key KEY.pem [options]\n"
"\n"
"Subscribes and verifies every message end to end against DNS (DNSSEC).\n"
"\n"
"  --host H            broker host (default localhost)\n"
"  --port P            broker port (default 8883)\n"
"  --cafile F          CA of the broker's server certificate (required)\n"
"  --cert F, --key F   this backend's client certificate and key\n"
"  --id ID             MQTT client id (default backend-<pid>)\n"
"  --topic FILTER      subscribe to FILTER (repeatable; default verified/#)\n"
"  --verified-prefix P topics under P are verified copies of the topic after\n"
"                      P (default verified/); the message's topic binding is\n"
"                      checked against that original topic\n"
"  --resolver LIST     validating-capable DNS upstreams IP[@PORT],... (default:\n"
"                      the system's)\n"
"  --trust-anchor F    DNSSEC trust anchor (DS/DNSKEY; default: the root key)\n"
"  --dns-transport T   udp (default), tcp or tls\n"
"  --tls-auth-name N   name in the resolver's certificate (with tls)\n"
"  --dns-timeout MS    per lookup (default 2000)\n"
"  --allowed-domains L senders must be under these domains (comma list);\n"
"                      others are refused without a DNS query\n"
"  --issuers F         CA certificates for x5c chains with PKIX records\n"
"  --service-label L   TLSA records at L.<sender> instead of <sender>\n"
"  --max-skew S        allowed |now - iat| (default 300)\n"
"  --compat            accept messages without iat or without a topic header\n"
"                      (by default both are required, as by the plugin's\n"
"                      strict message profile)\n"
"  --require-iat       refuse messages without iat (also with --compat)\n"
"  --replay-window S   refuse a copy of a message verified within S seconds\n"
"                      (same jti, or same signed header and payload; default\n"
"                      600; 0: off). Subscribe to one copy of each message\n"
"                      only (not both devices/# and verified/#)\n"
"  --max-ttl S         cache DNS answers at most S seconds (default 300)\n"
"  --decrypt-key F     this backend's private key (PEM): a verified message\n"
"                      with cty JWE (encrypt-then-sign) is decrypted after\n"
"                      its signature checked out, a JWE holding a JWS\n"
"                      (sign-then-encrypt) before; printed as DECRYPTED\n"
"  --count N           exit after N messages (verified or refused)\n"
"  --timeout S         exit after S seconds\n"
"\n"
"Prints SUBSCRIBED once the broker acknowledged the subscriptions, then one\n"
"line per message: VERIFIED <sender> <topic> <payload>, DECRYPTED <sender>\n"
"<topic> <plaintext> (verified and decrypted), or REFUSED <reason> <topic>\n"
"claimed=<sender> <why>.\n"
"Exit status: 0 done (count reached, timeout without --count, or SIGTERM);\n"
"1 --count not reached before --timeout; 2 bad usage; 3 connection refused\n"
"or lost.\n", prog);
}

/* original_topic - the topic the device published on: a verified copy's
 * topic without the prefix, any other topic as it is. */
static const char *original_topic(const backend *b, const char *topic)
{
    size_t n = strlen(b->verified_prefix);

    if (n > 0 && strncmp(topic, b->verified_prefix, n) == 0)
        return topic + n;
    return topic;
}

/* broker_sender - the dance-sender user property the broker's plugin put on
 * a verified copy, or NULL (freed by the caller). */
static char *broker_sender(const mosquitto_property *props)
{
    const mosquitto_property *p;
    bool skip = false;

    for (p = props; ; skip = true) {
        char *name = NULL, *value = NULL;

        p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value,
                                                skip);
        if (p == NULL)
            return NULL;
        if (name != NULL && strcmp(name, "dance-sender") == 0) {
            free(name);
            return value;
        }
        free(name);
        free(value);
    }
}

/* verify_decrypt - res: the verdict on data (len bytes). With a decrypt
 * key, a JWE is decrypted first and the JWS inside verified
 * (sign-then-encrypt), and a verified JWS with cty JWE has its payload
 * decrypted (encrypt-then-sign); *decrypted says so. A failed decryption
 * is the refusal. */
static void verify_decrypt(backend *b, const dance_jws_policy *pol, const void *data,
                           size_t len, dance_jws_result *res, bool *decrypted)
{
    dance_jwe_result dres;

    *decrypted = false;
    memset(&dres, 0, sizeof(dres));
    if (b->decrypt_key != NULL && dance_jwe_is_jwe(data, len)) {
        if (dance_jwe_decrypt(data, len, 0, b->decrypt_key, &dres) != DANCE_OK) {
            res->status = dres.status;
            snprintf(res->reason, sizeof(res->reason), "%s", dres.reason);
        } else {
            dance_jws_verify_message(dres.plaintext, dres.plaintext_len, 0, pol,
                                     &b->source, res);
            *decrypted = res->status == DANCE_OK;
        }
        dance_jwe_result_clear(&dres);
        return;
    }
    dance_jws_verify_message(data, len, 0, pol, &b->source, res);
    if (b->decrypt_key == NULL || res->status != DANCE_OK
        || !dance_jws_carries_jwe(data, len))
        return;
    if (dance_jwe_decrypt(res->payload, res->payload_len, 0, b->decrypt_key, &dres)
        != DANCE_OK) {
        res->status = dres.status;
        snprintf(res->reason, sizeof(res->reason), "verified, but %.200s", dres.reason);
    } else {
        /* the plaintext takes the payload's place */
        free(res->payload);
        res->payload = dres.plaintext;
        res->payload_len = dres.plaintext_len;
        dres.plaintext = NULL;
        *decrypted = true;
    }
    dance_jwe_result_clear(&dres);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    ex_session *s = obj;
    backend *b = s->app;
    dance_jws_policy pol = b->policy;
    dance_jws_result res;
    char *claimed_by_broker;
    bool decrypted;

    (void)mosq;
    memset(&res, 0, sizeof(res));
    pol.topic = original_topic(b, msg->topic);
    verify_decrypt(b, &pol, msg->payload,
                   (size_t)(msg->payloadlen > 0 ? msg->payloadlen : 0), &res, &decrypted);
    claimed_by_broker = broker_sender(props);
    b->seen++;
    if (res.status == DANCE_OK && claimed_by_broker != NULL
        && strcasecmp(claimed_by_broker, res.sender) != 0) {
        /* The signature is good, but the broker says it came from someone
         * else: report the broker, not the device. */
        b->refused++;
        printf("REFUSED sender_mismatch %s claimed=%s the broker's dance-sender says ",
               msg->topic, res.sender);
        ex_print_safe(stdout, (const unsigned char *)claimed_by_broker,
                      strlen(claimed_by_broker), 253);
        printf("\n");
    } else if (res.status == DANCE_OK) {
        b->verified++;
        b->decrypted += decrypted;
        printf("%s %s %s ", decrypted ? "DECRYPTED" : "VERIFIED", res.sender, msg->topic);
        ex_print_safe(stdout, res.payload, res.payload_len, 400);
        printf("\n");
    } else {
        b->refused++;
        printf("REFUSED %s %s claimed=%s %s\n", dance_status_name(res.status),
               msg->topic, res.sender[0] ? res.sender : "-", res.reason);
    }
    free(claimed_by_broker);
    dance_jws_result_clear(&res);
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
                         const int *granted, const mosquitto_property *props)
{
    ex_session *s = obj;
    backend *b = s->app;
    int i;

    (void)mosq; (void)mid; (void)props;
    for (i = 0; i < qos_count; i++)
        if (granted[i] >= 0x80)
            fprintf(stderr, "%s: subscription refused by the broker: %s\n", prog,
                    mosquitto_reason_string(granted[i]));
    b->subacks++;
}

/* What parse_options returns when the program goes on (else: the exit
 * status). */
#define PARSED (-1)

/* The command line; the topic filters and the verified prefix go to the
 * backend itself. */
typedef struct sub_options {
    ex_tls tls;
    dance_resolver_config rcfg;
    const char *issuers, *label, *decrypt_key;
    dance_allowlist *allow;         /* main frees it */
    unsigned long count, timeout_s, skew, window, max_ttl;
    bool compat, iat_asked;
} sub_options;

/* The verification machinery, owned by main. */
typedef struct verifier {
    dance_matcher *matcher;
    dance_jws_keycache *keys;
    dance_replay *replay;
    dance_cache *cache;
    dance_resolver *resolver;
} verifier;

static int parse_options(int argc, char **argv, sub_options *o, backend *b)
{
    static const struct option opts[] = {
        { "host", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },
        { "cafile", required_argument, NULL, 'C' },
        { "cert", required_argument, NULL, 'c' },
        { "key", required_argument, NULL, 'k' },
        { "id", required_argument, NULL, 'i' },
        { "topic", required_argument, NULL, 't' },
        { "verified-prefix", required_argument, NULL, 'V' },
        { "resolver", required_argument, NULL, 'r' },
        { "trust-anchor", required_argument, NULL, 'T' },
        { "dns-transport", required_argument, NULL, 'D' },
        { "tls-auth-name", required_argument, NULL, 'A' },
        { "dns-timeout", required_argument, NULL, 'o' },
        { "allowed-domains", required_argument, NULL, 'd' },
        { "issuers", required_argument, NULL, 'X' },
        { "service-label", required_argument, NULL, 'L' },
        { "max-skew", required_argument, NULL, 's' },
        { "require-iat", no_argument, NULL, 'q' },
        { "compat", no_argument, NULL, 'Q' },
        { "replay-window", required_argument, NULL, 'w' },
        { "max-ttl", required_argument, NULL, 'm' },
        { "count", required_argument, NULL, 'N' },
        { "timeout", required_argument, NULL, 'W' },
        { "decrypt-key", required_argument, NULL, 'K' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *transport = NULL, *domains = NULL;
    unsigned long port, dns_timeout = 0;
    char err[512];
    int c;

    memset(o, 0, sizeof(*o));
    o->tls.host = "localhost";
    o->tls.port = 8883;
    o->window = 600;
    o->max_ttl = 300;
    b->verified_prefix = "verified/";
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'H': o->tls.host = optarg; break;
        case 'p':
            if (ex_parse_ulong(prog, "port", optarg, 1, 65535, &port))
                return EX_USAGE;
            o->tls.port = (int)port;
            break;
        case 'C': o->tls.cafile = optarg; break;
        case 'c': o->tls.cert = optarg; break;
        case 'k': o->tls.key = optarg; break;
        case 'i': o->tls.client_id = optarg; break;
        case 't':
            if (b->nfilters == MAX_FILTERS) {
                fprintf(stderr, "%s: at most %d --topic filters\n", prog, MAX_FILTERS);
                return EX_USAGE;
            }
            b->filters[b->nfilters++] = optarg;
            break;
        case 'V': b->verified_prefix = optarg; break;
        case 'r': o->rcfg.upstreams = optarg; break;
        case 'T': o->rcfg.trust_anchor_file = optarg; break;
        case 'D': transport = optarg; break;
        case 'A': o->rcfg.tls_auth_name = optarg; break;
        case 'o':
            if (ex_parse_ulong(prog, "dns-timeout", optarg, 1, 600000, &dns_timeout))
                return EX_USAGE;
            break;
        case 'd': domains = optarg; break;
        case 'X': o->issuers = optarg; break;
        case 'L': o->label = optarg; break;
        case 's':
            if (ex_parse_ulong(prog, "max-skew", optarg, 1, 86400 * 365, &o->skew))
                return EX_USAGE;
            break;
        case 'q': o->iat_asked = true; break;
        case 'Q': o->compat = true; break;
        case 'w':
            if (ex_parse_ulong(prog, "replay-window", optarg, 0, 86400, &o->window))
                return EX_USAGE;
            break;
        case 'm':
            if (ex_parse_ulong(prog, "max-ttl", optarg, 1, 604800, &o->max_ttl))
                return EX_USAGE;
            break;
        case 'N':
            if (ex_parse_ulong(prog, "count", optarg, 1, 100000000, &o->count))
                return EX_USAGE;
            break;
        case 'W':
            if (ex_parse_ulong(prog, "timeout", optarg, 1, 86400, &o->timeout_s))
                return EX_USAGE;
            break;
        case 'K': o->decrypt_key = optarg; break;
        case 'h': usage(stdout); return EX_OK;
        default: usage(stderr); return EX_USAGE;
        }
    }
    if (optind < argc || o->tls.cafile == NULL || o->tls.cert == NULL || o->tls.key == NULL) {
        fprintf(stderr, "%s: %s\n", prog, optind < argc ? "unexpected argument"
                : "--cafile, --cert and --key are required");
        usage(stderr);
        return EX_USAGE;
    }
    if (b->nfilters == 0)
        b->filters[b->nfilters++] = "verified/#";
    if (transport != NULL && dance_dns_transport_parse(transport, &o->rcfg.transport) != 0) {
        fprintf(stderr, "%s: --dns-transport '%.40s': expected udp, tcp or tls\n", prog,
                transport);
        return EX_USAGE;
    }
    if (o->label != NULL && o->label[0] != '_') {
        fprintf(stderr, "%s: --service-label must start with '_' (e.g. _mqtt)\n", prog);
        return EX_USAGE;
    }
    o->rcfg.timeout_ms = (unsigned)dns_timeout;
    if (dance_resolver_config_check(&o->rcfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return EX_USAGE;
    }
    if (domains != NULL
        && (o->allow = dance_allowlist_parse(domains, err, sizeof(err))) == NULL) {
        fprintf(stderr, "%s: --allowed-domains: %s\n", prog, err);
        return EX_USAGE;
    }
    return PARSED;
}

/* verifier_init - the verification machinery, the same library calls as the
 * broker's plugin and `dance verify`, set into the backend's policy and
 * source: 0, or -1 after printing why (*v holds what was made) */
static int verifier_init(const sub_options *o, verifier *v, backend *b)
{
    dance_cache_config ccfg;
    char err[512];

    memset(v, 0, sizeof(*v));
    memset(&ccfg, 0, sizeof(ccfg));
    ccfg.max_ttl = (uint32_t)o->max_ttl;
    ccfg.negative_ttl = 5;
    ccfg.failure_ttl = 1;
    if ((v->matcher = dance_matcher_new(o->issuers, err, sizeof(err))) == NULL) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    if ((v->resolver = dance_resolver_new(&o->rcfg, err, sizeof(err))) == NULL) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    v->keys = dance_jws_keycache_new(0);
    v->cache = dance_cache_new(&ccfg);
    if (o->window > 0)
        v->replay = dance_replay_new(0, (uint32_t)o->window, NULL, NULL);
    if (v->keys == NULL || v->cache == NULL || (o->window > 0 && v->replay == NULL)) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return -1;
    }
    b->policy.allow = o->allow;
    b->policy.service_label = o->label;
    b->policy.matcher = v->matcher;
    b->policy.keys = v->keys;
    b->policy.replay = v->replay;
    b->policy.max_skew = (uint32_t)o->skew;
    b->policy.require_iat = !o->compat || o->iat_asked;
    b->policy.require_topic = !o->compat;
    b->source.cache = v->cache;
    b->source.resolver = v->resolver;
    if (o->decrypt_key != NULL
        && (b->decrypt_key = dance_key_load(o->decrypt_key, err, sizeof(err))) == NULL) {
        fprintf(stderr, "%s: --decrypt-key: %s\n", prog, err);
        return -1;
    }
    return 0;
}

static void verifier_free(verifier *v)
{
    dance_resolver_free(v->resolver);
    dance_cache_free(v->cache);
    dance_replay_free(v->replay);
    dance_jws_keycache_free(v->keys);
    dance_matcher_free(v->matcher);
}

/* receive - subscribe, then verify messages (on_message prints each) until
 * --count, --timeout, a stop signal or a lost connection; the exit status */
static int receive(ex_session *s, backend *b, const sub_options *o)
{
    unsigned long long deadline = 0;
    size_t i;
    int rc = EX_OK;

    for (i = 0; i < b->nfilters; i++) {
        int src = mosquitto_subscribe_v5(s->mosq, NULL, b->filters[i], 1, 0, NULL);
        if (src != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "%s: cannot subscribe to %s: %s\n", prog, b->filters[i],
                    mosquitto_strerror(src));
            return EX_USAGE;
        }
    }
    if (o->timeout_s > 0)
        deadline = ex_now_ms() + o->timeout_s * 1000ull;
    for (;;) {
        if (!b->subscribed_reported && b->subacks == b->nfilters) {
            printf("SUBSCRIBED");
            for (i = 0; i < b->nfilters; i++)
                printf(" %s", b->filters[i]);
            printf("\n");
            b->subscribed_reported = true;
        }
        if (o->count > 0 && b->seen >= o->count)
            break;
        if (ex_stop_requested())
            break;
        if (deadline && ex_now_ms() >= deadline) {
            if (o->count > 0) {
                fprintf(stderr, "%s: %lu of %lu messages within %lu s\n", prog, b->seen,
                        o->count, o->timeout_s);
                rc = EX_FAILED;
            }
            break;
        }
        if (ex_session_pump(s, 100) != 0) {
            fprintf(stderr, "%s: disconnected by the broker or the network (%s)\n", prog,
                    mosquitto_strerror(s->disconnect_rc));
            rc = EX_LOST;
            break;
        }
    }
    fprintf(stderr, "%s: %lu messages, %lu verified, %lu refused", prog, b->seen,
            b->verified, b->refused);
    if (b->decrypt_key != NULL)
        fprintf(stderr, ", %lu of the verified decrypted", b->decrypted);
    fprintf(stderr, "\n");
    return rc;
}

int main(int argc, char **argv)
{
    sub_options o;
    backend b;
    verifier v;
    char idbuf[320];
    ex_session *s = NULL;
    int rc;

    memset(&b, 0, sizeof(b));
    rc = parse_options(argc, argv, &o, &b);
    if (rc != PARSED)
        return rc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    ex_install_signals();

    rc = EX_USAGE;
    if (verifier_init(&o, &v, &b) != 0)
        goto out;
    if (o.tls.client_id == NULL) {
        char suffix[32];
        snprintf(suffix, sizeof(suffix), "backend-%ld", (long)getpid());
        o.tls.client_id = ex_bound_client_id(o.tls.cert, suffix, idbuf, sizeof(idbuf));
    }
    mosquitto_lib_init();
    s = ex_session_new(prog, &o.tls, &b);
    if (s == NULL)
        goto out;
    mosquitto_message_v5_callback_set(s->mosq, on_message);
    mosquitto_subscribe_v5_callback_set(s->mosq, on_subscribe);
    if (ex_session_connect(s, &o.tls, 10000) != 0) {
        rc = EX_LOST;
        goto out;
    }
    rc = receive(s, &b, &o);
out:
    ex_session_free(s);
    mosquitto_lib_cleanup();
    verifier_free(&v);
    EVP_PKEY_free(b.decrypt_key);
    dance_allowlist_free(o.allow);
    return rc;
}
