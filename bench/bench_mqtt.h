/*
 * bench/bench_mqtt.h - a minimal MQTT 3.1.1 client over TLS (raw sockets +
 * OpenSSL) for the load generators.
 *
 * Why not libmosquitto: the load generators share the CPU with the broker
 * they measure, so they must cost as little as possible, batch many
 * PUBLISH packets into one TLS record, and make full TLS handshakes on many threads
 * without a network thread per connection. This client does just that:
 * blocking sockets with timeouts, one connection per thread, no session
 * resumption unless asked for (every handshake is a full one, as for a
 * device that just booted; bm_tls_ctx_resumable and bm_open_session let a
 * storm client resume as a well-behaved device does on a retry), no
 * retries, QoS 0 and 1 PUBLISH, SUBSCRIBE, DISCONNECT.
 *
 * The client does not verify the broker's certificate: the benchmarks talk
 * only to 127.0.0.1 and measure the broker's side of mutual TLS; the
 * handshake itself (key exchange, the broker's signature, our client
 * certificate) is complete.
 */
#ifndef BENCH_MQTT_H
#define BENCH_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

typedef struct bm_conn {
    int fd;
    SSL *ssl;                   /* NULL: plain TCP */
    unsigned char *in;          /* read buffer */
    size_t in_off, in_len, in_cap;
    unsigned char *out;         /* write buffer (bm_queue_*, bm_flush) */
    size_t out_len, out_cap;
} bm_conn;

/* MQTT control packet types (upper nibble of the first byte). */
enum {
    BM_CONNECT = 1, BM_CONNACK = 2, BM_PUBLISH = 3, BM_PUBACK = 4,
    BM_SUBSCRIBE = 8, BM_SUBACK = 9, BM_PINGREQ = 12, BM_PINGRESP = 13,
    BM_DISCONNECT = 14
};

/* bm_init - OpenSSL init; call once before threads start. */
void bm_init(void);

/* bm_tls_ctx - client context with certificate and key (PEM files); dies
 * on failure. No server verification, no session cache. */
SSL_CTX *bm_tls_ctx(const char *cert, const char *key);

/* bm_tls_ctx_resumable - the same, but accepting the broker's TLS 1.3
 * session tickets, so that a session can be kept (bm_session) and resumed
 * (bm_open_session). */
SSL_CTX *bm_tls_ctx_resumable(const char *cert, const char *key);

/* bm_open - TCP connect to 127.0.0.1:port (TCP_NODELAY), then the TLS
 * handshake when ctx is not NULL. timeout_ms bounds every later read and
 * write too. Returns 0, or -1 with the reason in err. */
int bm_open(bm_conn *c, SSL_CTX *ctx, int port, int timeout_ms, char *err, size_t errlen);

/* bm_open_session - bm_open offering a session to resume (NULL: none); the
 * broker may still make a full handshake (bm_resumed tells). */
int bm_open_session(bm_conn *c, SSL_CTX *ctx, SSL_SESSION *sess, int port, int timeout_ms,
                    char *err, size_t errlen);

/* bm_resumed - true when the connection's handshake resumed a session. */
bool bm_resumed(const bm_conn *c);

/* bm_session - the connection's session (a reference the caller frees with
 * SSL_SESSION_free) when it can be resumed, else NULL. With TLS 1.3 the
 * tickets arrive after the handshake: call it once a packet was read (e.g.
 * after bm_connect). It also keeps bm_close from marking the session
 * unusable, which OpenSSL does for a connection freed without a TLS
 * shutdown. */
SSL_SESSION *bm_session(bm_conn *c);

/* bm_connect - send CONNECT (clean session, MQTT 3.1.1) and read CONNACK.
 * Returns the CONNACK return code (0 accepted, 5 not authorized, ...) or
 * -1 when the broker closed or timed out (reason in err). */
int bm_connect(bm_conn *c, const char *client_id, int keepalive, char *err, size_t errlen);

/* bm_queue_publish - append a PUBLISH to the write buffer (mid used for
 * qos 1). */
void bm_queue_publish(bm_conn *c, const char *topic, const void *payload, size_t len,
                      int qos, uint16_t mid);
/* bm_queue_subscribe - append a SUBSCRIBE for one filter. */
void bm_queue_subscribe(bm_conn *c, const char *filter, int qos, uint16_t mid);
/* bm_queue_raw - append a fixed packet (e.g. DISCONNECT "\xe0\x00"). */
void bm_queue_raw(bm_conn *c, const void *bytes, size_t len);

/* bm_flush - write the buffer out. 0, or -1 on error. */
int bm_flush(bm_conn *c);

/* bm_read_packet - next packet (blocking up to the timeout). *first is the
 * fixed header's first byte; body points into the connection's buffer and
 * is valid until the next read. Returns 1, 0 on orderly close, -1 on error
 * or timeout (errno EAGAIN: the receive timeout passed, nothing is lost). */
int bm_read_packet(bm_conn *c, uint8_t *first, const unsigned char **body, size_t *len);

/* bm_parse_publish - split a PUBLISH body into topic and payload (QoS from
 * the first byte). Returns 0, or -1 when malformed. */
int bm_parse_publish(uint8_t first, const unsigned char *body, size_t len,
                     const unsigned char **topic, size_t *topic_len,
                     const unsigned char **payload, size_t *payload_len);

/* bm_subscribe - queue SUBSCRIBE, flush, wait for SUBACK (skipping other
 * packets). 0, or -1. */
int bm_subscribe(bm_conn *c, const char *filter, int qos);

/* bm_close - optionally send DISCONNECT and wait (briefly) for the broker
 * to close first, so that TIME_WAIT stays on the broker's side; then free
 * everything. Safe on a zeroed or already closed conn. */
void bm_close(bm_conn *c, bool disconnect);

/* bm_set_timeout - change the read/write timeout of an open connection. */
void bm_set_timeout(bm_conn *c, int timeout_ms);

#endif
