/*
 * error.c - the one writer of reasons into callers' (err, errlen) buffers,
 * and the one escaping rule for anything a client chose (dance/error.h).
 *
 * A reason is formatted first and escaped as a whole, so no format string
 * has to remember to escape its arguments: a kid, alg, crit, typ, aud, jti,
 * topic or name quoted into a reason cannot add a line to a log or send a
 * terminal escape, whichever program prints the reason.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dance/error.h"

#define ELLIPSIS "..."
#define ELLIPSIS_LEN 3

/* escape - the common rule. quotes: escape '\' and '"' too. cut: the input
 * was already truncated by its producer, so the output ends in "...". */
static char *escape(const char *s, size_t n, char *buf, size_t buflen,
                    bool quotes, bool cut)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, keep = 0, limit, i;

    if (buf == NULL || buflen == 0)
        return buf;
    limit = buflen - 1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char unit[4];
        size_t k;

        if (quotes && (c == '\\' || c == '"')) {
            unit[0] = '\\';
            unit[1] = (char)c;
            k = 2;
        } else if (c >= 0x20 && c < 0x7f) {
            unit[0] = (char)c;
            k = 1;
        } else {
            unit[0] = '\\';
            unit[1] = 'x';
            unit[2] = hex[c >> 4];
            unit[3] = hex[c & 0x0f];
            k = 4;
        }
        if (o + k > limit) {
            cut = true;
            break;
        }
        memcpy(buf + o, unit, k);
        o += k;
        /* keep: the longest whole-unit prefix that still leaves room for
         * the ellipsis, where a cut output stops */
        if (o + ELLIPSIS_LEN <= limit)
            keep = o;
    }
    /* A buffer too small for the ellipsis keeps the whole units that fit:
     * a reason is never emptied by its cut. */
    if (cut && limit >= ELLIPSIS_LEN) {
        o = keep;
        memcpy(buf + o, ELLIPSIS, ELLIPSIS_LEN);
        o += ELLIPSIS_LEN;
    }
    buf[o] = '\0';
    return buf;
}

char *dance_escape(const char *s, size_t n, char *buf, size_t buflen)
{
    return escape(s, s == NULL ? 0 : n, buf, buflen, true, false);
}

char *dance_escape_text(const char *s, size_t n, char *buf, size_t buflen)
{
    return escape(s, s == NULL ? 0 : n, buf, buflen, false, false);
}

void dance_vset_err(char *err, size_t errlen, const char *fmt, va_list ap)
{
    char small[512], *raw = small;
    int len;
    size_t n;

    if (err == NULL || errlen == 0)
        return;
    /* Formatted apart from err (arguments may point into it); each raw
     * byte escapes to at least one byte, so errlen raw bytes are enough. */
    if (errlen > sizeof(small) && (raw = malloc(errlen)) == NULL) {
        /* No memory for a copy: say so in words rather than print an
         * unescaped reason. */
        snprintf(err, errlen, "out of memory writing a reason");
        return;
    }
    len = vsnprintf(raw, errlen, fmt, ap);
    if (len < 0) {
        snprintf(err, errlen, "cannot format a reason");
    } else {
        n = (size_t)len < errlen ? (size_t)len : errlen - 1;
        escape(raw, n, err, errlen, false, (size_t)len >= errlen);
    }
    if (raw != small)
        free(raw);
}

void dance_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    dance_vset_err(err, errlen, fmt, ap);
    va_end(ap);
}
