/*
 * test_plugin_identities.c - the identities kept for a warm start
 * (plugin/identities.c): noting and the recency bound, the file written
 * (names only, mode 0600) and read back, strict reading (bad lines,
 * names outside allowed_domains, duplicates and names past the cap
 * skipped and counted; corrupt and oversize files ignored; an unreadable
 * file an error), and the prefetch's counting of answers
 * (plugin/prefetch.c).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "dance/error.h"
#include "dance/name.h"
#include "dance/status.h"
#include "identities.h"
#include "prefetch.h"
#include "testdir.h"

static char dir[64];
static char path[128];
static dance_allowlist *allow;

static int setup(void **state)
{
    char why[DANCE_REASON_MAX];

    (void)state;
    assert_int_equal(testdir_make(dir, sizeof(dir), "dance-identities-"), 0);
    snprintf(path, sizeof(path), "%s/identities", dir);
    allow = dance_allowlist_parse("acme.example,other.example", why, sizeof(why));
    assert_non_null(allow);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    testdir_remove(dir);
    dance_allowlist_free(allow);
    return 0;
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static char *read_file(void)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_note_keeps_most_recent_within_cap(void **state)
{
    mdp_identities *ids = mdp_identities_new(3);
    char err[DANCE_REASON_MAX];
    struct stat st;

    (void)state;
    assert_non_null(ids);
    assert_false(mdp_identities_dirty(ids));
    assert_int_equal(mdp_identities_note(ids, "a.acme.example"), 0);
    assert_int_equal(mdp_identities_note(ids, "b.acme.example"), 0);
    assert_int_equal(mdp_identities_note(ids, "c.acme.example"), 0);
    assert_int_equal(mdp_identities_note(ids, "a.acme.example"), 0);   /* most recent */
    assert_int_equal(mdp_identities_note(ids, "d.acme.example"), 0);   /* b goes */
    assert_int_equal(mdp_identities_count(ids), 3);
    assert_true(mdp_identities_dirty(ids));
    assert_int_equal(mdp_identities_save(ids, path, err, sizeof(err)), 0);
    assert_false(mdp_identities_dirty(ids));
    assert_string_equal(read_file(), "dance-identities 1\nd.acme.example\n"
                        "a.acme.example\nc.acme.example\nend 3\n");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* noting the most recent again changes nothing to write */
    assert_int_equal(mdp_identities_note(ids, "d.acme.example"), 0);
    assert_false(mdp_identities_dirty(ids));
    mdp_identities_free(ids);
}

static void test_forget(void **state)
{
    mdp_identities *ids = mdp_identities_new(10);
    char err[DANCE_REASON_MAX];

    (void)state;
    assert_int_equal(mdp_identities_note(ids, "a.acme.example"), 0);
    assert_int_equal(mdp_identities_note(ids, "b.acme.example"), 0);
    assert_int_equal(mdp_identities_save(ids, path, err, sizeof(err)), 0);
    mdp_identities_forget(ids, "nobody.acme.example");
    assert_false(mdp_identities_dirty(ids));
    mdp_identities_forget(ids, "b.acme.example");
    assert_true(mdp_identities_dirty(ids));
    assert_int_equal(mdp_identities_count(ids), 1);
    assert_int_equal(mdp_identities_save(ids, path, err, sizeof(err)), 0);
    assert_string_equal(read_file(), "dance-identities 1\na.acme.example\nend 1\n");
    /* admitted again: back */
    assert_int_equal(mdp_identities_note(ids, "b.acme.example"), 0);
    assert_int_equal(mdp_identities_count(ids), 2);
    mdp_identities_free(ids);
}

