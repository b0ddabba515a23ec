/*
 * test_util.c - status codes, aligned buffers, the seeded generator and
 * range partitioning.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sysexits.h>
#include <cmocka.h>

#include "alloc.h"
#include "parallel.h"
#include "rng.h"
#include "status.h"

static void test_status(void **state)
{
    (void)state;
    assert_int_equal(mtd_status_exit_code(MTD_OK), EX_OK);
    assert_int_equal(mtd_status_exit_code(MTD_ERR_USAGE), EX_USAGE);
    assert_int_equal(mtd_status_exit_code(MTD_ERR_DATA), EX_DATAERR);
    assert_int_equal(mtd_status_exit_code(MTD_ERR_IO), EX_IOERR);
    assert_int_equal(mtd_status_exit_code(MTD_ERR_CONFIG), EX_CONFIG);
    assert_int_equal(mtd_status_exit_code(MTD_ERR_TEMPFAIL), EX_TEMPFAIL);
    for (int s = 0; s < MTD_STATUS_COUNT; s++)
        assert_non_null(mtd_status_name(s));

    struct mtd_error err;
    assert_int_equal(mtd_error_set(&err, MTD_ERR_IO, "%s: %d", "file", 7), MTD_ERR_IO);
    assert_int_equal(err.status, MTD_ERR_IO);
    assert_string_equal(err.msg, "file: 7");
    assert_int_equal(mtd_error_set(NULL, MTD_ERR_DATA, "x"), MTD_ERR_DATA);
}

static void test_floats_alloc(void **state)
{
    (void)state;
    size_t sizes[] = {0, 1, 15, 16, 1000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        float *p = floats_alloc(sizes[i]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 64, 0);
        for (size_t j = 0; j < sizes[i]; j++)
            assert_true(p[j] == 0.0f);
        floats_free(p);
    }
    assert_null(floats_alloc(SIZE_MAX / 2));
}

static void test_rng_reproducible(void **state)
{
    (void)state;
    struct rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++)
        assert_true(rng_next(&a) == rng_next(&b));
    /* A saved state continues the same stream. */
    struct rng saved = a;
    uint64_t x = rng_next(&a);
    assert_true(rng_next(&saved) == x);
    rng_seed(&b, 43);
    assert_true(rng_next(&a) != rng_next(&b));
}

static void test_rng_distributions(void **state)
{
    (void)state;
    struct rng rng;
    rng_seed(&rng, 7);
    long counts[6] = {0};
    const long draws = 60000;
    for (long i = 0; i < draws; i++)
        counts[rng_below(&rng, 6)]++;
    for (int i = 0; i < 6; i++)  /* expected 10000, sd ~91 */
        assert_in_range(counts[i], 9500, 10500);
    double sum = 0.0, sum2 = 0.0;
    for (long i = 0; i < draws; i++) {
        float u = rng_uniform(&rng);
        assert_true(u >= 0.0f && u < 1.0f);
        double z = (double)rng_normal(&rng);
        sum += z;
        sum2 += z * z;
    }
    double mean = sum / draws, var = sum2 / draws - mean * mean;
    assert_true(mean > -0.02 && mean < 0.02);
    assert_true(var > 0.97 && var < 1.03);
}

static void test_parallel_range(void **state)
{
    (void)state;
    for (size_t total = 0; total < 40; total++) {
        for (int parts = 1; parts < 7; parts++) {
            size_t next = 0;
            for (int p = 0; p < parts; p++) {
                size_t b, e;
                parallel_range(total, p, parts, &b, &e);
                assert_int_equal(b, next);
                assert_true(e - b == total / parts || e - b == total / parts + 1);
                next = e;
            }
            assert_int_equal(next, total);
        }
    }
}

/* A cursor's cut: its ranges cover [0, total) once and in order, each
 * thread's block is parallel_range's part, and within a block the ranges
 * shrink in the order a thread takes them (the last at most a quarter of
 * the first once a block has 32 items). */
static void test_parallel_cursor_range(void **state)
{
    (void)state;
    for (size_t total = 0; total < 300; total += 1 + total / 8) {
        for (int threads = 1; threads < 5; threads++) {
            size_t next = 0;
            for (int t = 0; t < threads; t++) {
                size_t b0, b1, first = 0, last = 0, before = 0;
                parallel_range(total, t, threads, &b0, &b1);
                assert_int_equal(b0, next);
                for (int k = 0; k < PARALLEL_RANGES_PER_THREAD; k++) {
                    size_t b, e;
                    parallel_cursor_range(total, t * PARALLEL_RANGES_PER_THREAD + k, threads, &b,
                                          &e);
                    assert_int_equal(b, next);
                    assert_true(e >= b && (k == 0 || e - b <= before + 1));
                    before = e - b;
                    first = k == 0 ? e - b : first;
                    last = e - b;
                    next = e;
                }
                assert_int_equal(next, b1);
                if (b1 - b0 >= 32)
                    assert_true(4 * last <= first);
            }
            assert_int_equal(next, total);
        }
    }
}

int main(void)
{
    parallel_init(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_floats_alloc),
        cmocka_unit_test(test_rng_reproducible),
        cmocka_unit_test(test_rng_distributions),
        cmocka_unit_test(test_parallel_range),
        cmocka_unit_test(test_parallel_cursor_range),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
