/*
 * example_common.c - MQTT v5 over mutual TLS for the examples, option and
 * output helpers (see example_common.h).
 *
 * We drive libmosquitto's network loop ourselves (mosquitto_loop) rather
 * than with mosquitto_loop_start: the examples are single-threaded, wait
 * for one event at a time with a deadline, and so need no locking between
 * callbacks and the main flow.
 *
 * TLS session resumption. A device that reconnects (after a refusal such
 * as the DANCE plugin's "lookup pending", or a lost connection) should
 * resume its TLS session: the broker then skips the certificate exchange
 * and its signature checks. libmosquitto 2.0.11 has no call for it: it
 * makes the SSL and starts the handshake inside mosquitto_connect, and
 * OpenSSL clients resume only what SSL_set_session gave that SSL before
 * its ClientHello. So the TLS context is ours (MOSQ_OPT_SSL_CTX): a
 * new-session callback keeps the broker's newest ticket, and an info
 * callback at SSL_CB_HANDSHAKE_START - after SSL_new, before the
 * ClientHello is built - hands it to the SSL libmosquitto made. The
 * context is configured completely here (CA, certificate, key, host name,
 * TLS 1.2 minimum) with MOSQ_OPT_SSL_CTX_WITH_DEFAULTS off. That option is
 * on by default and re-applies mosquitto_tls_set's settings (failing
 * without them); and in 2.0.11 the SSL ex-data index its server
 * certificate callback reads is set up only when libmosquitto makes the
 * context itself (net__init_tls), so we leave that callback out.
 */
#include "example_common.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
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
    SSL *ssl = mosquitto_ssl_get(mosq);

    (void)flags; (void)props;
    /* Now, while the connection still exists: libmosquitto closes it
     * (and frees the SSL) right after a refusal. */
    s->resumed = ssl != NULL && SSL_session_reused(ssl) == 1;
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

/* on_new_session - OpenSSL has a session ticket from the broker: keep a
 * copy of the newest. A copy, because OpenSSL may later mark the live
 * connection's own session object not resumable (a connection that ends
 * without close_notify), which must not cost us the ticket. Returns 0:
 * OpenSSL keeps its reference. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    ex_session *s = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    SSL_SESSION *copy;

    if (s == NULL || (copy = SSL_SESSION_dup(sess)) == NULL)
        return 0;       /* no copy: the next connect is a full handshake */
    SSL_SESSION_free(s->tls_session);
    s->tls_session = copy;
    return 0;
}

/* on_tls_info - at the start of a handshake on an SSL libmosquitto made
 * from our context, before the ClientHello: offer the kept session. */
static void on_tls_info(const SSL *ssl, int where, int ret)
{
    ex_session *s = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

    (void)ret;
    if (!(where & SSL_CB_HANDSHAKE_START) || !SSL_in_before(ssl) || s == NULL
        || s->tls_session == NULL || !SSL_SESSION_is_resumable(s->tls_session))
        return;
    /* The callback gets the SSL as const; it is libmosquitto's connection
     * object, not yet in use, and SSL_set_session is the documented way to
     * offer a session before the handshake. A failure only means a full
     * handshake. */
    if (SSL_set_session((SSL *)(uintptr_t)ssl, s->tls_session) != 1)
        ERR_clear_error();
}

/* tls_fail - print what failed with OpenSSL's reason; returns NULL */
static SSL_CTX *tls_fail(const char *prog, SSL_CTX *ctx, const char *what,
                         const char *file)
{
    unsigned long e = ERR_peek_last_error();

    fprintf(stderr, "%s: %s %s: %s\n", prog, what, file ? file : "",
            e ? ERR_reason_error_string(e) : "unknown error");
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

/* readable - whether file can be opened for reading; prints why not
 * (OpenSSL's own message for a missing file names no file) */
static bool readable(const char *prog, const char *opt, const char *file)
{
    FILE *f = fopen(file, "r");

    if (f == NULL) {
        fprintf(stderr, "%s: cannot read %s %s: %s\n", prog, opt, file, strerror(errno));
        return false;
    }
    fclose(f);
    return true;
}

/* tls_context - our client TLS context: TLS 1.2 minimum, the broker's
 * certificate checked against cafile and its name against host (IP
 * addresses against its IP SANs), our certificate and key, and the
 * session callbacks above. NULL after printing why. */
static SSL_CTX *tls_context(const char *prog, const ex_tls *tls, ex_session *s)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    X509_VERIFY_PARAM *param;
    int ok;

    if (ctx == NULL)
        return tls_fail(prog, NULL, "cannot create a TLS context", NULL);
    if (tls->cafile == NULL || tls->cert == NULL || tls->key == NULL) {
        fprintf(stderr, "%s: --cafile, --cert and --key are required\n", prog);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (!readable(prog, "--cafile", tls->cafile) || !readable(prog, "--cert", tls->cert)
        || !readable(prog, "--key", tls->key)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
        return tls_fail(prog, ctx, "cannot require TLS 1.2", NULL);
    if (SSL_CTX_load_verify_locations(ctx, tls->cafile, NULL) != 1)
        return tls_fail(prog, ctx, "cannot use --cafile", tls->cafile);
    if (SSL_CTX_use_certificate_chain_file(ctx, tls->cert) != 1)
        return tls_fail(prog, ctx, "cannot use --cert", tls->cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, tls->key, SSL_FILETYPE_PEM) != 1)
        return tls_fail(prog, ctx, "cannot use --key", tls->key);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return tls_fail(prog, ctx, "--key does not belong to --cert", tls->key);
    /* The broker's name: libmosquitto's own check is not installed on a
     * context it did not configure, so OpenSSL's checks it. */
    param = SSL_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = X509_VERIFY_PARAM_set1_ip_asc(param, tls->host);
    if (ok != 1) {
        ERR_clear_error();      /* not an IP address: a host name */
        ok = X509_VERIFY_PARAM_set1_host(param, tls->host, 0);
    }
    if (ok != 1)
        return tls_fail(prog, ctx, "cannot check the broker's name against --host",
                        tls->host);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* Client-side caching only to get the new-session callback; we keep
     * the one session ourselves. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT
                                        | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    SSL_CTX_set_info_callback(ctx, on_tls_info);
    if (SSL_CTX_set_app_data(ctx, s) != 1)
        return tls_fail(prog, ctx, "cannot set up TLS session resumption", NULL);
    return ctx;
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
    s->ssl_ctx = tls_context(prog, tls, s);
    if (s->ssl_ctx == NULL) {
        ex_session_free(s);
        return NULL;
    }
    /* libmosquitto takes its own reference on the context; its defaults
     * (on unless switched off) would re-apply mosquitto_tls_set settings
     * we do not use, and fail without them. */
    rc = mosquitto_void_option(s->mosq, MOSQ_OPT_SSL_CTX, s->ssl_ctx);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_int_option(s->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "%s: cannot give libmosquitto the TLS context: %s\n", prog,
                mosquitto_strerror(rc));
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

    s->connack = s->connected = s->disconnected = s->closing = s->resumed = false;
    s->connack_rc = s->disconnect_rc = 0;
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
    SSL_CTX_free(s->ssl_ctx);
    SSL_SESSION_free(s->tls_session);
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
