/*
 * cache_probe.c - drive dance_resolver + dance_cache from a script, for the
 * integration tests (tests/integration/test_resolver.py).
 *
 * Reads one command per line on stdin and
 * answers each with one JSON line on stdout:
 *
 *   lookup NAME          through the cache (dance_cache_fetch)
 *                        -> {"status":..,"ttl":..,"records":["U S M HEX",..],
 *                            "reason":..,"hit":true|false,"elapsed_ms":..}
 *   direct NAME          straight to the resolver, no cache (same fields)
 *   concurrent N NAME    N threads, each with its own resolver, released
 *                        together, each calling dance_cache_fetch(NAME)
 *                        -> {"statuses":[..],"records":[[..],..]}
 *   advance SECONDS      move the fake clock (--fake-clock) -> {"clock_ms":..}
 *   flush                dance_cache_flush -> {"ok":true}
 *   stats                -> {"hits":..,"misses":..,"queries":..,"failures":..,
 *                            "evictions":..,"entries":..}
 *   quit
 * Errors: {"error":"..."}.
 *
 * Options: --resolver LIST --trust-anchor FILE --timeout MS --transport T
 *          --min-ttl S --max-ttl S --negative-ttl S --failure-ttl S
 *          --capacity N --fake-clock --fetch-delay-ms MS
 * --fetch-delay-ms makes every fetch sleep first, so that concurrent callers
 * surely overlap with the one fetch in flight (single-flight test).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dance/cache.h"
#include "dance/resolver.h"

#define PROBE_THREADS_MAX 64

static dance_resolver_config g_rcfg;
static unsigned g_fetch_delay_ms;
static _Atomic uint64_t g_fake_now_ms = 1000000;

static uint64_t fake_clock(void *ctx)
{
    (void)ctx;
    return atomic_load(&g_fake_now_ms);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* fetch through a resolver (ctx), after the optional delay */
static void probe_fetch(void *ctx, const char *owner, dance_tlsa_result *out)
{
    if (g_fetch_delay_ms > 0)
        sleep_ms(g_fetch_delay_ms);
    dance_resolver_lookup_tlsa(ctx, owner, out);
}

/* print_json_string - a JSON string literal */
static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_records(const dance_tlsa_rrset *set)
{
    size_t i;

    putchar('[');
    for (i = 0; i < set->count; i++) {
        size_t len = 16 + 2 * set->rr[i].len;
        char *buf = malloc(len);

        if (buf == NULL) {
            fputs("\"out of memory\"", stdout);
            break;
        }
        dance_tlsa_format(&set->rr[i], 0, buf, len);
        if (i > 0)
            putchar(',');
        print_json_string(buf);
        free(buf);
    }
    putchar(']');
}

static void print_result(const dance_tlsa_result *r, int hit, uint64_t elapsed)
{
    printf("{\"status\":");
    print_json_string(dance_dns_answer_name(r->status));
    printf(",\"ttl\":%lu,\"records\":", (unsigned long)r->ttl);
    print_records(&r->records);
    printf(",\"reason\":");
    print_json_string(r->reason);
    printf(",\"hit\":%s,\"elapsed_ms\":%lu}\n", hit ? "true" : "false",
           (unsigned long)elapsed);
}

typedef struct worker {
    pthread_t thread;
    dance_cache *cache;
    dance_resolver *resolver;
    pthread_barrier_t *barrier;
    const char *owner;
    dance_tlsa_result result;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;

    pthread_barrier_wait(w->barrier);
    (void)dance_cache_fetch(w->cache, w->owner, probe_fetch, w->resolver,
                            &w->result);
    return NULL;
}

static void cmd_concurrent(dance_cache *cache, unsigned n, const char *owner)
{
    worker w[PROBE_THREADS_MAX];
    pthread_barrier_t barrier;
    char err[DANCE_REASON_MAX];
    unsigned i, made = 0, started = 0;

    if (n == 0 || n > PROBE_THREADS_MAX) {
        printf("{\"error\":\"concurrent: 1 to %d threads\"}\n", PROBE_THREADS_MAX);
        return;
    }
    memset(w, 0, sizeof(w));
    for (i = 0; i < n; i++, made++) {
        w[i].resolver = dance_resolver_new(&g_rcfg, err, sizeof(err));
        if (w[i].resolver == NULL)
            break;
        w[i].cache = cache;
        w[i].barrier = &barrier;
        w[i].owner = owner;
    }
    if (made < n) {
        printf("{\"error\":");
        print_json_string(err);
        printf("}\n");
        goto out;
    }
    if (pthread_barrier_init(&barrier, NULL, n) != 0) {
        printf("{\"error\":\"pthread_barrier_init failed\"}\n");
        goto out;
    }
    for (i = 0; i < n; i++, started++)
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0)
            break;
    if (started < n) {
        /* cannot release the barrier without all threads: give up loudly */
        fprintf(stderr, "cache_probe: pthread_create failed\n");
        exit(1);
    }
    for (i = 0; i < n; i++)
        pthread_join(w[i].thread, NULL);
    pthread_barrier_destroy(&barrier);
    printf("{\"statuses\":[");
    for (i = 0; i < n; i++) {
        if (i > 0)
            putchar(',');
        print_json_string(dance_dns_answer_name(w[i].result.status));
    }
    printf("],\"records\":[");
    for (i = 0; i < n; i++) {
        if (i > 0)
            putchar(',');
        print_records(&w[i].result.records);
    }
    printf("]}\n");
out:
    for (i = 0; i < made; i++) {
        dance_tlsa_result_clear(&w[i].result);
        dance_resolver_free(w[i].resolver);
    }
}

