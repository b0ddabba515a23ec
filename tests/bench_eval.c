/*
 * bench_eval.c - the evaluation figures of REFERENCE.md's protocol on a
 * config's space (default conf/spos-fmnist.conf), for a fixed subnet
 * (default: ops 0,1,2,3 x 3, as tests/reference/bench_torch.py):
 *
 *   candidate_eval  seconds to score one candidate with weights in memory:
 *                   BN recalibration on 2,000 images (exact averages) and
 *                   top-1 accuracy on 10,000, batches of 500; median
 *   forward256      images/s of an evaluation-mode forward at batch 256
 *   latency1        median milliseconds of the same forward at batch 1
 *
 *   bench_eval [-t THREADS] [-s SECONDS] [-p] [-c] [CONFIG]
 *
 * With -c only candidate_eval (`make bench` runs it in three processes,
 * as the PyTorch side's, and counts each side's best).
 * With -p only candidate_eval_speedup: the speed-up of THREADS threads
 * over one on candidate_eval, candidates timed in alternation
 * (bench_paired_speedup).
 * With -g only candidate_eval_generation: seconds per candidate to score
 * a generation of GENERATION random subnets as the daemon does (in the
 * search's order, groups sharing their first cells: search.h), and
 * alone_s, the same candidates one at a time, timed in alternation (best
 * of two each); "archs" lists them for bench_torch.py.
 * Random images of the space's shape (speed does not depend on pixels).
 * Prints one JSON line per figure, with the keys of bench_torch.py's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "alloc.h"
#include "bench_common.h"
#include "conf.h"
#include "data.h"
#include "log.h"
#include "parallel.h"
#include "rng.h"
#include "search.h"
#include "search_space.h"
#include "stats.h"
#include "train.h"

enum { CALIB = 2000, VAL = 10000, EVAL_BATCH = 500 };

/* Times of fn, repeated for about `seconds` (at least 3 times). */
#define MAX_REPS 100000
static int timed(double seconds, double *times, void (*fn)(void *), void *ctx)
{
    int n = 0;
    double start = monotonic_seconds();
    while (n < MAX_REPS && (n < 3 || monotonic_seconds() - start < seconds)) {
        double t0 = monotonic_seconds();
        fn(ctx);
        times[n++] = monotonic_seconds() - t0;
    }
    return n;
}

struct eval_ctx {
    struct supernet *sn;
    struct data *d;
    struct data_split calib, val;
    const float *images;
    int batch;
};

/* One candidate's score: recalibrated on calib (or not, NULL), top-1. */
static void score(struct eval_ctx *c, const struct data_split *calib)
{
    double acc;
    struct mtd_error err = {0};
    if (evaluate_arch(c->sn, c->d, calib, &c->val, EVAL_BATCH, NULL, &acc, &err) != MTD_OK) {
        fprintf(stderr, "bench_eval: %s\n", err.msg);
        exit(1);
    }
}

static void score_once(void *arg)
{
    struct eval_ctx *c = arg;
    score(c, &c->calib);
}

/* The top-1 part of score_once alone (no recalibration). */
static void top1_once(void *arg)
{
    score(arg, NULL);
}

static void forward_once(void *arg)
{
    struct eval_ctx *c = arg;
    supernet_forward(c->sn, c->images, c->batch, FORWARD_EVAL);
}

/* The process's minor page faults so far. */
static long minor_faults(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? u.ru_minflt : 0;
}

/* candidate_eval, forward256 and latency1 of the subnet c's supernet is
 * set to, as JSON lines. */
