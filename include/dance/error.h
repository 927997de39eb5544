/*
 * dance/error.h - reasons for the caller, and the escaping of anything a
 * client chose before it is logged or printed.
 *
 * Every libdance call that can fail takes (char *err, size_t errlen) and
 * writes there a reason a user can act on. This is the one writer of such
 * reasons, for the library and the programs built on it. Reasons quote
 * strings from tokens, message headers and certificates, so the writer
 * escapes what it writes: a reason is always printable ASCII, one line.
 *
 * The escaping rule (dance_escape), one for the whole project:
 *   printable ASCII (0x20-0x7e) is kept, except '\' -> "\\" and '"' -> "\"";
 *   every other byte (control characters, DEL, NUL, non-ASCII, so UTF-8 too)
 *   -> "\xHH" (lower-case hex);
 *   output cut short by the buffer ends in "..." and never splits an escape.
 * dance_escape_text is the same rule with '\' and '"' kept, for free text
 * (reasons) whose quoted values were escaped already and which nest inside
 * each other: escaping them again would double every backslash.
 */
#ifndef DANCE_ERROR_H
#define DANCE_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include "dance/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Buffer size that holds the escape of n bytes without truncation. */
#define DANCE_ESCAPE_SIZE(n) (4 * (size_t)(n) + 1)

/* dance_set_err - printf a reason into err, escaped with dance_escape_text;
 * does nothing when the caller wants none (err NULL or errlen 0). A reason
 * longer than errlen - 1 ends in "...". Arguments may point into err. */
void dance_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* dance_vset_err - dance_set_err with a va_list, for the reason helpers
 * that also set a status. */
void dance_vset_err(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* dance_escape - the n bytes at s (NUL bytes included; s may be NULL when n
 * is 0) as printable ASCII for one field of a log line or terminal line, by
 * the rule above. Returns buf, always NUL-terminated when buflen > 0; a
 * buffer of DANCE_ESCAPE_SIZE(n) never truncates. Cannot fail. */
char *dance_escape(const char *s, size_t n, char *buf, size_t buflen);

/* dance_escape_text - dance_escape keeping '\' and '"' (free text, see
 * above). Returns buf. Cannot fail. */
char *dance_escape_text(const char *s, size_t n, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif

#endif
