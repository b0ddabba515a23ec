/*
 * bench_common.h - what the benchmark programs share: their command line
 * ([-t THREADS] [-s SECONDS] [-p] [-c] [-g] [CONFIG]), loading a config's search
 * space, and the speed-up of threads measured in alternation.
 */
#ifndef MUTATORD_TESTS_BENCH_COMMON_H
#define MUTATORD_TESTS_BENCH_COMMON_H

#include <libconfig.h>
#include <stdint.h>

#include "search_space.h"

struct bench_args {
    int threads;          /* -t, default 2 */
    double seconds;       /* -s, default 10 */
    int paired;           /* -p: the speed-up of `threads` threads over
                             one, measured in alternation */
    int first_only;       /* -c: only the first figure (bench_eval's
                             candidate_eval, for repeated processes) */
    int generation;       /* -g: bench_eval's candidate_eval_generation */
    const char *config;   /* default conf/spos-fmnist.conf */
};

/* Parses the command line and sets the thread count (parallel_init);
 * exits 64 with the usage of program `name` on a bad one. */
void bench_parse_args(int argc, char **argv, const char *name, struct bench_args *a);

/* The search space of config file path (weights from seed); cfg must
 * outlive it. Exits 1 with the message when it cannot be built. */
struct search_space *bench_load_space(const char *name, const char *path, uint64_t seed,
                                      config_t *cfg);

/* The speed-up of `threads` threads over one on a unit of work fn(ctx):
 * units timed in pairs, one thread then `threads`, for about `seconds` in
 * all (at least 3 pairs), so that both sides see the same load of a
 * shared machine however it drifts. Returns the median of the pairs'
 * ratios; t1 and tn get the median times, pairs their count. The thread
 * count is `threads` again on return. */
double bench_paired_speedup(int threads, double seconds, void (*fn)(void *), void *ctx,
                            double *t1, double *tn, int *pairs);

/* Prints the JSON line of a bench_paired_speedup measurement. */
void bench_print_speedup(const char *bench, int threads, double speedup, double t1, double tn,
                         int pairs, const char *unit);

#endif
