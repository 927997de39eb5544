/*
 * cli_io.c - see cli_io.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli_io.h"

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
