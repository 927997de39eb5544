/*
 * dance/error.h - reasons for the caller.
 *
 * Every libdance call that can fail takes (char *err, size_t errlen) and
 * writes there a reason a user can act on. This is the one writer of such
 * reasons, for the library and the programs built on it.
 */
#ifndef DANCE_ERROR_H
#define DANCE_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* dance_set_err - printf a reason into err; does nothing when the caller
 * wants none (err NULL or errlen 0). Truncates to errlen - 1 bytes. */
void dance_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
