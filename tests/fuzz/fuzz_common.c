/*
 * fuzz_common.c - fixed certificates, assertions and result checks for the
 * harnesses (see fuzz_common.h).
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "dance/keycache.h"
#include "dance/provision.h"

#ifndef DANCE_FUZZ_KEYS_DIR
#error "DANCE_FUZZ_KEYS_DIR must name tests/fuzz/keys"
#endif

static const char *const cert_files[FZ_CERT_COUNT] = {
    [FZ_DEV_EC] = "dev-ec.pem", [FZ_DEV_ED] = "dev-ed.pem",
    [FZ_DEV_RSA] = "dev-rsa.pem", [FZ_CA] = "ca.pem",
};
static X509 *certs[FZ_CERT_COUNT];

void fz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}

const char *fz_ca_path(void)
{
    return DANCE_FUZZ_KEYS_DIR "/ca.pem";
}

X509 *fz_cert(fz_cert_id id)
{
    char path[1024], err[256];

    FZ_ASSERT(id < FZ_CERT_COUNT);
    if (certs[id] == NULL) {
        snprintf(path, sizeof(path), "%s/%s", DANCE_FUZZ_KEYS_DIR, cert_files[id]);
        certs[id] = dance_cert_load(path, err, sizeof(err));
        if (certs[id] == NULL) {
            fprintf(stderr, "fuzz: %s (run tests/fuzz/make-corpus.py)\n", err);
            abort();
        }
    }
    return certs[id];
}

void fz_tlsa_add(dance_tlsa_rrset *set, uint8_t u, uint8_t s, uint8_t m, fz_cert_id id)
{
    char err[256];

    if (dance_tlsa_from_cert(fz_cert(id), u, s, m, set, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz: %s\n", err);
        abort();
    }
}

void fz_check_match(const dance_match_input *in, int rc, const dance_match_result *r)
{
    FZ_ASSERT(rc == 0 || rc == 1 || rc == -1);
    FZ_ASSERT(memchr(r->reason, '\0', sizeof(r->reason)) != NULL);
    FZ_ASSERT((rc == 0) == r->authenticated);
    if (rc == 0) {
        const dance_tlsa_rr *rr;
        FZ_ASSERT(in->tlsa != NULL);
        FZ_ASSERT(r->matched_index >= 0 && (size_t)r->matched_index < in->tlsa->count);
        FZ_ASSERT(r->usable > 0);
        FZ_ASSERT(r->depth >= 0);
        rr = &in->tlsa->rr[r->matched_index];
        FZ_ASSERT(rr->usage == r->matched.usage && rr->selector == r->matched.selector
                  && rr->mtype == r->matched.mtype);
        /* DANE-EE can only ever match the leaf itself */
        FZ_ASSERT(rr->usage != 3 || r->depth == 0);
    }
}

char *fz_strndup0(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    FZ_ASSERT(s != NULL);
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

int64_t fz_fixed_now(void *ctx)
{
    (void)ctx;
    return FUZZ_NOW;
}

const fz_verify_env *fz_verify_env_get(void)
{
    static fz_verify_env env;
    static int made;
    char err[256];

    if (made)
        return &env;
    env.allow = dance_allowlist_parse("acme.example", err, sizeof(err));
    env.matcher = dance_matcher_new(NULL, err, sizeof(err));
    env.keys = dance_jws_keycache_new(64);
    FZ_ASSERT(env.allow != NULL && env.matcher != NULL && env.keys != NULL);
    fz_tlsa_add(&env.records, 3, 1, 0, FZ_DEV_EC);
    fz_tlsa_add(&env.records, 3, 0, 0, FZ_DEV_ED);
    fz_tlsa_add(&env.records, 3, 1, 1, FZ_DEV_RSA);
    fz_tlsa_add(&env.records, 2, 0, 1, FZ_CA);
    made = 1;
    return &env;
}
