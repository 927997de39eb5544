/*
 * fuzz_jws_verify.c - libFuzzer harness for JWS verification
 * (lib/jws_verify.c, jws_alg.c, jws_keycache.c, replay.c) against a fixed
 * TLSA RRset, so that fuzzed messages reach key decoding, x5c DANE
 * matching and the signature check.
 *
 * The RRset holds what the seeds (make-corpus.py) were signed for:
 *   3 1 0  SPKI of the P-256 device key     (ES256, direct)
 *   3 0 0  the Ed25519 device certificate   (EdDSA, direct)
 *   3 1 1  digest of the RSA device key     (RS/PS, needs x5c)
 *   2 0 1  digest of the CA certificate     (any key, x5c with leaf + CA)
 * Policy: allow-list acme.example, fixed clock FUZZ_NOW, topic FUZZ_TOPIC.
 *
 * Input: the MQTT payload as is (shares its corpus with fuzz_jws_parse).
 * Checked (differential where possible):
 *   - the verdict with the shared key cache equals the verdict without one;
 *   - a verified message has a payload, an allowed sender, a key source,
 *     and a second delivery of it (jti or not) is refused as a replay;
 *   - no message verifies against an empty RRset or a bogus DNS answer;
 *   - without x5c, verification with the P-256 key given directly agrees
 *     with verification through its 3 1 0 record.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "dance/jws.h"
#include "dance/keycache.h"
#include "dance/replay.h"
#include "fuzz_common.h"

static const fz_verify_env *env;
static EVP_PKEY *ec_pub;

static void init(void)
{
    if (env != NULL)
        return;
    env = fz_verify_env_get();
    ec_pub = X509_get_pubkey(fz_cert(FZ_DEV_EC));
    FZ_ASSERT(ec_pub != NULL);
}

static void policy(dance_jws_policy *pol, dance_jws_keycache *kc, dance_replay *rp)
{
    memset(pol, 0, sizeof(*pol));
    pol->allow = env->allow;
    pol->matcher = env->matcher;
    pol->keys = kc;
    pol->replay = rp;
    pol->topic = FUZZ_TOPIC;
    pol->now = fz_fixed_now;
}

static void check_result(const dance_jws *jws, const dance_jws_result *res)
{
    FZ_ASSERT(memchr(res->reason, '\0', sizeof(res->reason)) != NULL);
    FZ_ASSERT(strcmp(res->sender, dance_jws_get_header(jws)->sender) == 0);
    if (res->status == DANCE_OK) {
        FZ_ASSERT(res->payload != NULL && res->payload[res->payload_len] == '\0');
        FZ_ASSERT(res->key_source[0] != '\0');
        FZ_ASSERT(dance_allowlist_match(env->allow, res->sender));
    } else {
        FZ_ASSERT(res->payload == NULL && res->reason[0] != '\0');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const dance_tlsa_rrset empty;
    dance_jws *jws = NULL;
    dance_jws_policy pol_cached, pol_plain;
    dance_jws_result a, b, c;
    dance_replay *rp_a, *rp_b, *rp_c;
    dance_status st;

    init();
    ERR_clear_error();
    if (dance_jws_parse(data, size, 0, &jws, NULL, NULL, 0) != DANCE_OK)
        return 0;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    rp_a = dance_replay_new(16, 600, NULL, NULL);
    rp_b = dance_replay_new(16, 600, NULL, NULL);
    rp_c = dance_replay_new(16, 600, NULL, NULL);
    FZ_ASSERT(rp_a != NULL && rp_b != NULL && rp_c != NULL);

    policy(&pol_cached, env->keys, rp_a);
    policy(&pol_plain, NULL, rp_b);
    st = dance_jws_verify(jws, &env->records, &pol_cached, &a);
    FZ_ASSERT(st == a.status);
    check_result(jws, &a);
    dance_jws_verify(jws, &env->records, &pol_plain, &b);
    check_result(jws, &b);
    FZ_ASSERT(a.status == b.status);
    if (a.status == DANCE_OK) {
        FZ_ASSERT(a.payload_len == b.payload_len
                  && memcmp(a.payload, b.payload, a.payload_len) == 0);
        FZ_ASSERT(strcmp(a.key_source, b.key_source) == 0);
        /* with or without a jti: one verified copy per message */
        dance_jws_verify(jws, &env->records, &pol_cached, &a);
        FZ_ASSERT(a.status == DANCE_REPLAY && a.payload == NULL);
    }

    FZ_ASSERT(dance_jws_verify(jws, &empty, &pol_plain, &c) != DANCE_OK);
    check_result(jws, &c);
    FZ_ASSERT(dance_jws_verify_dns(jws, DANCE_BOGUS, &env->records, "bogus", &pol_plain, &c)
              != DANCE_OK);
    check_result(jws, &c);

    if (dance_jws_get_header(jws)->x5c_count == 0) {
        policy(&pol_plain, NULL, rp_c);
        dance_jws_verify_key(jws, ec_pub, NULL, &pol_plain, &c);
        check_result(jws, &c);
        if (c.status == DANCE_OK)
            FZ_ASSERT(b.status == DANCE_OK);
        if (b.status == DANCE_OK && strcmp(b.key_source, "tlsa 3 1 0") == 0)
            FZ_ASSERT(c.status == DANCE_OK);
    }
    FZ_ASSERT(ERR_peek_error() == 0);

    dance_jws_result_clear(&a);
    dance_jws_result_clear(&b);
    dance_jws_result_clear(&c);
    dance_replay_free(rp_a);
    dance_replay_free(rp_b);
    dance_replay_free(rp_c);
    dance_jws_free(jws);
    return 0;
}
