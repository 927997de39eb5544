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

/* Per-message log lines allowed per second, in each class. */
#define MSG_LOG_PER_SECOND 20

/* Debug lines (one per verified message) have a budget of their own:
 * sharing one would let a sender with a valid key hide refusals and
 * denials by publishing 20 good messages a second. */
enum { CLASS_NOTICE, CLASS_DEBUG, CLASS_COUNT };

struct mdp_log_limiter {
    uint64_t window_ms;         /* start of the current second */
    struct {
        unsigned lines;         /* lines logged in it */
        uint64_t suppressed;    /* lines dropped in it */
    } cls[CLASS_COUNT];
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
    int c = level == MOSQ_LOG_DEBUG ? CLASS_DEBUG : CLASS_NOTICE;
    char line[1024];
    va_list ap;

    if (now - l->window_ms >= 1000) {
        for (int i = 0; i < CLASS_COUNT; i++) {
            if (l->cls[i].suppressed > 0)
                mosquitto_log_printf(i == CLASS_DEBUG ? MOSQ_LOG_DEBUG : MOSQ_LOG_NOTICE,
                                     "dance: %llu %smessage log lines suppressed "
                                     "(more than %d per second)",
                                     (unsigned long long)l->cls[i].suppressed,
                                     i == CLASS_DEBUG ? "debug " : "", MSG_LOG_PER_SECOND);
            l->cls[i].lines = 0;
            l->cls[i].suppressed = 0;
        }
        l->window_ms = now;
    }
    if (l->cls[c].lines >= MSG_LOG_PER_SECOND) {
        l->cls[c].suppressed++;
        return;
    }
    l->cls[c].lines++;
    va_start(ap, fmt);
    dance_vset_err(line, sizeof(line), fmt, ap);   /* escaped: one safe line */
    va_end(ap);
    mosquitto_log_printf(level, "%s", line);
}
