/*
 * measure.c - latency and throughput (measure.h).
 */
#include <stdlib.h>

#include "alloc.h"
#include "log.h"
#include "stats.h"
#include "measure.h"

double measure_latency_ms(struct supernet *sn, const float *image, int repeats, double *runs)
{
    for (int i = 0; i < 5; i++)   /* warm caches and the thread pool */
        supernet_forward(sn, image, 1, FORWARD_EVAL);
    for (int i = 0; i < repeats; i++) {
        double t0 = monotonic_seconds();
        supernet_forward(sn, image, 1, FORWARD_EVAL);
        runs[i] = 1e3 * (monotonic_seconds() - t0);
    }
    return median(runs, repeats);
}

/* Whole batches until a second has passed (and at least three). */
static double throughput(struct supernet *sn, const float *images, int n)
{
    supernet_forward(sn, images, n, FORWARD_EVAL);
    long done = 0;
    double t0 = monotonic_seconds(), elapsed = 0.0;
    for (int runs = 0; runs < 3 || elapsed < 1.0; runs++) {
        supernet_forward(sn, images, n, FORWARD_EVAL);
        done += n;
        elapsed = monotonic_seconds() - t0;
    }
    return (double)done / elapsed;
}

enum mtd_status measure_speed(struct supernet *sn, const struct data *d,
                              const struct data_split *s, int repeats, struct speed *out,
                              struct mtd_error *err)
{
    const int n = s->count < MEASURE_BATCH ? s->count : MEASURE_BATCH;
    const size_t pixels = (size_t)s->set->h * (size_t)s->set->w;
    float *images = floats_alloc((size_t)n * pixels);
    int *labels = malloc((size_t)n * sizeof *labels), *idx = malloc((size_t)n * sizeof *idx);
    double *runs = malloc((size_t)repeats * sizeof *runs);
    enum mtd_status st = MTD_OK;
    if (images == NULL || labels == NULL || idx == NULL || runs == NULL)
        st = mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for timing");
    if (st == MTD_OK && n < 1)
        st = mtd_error_set(err, MTD_ERR_DATA, "no images to time with");
    if (st == MTD_OK)
        st = supernet_reserve_eval(sn, n, err);
    if (st == MTD_OK) {
        for (int i = 0; i < n; i++)
            idx[i] = i;
        data_batch(d, s, idx, n, 0, 0, 0, 0, images, labels);
        out->latency_ms = measure_latency_ms(sn, images, repeats, runs);
        out->images_per_s = throughput(sn, images, n);
    }
    floats_free(images);
    free(labels);
    free(idx);
    free(runs);
    return st;
}
