/*
 * bench/bench_mqtt.c - minimal MQTT 3.1.1 over TLS for the load generators
 * (bench_mqtt.h).
 */
#include "bench_mqtt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "bench_util.h"

#define BM_IN_CHUNK (64 * 1024)

void bm_init(void)
{
    OPENSSL_init_ssl(0, NULL);
    /* a write to a connection the broker closed must fail with EPIPE and
     * be reported, not kill the program silently */
    signal(SIGPIPE, SIG_IGN);
}

static SSL_CTX *tls_ctx(const char *cert, const char *key, bool tickets)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL)
        bu_die("SSL_CTX_new failed");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    /* sessions are kept by hand (bm_session), never in a cache */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (!tickets)
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        bu_die("cannot load client certificate %s", cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        bu_die("cannot load client key %s", key);
    return ctx;
}

SSL_CTX *bm_tls_ctx(const char *cert, const char *key)
{
    return tls_ctx(cert, key, false);
}

SSL_CTX *bm_tls_ctx_resumable(const char *cert, const char *key)
{
    return tls_ctx(cert, key, true);
}

void bm_set_timeout(bm_conn *c, int timeout_ms)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void ssl_reason(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();

    snprintf(err, errlen, "%s: %s", what,
             e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "TLS error"
               : errno ? strerror(errno) : "connection closed");
    ERR_clear_error();
}

int bm_open(bm_conn *c, SSL_CTX *ctx, int port, int timeout_ms, char *err, size_t errlen)
{
    return bm_open_session(c, ctx, NULL, port, timeout_ms, err, errlen);
}

int bm_open_session(bm_conn *c, SSL_CTX *ctx, SSL_SESSION *sess, int port, int timeout_ms,
                    char *err, size_t errlen)
{
    struct sockaddr_in sa;
    int one = 1;

    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bm_set_timeout(c, timeout_ms);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(err, errlen, "connect to 127.0.0.1:%d: %s", port, strerror(errno));
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->in_cap = BM_IN_CHUNK;
    c->in = bu_xmalloc(c->in_cap);
    c->out_cap = 4096;
    c->out = bu_xmalloc(c->out_cap);
    if (ctx != NULL) {
        c->ssl = SSL_new(ctx);
        if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
            bu_die("SSL_new failed");
        if (sess != NULL && SSL_set_session(c->ssl, sess) != 1)
            bu_die("SSL_set_session failed");
        errno = 0;
        if (SSL_connect(c->ssl) != 1) {
            ssl_reason(err, errlen, "TLS handshake");
            bm_close(c, false);
            return -1;
        }
    }
    return 0;
}

bool bm_resumed(const bm_conn *c)
{
    return c->ssl != NULL && SSL_session_reused(c->ssl) == 1;
}

SSL_SESSION *bm_session(bm_conn *c)
{
    SSL_SESSION *s;

    if (c->ssl == NULL || (s = SSL_get1_session(c->ssl)) == NULL)
        return NULL;
    if (SSL_SESSION_is_resumable(s) != 1) {
        SSL_SESSION_free(s);
        return NULL;
    }
    /* SSL_free on a connection without a TLS shutdown marks its session
     * not resumable; the MQTT exchange is over, so say it was shut down
     * (nothing is sent: the broker may have closed already) */
    SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    return s;
}

static void out_reserve(bm_conn *c, size_t more)
{
    if (c->out_len + more <= c->out_cap)
        return;
    while (c->out_len + more > c->out_cap)
        c->out_cap *= 2;
    c->out = realloc(c->out, c->out_cap);
    if (c->out == NULL)
        bu_die("out of memory");
}

static void put_u16(bm_conn *c, size_t v)
{
    c->out[c->out_len++] = (unsigned char)(v >> 8);
    c->out[c->out_len++] = (unsigned char)v;
}

static void put_header(bm_conn *c, uint8_t first, size_t remaining)
{
    c->out[c->out_len++] = first;
    do {
        uint8_t b = remaining % 128;
        remaining /= 128;
        if (remaining > 0)
            b |= 0x80;
        c->out[c->out_len++] = b;
    } while (remaining > 0);
}

void bm_queue_raw(bm_conn *c, const void *bytes, size_t len)
{
    out_reserve(c, len);
    memcpy(c->out + c->out_len, bytes, len);
    c->out_len += len;
}

void bm_queue_publish(bm_conn *c, const char *topic, const void *payload, size_t len,
                      int qos, uint16_t mid)
{
    size_t tl = strlen(topic), rem = 2 + tl + (qos ? 2 : 0) + len;

    out_reserve(c, rem + 5);
    put_header(c, (uint8_t)(0x30 | (qos << 1)), rem);
    put_u16(c, tl);
    memcpy(c->out + c->out_len, topic, tl);
    c->out_len += tl;
    if (qos)
        put_u16(c, mid);
    memcpy(c->out + c->out_len, payload, len);
    c->out_len += len;
}

void bm_queue_subscribe(bm_conn *c, const char *filter, int qos, uint16_t mid)
{
    size_t fl = strlen(filter), rem = 2 + 2 + fl + 1;

    out_reserve(c, rem + 5);
    put_header(c, 0x82, rem);
    put_u16(c, mid);
    put_u16(c, fl);
    memcpy(c->out + c->out_len, filter, fl);
    c->out_len += fl;
    c->out[c->out_len++] = (unsigned char)qos;
}

int bm_flush(bm_conn *c)
{
    size_t off = 0;

    while (off < c->out_len) {
        ssize_t n;
        if (c->ssl != NULL) {
            int w = SSL_write(c->ssl, c->out + off, (int)(c->out_len - off));
            if (w <= 0) {
                ERR_clear_error();
                return -1;
            }
            n = w;
        } else {
            n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return -1;
        }
        off += (size_t)n;
    }
    c->out_len = 0;
    return 0;
}

