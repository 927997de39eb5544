/*
 * example_common.h - what the two example programs (device_publisher,
 * backend_subscriber) share: an MQTT v5 session over mutual TLS with
 * libmosquitto, driven by our own loop so that a program can wait for one
 * event with a deadline, plus small option and output helpers.
 *
 * Ownership: an ex_session owns its struct mosquitto; ex_session_free
 * (NULL-safe) disconnects and frees it. Callers set the message/publish
 * callbacks they need on session->mosq themselves, with the session as
 * user data.
 */
#ifndef EXAMPLE_COMMON_H
#define EXAMPLE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <mosquitto.h>
#include <openssl/ssl.h>

/* Exit statuses shared by both examples (documented in their --help). */
enum {
    EX_OK = 0,
    EX_FAILED = 1,          /* publisher: connection refused; subscriber: count not reached */
    EX_USAGE = 2,           /* bad option, unreadable file */
    EX_LOST = 3             /* disconnected by the broker (or the network) */
};

typedef struct ex_tls {
    const char *host;       /* broker host name or address */
    int port;
    const char *cafile;     /* CA of the broker's server certificate */
    const char *cert;       /* our client certificate (PEM) */
    const char *key;        /* its private key */
    const char *client_id;
} ex_tls;

typedef struct ex_session {
    struct mosquitto *mosq;
    const char *prog;       /* for messages */
    bool connack;           /* a CONNACK arrived */
    int connack_rc;         /* its reason code (0: accepted) */
    bool connected;
    bool disconnected;      /* the connection ended */
    int disconnect_rc;      /* 0: we asked for it */
    bool closing;           /* we sent DISCONNECT */
    void *app;              /* the program's own state */
    SSL_CTX *ssl_ctx;       /* ours, lent to libmosquitto (MOSQ_OPT_SSL_CTX) */
    SSL_SESSION *tls_session; /* the broker's newest ticket, to resume with */
    bool resumed;           /* the last handshake resumed tls_session */
} ex_session;

/* ex_session_new - an MQTT v5 client with TLS set up (TLS 1.2 or later,
 * server certificate checked against cafile, host name checked), not yet
 * connected. It keeps the TLS session the broker last gave it (a TLS 1.3
 * ticket) and resumes it on the next connect, refused or not, so that a
 * retry costs the broker an abbreviated handshake instead of a full one.
 * NULL with a message on stderr on failure. */
ex_session *ex_session_new(const char *prog, const ex_tls *tls, void *app);

/* ex_bound_client_id - "<identity>/<suffix>" in buf, the identity being
 * the one dNSName of the certificate in cert_file: brokers with the DANCE
 * plugin refuse client ids not bound to the identity
 * (plugin_opt_client_id_binding). Just suffix when the certificate has no
 * single name. Returns buf. */
const char *ex_bound_client_id(const char *cert_file, const char *suffix,
                               char *buf, size_t buflen);

/* ex_session_connect - connect (again, after a refusal or a lost
 * connection) and wait up to timeout_ms for the CONNACK. Returns 0 when
 * accepted; otherwise prints why ("REFUSED ..." for a CONNACK refusal, a
 * TLS/network reason otherwise) and returns -1, s->connack_rc telling a
 * refusal's reason code. s->resumed says whether the handshake resumed
 * the kept TLS session. */
int ex_session_connect(ex_session *s, const ex_tls *tls, unsigned timeout_ms);

/* ex_session_pump - run the network loop for up to timeout_ms (at least one
 * round). Returns -1 once the connection has ended, else 0. */
int ex_session_pump(ex_session *s, unsigned timeout_ms);

/* ex_session_close - send DISCONNECT and let it go out. */
void ex_session_close(ex_session *s);
void ex_session_free(ex_session *s);

/* ex_now_ms - monotonic milliseconds. */
unsigned long long ex_now_ms(void);

/* ex_parse_ulong - strict decimal in [min, max]; prints the error itself
 * ("prog: --count 'x': expected a number from 0 to 1000000"). 0 or -1. */
int ex_parse_ulong(const char *prog, const char *opt, const char *s,
                   unsigned long min, unsigned long max, unsigned long *out);

/* ex_print_safe - write len bytes to f with control characters and bytes
 * over 0x7e shown as '.', at most max bytes (then "..."), so that a hostile
 * payload cannot garble the terminal or forge output lines. */
void ex_print_safe(FILE *f, const unsigned char *p, size_t len, size_t max);

/* ex_stop_requested - true after SIGINT/SIGTERM (installed by
 * ex_install_signals). */
void ex_install_signals(void);
bool ex_stop_requested(void);

#endif
