/*
 * bench/bench_cachemem.c - figure cache-memory: resident memory per cached
 * identity when the library's caches hold N (default 100,000) identities.
 *
 *   bench_cachemem [--identities N] [--key-cache K]
 *
 * What one identity costs a verifier at steady state, as the plugin holds
 * it: its DNSSEC-secure TLSA answer in the dance_cache (one DANE-EE 3 1 0
 * record with a P-256 SubjectPublicKeyInfo, the form that lets a JWS be
 * verified straight from DNS), and the key decoded from that record in
 * the JWS key cache, which keeps the K most recently used keys (default:
 * the plugin's key_cache_size default; 0: all N, the what-if of a key
 * cache as large as the TLSA cache).
 *
 * Setup (not counted): N P-256 keys, each one's SPKI and one compact JWS
 * signed with it; the private keys are freed. Then RSS is read (base), the
 * TLSA cache is filled (RSS tlsa), and every message is verified once
 * through dance_jws_verify with the cached records, which fills the key
 * cache (RSS keys). Output lines:
 *   identities N
 *   key_cache K                    keys kept decoded
 *   tlsa_bytes <per identity>      (RSS tlsa - base) / N
 *   key_bytes <per identity>       (RSS keys - RSS tlsa) / N
 *   total_bytes <per identity>
 *   data_bytes <per identity>      the DNS data itself: owner name + TLSA
 *                                  RDATA (3 + SPKI bytes), the baseline
 *   entries <tlsa entries> <key cache entries>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "bench_util.h"
#include "dance/cache.h"
#include "dance/jws.h"
#include "dance/keycache.h"
#include "dance/provision.h"
#include "options.h"           /* MDP_OPT_DEFAULT_KEY_CACHE_SIZE */

/* DER of a P-256 SubjectPublicKeyInfo up to the 65-byte uncompressed point */
static const unsigned char p256_spki_prefix[26] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00
};

/* p256_spki - the key's SPKI DER (91 bytes, malloc'd). Built from the
 * point because OpenSSL 3.0's i2d_PUBKEY takes ~150 us through the encoder
 * framework, which made setup dominate; the first key is checked against
 * i2d_PUBKEY. */
static unsigned char *p256_spki(EVP_PKEY *k, int check)
{
    unsigned char *out = bu_xmalloc(sizeof(p256_spki_prefix) + 65), *ref = NULL;
    size_t len = 0;

    memcpy(out, p256_spki_prefix, sizeof(p256_spki_prefix));
    if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY,
                                        out + sizeof(p256_spki_prefix), 65, &len) != 1
        || len != 65)
        bu_die("cannot read the P-256 public point");
    if (check) {
        int n = i2d_PUBKEY(k, &ref);
        if (n != 91 || memcmp(ref, out, 91) != 0)
            bu_die("P-256 SPKI built from the point differs from i2d_PUBKEY");
        OPENSSL_free(ref);
    }
    return out;
}

static void sender_name(size_t i, char *buf, size_t len)
{
    snprintf(buf, len, "d%zu._device.acme.example", i);
}

