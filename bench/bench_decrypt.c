/*
 * bench/bench_decrypt.c - figures decrypt-verify-rsa and decrypt-verify-ecdh:
 * what a recipient does with a confidential message - decrypt it with its
 * own key, then verify the signed message inside with the sender's key
 * from a warm cache - done by libdance against raw OpenSSL doing the same
 * key unwrap, content decryption and signature check.
 *
 *   bench_decrypt --kind rsa|ecdh [--rounds N] [--seconds S] [--messages N]
 *                 [--only lib|raw]
 *
 * Messages (setup, not timed): a compact JWS (kid = sender, iat, a 40-byte
 * JSON payload) encrypted by dance_jwe_encrypt as a compact JWE:
 *   rsa   RSA-OAEP-256 + A256CBC-HS512 to an RSA-2048 key, inner RS256
 *         (the DANCE prototype's choice)
 *   ecdh  ECDH-ES + A256GCM to a P-256 key, inner ES256
 * One sender, its TLSA 3 1 0 record in a dance_cache, its key decoded once
 * in the key cache before timing.
 *
 * "lib" per message: dance_jwe_decrypt (parse, header checks, unwrap,
 * decrypt, tag) then dance_jws_verify_message on the plaintext (parse,
 * allow-list, cache hit, key cache hit, signature) - what `dance verify
 * --decrypt-key` and backend_subscriber do; every verdict must be OK.
 * "raw" per message, from inputs decoded beforehand (base64url, the epk's
 * point, ECDSA signatures as DER: raw gets them in OpenSSL's format for
 * free):
 *   rsa   EVP_PKEY_decrypt (OAEP, SHA-256, MGF1-SHA-256) of the encrypted
 *         key, HMAC-SHA-512 over AAD || IV || ciphertext || AL and the tag
 *         compared, AES-256-CBC decryption, EVP_DigestVerify (RS256)
 *   ecdh  the epk imported (EVP_PKEY_fromdata, which checks the point),
 *         EVP_PKEY_derive (recipient key, epk; the peer not checked a
 *         second time, as in the library), the Concat KDF as one
 *         SHA-256 (round 1 of 1 for a 256-bit key), AES-256-GCM decryption
 *         with the tag, EVP_DigestVerify (ES256)
 * with a fresh context per operation, as a simple program would write it.
 *
 * Rounds alternate the order (lib,raw then raw,lib, ...). Output, one line
 * per timed run: "run lib <msgs/s>" / "run raw <msgs/s>", and at the end
 * "dns_queries <n>" (must be 0). Single-threaded: per-core rates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "bench_offline.h"
#include "bench_util.h"
#include "dance/cache.h"
#include "dance/jwe.h"
#include "dance/jws.h"
#include "dance/keycache.h"
#include "dance/name.h"
#include "dance/provision.h"
#include "dance/resolver.h"

#define SENDER "s1._device.acme.example"
#define RECIPIENT "backend._device.acme.example"

typedef struct msg {
    char *jwe;                  /* compact serialization */
    size_t len;
    /* raw baseline input, decoded beforehand */
    const char *aad;            /* the protected header's base64url (in jwe) */
    size_t aad_len;
    unsigned char *ek, *iv, *ct, *tag;
    size_t ek_len, iv_len, ct_len, tag_len;
    unsigned char epk[65];      /* ecdh: the sender's ephemeral point */
    size_t si_len;              /* inner JWS signing input: plaintext prefix */
    unsigned char *sig;         /* inner signature (DER for ECDSA) */
    size_t sig_len;
} msg;

typedef struct setup {
    int ecdh;
    int nmsgs;
    EVP_PKEY *rcpt;             /* recipient's private key */
    EVP_PKEY *sender_pub;       /* decoded from its SPKI */
    unsigned char otherinfo[64];/* ecdh: Concat KDF OtherInfo (fixed) */
    size_t otherinfo_len;
    msg *m;
    bo_verifier v;
} setup;

static volatile unsigned g_sink;

