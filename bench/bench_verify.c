/*
 * bench/bench_verify.c - figures verify-es256, verify-ed25519, verify-rs256
 * and verify-cose-es256: libdance's verification of compact JWS (or, with
 * --cose, COSE_Sign1) with a warm cache against raw OpenSSL EVP
 * verification of the same signatures with the same keys.
 *
 *   bench_verify --alg es256|ed25519|rs256 [--cose] [--rounds N] [--seconds S]
 *                [--senders N] [--messages N] [--only lib|raw] [--no-key-cache]
 *
 * Setup (not timed): --senders keys of the algorithm's type, --messages
 * compact JWS signed with them by dance_jws_sign (kid = sender name, iat,
 * a 40-byte JSON payload), one TLSA 3 1 0 record (the SPKI) per sender put
 * into a dance_cache, and one pass over all messages so that the JWS key
 * cache holds every decoded key.
 *
 * "lib" per message: dance_jws_verify_message (parse, allow-list, owner
 * name, cache hit, key cache hit, signature, payload decoding) - the call
 * the CLI and end-to-end subscribers make; every verdict must be OK.
 * "raw" per message: EVP_MD_CTX_new, EVP_DigestVerifyInit with the same
 * EVP_PKEY, EVP_DigestVerify over the same signing input, EVP_MD_CTX_free
 * (the ECDSA signature converted to DER beforehand: the raw baseline gets
 * its input in OpenSSL's format for free).
 *
 * --cose: the messages are tagged COSE_Sign1 from dance_cose_sign (the same
 * header: kid, iat) and the library call is the same
 * dance_jws_verify_message (it tells the formats apart). The raw baseline's
 * signing input is the Sig_structure ["Signature1", protected, h'',
 * payload], built beforehand with libcbor from the decoded message (not
 * with libdance's own parser). The average message size is printed as
 * "msg_bytes", and "jws_bytes" that of compact JWS of the same payloads and
 * header signed with the same keys.
 *
 * Rounds alternate the order (lib,raw then raw,lib, ...) so that drift in
 * machine load hits both sides alike. Output, one line per timed run:
 *   run lib <msgs/s>
 *   run raw <msgs/s>
 * and at the end "dns_queries <n>" (must be 0: the cache was warm),
 * "msg_bytes <average>" and, with --cose, "jws_bytes <average>".
 * Single-threaded on purpose: both figures are per-core rates.
 *
 * --no-key-cache: the library decodes the key from the cached record for
 * every message, what a sender outside the plugin's key_cache_size costs
 * (a what-if, not a figure of record).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cbor.h>

#include "bench_offline.h"
#include "bench_util.h"
#include "dance/cache.h"
#include "dance/cose.h"
#include "dance/jws.h"
#include "dance/keycache.h"
#include "dance/name.h"
#include "dance/provision.h"
#include "dance/resolver.h"

typedef struct msg {
    unsigned char *data;        /* compact JWS, or COSE_Sign1 */
    size_t len;
    int sender;
    /* raw baseline input */
    unsigned char *si;          /* signing input (into data for JWS; the
                                   Sig_structure, owned, for COSE) */
    size_t si_len;
    unsigned char *sig;         /* DER for ECDSA, as is otherwise */
    size_t sig_len;
} msg;

typedef struct setup {
    dance_key_type ktype;
    const EVP_MD *md;           /* NULL for Ed25519 */
    bool cose;                  /* --cose */
    double jws_bytes;           /* with cose: average size of the same as JWS */
    int nsenders, nmsgs;
    EVP_PKEY **pub;             /* per sender, decoded from its SPKI */
    msg *m;
    bo_verifier v;
} setup;

static volatile unsigned g_sink;

static void sender_name(int i, char *buf, size_t len)
{
    snprintf(buf, len, "s%d._device.acme.example", i);
}

/* cose_baseline - from a tagged COSE_Sign1, the Sig_structure (the
 * signing input, RFC 9052 section 4.4, with an empty external_aad) and the
 * signature bytes, both malloc'd; decoded and re-encoded with libcbor.
 * The one-byte tag 18 (0xd2) is stepped over by hand: libcbor 0.8 refuses
 * one-byte tags 6 to 20, and the Sig_structure does not include it. */
