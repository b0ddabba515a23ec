/*
 * evaluate.c - scoring the supernet's current arch, or a group of archs
 * that share their first cells: BN recalibration on a fixed set (exact
 * averages), then top-1 accuracy (train.h).
 */
#include <stdlib.h>

#include "alloc.h"
#include "train.h"

/* Top-1 runs in batches of up to TOP1_BATCH images, as many as fit in
 * TOP1_BYTES of input, and at least the calibration's batch: an image's
 * logits do not depend on its batch (supernet_forward), evaluation's
 * activations do not grow with it (only the logits and the batch's
 * images do), and each batch ends on a wait for its last group of images
 * (about 6% of top-1's time at 500 images, 2 threads). 28 x 28 images
 * take the 2,048. */
enum { TOP1_BATCH = 2048, TOP1_BYTES = 8 << 20 };

int evaluate_top1_batch(int h, int w, int batch)
{
    const size_t image = (size_t)h * (size_t)w * sizeof(float);
    const size_t fit = TOP1_BYTES / image;
    const int most = fit < TOP1_BATCH ? (int)fit : TOP1_BATCH;
    return batch > most ? batch : most;
}

static int top1_batch_size(const struct data_split *eval, int batch)
{
    return evaluate_top1_batch(eval->set->h, eval->set->w, batch);
}

static int argmax(const float *x, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (x[j] > x[best])
            best = j;
    return best;
}

/* The batch buffers of a pass over a split. */
struct eval_buffers {
    float *images;
    int *labels, *idx;
};

static enum mtd_status buffers_alloc(struct eval_buffers *b, const struct data_split *s,
                                     int batch, struct mtd_error *err)
{
    b->images = floats_alloc((size_t)batch * (size_t)(s->set->h * s->set->w));
    b->labels = malloc((size_t)batch * sizeof *b->labels);
    b->idx = malloc((size_t)batch * sizeof *b->idx);
    if (b->images == NULL || b->labels == NULL || b->idx == NULL)
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for evaluation batches");
    return MTD_OK;
}

static void buffers_free(struct eval_buffers *b)
{
    floats_free(b->images);
    free(b->labels);
    free(b->idx);
}

/* Batch `at` of a split into b; returns its size. */
static int load_batch(const struct data *d, const struct data_split *s, int at, int batch,
                      struct eval_buffers *b)
{
    int n = s->count - at < batch ? s->count - at : batch;
    for (int i = 0; i < n; i++)
        b->idx[i] = at + i;
    data_batch(d, s, b->idx, n, 0, 0, 0, 0, b->images, b->labels);
    return n;
}

/* What a pass scores: the supernet's current arch (g == NULL), or the k
 * archs of group g. */
struct scoring {
    struct supernet *sn;
    struct supernet_group *g;
    int k;
};

static enum mtd_status calibrate(const struct scoring *s, const struct data *d,
                                 const struct data_split *calib, int batch,
                                 const volatile sig_atomic_t *stop, struct eval_buffers *b,
                                 struct mtd_error *err)
{
    if (s->g != NULL) {
        supernet_group_calib_begin(s->sn, s->g);
    } else {
        enum mtd_status st = supernet_calib_begin(s->sn, err);
        if (st != MTD_OK)
            return st;
    }
    for (int at = 0; at < calib->count; at += batch) {
        if (stop != NULL && *stop)
            return MTD_STOPPED;
        int n = load_batch(d, calib, at, batch, b);
        if (s->g != NULL)
            supernet_group_calib(s->sn, s->g, b->images, n);
        else
            supernet_forward(s->sn, b->images, n, FORWARD_CALIB);
    }
    if (s->g != NULL)
        supernet_group_calib_finish(s->sn, s->g);
    else
        supernet_calib_finish(s->sn);
    return MTD_OK;
}

/* accuracy[j]: arch j's top-1 accuracy on eval. */
static enum mtd_status top1(const struct scoring *s, const struct data *d,
                            const struct data_split *eval, int batch,
                            const volatile sig_atomic_t *stop, struct eval_buffers *b,
                            double *accuracy)
{
    const int classes = supernet_space(s->sn)->classes;
    long correct[SUPERNET_GROUP_MAX] = {0};
    for (int at = 0; at < eval->count; at += batch) {
        if (stop != NULL && *stop)
            return MTD_STOPPED;
        int n = load_batch(d, eval, at, batch, b);
        /* a group's logits: member j's n rows after member j - 1's */
        const float *logits = s->g != NULL ? supernet_group_forward(s->sn, s->g, b->images, n)
                                           : supernet_forward(s->sn, b->images, n, FORWARD_EVAL);
        for (int j = 0; j < s->k; j++)
            for (int i = 0; i < n; i++)
                correct[j] += argmax(logits + ((size_t)j * n + i) * (size_t)classes, classes)
                              == b->labels[i];
    }
    for (int j = 0; j < s->k; j++)
        accuracy[j] = eval->count > 0 ? (double)correct[j] / (double)eval->count : 0.0;
    return MTD_OK;
}

/* The batch buffers, and the supernet's room for calibration batches of
 * `batch` (when calib is not NULL) and evaluation batches of top1_batch. */
static enum mtd_status prepare(struct supernet *sn, const struct data_split *calib,
                               const struct data_split *eval, int batch, int top1_batch,
                               struct eval_buffers *b, struct mtd_error *err)
{
    enum mtd_status st = buffers_alloc(b, eval, top1_batch, err);
    if (st == MTD_OK && calib != NULL)
        st = supernet_reserve_eval(sn, batch, err);
    if (st == MTD_OK)
        st = supernet_reserve_eval_forward(sn, top1_batch, err);
    return st;
}

enum mtd_status evaluate_arch(struct supernet *sn, const struct data *d,
                              const struct data_split *calib, const struct data_split *eval,
                              int batch, const volatile sig_atomic_t *stop, double *accuracy,
                              struct mtd_error *err)
{
    struct eval_buffers b;
    const struct scoring s = {sn, NULL, 1};
    const int top1_batch = top1_batch_size(eval, batch);
    enum mtd_status st = prepare(sn, calib, eval, batch, top1_batch, &b, err);
    if (st == MTD_OK && calib != NULL)
        st = calibrate(&s, d, calib, batch, stop, &b, err);
    if (st == MTD_OK)
        st = top1(&s, d, eval, top1_batch, stop, &b, accuracy);
    buffers_free(&b);
    return st;
}

enum mtd_status evaluate_archs(struct supernet *sn, const struct data *d,
                               const struct data_split *calib, const struct data_split *eval,
                               int batch, const volatile sig_atomic_t *stop,
                               const struct arch *archs, int k, double *accuracy,
                               struct mtd_error *err)
{
    struct eval_buffers b;
    struct supernet_group *g = NULL;
    const int top1_batch = top1_batch_size(eval, batch);
    enum mtd_status st = prepare(sn, calib, eval, batch, top1_batch, &b, err);
    if (st == MTD_OK)
        st = supernet_group_create(sn, archs, k, top1_batch, &g, err);
    const struct scoring s = {sn, g, k};
    if (st == MTD_OK && calib != NULL)
        st = calibrate(&s, d, calib, batch, stop, &b, err);
    if (st == MTD_OK)
        st = top1(&s, d, eval, top1_batch, stop, &b, accuracy);
    if (st == MTD_OK)
        st = supernet_set_arch(sn, &archs[k - 1], err);
    supernet_group_free(g);
    buffers_free(&b);
    return st;
}
