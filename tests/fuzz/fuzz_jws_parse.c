/*
 * fuzz_jws_parse.c - libFuzzer harness for dance_jws_parse and
 * dance_jws_check (lib/jws_parse.c, lib/jws_verify.c): compact and
 * flattened JSON JWS, the protected header, the sender's name. No crypto:
 * this is the part the plugin runs on the broker thread.
 *
 * Input: the MQTT payload as is (shares its corpus with fuzz_jws_verify).
 * Checked: a parsed message has a normalised sender, an algorithm and
 * serialization in range, at most DANCE_JWS_X5C_MAX certificates, jti and
 * topic within their bounds, and kid/x5u naming the sender; a refusal gives
 * no message and a reason; the sender reported with a refusal is a normal
 * form; trailing whitespace changes nothing; a size limit below the input
 * gives TOO_LARGE; the header policy answers only with header refusals.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dance/jws.h"
#include "fuzz_common.h"

static dance_allowlist *allow;

static int64_t fixed_now(void *ctx)
{
    (void)ctx;
    return FUZZ_NOW;
}

static void check_header(const dance_jws_header *h)
{
    char norm[DANCE_NAME_MAX + 1], from[DANCE_NAME_MAX + 1];

    FZ_ASSERT(h->sender != NULL && h->sender[0] != '\0');
    FZ_ASSERT(dance_name_normalize(h->sender, norm, sizeof(norm), NULL, 0) == 0);
    FZ_ASSERT(strcmp(norm, h->sender) == 0);
    FZ_ASSERT((unsigned)h->alg < DANCE_JWS_ALG_COUNT);
    FZ_ASSERT((unsigned)h->serialization < DANCE_JWS_SERIALIZATION_COUNT);
    FZ_ASSERT(h->x5c_count <= DANCE_JWS_X5C_MAX);
    FZ_ASSERT(h->kid != NULL || h->x5u != NULL);
    if (h->jti != NULL)
        FZ_ASSERT(strlen(h->jti) >= 1 && strlen(h->jti) <= DANCE_JWS_JTI_MAX);
    if (h->topic != NULL)
        FZ_ASSERT(strlen(h->topic) >= 1 && strlen(h->topic) <= DANCE_JWS_TOPIC_MAX);
    FZ_ASSERT(!h->has_iat || h->iat >= 0);
    /* kid and x5u, when present, both name the sender */
    if (h->x5u != NULL) {
        FZ_ASSERT(dance_dns_uri_name(h->x5u, from, sizeof(from), NULL, 0) == 0);
        FZ_ASSERT(strcmp(from, h->sender) == 0);
    }
    if (h->kid != NULL) {
        if (strncasecmp(h->kid, "dns:", 4) == 0)
            FZ_ASSERT(dance_dns_uri_name(h->kid, from, sizeof(from), NULL, 0) == 0);
        else
            FZ_ASSERT(dance_name_normalize(h->kid, from, sizeof(from), NULL, 0) == 0);
        FZ_ASSERT(strcmp(from, h->sender) == 0);
    }
}

static void check_policy(const dance_jws *jws)
{
    dance_jws_policy pol;
    dance_jws_result res;
    dance_status st;

    memset(&pol, 0, sizeof(pol));
    memset(&res, 0, sizeof(res));
    pol.allow = allow;
    pol.now = fixed_now;
    pol.topic = FUZZ_TOPIC;
    pol.require_iat = true;
    pol.require_topic = true;
    st = dance_jws_check(jws, &pol, &res);
    FZ_ASSERT(st == res.status);
    FZ_ASSERT(st == DANCE_OK || st == DANCE_NOT_ALLOWED || st == DANCE_STALE
              || st == DANCE_TOPIC_MISMATCH || st == DANCE_REPLAY);
    FZ_ASSERT(res.payload == NULL);
    FZ_ASSERT(strcmp(res.sender, dance_jws_get_header(jws)->sender) == 0);
    if (st == DANCE_OK) {
        const dance_jws_header *h = dance_jws_get_header(jws);
        FZ_ASSERT(dance_allowlist_match(allow, h->sender));
        FZ_ASSERT(h->has_iat && h->iat >= FUZZ_NOW - DANCE_JWS_MAX_SKEW_DEFAULT
                  && h->iat <= FUZZ_NOW + DANCE_JWS_MAX_SKEW_DEFAULT);
        FZ_ASSERT(h->topic != NULL && strcmp(h->topic, FUZZ_TOPIC) == 0);
    }
    dance_jws_result_clear(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char sender[DANCE_NAME_MAX + 1], err[DANCE_REASON_MAX], norm[DANCE_NAME_MAX + 1];
    dance_jws *jws = NULL, *again = NULL;
    dance_status st, st2;
    uint8_t *padded;

    if (allow == NULL) {
        allow = dance_allowlist_parse("acme.example", NULL, 0);
        FZ_ASSERT(allow != NULL);
    }
    err[0] = '\0';
    st = dance_jws_parse(data, size, 0, &jws, sender, err, sizeof(err));
    FZ_ASSERT((unsigned)st < DANCE_STATUS_COUNT);
    FZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
    FZ_ASSERT(memchr(sender, '\0', sizeof(sender)) != NULL);
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
    FZ_ASSERT(jws != NULL);
    check_header(dance_jws_get_header(jws));
    FZ_ASSERT(strcmp(sender, dance_jws_get_header(jws)->sender) == 0);
    check_policy(jws);

    /* a trailing newline (mosquitto_pub -f) is not part of the message */
    padded = malloc(size + 1);
    FZ_ASSERT(padded != NULL);
    memcpy(padded, data, size);
    padded[size] = '\n';
    st2 = dance_jws_parse(padded, size + 1, size + 1, &again, NULL, NULL, 0);
    FZ_ASSERT(st2 == DANCE_OK);
    FZ_ASSERT(strcmp(dance_jws_get_header(again)->sender,
                     dance_jws_get_header(jws)->sender) == 0);
    FZ_ASSERT(dance_jws_get_header(again)->alg == dance_jws_get_header(jws)->alg);
    dance_jws_free(again);
    free(padded);

    /* one byte over the limit is refused before anything else */
    st2 = dance_jws_parse(data, size, size - 1, &again, NULL, NULL, 0);
    FZ_ASSERT(st2 == DANCE_TOO_LARGE && again == NULL);

    dance_jws_free(jws);
    return 0;
}