static enum mtd_status eval_figures(struct eval_ctx *c, int threads, double seconds,
                                    const char *arch_text, int candidate_only)
{
    static double times[MAX_REPS];
    struct mtd_error err = {0};
    /* Minor page faults per repetition, as the PyTorch side prints them
     * (part of its spread from one process to the next goes with them). */
    const long faults = minor_faults();
    int reps = timed(seconds, times, score_once, c);
    printf("{\"bench\": \"candidate_eval\", \"side\": \"mutatord\", \"threads\": %d, "
           "\"value\": %.4g, \"unit\": \"s\", \"calib_images\": %d, \"val_images\": %d, "
           "\"batch\": %d, \"reps\": %d, \"minor_faults_per_rep\": %ld, \"arch\": \"%s\"}\n",
           threads, median(times, reps), CALIB, VAL, EVAL_BATCH, reps,
           (minor_faults() - faults) / reps, arch_text);
    fflush(stdout);
    if (candidate_only)
        return MTD_OK;
    /* Where a candidate's time goes: its top-1 alone, the rest being its
     * calibration (a profile's guide, not a protocol figure; once, not in
     * the repeated processes). */
    const double whole = median(times, reps);
    const int top1_reps = timed(seconds / 2, times, top1_once, c);
    const double top1 = median(times, top1_reps);
    printf("{\"bench\": \"candidate_eval_parts\", \"side\": \"mutatord\", \"threads\": %d, "
           "\"top1_s\": %.4g, \"calib_s\": %.4g, \"unit\": \"s\"}\n",
           threads, top1, whole - top1);
    fflush(stdout);

    if (supernet_reserve_eval(c->sn, 256, &err) != MTD_OK) {
        fprintf(stderr, "bench_eval: %s\n", err.msg);
        return MTD_ERR_NOMEM;
    }
    const int batches[2] = {256, 1};
    for (int b = 0; b < 2; b++) {
        c->batch = batches[b];
        for (int w = 0; w < (b ? 50 : 3); w++)
            forward_once(c);
        reps = timed(seconds, times, forward_once, c);
        double t = median(times, reps);
        if (b == 0)
            printf("{\"bench\": \"forward256\", \"side\": \"mutatord\", \"threads\": %d, "
                   "\"value\": %.4g, \"unit\": \"images/s\", \"batch\": 256, \"reps\": %d, "
                   "\"arch\": \"%s\"}\n", threads, 256.0 / t, reps, arch_text);
        else
            printf("{\"bench\": \"latency1\", \"side\": \"mutatord\", \"threads\": %d, "
                   "\"value\": %.4g, \"unit\": \"ms\", \"batch\": 1, \"reps\": %d, "
                   "\"arch\": \"%s\"}\n", threads, 1000.0 * t, reps, arch_text);
        fflush(stdout);
    }
    return MTD_OK;
}

/* A generation: random subnets drawn as a "topk" search's first one,
 * scored in groups as the daemon does, or one at a time. */
enum { GENERATION = 16 };
struct generation {
    struct search_eval_ctx ctx;
    struct subnet subs[GENERATION];
    int grouped, groups;
    double scores[GENERATION], alone[GENERATION];   /* must be equal */
};

static void generation_once(void *arg)
{
    struct generation *g = arg;
    double *scores = g->grouped ? g->scores : g->alone;
    struct mtd_error err = {0};
    g->groups = 0;
    for (int i = 0; i < GENERATION; g->groups++) {
        int scored = 1;
        enum mtd_status st =
            g->grouped ? search_score_accuracy_group(&g->ctx, g->subs + i, GENERATION - i,
                                                     scores + i, &scored, &err)
                       : search_score_accuracy(&g->ctx, &g->subs[i], &scores[i], &err);
        if (st != MTD_OK) {
            fprintf(stderr, "bench_eval: %s\n", err.msg);
            exit(1);
        }
        i += scored;
    }
}

