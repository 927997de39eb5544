/*
 * error.c - the one writer of reasons into callers' (err, errlen) buffers.
 */
#include <stdarg.h>
#include <stdio.h>

#include "dance/error.h"

void dance_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
