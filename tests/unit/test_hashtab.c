/*
 * test_hashtab.c - the intrusive hash table (lib/hashtab.c): find, insert,
 * remove, chains of equal and of colliding hashes, growth (and staying at
 * the old size when the bigger array cannot be allocated), fixed-size
 * tables, iteration with removal of the current node, and the keyed hash
 * against a byte-wise SipHash-1-3 and known answers.
 *
 * calloc is wrapped at link time (tests/11-unit-cache.cmake) so that growth
 * can be made to fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dance/hashtab.h"

void *__real_calloc(size_t n, size_t m);
void *__wrap_calloc(size_t n, size_t m);

static atomic_bool fail_calloc = false;

void *__wrap_calloc(size_t n, size_t m)
{
    return atomic_load(&fail_calloc) ? NULL : __real_calloc(n, m);
}

typedef struct item {
    int id;
    dance_hashtab_node node;            /* not first: DANCE_HASHTAB_ENTRY works */
    int seen;
} item;

static bool match_id(const dance_hashtab_node *n, const void *ctx)
{
    return DANCE_HASHTAB_ENTRY(n, const item, node)->id == *(const int *)ctx;
}

static item *find(const dance_hashtab *t, uint64_t hash, int id)
{
    dance_hashtab_node *n = dance_hashtab_find(t, hash, match_id, &id);

    return n != NULL ? DANCE_HASHTAB_ENTRY(n, item, node) : NULL;
}

static uint64_t hash_of(const dance_hashtab *t, int id)
{
    return dance_hashtab_hash(t, &id, sizeof(id));
}

static void test_insert_find_remove(void **state)
{
    dance_hashtab t;
    item it[10];

    (void)state;
    assert_int_equal(dance_hashtab_init(&t, 16, 16), 0);
    assert_int_equal(dance_hashtab_count(&t), 0);
    assert_null(find(&t, hash_of(&t, 1), 1));
    for (int i = 0; i < 10; i++) {
        it[i].id = i;
        dance_hashtab_insert(&t, &it[i].node, hash_of(&t, i));
    }
    assert_int_equal(dance_hashtab_count(&t), 10);
    for (int i = 0; i < 10; i++)
        assert_ptr_equal(find(&t, hash_of(&t, i), i), &it[i]);
    assert_null(find(&t, hash_of(&t, 10), 10));
    /* the right hash but a key that does not match is not found */
    assert_null(find(&t, hash_of(&t, 3), 4));

    dance_hashtab_remove(&t, &it[3].node);
    assert_int_equal(dance_hashtab_count(&t), 9);
    assert_null(find(&t, hash_of(&t, 3), 3));
    /* removing a node that is not linked changes nothing */
    dance_hashtab_remove(&t, &it[3].node);
    assert_int_equal(dance_hashtab_count(&t), 9);
    for (int i = 0; i < 10; i++)
        if (i != 3)
            assert_ptr_equal(find(&t, hash_of(&t, i), i), &it[i]);
    /* and it can go in again */
    dance_hashtab_insert(&t, &it[3].node, hash_of(&t, 3));
    assert_ptr_equal(find(&t, hash_of(&t, 3), 3), &it[3]);
    dance_hashtab_destroy(&t);
    dance_hashtab_destroy(NULL);
}

/* Equal hashes: one chain, told apart by the match function only. */
static void test_equal_hashes(void **state)
{
    dance_hashtab t;
    item it[8];

    (void)state;
    assert_int_equal(dance_hashtab_init(&t, 4, 4), 0);
    for (int i = 0; i < 8; i++) {
        it[i].id = i;
        dance_hashtab_insert(&t, &it[i].node, 42);
    }
    for (int i = 0; i < 8; i++)
        assert_ptr_equal(find(&t, 42, i), &it[i]);
    /* head, middle and tail of the chain */
    dance_hashtab_remove(&t, &it[7].node);
    dance_hashtab_remove(&t, &it[4].node);
    dance_hashtab_remove(&t, &it[0].node);
    assert_int_equal(dance_hashtab_count(&t), 5);
    for (int i = 0; i < 8; i++) {
        if (i == 7 || i == 4 || i == 0)
            assert_null(find(&t, 42, i));
        else
            assert_ptr_equal(find(&t, 42, i), &it[i]);
    }
    /* the newest of equal keys is found first */
    {
        item dup = { .id = 5 };
        dance_hashtab_insert(&t, &dup.node, 42);
        assert_ptr_equal(find(&t, 42, 5), &dup);
        dance_hashtab_remove(&t, &dup.node);
        assert_ptr_equal(find(&t, 42, 5), &it[5]);
    }
    dance_hashtab_destroy(&t);
}