/* json_b64_member - the decoded value of "name":"<base64url>" in the JSON
 * text hdr. By hand: the header is our own library's output, and this is
 * setup for the baseline, not a parser anyone relies on. */
static unsigned char *json_b64_member(const char *hdr, const char *name, size_t *outlen)
{
    char pat[16];
    const char *p, *e;

    snprintf(pat, sizeof(pat), "\"%s\":\"", name);
    p = strstr(hdr, pat);
    if (p == NULL)
        bu_die("no %s in the JWE header", name);
    p += strlen(pat);
    e = strchr(p, '"');
    if (e == NULL)
        bu_die("bad %s in the JWE header", name);
    return bu_b64url_decode(p, (size_t)(e - p), outlen);
}

/* epk_point - the uncompressed P-256 point (x, y) of the header's epk */
static void epk_point(const char *hdr, unsigned char pt[65])
{
    size_t xl, yl;
    unsigned char *x = json_b64_member(hdr, "x", &xl), *y = json_b64_member(hdr, "y", &yl);

    if (xl != 32 || yl != 32)
        bu_die("bad epk");
    pt[0] = 4;
    memcpy(pt + 1, x, 32);
    memcpy(pt + 33, y, 32);
    free(x);
    free(y);
}

/* epk_import - the epk as an EVP_PKEY, the OpenSSL 3 way: every ECDH-ES
 * recipient imports the sender's ephemeral key once per message, and
 * OpenSSL checks the point is on the curve while doing so */
static EVP_PKEY *epk_import(const unsigned char pt[65])
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;
    OSSL_PARAM params[3];

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, 65);
    params[2] = OSSL_PARAM_construct_end();
    if (pc == NULL || EVP_PKEY_fromdata_init(pc) != 1
        || EVP_PKEY_fromdata(pc, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
        bu_die("cannot import the epk");
    EVP_PKEY_CTX_free(pc);
    return k;
}

/* be32 - v as 4 big-endian bytes at p */
static unsigned char *be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return p + 4;
}

static void build(setup *s)
{
    char err[DANCE_REASON_MAX];
    EVP_PKEY *sender = dance_key_generate(s->ecdh ? DANCE_KEY_EC256 : DANCE_KEY_RSA2048,
                                          err, sizeof(err));
    unsigned char *p;

    s->rcpt = dance_key_generate(s->ecdh ? DANCE_KEY_EC256 : DANCE_KEY_RSA2048, err,
                                 sizeof(err));
    if (sender == NULL || s->rcpt == NULL)
        bu_die("key generation: %s", err);
    bo_verifier_init(&s->v, 16);
    s->sender_pub = bo_publish_key(&s->v, SENDER, sender);

    /* ECDH-ES OtherInfo: AlgorithmID "A256GCM", empty apu/apv, 256 bits */
    p = s->otherinfo;
    p = be32(p, 7);
    memcpy(p, "A256GCM", 7);
    p += 7;
    p = be32(p, 0);
    p = be32(p, 0);
    p = be32(p, 256);
    s->otherinfo_len = (size_t)(p - s->otherinfo);

    s->m = bu_xcalloc((size_t)s->nmsgs, sizeof(*s->m));
    for (int j = 0; j < s->nmsgs; j++) {
        msg *m = &s->m[j];
        dance_jws_sign_opts so;
        dance_jwe_encrypt_opts eo;
        char payload[64], *jws = NULL, *hdr;
        const char *dot[4], *q;
        unsigned char *raw;
        size_t jws_len, rawlen, hlen;
        int k = 0;

        memset(&so, 0, sizeof(so));
        so.key = sender;
        so.name = SENDER;
        so.iat = true;
        snprintf(payload, sizeof(payload), "{\"seq\":%d,\"temp\":21.5,\"unit\":\"C\"}", j);
        if (dance_jws_sign(&so, payload, strlen(payload), &jws, &jws_len, err,
                           sizeof(err)) != 0)
            bu_die("dance_jws_sign: %s", err);
        memset(&eo, 0, sizeof(eo));
        eo.key = s->rcpt;
        eo.recipient = RECIPIENT;
        eo.enc = s->ecdh ? "A256GCM" : "A256CBC-HS512";
        if (dance_jwe_encrypt(&eo, jws, jws_len, &m->jwe, &m->len, err, sizeof(err)) != 0)
            bu_die("dance_jwe_encrypt: %s", err);
        /* the inner JWS: its signing input and signature */
        q = strrchr(jws, '.');
        m->si_len = (size_t)(q - jws);
        raw = bu_b64url_decode(q + 1, strlen(q + 1), &rawlen);
        if (s->ecdh) {
            m->sig = bo_es_der(raw, rawlen, &m->sig_len);
            free(raw);
        } else {
            m->sig = raw;
            m->sig_len = rawlen;
        }
        free(jws);
        /* the JWE's five parts */
        for (q = m->jwe; *q != '\0' && k < 4; q++)
            if (*q == '.')
                dot[k++] = q;
        if (k != 4)
            bu_die("the JWE is not compact");
        m->aad = m->jwe;
        m->aad_len = (size_t)(dot[0] - m->jwe);
        m->ek = bu_b64url_decode(dot[0] + 1, (size_t)(dot[1] - dot[0] - 1), &m->ek_len);
        m->iv = bu_b64url_decode(dot[1] + 1, (size_t)(dot[2] - dot[1] - 1), &m->iv_len);
        m->ct = bu_b64url_decode(dot[2] + 1, (size_t)(dot[3] - dot[2] - 1), &m->ct_len);
        m->tag = bu_b64url_decode(dot[3] + 1, strlen(dot[3] + 1), &m->tag_len);
        if (s->ecdh) {
            hdr = (char *)bu_b64url_decode(m->aad, m->aad_len, &hlen);
            hdr = realloc(hdr, hlen + 1);
            if (hdr == NULL)
                bu_die("out of memory");
            hdr[hlen] = '\0';
            epk_point(hdr, m->epk);
            free(hdr);
        }
    }
    EVP_PKEY_free(sender);

}