static void cose_baseline(const unsigned char *data, size_t len, unsigned char **si,
                          size_t *si_len, unsigned char **sig, size_t *sig_len)
{
    static const unsigned char none[1];
    struct cbor_load_result lr;
    cbor_item_t *arr, *ss, **h;
    size_t cap = 0;

    if (len < 2 || data[0] != 0xd2)
        bu_die("not a tagged COSE_Sign1");
    arr = cbor_load(data + 1, len - 1, &lr);
    if (arr == NULL || lr.read != len - 1)
        bu_die("libcbor cannot decode a signed message");
    if (!cbor_isa_array(arr) || cbor_array_size(arr) != 4)
        bu_die("not a COSE_Sign1");
    h = cbor_array_handle(arr);
    ss = cbor_new_definite_array(4);
    if (ss == NULL || !cbor_array_push(ss, cbor_move(cbor_build_string("Signature1")))
        || !cbor_array_push(ss, h[0])
        || !cbor_array_push(ss, cbor_move(cbor_build_bytestring(none, 0)))
        || !cbor_array_push(ss, h[2]))
        bu_die("out of memory building a Sig_structure");
    *si = NULL;
    *si_len = cbor_serialize_alloc(ss, si, &cap);
    if (*si_len == 0)
        bu_die("cannot serialize a Sig_structure");
    *sig_len = cbor_bytestring_length(h[3]);
    *sig = bu_xcalloc(1, *sig_len);
    memcpy(*sig, cbor_bytestring_handle(h[3]), *sig_len);
    cbor_decref(&ss);
    cbor_decref(&arr);
}

static void build(setup *s)
{
    char err[DANCE_REASON_MAX], name[DANCE_NAME_MAX + 1];
    EVP_PKEY **priv = bu_xcalloc((size_t)s->nsenders, sizeof(*priv));

    s->pub = bu_xcalloc((size_t)s->nsenders, sizeof(*s->pub));
    bo_verifier_init(&s->v, (size_t)s->nsenders + 16);
    for (int i = 0; i < s->nsenders; i++) {
        priv[i] = dance_key_generate(s->ktype, err, sizeof(err));
        if (priv[i] == NULL)
            bu_die("key generation: %s", err);
        sender_name(i, name, sizeof(name));
        s->pub[i] = bo_publish_key(&s->v, name, priv[i]);
    }

    s->m = bu_xcalloc((size_t)s->nmsgs, sizeof(*s->m));
    for (int j = 0; j < s->nmsgs; j++) {
        msg *m = &s->m[j];
        dance_jws_sign_opts o;
        char payload[64], *jws = NULL;
        const char *dot1, *dot2;
        unsigned char *raw;
        size_t rawlen, jws_len;

        m->sender = j % s->nsenders;
        sender_name(m->sender, name, sizeof(name));
        memset(&o, 0, sizeof(o));
        o.key = priv[m->sender];
        o.name = name;
        o.iat = true;
        snprintf(payload, sizeof(payload), "{\"seq\":%d,\"temp\":21.5,\"unit\":\"C\"}", j);
        if (dance_jws_sign(&o, payload, strlen(payload), &jws, &jws_len,
                           err, sizeof(err)) != 0)
            bu_die("dance_jws_sign: %s", err);
        if (s->cose) {
            unsigned char *cose = NULL;
            s->jws_bytes += (double)jws_len / s->nmsgs;
            free(jws);
            if (dance_cose_sign(&o, payload, strlen(payload), &cose, &m->len,
                                err, sizeof(err)) != 0)
                bu_die("dance_cose_sign: %s", err);
            m->data = bu_xcalloc(1, m->len);
            memcpy(m->data, cose, m->len);
            dance_cose_output_free(cose);
            cose_baseline(m->data, m->len, &m->si, &m->si_len, &raw, &rawlen);
        } else {
            m->data = (unsigned char *)jws;
            m->len = jws_len;
            dot1 = strchr(jws, '.');
            dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
            if (dot2 == NULL)
                bu_die("signed message is not compact");
            m->si = m->data;
            m->si_len = (size_t)(dot2 - jws);
            raw = bu_b64url_decode(dot2 + 1, strlen(dot2 + 1), &rawlen);
        }
        if (s->ktype == DANCE_KEY_EC256) {
            m->sig = bo_es_der(raw, rawlen, &m->sig_len);
            free(raw);
        } else {
            m->sig = raw;
            m->sig_len = rawlen;
        }
    }
    for (int i = 0; i < s->nsenders; i++)
        EVP_PKEY_free(priv[i]);
    free(priv);

}

/* lib_once - one library verification; dies unless verified */
static void lib_once(setup *s, const msg *m, dance_jws_result *res)
{
    if (dance_jws_verify_message(m->data, m->len, 0, &s->v.pol, &s->v.src, res) != DANCE_OK)
        bu_die("library refused a good message: %s: %s",
               dance_status_name(res->status), res->reason);
    g_sink += (unsigned)res->payload_len;
}

/* raw_once - one plain EVP verification; dies unless valid */
static void raw_once(setup *s, const msg *m)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();

    if (mctx == NULL
        || EVP_DigestVerifyInit(mctx, NULL, s->md, NULL, s->pub[m->sender]) != 1
        || EVP_DigestVerify(mctx, m->sig, m->sig_len, m->si, m->si_len) != 1)
        bu_die("raw EVP verification failed");
    EVP_MD_CTX_free(mctx);
    g_sink += 1;
}

