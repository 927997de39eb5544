/*
 * device_publisher.c - an example device: it connects to the broker with
 * mutual TLS (its own certificate and key, which the broker's DANE plugin
 * checks against the TLSA records under its DNS name), signs each reading
 * as a compact JWS whose kid is a DNS identity (or, with --format cose, as
 * a COSE_Sign1, what a constrained device that speaks CBOR sends), and
 * publishes the readings with QoS 1.
 *
 * A gateway forwards readings of sensors that have no connection of their
 * own: with --for NAME --for-key KEY the readings are signed by that sensor
 * (kid = NAME, its key), while the connection stays the gateway's. A
 * subscriber verifying end to end then trusts the sensor, not the gateway
 * and not the broker.
 *
 * Confidential readings (--encrypt-to NAME): each reading is encrypted to
 * NAME's public key, taken once at start from NAME's DNSSEC-validated TLSA
 * records (dance_jwe_recipient_key), then signed: encrypt-then-sign, a JWS
 * with cty JWE whose payload is the JWE. That order, not the DANCE
 * prototype's sign-then-encrypt, because the broker can then still verify
 * the sender and republish the message under verified/ (which is what the
 * broker's plugin is for; by default it refuses a bare JWE), while only
 * NAME can read the reading. The recipient verifies the signature, then
 * decrypts (backend_subscriber --decrypt-key, dance verify --decrypt-key).
 *
 * Refused as "not authorized", it retries after about a second, then after
 * longer and longer pauses, at most --retries times: a broker with the
 * DANCE plugin refuses a device whose TLSA lookup is still running
 * ("pending") and admits it once the answer is in. Mosquitto 2.0's CONNACK
 * cannot say which refusal it was, so every "not authorized" is retried.
 * Each retry resumes the TLS session of the attempt before (see
 * example_common.c), which spares the broker a full handshake.
 *
 * Uses only libmosquitto and libdance (dance_key_load, dance_jws_sign,
 * dance_cose_sign, dance_cert_dnsnames, dance_jwe_recipient_key,
 * dance_jwe_encrypt). Run with --help for the options.
 */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mqtt_protocol.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "dance/cose.h"
#include "dance/jwe.h"
#include "dance/jws.h"
#include "dance/name.h"
#include "dance/provision.h"
#include "dance/resolver.h"
#include "example_common.h"

static const char *prog = "device_publisher";

typedef struct pub_state {
    int pending_mid;        /* mid of the QoS 1 publish we wait for */
    bool acked;
    int ack_rc;             /* PUBACK reason code */
} pub_state;

