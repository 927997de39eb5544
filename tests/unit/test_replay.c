/*
 * test_replay.c - the replay cache (lib/replay.c): per-sender share and
 * eviction choice (one sender's flood never evicts another's pair),
 * eviction counting, persistence (save, load, expiry by wall clock,
 * damaged files refused, atomic replacement), memory that follows the
 * entries held rather than the capacity.
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "dance/replay.h"
#include "testdir.h"

static uint64_t mono;
static int64_t wall;

static uint64_t fake_mono(void *ctx)
{
    (void)ctx;
    return mono;
}

static int64_t fake_wall(void *ctx)
{
    (void)ctx;
    return wall;
}

static char dir[64];

static int setup(void **state)
{
    (void)state;
    assert_int_equal(testdir_make(dir, sizeof(dir), "dance-replay-"), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    testdir_remove(dir);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    mono = 1000000;
    wall = 1700000000;
    return 0;
}

static dance_replay *cache(size_t cap, size_t share, uint32_t window)
{
    dance_replay *rp = dance_replay_new(cap, window, fake_mono, NULL);

    assert_non_null(rp);
    assert_int_equal(dance_replay_set_share(rp, share), 0);
    dance_replay_set_wallclock(rp, fake_wall, NULL);
    return rp;
}

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* files_in_dir - entries of the test directory (no . and ..) */
static int files_in_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* ------------------------------------------------------------- share */

static void test_flood_cannot_evict_another_sender(void **state)
{
    dance_replay *rp = cache(1000, 10, 600);
    dance_replay_stats st;
    char jti[32];

    (void)state;
    assert_int_equal(dance_replay_check_add(rp, "victim.example", "v1"), 0);
    for (int i = 0; i < 100000; i++) {
        snprintf(jti, sizeof(jti), "a%d", i);
        assert_int_equal(dance_replay_check_add(rp, "attacker.example", jti), 0);
    }
    /* the victim's pair is still known: its captured token stays refused */
    assert_int_equal(dance_replay_check_add(rp, "victim.example", "v1"), 1);
    /* the attacker kept only its last 10 */
    assert_int_equal(dance_replay_check_add(rp, "attacker.example", "a99999"), 1);
    assert_int_equal(dance_replay_check_add(rp, "attacker.example", "a99990"), 1);
    assert_int_equal(dance_replay_check_add(rp, "attacker.example", "a99989"), 0);
    dance_replay_get_stats(rp, &st);
    /* 100000 - 10 own evictions, then one more for re-adding a99989 */
    assert_int_equal(st.evicted_share, 100000 - 10 + 1);
    assert_int_equal(st.evicted_full, 0);
    assert_int_equal(st.evicted_early, st.evicted_share);
    assert_int_equal(st.entries, 11);
    assert_int_equal(st.replays, 3);
    dance_replay_free(rp);
}

/* Without a share (the default: the whole capacity), a full cache takes
 * from the sender holding the most: still the flooder's own. */
static void test_full_cache_takes_from_largest_holder(void **state)
{
    dance_replay *rp = dance_replay_new(8, 600, fake_mono, NULL);
    dance_replay_stats st;
    char jti[32];

    (void)state;
    assert_non_null(rp);
    assert_int_equal(dance_replay_check_add(rp, "v1.example", "x"), 0);
    assert_int_equal(dance_replay_check_add(rp, "v2.example", "x"), 0);
    assert_int_equal(dance_replay_check_add(rp, "v2.example", "y"), 0);
    for (int i = 0; i < 1000; i++) {
        snprintf(jti, sizeof(jti), "a%d", i);
        assert_int_equal(dance_replay_check_add(rp, "a.example", jti), 0);
    }
    assert_int_equal(dance_replay_check_add(rp, "v1.example", "x"), 1);
    assert_int_equal(dance_replay_check_add(rp, "v2.example", "x"), 1);
    assert_int_equal(dance_replay_check_add(rp, "v2.example", "y"), 1);
    dance_replay_get_stats(rp, &st);
    assert_int_equal(st.entries, 8);
    assert_int_equal(st.evicted_full, 1000 - 5);
    assert_int_equal(st.evicted_share, 0);
    assert_int_equal(st.evicted_early, 1000 - 5);

    /* many small senders fill it: a newcomer evicts from the largest
     * (v2 with two pairs), not the oldest pair (v1's) */
    dance_replay_free(rp);
    rp = dance_replay_new(4, 600, fake_mono, NULL);
    assert_non_null(rp);
    assert_int_equal(dance_replay_check_add(rp, "v1.example", "x"), 0);
    assert_int_equal(dance_replay_check_add(rp, "v2.example", "x"), 0);
    assert_int_equal(dance_replay_check_add(rp, "v2.example", "y"), 0);
    assert_int_equal(dance_replay_check_add(rp, "v3.example", "x"), 0);
    assert_int_equal(dance_replay_check_add(rp, "v4.example", "x"), 0);
    assert_int_equal(dance_replay_check_add(rp, "v1.example", "x"), 1);
    assert_int_equal(dance_replay_check_add(rp, "v2.example", "y"), 1);
    assert_int_equal(dance_replay_check_add(rp, "v2.example", "x"), 0);  /* it went */
    dance_replay_free(rp);
}

