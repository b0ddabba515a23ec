/*
 * bench_common.h - what the benchmark programs share: their command line
 * ([-t THREADS] [-s SECONDS] [CONFIG]) and loading a config's search space.
 */
#ifndef MUTATORD_TESTS_BENCH_COMMON_H
#define MUTATORD_TESTS_BENCH_COMMON_H

#include <libconfig.h>
#include <stdint.h>

#include "search_space.h"

struct bench_args {
    int threads;          /* -t, default 2 */
    double seconds;       /* -s, default 10 */
    const char *config;   /* default conf/spos-fmnist.conf */
};

/* Parses the command line and sets the thread count (parallel_init);
 * exits 64 with the usage of program `name` on a bad one. */
void bench_parse_args(int argc, char **argv, const char *name, struct bench_args *a);

/* The search space of config file path (weights from seed); cfg must
 * outlive it. Exits 1 with the message when it cannot be built. */
struct search_space *bench_load_space(const char *name, const char *path, uint64_t seed,
                                      config_t *cfg);

#endif
