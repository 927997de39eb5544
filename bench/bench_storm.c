/*
 * bench/bench_storm.c - load generator for the cold-storm figure: many
 * distinct devices connect at once while an already-connected client
 * measures its publish round trip through the broker.
 *
 *   bench_storm --port P --devices FILE [--first N] [--count N]
 *               [--probe N] [--threads T] [--retry-ms MS] [--resume]
 *               [--deadline-s S] [--probe-interval-ms MS] [--rtt-log FILE]
 *               [--hold]
 *
 * Devices come from FILE ("<name> <cert> <key> <tlsa>" lines, bench_pki
 * output). Device --probe (index, default 0) connects first, twice
 * (retrying until accepted, not timed): one connection subscribes to a
 * topic of its own, the other publishes a QoS 0 message there, waits for
 * it to come back, pauses --probe-interval-ms (10) and goes again (see
 * probe_main), recording each round trip. Meanwhile T storm threads (16)
 * connect devices --first .. --first + --count - 1 (default 1 .. 2000):
 * at most T handshakes in flight. A refused device waits --retry-ms (1000,
 * +-20 % jitter) and tries again, as a device would, without holding a
 * thread meanwhile; accepted connections stay open. The storm ends when
 * every device is in or after --deadline-s (600).
 *
 * --resume: a device keeps the TLS session of its refused attempt (the
 * broker's TLS 1.3 ticket) and offers it on the retry, as a well-behaved
 * device does; without it every attempt is a full handshake. Whether the
 * broker resumed is counted per attempt (resumed).
 * --hold: after the result line, keep every connection open until stdin
 * closes (the caller reads the broker's memory meanwhile).
 *
 * Output (one line):
 *   connected <n> of <count> seconds <until the last got in, or the
 *   deadline> attempts <n> refused <n> errors <n> resumed <attempts whose
 *   handshake resumed a session> rtt_n <n>
 *   rtt_p50_ms <x> rtt_p99_ms <x> rtt_max_ms <x> lost <probes not back
 *   within 30 s; they count as 30 s>
 * --rtt-log writes every probe as "<sent, ms after the storm began>
 * <round trip ms, -1 if lost>" for plotting.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_mqtt.h"
#include "bench_util.h"

typedef struct device {
    char *name, *cert, *key;
    SSL_CTX *ctx;                   /* storm devices: built before the storm */
    SSL_SESSION *sess;              /* --resume: the last refused attempt's */
} device;

static device *g_dev;
static int g_ndev;
static int g_port, g_first = 1, g_count = 2000, g_probe = 0;
static int g_retry_ms = 1000;
static bool g_resume, g_hold;
static double g_deadline_s = 600;
static atomic_int g_next, g_connected, g_storm_done;
static atomic_ulong g_attempts, g_refused, g_errors, g_resumed;
static uint64_t g_t0, g_deadline_ns;
static _Atomic uint64_t g_last_ok_ns;
static bm_conn *g_conns;            /* one per storm device, kept open */
static char g_last_error[256];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

/* probe state */
static uint64_t *g_rtt;             /* ns */
static size_t g_rtt_n, g_rtt_cap;
static unsigned long g_lost;
static int g_probe_interval_ms = 10;
static const char *g_rtt_log;       /* --rtt-log: "sent_ms rtt_ms" per probe */

static void load_devices(const char *file)
{
    FILE *f = fopen(file, "r");
    char line[8192], name[512], cert[4096], key[4096];
    size_t cap = 1024;

    if (f == NULL)
        bu_die("cannot open %s", file);
    g_dev = bu_xcalloc(cap, sizeof(*g_dev));
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%511s %4095s %4095s", name, cert, key) != 3)
            continue;
        if ((size_t)g_ndev == cap) {
            cap *= 2;
            g_dev = realloc(g_dev, cap * sizeof(*g_dev));
            if (g_dev == NULL)
                bu_die("out of memory");
        }
        g_dev[g_ndev].ctx = NULL;
        g_dev[g_ndev].sess = NULL;
        g_dev[g_ndev].name = bu_xstrdup(name);
        g_dev[g_ndev].cert = bu_xstrdup(cert);
        g_dev[g_ndev].key = bu_xstrdup(key);
        g_ndev++;
    }
    fclose(f);
}

