/*
 * bench_common.c - shared command line and setup of the benchmarks
 * (bench_common.h).
 */
#define _GNU_SOURCE   /* sched_setaffinity and CPU_SET */
#include "bench_common.h"

#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "parallel.h"
#include "stats.h"

void bench_parse_args(int argc, char **argv, const char *name, struct bench_args *a)
{
    a->threads = 2;
    a->seconds = 10.0;
    int opt;
    a->paired = 0;
    a->first_only = 0;
    a->generation = 0;
    while ((opt = getopt(argc, argv, "t:s:pcg")) != -1) {
        if (opt == 't') {
            a->threads = atoi(optarg);
        } else if (opt == 's') {
            a->seconds = atof(optarg);
        } else if (opt == 'p') {
            a->paired = 1;
        } else if (opt == 'c') {
            a->first_only = 1;
        } else if (opt == 'g') {
            a->generation = 1;
        } else {
            fprintf(stderr, "usage: %s [-t THREADS] [-s SECONDS] [-p] [-c] [-g] [CONFIG]\n",
                    name);
            exit(64);
        }
    }
    a->config = optind < argc ? argv[optind] : "conf/spos-fmnist.conf";
    parallel_init(a->threads);
}

struct search_space *bench_load_space(const char *name, const char *path, uint64_t seed,
                                      config_t *cfg)
{
    struct mtd_error err = {0};
    struct search_space *ss;
    if (conf_read_file(cfg, path, &err) != MTD_OK ||
        search_space_create(&ss, config_root_setting(cfg), seed, &err) != MTD_OK) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        exit(1);
    }
    return ss;
}

/* The CPUs the process may run on, when there are exactly `threads` of
 * them (and no more than BENCH_MAX_CPUS): their count, 0 otherwise. */
static int own_cpus(int threads, const cpu_set_t *all, int *cpu)
{
    if (CPU_COUNT(all) != threads || threads > BENCH_MAX_CPUS)
        return 0;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < threads; c++)
        if (CPU_ISSET(c, all))
            cpu[n++] = c;
    return n;
}

/* Seconds of fn(ctx) at `threads` threads. */
static double timed_unit(int threads, void (*fn)(void *), void *ctx)
{
    parallel_init(threads);
    const double t0 = monotonic_seconds();
    fn(ctx);
    return monotonic_seconds() - t0;
}

/* Seconds of fn(ctx) on one thread pinned to CPU cpu (this thread's CPUs
 * are `all` again after it). */
static double timed_on_cpu(int cpu, const cpu_set_t *all, void (*fn)(void *), void *ctx)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) {
        perror("bench: sched_setaffinity");
        exit(1);
    }
    const double t = timed_unit(1, fn, ctx);
    if (sched_setaffinity(0, sizeof *all, all) != 0) {
        perror("bench: sched_setaffinity");   /* the runs after would be on one CPU */
        exit(1);
    }
    return t;
}

void bench_paired_speedup(int threads, double seconds, void (*fn)(void *), void *ctx,
                          struct bench_speedup *s)
{
    static double one[BENCH_MAX_ROUNDS], many[BENCH_MAX_ROUNDS], ratio[BENCH_MAX_ROUNDS];
    static double pinned[BENCH_MAX_CPUS][BENCH_MAX_ROUNDS];
    int cpu[BENCH_MAX_CPUS], on_cpu[BENCH_MAX_CPUS] = {0};
    cpu_set_t all;
    const int cpus = sched_getaffinity(0, sizeof all, &all) == 0 ? own_cpus(threads, &all, cpu)
                                                                : 0;
    const int least = cpus > 0 && 2 * cpus > 3 ? 2 * cpus : 3;
    int n = 0;
    const double start = monotonic_seconds();
    while (n < BENCH_MAX_ROUNDS && (n < least || monotonic_seconds() - start < seconds)) {
        one[n] = timed_unit(1, fn, ctx);
        many[n] = timed_unit(threads, fn, ctx);
        ratio[n] = one[n] / many[n];
        if (cpus > 0) {
            const int k = n % cpus;
            pinned[k][on_cpu[k]++] = timed_on_cpu(cpu[k], &all, fn, ctx);
        }
        n++;
    }
    parallel_init(threads);
    memcpy(s->rounds_1, one, (size_t)n * sizeof *one);   /* before median sorts them */
    memcpy(s->rounds_n, many, (size_t)n * sizeof *many);
    s->value = median(ratio, n);
    s->t1 = median(one, n);
    s->tn = median(many, n);
    s->best = one[0] / many[0];   /* median sorted them: each side's best first */
    s->pairs = n;
    s->cpus = cpus;
    double speed = 0.0;
    for (int k = 0; k < cpus; k++) {
        s->cpu[k] = cpu[k];
        s->cpu_t1[k] = median(pinned[k], on_cpu[k]);
        speed += 1.0 / s->cpu_t1[k];
    }
    s->attainable = s->t1 * speed;
}

void bench_print_speedup(const char *bench, int threads, const struct bench_speedup *s,
                         const char *unit)
{
    printf("{\"bench\": \"%s\", \"side\": \"mutatord\", \"threads\": %d, \"value\": %.3f, "
           "\"unit\": \"speed-up over 1 thread\", \"pairs\": %d, \"seconds_1\": %.4g, "
           "\"seconds_%d\": %.4g, \"per\": \"%s\"",
           bench, threads, s->value, s->pairs, s->t1, threads, s->tn, unit);
    printf(", \"best\": %.3f", s->best);
    for (int side = 0; side < 2; side++) {
        const double *t = side ? s->rounds_n : s->rounds_1;
        printf(", \"rounds_%d\": [", side ? threads : 1);
        for (int i = 0; i < s->pairs; i++)
            printf("%s%.4g", i ? ", " : "", t[i]);
        printf("]");
    }
    if (s->cpus > 0) {
        printf(", \"cpus\": [");
        for (int k = 0; k < s->cpus; k++)
            printf("%s%d", k ? ", " : "", s->cpu[k]);
        printf("], \"seconds_1_per_cpu\": [");
        for (int k = 0; k < s->cpus; k++)
            printf("%s%.4g", k ? ", " : "", s->cpu_t1[k]);
        printf("], \"attainable\": %.3f", s->attainable);
    }
    printf("}\n");
    fflush(stdout);
}
