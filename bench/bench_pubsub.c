/*
 * bench/bench_pubsub.c - message load generator for the passthrough,
 * verified-pipeline and dns-per-message figures: publishers and one
 * subscriber in one process, over mutual TLS to one broker.
 *
 *   bench_pubsub --mode passthrough|pipeline|latency|count --port P
 *                --client CERT KEY [--senders FILE] [--seconds S]
 *                [--window N] [--publishers N] [--rate R] [--count N]
 *                [--per-sender N] [--payload-size N] [--timeout-s S]
 *                [--publish-prefix P] [--seq-base N]
 *
 * --client: the certificate both MQTT connections (publisher, subscriber)
 * present; with the plugin it must be a DANE identity.
 *
 * passthrough  --publishers (2) connections publish QoS 0 on
 *              bench/pt/<n> (not in verify_topics) as fast as a window
 *              allows: at most --window (2000) messages published and not
 *              yet received by the subscriber (bench/pt/#). Batches of up
 *              to 64 PUBLISH packets per TLS write.
 *              -> "rate <received msgs/s> seconds <s> received <n>"
 * pipeline     the same with compact ES256 JWS signed beforehand by
 *              --senders (lines "<name> <cert> <key> <tlsa>", the key
 *              signs; --per-sender (50) messages each, kid = name, iat),
 *              published on sensors/<sender>; the subscriber counts the
 *              verified copies on verified/sensors/#. The window bounds
 *              messages not yet back verified (keep it under the plugin's
 *              verify_queue_size).
 *              -> "rate <verified msgs/s> seconds <s> received <n>"
 * latency      one publisher sends the signed messages at --rate (1000)
 *              msgs/s for --seconds; the subscriber takes both the
 *              originals (sensors/#) and the verified copies
 *              (verified/sensors/#). Per message: base = original's
 *              arrival - send time; added = verified copy's arrival -
 *              original's arrival (what verification adds).
 *              -> "sent <n> verified <n> base_p50_ms .. base_p99_ms ..
 *                  added_p50_ms .. added_p99_ms .. added_max_ms .."
 * count        exactly --count signed messages (senders in turn), window
 *              as pipeline; waits until all are back verified.
 *              -> "sent <n> verified <n> seconds <s>"
 *
 * --publish-prefix P (pipeline, count): publish each signed message on
 * P<topic> while it stays bound to <topic>, as a forwarding broker's bridge
 * does (P forwarded/ with the client listed in plugin_opt_forwarders: the
 * hub's side of federation).
 *
 * --seq-base N: the first message's "seq" (default 0). Runs against a
 * broker with a replay cache give each run its own range, so that no
 * message is the same as one of an earlier run.
 *
 * A run that stops making progress for --timeout-s (30) dies with the
 * reason (e.g. the plugin refusing messages), so a broken set-up never
 * yields a figure.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_mqtt.h"
#include "bench_util.h"
#include "dance/jws.h"
#include "dance/name.h"
#include "dance/provision.h"

enum mode { M_PASSTHROUGH, M_PIPELINE, M_LATENCY, M_COUNT };

typedef struct pmsg {
    char *data;
    size_t len;
    int sender;
} pmsg;

static enum mode g_mode;
static int g_port, g_publishers = 2, g_window = 2000, g_rate = 1000;
static int g_per_sender = 50, g_payload_size = 64;
static long g_seq_base;
static long g_count = 10000;
static double g_seconds = 5, g_timeout_s = 30;
static SSL_CTX *g_ctx;

static pmsg *g_pool;
static size_t g_npool;
static char **g_topics;             /* per sender: sensors/<name> */
static char **g_pub_topics;         /* where published: [prefix]sensors/<name> */
static const char *g_publish_prefix = "";
static int g_nsenders;

/* lookup from message bytes to pool index (latency mode) */
static uint64_t *g_hkeys;
static size_t *g_hvals, g_hcap;

static _Atomic uint64_t g_sent, g_received;
static atomic_int g_stop;

/* latency mode: per pool index */
static uint64_t *g_t_sent, *g_t_orig, *g_t_ver;

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h | 1;               /* 0 marks an empty slot */
}