/* lib_once - decrypt, then verify the JWS inside; dies unless both pass */
static void lib_once(setup *s, const msg *m)
{
    dance_jwe_result dr;
    dance_jws_result vr;

    memset(&dr, 0, sizeof(dr));
    memset(&vr, 0, sizeof(vr));
    if (dance_jwe_decrypt(m->jwe, m->len, 0, s->rcpt, &dr) != DANCE_OK)
        bu_die("library did not decrypt a good message: %s", dr.reason);
    if (dance_jws_verify_message(dr.plaintext, dr.plaintext_len, 0, &s->v.pol, &s->v.src, &vr)
        != DANCE_OK)
        bu_die("library refused a good message: %s: %s", dance_status_name(vr.status),
               vr.reason);
    g_sink += (unsigned)vr.payload_len;
    dance_jws_result_clear(&vr);
    dance_jwe_result_clear(&dr);
}

/* verify_inner - the inner signature over the plaintext's signing input */
static void verify_inner(setup *s, const msg *m, const unsigned char *pt, size_t ptlen)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();

    if (mctx == NULL || ptlen < m->si_len
        || EVP_DigestVerifyInit(mctx, NULL, EVP_sha256(), NULL, s->sender_pub) != 1
        || EVP_DigestVerify(mctx, m->sig, m->sig_len, pt, m->si_len) != 1)
        bu_die("raw signature check failed");
    EVP_MD_CTX_free(mctx);
}

