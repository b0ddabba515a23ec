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

#endif
