/*
 * plugin/log.h - the plugin's clock and its log helpers, shared by every
 * module (none of which depends on plugin.c).
 *
 * Broker thread only, except mdp_plugin_now_ms (any thread).
 */
#ifndef MDP_LOG_H
#define MDP_LOG_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic milliseconds (the library's clock). */
uint64_t mdp_plugin_now_ms(void);

/* s escaped for a quoted log field (dance_escape; NULL as "-"): client
 * ids, usernames and topics are client-controlled. Returns buf. */
const char *mdp_log_safe(const char *s, char *buf, size_t buflen);

/* A cap on per-message log lines (refusals, drops, denials; debug lines
 * have a cap of their own), so that a flood of bad messages cannot flood
 * the log; counters see everything. */
typedef struct mdp_log_limiter mdp_log_limiter;

mdp_log_limiter *mdp_log_limiter_new(void);     /* NULL on ENOMEM */
void mdp_log_limiter_free(mdp_log_limiter *l);  /* NULL-safe */

/* mdp_log_limited - a log line that counts against l's per-second cap;
 * the line is escaped into one safe line. */
void mdp_log_limited(mdp_log_limiter *l, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