static void usage(FILE *f)
{
    fprintf(f,
"usage: %s --cert CERT.pem --key KEY.pem --cafile CA.pem [options]\n"
"\n"
"Connects to the broker with mutual TLS and publishes signed readings.\n"
"\n"
"  --host H          broker host (default localhost; must match its certificate)\n"
"  --port P          broker port (default 8883)\n"
"  --cafile F        CA of the broker's server certificate (required)\n"
"  --cert F          this device's client certificate (required)\n"
"  --key F           its private key (required); also the signing key\n"
"  --name NAME       this device's DNS identity (default: the certificate's\n"
"                    one dNSName subjectAltName)\n"
"  --id ID           MQTT client id (default: the identity)\n"
"  --topic T         topic (default devices/<identity>/reading)\n"
"  --count N         readings to publish (default 5; 0: until stopped or\n"
"                    disconnected)\n"
"  --interval MS     pause between readings (default 1000)\n"
"  --for NAME        sign as NAME (a sensor this gateway forwards for) ...\n"
"  --for-key F       ... with NAME's private key (both or neither)\n"
"  --x5c F           carry this certificate (chain) in the header (x5c;\n"
"                    x5chain with --format cose), for senders whose TLSA\n"
"                    record holds only a digest\n"
"  --payload TEXT    publish TEXT (signed) instead of generated readings\n"
"  --format F        jws (default: compact JWS) or cose (COSE_Sign1, binary\n"
"                    CBOR with the same header: kid, iat, jti as cti, topic)\n"
"  --no-topic-binding  leave the topic out of the signed header (brokers\n"
"                    with the default strict message profile refuse it)\n"
"  --encrypt-to NAME encrypt each reading to NAME's key from its TLSA records\n"
"                    (DNSSEC-validated, 3 1 0 or 3 0 0), then sign it:\n"
"                    encrypt-then-sign (cty JWE), so the broker still verifies\n"
"                    the sender while only NAME can read the reading\n"
"  --resolver LIST   with --encrypt-to: DNS upstreams IP[@PORT],... (default:\n"
"                    the system's)\n"
"  --trust-anchor F  with --encrypt-to: DNSSEC trust anchor (default: the root\n"
"                    key)\n"
"  --dns-transport T with --encrypt-to: udp (default), tcp or tls\n"
"  --tls-auth-name N with --encrypt-to: name in the resolver's certificate\n"
"  --retries N       when the broker refuses the connection as not\n"
"                    authorized, try again up to N times (default 5, 0-100):\n"
"                    after about 1 s, then 2, 4 and 8 s (each +-50%%),\n"
"                    resuming the TLS session. A broker with the DANCE plugin\n"
"                    refuses a device whose DNS lookup is still running\n"
"                    and admits it on a retry.\n"
"\n"
"Each message is a compact JWS (or COSE_Sign1) with kid = signer's identity,\n"
"iat, a random jti and (unless --no-topic-binding) topic; with --encrypt-to\n"
"its payload is the reading encrypted to NAME (a compact JWE). One line per\n"
"event on stdout: CONNECTED, SENT <topic> <payload> (the reading, before\n"
"encryption), DISCONNECTED <reason>.\n"
"\n"
"Exit status: 0 all readings published and acknowledged; 1 connection\n"
"refused (after the retries) or failed (e.g. no TLSA record for the\n"
"identity); 2 bad usage or\n"
"unreadable files, or no key for --encrypt-to in DNS; 3 disconnected by the broker while publishing (e.g.\n"
"revoked) or a publish refused.\n", prog);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int rc,
                       const mosquitto_property *props)
{
    ex_session *s = obj;
    pub_state *ps = s->app;

    (void)mosq; (void)props;
    if (mid == ps->pending_mid) {
        ps->acked = true;
        ps->ack_rc = rc;
    }
}

/* identity_from_cert - the certificate's single dNSName, normalised. */
static int identity_from_cert(const char *certfile, char *out, size_t outlen)
{
    char err[512];

    if (dance_cert_file_identity(certfile, out, outlen, err, sizeof(err)) == 0)
        return 0;
    fprintf(stderr, "%s: %s; give --name\n", prog, err);
    return -1;
}

/* make_reading - a plausible, deterministic reading: a temperature that
 * drifts with the sequence number and differs per signer. */
static void make_reading(char *buf, size_t len, const char *signer, unsigned long seq)
{
    unsigned h = 5381;
    const char *p;

    for (p = signer; *p; p++)
        h = h * 33u + (unsigned char)*p;
    snprintf(buf, len, "{\"seq\":%lu,\"temp\":%.1f}", seq,
             18.0 + (double)(h % 60u) / 10.0 + sin((double)seq / 3.0));
}

/* What parse_options returns when the program goes on (else: the exit
 * status). */
#define PARSED (-1)

/* The command line. */
typedef struct pub_options {
    ex_tls tls;
    const char *name_opt, *topic_opt, *for_name, *for_key, *x5c_file, *payload_opt;
    const char *encrypt_to, *dns_transport;
    dance_resolver_config rcfg;             /* with --encrypt-to */
    unsigned long count, interval, retries;
    bool bind_topic;
    bool cose;              /* --format cose */
} pub_options;

