/*
 * activations.c - the memory that running the supernet takes: activations
 * and their gradients, the convolutions' scratch, the BN folds and plane
 * moments, reserved once for the largest batches and arch.
 */
#include <stdlib.h>

#include "alloc.h"
#include "cell_run.h"
#include "parallel.h"

/* Room for the scale and shift of the widest BN (one-row parameters). */
static size_t fold_floats(const struct supernet *sn)
{
    size_t most = 0;
    for (int p = 0; p < sn->nparams; p++)
        if (sn->params[p].rows == 1 && (size_t)sn->params[p].cols > most)
            most = (size_t)sn->params[p].cols;
    return 2 * most;
}

/* Floats of conv scratch for one thread under any arch (it does not depend
 * on the batch). */
static size_t scratch_floats(struct supernet *sn)
{
    size_t scratch = 0;
    struct arch max;
    supernet_arch_max(sn, &max);
    for (int c = 0; c < sn->ncells; c++) {
        const struct cell *cell = &sn->cells[c];
        for (int o = 0; o < cell->nops; o++) {
            const struct op_graph *g = &cell->ops[o];
            struct cell_run r = {.cell = cell, .g = g, .n = 1};
            cell_widths(sn, &max, c, o, &r.in, &r.out, &r.mid);
            for (int i = 0; i < g->nnodes; i++) {
                const struct node *nd = &g->nodes[i];
                if (nd->kind != NODE_CONV)
                    continue;
                struct conv2d_shape s = cell_conv_shape(&r, nd, &sn->params[nd->param]);
                size_t need = conv2d_scratch_floats(&s, 1);
                if (conv2d_interleaved_supported(&s)
                    && conv2d_interleaved_scratch_floats(&s) > need)
                    need = conv2d_interleaved_scratch_floats(&s);
                if (need > scratch)
                    scratch = need;
            }
        }
    }
    return scratch;
}

/* Floats of activations for training batches of train_n, calibration
 * batches of calib_n and evaluation batches of eval_n: training keeps
 * every cell, calibration two regions of the largest cell and the stash
 * of a group's shared output for the whole batch, evaluation the same per
 * thread for a chunk (cell_run.h). */
static size_t act_floats(const struct supernet *sn, int train_n, int calib_n, int eval_n)
{
    size_t train = (size_t)train_n * sn->act_per_image;
    size_t calib = eval_floats(sn, 1, interleaved_room(calib_n));
    size_t eval = eval_floats(sn, sn->threads, eval_chunk_room(eval_n));
    size_t most = train > calib ? train : calib;
    return most > eval ? most : eval;
}

/* Doubles of BN plane moments per image: two per channel of the widest
 * BN (fold_width, in whole lines). */
static size_t moments_per_image(const struct supernet *sn)
{
    return 2 * floats_whole_lines(fold_floats(sn) / 2);
}

size_t supernet_moments_per_image(const struct supernet *sn)
{
    return moments_per_image(sn) * sizeof(double);
}

size_t supernet_eval_floats(const struct supernet *sn)
{
    return eval_floats(sn, sn->threads ? sn->threads : parallel_threads(), CONV2D_INTERLEAVED);
}

/* The scratch and fold of thread t. The convolutions' scratch of all
 * threads comes first, as one block (an op running on every thread splits
 * it itself), then the folds, then sn->bn_coef. */
void thread_buffers(const struct supernet *sn, int t, float **scratch, float **fold)
{
    *scratch = sn->scratch + (size_t)t * sn->scratch_per_thread;
    *fold = sn->scratch + (size_t)sn->threads * sn->scratch_per_thread
            + (size_t)t * 2 * sn->fold_width;
}

/* Room for training batches of train_n (activations and their gradients),
 * calibration batches of calib_n and evaluation batches of eval_n (at
 * least calib_n), each kept at least at its current capacity. */
static enum mtd_status reserve(struct supernet *sn, int train_n, int calib_n, int eval_n,
                               struct mtd_error *err)
{
    if (sn->scratch == NULL) {
        /* Once: it depends on neither batch, and the thread count is set
         * at start (parallel.h). */
        sn->threads = parallel_threads();
        sn->scratch_per_thread = scratch_floats(sn);
        sn->fold_width = floats_whole_lines(fold_floats(sn) / 2);
        sn->scratch = floats_alloc((size_t)sn->threads
                                       * (sn->scratch_per_thread + 2 * sn->fold_width)
                                   + BN_GRAD_COEFS * sn->fold_width);
        sn->fold = sn->scratch + (size_t)sn->threads * sn->scratch_per_thread;  /* thread 0's */
        sn->bn_coef = sn->fold + (size_t)sn->threads * 2 * sn->fold_width;
    }
    train_n = train_n > sn->train_cap ? train_n : sn->train_cap;
    calib_n = calib_n > sn->calib_cap ? calib_n : sn->calib_cap;
    eval_n = eval_n > calib_n ? eval_n : calib_n;
    eval_n = eval_n > sn->eval_cap ? eval_n : sn->eval_cap;
    size_t need = act_floats(sn, train_n, calib_n, eval_n);
    int grow_act = need > sn->act_floats, grow_grad = train_n > sn->grad_cap;
    int grow_logits = eval_n > sn->eval_cap || sn->logits == NULL;
    float *act = grow_act ? floats_alloc(need) : NULL;
    float *dact = grow_grad ? floats_alloc(2 * (size_t)train_n * sn->cell_floats_max) : NULL;
    float *logits = grow_logits ? floats_alloc((size_t)eval_n * (size_t)sn->def.classes + 1)
                                : NULL;
    const int moments_n = train_n > calib_n ? train_n : calib_n;
    const int grow_moments = moments_n > sn->moments_cap;
    double *moments = grow_moments
                          ? malloc((size_t)moments_n * moments_per_image(sn) * sizeof *moments)
                          : NULL;
    if (sn->cell_in == NULL)
        sn->cell_in = calloc((size_t)sn->ncells, sizeof *sn->cell_in);
    if ((grow_act && !act) || (grow_grad && !dact) || (grow_logits && !logits) ||
        (grow_moments && !moments) || !sn->scratch || !sn->cell_in) {
        floats_free(act);
        floats_free(dact);
        floats_free(logits);
        free(moments);
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for activations of %d images",
                             train_n > calib_n ? train_n : calib_n);
    }
    if (grow_act) {
        floats_free(sn->act);
        sn->act = act;
        sn->act_floats = need;
    }
    if (grow_grad) {
        floats_free(sn->dact);
        sn->dact = dact;
        sn->grad_cap = train_n;
    }
    if (grow_logits) {
        floats_free(sn->logits);
        sn->logits = logits;
    }
    if (grow_moments) {
        free(sn->moments);
        sn->moments = moments;
        sn->moments_cap = moments_n;
    }
    sn->train_cap = train_n;
    sn->calib_cap = calib_n;
    sn->eval_cap = eval_n;
    return MTD_OK;
}

enum mtd_status supernet_reserve(struct supernet *sn, int n, struct mtd_error *err)
{
    return reserve(sn, n, n, n, err);
}

enum mtd_status supernet_reserve_eval(struct supernet *sn, int n, struct mtd_error *err)
{
    return reserve(sn, 0, n, n, err);
}

enum mtd_status supernet_reserve_eval_forward(struct supernet *sn, int n, struct mtd_error *err)
{
    return reserve(sn, 0, 0, n, err);
}
