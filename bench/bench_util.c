/*
 * bench/bench_util.c - clocks, percentiles, base64url, RSS and fatal
 * errors for the benchmark programs (bench_util.h).
 */
#include "bench_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *g_prog = "bench";

void bu_set_prog(const char *name)
{
    const char *slash = strrchr(name, '/');

    g_prog = slash ? slash + 1 : name;
}

void bu_die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", g_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(NULL);
    exit(2);
}

uint64_t bu_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bu_sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void *bu_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        bu_die("out of memory (%zu bytes)", n);
    return p;
}

void *bu_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        bu_die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

char *bu_xstrdup(const char *s)
{
    char *p = strdup(s);

    if (p == NULL)
        bu_die("out of memory");
    return p;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

void bu_sort_u64(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_u64);
}

uint64_t bu_pct_u64(const uint64_t *v, size_t n, double p)
{
    size_t rank;

    if (n == 0)
        return 0;
    /* nearest rank: the smallest value with at least p% at or below it */
    rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

unsigned char *bu_b64url_decode(const char *s, size_t len, size_t *outlen)
{
    unsigned char *out = bu_xmalloc(len * 3 / 4 + 3);
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            bu_die("bad base64url character in our own signature");
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *outlen = o;
    return out;
}

size_t bu_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;

    if (f == NULL)
        bu_die("cannot open /proc/self/statm: %s", strerror(errno));
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        bu_die("cannot read /proc/self/statm");
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

long bu_arg_long(const char *opt, const char *val, long min, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(val ? val : "", &end, 10);
    if (val == NULL || *val == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
        bu_die("%s '%s': expected a whole number from %ld to %ld", opt,
               val ? val : "", min, max);
    return v;
}

double bu_arg_double(const char *opt, const char *val, double min, double max)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(val ? val : "", &end);
    if (val == NULL || *val == '\0' || *end != '\0' || errno != 0 || !(v >= min && v <= max))
        bu_die("%s '%s': expected a number from %g to %g", opt, val ? val : "", min, max);
    return v;
}