static void note_error(const char *what)
{
    pthread_mutex_lock(&g_mu);
    snprintf(g_last_error, sizeof(g_last_error), "%s", what);
    pthread_mutex_unlock(&g_mu);
}

/* try_connect - one attempt, offering *sess when not NULL; 0 accepted (c
 * open), 1 refused, -1 error. With keep, a refused attempt's session
 * replaces *sess (the one to offer on the retry). */
static int try_connect(SSL_CTX *ctx, SSL_SESSION **sess, bool keep, const char *cid,
                       bm_conn *c)
{
    char err[256];
    int rc;

    if (bm_open_session(c, ctx, sess ? *sess : NULL, g_port, 60000, err, sizeof(err)) != 0) {
        note_error(err);
        return -1;
    }
    if (bm_resumed(c))
        atomic_fetch_add(&g_resumed, 1);
    rc = bm_connect(c, cid, 0, err, sizeof(err));
    if (rc == 0)
        return 0;
    note_error(err);
    if (keep && rc > 0) {
        SSL_SESSION *s = bm_session(c);
        if (s != NULL) {
            SSL_SESSION_free(*sess);
            *sess = s;
        }
    }
    bm_close(c, false);
    return rc > 0 ? 1 : -1;
}

/* Devices refused and waiting to retry: a min-heap on the retry time,
 * so that a waiting device does not hold one of the connecting threads
 * (2,000 real devices wait in parallel; the threads only bound how many
 * handshakes are in flight). Guarded by g_mu. */
typedef struct retry { uint64_t at_ns; int dev; int attempt; } retry;
static retry *g_heap;
static size_t g_heap_n;
static int g_pending;               /* devices not yet connected or given up */

static void heap_push(retry r)
{
    size_t i = g_heap_n++;

    while (i > 0 && g_heap[(i - 1) / 2].at_ns > r.at_ns) {
        g_heap[i] = g_heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    g_heap[i] = r;
}

static retry heap_pop(void)
{
    retry top = g_heap[0], last = g_heap[--g_heap_n];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= g_heap_n)
            break;
        if (c + 1 < g_heap_n && g_heap[c + 1].at_ns < g_heap[c].at_ns)
            c++;
        if (g_heap[c].at_ns >= last.at_ns)
            break;
        g_heap[i] = g_heap[c];
        i = c;
    }
    if (g_heap_n > 0)
        g_heap[i] = last;
    return top;
}

/* next_job - a retry that is due, else a fresh device, else wait for the
 * earliest retry; false when nothing is left (or the deadline passed) */
static bool next_job(retry *out)
{
    pthread_mutex_lock(&g_mu);
    for (;;) {
        uint64_t now = bu_now_ns();
        int fresh;

        if (g_pending == 0 || now >= g_deadline_ns) {
            pthread_mutex_unlock(&g_mu);
            return false;
        }
        if (g_heap_n > 0 && g_heap[0].at_ns <= now) {
            *out = heap_pop();
            pthread_mutex_unlock(&g_mu);
            return true;
        }
        fresh = atomic_load(&g_next);
        if (fresh < g_count) {
            atomic_store(&g_next, fresh + 1);
            out->dev = fresh;
            out->attempt = 0;
            out->at_ns = now;
            pthread_mutex_unlock(&g_mu);
            return true;
        }
        /* only retries (or devices being tried by others) are left:
         * sleep until the earliest retry, at most 5 ms */
        {
            uint64_t wait = 1000000u;
            if (g_heap_n > 0)
                wait = g_heap[0].at_ns - now < 5000000u ? g_heap[0].at_ns - now : 5000000u;
            pthread_mutex_unlock(&g_mu);
            bu_sleep_ns(wait);
            pthread_mutex_lock(&g_mu);
        }
    }
}