static void test_round_trip_in_order(void **state)
{
    mdp_identities *ids = mdp_identities_new(10), *back = mdp_identities_new(10);
    mdp_identities_load_info li;
    char err[DANCE_REASON_MAX];
    char **names;
    size_t n = 0;

    (void)state;
    assert_int_equal(mdp_identities_note(ids, "one.acme.example"), 0);
    assert_int_equal(mdp_identities_note(ids, "two.other.example"), 0);
    assert_int_equal(mdp_identities_save(ids, path, err, sizeof(err)), 0);
    assert_int_equal(mdp_identities_load(back, path, allow, &li, err, sizeof(err)), 0);
    assert_false(li.missing);
    assert_false(li.corrupt);
    assert_int_equal(li.loaded, 2);
    assert_false(mdp_identities_dirty(back));
    names = mdp_identities_names(back, &n);
    assert_non_null(names);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "two.other.example");
    assert_string_equal(names[1], "one.acme.example");
    assert_null(names[2]);
    mdp_identities_names_free(names);
    mdp_identities_free(ids);
    mdp_identities_free(back);
}

static void test_missing_file_is_first_start(void **state)
{
    mdp_identities *ids = mdp_identities_new(10);
    mdp_identities_load_info li;
    char err[DANCE_REASON_MAX];

    (void)state;
    unlink(path);
    assert_int_equal(mdp_identities_load(ids, path, allow, &li, err, sizeof(err)), 0);
    assert_true(li.missing);
    assert_int_equal(mdp_identities_count(ids), 0);
    mdp_identities_free(ids);
}

static void test_bad_lines_skipped_and_counted(void **state)
{
    mdp_identities *ids = mdp_identities_new(3);
    mdp_identities_load_info li;
    char err[DANCE_REASON_MAX];

    (void)state;
    write_file("dance-identities 1\n"
               "good.acme.example\n"
               "not a name\n"                  /* invalid */
               "UPPER.acme.example\n"          /* not in normal form */
               "bad..acme.example\n"           /* empty label */
               "\n"                            /* empty */
               "evil.attacker.example\n"       /* outside */
               "acme.example.evil\n"           /* outside */
               "good.acme.example\n"           /* duplicate */
               "two.acme.example\n"
               "three.other.example\n"
               "four.acme.example\n"           /* past the cap of 3 */
               "end 11\n");
    assert_int_equal(mdp_identities_load(ids, path, allow, &li, err, sizeof(err)), 0);
    assert_false(li.corrupt);
    assert_int_equal(li.loaded, 3);
    assert_int_equal(li.invalid, 4);
    assert_int_equal(li.outside, 2);
    assert_int_equal(li.duplicates, 1);
    assert_int_equal(li.over_cap, 1);
    assert_int_equal(mdp_identities_count(ids), 3);
    mdp_identities_free(ids);
}

/* corrupt - the file is ignored as a whole, with a reason */
static void corrupt(const char *text, const char *reason)
{
    mdp_identities *ids = mdp_identities_new(10);
    mdp_identities_load_info li;
    char err[DANCE_REASON_MAX];

    write_file(text);
    err[0] = '\0';
    assert_int_equal(mdp_identities_load(ids, path, allow, &li, err, sizeof(err)), 0);
    assert_true(li.corrupt);
    assert_int_equal(li.loaded, 0);
    assert_int_equal(mdp_identities_count(ids), 0);
    if (strstr(err, reason) == NULL)
        fail_msg("expected '%s' in '%s'", reason, err);
    mdp_identities_free(ids);
}

static void test_corrupt_files_ignored(void **state)
{
    (void)state;
    corrupt("", "empty file");
    corrupt("dance-replay 1\nend 0\n", "not an identities file");
    corrupt("dance-identities 2\nend 0\n", "not an identities file");
    corrupt("dance-identities 1\na.acme.example\n", "no end line");
    corrupt("dance-identities 1\na.acme.example", "no newline");
    corrupt("dance-identities 1\na.acme.example\nend 2\n", "end line");
    corrupt("dance-identities 1\nend 0\nb.acme.example\n", "after the end line");
    corrupt("dance-identities 1\nend x\n", "end line");
}

