/*
 * fuzz_common.h - what the libFuzzer harnesses share: a scratch file for
 * inputs that a loader reads from a path, and the search space they use.
 */
#ifndef MUTATORD_FUZZ_COMMON_H
#define MUTATORD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Writes data to path; aborts when it cannot. */
void fuzz_write_file(const char *path, const uint8_t *data, size_t size);

/* Writes data to a per-process file under /dev/shm (or /tmp) and returns
 * its path; the same path every call. */
const char *fuzz_scratch_file(const char *name, const uint8_t *data, size_t size);

/* A small search space (shuffle and inverted-residual blocks, module and
 * channel mutators), built once. */
struct search_space;
struct search_space *fuzz_space(void);

/* The search settings the checkpoint harness resumes with. */
struct search_config;
const struct search_config *fuzz_search_config(void);

#endif
