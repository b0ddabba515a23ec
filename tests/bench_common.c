/*
 * bench_common.c - shared command line and setup of the benchmarks
 * (bench_common.h).
 */
#include "bench_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "parallel.h"

void bench_parse_args(int argc, char **argv, const char *name, struct bench_args *a)
{
    a->threads = 2;
    a->seconds = 10.0;
    int opt;
    while ((opt = getopt(argc, argv, "t:s:")) != -1) {
        if (opt == 't') {
            a->threads = atoi(optarg);
        } else if (opt == 's') {
            a->seconds = atof(optarg);
        } else {
            fprintf(stderr, "usage: %s [-t THREADS] [-s SECONDS] [CONFIG]\n", name);
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
