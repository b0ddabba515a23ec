/*
 * evaluate.c - scoring the supernet's current arch: BN recalibration on a
 * fixed set (exact averages), then top-1 accuracy (train.h).
 */
#include <stdlib.h>

#include "alloc.h"
#include "train.h"

static int argmax(const float *x, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (x[j] > x[best])
            best = j;
    return best;
}

enum mtd_status evaluate_arch(struct supernet *sn, const struct data *d,
                              const struct data_split *calib, const struct data_split *eval,
                              int batch, const volatile sig_atomic_t *stop, double *accuracy,
                              struct mtd_error *err)
{
    const int pixels = eval->set->h * eval->set->w, classes = supernet_space(sn)->classes;
    float *images = floats_alloc((size_t)batch * (size_t)pixels);
    int *labels = malloc((size_t)batch * sizeof *labels);
    int *idx = malloc((size_t)batch * sizeof *idx);
    enum mtd_status st = MTD_OK;
    if (images == NULL || labels == NULL || idx == NULL)
        st = mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for evaluation batches");
    if (st == MTD_OK)
        st = supernet_reserve_eval(sn, batch, err);
    if (st == MTD_OK)
        st = supernet_calib_begin(sn, err);
    if (st != MTD_OK)
        goto out;
    for (int at = 0; at < calib->count; at += batch) {
        if (stop != NULL && *stop) {
            st = MTD_STOPPED;
            goto out;
        }
        int n = calib->count - at < batch ? calib->count - at : batch;
        for (int i = 0; i < n; i++)
            idx[i] = at + i;
        data_batch(d, calib, idx, n, 0, 0, 0, 0, images, labels);
        supernet_forward(sn, images, n, FORWARD_CALIB);
    }
    supernet_calib_finish(sn);
    long correct = 0;
    for (int at = 0; at < eval->count; at += batch) {
        if (stop != NULL && *stop) {
            st = MTD_STOPPED;
            goto out;
        }
        int n = eval->count - at < batch ? eval->count - at : batch;
        for (int i = 0; i < n; i++)
            idx[i] = at + i;
        data_batch(d, eval, idx, n, 0, 0, 0, 0, images, labels);
        const float *logits = supernet_forward(sn, images, n, FORWARD_EVAL);
        for (int i = 0; i < n; i++)
            correct += argmax(logits + (size_t)i * (size_t)classes, classes) == labels[i];
    }
    *accuracy = eval->count > 0 ? (double)correct / (double)eval->count : 0.0;
out:
    floats_free(images);
    free(labels);
    free(idx);
    return st;
}