/* Different hashes in one bucket: the stored hash is compared before the
 * match function is asked. */
static int match_calls;

static bool match_any(const dance_hashtab_node *n, const void *ctx)
{
    (void)n;
    (void)ctx;
    match_calls++;
    return true;
}

static void test_bucket_collisions(void **state)
{
    dance_hashtab t;
    item it[4];

    (void)state;
    assert_int_equal(dance_hashtab_init(&t, 8, 8), 0);
    for (int i = 0; i < 4; i++) {
        it[i].id = i;
        /* same low bits, so the same bucket of 8 */
        dance_hashtab_insert(&t, &it[i].node, 5 + ((uint64_t)i << 40));
    }
    for (int i = 0; i < 4; i++) {
        dance_hashtab_node *n;
        match_calls = 0;
        n = dance_hashtab_find(&t, 5 + ((uint64_t)i << 40), match_any, NULL);
        assert_ptr_equal(n, &it[i].node);
        assert_int_equal(match_calls, 1);
    }
    match_calls = 0;
    assert_null(dance_hashtab_find(&t, 5 + ((uint64_t)9 << 40), match_any, NULL));
    assert_int_equal(match_calls, 0);
    dance_hashtab_destroy(&t);
}

static void test_rounding(void **state)
{
    dance_hashtab t;

    (void)state;
    assert_int_equal(dance_hashtab_init(&t, 3, 5), 0);
    assert_int_equal(t.nbuckets, 4);
    assert_int_equal(t.max_buckets, 8);
    dance_hashtab_destroy(&t);
    assert_int_equal(dance_hashtab_init(&t, 0, 0), 0);
    assert_int_equal(t.nbuckets, 1);
    assert_int_equal(t.max_buckets, 1);
    dance_hashtab_destroy(&t);
    /* a maximum below the start is the start: a fixed size */
    assert_int_equal(dance_hashtab_init(&t, 64, 2), 0);
    assert_int_equal(t.nbuckets, 64);
    assert_int_equal(t.max_buckets, 64);
    dance_hashtab_destroy(&t);
}

static void test_growth(void **state)
{
    dance_hashtab t;
    item *it = calloc(1000, sizeof(*it));

    (void)state;
    assert_non_null(it);
    assert_int_equal(dance_hashtab_init(&t, 4, 64), 0);
    for (int i = 0; i < 1000; i++) {
        it[i].id = i;
        dance_hashtab_insert(&t, &it[i].node, hash_of(&t, i));
        /* doubles once more nodes than buckets are held, up to the max */
        if (i + 1 == 4)
            assert_int_equal(t.nbuckets, 4);
        if (i + 1 == 5)
            assert_int_equal(t.nbuckets, 8);
        if (i + 1 == 33)
            assert_int_equal(t.nbuckets, 64);
    }
    assert_int_equal(t.nbuckets, 64);
    assert_int_equal(dance_hashtab_count(&t), 1000);
    for (int i = 0; i < 1000; i++)
        assert_ptr_equal(find(&t, hash_of(&t, i), i), &it[i]);
    dance_hashtab_destroy(&t);

    /* a fixed-size table never grows */
    assert_int_equal(dance_hashtab_init(&t, 16, 16), 0);
    for (int i = 0; i < 1000; i++)
        dance_hashtab_insert(&t, &it[i].node, hash_of(&t, i));
    assert_int_equal(t.nbuckets, 16);
    for (int i = 0; i < 1000; i++)
        assert_ptr_equal(find(&t, hash_of(&t, i), i), &it[i]);
    dance_hashtab_destroy(&t);
    free(it);
}

