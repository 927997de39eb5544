/*
 * test_version.c - the version the headers name (dance/version.h, generated
 * from project(... VERSION)) is the one the library reports, and both agree
 * with the project's version as CMake saw it (DANCE_EXPECTED_VERSION).
 * Linked against libdance.so, so dance_version is also checked to be
 * exported from the shared library.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "dance/version.h"

static void function_matches_macros(void **state)
{
    char joined[64];

    (void)state;
    assert_non_null(dance_version());
    assert_string_equal(dance_version(), DANCE_VERSION_STRING);
    snprintf(joined, sizeof(joined), "%d.%d.%d", DANCE_VERSION_MAJOR,
             DANCE_VERSION_MINOR, DANCE_VERSION_PATCH);
    assert_string_equal(joined, DANCE_VERSION_STRING);
    /* the same static string on every call */
    assert_ptr_equal(dance_version(), dance_version());
}

static void macros_match_project(void **state)
{
    (void)state;
    assert_string_equal(DANCE_VERSION_STRING, DANCE_EXPECTED_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(function_matches_macros),
        cmocka_unit_test(macros_match_project),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