static void index_put(uint64_t h, size_t v)
{
    size_t i = h & (g_hcap - 1);

    while (g_hkeys[i] != 0) {
        if (g_hkeys[i] == h)
            bu_die("two pool messages hash alike");
        i = (i + 1) & (g_hcap - 1);
    }
    g_hkeys[i] = h;
    g_hvals[i] = v;
}

static long index_get(const unsigned char *p, size_t n)
{
    uint64_t h = fnv1a(p, n);
    size_t i = h & (g_hcap - 1);

    while (g_hkeys[i] != 0) {
        if (g_hkeys[i] == h)
            return (long)g_hvals[i];
        i = (i + 1) & (g_hcap - 1);
    }
    return -1;
}

/* build_pool - sign per_sender messages per sender, and at least
 * min_total in all (senders in turn) */
static void build_pool(const char *file, size_t per_sender, size_t min_total)
{
    FILE *f = fopen(file, "r");
    char line[8192], name[512], cert[4096], key[4096], err[DANCE_REASON_MAX];
    EVP_PKEY **keys = NULL;
    char **names = NULL;
    int cap = 0;

    if (f == NULL)
        bu_die("cannot open %s", file);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%511s %4095s %4095s", name, cert, key) != 3)
            continue;
        if (g_nsenders == cap) {
            cap = cap ? cap * 2 : 128;
            keys = realloc(keys, (size_t)cap * sizeof(*keys));
            names = realloc(names, (size_t)cap * sizeof(*names));
            if (keys == NULL || names == NULL)
                bu_die("out of memory");
        }
        keys[g_nsenders] = dance_key_load(key, err, sizeof(err));
        if (keys[g_nsenders] == NULL)
            bu_die("%s", err);
        names[g_nsenders] = bu_xstrdup(name);
        g_nsenders++;
    }
    fclose(f);
    if (g_nsenders == 0)
        bu_die("no senders in %s", file);
    g_npool = per_sender * (size_t)g_nsenders;
    if (g_npool < min_total)
        g_npool = min_total;
    g_pool = bu_xcalloc(g_npool, sizeof(*g_pool));
    g_topics = bu_xcalloc((size_t)g_nsenders, sizeof(*g_topics));
    g_pub_topics = bu_xcalloc((size_t)g_nsenders, sizeof(*g_pub_topics));
    for (int s = 0; s < g_nsenders; s++) {
        size_t n = strlen(names[s]) + 16, pn = n + strlen(g_publish_prefix);
        g_topics[s] = bu_xmalloc(n);
        snprintf(g_topics[s], n, "sensors/%s", names[s]);
        g_pub_topics[s] = bu_xmalloc(pn);
        snprintf(g_pub_topics[s], pn, "%s%s", g_publish_prefix, g_topics[s]);
    }
    g_hcap = 1;
    while (g_hcap < 2 * g_npool)
        g_hcap *= 2;
    g_hkeys = bu_xcalloc(g_hcap, sizeof(*g_hkeys));
    g_hvals = bu_xcalloc(g_hcap, sizeof(*g_hvals));
    for (size_t i = 0; i < g_npool; i++) {
        dance_jws_sign_opts o;
        char payload[256];
        int s = (int)(i % (size_t)g_nsenders);
        int n = snprintf(payload, sizeof(payload), "{\"seq\":%zu,\"temp\":21.5,\"unit\":\"C\"",
                         (size_t)g_seq_base + i);

        while (n < g_payload_size - 1 && n < (int)sizeof(payload) - 2)
            payload[n++] = ' ';
        payload[n++] = '}';
        payload[n] = '\0';
        memset(&o, 0, sizeof(o));
        o.key = keys[s];
        o.name = names[s];
        o.iat = true;
        o.topic = g_topics[s];      /* published there: bound to it */
        if (dance_jws_sign(&o, payload, (size_t)n, &g_pool[i].data, &g_pool[i].len,
                           err, sizeof(err)) != 0)
            bu_die("dance_jws_sign: %s", err);
        g_pool[i].sender = s;
        index_put(fnv1a((unsigned char *)g_pool[i].data, g_pool[i].len), i);
    }
    for (int s = 0; s < g_nsenders; s++) {
        EVP_PKEY_free(keys[s]);
        free(names[s]);
    }
    free(keys);
    free(names);
}