static void *storm_worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    retry job;

    while (next_job(&job)) {
        device *d = &g_dev[g_first + job.dev];
        char cid[600];
        int r;

        /* client ids bound to the identity, as the plugin requires */
        snprintf(cid, sizeof(cid), "%s/storm-%d", d->name, job.attempt);
        atomic_fetch_add(&g_attempts, 1);
        /* a device is tried by one thread at a time: d->sess is its own */
        r = try_connect(d->ctx, &d->sess, g_resume, cid, &g_conns[job.dev]);
        if (r == 0) {
            uint64_t now = bu_now_ns(), prev = atomic_load(&g_last_ok_ns);

            atomic_fetch_add(&g_connected, 1);
            /* last acceptance time (monotonic, so a plain max) */
            while (now > prev && !atomic_compare_exchange_weak(&g_last_ok_ns, &prev, now))
                ;
            pthread_mutex_lock(&g_mu);
            g_pending--;
            pthread_mutex_unlock(&g_mu);
            continue;
        }
        if (r == 1)
            atomic_fetch_add(&g_refused, 1);
        else
            atomic_fetch_add(&g_errors, 1);
        {
            int jitter = g_retry_ms / 5;
            int ms = g_retry_ms + (jitter ? (int)(rand_r(&seed) % (unsigned)(2 * jitter + 1))
                                            - jitter : 0);
            job.at_ns = bu_now_ns() + (uint64_t)ms * 1000000u;
            job.attempt++;
            pthread_mutex_lock(&g_mu);
            heap_push(job);
            pthread_mutex_unlock(&g_mu);
        }
    }
    return NULL;
}

static void rtt_add(uint64_t ns)
{
    if (g_rtt_n == g_rtt_cap) {
        g_rtt_cap = g_rtt_cap ? g_rtt_cap * 2 : 4096;
        g_rtt = realloc(g_rtt, g_rtt_cap * sizeof(*g_rtt));
        if (g_rtt == NULL)
            bu_die("out of memory");
    }
    g_rtt[g_rtt_n++] = ns;
}

/* The probe is a client doing round trips, one at a time: publish, wait
 * for the message to come back through the broker, pause
 * --probe-interval-ms, again. Its round trip is what an already-connected
 * client sees while the storm goes on. One at a time on purpose: Mosquitto
 * 2.0 reads one packet per connection per loop iteration, so a probe
 * sending on a fixed schedule faster than the broker's iterations would
 * measure its own backlog rather than the broker. Each stall shows as one
 * slow sample (a stall of S ms is one sample of about S ms), so rtt_max_ms
 * is the longest stall seen and p99 over a storm with many stalls says how
 * long they typically were. */
typedef struct probe {
    bm_conn pub, sub;
    char topic[128];
    uint64_t *sent_ns;              /* by sequence number */
    uint64_t *rtt_ns;               /* 0: lost */
    size_t cap, n;
} probe;

static void *probe_main(void *arg)
{
    probe *p = arg;
    uint64_t interval = (uint64_t)g_probe_interval_ms * 1000000u;

    while (!atomic_load(&g_storm_done) && p->n < p->cap) {
        uint64_t seq = p->n, sent;
        unsigned char payload[8];

        memcpy(payload, &seq, 8);
        bm_queue_publish(&p->pub, p->topic, payload, sizeof(payload), 0, 0);
        sent = bu_now_ns();
        if (bm_flush(&p->pub) != 0)
            bu_die("probe publisher lost its connection");
        p->sent_ns[seq] = sent;
        p->n++;
        for (;;) {
            const unsigned char *body, *topic, *pl;
            size_t len, tl, pll;
            uint8_t first;
            uint64_t got;
            int r = bm_read_packet(&p->sub, &first, &body, &len);

            if (r == 0)
                bu_die("probe subscriber lost its connection");
            if (r < 0) {
                /* nothing for 30 s: count it lost (with 30 s) and go on */
                p->rtt_ns[seq] = 0;
                g_lost++;
                break;
            }
            if ((first >> 4) != BM_PUBLISH
                || bm_parse_publish(first, body, len, &topic, &tl, &pl, &pll) != 0
                || pll != sizeof(payload))
                continue;
            memcpy(&got, pl, 8);
            if (got != seq)
                continue;       /* a late answer to a lost probe */
            p->rtt_ns[seq] = bu_now_ns() - sent;
            break;
        }
        bu_sleep_ns(interval);
    }
    return NULL;
}

