/*
 * fixture.h - test helpers: reading the PyTorch fixture files made by
 * tests/fixtures/make_fixtures.py, comparing arrays, and random data.
 * Every failure ends the running cmocka test with a message.
 */
#ifndef MUTATORD_TESTS_FIXTURE_H
#define MUTATORD_TESTS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

struct fixture;

/* Loads FIXTURE_DIR/<name>.fx; fails the test when it cannot. */
struct fixture *fixture_load(const char *name);
void fixture_free(struct fixture *fx);

/* The number of arrays of a fixture, and the name of array i. */
int fixture_count(const struct fixture *fx);
const char *fixture_name(const struct fixture *fx, int i);

/* The float array `key`, failing the test when it is missing. count, when
 * not NULL, receives its number of values. */
const float *fixture_floats(const struct fixture *fx, const char *key, size_t *count);
const int32_t *fixture_ints(const struct fixture *fx, const char *key, size_t *count);

/* A zeroed heap copy of a fixture array padded to at least `min_count`
 * values, for outputs and accumulated gradients. Free with floats_free. */
float *fixture_copy(const struct fixture *fx, const char *key, size_t min_count);

/* Fails unless |got[i] - want[i]| <= atol + rtol * |want[i]| for all i. */
void assert_close(const float *got, const float *want, size_t n, double atol,
                  double rtol, const char *what);

/* Fails unless every value of x[0..n) is exactly 0 (untouched storage). */
void assert_all_zero(const float *x, size_t n, const char *what);

/* rm -rf dir (temporary directories of the tests). */
void remove_tree(const char *dir);

/* A zeroed buffer of n floats filled with normal values of seed `seed`. */
float *random_floats(size_t n, uint64_t seed, float std);

#endif
