/*
 * test_escape.c - unit tests for the escaping rule and the reason writer
 * (lib/error.c): what a client chose never reaches a log line or a
 * terminal as a raw control byte, and cut output never splits an escape;
 * and the names of the statuses reasons go with (lib/status.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dance/error.h"
#include "dance/status.h"

/* only_printable - every byte of s is 0x20-0x7e */
static void only_printable(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            fail_msg("raw byte 0x%02x in \"%s\"", (unsigned char)*s, s);
}

static void escape_rule(void **state)
{
    char buf[128];
    static const char in[] = "a\nb\rc\x1b[2Jd\x7f" "e\"f\\g\xc3\xa9h\ti";

    (void)state;
    assert_string_equal(dance_escape(in, sizeof(in) - 1, buf, sizeof(buf)),
                        "a\\x0ab\\x0dc\\x1b[2Jd\\x7fe\\\"f\\\\g\\xc3\\xa9h\\x09i");
    only_printable(buf);
    /* printable ASCII unchanged */
    assert_string_equal(dance_escape("dev1._device.acme.example", 25, buf, sizeof(buf)),
                        "dev1._device.acme.example");
    /* text mode keeps quotes and backslashes, escapes the rest */
    assert_string_equal(dance_escape_text(in, sizeof(in) - 1, buf, sizeof(buf)),
                        "a\\x0ab\\x0dc\\x1b[2Jd\\x7fe\"f\\g\\xc3\\xa9h\\x09i");
    /* escaping escaped text in text mode changes nothing (reasons nest) */
    {
        char again[128];
        assert_string_equal(dance_escape_text(buf, strlen(buf), again, sizeof(again)), buf);
    }
}

static void escape_nul_safe(void **state)
{
    char buf[64];
    static const char in[] = { 'k', 'i', 'd', '\0', 'x', '\0' };

    (void)state;
    /* given a length, NUL bytes are escaped, not an end */
    assert_string_equal(dance_escape(in, sizeof(in), buf, sizeof(buf)),
                        "kid\\x00x\\x00");
    assert_string_equal(dance_escape(NULL, 0, buf, sizeof(buf)), "");
    assert_string_equal(dance_escape("", 0, buf, sizeof(buf)), "");
}

static void escape_truncation(void **state)
{
    char buf[16];
    size_t i;

    (void)state;
    /* exactly fits: no marker */
    assert_string_equal(dance_escape("0123456789abcde", 15, buf, sizeof(buf)),
                        "0123456789abcde");
    /* one more byte: cut and marked */
    assert_string_equal(dance_escape("0123456789abcdef", 16, buf, sizeof(buf)),
                        "0123456789ab...");
    /* an escape that does not fit whole is dropped, not split */
    assert_string_equal(dance_escape("0123456789\n\n\n", 13, buf, sizeof(buf)),
                        "0123456789...");
    assert_string_equal(dance_escape("01234567\n89abcdefg", 18, buf, sizeof(buf)),
                        "01234567\\x0a...");
    assert_string_equal(dance_escape("\"\"\"\"\"\"\"\"", 8, buf, sizeof(buf)),
                        "\\\"\\\"\\\"\\\"\\\"\\\"...");
    /* every buffer size from 1 up: terminated, printable, never a split
     * escape (a trailing backslash or "\x" / "\xH" fragment) */
    for (i = 1; i <= sizeof(buf); i++) {
        size_t len;
        memset(buf, 'Z', sizeof(buf));
        dance_escape("\x1b\x1b\x1b\x1b\x1b", 5, buf, i);
        len = strlen(buf);
        assert_true(len < i);
        only_printable(buf);
        if (len >= 3 && strcmp(buf + len - 3, "...") == 0)
            len -= 3;
        assert_int_equal(len % 4, 0);
    }
    /* a buffer too small for the ellipsis keeps what fits, never nothing */
    assert_string_equal(dance_escape("abcdef", 6, buf, 2), "a");
    assert_string_equal(dance_escape("abcdef", 6, buf, 3), "ab");
    assert_string_equal(dance_escape("abcdef", 6, buf, 4), "...");
    {
        char two[2];
        dance_set_err(two, sizeof(two), "plugin_opt_%s", "x");
        assert_string_equal(two, "p");
    }
    /* buflen 0 writes nothing */
    buf[0] = 'Z';
    dance_escape("abc", 3, buf, 0);
    assert_int_equal(buf[0], 'Z');
    /* a buffer of DANCE_ESCAPE_SIZE(n) never cuts */
    {
        char big[DANCE_ESCAPE_SIZE(4)];
        assert_string_equal(dance_escape("\x01\x02\x03\x04", 4, big, sizeof(big)),
                            "\\x01\\x02\\x03\\x04");
    }
}