static void test_growth_enomem(void **state)
{
    dance_hashtab t;
    item *it = calloc(500, sizeof(*it));

    (void)state;
    assert_non_null(it);
    atomic_store(&fail_calloc, true);
    assert_int_equal(dance_hashtab_init(&t, 8, 1024), -1);
    atomic_store(&fail_calloc, false);

    assert_int_equal(dance_hashtab_init(&t, 8, 1024), 0);
    atomic_store(&fail_calloc, true);               /* the table cannot grow */
    for (int i = 0; i < 300; i++) {
        it[i].id = i;
        dance_hashtab_insert(&t, &it[i].node, hash_of(&t, i));
    }
    assert_int_equal(t.nbuckets, 8);
    assert_int_equal(dance_hashtab_count(&t), 300);
    for (int i = 0; i < 300; i++)
        assert_ptr_equal(find(&t, hash_of(&t, i), i), &it[i]);
    atomic_store(&fail_calloc, false);
    /* the next insert grows again, one doubling at a time */
    it[300].id = 300;
    dance_hashtab_insert(&t, &it[300].node, hash_of(&t, 300));
    assert_int_equal(t.nbuckets, 16);
    for (int i = 301; i < 500; i++) {
        it[i].id = i;
        dance_hashtab_insert(&t, &it[i].node, hash_of(&t, i));
    }
    assert_int_equal(t.nbuckets, 512);
    for (int i = 0; i < 500; i++)
        assert_ptr_equal(find(&t, hash_of(&t, i), i), &it[i]);
    dance_hashtab_destroy(&t);
    free(it);
}