/* Who publishes what, made from the options. */
typedef struct publisher {
    char identity[DANCE_NAME_MAX + 1];      /* the connection's */
    char signer[DANCE_NAME_MAX + 1];        /* the messages' (identity, or --for) */
    char topic[512];
    EVP_PKEY *sign_key;
    STACK_OF(X509) *x5c;
    EVP_PKEY *recipient_key;                /* --encrypt-to: NAME's, from DNS */
    char recipient[DANCE_NAME_MAX + 1];
} publisher;

static int parse_options(int argc, char **argv, pub_options *o)
{
    static const struct option opts[] = {
        { "host", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },
        { "cafile", required_argument, NULL, 'C' },
        { "cert", required_argument, NULL, 'c' },
        { "key", required_argument, NULL, 'k' },
        { "name", required_argument, NULL, 'n' },
        { "id", required_argument, NULL, 'i' },
        { "topic", required_argument, NULL, 't' },
        { "count", required_argument, NULL, 'N' },
        { "interval", required_argument, NULL, 'I' },
        { "for", required_argument, NULL, 'f' },
        { "for-key", required_argument, NULL, 'K' },
        { "x5c", required_argument, NULL, 'x' },
        { "payload", required_argument, NULL, 'P' },
        { "no-topic-binding", no_argument, NULL, 'B' },
        { "retries", required_argument, NULL, 'R' },
        { "format", required_argument, NULL, 'F' },
        { "encrypt-to", required_argument, NULL, 'E' },
        { "resolver", required_argument, NULL, 'r' },
        { "trust-anchor", required_argument, NULL, 'T' },
        { "dns-transport", required_argument, NULL, 'D' },
        { "tls-auth-name", required_argument, NULL, 'A' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    unsigned long port = 8883;
    int c;

    memset(o, 0, sizeof(*o));
    o->tls.host = "localhost";
    o->tls.port = 8883;
    o->count = 5;
    o->interval = 1000;
    o->retries = 5;
    o->bind_topic = true;
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
        case 'n': o->name_opt = optarg; break;
        case 'i': o->tls.client_id = optarg; break;
        case 't': o->topic_opt = optarg; break;
        case 'N':
            if (ex_parse_ulong(prog, "count", optarg, 0, 100000000, &o->count))
                return EX_USAGE;
            break;
        case 'I':
            if (ex_parse_ulong(prog, "interval", optarg, 0, 3600000, &o->interval))
                return EX_USAGE;
            break;
        case 'f': o->for_name = optarg; break;
        case 'K': o->for_key = optarg; break;
        case 'x': o->x5c_file = optarg; break;
        case 'P': o->payload_opt = optarg; break;
        case 'B': o->bind_topic = false; break;
        case 'R':
            if (ex_parse_ulong(prog, "retries", optarg, 0, 100, &o->retries))
                return EX_USAGE;
            break;
        case 'F':
            if (strcmp(optarg, "jws") != 0 && strcmp(optarg, "cose") != 0) {
                fprintf(stderr, "%s: --format '%.40s': expected jws or cose\n", prog,
                        optarg);
                return EX_USAGE;
            }
            o->cose = strcmp(optarg, "cose") == 0;
            break;
        case 'E': o->encrypt_to = optarg; break;
        case 'r': o->rcfg.upstreams = optarg; break;
        case 'T': o->rcfg.trust_anchor_file = optarg; break;
        case 'D': o->dns_transport = optarg; break;
        case 'A': o->rcfg.tls_auth_name = optarg; break;
        case 'h': usage(stdout); return EX_OK;
        default: usage(stderr); return EX_USAGE;
        }
    }
    if (o->encrypt_to == NULL && (o->rcfg.upstreams || o->rcfg.trust_anchor_file
                                  || o->dns_transport || o->rcfg.tls_auth_name)) {
        fprintf(stderr, "%s: --resolver, --trust-anchor, --dns-transport and "
                "--tls-auth-name go with --encrypt-to\n", prog);
        return EX_USAGE;
    }
    if (o->encrypt_to != NULL && o->cose) {
        /* a COSE_Sign1 has no cty here to say its payload is a JWE */
        fprintf(stderr, "%s: --encrypt-to signs a JWE as a JWS with cty JWE; not with "
                "--format cose\n", prog);
        return EX_USAGE;
    }
    if (o->dns_transport != NULL
        && dance_dns_transport_parse(o->dns_transport, &o->rcfg.transport) != 0) {
        fprintf(stderr, "%s: --dns-transport '%.40s': expected udp, tcp or tls\n", prog,
                o->dns_transport);
        return EX_USAGE;
    }
    if (optind < argc || o->tls.cafile == NULL || o->tls.cert == NULL || o->tls.key == NULL
        || (o->for_name == NULL) != (o->for_key == NULL)) {
        fprintf(stderr, "%s: %s\n", prog, optind < argc ? "unexpected argument"
                : (o->for_name == NULL) != (o->for_key == NULL)
                ? "--for and --for-key go together"
                : "--cafile, --cert and --key are required");
        usage(stderr);
        return EX_USAGE;
    }
    return PARSED;
}

