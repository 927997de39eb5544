/*
 * resolver_async_probe.c - drive dance_resolver_async (and, for comparison,
 * the synchronous dance_resolver_lookup_tlsa) from a script, for
 * tests/integration/test_resolver_async.py.
 *
 * Reads owner names, one per line, until end of input; each line is one
 * request (a name may repeat). Then:
 *   default          submits them all at once to one asynchronous resolver
 *                    and waits until every answer is in
 *   --sync           looks them up one after another with
 *                    dance_resolver_lookup_tlsa (same configuration)
 *   --stop-after-ms  submits them all, waits this long, then stops the
 *                    resolver with lookups in flight
 * and prints one JSON line per request, in input order:
 *   {"id":N,"name":..,"status":"secure"|..,"ttl":..,"records":N,
 *    "reason":..,"calls":N,"cancelled":true|false,"wrong_owner":true|false}
 * then a summary line:
 *   {"done":true,"max_inflight":N,"late_calls":N,"submit_failures":N}
 * max_inflight is the most lookups in flight seen by polling the stats;
 * late_calls counts callbacks that ran after stop returned (must be 0).
 *
 * Options: --resolver LIST --trust-anchor FILE --timeout MS --inflight N
 *          --transport udp|tcp --sync --stop-after-ms MS
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dance/resolver.h"

#define PROBE_NAMES_MAX 20000
#define PROBE_NAME_MAX 300

typedef struct request {
    char name[PROBE_NAME_MAX];
    atomic_int calls;
    bool cancelled;
    bool wrong_owner;
    dance_tlsa_result res;          /* the first answer */
} request;

static request *g_req;
static size_t g_n;
static atomic_size_t g_answered;
static atomic_bool g_stopped;
static atomic_int g_late;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void answer_cb(void *arg, const char *owner, dance_tlsa_result *answer,
                      int cancelled)
{
    request *q = arg;

    if (atomic_load(&g_stopped))
        atomic_fetch_add(&g_late, 1);
    if (atomic_fetch_add(&q->calls, 1) == 0) {
        q->cancelled = cancelled != 0;
        q->wrong_owner = strcmp(owner, q->name) != 0;
        q->res = *answer;               /* takes the records */
        memset(&answer->records, 0, sizeof(answer->records));
    }
    atomic_fetch_add(&g_answered, 1);
}

/* json_string - s as a JSON string on f */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void print_request(size_t i, const request *q)
{
    printf("{\"id\":%zu,\"name\":", i);
    json_string(stdout, q->name);
    printf(",\"status\":");
    json_string(stdout, dance_dns_answer_name(q->res.status));
    printf(",\"ttl\":%u,\"records\":%zu,\"reason\":", q->res.ttl, q->res.records.count);
    json_string(stdout, q->res.reason);
    printf(",\"calls\":%d,\"cancelled\":%s,\"wrong_owner\":%s}\n",
           atomic_load(&q->calls), q->cancelled ? "true" : "false",
           q->wrong_owner ? "true" : "false");
}

static int usage(void)
{
    fprintf(stderr, "usage: resolver_async_probe --resolver LIST --trust-anchor FILE "
            "[--timeout MS] [--inflight N] [--transport udp|tcp] [--sync] "
            "[--stop-after-ms MS] < names\n");
    return 2;
}

int main(int argc, char **argv)
{
    dance_resolver_config cfg;
    unsigned inflight = 256, stop_after = 0;
    bool sync = false;
    size_t max_seen = 0, i;
    int submit_failures = 0;
    char line[PROBE_NAME_MAX + 2], err[512];

    memset(&cfg, 0, sizeof(cfg));
    for (int a = 1; a < argc; a++) {
        const char *v = a + 1 < argc ? argv[a + 1] : NULL;

        if (strcmp(argv[a], "--sync") == 0) {
            sync = true;
            continue;
        }
        if (v == NULL)
            return usage();
        if (strcmp(argv[a], "--resolver") == 0)
            cfg.upstreams = v;
        else if (strcmp(argv[a], "--trust-anchor") == 0)
            cfg.trust_anchor_file = v;
        else if (strcmp(argv[a], "--timeout") == 0)
            cfg.timeout_ms = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(argv[a], "--inflight") == 0)
            inflight = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(argv[a], "--stop-after-ms") == 0)
            stop_after = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(argv[a], "--transport") == 0) {
            if (dance_dns_transport_parse(v, &cfg.transport) != 0)
                return usage();
        } else
            return usage();
        a++;
    }
    g_req = calloc(PROBE_NAMES_MAX, sizeof(*g_req));
    if (g_req == NULL)
        return 1;
    while (g_n < PROBE_NAMES_MAX && fgets(line, sizeof(line), stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        if (strlen(line) >= sizeof(g_req[g_n].name))
            continue;
        memcpy(g_req[g_n].name, line, strlen(line) + 1);
        atomic_init(&g_req[g_n].calls, 0);
        g_n++;
    }

    if (sync) {
        dance_resolver *r = dance_resolver_new(&cfg, err, sizeof(err));

        if (r == NULL) {
            fprintf(stderr, "resolver_async_probe: %s\n", err);
            return 1;
        }
        for (i = 0; i < g_n; i++) {
            dance_resolver_lookup_tlsa(r, g_req[i].name, &g_req[i].res);
            atomic_store(&g_req[i].calls, 1);
        }
        dance_resolver_free(r);
    } else {
        dance_resolver_async *ra = dance_resolver_async_start(&cfg, inflight, err,
                                                              sizeof(err));
        dance_resolver_async_stats st;
        unsigned waited = 0;

        if (ra == NULL) {
            fprintf(stderr, "resolver_async_probe: %s\n", err);
            return 1;
        }
        for (i = 0; i < g_n; i++)
            if (dance_resolver_async_submit(ra, g_req[i].name, answer_cb, &g_req[i]) != 0)
                submit_failures++;
        while (atomic_load(&g_answered) + (size_t)submit_failures < g_n) {
            dance_resolver_async_get_stats(ra, &st);
            if (st.inflight > max_seen)
                max_seen = st.inflight;
            if (stop_after > 0 && waited >= stop_after)
                break;
            sleep_ms(1);
            waited++;
        }
        dance_resolver_async_stop(ra);
        atomic_store(&g_stopped, true);
    }
    for (i = 0; i < g_n; i++) {
        print_request(i, &g_req[i]);
        dance_tlsa_result_clear(&g_req[i].res);
    }
    printf("{\"done\":true,\"max_inflight\":%zu,\"late_calls\":%d,"
           "\"submit_failures\":%d}\n", max_seen, atomic_load(&g_late), submit_failures);
    free(g_req);
    return 0;
}