/* raw_rsa - RSA-OAEP-256 unwrap, A256CBC-HS512, RS256 */
static void raw_rsa(setup *s, const msg *m, unsigned char *pt)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(s->rcpt, NULL);
    EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
    unsigned char cek[512], mac[EVP_MAX_MD_SIZE], al[8], *macin;  /* OpenSSL wants
                                                        room for a modulus */
    size_t ceklen = sizeof(cek), off = 0;
    unsigned int maclen = 0;
    uint64_t bits = (uint64_t)m->aad_len * 8;
    int n1 = 0, n2 = 0;

    if (pc == NULL || cc == NULL || EVP_PKEY_decrypt_init(pc) != 1
        || EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) != 1
        || EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha256()) != 1
        || EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) != 1
        || EVP_PKEY_decrypt(pc, cek, &ceklen, m->ek, m->ek_len) != 1 || ceklen != 64)
        bu_die("raw RSA-OAEP failed");
    for (int i = 0; i < 8; i++)
        al[i] = (unsigned char)(bits >> (56 - 8 * i));
    macin = bu_xmalloc(m->aad_len + m->iv_len + m->ct_len + 8);
    memcpy(macin + off, m->aad, m->aad_len);
    off += m->aad_len;
    memcpy(macin + off, m->iv, m->iv_len);
    off += m->iv_len;
    memcpy(macin + off, m->ct, m->ct_len);
    off += m->ct_len;
    memcpy(macin + off, al, 8);
    off += 8;
    if (HMAC(EVP_sha512(), cek, 32, macin, off, mac, &maclen) == NULL
        || CRYPTO_memcmp(mac, m->tag, 32) != 0)
        bu_die("raw HMAC check failed");
    free(macin);
    if (EVP_DecryptInit_ex(cc, EVP_aes_256_cbc(), NULL, cek + 32, m->iv) != 1
        || EVP_DecryptUpdate(cc, pt, &n1, m->ct, (int)m->ct_len) != 1
        || EVP_DecryptFinal_ex(cc, pt + n1, &n2) != 1)
        bu_die("raw AES-CBC failed");
    EVP_CIPHER_CTX_free(cc);
    EVP_PKEY_CTX_free(pc);
    OPENSSL_cleanse(cek, sizeof(cek));
    verify_inner(s, m, pt, (size_t)(n1 + n2));
}

/* raw_ecdh - ECDH-ES (Concat KDF, one SHA-256), A256GCM, ES256 */
static void raw_ecdh(setup *s, const msg *m, unsigned char *pt)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(s->rcpt, NULL);
    EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY *epk = epk_import(m->epk);
    unsigned char z[32], cek[32], one[4] = { 0, 0, 0, 1 };
    size_t zlen = sizeof(z);
    unsigned int ceklen = 0;
    int n1 = 0, n2 = 0;

    /* the peer is not validated again, as in the library (lib/jwe_crypto.c
     * jwe_ecdh): the import checked the point, and P-256 has cofactor 1 */
    if (pc == NULL || cc == NULL || md == NULL || EVP_PKEY_derive_init(pc) != 1
        || EVP_PKEY_derive_set_peer_ex(pc, epk, 0) != 1
        || EVP_PKEY_derive(pc, z, &zlen) != 1 || zlen != 32)
        bu_die("raw ECDH failed");
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1
        || EVP_DigestUpdate(md, one, 4) != 1 || EVP_DigestUpdate(md, z, zlen) != 1
        || EVP_DigestUpdate(md, s->otherinfo, s->otherinfo_len) != 1
        || EVP_DigestFinal_ex(md, cek, &ceklen) != 1)
        bu_die("raw Concat KDF failed");
    if (EVP_DecryptInit_ex(cc, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1
        || EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_SET_IVLEN, (int)m->iv_len, NULL) != 1
        || EVP_DecryptInit_ex(cc, NULL, NULL, cek, m->iv) != 1
        || EVP_DecryptUpdate(cc, NULL, &n1, (const unsigned char *)m->aad,
                             (int)m->aad_len) != 1
        || EVP_DecryptUpdate(cc, pt, &n1, m->ct, (int)m->ct_len) != 1
        || EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_SET_TAG, (int)m->tag_len, m->tag) != 1
        || EVP_DecryptFinal_ex(cc, pt + n1, &n2) != 1)
        bu_die("raw AES-GCM failed");
    EVP_MD_CTX_free(md);
    EVP_CIPHER_CTX_free(cc);
    EVP_PKEY_CTX_free(pc);
    EVP_PKEY_free(epk);
    OPENSSL_cleanse(z, sizeof(z));
    OPENSSL_cleanse(cek, sizeof(cek));
    verify_inner(s, m, pt, (size_t)(n1 + n2));
}