static void test_nul_byte_is_corrupt(void **state)
{
    static const char text[] = "dance-identities 1\na.acme\0xample\nend 1\n";
    mdp_identities *ids = mdp_identities_new(10);
    mdp_identities_load_info li;
    char err[DANCE_REASON_MAX];
    FILE *f = fopen(path, "w");

    (void)state;
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
    fclose(f);
    assert_int_equal(mdp_identities_load(ids, path, allow, &li, err, sizeof(err)), 0);
    assert_true(li.corrupt);
    assert_non_null(strstr(err, "NUL byte"));
    mdp_identities_free(ids);
}

static void test_oversize_file_ignored(void **state)
{
    mdp_identities *ids = mdp_identities_new(2);
    mdp_identities_load_info li;
    char err[DANCE_REASON_MAX];
    FILE *f = fopen(path, "w");

    (void)state;
    assert_non_null(f);
    fputs("dance-identities 1\n", f);
    for (int i = 0; i < 100; i++)
        fprintf(f, "device-%03d-with-a-long-enough-name.acme.example\n", i);
    fputs("end 100\n", f);
    fclose(f);
    assert_int_equal(mdp_identities_load(ids, path, allow, &li, err, sizeof(err)), 0);
    assert_true(li.corrupt);
    assert_non_null(strstr(err, "larger"));
    assert_int_equal(mdp_identities_count(ids), 0);
    mdp_identities_free(ids);
}

static void test_unreadable_is_an_error(void **state)
{
    mdp_identities *ids = mdp_identities_new(10);
    mdp_identities_load_info li;
    char err[DANCE_REASON_MAX];

    (void)state;
    /* a directory where the file should be */
    assert_int_equal(mdp_identities_load(ids, dir, allow, &li, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "directory"));
    if (geteuid() != 0) {
        write_file("dance-identities 1\nend 0\n");
        assert_int_equal(chmod(path, 0), 0);
        assert_int_equal(mdp_identities_load(ids, path, allow, &li, err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, "cannot read"));
        chmod(path, 0600);
    }
    mdp_identities_free(ids);
}

static void test_prefetch_counts_its_own_answers(void **state)
{
    static const char *const idents[] = {"a.acme.example", "b.acme.example",
                                         "a.acme.example", "c.acme.example"};
    static const char *const owners[] = {"_mqtt.a.acme.example", "_mqtt.b.acme.example",
                                         "_mqtt.A.acme.example", "_mqtt.c.acme.example"};
    mdp_prefetch *pf = mdp_prefetch_new(idents, owners, 4, 2, 10);
    mdp_prefetch_counters pc;
    mdp_fetch_done d = {"_mqtt.b.acme.example", DANCE_OK, ""};
    const char *identity = "x";

    (void)state;
    assert_non_null(pf);
    mdp_prefetch_get_counters(pf, &pc);
    assert_int_equal(pc.identities, 3);         /* A. is a. */
    assert_int_equal(pc.pending, 3);
    assert_false(mdp_prefetch_complete(pf));
    /* not queued yet: a device's own lookup, not counted */
    assert_false(mdp_prefetch_fetch_done(pf, &d, &identity));
    assert_null(identity);
    /* a device asking for a name not under way waits on no prefetch */
    mdp_prefetch_asked(pf, "_mqtt.a.acme.example");
    assert_int_equal(mdp_prefetch_unasked(pf), 0);
    mdp_prefetch_get_counters(pf, &pc);
    assert_int_equal(pc.secure, 0);
    mdp_prefetch_free(pf);

    pf = mdp_prefetch_new(idents, owners, 0, 2, 10);
    assert_non_null(pf);
    assert_true(mdp_prefetch_complete(pf));
    mdp_prefetch_free(pf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_note_keeps_most_recent_within_cap),
        cmocka_unit_test(test_round_trip_in_order),
        cmocka_unit_test(test_forget),
        cmocka_unit_test(test_missing_file_is_first_start),
        cmocka_unit_test(test_bad_lines_skipped_and_counted),
        cmocka_unit_test(test_corrupt_files_ignored),
        cmocka_unit_test(test_nul_byte_is_corrupt),
        cmocka_unit_test(test_oversize_file_ignored),
        cmocka_unit_test(test_unreadable_is_an_error),
        cmocka_unit_test(test_prefetch_counts_its_own_answers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
