/*
 * fuzz_jwe.c - libFuzzer harness for dance_jwe_decrypt and dance_jwe_encrypt
 * (lib/jwe.c, lib/jwe_crypto.c): compact and JSON JWE, the protected
 * header, epk, key unwrapping and content decryption.
 *
 * Input: the MQTT payload as is. It is decrypted with an RSA-2048, a P-256
 * and a P-384 key made by the first call (the seeds are encrypted to other
 * keys, so the fuzzer mostly explores the structure and header checks and
 * the failure path after unwrapping); then it is encrypted as a plaintext
 * to each key, compact and JSON, and decrypted back.
 * Checked: the status is one a JWE can get; a refusal gives no plaintext
 * and a reason, and once the key is used only "decryption failed"; a
 * decryption gives the reason ""; whitespace around the message changes
 * nothing; a size limit below the input gives TOO_LARGE; encrypt -> decrypt
 * returns the input exactly (a JWE as plaintext is refused as nested).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dance/jwe.h"
#include "fuzz_common.h"

static EVP_PKEY *keys[3];

static void make_keys(void)
{
    keys[0] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    keys[1] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    keys[2] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    FZ_ASSERT(keys[0] != NULL && keys[1] != NULL && keys[2] != NULL);
}

/* check_result - the contract of one dance_jwe_decrypt */
static void check_result(dance_status st, const dance_jwe_result *r)
{
    FZ_ASSERT(st == r->status);
    FZ_ASSERT(memchr(r->reason, '\0', sizeof(r->reason)) != NULL);
    FZ_ASSERT(memchr(r->recipient, '\0', sizeof(r->recipient)) != NULL);
    if (st == DANCE_OK) {
        FZ_ASSERT(r->plaintext != NULL && r->reason[0] == '\0');
        FZ_ASSERT(r->plaintext[r->plaintext_len] == '\0');
        FZ_ASSERT(r->has_alg && (unsigned)r->alg < DANCE_JWE_ALG_COUNT
                  && (unsigned)r->enc < DANCE_JWE_ENC_COUNT);
        return;
    }
    FZ_ASSERT(r->plaintext == NULL && r->plaintext_len == 0 && r->reason[0] != '\0');
    FZ_ASSERT(st == DANCE_MALFORMED || st == DANCE_TOO_LARGE || st == DANCE_BAD_ALG
              || st == DANCE_UNSUPPORTED || st == DANCE_KEY_MISMATCH
              || st == DANCE_DECRYPT_FAILED || st == DANCE_INTERNAL);
    if (st == DANCE_DECRYPT_FAILED)
        FZ_ASSERT(strcmp(r->reason, DANCE_JWE_DECRYPT_FAILED_REASON) == 0);
}

static void round_trip(const uint8_t *data, size_t size, EVP_PKEY *key, bool json)
{
    dance_jwe_encrypt_opts o;
    dance_jwe_result r;
    char *out = NULL, err[DANCE_REASON_MAX];
    size_t outlen = 0;
    dance_status st;

    memset(&o, 0, sizeof(o));
    memset(&r, 0, sizeof(r));
    o.key = key;
    o.recipient = "backend.acme.example";
    o.alg = key == keys[2] ? "ECDH-ES+A256KW" : NULL;
    o.enc = json ? "A256CBC-HS512" : "A256GCM";
    o.serialization = json ? DANCE_JWS_FLATTENED : DANCE_JWS_COMPACT;
    FZ_ASSERT(dance_jwe_encrypt(&o, data, size, &out, &outlen, err, sizeof(err)) == 0);
    FZ_ASSERT(out != NULL && strlen(out) == outlen);
    st = dance_jwe_decrypt(out, outlen, outlen, key, &r);
    check_result(st, &r);
    if (dance_jwe_is_jwe(data, size)) {
        FZ_ASSERT(st == DANCE_UNSUPPORTED);
    } else {
        FZ_ASSERT(st == DANCE_OK);
        FZ_ASSERT(r.plaintext_len == size && memcmp(r.plaintext, data, size) == 0);
        FZ_ASSERT(strcmp(r.recipient, "backend.acme.example") == 0);
    }
    dance_jwe_result_clear(&r);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dance_jwe_result r, again;
    dance_status st, st2;
    uint8_t *padded;

    if (keys[0] == NULL)
        make_keys();
    for (int k = 0; k < 3; k++) {
        memset(&r, 0, sizeof(r));
        memset(&again, 0, sizeof(again));
        st = dance_jwe_decrypt(data, size, 0, keys[k], &r);
        check_result(st, &r);
        if (size > 0 && st != DANCE_TOO_LARGE) {
            /* one byte over the limit is refused before anything else */
            st2 = dance_jwe_decrypt(data, size, size - 1 ? size - 1 : 1, keys[k], &again);
            check_result(st2, &again);
            if (size > 1)
                FZ_ASSERT(st2 == DANCE_TOO_LARGE);
            dance_jwe_result_clear(&again);
            /* white space around a message is not part of it */
            padded = malloc(size + 2);
            FZ_ASSERT(padded != NULL);
            padded[0] = ' ';
            memcpy(padded + 1, data, size);
            padded[size + 1] = '\n';
            st2 = dance_jwe_decrypt(padded, size + 2, size + 2, keys[k], &again);
            check_result(st2, &again);
            FZ_ASSERT(st2 == st);
            dance_jwe_result_clear(&again);
            free(padded);
        }
        dance_jwe_result_clear(&r);
    }
    /* the input as plaintext, each key and form */
    round_trip(data, size, keys[0], false);
    round_trip(data, size, keys[1], true);
    round_trip(data, size, keys[2], size % 2 == 0);
    return 0;
}