/* g_identity - the --client certificate's one dNSName: client ids are
 * "<identity>/<suffix>", as the plugin requires (client_id_binding). */
static char g_identity[DANCE_NAME_MAX + 1];

static void load_identity(const char *cert_file)
{
    char err[512];

    if (dance_cert_file_identity(cert_file, g_identity, sizeof(g_identity), err,
                                 sizeof(err)) != 0)
        bu_die("%s", err);
}

static void open_client(bm_conn *c, const char *suffix)
{
    char cid[sizeof(g_identity) + 64];
    char err[256];
    int rc = -1;

    snprintf(cid, sizeof(cid), "%s/%s", g_identity, suffix);
    /* the identity may be cold on a fresh broker: retry a refusal */
    for (int a = 0; a < 50; a++) {
        if (bm_open(c, g_ctx, g_port, 30000, err, sizeof(err)) != 0)
            bu_die("%s: %s", cid, err);
        rc = bm_connect(c, cid, 600, err, sizeof(err));
        if (rc == 0)
            return;
        bm_close(c, false);
        bu_sleep_ns(200u * 1000000u);
    }
    bu_die("%s: not accepted: %s", cid, err);
}

/* ------------------------------------------------------------ subscriber */

static void *subscriber(void *arg)
{
    bm_conn *c = arg;

    while (!atomic_load(&g_stop)) {
        const unsigned char *body, *topic, *pl;
        size_t len, tl, pll;
        uint8_t first;
        int r = bm_read_packet(c, &first, &body, &len);

        if (r == 0)
            bu_die("the subscriber's connection was closed");
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            continue;           /* 1 s read timeout: check g_stop */
        if (r < 0)
            bu_die("the subscriber's connection failed: %s", strerror(errno));
        if ((first >> 4) != BM_PUBLISH
            || bm_parse_publish(first, body, len, &topic, &tl, &pl, &pll) != 0)
            continue;
        if (g_mode == M_LATENCY) {
            uint64_t now = bu_now_ns();
            long idx = index_get(pl, pll);
            int verified = tl > 9 && memcmp(topic, "verified/", 9) == 0;

            if (idx < 0)
                continue;
            if (verified) {
                if (g_t_ver[idx] == 0) {
                    g_t_ver[idx] = now;
                    atomic_fetch_add(&g_received, 1);
                }
            } else if (g_t_orig[idx] == 0) {
                g_t_orig[idx] = now;
            }
            continue;
        }
        atomic_fetch_add(&g_received, 1);
    }
    return NULL;
}

/* ------------------------------------------------------------ publishers */

typedef struct pub {
    int id;
    bm_conn c;
    char topic[64];
    unsigned char *payload;
} pub;

/* wait_room - block until fewer than window messages are out; dies when
 * nothing comes back for --timeout-s */
static int wait_room(uint64_t *last_progress, uint64_t *last_received)
{
    for (;;) {
        uint64_t sent = atomic_load(&g_sent), rec = atomic_load(&g_received);
        uint64_t now;

        if (atomic_load(&g_stop))
            return 0;
        if (sent - rec < (uint64_t)g_window)
            return (int)((uint64_t)g_window - (sent - rec));
        now = bu_now_ns();
        if (rec != *last_received) {
            *last_received = rec;
            *last_progress = now;
        } else if (now - *last_progress > (uint64_t)(g_timeout_s * 1e9)) {
            bu_die("no message came back for %.0f s (%llu sent, %llu back): the broker "
                   "dropped or refused them", g_timeout_s, (unsigned long long)sent,
                   (unsigned long long)rec);
        }
        bu_sleep_ns(50000);
    }
}

