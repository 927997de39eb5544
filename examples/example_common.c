/*
 * example_common.c - MQTT v5 over mutual TLS for the examples, option and
 * output helpers (see example_common.h).
 *
 * We drive libmosquitto's network loop ourselves (mosquitto_loop) rather
 * than with mosquitto_loop_start: the examples are single-threaded, wait
 * for one event at a time with a deadline, and so need no locking between
 * callbacks and the main flow.
 */
#include "example_common.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dance/name.h"
#include "dance/provision.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

void ex_install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool ex_stop_requested(void)
{
    return stop_flag != 0;
}

unsigned long long ex_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

int ex_parse_ulong(const char *prog, const char *opt, const char *s,
                   unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        goto bad;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        goto bad;
    *out = v;
    return 0;
bad:
    fprintf(stderr, "%s: --%s '%.40s': expected a number from %lu to %lu\n",
            prog, opt, s, min, max);
    return -1;
}

void ex_print_safe(FILE *f, const unsigned char *p, size_t len, size_t max)
{
    size_t i, n = len < max ? len : max;

    for (i = 0; i < n; i++)
        fputc(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.', f);
    if (n < len)
        fputs("...", f);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    ex_session *s = obj;

    (void)mosq; (void)flags; (void)props;
    s->connack = true;
    s->connack_rc = rc;
    s->connected = (rc == 0);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
                          const mosquitto_property *props)
{
    ex_session *s = obj;

    (void)mosq; (void)props;
    if (!s->disconnected)
        s->disconnect_rc = rc;
    s->disconnected = true;
    s->connected = false;
}

ex_session *ex_session_new(const char *prog, const ex_tls *tls, void *app)
{
    ex_session *s = calloc(1, sizeof(*s));
    int rc;

    if (s == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return NULL;
    }
    s->prog = prog;
    s->app = app;
    s->mosq = mosquitto_new(tls->client_id, true, s);
    if (s->mosq == NULL) {
        fprintf(stderr, "%s: cannot create an MQTT client: %s\n", prog, strerror(errno));
        free(s);
        return NULL;
    }
    mosquitto_int_option(s->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    /* The broker's certificate is checked against cafile and its name
     * against host (tls_insecure stays false). */
    rc = mosquitto_tls_set(s->mosq, tls->cafile, NULL, tls->cert, tls->key, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "%s: cannot use --cafile %s / --cert %s / --key %s: %s\n", prog,
                tls->cafile ? tls->cafile : "(none)", tls->cert ? tls->cert : "(none)",
                tls->key ? tls->key : "(none)", mosquitto_strerror(rc));
        ex_session_free(s);
        return NULL;
    }
    mosquitto_connect_v5_callback_set(s->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(s->mosq, on_disconnect);
    return s;
}

int ex_session_connect(ex_session *s, const ex_tls *tls, unsigned timeout_ms)
{
    unsigned long long deadline = ex_now_ms() + timeout_ms;
    int rc;

    /* Blocking TCP connect and TLS handshake; CONNECT is queued. */
    rc = mosquitto_connect(s->mosq, tls->host, tls->port, 30);
    if (rc != MOSQ_ERR_SUCCESS) {
        /* For MOSQ_ERR_ERRNO, mosquitto_strerror already gives strerror(errno). */
        fprintf(stderr, "%s: cannot connect to %s:%d: %s\n", s->prog, tls->host,
                tls->port, mosquitto_strerror(rc));
        return -1;
    }
    while (!s->connack && !s->disconnected && ex_now_ms() < deadline && !ex_stop_requested()) {
        rc = mosquitto_loop(s->mosq, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS && !s->connack) {
            s->disconnected = true;
            break;
        }
    }
    if (s->connack && s->connack_rc == 0)
        return 0;
    if (s->connack)
        fprintf(stderr, "%s: REFUSED by the broker: %s (reason code %d)\n", s->prog,
                mosquitto_reason_string(s->connack_rc), s->connack_rc);
    else if (s->disconnected)
        fprintf(stderr, "%s: the broker closed the connection before answering "
                "(TLS client certificate not accepted?)\n", s->prog);
    else
        fprintf(stderr, "%s: no answer from %s:%d within %u ms\n", s->prog, tls->host,
                tls->port, timeout_ms);
    return -1;
}

int ex_session_pump(ex_session *s, unsigned timeout_ms)
{
    unsigned long long deadline = ex_now_ms() + timeout_ms;

    do {
        unsigned long long now = ex_now_ms();
        int wait = deadline > now ? (int)(deadline - now) : 0;
        int rc;

        if (s->disconnected)
            return -1;
        rc = mosquitto_loop(s->mosq, wait > 100 ? 100 : wait, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            if (!s->disconnected)
                s->disconnect_rc = rc;
            s->disconnected = true;
            s->connected = false;
            return -1;
        }
    } while (ex_now_ms() < deadline && !ex_stop_requested());
    return s->disconnected ? -1 : 0;
}

void ex_session_close(ex_session *s)
{
    unsigned long long deadline;

    if (s == NULL || s->disconnected || !s->connected)
        return;
    s->closing = true;
    if (mosquitto_disconnect_v5(s->mosq, 0, NULL) != MOSQ_ERR_SUCCESS)
        return;
    deadline = ex_now_ms() + 1000;
    while (!s->disconnected && ex_now_ms() < deadline)
        if (mosquitto_loop(s->mosq, 100, 1) != MOSQ_ERR_SUCCESS)
            break;
}

void ex_session_free(ex_session *s)
{
    if (s == NULL)
        return;
    ex_session_close(s);
    mosquitto_destroy(s->mosq);
    free(s);
}

const char *ex_bound_client_id(const char *cert_file, const char *suffix,
                               char *buf, size_t buflen)
{
    char identity[DANCE_NAME_MAX + 1], err[512];

    if (dance_cert_file_identity(cert_file, identity, sizeof(identity), err,
                                 sizeof(err)) == 0)
        snprintf(buf, buflen, "%s/%s", identity, suffix);
    else
        snprintf(buf, buflen, "%s", suffix);
    return buf;
}
