/*
 * jws_result.c - dance_jws_result on the heap and read through functions,
 * so that callers without the struct's layout (the Python binding over
 * ctypes) can use every verifier.
 */
#include <stdlib.h>

#include "dance/jws.h"

dance_jws_result *dance_jws_result_new(void)
{
    dance_jws_result *res = calloc(1, sizeof(*res));

    if (res != NULL)
        dance_jws_result_clear(res);
    return res;
}

void dance_jws_result_free(dance_jws_result *res)
{
    if (res == NULL)
        return;
    dance_jws_result_clear(res);
    free(res);
}

dance_status dance_jws_result_status(const dance_jws_result *res)
{
    return res != NULL ? res->status : DANCE_INTERNAL;
}

const char *dance_jws_result_sender(const dance_jws_result *res)
{
    return res != NULL ? res->sender : "";
}

const char *dance_jws_result_alg(const dance_jws_result *res)
{
    return res != NULL && res->has_alg ? dance_jws_alg_name(res->alg) : "";
}

const char *dance_jws_result_key_source(const dance_jws_result *res)
{
    return res != NULL ? res->key_source : "";
}

const char *dance_jws_result_reason(const dance_jws_result *res)
{
    return res != NULL ? res->reason : "";
}

const unsigned char *dance_jws_result_payload(const dance_jws_result *res, size_t *len)
{
    bool ok = res != NULL && res->status == DANCE_OK && res->payload != NULL;

    if (len != NULL)
        *len = ok ? res->payload_len : 0;
    return ok ? res->payload : NULL;
}