/* fill - read more bytes; 1 got some, 0 closed, -1 error/timeout */
static int fill(bm_conn *c)
{
    ssize_t n;

    if (c->in_off > 0 && c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
    } else if (c->in_off > c->in_cap / 2) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_len == c->in_cap) {
        c->in_cap *= 2;
        c->in = realloc(c->in, c->in_cap);
        if (c->in == NULL)
            bu_die("out of memory");
    }
    if (c->ssl != NULL) {
        int r = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len));
        if (r <= 0) {
            int e = SSL_get_error(c->ssl, r), saved = errno;
            ERR_clear_error();
            if (e == SSL_ERROR_ZERO_RETURN)
                return 0;
            /* the receive timeout (SO_RCVTIMEO) shows as EAGAIN; callers
             * tell it from a broken connection by errno */
            errno = e == SSL_ERROR_WANT_READ || (e == SSL_ERROR_SYSCALL
                    && (saved == EAGAIN || saved == EWOULDBLOCK)) ? EAGAIN : EIO;
            return -1;
        }
        n = r;
    } else {
        do {
            n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        } while (n < 0 && errno == EINTR);
        if (n == 0)
            return 0;
        if (n < 0)
            return -1;
    }
    c->in_len += (size_t)n;
    return 1;
}

int bm_read_packet(bm_conn *c, uint8_t *first, const unsigned char **body, size_t *len)
{
    for (;;) {
        size_t avail = c->in_len - c->in_off, rem = 0, i;
        unsigned mult = 1;
        int complete = 0;

        for (i = 1; i < avail && i <= 4; i++) {
            uint8_t b = c->in[c->in_off + i];
            rem += (size_t)(b & 0x7f) * mult;
            mult *= 128;
            if ((b & 0x80) == 0) {
                complete = 1;
                break;
            }
        }
        if (!complete && i > 4) {
            errno = EPROTO;     /* malformed length */
            return -1;
        }
        if (complete && avail >= i + 1 + rem) {
            *first = c->in[c->in_off];
            *body = c->in + c->in_off + i + 1;
            *len = rem;
            c->in_off += i + 1 + rem;
            return 1;
        }
        {
            int r = fill(c);
            if (r <= 0)
                return r;
        }
    }
}

int bm_parse_publish(uint8_t first, const unsigned char *body, size_t len,
                     const unsigned char **topic, size_t *topic_len,
                     const unsigned char **payload, size_t *payload_len)
{
    size_t tl, off;

    if (len < 2)
        return -1;
    tl = ((size_t)body[0] << 8) | body[1];
    off = 2 + tl + (((first >> 1) & 3) ? 2 : 0);
    if (off > len)
        return -1;
    *topic = body + 2;
    *topic_len = tl;
    *payload = body + off;
    *payload_len = len - off;
    return 0;
}

int bm_connect(bm_conn *c, const char *client_id, int keepalive, char *err, size_t errlen)
{
    static const unsigned char proto[] = { 0, 4, 'M', 'Q', 'T', 'T', 4 };
    size_t idl = strlen(client_id), rem = sizeof(proto) + 1 + 2 + 2 + idl;
    const unsigned char *body;
    uint8_t first;
    size_t len;
    int r;

    out_reserve(c, rem + 5);
    put_header(c, 0x10, rem);
    memcpy(c->out + c->out_len, proto, sizeof(proto));
    c->out_len += sizeof(proto);
    c->out[c->out_len++] = 0x02;        /* clean session */
    put_u16(c, (size_t)keepalive);
    put_u16(c, idl);
    memcpy(c->out + c->out_len, client_id, idl);
    c->out_len += idl;
    if (bm_flush(c) != 0) {
        snprintf(err, errlen, "sending CONNECT failed");
        return -1;
    }
    errno = 0;
    r = bm_read_packet(c, &first, &body, &len);
    if (r <= 0) {
        snprintf(err, errlen, "no CONNACK (%s)", r == 0 ? "connection closed"
                 : errno == EAGAIN ? "timeout" : "read error");
        return -1;
    }
    if ((first >> 4) != BM_CONNACK || len != 2) {
        snprintf(err, errlen, "expected CONNACK, got packet type %u", first >> 4);
        return -1;
    }
    if (body[1] != 0)
        snprintf(err, errlen, "CONNACK return code %u", body[1]);
    return body[1];
}

int bm_subscribe(bm_conn *c, const char *filter, int qos)
{
    const unsigned char *body;
    uint8_t first;
    size_t len;

    bm_queue_subscribe(c, filter, qos, 1);
    if (bm_flush(c) != 0)
        return -1;
    for (;;) {
        if (bm_read_packet(c, &first, &body, &len) != 1)
            return -1;
        if ((first >> 4) == BM_SUBACK)
            return (len >= 3 && body[2] != 0x80) ? 0 : -1;
    }
}

void bm_close(bm_conn *c, bool disconnect)
{
    if (c->fd >= 0 && c->in != NULL && disconnect) {
        static const unsigned char disc[] = { 0xe0, 0x00 };
        const unsigned char *body;
        uint8_t first;
        size_t len;

        c->out_len = 0;
        bm_queue_raw(c, disc, sizeof(disc));
        if (bm_flush(c) == 0) {
            bm_set_timeout(c, 1000);
            while (bm_read_packet(c, &first, &body, &len) == 1)
                ;
        }
    }
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0 && c->in != NULL)
        close(c->fd);
    c->fd = -1;
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->in_off = c->in_len = c->in_cap = c->out_len = c->out_cap = 0;
}
