/*
 * bench/bench_util.h - small helpers shared by the benchmark programs:
 * clocks, sorting and percentiles, base64url, process memory, and a
 * fatal-error exit.
 *
 * The benchmark programs are measuring tools, not library code: on any
 * unexpected failure they print one line saying what failed and exit with
 * status 2, so that the driver (bench/bench.py) reports the figure as
 * broken instead of printing a number measured on a half-working setup.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* bu_now_ns - CLOCK_MONOTONIC in nanoseconds. */
uint64_t bu_now_ns(void);

/* bu_sleep_ns - nanosleep, restarted after signals. */
void bu_sleep_ns(uint64_t ns);

/* bu_die - print "PROG: message" (printf format) to stderr and exit(2). */
void bu_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* bu_set_prog - program name for bu_die. */
void bu_set_prog(const char *name);

/* bu_xmalloc / bu_xcalloc / bu_xstrdup - allocate or die. */
void *bu_xmalloc(size_t n);
void *bu_xcalloc(size_t n, size_t size);
char *bu_xstrdup(const char *s);

/* bu_sort_u64 - ascending, in place. */
void bu_sort_u64(uint64_t *v, size_t n);

/* bu_pct_u64 - the p-th percentile (0..100, nearest rank) of sorted v;
 * 0 when n is 0. */
uint64_t bu_pct_u64(const uint64_t *v, size_t n, double p);

/* bu_b64url_decode - strict-enough base64url (no padding) into a malloc'd
 * buffer; dies on bad input (inputs are our own signatures). */
unsigned char *bu_b64url_decode(const char *s, size_t len, size_t *outlen);

/* bu_rss_bytes - resident set size of this process (from /proc/self/statm). */
size_t bu_rss_bytes(void);

/* bu_arg_* - parse numeric option values or die naming the option. */
long bu_arg_long(const char *opt, const char *val, long min, long max);
double bu_arg_double(const char *opt, const char *val, double min, double max);

#endif
