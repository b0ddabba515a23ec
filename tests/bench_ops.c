/*
 * bench_ops.c - speed of the tensor backend, as JSON lines on stdout.
 *
 *   bench_ops [--threads T] [--batch N] [--min-time SECONDS]
 *
 * Prints, at T threads: sgemm GFLOP/s at a large square size (the
 * machine's practical peak, BLAS running its own T threads), then conv
 * forward and backward GFLOP/s and GB/s for every distinct convolution
 * shape of the reference space spos-fmnist (../shared/REFERENCE.md) at
 * batch N, and for each dense convolution whose reduction cin/groups*k*k
 * is 128 or more its forward speed as a fraction of that sgemm figure
 * (target 0.7). Each figure is the median of repeated runs after a
 * warm-up run; only ratios within one run mean much on a shared machine.
 */
#include <cblas.h>
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "conv2d.h"
#include "parallel.h"
#include "rng.h"

#define SGEMM_SIZE 1024
#define MAX_REPS 200

/* Distinct convolutions of spos-fmnist at 28x28 input: (cin, cout, k,
 * stride, h, groups); h = w. Stem, the 1x1 convolutions of the choice
 * blocks' branches, the depthwise convolutions of every kernel size, and
 * the last 1x1 convolution. */
static const int spos_convs[][6] = {
    {1, 16, 3, 1, 28, 1},      /* stem */
    {16, 16, 1, 1, 14, 1},     /* stage 1, block 1: projection 1x1 */
    {16, 24, 1, 1, 28, 1},     /* stage 1, block 1: shuffle_k expand */
    {16, 24, 1, 1, 14, 1},     /* stage 1, block 1: xception first 1x1 */
    {24, 32, 1, 1, 14, 1},     /* stage 1, block 1: main output */
    {24, 24, 1, 1, 14, 1},     /* stage 1, blocks 2-4 */
    {48, 48, 1, 1, 14, 1},     /* stage 2, block 1: shuffle_k expand */
    {48, 48, 1, 1, 7, 1},      /* stage 2 */
    {48, 96, 1, 1, 7, 1},      /* stage 3, block 1: expand */
    {96, 144, 1, 1, 7, 1},     /* stage 3, block 1: main output */
    {96, 96, 1, 1, 7, 1},      /* stage 3 */
    {192, 256, 1, 1, 7, 1},    /* last conv */
    {16, 16, 3, 2, 28, 16}, {16, 16, 5, 2, 28, 16}, {16, 16, 7, 2, 28, 16},
    {24, 24, 3, 2, 28, 24}, {24, 24, 5, 2, 28, 24}, {24, 24, 7, 2, 28, 24},
    {24, 24, 3, 1, 14, 24}, {24, 24, 5, 1, 14, 24}, {24, 24, 7, 1, 14, 24},
    {48, 48, 3, 2, 14, 48}, {48, 48, 5, 2, 14, 48}, {48, 48, 7, 2, 14, 48},
    {48, 48, 3, 1, 7, 48},  {48, 48, 5, 1, 7, 48},  {48, 48, 7, 1, 7, 48},
    {96, 96, 3, 1, 7, 96},  {96, 96, 5, 1, 7, 96},  {96, 96, 7, 1, 7, 96},
};

struct timer_result {
    double median;  /* seconds per run */
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef void (*bench_fn)(void *ctx);

/* Median seconds of fn over repeated runs lasting at least min_time in
 * all, after one warm-up run. */
static double time_median(bench_fn fn, void *ctx, double min_time)
{
    static double times[MAX_REPS];
    fn(ctx);
    int reps = 0;
    double total = 0.0;
    while (reps < MAX_REPS && (reps < 3 || total < min_time)) {
        double t0 = omp_get_wtime();
        fn(ctx);
        times[reps] = omp_get_wtime() - t0;
        total += times[reps++];
    }
    qsort(times, reps, sizeof *times, cmp_double);
    return times[reps / 2];
}

struct sgemm_ctx {
    int n;
    float *a, *b, *c;
};

static void run_sgemm(void *p)
{
    struct sgemm_ctx *s = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->n, s->n, s->n, 1.0f,
                s->a, s->n, s->b, s->n, 0.0f, s->c, s->n);
}

struct conv_ctx {
    struct conv2d_shape s;
    float *inp, *weight, *out, *dout, *dinp, *dweight, *scratch;
};

static void run_forward(void *p)
{
    struct conv_ctx *c = p;
    conv2d_forward(c->out, c->inp, c->weight, &c->s, c->scratch);
}

static void run_backward(void *p)
{
    struct conv_ctx *c = p;
    conv2d_backward(c->dinp, c->dweight, c->dout, c->inp, c->weight, &c->s, c->scratch);
}

static float *random_buffer(size_t n, struct rng *rng)
{
    float *x = floats_alloc(n);
    if (x == NULL) {
        fprintf(stderr, "bench_ops: out of memory\n");
        exit(1);
    }
    rng_fill_normal(rng, x, (long)n, 0.0f, 0.1f);
    return x;
}

