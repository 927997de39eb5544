/*
 * bench/bench_connect.c - load generator for the connect figure: full
 * mutual-TLS handshakes + MQTT CONNECT/CONNACK + DISCONNECT, as fast as
 * the broker takes them.
 *
 *   bench_connect --port P --devices FILE [--threads T] [--seconds S]
 *                 [--warm [--retries N]] [--limit N]
 *
 * FILE holds lines "<name> <cert> <key> <tlsa>" (bench_pki output); the
 * first --limit devices (default 50) are used, cycled through by every
 * thread. Each thread runs connections one after another; T threads (4)
 * keep the broker's listen queue non-empty while the client side stays
 * near one core.
 *
 * --warm: connect every device once, retrying refused ones (a cold
 * lookup may be refused as "pending" while DNS is asked in the
 * background), and fail unless all get in; prints "warm <n> <ms>".
 * Otherwise: run for S seconds and print
 *   connects <n> seconds <s> rate <per s> refused <n> errors <n>
 * (refused or errors above zero mean the figure is not valid).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_mqtt.h"
#include "bench_util.h"

typedef struct device {
    char *name;
    SSL_CTX *ctx;
} device;

static device *g_dev;
static int g_ndev;
static int g_port;
static uint64_t g_deadline_ns;
static atomic_ulong g_ok, g_refused, g_errors;
static char g_last_error[256];
static pthread_mutex_t g_err_mu = PTHREAD_MUTEX_INITIALIZER;

static void load_devices(const char *file, int limit)
{
    FILE *f = fopen(file, "r");
    char line[8192], name[512], cert[4096], key[4096];

    if (f == NULL)
        bu_die("cannot open %s", file);
    g_dev = bu_xcalloc((size_t)limit, sizeof(*g_dev));
    while (g_ndev < limit && fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%511s %4095s %4095s", name, cert, key) != 3)
            continue;
        g_dev[g_ndev].name = bu_xstrdup(name);
        g_dev[g_ndev].ctx = bm_tls_ctx(cert, key);
        g_ndev++;
    }
    fclose(f);
    if (g_ndev == 0)
        bu_die("no devices in %s", file);
}

static void note_error(const char *what)
{
    pthread_mutex_lock(&g_err_mu);
    snprintf(g_last_error, sizeof(g_last_error), "%s", what);
    pthread_mutex_unlock(&g_err_mu);
}

/* one_connection - 0 accepted, 1 refused, -1 error */
static int one_connection(const device *d, const char *cid)
{
    bm_conn c;
    char err[256];
    int rc;

    if (bm_open(&c, d->ctx, g_port, 30000, err, sizeof(err)) != 0) {
        note_error(err);
        return -1;
    }
    rc = bm_connect(&c, cid, 60, err, sizeof(err));
    if (rc != 0)
        note_error(err);
    bm_close(&c, rc == 0);
    return rc == 0 ? 0 : rc > 0 ? 1 : -1;
}

static void *worker(void *arg)
{
    long t = (long)arg;
    unsigned long n = 0;
    char cid[600];
    int i = (int)(t % g_ndev);

    while (bu_now_ns() < g_deadline_ns) {
        int r;
        /* client ids bound to the identity, as the plugin requires */
        snprintf(cid, sizeof(cid), "%s/bc%ld-%lu", g_dev[i].name, t, n++);
        r = one_connection(&g_dev[i], cid);
        if (r == 0)
            atomic_fetch_add(&g_ok, 1);
        else if (r == 1)
            atomic_fetch_add(&g_refused, 1);
        else
            atomic_fetch_add(&g_errors, 1);
        if (++i == g_ndev)
            i = 0;
    }
    return NULL;
}

static void warm(int retries)
{
    uint64_t t0 = bu_now_ns();
    char cid[600];

    for (int i = 0; i < g_ndev; i++) {
        int r = -1;
        for (int a = 0; a <= retries; a++) {
            snprintf(cid, sizeof(cid), "%s/bw%d-%d", g_dev[i].name, i, a);
            r = one_connection(&g_dev[i], cid);
            if (r == 0)
                break;
            bu_sleep_ns(200u * 1000000u);
        }
        if (r != 0)
            bu_die("device %s not accepted while warming up: %s", g_dev[i].name,
                   g_last_error);
    }
    printf("warm %d %.0f\n", g_ndev, (double)(bu_now_ns() - t0) / 1e6);
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    int threads = 4, limit = 50, do_warm = 0, retries = 20;
    double seconds = 5;
    pthread_t *tid;
    uint64_t t0, t1;

    bu_set_prog(argv[0]);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--port") == 0) { g_port = (int)bu_arg_long(argv[i], v, 1, 65535); i++; }
        else if (strcmp(argv[i], "--devices") == 0 && v) { file = v; i++; }
        else if (strcmp(argv[i], "--threads") == 0) { threads = (int)bu_arg_long(argv[i], v, 1, 256); i++; }
        else if (strcmp(argv[i], "--seconds") == 0) { seconds = bu_arg_double(argv[i], v, 0.1, 3600); i++; }
        else if (strcmp(argv[i], "--limit") == 0) { limit = (int)bu_arg_long(argv[i], v, 1, 100000); i++; }
        else if (strcmp(argv[i], "--retries") == 0) { retries = (int)bu_arg_long(argv[i], v, 0, 1000); i++; }
        else if (strcmp(argv[i], "--warm") == 0) do_warm = 1;
        else {
            fprintf(stderr, "usage: bench_connect --port P --devices FILE [--threads T] "
                    "[--seconds S] [--limit N] [--warm [--retries N]]\n");
            return 2;
        }
    }
    if (g_port == 0 || file == NULL)
        bu_die("--port and --devices are required");
    bm_init();
    load_devices(file, limit);
    if (do_warm) {
        warm(retries);
        return 0;
    }

    tid = bu_xcalloc((size_t)threads, sizeof(*tid));
    t0 = bu_now_ns();
    g_deadline_ns = t0 + (uint64_t)(seconds * 1e9);
    for (long t = 0; t < threads; t++)
        if (pthread_create(&tid[t], NULL, worker, (void *)t) != 0)
            bu_die("pthread_create failed");
    for (int t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    t1 = bu_now_ns();
    printf("connects %lu seconds %.3f rate %.1f refused %lu errors %lu\n",
           (unsigned long)g_ok, (double)(t1 - t0) / 1e9,
           (double)g_ok / ((double)(t1 - t0) / 1e9),
           (unsigned long)g_refused, (unsigned long)g_errors);
    if (g_refused || g_errors)
        fprintf(stderr, "bench_connect: last error: %s\n", g_last_error);
    for (int i = 0; i < g_ndev; i++) {
        SSL_CTX_free(g_dev[i].ctx);
        free(g_dev[i].name);
    }
    free(g_dev);
    free(tid);
    return 0;
}