static void test_share_and_expiry(void **state)
{
    dance_replay *rp = cache(100, 2, 60);
    dance_replay_stats st;

    (void)state;
    /* the share is fixed while the cache holds pairs */
    assert_int_equal(dance_replay_check_add(rp, "a.example", "1"), 0);
    assert_int_equal(dance_replay_set_share(rp, 5), -1);
    assert_int_equal(dance_replay_check_add(rp, "a.example", "2"), 0);
    assert_int_equal(dance_replay_check_add(rp, "a.example", "3"), 0);   /* drops 1 */
    assert_int_equal(dance_replay_check_add(rp, "a.example", "2"), 1);
    /* the window passes: everything goes, not counted as early */
    mono += 60 * 1000;
    assert_int_equal(dance_replay_check_add(rp, "a.example", "2"), 0);
    dance_replay_get_stats(rp, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.evicted_early, 1);
    /* a message replay key (hex digest) under the same API */
    assert_int_equal(dance_replay_check_add(rp, "a.example",
                     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"), 0);
    assert_int_equal(dance_replay_check_add(rp, "a.example",
                     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"), 1);
    dance_replay_free(rp);
}

/* ------------------------------------------------------------ memory */

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_COUNTED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_COUNTED 0
#endif
#endif
#ifndef HEAP_COUNTED
#define HEAP_COUNTED 1
#endif

/* heap_in_use - bytes glibc has handed out (arena and mmapped chunks) */
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

static void test_tables_grow_with_entries(void **state)
{
    size_t before, taken;
    dance_replay *rp;
    dance_replay_stats st;
    char sender[32], key[32];

    (void)state;
    /* the default capacity (100,000): what the plugin's caches use */
    before = heap_in_use();
    rp = dance_replay_new(0, 600, fake_mono, NULL);
    assert_non_null(rp);
    taken = heap_in_use() - before;
    /* Tables sized for the capacity would be 2 MiB of buckets, paged in
     * as entries land all over them. Only the per-count list heads (8 B
     * per possible count, paged in from the front) scale with it. */
    if (HEAP_COUNTED)
        assert_true(taken < 100001 * sizeof(void *) + 64 * 1024);
    /* the tables grow (rehashing) and every pair is still found */
    for (int i = 0; i < 5000; i++) {
        snprintf(sender, sizeof(sender), "d%d.example", i % 50);
        snprintf(key, sizeof(key), "jti-%d", i);
        assert_int_equal(dance_replay_check_add(rp, sender, key), 0);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(sender, sizeof(sender), "d%d.example", i % 50);
        snprintf(key, sizeof(key), "jti-%d", i);
        assert_int_equal(dance_replay_check_add(rp, sender, key), 1);
    }
    dance_replay_get_stats(rp, &st);
    assert_int_equal(st.entries, 5000);
    assert_int_equal(st.evicted_early, 0);
    /* and expire as before */
    mono += 600 * 1000;
    assert_int_equal(dance_replay_check_add(rp, "d0.example", "jti-0"), 0);
    dance_replay_get_stats(rp, &st);
    assert_int_equal(st.entries, 1);
    dance_replay_free(rp);
}

/* ------------------------------------------------------- persistence */

static void test_save_and_load(void **state)
{
    char path[256];
    dance_replay *rp = cache(100, 0, 600), *rp2;
    dance_replay_load_info info;
    char err[512];
    struct stat sb;

    (void)state;
    path_of(path, sizeof(path), "jti.db");
    assert_int_equal(dance_replay_check_add(rp, "dev1.example", "j1"), 0);
    /* keys may hold spaces and any byte but NUL */
    assert_int_equal(dance_replay_check_add(rp, "dev2.example", "a b\nc\x01"), 0);
    assert_true(dance_replay_dirty(rp));
    assert_int_equal(dance_replay_save(rp, path, err, sizeof(err)), 0);
    assert_false(dance_replay_dirty(rp));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(files_in_dir(), 1);           /* no temporary left */
    dance_replay_free(rp);

    /* a restart: another process, the monotonic clock starts elsewhere */
    mono = 5;
    wall += 100;
    rp2 = cache(100, 0, 600);
    assert_int_equal(dance_replay_load(rp2, path, &info, err, sizeof(err)), 0);
    assert_false(info.missing);
    assert_int_equal(info.loaded, 2);
    assert_int_equal(info.expired, 0);
    assert_int_equal(dance_replay_check_add(rp2, "dev1.example", "j1"), 1);
    assert_int_equal(dance_replay_check_add(rp2, "dev2.example", "a b\nc\x01"), 1);
    assert_int_equal(dance_replay_check_add(rp2, "dev1.example", "j2"), 0);
    /* loaded pairs expire at their wall-clock time: 600 s after they were
     * first seen, i.e. 500 s after this start */
    mono += 499 * 1000;
    assert_int_equal(dance_replay_check_add(rp2, "dev1.example", "j1"), 1);
    mono += 2 * 1000;
    assert_int_equal(dance_replay_check_add(rp2, "dev1.example", "j1"), 0);
    dance_replay_free(rp2);
    unlink(path);
}

static void test_load_drops_expired_and_missing_is_first_start(void **state)
{
    char path[256];
    dance_replay *rp = cache(100, 0, 600), *rp2;
    dance_replay_load_info info;
    char err[512];

    (void)state;
    path_of(path, sizeof(path), "jti.db");
    unlink(path);
    /* missing: a first start, nothing loaded, not an error */
    assert_int_equal(dance_replay_load(rp, path, &info, err, sizeof(err)), 0);
    assert_true(info.missing);
    assert_int_equal(info.loaded, 0);

    assert_int_equal(dance_replay_check_add(rp, "old.example", "o"), 0);
    mono += 400 * 1000;
    wall += 400;
    assert_int_equal(dance_replay_check_add(rp, "new.example", "n"), 0);
    assert_int_equal(dance_replay_save(rp, path, err, sizeof(err)), 0);
    dance_replay_free(rp);

    /* down for 300 s: "old" (600 s after wall - 400) has passed */
    wall += 300;
    rp2 = cache(100, 0, 600);
    assert_int_equal(dance_replay_load(rp2, path, &info, err, sizeof(err)), 0);
    assert_int_equal(info.loaded, 1);
    assert_int_equal(info.expired, 1);
    assert_int_equal(dance_replay_check_add(rp2, "new.example", "n"), 1);
    assert_int_equal(dance_replay_check_add(rp2, "old.example", "o"), 0);
    dance_replay_free(rp2);
    unlink(path);
}

static void expect_refused(const char *name, const char *text, const char *needle)
{
    char path[256], err[512];
    dance_replay *rp = cache(100, 0, 600);

    path_of(path, sizeof(path), name);
    write_file(path, text);
    err[0] = '\0';
    assert_int_equal(dance_replay_load(rp, path, NULL, err, sizeof(err)), -1);
    if (strstr(err, path) == NULL || strstr(err, needle) == NULL)
        fail_msg("%s: error '%s' lacks the path or '%s'", name, err, needle);
    dance_replay_free(rp);
    unlink(path);
}

static void test_damaged_files_refused(void **state)
{
    char path[256], err[512];
    dance_replay *rp;

    (void)state;
    expect_refused("empty", "", "empty file");
    expect_refused("magic", "dance-replay 2\nend 0\n", "not a replay cache file");
    expect_refused("other", "hello world\n", "not a replay cache file");
    expect_refused("noend", "dance-replay 1\n1800000000 61 62\n", "truncated");
    expect_refused("cut", "dance-replay 1\n1800000000 61 6", "line 2: truncated");
    expect_refused("count", "dance-replay 1\n1800000000 61 62\nend 2\n", "end line");
    expect_refused("hex", "dance-replay 1\n1800000000 6g 62\nend 1\n", "line 2: expected");
    expect_refused("odd", "dance-replay 1\n1800000000 616 62\nend 1\n", "line 2");
    expect_refused("nul", "dance-replay 1\n1800000000 00 62\nend 1\n", "line 2");
    expect_refused("fields", "dance-replay 1\n1800000000 61\nend 1\n", "line 2");
    expect_refused("extra", "dance-replay 1\n1800000000 61 62 63\nend 1\n", "line 2");
    expect_refused("neg", "dance-replay 1\n-5 61 62\nend 1\n", "line 2");
    expect_refused("after", "dance-replay 1\nend 0\n1800000000 61 62\n", "after the end");

    /* a well-formed file for comparison loads */
    path_of(path, sizeof(path), "good");
    write_file(path, "dance-replay 1\n1800000000 61 62\nend 1\n");
    rp = cache(100, 0, 600);
    assert_int_equal(dance_replay_load(rp, path, NULL, err, sizeof(err)), 0);
    assert_int_equal(dance_replay_check_add(rp, "a", "b"), 1);
    dance_replay_free(rp);
    unlink(path);

    /* unreadable: a directory where the file should be */
    path_of(path, sizeof(path), "adir");
    assert_int_equal(mkdir(path, 0700), 0);
    rp = cache(100, 0, 600);
    assert_int_equal(dance_replay_load(rp, path, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    dance_replay_free(rp);
    rmdir(path);
}

/* A write that fails halfway (file size limit) leaves the old file whole
 * and no temporary behind. */
static void test_atomic_write(void **state)
{
    char path[256], err[512], jti[64];
    dance_replay *rp = cache(10000, 0, 600);
    struct rlimit old, small;
    char *before, *after;
    void (*prev)(int);

    (void)state;
    path_of(path, sizeof(path), "jti.db");
    assert_int_equal(dance_replay_check_add(rp, "dev1.example", "first"), 0);
    assert_int_equal(dance_replay_save(rp, path, err, sizeof(err)), 0);
    before = read_file(path);
    for (int i = 0; i < 2000; i++) {
        snprintf(jti, sizeof(jti), "jti-number-%d-padding-padding", i);
        assert_int_equal(dance_replay_check_add(rp, "dev1.example", jti), 0);
    }
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 4096;
    prev = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    err[0] = '\0';
    assert_int_equal(dance_replay_save(rp, path, err, sizeof(err)), -1);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_non_null(strstr(err, "cannot write"));
    assert_true(dance_replay_dirty(rp));            /* still to be written */
    after = read_file(path);
    assert_string_equal(before, after);
    assert_int_equal(files_in_dir(), 1);
    free(after);

    /* the next save replaces it whole */
    assert_int_equal(dance_replay_save(rp, path, err, sizeof(err)), 0);
    after = read_file(path);
    assert_true(strlen(after) > 2000 * 40);
    assert_non_null(strstr(after, "\nend 2001\n"));
    assert_int_equal(files_in_dir(), 1);
    free(before);
    free(after);

    /* a directory that does not exist: refused, naming the path */
    assert_int_equal(dance_replay_save(rp, "/nonexistent-dir-dance/jti.db", err,
                                       sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent-dir-dance/jti.db"));
    dance_replay_free(rp);
    unlink(path);
}

/* The file is bounded by the capacity, and a smaller capacity or share
 * at the next start keeps the newest pairs. */
static void test_bounded_file(void **state)
{
    char path[256], err[512], jti[32];
    dance_replay *rp = cache(50, 0, 600), *rp2;
    dance_replay_load_info info;
    char *text;
    int lines = 0;

    (void)state;
    path_of(path, sizeof(path), "jti.db");
    for (int i = 0; i < 500; i++) {
        snprintf(jti, sizeof(jti), "%d", i);
        assert_int_equal(dance_replay_check_add(rp, "dev.example", jti), 0);
    }
    assert_int_equal(dance_replay_save(rp, path, err, sizeof(err)), 0);
    text = read_file(path);
    for (char *c = text; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 50 + 2);
    free(text);
    dance_replay_free(rp);

    rp2 = cache(100, 10, 600);
    assert_int_equal(dance_replay_load(rp2, path, &info, err, sizeof(err)), 0);
    assert_int_equal(dance_replay_check_add(rp2, "dev.example", "499"), 1);
    assert_int_equal(dance_replay_check_add(rp2, "dev.example", "490"), 1);
    dance_replay_free(rp2);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_flood_cannot_evict_another_sender, reset),
        cmocka_unit_test_setup(test_full_cache_takes_from_largest_holder, reset),
        cmocka_unit_test_setup(test_share_and_expiry, reset),
        cmocka_unit_test_setup(test_tables_grow_with_entries, reset),
        cmocka_unit_test_setup(test_save_and_load, reset),
        cmocka_unit_test_setup(test_load_drops_expired_and_missing_is_first_start, reset),
        cmocka_unit_test_setup(test_damaged_files_refused, reset),
        cmocka_unit_test_setup(test_atomic_write, reset),
        cmocka_unit_test_setup(test_bounded_file, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