static void print_shape(const struct conv2d_shape *s)
{
    printf("\"shape\": {\"n\": %d, \"cin\": %d, \"cout\": %d, \"k\": %d, \"stride\": %d, "
           "\"h\": %d, \"w\": %d, \"groups\": %d}",
           s->n, s->cin, s->cout, s->k, s->stride, s->h, s->w, s->groups);
}

static void print_conv_figure(const char *name, double value, const char *unit, int threads,
                              const struct conv2d_shape *s)
{
    printf("{\"name\": \"%s\", \"value\": %.4g, \"unit\": \"%s\", \"threads\": %d, ",
           name, value, unit, threads);
    print_shape(s);
    printf("}\n");
}

int main(int argc, char **argv)
{
    int threads = 2, batch = 128;
    double min_time = 0.3;
    static const struct option options[] = {
        {"threads", required_argument, NULL, 't'},
        {"batch", required_argument, NULL, 'n'},
        {"min-time", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "t:n:m:", options, NULL)) != -1) {
        switch (opt) {
        case 't': threads = atoi(optarg); break;
        case 'n': batch = atoi(optarg); break;
        case 'm': min_time = atof(optarg); break;
        default:
            fprintf(stderr, "usage: bench_ops [--threads T] [--batch N] [--min-time S]\n");
            return 64;
        }
    }
    if (threads < 1 || batch < 1 || min_time <= 0.0) {
        fprintf(stderr, "bench_ops: --threads and --batch must be >= 1, --min-time > 0\n");
        return 64;
    }
    parallel_init(threads);
    struct rng rng;
    rng_seed(&rng, 1);

    /* The reference: BLAS alone on its own threads. */
    struct sgemm_ctx g = {.n = SGEMM_SIZE};
    size_t nn = (size_t)g.n * g.n;
    g.a = random_buffer(nn, &rng);
    g.b = random_buffer(nn, &rng);
    g.c = random_buffer(nn, &rng);
    parallel_blas_threads(threads);
    double sgemm_gflops = 2.0 * g.n * g.n * (double)g.n / time_median(run_sgemm, &g, min_time) * 1e-9;
    parallel_blas_threads(1);
    printf("{\"name\": \"sgemm\", \"value\": %.4g, \"unit\": \"GFLOP/s\", \"threads\": %d, "
           "\"shape\": {\"m\": %d, \"n\": %d, \"k\": %d}}\n",
           sgemm_gflops, threads, g.n, g.n, g.n);
    floats_free(g.a);
    floats_free(g.b);
    floats_free(g.c);

    for (size_t i = 0; i < sizeof spos_convs / sizeof *spos_convs; i++) {
        const int *v = spos_convs[i];
        struct conv_ctx c = {.s = {.n = batch, .cin = v[0], .cout = v[1], .k = v[2],
                                   .stride = v[3], .h = v[4], .w = v[4], .pad = v[2] / 2,
                                   .groups = v[5]}};
        c.s.wcin = c.s.cin / c.s.groups;
        size_t nin = (size_t)batch * c.s.cin * c.s.h * c.s.w;
        size_t nout = (size_t)batch * c.s.cout * conv2d_out_h(&c.s) * conv2d_out_w(&c.s);
        size_t nweight = (size_t)c.s.cout * c.s.wcin * c.s.k * c.s.k;
        c.inp = random_buffer(nin, &rng);
        c.dinp = random_buffer(nin, &rng);
        c.out = random_buffer(nout, &rng);
        c.dout = random_buffer(nout, &rng);
        c.weight = random_buffer(nweight, &rng);
        c.dweight = random_buffer(nweight, &rng);
        c.scratch = random_buffer(conv2d_scratch_floats(&c.s, threads), &rng);

        const double flops = 2.0 * conv2d_macs(&c.s);
        const double bytes = 4.0 * (double)(nin + nout + nweight);
        double tf = time_median(run_forward, &c, min_time);
        double tb = time_median(run_backward, &c, min_time);
        print_conv_figure("conv_forward", flops / tf * 1e-9, "GFLOP/s", threads, &c.s);
        print_conv_figure("conv_backward", 2.0 * flops / tb * 1e-9, "GFLOP/s", threads, &c.s);
        print_conv_figure("conv_forward_bandwidth", bytes / tf * 1e-9, "GB/s", threads, &c.s);
        /* Backward reads inp, dout, weight and writes dinp and dweight. */
        print_conv_figure("conv_backward_bandwidth", 4.0 * (double)(2 * nin + nout + 2 * nweight) / tb * 1e-9,
                          "GB/s", threads, &c.s);
        int depthwise = c.s.groups > 1 && c.s.groups == c.s.cin;
        if (!depthwise && (c.s.cin / c.s.groups) * c.s.k * c.s.k >= 128)
            print_conv_figure("conv_forward_vs_sgemm", flops / tf * 1e-9 / sgemm_gflops, "ratio",
                              threads, &c.s);

        floats_free(c.inp); floats_free(c.dinp); floats_free(c.out); floats_free(c.dout);
        floats_free(c.weight); floats_free(c.dweight); floats_free(c.scratch);
    }
    return 0;
}
