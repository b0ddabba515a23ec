/*
 * bench_common.c - shared command line and setup of the benchmarks
 * (bench_common.h).
 */
#include "bench_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

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

enum { MAX_PAIRS = 1000 };

double bench_paired_speedup(int threads, double seconds, void (*fn)(void *), void *ctx,
                            double *t1, double *tn, int *pairs)
{
    static double one[MAX_PAIRS], many[MAX_PAIRS], ratio[MAX_PAIRS];
    int n = 0;
    const double start = monotonic_seconds();
    while (n < MAX_PAIRS && (n < 3 || monotonic_seconds() - start < seconds)) {
        parallel_init(1);
        double t0 = monotonic_seconds();
        fn(ctx);
        one[n] = monotonic_seconds() - t0;
        parallel_init(threads);
        t0 = monotonic_seconds();
        fn(ctx);
        many[n] = monotonic_seconds() - t0;
        ratio[n] = one[n] / many[n];
        n++;
    }
    *t1 = median(one, n);
    *tn = median(many, n);
    *pairs = n;
    return median(ratio, n);
}

void bench_print_speedup(const char *bench, int threads, double speedup, double t1, double tn,
                         int pairs, const char *unit)
{
    printf("{\"bench\": \"%s\", \"side\": \"mutatord\", \"threads\": %d, \"value\": %.3f, "
           "\"unit\": \"speed-up over 1 thread\", \"pairs\": %d, \"seconds_1\": %.4g, "
           "\"seconds_%d\": %.4g, \"per\": \"%s\"}\n",
           bench, threads, speedup, pairs, t1, threads, tn, unit);
    fflush(stdout);
}