/* probe_finish - gather the round trips (a lost probe counts as 30 s) and
 * write --rtt-log */
static void probe_finish(probe *p)
{
    FILE *log = g_rtt_log ? fopen(g_rtt_log, "w") : NULL;

    if (g_rtt_log != NULL && log == NULL)
        bu_die("cannot write %s", g_rtt_log);
    for (size_t i = 0; i < p->n; i++) {
        uint64_t rtt = p->rtt_ns[i] ? p->rtt_ns[i] : 30000000000ull;
        if (log != NULL)
            fprintf(log, "%.3f %.3f\n", (double)(p->sent_ns[i] - g_t0) / 1e6,
                    p->rtt_ns[i] ? (double)rtt / 1e6 : -1.0);
        rtt_add(rtt);
    }
    if (log != NULL && fclose(log) != 0)
        bu_die("cannot write %s", g_rtt_log);
}

/* probe_connect - connect one probe client (retrying: its own lookup may
 * be cold) */
static void probe_connect(bm_conn *c, SSL_CTX *ctx, const char *cid)
{
    for (int a = 0;; a++) {
        if (try_connect(ctx, NULL, false, cid, c) == 0)
            return;
        if (a == 50)
            bu_die("probe device not accepted: %s", g_last_error);
        bu_sleep_ns(200u * 1000000u);
    }
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    int threads = 16;
    pthread_t *tid, ptid;
    probe pr;
    SSL_CTX *pctx;
    int connected;
    double secs;

    bu_set_prog(argv[0]);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--port") == 0) { g_port = (int)bu_arg_long(argv[i], v, 1, 65535); i++; }
        else if (strcmp(argv[i], "--devices") == 0 && v) { file = v; i++; }
        else if (strcmp(argv[i], "--first") == 0) { g_first = (int)bu_arg_long(argv[i], v, 0, 10000000); i++; }
        else if (strcmp(argv[i], "--count") == 0) { g_count = (int)bu_arg_long(argv[i], v, 1, 10000000); i++; }
        else if (strcmp(argv[i], "--probe") == 0) { g_probe = (int)bu_arg_long(argv[i], v, 0, 10000000); i++; }
        else if (strcmp(argv[i], "--threads") == 0) { threads = (int)bu_arg_long(argv[i], v, 1, 1024); i++; }
        else if (strcmp(argv[i], "--retry-ms") == 0) { g_retry_ms = (int)bu_arg_long(argv[i], v, 0, 600000); i++; }
        else if (strcmp(argv[i], "--deadline-s") == 0) { g_deadline_s = bu_arg_double(argv[i], v, 1, 86400); i++; }
        else if (strcmp(argv[i], "--rtt-log") == 0 && v) { g_rtt_log = v; i++; }
        else if (strcmp(argv[i], "--resume") == 0) g_resume = true;
        else if (strcmp(argv[i], "--hold") == 0) g_hold = true;
        else if (strcmp(argv[i], "--probe-interval-ms") == 0) { g_probe_interval_ms = (int)bu_arg_long(argv[i], v, 1, 10000); i++; }
        else {
            fprintf(stderr, "usage: bench_storm --port P --devices FILE [--first N] [--count N] "
                    "[--probe N] [--threads T] [--retry-ms MS] [--resume] [--deadline-s S] "
                    "[--probe-interval-ms MS] [--rtt-log FILE] [--hold]\n");
            return 2;
        }
    }
    if (g_port == 0 || file == NULL)
        bu_die("--port and --devices are required");
    bm_init();
    load_devices(file);
    if (g_first + g_count > g_ndev || g_probe >= g_ndev)
        bu_die("%s has %d devices; need %d", file, g_ndev, g_first + g_count);
    if (g_probe >= g_first && g_probe < g_first + g_count)
        bu_die("the probe device must not be one of the storm's");

    /* Each storm device's TLS context (its certificate and key read and
     * parsed) is made now, so that the client's set-up work does not
     * compete with the broker during the storm. */
    for (int i = g_first; i < g_first + g_count; i++)
        g_dev[i].ctx = g_resume ? bm_tls_ctx_resumable(g_dev[i].cert, g_dev[i].key)
                                : bm_tls_ctx(g_dev[i].cert, g_dev[i].key);

    /* the probe: connected (and its identity cached) before the storm */
    pctx = bm_tls_ctx(g_dev[g_probe].cert, g_dev[g_probe].key);
    memset(&pr, 0, sizeof(pr));
    {
        char cid[600];
        snprintf(cid, sizeof(cid), "%s/probe-sub", g_dev[g_probe].name);
        probe_connect(&pr.sub, pctx, cid);
        snprintf(cid, sizeof(cid), "%s/probe-pub", g_dev[g_probe].name);
        probe_connect(&pr.pub, pctx, cid);
    }
    snprintf(pr.topic, sizeof(pr.topic), "bench/rtt/%s", g_dev[g_probe].name);
    if (bm_subscribe(&pr.sub, pr.topic, 0) != 0)
        bu_die("probe cannot subscribe");
    bm_set_timeout(&pr.sub, 30000);
    pr.cap = (size_t)(g_deadline_s * 1000.0 / g_probe_interval_ms) + 16;
    pr.sent_ns = bu_xcalloc(pr.cap, sizeof(*pr.sent_ns));
    pr.rtt_ns = bu_xcalloc(pr.cap, sizeof(*pr.rtt_ns));

    g_conns = bu_xcalloc((size_t)g_count, sizeof(*g_conns));
    g_heap = bu_xcalloc((size_t)g_count, sizeof(*g_heap));
    g_pending = g_count;
    for (int i = 0; i < g_count; i++)
        g_conns[i].fd = -1;
    tid = bu_xcalloc((size_t)threads, sizeof(*tid));
    g_t0 = bu_now_ns();
    g_deadline_ns = g_t0 + (uint64_t)(g_deadline_s * 1e9);
    if (pthread_create(&ptid, NULL, probe_main, &pr) != 0)
        bu_die("pthread_create failed");
    for (long t = 0; t < threads; t++)
        if (pthread_create(&tid[t], NULL, storm_worker, (void *)(t + 1)) != 0)
            bu_die("pthread_create failed");
    for (int t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    atomic_store(&g_storm_done, 1);
    pthread_join(ptid, NULL);
    probe_finish(&pr);

    connected = atomic_load(&g_connected);
    secs = connected == g_count ? (double)(atomic_load(&g_last_ok_ns) - g_t0) / 1e9
                                : (double)(bu_now_ns() - g_t0) / 1e9;
    bu_sort_u64(g_rtt, g_rtt_n);
    printf("connected %d of %d seconds %.3f attempts %lu refused %lu errors %lu resumed %lu "
           "rtt_n %zu rtt_p50_ms %.3f rtt_p99_ms %.3f rtt_max_ms %.3f lost %lu\n",
           connected, g_count, secs, (unsigned long)g_attempts, (unsigned long)g_refused,
           (unsigned long)g_errors, (unsigned long)g_resumed, g_rtt_n,
           bu_pct_u64(g_rtt, g_rtt_n, 50) / 1e6,
           bu_pct_u64(g_rtt, g_rtt_n, 99) / 1e6,
           g_rtt_n ? g_rtt[g_rtt_n - 1] / 1e6 : 0.0, g_lost);
    if (g_errors)
        fprintf(stderr, "bench_storm: last error: %s\n", g_last_error);
    fflush(stdout);
    if (g_hold) {
        char buf[256];
        while (fread(buf, 1, sizeof(buf), stdin) > 0)
            ;
    }

    for (int i = 0; i < g_count; i++)
        if (g_conns[i].fd >= 0)
            bm_close(&g_conns[i], true);
    bm_close(&pr.pub, true);
    bm_close(&pr.sub, true);
    free(pr.sent_ns);
    free(pr.rtt_ns);
    SSL_CTX_free(pctx);
    free(g_conns);
    free(g_heap);
    free(g_rtt);
    free(tid);
    for (int i = 0; i < g_ndev; i++) {
        SSL_CTX_free(g_dev[i].ctx);
        SSL_SESSION_free(g_dev[i].sess);
        free(g_dev[i].name);
        free(g_dev[i].cert);
        free(g_dev[i].key);
    }
    free(g_dev);
    return 0;
}