static void *publisher(void *arg)
{
    pub *p = arg;
    uint64_t last_progress = bu_now_ns(), last_received = 0;
    size_t next = (size_t)p->id;

    while (!atomic_load(&g_stop)) {
        int room = wait_room(&last_progress, &last_received), batch;

        if (room <= 0)
            break;
        batch = room < 64 ? room : 64;
        if (g_mode == M_COUNT) {
            /* claim exactly batch messages of the total */
            uint64_t s = atomic_fetch_add(&g_sent, (uint64_t)batch);
            if (s >= (uint64_t)g_count) {
                atomic_fetch_sub(&g_sent, (uint64_t)batch);
                break;
            }
            if (s + (uint64_t)batch > (uint64_t)g_count) {
                atomic_fetch_sub(&g_sent, s + (uint64_t)batch - (uint64_t)g_count);
                batch = (int)((uint64_t)g_count - s);
            }
            for (int k = 0; k < batch; k++) {
                const pmsg *m = &g_pool[(s + (uint64_t)k) % g_npool];
                bm_queue_publish(&p->c, g_pub_topics[m->sender], m->data, m->len, 0, 0);
            }
        } else {
            for (int k = 0; k < batch; k++) {
                if (g_mode == M_PASSTHROUGH) {
                    bm_queue_publish(&p->c, p->topic, p->payload, (size_t)g_payload_size, 0, 0);
                } else {
                    const pmsg *m = &g_pool[next % g_npool];
                    next += (size_t)g_publishers;
                    bm_queue_publish(&p->c, g_pub_topics[m->sender], m->data, m->len, 0, 0);
                }
            }
            atomic_fetch_add(&g_sent, (uint64_t)batch);
        }
        if (bm_flush(&p->c) != 0)
            bu_die("publisher %d lost its connection", p->id);
    }
    return NULL;
}

/* paced - latency mode: one publisher, one message per 1/rate s */
static void paced(pub *p)
{
    uint64_t gap = 1000000000ull / (uint64_t)g_rate, start = bu_now_ns();
    size_t n = (size_t)(g_seconds * g_rate);

    if (n > g_npool)
        bu_die("latency mode needs a pool of %zu messages (--per-sender)", n);
    for (size_t i = 0; i < n; i++) {
        uint64_t due = start + i * gap, now = bu_now_ns();
        const pmsg *m = &g_pool[i];

        if (due > now)
            bu_sleep_ns(due - now);
        g_t_sent[i] = bu_now_ns();
        bm_queue_publish(&p->c, g_pub_topics[m->sender], m->data, m->len, 0, 0);
        if (bm_flush(&p->c) != 0)
            bu_die("publisher lost its connection");
        atomic_fetch_add(&g_sent, 1);
    }
}