static void test_iterate(void **state)
{
    dance_hashtab t;
    dance_hashtab_iter iter;
    dance_hashtab_node *n;
    item it[100];
    int visited = 0;

    (void)state;
    assert_int_equal(dance_hashtab_init(&t, 4, 4), 0);
    dance_hashtab_iter_init(&iter, &t);
    assert_null(dance_hashtab_iter_next(&iter));
    for (int i = 0; i < 100; i++) {
        it[i].id = i;
        it[i].seen = 0;
        dance_hashtab_insert(&t, &it[i].node, hash_of(&t, i));
    }
    dance_hashtab_iter_init(&iter, &t);
    while ((n = dance_hashtab_iter_next(&iter)) != NULL) {
        DANCE_HASHTAB_ENTRY(n, item, node)->seen++;
        visited++;
    }
    assert_int_equal(visited, 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(it[i].seen, 1);
    dance_hashtab_destroy(&t);
}

/* Removing (and freeing) the node just returned is allowed. */
static void test_iterate_remove(void **state)
{
    dance_hashtab t;
    dance_hashtab_iter iter;
    dance_hashtab_node *n;
    int visited = 0, removed = 0;

    (void)state;
    assert_int_equal(dance_hashtab_init(&t, 8, 8), 0);
    for (int i = 0; i < 200; i++) {
        item *p = calloc(1, sizeof(*p));
        assert_non_null(p);
        p->id = i;
        /* every fifth key shares one hash: long chains too */
        dance_hashtab_insert(&t, &p->node, i % 5 == 0 ? 7 : hash_of(&t, i));
    }
    /* drop the odd ids */
    dance_hashtab_iter_init(&iter, &t);
    while ((n = dance_hashtab_iter_next(&iter)) != NULL) {
        item *p = DANCE_HASHTAB_ENTRY(n, item, node);
        visited++;
        if (p->id % 2 == 1) {
            dance_hashtab_remove(&t, n);
            free(p);
            removed++;
        }
    }
    assert_int_equal(visited, 200);
    assert_int_equal(removed, 100);
    assert_int_equal(dance_hashtab_count(&t), 100);
    for (int i = 0; i < 200; i++) {
        uint64_t h = i % 5 == 0 ? 7 : hash_of(&t, i);
        item *p = find(&t, h, i);
        if (i % 2 == 1)
            assert_null(p);
        else
            assert_non_null(p);
    }
    /* then free everything, as an owner does before destroy */
    dance_hashtab_iter_init(&iter, &t);
    while ((n = dance_hashtab_iter_next(&iter)) != NULL) {
        dance_hashtab_remove(&t, n);
        free(DANCE_HASHTAB_ENTRY(n, item, node));
    }
    assert_int_equal(dance_hashtab_count(&t), 0);
    dance_hashtab_destroy(&t);
}

/* Byte-wise SipHash-1-3, written from the paper's description. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
static void sipround(uint64_t v[4])
{
    v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0]; v[0] = ROTL(v[0], 32);
    v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
    v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
    v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2]; v[2] = ROTL(v[2], 32);
}

static uint64_t siphash13(const uint64_t k[2], const unsigned char *in, size_t len)
{
    uint64_t v[4] = { 0x736f6d6570736575ULL ^ k[0], 0x646f72616e646f6dULL ^ k[1],
                      0x6c7967656e657261ULL ^ k[0], 0x7465646279746573ULL ^ k[1] };
    size_t i;

    for (i = 0; i + 8 <= len; i += 8) {
        uint64_t m = 0;
        for (int j = 7; j >= 0; j--)
            m = (m << 8) | in[i + (size_t)j];
        v[3] ^= m;
        sipround(v);
        v[0] ^= m;
    }
    {
        uint64_t b = (uint64_t)len << 56;
        for (size_t j = 0; i + j < len; j++)
            b |= (uint64_t)in[i + j] << (8 * j);
        v[3] ^= b;
        sipround(v);
        v[0] ^= b;
    }
    v[2] ^= 0xff;
    sipround(v);
    sipround(v);
    sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static void test_keyed_hash(void **state)
{
    dance_hashtab a, b;
    unsigned char buf[200];
    int differ = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    assert_int_equal(dance_hashtab_init(&a, 1, 1), 0);
    assert_int_equal(dance_hashtab_init(&b, 1, 1), 0);
    /* each table draws its own key */
    assert_true(a.key[0] != b.key[0] || a.key[1] != b.key[1]);
    for (size_t len = 0; len <= sizeof(buf); len++) {
        /* an unaligned start too */
        const unsigned char *p = len < sizeof(buf) ? buf + 1 : buf;
        size_t n = len < sizeof(buf) ? len : sizeof(buf);
        uint64_t h = dance_hashtab_hash(&a, p, n);
        assert_true(h == siphash13(a.key, p, n));
        assert_true(h == dance_hashtab_hash(&a, p, n));
        if (h != dance_hashtab_hash(&b, p, n))
            differ++;
    }
    assert_true(differ > (int)sizeof(buf) - 2);
    /* SipHash-1-3 under the all-zero key, as Python 3.11 hashes bytes
     * with PYTHONHASHSEED=0: PYTHONHASHSEED=0 python3 -c 'print(hash(b"a")
     * & 0xffffffffffffffff)' */
    a.key[0] = a.key[1] = 0;
    assert_true(dance_hashtab_hash(&a, "a", 1) == 4644417185603328019ULL);
    assert_true(dance_hashtab_hash(&a, "abcdefgh", 8) == 4574395652268504554ULL);
    assert_true(dance_hashtab_hash(&a, "_dev1._device.acme.example", 26)
                == 7919063140815815310ULL);
    dance_hashtab_destroy(&a);
    dance_hashtab_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_find_remove),
        cmocka_unit_test(test_equal_hashes),
        cmocka_unit_test(test_bucket_collisions),
        cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_growth_enomem),
        cmocka_unit_test(test_iterate),
        cmocka_unit_test(test_iterate_remove),
        cmocka_unit_test(test_keyed_hash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