/* recipient_init - --encrypt-to: the recipient's key, once, from its
 * DNSSEC-validated TLSA records: 0, or -1 after printing why */
static int recipient_init(pub_options *o, publisher *p)
{
    dance_resolver *r;
    dance_jws_source src;
    dance_status st;
    char err[512];

    if (dance_name_normalize(o->encrypt_to, p->recipient, sizeof(p->recipient), err,
                             sizeof(err))) {
        fprintf(stderr, "%s: --encrypt-to: %s\n", prog, err);
        return -1;
    }
    if (dance_resolver_config_check(&o->rcfg, err, sizeof(err)) != 0
        || (r = dance_resolver_new(&o->rcfg, err, sizeof(err))) == NULL) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    memset(&src, 0, sizeof(src));
    src.resolver = r;
    p->recipient_key = dance_jwe_recipient_key(&src, p->recipient, NULL, &st, err,
                                               sizeof(err));
    dance_resolver_free(r);
    if (p->recipient_key == NULL) {
        fprintf(stderr, "%s: --encrypt-to %s: no key to encrypt to (%s): %s\n", prog,
                p->recipient, dance_status_name(st), err);
        return -1;
    }
    return 0;
}

/* publisher_init - who we are (the connection) and who signs (us, or the
 * sensor), the signing key and the topic: 0, or -1 after printing why */
static int publisher_init(pub_options *o, publisher *p)
{
    char err[512];

    memset(p, 0, sizeof(*p));
    if (o->name_opt != NULL) {
        if (dance_name_normalize(o->name_opt, p->identity, sizeof(p->identity), err,
                                 sizeof(err))) {
            fprintf(stderr, "%s: --name: %s\n", prog, err);
            return -1;
        }
    } else if (identity_from_cert(o->tls.cert, p->identity, sizeof(p->identity)) != 0) {
        return -1;
    }
    if (o->for_name != NULL
        && dance_name_normalize(o->for_name, p->signer, sizeof(p->signer), err,
                                sizeof(err))) {
        fprintf(stderr, "%s: --for: %s\n", prog, err);
        return -1;
    }
    if (o->for_name == NULL)
        memcpy(p->signer, p->identity, sizeof(p->identity));
    p->sign_key = dance_key_load(o->for_key ? o->for_key : o->tls.key, err, sizeof(err));
    if (p->sign_key == NULL) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    if (o->x5c_file != NULL
        && (p->x5c = dance_certs_load(o->x5c_file, err, sizeof(err))) == NULL) {
        fprintf(stderr, "%s: --x5c: %s\n", prog, err);
        return -1;
    }
    if (o->topic_opt != NULL)
        snprintf(p->topic, sizeof(p->topic), "%s", o->topic_opt);
    else
        snprintf(p->topic, sizeof(p->topic), "devices/%s/reading", p->identity);
    if (o->tls.client_id == NULL)
        o->tls.client_id = p->identity;
    if (o->encrypt_to != NULL)
        return recipient_init(o, p);
    return 0;
}

static void publisher_clear(publisher *p)
{
    EVP_PKEY_free(p->recipient_key);
    EVP_PKEY_free(p->sign_key);
    sk_X509_pop_free(p->x5c, X509_free);
}