static void generation_figure(struct search_space *ss, struct eval_ctx *c, int threads)
{
    struct generation g = {.ctx = {.ss = ss, .d = c->d, .calib = &c->calib, .val = &c->val,
                                   .batch = EVAL_BATCH}};
    struct rng rng;
    rng_seed(&rng, 20261204);
    for (int i = 0; i < GENERATION; i++) {
        g.subs[i].n = search_space_ngroups(ss);
        search_space_sample(ss, SAMPLE_RANDOM, &rng, g.subs[i].choice);
    }
    search_order(g.subs, GENERATION);
    double best[2] = {0, 0};
    int groups = 0;
    for (int rep = 0; rep < 4; rep++) {
        g.grouped = rep % 2 == 0;
        const double t0 = monotonic_seconds();
        generation_once(&g);
        const double t = (monotonic_seconds() - t0) / GENERATION;
        if (best[g.grouped] == 0 || t < best[g.grouped])
            best[g.grouped] = t;
        if (g.grouped)
            groups = g.groups;
    }
    for (int i = 0; i < GENERATION; i++)
        if (g.scores[i] != g.alone[i]) {
            fprintf(stderr, "bench_eval: candidate %d scores %.17g in its group, %.17g alone\n",
                    i, g.scores[i], g.alone[i]);
            exit(1);
        }
    printf("{\"bench\": \"candidate_eval_generation\", \"side\": \"mutatord\", "
           "\"threads\": %d, \"value\": %.4g, \"unit\": \"s\", \"alone_s\": %.4g, "
           "\"candidates\": %d, \"groups\": %d, \"archs\": \"", threads, best[1], best[0],
           GENERATION, groups);
    for (int i = 0; i < GENERATION; i++)
        for (int k = 0; k < g.subs[i].n; k++)
            printf("%s%d", k ? "," : i ? ";" : "", g.subs[i].choice[k]);
    printf("\"}\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct bench_args args;
    bench_parse_args(argc, argv, "bench_eval", &args);
    const int threads = args.threads;
    const double seconds = args.seconds;
    config_t cfg;
    struct mtd_error err = {0};
    struct search_space *ss = bench_load_space("bench_eval", args.config, 1, &cfg);
    struct supernet *sn = search_space_supernet(ss);
    const struct space_def *def = supernet_space(sn);

    /* The fixed subnet: choice g % nchoices of every group. */
    int choices[SEARCH_SPACE_MAX_GROUPS];
    for (int g = 0; g < search_space_ngroups(ss); g++)
        choices[g] = g % search_space_group(ss, g)->nchoices;
    struct arch arch;
    search_space_to_arch(ss, choices, &arch);
    if (supernet_set_arch(sn, &arch, &err) != MTD_OK) {
        fprintf(stderr, "bench_eval: %s\n", err.msg);
        return 1;
    }

    /* A data set of random pixels: calibration first, validation last. */
    struct rng rng;
    rng_seed(&rng, 20261125);
    struct data d = {.classes = def->classes};
    const int n = CALIB + VAL, hw = def->in_h * def->in_w;
    d.cfg.mean = 0.2860f;
    d.cfg.std = 0.3530f;
    d.cfg.calib_images = CALIB;
    d.cfg.val_images = VAL;
    d.train = (struct dataset){.n = n, .h = def->in_h, .w = def->in_w,
                               .pixels = malloc((size_t)n * (size_t)hw),
                               .labels = malloc((size_t)n)};
    float *images = floats_alloc(256 * (size_t)hw * (size_t)def->in_c);
    if (!d.train.pixels || !d.train.labels || !images) {
        fprintf(stderr, "bench_eval: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < (size_t)n * (size_t)hw; i++)
        d.train.pixels[i] = (unsigned char)rng_below(&rng, 256);
    for (int i = 0; i < n; i++)
        d.train.labels[i] = (unsigned char)rng_below(&rng, (uint64_t)def->classes);
    rng_fill_normal(&rng, images, 256L * hw * def->in_c, 0.0f, 1.0f);
    struct eval_ctx c = {.sn = sn, .d = &d, .calib = {&d.train, 0, CALIB},
                         .val = {&d.train, CALIB, VAL}, .images = images};

    char arch_text[256] = "";
    for (int g = 0; g < search_space_ngroups(ss); g++)
        snprintf(arch_text + strlen(arch_text), sizeof arch_text - strlen(arch_text), "%s%d",
                 g ? "," : "", choices[g]);

    score_once(&c);  /* warm-up: arenas, pages, caches */
    if (args.paired) {
        struct bench_speedup speedup;
        bench_paired_speedup(threads, seconds, score_once, &c, &speedup);
        bench_print_speedup("candidate_eval_speedup", threads, &speedup, "candidate");
    } else if (args.generation) {
        generation_figure(ss, &c, threads);
    } else if (eval_figures(&c, threads, seconds, arch_text, args.first_only) != MTD_OK) {
        return 1;
    }
    floats_free(images);
    free(d.train.pixels);
    free(d.train.labels);
    search_space_free(ss);
    config_destroy(&cfg);
    return 0;
}
