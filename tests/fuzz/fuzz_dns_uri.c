/*
 * fuzz_dns_uri.c - libFuzzer harness for RFC 4501 DNS URIs
 * (dance_dns_uri_name in lib/name.c), the x5u/kid sender form.
 *
 * Input: the URI (cut at the first NUL). Checked: an accepted URI gives a
 * normalised name (a fixed point of dance_name_normalize) that fits; a
 * small output buffer is refused, not overrun; the same URI with its
 * scheme in other case gives the same answer.
 */
#include <stdlib.h>
#include <string.h>

#include "dance/name.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[DANCE_NAME_MAX + 1], norm[DANCE_NAME_MAX + 1], err[DANCE_REASON_MAX];
    char *small, *uri;
    size_t smallen;
    int rc;

    if (size > 2048)
        return 0;
    uri = fz_strndup0(data, size);
    err[0] = '\0';
    rc = dance_dns_uri_name(uri, out, sizeof(out), err, sizeof(err));
    FZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
    if (rc == 0) {
        FZ_ASSERT(strlen(out) <= DANCE_NAME_MAX);
        FZ_ASSERT(dance_name_normalize(out, norm, sizeof(norm), NULL, 0) == 0);
        FZ_ASSERT(strcmp(out, norm) == 0);
    } else {
        FZ_ASSERT(rc == -1 && err[0] != '\0');
    }

    /* exactly sized heap buffers let ASan see any overrun */
    smallen = size > 0 ? (size_t)data[0] % 16 + 1 : 1;
    small = malloc(smallen);
    FZ_ASSERT(small != NULL);
    if (dance_dns_uri_name(uri, small, smallen, NULL, 0) == 0)
        FZ_ASSERT(rc == 0 && strlen(small) < smallen && strcmp(small, out) == 0);
    free(small);

    if (size >= 4) {
        uri[0] ^= 0x20;     /* dNs: is the same scheme */
        if ((uri[0] | 0x20) == 'd')
            FZ_ASSERT(dance_dns_uri_name(uri, norm, sizeof(norm), NULL, 0) == rc);
    }
    free(uri);
    return 0;
}
