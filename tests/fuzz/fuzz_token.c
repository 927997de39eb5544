/*
 * fuzz_token.c - libFuzzer harness for MQTT password tokens (lib/token.c):
 * what the plugin parses in BASIC_AUTH from any client without a
 * certificate.
 *
 * Input: the MQTT username, a newline, then the password. Verified against
 * the fixed TLSA RRset of fz_verify_env (fuzz_common.h: 3 1 0 P-256,
 * 3 0 0 Ed25519, 3 1 1 RSA, 2 0 1 CA; seeds from make-corpus.py are signed
 * by those keys)
 * with audience FUZZ_AUDIENCE, the fixed clock FUZZ_NOW and allow-list
 * acme.example. Checked: a parsed token names the username's identity; an
 * accepted token met every cheap rule (allowed, audience-independent
 * times: exp after now and after iat, lifetime, iat not ahead); a verified
 * token passed the cheap check, re-checks against the same records, is a
 * replay the second time, and never verifies against no records or a
 * bogus answer; results always carry terminated strings.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "dance/replay.h"
#include "dance/token.h"
#include "fuzz_common.h"

#define FUZZ_AUDIENCE "mqtt://broker.acme.example"

static const fz_verify_env *env;

static void init(void)
{
    if (env == NULL)
        env = fz_verify_env_get();
}

static void check_res(const dance_token_result *r)
{
    FZ_ASSERT((unsigned)r->status < DANCE_STATUS_COUNT);
    FZ_ASSERT(memchr(r->reason, '\0', sizeof(r->reason)) != NULL);
    FZ_ASSERT(memchr(r->identity, '\0', sizeof(r->identity)) != NULL);
    FZ_ASSERT(memchr(r->key_source, '\0', sizeof(r->key_source)) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const dance_tlsa_rrset empty;
    const uint8_t *nl = memchr(data, '\n', size);
    char *user;
    dance_token *tok = NULL;
    dance_token_policy pol;
    dance_token_result r, r2;
    dance_replay *rp;
    dance_status st, chk;
    char norm[DANCE_NAME_MAX + 1];

    if (nl == NULL || size > DANCE_TOKEN_MAX_SIZE + 512)
        return 0;
    init();
    ERR_clear_error();
    user = fz_strndup0(data, (size_t)(nl - data));
    memset(&r, 0, sizeof(r));
    st = dance_token_parse(nl + 1, size - (size_t)(nl - data) - 1, user, &tok, &r);
    check_res(&r);
    FZ_ASSERT(st == r.status);
    if (st != DANCE_OK) {
        FZ_ASSERT(tok == NULL);
        free(user);
        return 0;
    }
    FZ_ASSERT(tok != NULL);
    FZ_ASSERT(dance_name_normalize(user, norm, sizeof(norm), NULL, 0) == 0);
    FZ_ASSERT(strcmp(norm, dance_token_identity(tok)) == 0);
    FZ_ASSERT(strcmp(r.identity, norm) == 0);
    FZ_ASSERT(dance_token_jti(tok) != NULL && dance_token_jws(tok) != NULL);

    rp = dance_replay_new(16, 3700, NULL, NULL);
    FZ_ASSERT(rp != NULL);
    memset(&pol, 0, sizeof(pol));
    pol.audience = FUZZ_AUDIENCE;
    pol.allow = env->allow;
    pol.matcher = env->matcher;
    pol.keys = env->keys;
    pol.replay = rp;
    pol.now = fz_fixed_now;

    chk = dance_token_check(tok, &pol, &r);
    check_res(&r);
    if (chk == DANCE_OK) {
        int64_t exp = dance_token_exp(tok);
        FZ_ASSERT(dance_allowlist_match(env->allow, dance_token_identity(tok)));
        FZ_ASSERT(exp > FUZZ_NOW && r.iat < exp
                  && exp - r.iat <= DANCE_TOKEN_MAX_LIFETIME_DEFAULT
                  && r.iat <= FUZZ_NOW + DANCE_TOKEN_MAX_SKEW_DEFAULT);
    }
    st = dance_token_verify(tok, &env->records, &pol, &r);
    check_res(&r);
    FZ_ASSERT(st == r.status);
    if (st == DANCE_OK) {
        FZ_ASSERT(chk == DANCE_OK && r.key_source[0] != '\0' && r.has_alg);
        memset(&r2, 0, sizeof(r2));
        FZ_ASSERT(dance_token_recheck(tok, DANCE_OK, &env->records, NULL, &pol, &r2)
                  == DANCE_OK);
        FZ_ASSERT(dance_token_verify(tok, &env->records, &pol, &r2) == DANCE_REPLAY);
    } else if (chk != DANCE_OK) {
        FZ_ASSERT(st == chk);       /* the cheap refusal comes first */
    }
    memset(&r2, 0, sizeof(r2));
    FZ_ASSERT(dance_token_verify(tok, &empty, &pol, &r2) != DANCE_OK);
    FZ_ASSERT(dance_token_recheck(tok, DANCE_BOGUS, &env->records, "bogus", &pol, &r2)
              != DANCE_OK);
    FZ_ASSERT(dance_token_verify_dns(tok, DANCE_NO_RECORD, &env->records, NULL,
                                     &pol, &r2) != DANCE_OK);
    check_res(&r2);
    FZ_ASSERT(ERR_peek_error() == 0);

    dance_replay_free(rp);
    dance_token_free(tok);
    free(user);
    return 0;
}
