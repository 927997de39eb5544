/*
 * cli_io.c - see cli_io.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "cli_io.h"
#include "dance/provision.h"

int cli_read_all(FILE *f, size_t max, unsigned char **buf, size_t *len,
                 char *err, size_t errlen)
{
    size_t cap = 4096, n = 0, got;
    unsigned char *b = malloc(cap + 1), *nb;

    *buf = NULL;
    *len = 0;
    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                snprintf(err, errlen, "input is larger than %zu bytes", max);
                free(b);
                return -1;
            }
            cap *= 2;
            nb = realloc(b, cap + 1);
            if (nb == NULL) {
                snprintf(err, errlen, "out of memory");
                free(b);
                return -1;
            }
            b = nb;
        }
        got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                snprintf(err, errlen, "%s", strerror(errno ? errno : EIO));
                free(b);
                return -1;
            }
            break;
        }
    }
    if (n > max) {
        snprintf(err, errlen, "input is larger than %zu bytes", max);
        free(b);
        return -1;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

EVP_PKEY *cli_load_pubkey(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *key;

    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (key != NULL)
        return key;
    /* not a public key PEM: the public half of a private key will do */
    ERR_clear_error();
    key = dance_key_load(path, err, errlen);
    if (key == NULL)
        snprintf(err, errlen, "cannot read a public key (PEM PUBLIC KEY or a private "
                 "key) from %s", path);
    return key;
}