int main(int argc, char **argv)
{
    size_t n = 100000, data_bytes = 0, kcap = MDP_OPT_DEFAULT_KEY_CACHE_SIZE;
    char err[DANCE_REASON_MAX], name[DANCE_NAME_MAX + 1];
    unsigned char **spki;
    char **jws;
    size_t *jws_len;
    size_t rss_base, rss_tlsa, rss_keys;
    dance_cache_config cc;
    dance_cache *cache;
    dance_jws_keycache *kc;
    dance_cache_stats cst;
    dance_jws_keycache_stats kst;
    dance_jws_policy pol;
    dance_jws_result res;

    bu_set_prog(argv[0]);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--identities") == 0) {
            n = (size_t)bu_arg_long(argv[i], i + 1 < argc ? argv[i + 1] : NULL, 1, 10000000);
            i++;
        } else if (strcmp(argv[i], "--key-cache") == 0) {
            kcap = (size_t)bu_arg_long(argv[i], i + 1 < argc ? argv[i + 1] : NULL, 0, 10000000);
            i++;
        } else {
            fprintf(stderr, "usage: bench_cachemem [--identities N] [--key-cache K]\n");
            return 2;
        }
    }

    spki = bu_xcalloc(n, sizeof(*spki));
    jws = bu_xcalloc(n, sizeof(*jws));
    jws_len = bu_xcalloc(n, sizeof(*jws_len));
    for (size_t i = 0; i < n; i++) {
        EVP_PKEY *k = dance_key_generate(DANCE_KEY_EC256, err, sizeof(err));
        dance_jws_sign_opts o;
        static const char payload[] = "{\"temp\":21.5}";

        if (k == NULL)
            bu_die("key generation: %s", err);
        spki[i] = p256_spki(k, i == 0);
        sender_name(i, name, sizeof(name));
        memset(&o, 0, sizeof(o));
        o.key = k;
        o.name = name;
        if (dance_jws_sign(&o, payload, sizeof(payload) - 1, &jws[i], &jws_len[i],
                           err, sizeof(err)) != 0)
            bu_die("dance_jws_sign: %s", err);
        EVP_PKEY_free(k);
        data_bytes += strlen(name) + 3 + 91;
    }

    memset(&cc, 0, sizeof(cc));
    cc.capacity = n;
    cache = dance_cache_new(&cc);
    kc = dance_jws_keycache_new(kcap == 0 ? n : kcap);
    if (cache == NULL || kc == NULL)
        bu_die("cannot make the caches");
    memset(&pol, 0, sizeof(pol));
    pol.keys = kc;
    memset(&res, 0, sizeof(res));

    rss_base = bu_rss_bytes();
    for (size_t i = 0; i < n; i++) {
        dance_tlsa_result tr;

        memset(&tr, 0, sizeof(tr));
        tr.status = DANCE_OK;
        tr.ttl = 3600;
        if (dance_tlsa_rrset_add(&tr.records, 3, 1, 0, spki[i], 91) != 0)
            bu_die("out of memory");
        sender_name(i, name, sizeof(name));
        if (dance_cache_put(cache, name, &tr) != 0)
            bu_die("dance_cache_put failed");
        dance_tlsa_result_clear(&tr);
    }
    rss_tlsa = bu_rss_bytes();

    for (size_t i = 0; i < n; i++) {
        dance_jws *msg = NULL;
        const dance_cache_entry *e;

        if (dance_jws_parse(jws[i], jws_len[i], 0, &msg, NULL, err, sizeof(err)) != DANCE_OK)
            bu_die("dance_jws_parse: %s", err);
        sender_name(i, name, sizeof(name));
        e = dance_cache_acquire(cache, name);
        if (e == NULL)
            bu_die("identity %zu fell out of the TLSA cache", i);
        if (dance_jws_verify(msg, dance_cache_entry_records(e), &pol, &res) != DANCE_OK)
            bu_die("verification failed: %s", res.reason);
        dance_cache_entry_release(e);
        dance_jws_free(msg);
    }
    dance_jws_result_clear(&res);
    rss_keys = bu_rss_bytes();

    dance_cache_get_stats(cache, &cst);
    dance_jws_keycache_get_stats(kc, &kst);
    printf("identities %zu\n", n);
    printf("key_cache %zu\n", kcap == 0 ? n : kcap);
    printf("tlsa_bytes %.1f\n", (double)(rss_tlsa - rss_base) / (double)n);
    printf("key_bytes %.1f\n", (double)(rss_keys - rss_tlsa) / (double)n);
    printf("total_bytes %.1f\n", (double)(rss_keys - rss_base) / (double)n);
    printf("data_bytes %.1f\n", (double)data_bytes / (double)n);
    printf("entries %llu %llu\n", (unsigned long long)cst.entries,
           (unsigned long long)kst.entries);

    dance_jws_keycache_free(kc);
    dance_cache_free(cache);
    for (size_t i = 0; i < n; i++) {
        free(spki[i]);
        free(jws[i]);
    }
    free(spki);
    free(jws);
    free(jws_len);
    return 0;
}