static void raw_once(setup *s, const msg *m, unsigned char *pt)
{
    if (s->ecdh)
        raw_ecdh(s, m, pt);
    else
        raw_rsa(s, m, pt);
    g_sink += pt[0];
}

/* timed - run one side for about `seconds`; messages per second. The
 * clock is read every 16 messages. */
static double timed(setup *s, int lib, double seconds, unsigned char *pt)
{
    uint64_t start = bu_now_ns(), limit = (uint64_t)(seconds * 1e9), el;
    size_t done = 0;
    int j = 0;

    for (;;) {
        for (int k = 0; k < 16; k++) {
            if (lib)
                lib_once(s, &s->m[j]);
            else
                raw_once(s, &s->m[j], pt);
            if (++j == s->nmsgs)
                j = 0;
        }
        done += 16;
        el = bu_now_ns() - start;
        if (el >= limit)
            break;
    }
    return (double)done / ((double)el / 1e9);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_decrypt --kind rsa|ecdh [--rounds N] [--seconds S] "
            "[--messages N] [--only lib|raw]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    setup s;
    const char *kind = NULL, *only = NULL;
    int rounds = 5;
    double seconds = 1.0;
    size_t ptmax = 0;
    unsigned char *pt;
    dance_cache_stats cst;

    bu_set_prog(argv[0]);
    memset(&s, 0, sizeof(s));
    s.nmsgs = 256;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--kind") == 0 && v) { kind = v; i++; }
        else if (strcmp(argv[i], "--rounds") == 0) { rounds = (int)bu_arg_long(argv[i], v, 1, 1000); i++; }
        else if (strcmp(argv[i], "--seconds") == 0) { seconds = bu_arg_double(argv[i], v, 0.01, 600); i++; }
        else if (strcmp(argv[i], "--messages") == 0) { s.nmsgs = (int)bu_arg_long(argv[i], v, 1, 1000000); i++; }
        else if (strcmp(argv[i], "--only") == 0 && v) { only = v; i++; }
        else usage();
    }
    if (kind == NULL || (strcmp(kind, "rsa") != 0 && strcmp(kind, "ecdh") != 0))
        usage();
    if (only != NULL && strcmp(only, "lib") != 0 && strcmp(only, "raw") != 0)
        usage();
    s.ecdh = strcmp(kind, "ecdh") == 0;

    build(&s);
    for (int j = 0; j < s.nmsgs; j++)
        if (s.m[j].ct_len + 32 > ptmax)
            ptmax = s.m[j].ct_len + 32;
    pt = bu_xmalloc(ptmax);
    /* warm-up: fills the key cache, checks every message once each way */
    for (int j = 0; j < s.nmsgs; j++) {
        lib_once(&s, &s.m[j]);
        raw_once(&s, &s.m[j], pt);
    }
    for (int r = 0; r < rounds; r++) {
        int lib_first = (r % 2) == 0;
        for (int k = 0; k < 2; k++) {
            int lib = (k == 0) == lib_first;
            if (only != NULL && strcmp(only, lib ? "lib" : "raw") != 0)
                continue;
            printf("run %s %.1f\n", lib ? "lib" : "raw", timed(&s, lib, seconds, pt));
            fflush(stdout);
        }
    }
    dance_cache_get_stats(s.v.cache, &cst);
    printf("dns_queries %llu\n", (unsigned long long)cst.queries);

    for (int j = 0; j < s.nmsgs; j++) {
        msg *m = &s.m[j];
        free(m->jwe);
        free(m->ek);
        free(m->iv);
        free(m->ct);
        free(m->tag);
        if (s.ecdh)
            OPENSSL_free(m->sig);
        else
            free(m->sig);
    }
    free(s.m);
    free(pt);
    EVP_PKEY_free(s.rcpt);
    EVP_PKEY_free(s.sender_pub);
    bo_verifier_free(&s.v);
    return 0;
}
