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

/* At most this many CPUs are timed one by one (bench_speedup). */
enum { BENCH_MAX_CPUS = 8 };

/* At most this many rounds of a paired measurement. */
enum { BENCH_MAX_ROUNDS = 1000 };

/* A speed-up of `threads` threads over one (bench_paired_speedup). */
struct bench_speedup {
    double value;   /* the median of the pairs' ratios */
    double t1, tn;  /* the median times of a unit at 1 and `threads` threads */
    int pairs;
    /* Every round's times in order, and the ratio of each side's best
     * round: a neighbour only adds time, and on this shared host at times
     * to the `threads`-thread rounds alone, the 1-thread rounds beside
     * them keeping their speed; best is what the rounds give undisturbed,
     * value what they gave. */
    double rounds_1[BENCH_MAX_ROUNDS], rounds_n[BENCH_MAX_ROUNDS];
    double best;
    /* When the process may run on exactly `threads` CPUs: each round also
     * times one thread pinned to one of them, the next in turn: cpu_t1[k]
     * the median on CPU cpu[k]. On a shared machine one CPU is often slower than the
     * other (a neighbour on its sibling hyperthread), and no sharing of
     * the work makes `threads` threads faster than the CPUs' speeds added
     * up: attainable = t1 * sum of 1 / cpu_t1[k]. cpus is 0 otherwise. */
    int cpus;
    int cpu[BENCH_MAX_CPUS];
    double cpu_t1[BENCH_MAX_CPUS];
    double attainable;
};

/* The speed-up of `threads` threads over one on a unit of work fn(ctx):
 * units timed in rounds, one thread then `threads` (then one thread on
 * the next CPU, see bench_speedup), for about `seconds` in all (at least
 * 3 rounds, and 2 per CPU), so that both sides see the same load of a
 * shared machine however it drifts. The thread count is `threads` again
 * on return, and the CPUs the process may run on are as they were. */
void bench_paired_speedup(int threads, double seconds, void (*fn)(void *), void *ctx,
                          struct bench_speedup *s);

/* Prints the JSON line of a bench_paired_speedup measurement. */
void bench_print_speedup(const char *bench, int threads, const struct bench_speedup *s,
                         const char *unit);

#endif