static void report_latency(void)
{
    size_t n = atomic_load(&g_sent), nb = 0, na = 0, nv = 0;
    uint64_t *base = bu_xcalloc(n, sizeof(*base)), *added = bu_xcalloc(n, sizeof(*added));

    for (size_t i = 0; i < n; i++) {
        if (g_t_orig[i] != 0)
            base[nb++] = g_t_orig[i] - g_t_sent[i];
        if (g_t_ver[i] != 0)
            nv++;
        if (g_t_orig[i] != 0 && g_t_ver[i] != 0)
            added[na++] = g_t_ver[i] > g_t_orig[i] ? g_t_ver[i] - g_t_orig[i] : 0;
    }
    bu_sort_u64(base, nb);
    bu_sort_u64(added, na);
    /* verified: copies that came back; pairs: messages whose original and
     * copy both came back (the added latency is measured over those) */
    printf("sent %zu verified %zu originals %zu pairs %zu base_p50_ms %.3f "
           "base_p99_ms %.3f added_p50_ms %.3f added_p99_ms %.3f added_max_ms %.3f\n",
           n, nv, nb, na, bu_pct_u64(base, nb, 50) / 1e6, bu_pct_u64(base, nb, 99) / 1e6,
           bu_pct_u64(added, na, 50) / 1e6, bu_pct_u64(added, na, 99) / 1e6,
           na ? added[na - 1] / 1e6 : 0.0);
    free(base);
    free(added);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_pubsub --mode passthrough|pipeline|latency|count "
            "--port P --client CERT KEY [--senders FILE] [--seconds S] [--window N] "
            "[--publishers N] [--rate R] [--count N] [--per-sender N] "
            "[--payload-size N] [--timeout-s S] [--publish-prefix P] [--seq-base N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *mode = NULL, *cert = NULL, *key = NULL, *senders = NULL;
    bm_conn sub;
    pub *pubs;
    pthread_t sub_tid, *pub_tid;
    uint64_t t0, t1, last_rec = 0, last_change;

    bu_set_prog(argv[0]);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--mode") == 0 && v) { mode = v; i++; }
        else if (strcmp(argv[i], "--port") == 0) { g_port = (int)bu_arg_long(argv[i], v, 1, 65535); i++; }
        else if (strcmp(argv[i], "--client") == 0 && v && i + 2 < argc) { cert = v; key = argv[i + 2]; i += 2; }
        else if (strcmp(argv[i], "--senders") == 0 && v) { senders = v; i++; }
        else if (strcmp(argv[i], "--seconds") == 0) { g_seconds = bu_arg_double(argv[i], v, 0.1, 3600); i++; }
        else if (strcmp(argv[i], "--window") == 0) { g_window = (int)bu_arg_long(argv[i], v, 1, 1000000); i++; }
        else if (strcmp(argv[i], "--publishers") == 0) { g_publishers = (int)bu_arg_long(argv[i], v, 1, 64); i++; }
        else if (strcmp(argv[i], "--rate") == 0) { g_rate = (int)bu_arg_long(argv[i], v, 1, 1000000); i++; }
        else if (strcmp(argv[i], "--count") == 0) { g_count = bu_arg_long(argv[i], v, 1, 100000000); i++; }
        else if (strcmp(argv[i], "--per-sender") == 0) { g_per_sender = (int)bu_arg_long(argv[i], v, 1, 1000000); i++; }
        else if (strcmp(argv[i], "--payload-size") == 0) { g_payload_size = (int)bu_arg_long(argv[i], v, 16, 200); i++; }
        else if (strcmp(argv[i], "--publish-prefix") == 0 && v) { g_publish_prefix = v; i++; }
        else if (strcmp(argv[i], "--seq-base") == 0) { g_seq_base = bu_arg_long(argv[i], v, 0, 1000000000); i++; }
        else if (strcmp(argv[i], "--timeout-s") == 0) { g_timeout_s = bu_arg_double(argv[i], v, 1, 3600); i++; }
        else usage();
    }
    if (mode == NULL || g_port == 0 || cert == NULL)
        usage();
    if (strcmp(mode, "passthrough") == 0) g_mode = M_PASSTHROUGH;
    else if (strcmp(mode, "pipeline") == 0) g_mode = M_PIPELINE;
    else if (strcmp(mode, "latency") == 0) g_mode = M_LATENCY;
    else if (strcmp(mode, "count") == 0) g_mode = M_COUNT;
    else usage();
    if (g_mode != M_PASSTHROUGH && senders == NULL)
        bu_die("--senders is required for mode %s", mode);
    if (g_publish_prefix[0] != '\0' && g_mode != M_PIPELINE && g_mode != M_COUNT)
        bu_die("--publish-prefix is for modes pipeline and count");

    bm_init();
    g_ctx = bm_tls_ctx(cert, key);
    load_identity(cert);
    if (g_mode != M_PASSTHROUGH)
        build_pool(senders, (size_t)g_per_sender,
                   g_mode == M_LATENCY ? (size_t)(g_seconds * g_rate) : 1);
    if (g_mode == M_LATENCY) {
        g_t_sent = bu_xcalloc(g_npool, sizeof(uint64_t));
        g_t_orig = bu_xcalloc(g_npool, sizeof(uint64_t));
        g_t_ver = bu_xcalloc(g_npool, sizeof(uint64_t));
        g_publishers = 1;
    }

    open_client(&sub, "bench-sub");
    if (g_mode == M_PASSTHROUGH) {
        if (bm_subscribe(&sub, "bench/pt/#", 0) != 0)
            bu_die("subscribe failed");
    } else {
        if (bm_subscribe(&sub, "verified/sensors/#", 0) != 0)
            bu_die("subscribe failed");
        if (g_mode == M_LATENCY && bm_subscribe(&sub, "sensors/#", 0) != 0)
            bu_die("subscribe failed");
    }
    bm_set_timeout(&sub, 1000);
    pubs = bu_xcalloc((size_t)g_publishers, sizeof(*pubs));
    pub_tid = bu_xcalloc((size_t)g_publishers, sizeof(*pub_tid));
    for (int i = 0; i < g_publishers; i++) {
        char cid[32];
        pubs[i].id = i;
        snprintf(cid, sizeof(cid), "bench-pub-%d", i);
        open_client(&pubs[i].c, cid);
        snprintf(pubs[i].topic, sizeof(pubs[i].topic), "bench/pt/%d", i);
        pubs[i].payload = bu_xmalloc((size_t)g_payload_size);
        memset(pubs[i].payload, 'x', (size_t)g_payload_size);
    }
    if (pthread_create(&sub_tid, NULL, subscriber, &sub) != 0)
        bu_die("pthread_create failed");

    t0 = bu_now_ns();
    if (g_mode == M_LATENCY) {
        paced(&pubs[0]);
    } else {
        for (int i = 0; i < g_publishers; i++)
            if (pthread_create(&pub_tid[i], NULL, publisher, &pubs[i]) != 0)
                bu_die("pthread_create failed");
        if (g_mode != M_COUNT) {
            bu_sleep_ns((uint64_t)(g_seconds * 1e9));
            atomic_store(&g_stop, 1);
        }
        for (int i = 0; i < g_publishers; i++)
            pthread_join(pub_tid[i], NULL);
    }
    t1 = bu_now_ns();
    /* count/latency: wait for what is still on its way */
    if (g_mode == M_COUNT || g_mode == M_LATENCY) {
        last_change = bu_now_ns();
        while (atomic_load(&g_received) < atomic_load(&g_sent)) {
            uint64_t r = atomic_load(&g_received);
            if (r != last_rec) {
                last_rec = r;
                last_change = bu_now_ns();
            } else if (bu_now_ns() - last_change > (uint64_t)(g_timeout_s * 1e9)) {
                if (g_mode == M_COUNT)
                    bu_die("only %llu of %llu messages came back verified",
                           (unsigned long long)r, (unsigned long long)atomic_load(&g_sent));
                break;
            }
            bu_sleep_ns(1000000);
        }
        if (g_mode == M_COUNT)
            t1 = bu_now_ns();
        else
            bu_sleep_ns(200000000u);    /* originals of the last copies */
    }
    atomic_store(&g_stop, 1);
    pthread_join(sub_tid, NULL);

    switch (g_mode) {
    case M_PASSTHROUGH:
    case M_PIPELINE:
        printf("rate %.1f seconds %.3f received %llu sent %llu\n",
               (double)atomic_load(&g_received) / ((double)(t1 - t0) / 1e9),
               (double)(t1 - t0) / 1e9, (unsigned long long)atomic_load(&g_received),
               (unsigned long long)atomic_load(&g_sent));
        break;
    case M_COUNT:
        printf("sent %llu verified %llu seconds %.3f\n",
               (unsigned long long)atomic_load(&g_sent),
               (unsigned long long)atomic_load(&g_received), (double)(t1 - t0) / 1e9);
        break;
    case M_LATENCY:
        report_latency();
        break;
    }
    fflush(stdout);

    for (int i = 0; i < g_publishers; i++) {
        bm_close(&pubs[i].c, true);
        free(pubs[i].payload);
    }
    bm_close(&sub, true);
    free(pubs);
    free(pub_tid);
    for (size_t i = 0; i < g_npool; i++)
        free(g_pool[i].data);
    free(g_pool);
    for (int s = 0; s < g_nsenders; s++) {
        free(g_topics[s]);
        free(g_pub_topics[s]);
    }
    free(g_topics);
    free(g_pub_topics);
    free(g_hkeys);
    free(g_hvals);
    free(g_t_sent);
    free(g_t_orig);
    free(g_t_ver);
    SSL_CTX_free(g_ctx);
    return 0;
}
