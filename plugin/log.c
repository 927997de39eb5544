/*
 * plugin/log.c - the plugin's clock and log helpers (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "dance/cache.h"
#include "dance/error.h"

/* Per-message log lines allowed per second. */
#define MSG_LOG_PER_SECOND 20

struct mdp_log_limiter {
    uint64_t window_ms;         /* start of the current second */
    unsigned lines;             /* lines logged in it */
    uint64_t suppressed;        /* lines dropped in it */
};

uint64_t mdp_plugin_now_ms(void)
{
    return dance_clock_monotonic_ms(NULL);
}

const char *mdp_log_safe(const char *s, char *buf, size_t buflen)
{
    if (s == NULL)
        s = "-";
    return dance_escape(s, strlen(s), buf, buflen);
}

mdp_log_limiter *mdp_log_limiter_new(void)
{
    return calloc(1, sizeof(mdp_log_limiter));
}

void mdp_log_limiter_free(mdp_log_limiter *l)
{
    free(l);
}

void mdp_log_limited(mdp_log_limiter *l, int level, const char *fmt, ...)
{
    uint64_t now = mdp_plugin_now_ms();
    char line[1024];
    va_list ap;

    if (now - l->window_ms >= 1000) {
        if (l->suppressed > 0)
            mosquitto_log_printf(MOSQ_LOG_NOTICE, "dance: %llu message log lines "
                                 "suppressed (more than %d per second)",
                                 (unsigned long long)l->suppressed,
                                 MSG_LOG_PER_SECOND);
        l->window_ms = now;
        l->lines = 0;
        l->suppressed = 0;
    }
    if (l->lines >= MSG_LOG_PER_SECOND) {
        l->suppressed++;
        return;
    }
    l->lines++;
    va_start(ap, fmt);
    dance_vset_err(line, sizeof(line), fmt, ap);   /* escaped: one safe line */
    va_end(ap);
    mosquitto_log_printf(level, "%s", line);
}