/* timed - run one side for about `seconds`; returns messages per second.
 * The clock is read every 64 messages. */
static double timed(setup *s, int lib, double seconds)
{
    dance_jws_result res;
    uint64_t start = bu_now_ns(), limit = (uint64_t)(seconds * 1e9), el;
    size_t done = 0;
    int j = 0;

    memset(&res, 0, sizeof(res));
    for (;;) {
        for (int k = 0; k < 64; k++) {
            if (lib)
                lib_once(s, &s->m[j], &res);
            else
                raw_once(s, &s->m[j]);
            if (++j == s->nmsgs)
                j = 0;
        }
        done += 64;
        el = bu_now_ns() - start;
        if (el >= limit)
            break;
    }
    dance_jws_result_clear(&res);
    return (double)done / ((double)el / 1e9);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_verify --alg es256|ed25519|rs256 [--cose] [--rounds N] "
            "[--seconds S] [--senders N] [--messages N] [--only lib|raw] [--no-key-cache]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    setup s;
    const char *alg = NULL, *only = NULL;
    int rounds = 5, no_key_cache = 0;
    double seconds = 1.0;
    dance_cache_stats cst;

    bu_set_prog(argv[0]);
    memset(&s, 0, sizeof(s));
    s.nsenders = 8;
    s.nmsgs = 512;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--alg") == 0 && v) { alg = v; i++; }
        else if (strcmp(argv[i], "--rounds") == 0) { rounds = (int)bu_arg_long(argv[i], v, 1, 1000); i++; }
        else if (strcmp(argv[i], "--seconds") == 0) { seconds = bu_arg_double(argv[i], v, 0.01, 600); i++; }
        else if (strcmp(argv[i], "--senders") == 0) { s.nsenders = (int)bu_arg_long(argv[i], v, 1, 100000); i++; }
        else if (strcmp(argv[i], "--messages") == 0) { s.nmsgs = (int)bu_arg_long(argv[i], v, 1, 10000000); i++; }
        else if (strcmp(argv[i], "--only") == 0 && v) { only = v; i++; }
        else if (strcmp(argv[i], "--no-key-cache") == 0) no_key_cache = 1;
        else if (strcmp(argv[i], "--cose") == 0) s.cose = true;
        else usage();
    }
    if (alg == NULL)
        usage();
    if (strcmp(alg, "es256") == 0) {
        s.ktype = DANCE_KEY_EC256;
        s.md = EVP_sha256();
    } else if (strcmp(alg, "ed25519") == 0) {
        s.ktype = DANCE_KEY_ED25519;
        s.md = NULL;
    } else if (strcmp(alg, "rs256") == 0) {
        s.ktype = DANCE_KEY_RSA2048;
        s.md = EVP_sha256();
    } else {
        usage();
    }
    if (only != NULL && strcmp(only, "lib") != 0 && strcmp(only, "raw") != 0)
        usage();
    if (s.nsenders > s.nmsgs)
        s.nsenders = s.nmsgs;

    build(&s);
    if (no_key_cache)
        s.v.pol.keys = NULL;
    /* warm-up: fills the key cache, checks every message once each way */
    {
        dance_jws_result res;
        memset(&res, 0, sizeof(res));
        for (int j = 0; j < s.nmsgs; j++) {
            lib_once(&s, &s.m[j], &res);
            raw_once(&s, &s.m[j]);
        }
        dance_jws_result_clear(&res);
    }
    for (int r = 0; r < rounds; r++) {
        int lib_first = (r % 2) == 0;
        for (int k = 0; k < 2; k++) {
            int lib = (k == 0) == lib_first;
            if (only != NULL && strcmp(only, lib ? "lib" : "raw") != 0)
                continue;
            printf("run %s %.1f\n", lib ? "lib" : "raw", timed(&s, lib, seconds));
            fflush(stdout);
        }
    }
    dance_cache_get_stats(s.v.cache, &cst);
    printf("dns_queries %llu\n", (unsigned long long)cst.queries);
    {
        double bytes = 0;
        for (int j = 0; j < s.nmsgs; j++)
            bytes += (double)s.m[j].len / s.nmsgs;
        printf("msg_bytes %.1f\n", bytes);
        if (s.cose)
            printf("jws_bytes %.1f\n", s.jws_bytes);
    }

    for (int j = 0; j < s.nmsgs; j++) {
        if (s.cose)
            free(s.m[j].si);
        free(s.m[j].data);
        if (s.ktype == DANCE_KEY_EC256)
            OPENSSL_free(s.m[j].sig);
        else
            free(s.m[j].sig);
    }
    free(s.m);
    for (int i = 0; i < s.nsenders; i++)
        EVP_PKEY_free(s.pub[i]);
    free(s.pub);
    bo_verifier_free(&s.v);
    return 0;
}
