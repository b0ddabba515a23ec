/*
 * measure.h - the speed of a network on this CPU: latency at batch 1 (the
 * median of repeated runs) and throughput at batch 256, both forward-only
 * in evaluation mode (BN folded), with the threads the job runs with.
 */
#ifndef MUTATORD_EVAL_MEASURE_H
#define MUTATORD_EVAL_MEASURE_H

#include "data.h"
#include "supernet.h"

#define MEASURE_BATCH 256

struct speed {
    double latency_ms;     /* batch 1, median of repeats */
    double images_per_s;   /* batch MEASURE_BATCH */
};

/* Of sn's current arch, on the first images of split s. */
enum mtd_status measure_speed(struct supernet *sn, const struct data *d,
                              const struct data_split *s, int repeats, struct speed *out,
                              struct mtd_error *err);

/* The median of `repeats` batch-1 forwards of image (after a warm-up);
 * runs has room for repeats values. */
double measure_latency_ms(struct supernet *sn, const float *image, int repeats, double *runs);

#endif
