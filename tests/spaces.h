/*
 * spaces.h - small search spaces shared by the supernet tests.
 */
#ifndef MUTATORD_TESTS_SPACES_H
#define MUTATORD_TESTS_SPACES_H

/* Shuffle blocks: a stride-2 stage of two blocks (the second tied to the
 * first) and a stride-1 block that widens 8 -> 12 (not tied). */
extern const char *const test_shuffle_space;

/* Inverted residuals with depth search (identity), and a plain conv. */
extern const char *const test_mb_space;

/* spos-fmnist at a quarter of its channels and half of its blocks. */
extern const char *const test_spos_small_space;

/* The supernet of a space's text (its `supernet` group), seed 42; def is
 * the parsed space. Fails the test on any error. */
struct space_def;
struct supernet *test_space_build(const char *text, int bn_sets, struct space_def *def);

#endif
