/*
 * fuzz_cose.c - libFuzzer harness for dance_cose_parse and what follows it
 * (lib/cose_parse.c, then dance_jws_check and dance_jws_verify against the
 * fixed RRset of fz_verify_env): strict CBOR, the protected header, the
 * sender, the Sig_structure, the signature.
 *
 * Input: the MQTT payload as is (corpus/fuzz_cose, made by make-corpus.py).
 * Checked: a refusal gives no message, a reason and a parse status, and
 * any sender it reports is a normal form; a parsed message is a
 * COSE_Sign1 with a normalised sender named by its kid, an algorithm in
 * range, at most DANCE_JWS_X5C_MAX certificates, a jti of even length in
 * hex within DANCE_JWS_JTI_MAX, a topic within bounds; dance_message_parse
 * agrees; tagged and untagged forms of a parsed message parse alike; one
 * byte over the size limit is TOO_LARGE; the header policy answers only
 * with header refusals; verification answers with a message verdict and
 * hands out a payload only when verified.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dance/cose.h"
#include "fuzz_common.h"

static void check_header(const dance_jws_header *h)
{
    char norm[DANCE_NAME_MAX + 1], from[DANCE_NAME_MAX + 1];
    size_t i;

    FZ_ASSERT(h->serialization == DANCE_JWS_COSE_SIGN1);
    FZ_ASSERT(h->sender != NULL && h->sender[0] != '\0');
    FZ_ASSERT(dance_name_normalize(h->sender, norm, sizeof(norm), NULL, 0) == 0);
    FZ_ASSERT(strcmp(norm, h->sender) == 0);
    FZ_ASSERT((unsigned)h->alg < DANCE_JWS_ALG_COUNT);
    FZ_ASSERT(dance_cose_alg_id(h->alg) != 0);
    FZ_ASSERT(h->x5c_count <= DANCE_JWS_X5C_MAX);
    FZ_ASSERT(h->x5u == NULL && h->kid != NULL);
    if (strncasecmp(h->kid, "dns:", 4) == 0)
        FZ_ASSERT(dance_dns_uri_name(h->kid, from, sizeof(from), NULL, 0) == 0);
    else
        FZ_ASSERT(dance_name_normalize(h->kid, from, sizeof(from), NULL, 0) == 0);
    FZ_ASSERT(strcmp(from, h->sender) == 0);
    if (h->jti != NULL) {
        size_t n = strlen(h->jti);
        FZ_ASSERT(n >= 2 && n <= DANCE_JWS_JTI_MAX && n % 2 == 0);
        for (i = 0; i < n; i++)
            FZ_ASSERT((h->jti[i] >= '0' && h->jti[i] <= '9')
                      || (h->jti[i] >= 'a' && h->jti[i] <= 'f'));
    }
    if (h->topic != NULL)
        FZ_ASSERT(strlen(h->topic) >= 1 && strlen(h->topic) <= DANCE_JWS_TOPIC_MAX);
    FZ_ASSERT(!h->has_iat || h->iat >= 0);
}

static void check_verify(const dance_jws *jws)
{
    const fz_verify_env *env = fz_verify_env_get();
    dance_jws_policy pol;
    dance_jws_result res;
    dance_status st;

    memset(&pol, 0, sizeof(pol));
    memset(&res, 0, sizeof(res));
    pol.allow = env->allow;
    pol.matcher = env->matcher;
    pol.keys = env->keys;
    pol.now = fz_fixed_now;
    pol.topic = FUZZ_TOPIC;
    st = dance_jws_check(jws, &pol, &res);
    FZ_ASSERT(st == res.status && res.payload == NULL);
    FZ_ASSERT(st == DANCE_OK || st == DANCE_NOT_ALLOWED || st == DANCE_STALE
              || st == DANCE_TOPIC_MISMATCH || st == DANCE_REPLAY);
    st = dance_jws_verify(jws, &env->records, &pol, &res);
    FZ_ASSERT(st == res.status);
    FZ_ASSERT((unsigned)st < DANCE_MESSAGE_STATUS_END);
    FZ_ASSERT(res.reason[0] != '\0');
    if (st == DANCE_OK) {
        FZ_ASSERT(res.payload != NULL && res.payload[res.payload_len] == '\0');
        FZ_ASSERT(dance_allowlist_match(env->allow, res.sender));
        FZ_ASSERT(res.key_source[0] != '\0');
    } else {
        FZ_ASSERT(res.payload == NULL);
    }
    dance_jws_result_clear(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char sender[DANCE_NAME_MAX + 1], err[DANCE_REASON_MAX], norm[DANCE_NAME_MAX + 1];
    dance_jws *jws = NULL, *again = NULL;
    dance_status st, st2;
    uint8_t *other;

    err[0] = '\0';
    st = dance_cose_parse(data, size, 0, &jws, sender, err, sizeof(err));
    FZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
    FZ_ASSERT(memchr(sender, '\0', sizeof(sender)) != NULL);
    if (dance_is_cose(data, size)) {
        st2 = dance_message_parse(data, size, 0, &again, NULL, NULL, 0);
        FZ_ASSERT(st2 == st);
        dance_jws_free(again);
        again = NULL;
    }
    if (st != DANCE_OK) {
        FZ_ASSERT(jws == NULL && err[0] != '\0');
        FZ_ASSERT(st == DANCE_MALFORMED || st == DANCE_TOO_LARGE
                  || st == DANCE_BAD_ALG || st == DANCE_UNSUPPORTED
                  || st == DANCE_NO_SENDER || st == DANCE_BAD_SENDER
                  || st == DANCE_INTERNAL);
        if (sender[0] != '\0') {
            FZ_ASSERT(dance_name_normalize(sender, norm, sizeof(norm), NULL, 0) == 0);
            FZ_ASSERT(strcmp(norm, sender) == 0);
        }
        return 0;
    }
    FZ_ASSERT(jws != NULL && size > 0);
    check_header(dance_jws_get_header(jws));
    FZ_ASSERT(strcmp(sender, dance_jws_get_header(jws)->sender) == 0);
    check_verify(jws);

    /* the tag is optional: with it added or taken off, the same message */
    if (data[0] == 0xd2) {
        st2 = dance_cose_parse(data + 1, size - 1, 0, &again, NULL, NULL, 0);
    } else if (data[0] != 0x84) {
        st2 = DANCE_OK;             /* a longer form of tag 18: left alone */
        again = NULL;
    } else {
        other = malloc(size + 1);
        FZ_ASSERT(other != NULL);
        other[0] = 0xd2;
        memcpy(other + 1, data, size);
        st2 = dance_cose_parse(other, size + 1, size + 1, &again, NULL, NULL, 0);
        free(other);
    }
    FZ_ASSERT(st2 == DANCE_OK);
    if (again != NULL) {
        FZ_ASSERT(strcmp(dance_jws_get_header(again)->sender,
                         dance_jws_get_header(jws)->sender) == 0);
        FZ_ASSERT(dance_jws_get_header(again)->alg == dance_jws_get_header(jws)->alg);
        dance_jws_free(again);
    }

    /* one byte over the limit is refused before anything else */
    st2 = dance_cose_parse(data, size, size - 1, &again, NULL, NULL, 0);
    FZ_ASSERT(st2 == DANCE_TOO_LARGE && again == NULL);

    dance_jws_free(jws);
    return 0;
}