/* sign_reading - payload signed per so, as a compact JWS or (cose) a
 * COSE_Sign1: 0 and *out (*outlen bytes, freed with signed_free(*out,
 * cose)), or -1 with a reason. */
static int sign_reading(const dance_jws_sign_opts *so, bool cose, const char *payload,
                        unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    char *jws = NULL;

    if (cose)
        return dance_cose_sign(so, payload, strlen(payload), out, outlen, err, errlen);
    if (dance_jws_sign(so, payload, strlen(payload), &jws, outlen, err, errlen) != 0)
        return -1;
    *out = (unsigned char *)jws;
    return 0;
}

static void signed_free(unsigned char *msg, bool cose)
{
    if (cose)
        dance_cose_output_free(msg);
    else
        free(msg);
}

/* publish_reading - sign reading number seq (or --payload), publish it at
 * QoS 1 and wait for the PUBACK; prints SENT, DISCONNECTED or REFUSED.
 * EX_OK, or the exit status to stop with. */
static int publish_reading(ex_session *s, pub_state *ps, const pub_options *o,
                           const publisher *p, unsigned long seq)
{
    dance_jws_sign_opts so;
    unsigned char *msg = NULL;
    char *jwe = NULL, err[512], reading[256], jti[32];
    size_t msg_len = 0, jwe_len = 0;
    const char *payload = o->payload_opt, *signed_payload;
    unsigned long long deadline;
    int prc;

    if (payload == NULL) {
        make_reading(reading, sizeof(reading), p->signer, seq);
        payload = reading;
    }
    if (dance_jws_random_jti(jti, sizeof(jti)) != 0) {
        fprintf(stderr, "%s: no random bytes for a jti\n", prog);
        return EX_FAILED;
    }
    memset(&so, 0, sizeof(so));
    so.key = p->sign_key;
    so.name = p->signer;
    so.x5c = p->x5c;
    so.iat = true;
    so.jti = jti;
    so.topic = o->bind_topic ? p->topic : NULL;
    so.serialization = DANCE_JWS_COMPACT;
    signed_payload = payload;
    if (p->recipient_key != NULL) {
        /* encrypt-then-sign: the JWE is what is signed */
        dance_jwe_encrypt_opts eo;
        memset(&eo, 0, sizeof(eo));
        eo.key = p->recipient_key;
        eo.recipient = p->recipient;
        eo.serialization = DANCE_JWS_COMPACT;
        if (dance_jwe_encrypt(&eo, payload, strlen(payload), &jwe, &jwe_len, err,
                              sizeof(err))) {
            fprintf(stderr, "%s: cannot encrypt: %s\n", prog, err);
            return EX_USAGE;
        }
        signed_payload = jwe;
        so.cty = "JWE";
    }
    if (sign_reading(&so, o->cose, signed_payload, &msg, &msg_len, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: cannot sign: %s\n", prog, err);
        free(jwe);
        return EX_USAGE;
    }
    free(jwe);
    ps->acked = false;
    prc = mosquitto_publish_v5(s->mosq, &ps->pending_mid, p->topic, (int)msg_len, msg, 1,
                               false, NULL);
    signed_free(msg, o->cose);
    if (prc != MOSQ_ERR_SUCCESS) {
        printf("DISCONNECTED %s\n", mosquitto_strerror(prc));
        return EX_LOST;
    }
    /* Wait for the PUBACK: the broker has taken the message. */
    deadline = ex_now_ms() + 10000;
    while (!ps->acked && !s->disconnected && ex_now_ms() < deadline)
        ex_session_pump(s, 100);
    if (!ps->acked) {
        printf("DISCONNECTED %s\n", s->disconnected
               ? "by the broker (revoked, or the connection was lost)"
               : "no acknowledgement within 10 s");
        return EX_LOST;
    }
    if (ps->ack_rc >= 0x80) {
        printf("REFUSED publish to %s: %s\n", p->topic, mosquitto_reason_string(ps->ack_rc));
        return EX_LOST;
    }
    printf("SENT %s %s\n", p->topic, payload);
    return EX_OK;
}

/* retry_delay_ms - the pause before retry number n (1, 2, ...): 1 s
 * doubling up to 8 s, each spread over +-50% so that devices refused
 * together (a broker restart) do not all come back in the same instant. */
static unsigned retry_delay_ms(unsigned long n)
{
    unsigned base = 1000u << (n > 4 ? 3 : n - 1);
    uint32_t r = 0;

    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (uint32_t)ex_now_ms() * 2654435761u;    /* jitter only, not secret */
    return base / 2 + r % base;
}

/* pause_ms - sleep, cut short by SIGINT/SIGTERM: 0, or -1 when stopped */
static int pause_ms(unsigned ms)
{
    unsigned long long end = ex_now_ms() + ms;

    while (!ex_stop_requested()) {
        unsigned long long now = ex_now_ms();
        struct timespec ts = { 0, 50 * 1000000L };

        if (now >= end)
            return 0;
        if (end - now < 50)
            ts.tv_nsec = (long)(end - now) * 1000000L;
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* connect_with_retries - connect; refused as not authorized, retry up to
 * o->retries times after retry_delay_ms, saying each time why. 0 when
 * accepted, else -1 (ex_session_connect printed the last refusal). */
static int connect_with_retries(ex_session *s, const pub_options *o)
{
    unsigned long n;

    for (n = 1;; n++) {
        unsigned ms;

        if (ex_session_connect(s, &o->tls, 10000) == 0)
            return 0;
        if (!s->connack || s->connack_rc != MQTT_RC_NOT_AUTHORIZED || n > o->retries
            || ex_stop_requested())
            return -1;
        ms = retry_delay_ms(n);
        fprintf(stderr, "%s: retry %lu of %lu in %u ms%s: \"not authorized\" may "
                "only mean that the broker is still looking up this device's TLSA "
                "records (the DANCE plugin's \"pending\")\n", prog, n, o->retries, ms,
                s->tls_session != NULL ? ", resuming the TLS session"
                                       : ", with a full TLS handshake (no session kept)");
        if (pause_ms(ms) != 0)
            return -1;
    }
}

int main(int argc, char **argv)
{
    pub_options o;
    publisher p;
    ex_session *s = NULL;
    pub_state ps;
    unsigned long i;
    int rc = parse_options(argc, argv, &o);

    if (rc != PARSED)
        return rc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    ex_install_signals();
    if (publisher_init(&o, &p) != 0) {
        publisher_clear(&p);
        return EX_USAGE;
    }

    memset(&ps, 0, sizeof(ps));
    mosquitto_lib_init();
    s = ex_session_new(prog, &o.tls, &ps);
    if (s == NULL) {
        rc = EX_USAGE;
        goto out;
    }
    mosquitto_publish_v5_callback_set(s->mosq, on_publish);
    if (connect_with_retries(s, &o) != 0) {
        rc = EX_FAILED;
        goto out;
    }
    printf("CONNECTED %s as %s%s%s%s%s%s\n", o.tls.host, p.identity,
           o.for_name ? ", forwarding for " : "", o.for_name ? p.signer : "",
           s->resumed ? " (TLS session resumed)" : "",
           o.encrypt_to ? ", encrypting to " : "", o.encrypt_to ? p.recipient : "");

    rc = EX_OK;
    for (i = 1; o.count == 0 || i <= o.count; i++) {
        if (ex_stop_requested())
            break;
        rc = publish_reading(s, &ps, &o, &p, i);
        if (rc != EX_OK)
            break;
        if ((o.count == 0 || i < o.count) && o.interval > 0
            && ex_session_pump(s, (unsigned)o.interval) != 0) {
            printf("DISCONNECTED by the broker (revoked, or the connection was lost)\n");
            rc = EX_LOST;
            break;
        }
    }
out:
    ex_session_free(s);
    publisher_clear(&p);
    mosquitto_lib_cleanup();
    return rc;
}