static int parse_u32(const char *s, unsigned long *out)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    *out = strtoul(s, &end, 10);
    return *end == '\0' && *out <= 0xffffffffUL ? 0 : -1;
}

int main(int argc, char **argv)
{
    dance_cache_config ccfg;
    dance_cache *cache;
    dance_resolver *resolver;
    char err[DANCE_REASON_MAX];
    char line[1024];
    int i, fake = 0;

    memset(&ccfg, 0, sizeof(ccfg));
    memset(&g_rcfg, 0, sizeof(g_rcfg));
    ccfg.max_ttl = 3600;
    ccfg.negative_ttl = 60;
    for (i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long v = 0;

        if (strcmp(opt, "--fake-clock") == 0) {
            fake = 1;
            continue;
        }
        if (val == NULL) {
            fprintf(stderr, "cache_probe: %s needs a value\n", opt);
            return 2;
        }
        i++;
        if (strcmp(opt, "--resolver") == 0)
            g_rcfg.upstreams = val;
        else if (strcmp(opt, "--trust-anchor") == 0)
            g_rcfg.trust_anchor_file = val;
        else if (strcmp(opt, "--transport") == 0) {
            if (dance_dns_transport_parse(val, &g_rcfg.transport) != 0) {
                fprintf(stderr, "cache_probe: bad transport %s\n", val);
                return 2;
            }
        } else if (parse_u32(val, &v) != 0) {
            fprintf(stderr, "cache_probe: %s: bad number %s\n", opt, val);
            return 2;
        } else if (strcmp(opt, "--timeout") == 0)
            g_rcfg.timeout_ms = (unsigned)v;
        else if (strcmp(opt, "--min-ttl") == 0)
            ccfg.min_ttl = (uint32_t)v;
        else if (strcmp(opt, "--max-ttl") == 0)
            ccfg.max_ttl = (uint32_t)v;
        else if (strcmp(opt, "--negative-ttl") == 0)
            ccfg.negative_ttl = (uint32_t)v;
        else if (strcmp(opt, "--failure-ttl") == 0)
            ccfg.failure_ttl = (uint32_t)v;
        else if (strcmp(opt, "--capacity") == 0)
            ccfg.capacity = v;
        else if (strcmp(opt, "--fetch-delay-ms") == 0)
            g_fetch_delay_ms = (unsigned)v;
        else {
            fprintf(stderr, "cache_probe: unknown option %s\n", opt);
            return 2;
        }
    }
    if (fake)
        ccfg.clock = fake_clock;
    if (dance_resolver_config_check(&g_rcfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "cache_probe: %s\n", err);
        return 2;
    }
    resolver = dance_resolver_new(&g_rcfg, err, sizeof(err));
    if (resolver == NULL) {
        fprintf(stderr, "cache_probe: %s\n", err);
        return 1;
    }
    cache = dance_cache_new(&ccfg);
    if (cache == NULL) {
        fprintf(stderr, "cache_probe: out of memory\n");
        dance_resolver_free(resolver);
        return 1;
    }

    while (fgets(line, sizeof(line), stdin) != NULL) {
        char *cmd, *arg1, *arg2, *save = NULL;
        unsigned long v;

        line[strcspn(line, "\r\n")] = '\0';
        cmd = strtok_r(line, " \t", &save);
        if (cmd == NULL)
            continue;
        arg1 = strtok_r(NULL, " \t", &save);
        arg2 = strtok_r(NULL, " \t", &save);
        if (strcmp(cmd, "quit") == 0)
            break;
        if ((strcmp(cmd, "lookup") == 0 || strcmp(cmd, "direct") == 0) && arg1) {
            dance_tlsa_result r;
            dance_cache_stats before, after;
            uint64_t t0 = now_ms();

            memset(&r, 0, sizeof(r));
            if (cmd[0] == 'l') {
                dance_cache_get_stats(cache, &before);
                (void)dance_cache_fetch(cache, arg1, probe_fetch, resolver, &r);
                dance_cache_get_stats(cache, &after);
                print_result(&r, after.hits > before.hits, now_ms() - t0);
            } else {
                probe_fetch(resolver, arg1, &r);
                print_result(&r, 0, now_ms() - t0);
            }
            dance_tlsa_result_clear(&r);
        } else if (strcmp(cmd, "concurrent") == 0 && arg2
                   && parse_u32(arg1, &v) == 0) {
            cmd_concurrent(cache, (unsigned)v, arg2);
        } else if (strcmp(cmd, "advance") == 0 && parse_u32(arg1, &v) == 0) {
            if (!fake) {
                printf("{\"error\":\"advance needs --fake-clock\"}\n");
            } else {
                atomic_fetch_add(&g_fake_now_ms, (uint64_t)v * 1000u);
                printf("{\"clock_ms\":%llu}\n",
                       (unsigned long long)atomic_load(&g_fake_now_ms));
            }
        } else if (strcmp(cmd, "flush") == 0) {
            dance_cache_flush(cache);
            printf("{\"ok\":true}\n");
        } else if (strcmp(cmd, "stats") == 0) {
            dance_cache_stats s;

            dance_cache_get_stats(cache, &s);
            printf("{\"hits\":%llu,\"misses\":%llu,\"queries\":%llu,"
                   "\"failures\":%llu,\"evictions\":%llu,\"entries\":%llu}\n",
                   (unsigned long long)s.hits, (unsigned long long)s.misses,
                   (unsigned long long)s.queries, (unsigned long long)s.failures,
                   (unsigned long long)s.evictions, (unsigned long long)s.entries);
        } else {
            printf("{\"error\":\"unknown command\"}\n");
        }
        fflush(stdout);
    }
    dance_cache_free(cache);
    dance_resolver_free(resolver);
    return 0;
}
