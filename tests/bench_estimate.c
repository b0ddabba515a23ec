/*
 * bench_estimate.c - how many MACs/params estimates per second the
 * closed-form estimator gives on random subnets of a config (default
 * conf/spos-fmnist.conf). Prints one JSON line.
 */
#include <stdio.h>
#include <time.h>

#include "bench_common.h"
#include "conf.h"
#include "search_space.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "conf/spos-fmnist.conf";
    config_t cfg;
    struct search_space *ss = bench_load_space("bench_estimate", path, 0, &cfg);
    enum { N = 1024 };
    static struct arch archs[N];
    struct rng rng;
    rng_seed(&rng, 1);
    for (int i = 0; i < N; i++) {
        int c[SEARCH_SPACE_MAX_GROUPS];
        search_space_sample(ss, SAMPLE_RANDOM, &rng, c);
        search_space_to_arch(ss, c, &archs[i]);
    }
    const struct supernet *sn = search_space_supernet(ss);
    double sink = 0.0, t0 = now();
    long count = 0;
    while (now() - t0 < 1.0) {
        for (int i = 0; i < N; i++) {
            struct resources r;
            supernet_estimate(sn, &archs[i], &r);
            sink += r.macs;
        }
        count += N;
    }
    double rate = (double)count / (now() - t0);
    printf("{\"bench\": \"estimate\", \"config\": \"%s\", \"estimates_per_s\": %.0f, "
           "\"target_per_s\": 100000, \"ratio_to_target\": %.2f, \"checksum\": %.6g}\n",
           path, rate, rate / 1e5, sink / (double)count);
    search_space_free(ss);
    config_destroy(&cfg);
    return 0;
}
