/*
 * fuzz_common.h - what the libFuzzer harnesses in tests/fuzz share: the
 * fixed certificates (tests/fuzz/keys, made with make-corpus.py together
 * with the signed seeds), the fixed clock, an assertion that always aborts
 * (libFuzzer reports the abort as a crash with the input), and consistency
 * checks of dance_match results.
 *
 * The certificates are loaded once by the first harness call and live for
 * the process; nothing here frees them (the process ends with the fuzzer).
 */
#ifndef DANCE_FUZZ_COMMON_H
#define DANCE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

#include "dance/dane.h"
#include "dance/jws.h"
#include "dance/keycache.h"
#include "dance/tlsa.h"

/* The seeds' iat and the harnesses' clock (make-corpus.py FUZZ_NOW). */
#define FUZZ_NOW 1750000000
#define FUZZ_TOPIC "devices/dev1/telemetry"
#define FUZZ_DEV_EC "dev1._device.acme.example"
#define FUZZ_DEV_ED "dev2._device.acme.example"
#define FUZZ_DEV_RSA "dev3._device.acme.example"

typedef enum fz_cert_id { FZ_DEV_EC, FZ_DEV_ED, FZ_DEV_RSA, FZ_CA, FZ_CERT_COUNT } fz_cert_id;

/* fz_cert - one of the fixed certificates (borrowed, never NULL). */
X509 *fz_cert(fz_cert_id id);

/* fz_ca_path - the CA certificate's PEM file (for dance_matcher_new). */
const char *fz_ca_path(void);

/* fz_tlsa_add - append the (u s m) record of a fixed certificate; aborts
 * on failure. */
void fz_tlsa_add(dance_tlsa_rrset *set, uint8_t u, uint8_t s, uint8_t m, fz_cert_id id);

/* fz_verify_env - what fuzz_jws_verify and fuzz_token verify against, made
 * by the first call and kept for the process: allow-list acme.example, a
 * matcher without CA file, a key cache of 64 keys and the RRset that the
 * seeds were signed for (3 1 0 P-256 key, 3 0 0 Ed25519 certificate,
 * 3 1 1 RSA key, 2 0 1 CA certificate). */
typedef struct fz_verify_env {
    dance_allowlist *allow;
    dance_matcher *matcher;
    dance_jws_keycache *keys;
    dance_tlsa_rrset records;
} fz_verify_env;

const fz_verify_env *fz_verify_env_get(void);

/* fz_fixed_now - the policies' clock: always FUZZ_NOW. */
int64_t fz_fixed_now(void *ctx);

/* FZ_ASSERT - a broken invariant is a finding: say which and abort. */
#define FZ_ASSERT(cond) \
    ((cond) ? (void)0 : fz_fail(__FILE__, __LINE__, #cond))
void fz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* fz_check_match - the contract of dance_match (dane.h): rc 0 exactly when
 * authenticated; an authentication names a usable record that is in the
 * set with the reported u/s/m; the reason is NUL-terminated. */
void fz_check_match(const dance_match_input *in, int rc, const dance_match_result *r);

/* fz_strndup0 - data as a NUL-terminated string (cut at the first NUL);
 * aborts on allocation failure. */
char *fz_strndup0(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