static void set_err_escapes(void **state)
{
    char err[256];
    char kid[] = "x\ndance: accepted identity=dev1._device.acme.example "
                 "client_id=\"evil\"\x1b[2J";

    (void)state;
    dance_set_err(err, sizeof(err), "kid '%s' is not a DNS name", kid);
    only_printable(err);
    assert_null(strchr(err, '\n'));
    assert_string_equal(err, "kid 'x\\x0adance: accepted identity=dev1._device.acme.example "
                             "client_id=\"evil\"\\x1b[2J' is not a DNS name");
    /* %c with NUL: escaped too (the writer uses the formatted length) */
    dance_set_err(err, sizeof(err), "a%cb", 0);
    assert_string_equal(err, "a\\x00b");
    /* nothing to write into */
    dance_set_err(NULL, 10, "x");
    err[0] = 'Z';
    dance_set_err(err, 0, "x");
    assert_int_equal(err[0], 'Z');
    /* a reason nested in another stays as it was */
    {
        char outer[256];
        dance_set_err(outer, sizeof(outer), "token refused: %s", err);
        assert_string_equal(outer, "token refused: Z\\x00b");
        dance_set_err(err, sizeof(err), "kid \"%s\"", "a\\b\x01");
        dance_set_err(outer, sizeof(outer), "token refused: %s", err);
        assert_string_equal(outer, "token refused: kid \"a\\b\\x01\"");
        /* arguments may point into err */
        dance_set_err(err, sizeof(err), "again: %s", err);
        assert_string_equal(err, "again: kid \"a\\b\\x01\"");
    }
}

static void set_err_truncation(void **state)
{
    char err[16], big[2048];

    (void)state;
    /* cut by the formatter: marked */
    dance_set_err(err, sizeof(err), "%s", "0123456789abcdefghij");
    assert_string_equal(err, "0123456789ab...");
    /* cut by escaping */
    dance_set_err(err, sizeof(err), "%s", "0123456789\n\n");
    assert_string_equal(err, "0123456789...");
    dance_set_err(err, sizeof(err), "%s", "0123456789abcde");
    assert_string_equal(err, "0123456789abcde");
    /* reasons larger than the writer's stack copy */
    {
        char *long_err = malloc(4096);
        assert_non_null(long_err);
        memset(big, '\n', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        dance_set_err(long_err, 4096, "%s", big);
        only_printable(long_err);
        assert_int_equal(strlen(long_err), 4092 + 3);
        assert_string_equal(long_err + 4092, "...");
        free(long_err);
    }
}

/* status_names - every status has its own name, usable as a counter name
 * (lowercase letters and underscores) */
static void status_names(void **state)
{
    (void)state;
    for (int i = 0; i < DANCE_STATUS_COUNT; i++) {
        const char *name = dance_status_name((dance_status)i);

        assert_non_null(name);
        assert_true(name[0] != '\0');
        assert_string_not_equal(name, "unknown");
        for (const char *c = name; *c != '\0'; c++)
            if (!((*c >= 'a' && *c <= 'z') || *c == '_'))
                fail_msg("status %d: name \"%s\" is not a counter name", i, name);
        for (int j = i + 1; j < DANCE_STATUS_COUNT; j++)
            assert_string_not_equal(name, dance_status_name((dance_status)j));
    }
    assert_string_equal(dance_status_name(DANCE_STATUS_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escape_rule),
        cmocka_unit_test(escape_nul_safe),
        cmocka_unit_test(escape_truncation),
        cmocka_unit_test(set_err_escapes),
        cmocka_unit_test(set_err_truncation),
        cmocka_unit_test(status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
