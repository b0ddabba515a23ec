/*
 * forward.c - running the supernet's current arch: forward in training,
 * calibration and evaluation modes, backward into the gradient arena, the
 * SGD step on touched weights only, and BN calibration.
 *
 * Activations: in training, slot s of op o of cell c, for a batch of n,
 * lives at n * (cell offset + slot offset) in the activation arena, where
 * backward finds it. Evaluation and calibration need a cell's slots only
 * while the cell runs, and backward a cell's gradients only while it runs
 * and the next one reads its input's: those use two regions of the largest
 * cell, a cell taking the one its input is not in (graph.h). A cell's
 * input is the previous cell's output slot (or the caller's images for the
 * stem); an identity op's output is its input and it owns no slot.
 */
#include <assert.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "activation.h"
#include "alloc.h"
#include "channel.h"
#include "conv2d.h"
#include "graph.h"
#include "linear.h"
#include "parallel.h"
#include "pool.h"

/* The widths of the chosen op of one cell and where its tensors are. */
struct cell_run {
    const struct cell *cell;
    const struct op_graph *g;
    int in, out, mid;
    int n;
    float *base, *dbase;           /* this cell's region, batch n */
    const float *input;            /* slot 0 */
    float *dinput;                 /* its gradient, or NULL (the stem) */
    float *scratch;                /* the convolutions' */
    float *fold;                   /* a folded BN's scale, then its shift at
                                      fold + sn->fold_width */
    int lanes;                     /* 1: NCHW; CONV2D_INTERLEAVED: groups of
                                      that many images interleaved (n / lanes
                                      of them, each (C, H, W, lanes)), in
                                      evaluation and calibration until the
                                      global pool, which writes NCHW */
    int map_node;                  /* the convolution that reads its input
                                      through `map` (a batch norm's map left
                                      to its reader: bn_deferred) */
    struct conv2d_epilogue map;    /* its scale and shift in `fold`; none
                                      while map.scale is NULL */
    int placed;                    /* 1 + the fused concat whose second part
                                      its producer wrote in place
                                      (shuffle_write_through); 0: none */
};

static int slot_channels(const struct cell_run *r, int s)
{
    return width_eval(r->g->slots[s].c, r->in, r->out, r->mid);
}

static size_t slot_hw(const struct cell_run *r, int s)
{
    return (size_t)r->g->slots[s].h * (size_t)r->g->slots[s].w;
}

/* The images and the floats of a channel's plane that a channel move or
 * an elementwise op sees: interleaved, one image of planes n times as long
 * (whole planes are what they move). */
static int run_images(const struct cell_run *r)
{
    return r->n / r->lanes;
}

static size_t run_plane(const struct cell_run *r, int s)
{
    return slot_hw(r, s) * (size_t)r->lanes;
}

static const float *slot(const struct cell_run *r, int s)
{
    return s == 0 ? r->input : r->base + (size_t)r->n * r->g->slot_offset[s];
}

static float *slot_mut(const struct cell_run *r, int s)
{
    assert(s > 0);
    return r->base + (size_t)r->n * r->g->slot_offset[s];
}

static float *dslot(const struct cell_run *r, int s)
{
    return s == 0 ? r->dinput : r->dbase + (size_t)r->n * r->g->slot_offset[s];
}

static void cell_run_init(struct cell_run *r, const struct supernet *sn, int c, int n)
{
    r->cell = &sn->cells[c];
    r->g = &r->cell->ops[sn->arch.op[c]];
    cell_widths(sn, &sn->arch, c, sn->arch.op[c], &r->in, &r->out, &r->mid);
    r->n = n;
    r->base = sn->act + (size_t)n * r->cell->arena_offset;
    r->dbase = NULL;
    r->scratch = sn->scratch;
    r->fold = sn->fold;
    r->lanes = 1;
    r->map = (struct conv2d_epilogue){0};
    r->placed = 0;
}

/* Region k (0 or 1) of a two-region arena for batches of n. */
static float *region(const struct supernet *sn, float *arena, int k, int n)
{
    return arena + (size_t)k * (size_t)n * sn->cell_floats_max;
}

/* Whether p points into region 0 of arena (batch n). */
static int in_region0(const struct supernet *sn, float *arena, const float *p, int n)
{
    uintptr_t lo = (uintptr_t)arena, hi = (uintptr_t)region(sn, arena, 1, n);
    return p != NULL && (uintptr_t)p >= lo && (uintptr_t)p < hi;
}

static struct conv2d_shape conv_shape(const struct cell_run *r, const struct node *nd,
                                      const struct param_info *w)
{
    const struct slot *s = &r->g->slots[nd->src];
    int cin = width_eval(nd->a, r->in, r->out, r->mid);
    int cout = width_eval(nd->b, r->in, r->out, r->mid);
    return (struct conv2d_shape){
        .n = r->n, .cin = cin, .cout = cout, .wcin = w->cols / (nd->k * nd->k),
        .h = s->h, .w = s->w, .k = nd->k, .stride = nd->stride, .pad = nd->k / 2,
        .groups = nd->depthwise ? cin : 1};
}

static float *param_ptr(const struct supernet *sn, float *arena, int p)
{
    return arena + sn->params[p].offset;
}

static float *buffer_ptr(const struct supernet *sn, int b)
{
    return sn->bufvals + sn->buffers[b].offset;
}

/* Batch mean and var of a BN node (each of its maximum width). */
static float *bn_mean(const struct supernet *sn, const struct node *nd)
{
    return sn->stats + nd->stat;
}

static float *bn_var(const struct supernet *sn, const struct node *nd)
{
    return sn->stats + nd->stat + sn->params[nd->param].cols;
}

/* Channel moves fused at run time: a CONCAT whose output only a SHUFFLE
 * reads runs, forward and backward, as one concat_shuffle (channel.h) into
 * the shuffle's slot; and when the concat's first input is the first
 * output of a SPLIT that nothing else reads (a shuffle block's pass-through
 * half), the concat reads those channels in the split's input, and the
 * split moves only its second output. The skipped slots are never written:
 * of a stride-1 block's three full copies (split, concat, shuffle) one and
 * a half remain. supernet_set_fusion(sn, 0) turns this off with the rest. */

static int readers(const struct op_graph *g, int s)
{
    int count = 0;
    for (int i = 0; i < g->nnodes; i++)
        count += (g->nodes[i].src == s) + (g->nodes[i].src2 == s);
    return count;
}

/* Whether node i is a CONCAT run together with the SHUFFLE at i + 1. */
static int concat_shuffle_fused(const struct supernet *sn, const struct op_graph *g, int i)
{
    if (sn->no_fusion || g->nodes[i].kind != NODE_CONCAT || i + 1 >= g->nnodes)
        return 0;
    const struct node *cat = &g->nodes[i], *shf = &g->nodes[i + 1];
    return shf->kind == NODE_SHUFFLE && shf->src == cat->dst && readers(g, cat->dst) == 1 &&
           g->out != cat->dst;
}

/* The SPLIT whose first output the fused concat i reads in place, or -1. */
static int split_read_through(const struct op_graph *g, int i)
{
    const struct node *cat = &g->nodes[i];
    for (int j = 0; j < i; j++) {
        const struct node *sp = &g->nodes[j];
        if (sp->kind == NODE_SPLIT && sp->dst == cat->src)
            return readers(g, sp->dst) == 1 && g->out != sp->dst ? j : -1;
    }
    return -1;
}

/* Whether SPLIT node j's first output is read through, never written. */
static int split_first_skipped(const struct supernet *sn, const struct op_graph *g, int j)
{
    for (int i = j + 1; i < g->nnodes; i++)
        if (concat_shuffle_fused(sn, g, i) && split_read_through(g, i) == j)
            return 1;
    return 0;
}

/* Outside training, a convolution that is the only reader of a SPLIT's
 * second output reads those channels in the split's input (conv2d's
 * in_image), and the split never writes them: the branch of a stride-1
 * shuffle block then moves no channels at all. Training keeps the slot,
 * where backward finds the convolution's input. The SPLIT node, or -1. */
static int split_second_read_through(const struct supernet *sn, const struct op_graph *g, int s,
                                     enum forward_mode mode)
{
    if (sn->no_fusion || mode == FORWARD_TRAIN || readers(g, s) != 1 || g->out == s)
        return -1;
    int split = -1, conv = 0;
    for (int j = 0; j < g->nnodes; j++) {
        split = g->nodes[j].kind == NODE_SPLIT && g->nodes[j].dst2 == s ? j : split;
        conv |= g->nodes[j].kind == NODE_CONV && g->nodes[j].src == s;
    }
    return conv ? split : -1;
}

/* A convolution's input: its slot, or where it reads it through (above),
 * with the floats between images in s->in_image. */
static const float *conv_input(const struct supernet *sn, const struct cell_run *r,
                               const struct node *nd, enum forward_mode mode,
                               struct conv2d_shape *s)
{
    const int j = split_second_read_through(sn, r->g, nd->src, mode);
    if (j < 0)
        return slot(r, nd->src);
    const struct node *sp = &r->g->nodes[j];
    const int ca = width_eval(sp->a, r->in, r->out, r->mid);
    const int cb = width_eval(sp->b, r->in, r->out, r->mid);
    s->in_image = (size_t)(ca + cb) * slot_hw(r, sp->src);
    return slot(r, sp->src) + (size_t)ca * run_plane(r, sp->src);
}

/* Whether BN node i's map is left to the node after it, the only reader
 * of its output, in interleaved calibration: a depthwise convolution maps
 * it as it copies it (conv2d_shape.in_map), a concat-and-shuffle as it
 * copies it, a dense convolution in place a group at a time just before
 * its product reads it (interleaved_groups). The BN's own pass over the
 * whole batch is saved, or (dense) made while the group is in cache. */
static int bn_deferred(const struct supernet *sn, const struct cell_run *r, int i,
                       enum forward_mode mode)
{
    const struct op_graph *g = r->g;
    const struct node *bn = &g->nodes[i];
    if (mode != FORWARD_CALIB || r->lanes == 1 || sn->no_fusion || i + 1 >= g->nnodes)
        return 0;
    const struct node *next = &g->nodes[i + 1];
    const int reader = (next->kind == NODE_CONV && next->src == bn->dst) ||
                       (concat_shuffle_fused(sn, g, i + 1) && next->src2 == bn->dst &&
                        next->src != bn->dst);
    return reader && readers(g, bn->dst) == 1 && g->out != bn->dst;
}

/* A BN node on its input slot, or in training and calibration on `inp`
 * (which may be its output) with its planes' moments taken by the
 * producer when moments is not NULL. */
static void bn_forward_on(struct supernet *sn, struct cell_run *r, const struct node *nd,
                          enum forward_mode mode, const float *inp, const double *moments)
{
    int set = sn->arch.bn_set;
    struct bn_shape s = {.n = run_images(r), .c = slot_channels(r, nd->dst),
                         .hw = (int)run_plane(r, nd->dst), .relu = nd->relu};
    const float *gamma = param_ptr(sn, sn->weights, nd->param + 2 * set);
    const float *beta = param_ptr(sn, sn->weights, nd->param + 2 * set + 1);
    float *rmean = buffer_ptr(sn, nd->buffer + 2 * set);
    float *rvar = buffer_ptr(sn, nd->buffer + 2 * set + 1);
    float eps = (float)sn->def.bn_eps;
    float *out = slot_mut(r, nd->dst);
    long count = (long)s.n * s.hw;
    if (mode == FORWARD_EVAL) {
        batchnorm_forward_eval(out, inp, gamma, beta, rmean, rvar, eps, &s);
    } else {
        float *mean = bn_mean(sn, nd), *var = bn_var(sn, nd);
        if (r->lanes > 1) {
            /* Interleaved calibration: the statistics of the batch's
             * sn->n images from their planes' moments, the map on the
             * groups' planes. */
            assert(moments != NULL && mode == FORWARD_CALIB);
            const struct bn_shape images = {.n = sn->n, .c = s.c, .hw = (int)slot_hw(r, nd->dst)};
            count = (long)images.n * images.hw;
            batchnorm_moments_stats(mean, var, moments, &images);
            const int i = (int)(nd - r->g->nodes);
            if (bn_deferred(sn, r, i, mode)) {
                batchnorm_train_map(r->fold, r->fold + sn->fold_width, gamma, beta, mean, var,
                                    eps, s.c);
                r->map = (struct conv2d_epilogue){r->fold, r->fold + sn->fold_width, nd->relu,
                                                  NULL};
                r->map_node = i + 1;
            } else {
                batchnorm_train_apply(out, inp, gamma, beta, mean, var, eps, &s);
            }
        } else if (moments)
            batchnorm_forward_train_moments(out, mean, var, inp, moments, gamma, beta, eps, &s);
        else
            batchnorm_forward_train(out, mean, var, inp, gamma, beta, eps, &s);
        if (mode == FORWARD_TRAIN) {
            batchnorm_running_update(rmean, rvar, mean, var, s.c, count, (float)sn->def.bn_momentum);
        } else {
            struct bn_calib calib = {.mean = sn->calib_sum + nd->stat,
                                     .m2 = sn->calib_sum + nd->stat + sn->params[nd->param].cols,
                                     .count = sn->calib_count[nd->stat]};
            batchnorm_calib_accumulate(&calib, mean, var, s.c, count);
            sn->calib_count[nd->stat] = calib.count;
        }
    }
}

static void bn_forward(struct supernet *sn, struct cell_run *r, const struct node *nd,
                       enum forward_mode mode)
{
    bn_forward_on(sn, r, nd, mode, slot(r, nd->src), NULL);
}

/* Groups [begin, end) of an interleaved convolution (conv_forward_run),
 * on thread t's scratch; with moments, those of the output planes of the
 * batch's `images` real images (a last group's other lanes are padding). */
static void interleaved_groups(float *out, const float *x, const float *weight,
                               const struct conv2d_shape *s, size_t in_group, float *scratch,
                               size_t scratch_per_thread, const struct conv2d_epilogue *ep,
                               int images, const struct conv2d_epilogue *in_place, int t,
                               size_t begin, size_t end)
{
    const int lanes = CONV2D_INTERLEAVED, ohw = conv2d_out_h(s) * conv2d_out_w(s);
    const size_t plane = (size_t)ohw * lanes, in_plane = (size_t)s->h * s->w * lanes;
    const struct conv2d_epilogue *affine = ep != NULL && ep->scale != NULL ? ep : NULL;
    for (size_t g = begin; g < end; g++) {
        if (in_place) {
            /* The group's input through a BN's map, just before the
             * product reads it (bn_deferred): affine_plane, as the BN. */
            float *xg = (float *)(x + g * in_group);
            for (int c = 0; c < s->cin; c++)
                affine_plane(xg + c * in_plane, xg + c * in_plane, (int)in_plane,
                             in_place->scale[c], in_place->shift[c], in_place->relu);
        }
        float *y = out + g * s->cout * plane;
        conv2d_interleaved_forward(y, x + g * in_group, weight, s,
                                   scratch + (size_t)t * scratch_per_thread, affine);
        if (ep == NULL || ep->moments == NULL)
            continue;
        const int first = (int)g * lanes, valid = images - first < lanes ? images - first : lanes;
        for (int ch = 0; ch < s->cout; ch++)
            batchnorm_interleaved_moments(ep->moments + 2 * ((size_t)first * s->cout + ch),
                                          2 * (size_t)s->cout, y + ch * plane, ohw, valid);
    }
}

/* Output channels [row0, row0 + rows) of a convolution with its
 * epilogue (which has the convolution's rows), NCHW or interleaved as r
 * runs; interleaved, out_channel floats apart (0: compact). */
static void conv_rows_run(const struct supernet *sn, const struct cell_run *r,
                          const struct node *conv, float *out, enum forward_mode mode,
                          const struct conv2d_epilogue *ep, int row0, int rows,
                          size_t out_channel)
{
    const struct param_info *w = &sn->params[conv->param];
    struct conv2d_shape s = conv_shape(r, conv, w);
    const float *x = conv_input(sn, r, conv, mode, &s);
    const float *weight = sn->weights + w->offset + (size_t)row0 * (size_t)w->cols;
    struct conv2d_epilogue rows_ep;
    if (row0 > 0) {
        assert(ep != NULL && ep->scale != NULL && ep->moments == NULL);
        rows_ep = (struct conv2d_epilogue){ep->scale + row0, ep->shift + row0, ep->relu, NULL};
        ep = &rows_ep;
    }
    assert(row0 + rows <= s.cout && (row0 == 0 || s.groups == 1));
    s.cout = rows;
    s.out_channel = out_channel;
    /* Through a BN's map left to it (bn_deferred): the depthwise kernel
     * maps its input as it copies it, a dense convolution in place, a
     * group at a time. */
    const int mapped = r->map.scale != NULL && conv == &r->g->nodes[r->map_node];
    const struct conv2d_epilogue *in_place = mapped && !conv->depthwise ? &r->map : NULL;
    s.in_map = mapped && conv->depthwise ? &r->map : NULL;
    if (r->lanes > 1) {
        const size_t in_group = conv2d_in_image(&s) * (size_t)r->lanes;
        PARALLEL_RANGES((size_t)run_images(r), 1, interleaved_groups, out, x, weight, &s,
                        in_group, r->scratch, sn->scratch_per_thread, ep, sn->n, in_place);
    } else {
        assert(out_channel == 0 && in_place == NULL);
        conv2d_forward_ep(out, x, weight, &s, r->scratch, ep);
    }
}

/* A convolution with its epilogue, NCHW or interleaved as r runs. */
static void conv_forward_run(const struct supernet *sn, const struct cell_run *r,
                             const struct node *conv, float *out, enum forward_mode mode,
                             const struct conv2d_epilogue *ep)
{
    conv_rows_run(sn, r, conv, out, mode, ep, 0, width_eval(conv->b, r->in, r->out, r->mid), 0);
}

static void node_forward(struct supernet *sn, struct cell_run *r, int i,
                         enum forward_mode mode)
{
    const struct node *nd = &r->g->nodes[i];
    int n = run_images(r);
    int hw = (int)run_plane(r, nd->src);
    int ca = width_eval(nd->a, r->in, r->out, r->mid);
    switch (nd->kind) {
    case NODE_CONV:
        conv_forward_run(sn, r, nd, slot_mut(r, nd->dst), mode, NULL);
        break;
    case NODE_BN:
        bn_forward(sn, r, nd, mode);
        break;
    case NODE_SPLIT:
        split_forward(split_first_skipped(sn, r->g, i) ? NULL : slot_mut(r, nd->dst),
                      split_second_read_through(sn, r->g, nd->dst2, mode) >= 0
                          ? NULL : slot_mut(r, nd->dst2),
                      slot(r, nd->src), ca,
                      width_eval(nd->b, r->in, r->out, r->mid), n, hw);
        break;
    case NODE_CONCAT:
        concat_forward(slot_mut(r, nd->dst), slot(r, nd->src), slot_channels(r, nd->src),
                       slot(r, nd->src2), slot_channels(r, nd->src2), n, hw);
        break;
    case NODE_SHUFFLE:
        shuffle_forward(slot_mut(r, nd->dst), slot(r, nd->src), n, ca, hw, 2);
        break;
    case NODE_ADD:
        add_forward(slot_mut(r, nd->dst), slot(r, nd->src), slot(r, nd->src2),
                    (size_t)n * (size_t)ca * (size_t)hw);
        break;
    case NODE_POOL:
        if (r->lanes > 1)
            for (int k = 0; k < n; k++)   /* each group into its lanes' rows */
                global_avgpool_interleaved(slot_mut(r, nd->dst) + (size_t)k * r->lanes * ca,
                                           slot(r, nd->src) + (size_t)k * ca * hw, ca,
                                           (int)slot_hw(r, nd->src), r->lanes);
        else
            global_avgpool_forward(slot_mut(r, nd->dst), slot(r, nd->src), n, ca, hw);
        break;
    case NODE_LINEAR: {
        assert(r->lanes == 1);
        const struct param_info *w = &sn->params[nd->param];
        struct linear_shape s = {.n = n, .in = ca, .out = width_eval(nd->b, r->in, r->out, r->mid),
                                 .in_max = w->cols};
        linear_forward(slot_mut(r, nd->dst), slot(r, nd->src), sn->weights + w->offset,
                       param_ptr(sn, sn->weights, nd->param + 1), &s);
        break;
    }
    }
}

/* Room for the scale and shift of the widest BN (one-row parameters). */
static size_t fold_floats(const struct supernet *sn)
{
    size_t most = 0;
    for (int p = 0; p < sn->nparams; p++)
        if (sn->params[p].rows == 1 && (size_t)sn->params[p].cols > most)
            most = (size_t)sn->params[p].cols;
    return 2 * most;
}

/* In evaluation mode the BN (and its ReLU) can be applied to each image's
 * output as the convolution produces it, straight into the BN's slot. */
int conv_bn_fusable(const struct op_graph *g, int i)
{
    const struct node *conv = &g->nodes[i];
    if (conv->kind != NODE_CONV || i + 1 >= g->nnodes)
        return 0;
    const struct node *bn = &g->nodes[i + 1];
    if (bn->kind != NODE_BN || bn->src != conv->dst || g->out == conv->dst)
        return 0;
    for (int j = i + 2; j < g->nnodes; j++)
        if (g->nodes[j].src == conv->dst || g->nodes[j].src2 == conv->dst)
            return 0;
    return 1;
}

/* In interleaved evaluation, a shuffle block's last convolution and BN
 * (at i, i + 1) write their channels straight to where the fused concat
 * and shuffle after them would copy them (channel shuffle of 2 groups:
 * every other output channel), and that copy moves only its other part.
 * The concat node, or -1. */
static int shuffle_write_through(const struct supernet *sn, const struct cell_run *r, int i)
{
    const struct op_graph *g = r->g;
    if (r->lanes == 1 || sn->no_fusion || i + 3 >= g->nnodes || !concat_shuffle_fused(sn, g, i + 2))
        return -1;
    const struct node *bn = &g->nodes[i + 1], *cat = &g->nodes[i + 2];
    return cat->src2 == bn->dst && cat->src != bn->dst && readers(g, bn->dst) == 1 &&
                   g->out != bn->dst
               ? i + 2
               : -1;
}

/* conv_bn_eval's output written through into the shuffle after concat
 * node c: of the concatenation [a (ca), b (cb)] of C channels, channel q
 * lands at 2q below C/2 and at 2(q - C/2) + 1 from there, so b's rows go
 * in at most two runs, every other channel. */
static void conv_bn_write_through(struct supernet *sn, struct cell_run *r, int c,
                                  const struct node *conv, const struct conv2d_epilogue *ep)
{
    const struct node *cat = &r->g->nodes[c], *shf = &r->g->nodes[c + 1];
    const int ca = slot_channels(r, cat->src), cb = slot_channels(r, cat->src2);
    const int half = (ca + cb) / 2, below = half - ca < 0 ? 0 : half - ca < cb ? half - ca : cb;
    const size_t plane = run_plane(r, shf->dst);
    float *out = slot_mut(r, shf->dst);
    if (below > 0)
        conv_rows_run(sn, r, conv, out + 2 * (size_t)ca * plane, FORWARD_EVAL, ep, 0, below,
                      2 * plane);
    if (below < cb)
        conv_rows_run(sn, r, conv, out + (2 * (size_t)(ca + below - half) + 1) * plane,
                      FORWARD_EVAL, ep, below, cb - below, 2 * plane);
    r->placed = c + 1;
}

static void conv_bn_eval(struct supernet *sn, struct cell_run *r, const struct node *conv,
                         const struct node *bn)
{
    const int cout = width_eval(conv->b, r->in, r->out, r->mid);
    int set = sn->arch.bn_set;
    float *scale = r->fold, *shift = r->fold + sn->fold_width;
    batchnorm_eval_affine(scale, shift, param_ptr(sn, sn->weights, bn->param + 2 * set),
                          param_ptr(sn, sn->weights, bn->param + 2 * set + 1),
                          buffer_ptr(sn, bn->buffer + 2 * set),
                          buffer_ptr(sn, bn->buffer + 2 * set + 1), (float)sn->def.bn_eps,
                          cout);
    struct conv2d_epilogue ep = {scale, shift, bn->relu, NULL};
    const int c = shuffle_write_through(sn, r, (int)(conv - r->g->nodes));
    if (c >= 0)
        conv_bn_write_through(sn, r, c, conv, &ep);
    else
        conv_forward_run(sn, r, conv, slot_mut(r, bn->dst), FORWARD_EVAL, &ep);
}

/* In training and calibration a convolution takes the moments of its
 * output planes for the BN after it as it writes them (in cache), so that
 * the BN's only pass is its affine map. Calibration keeps no BN input for
 * a backward pass: the convolution writes straight into the BN's slot and
 * the BN works in place there. Same bits as the two nodes run apart. */
static void conv_bn_train(struct supernet *sn, struct cell_run *r, const struct node *conv,
                          const struct node *bn, enum forward_mode mode)
{
    assert(width_eval(conv->b, r->in, r->out, r->mid) == slot_channels(r, bn->dst));
    assert((r->lanes > 1 ? sn->n : r->n) <= sn->moments_cap);
    float *y = slot_mut(r, mode == FORWARD_CALIB ? bn->dst : conv->dst);
    struct conv2d_epilogue ep = {.moments = sn->moments};
    conv_forward_run(sn, r, conv, y, mode, &ep);
    bn_forward_on(sn, r, bn, mode, y, sn->moments);
}

/* Records that rows x cols of parameter p received a gradient. */
static void touch(struct supernet *sn, int p, int rows, int cols)
{
    int *t = sn->touched + sn->touched_offset[p];
    for (int i = 0; i < rows; i++)
        if (t[i] < cols)
            t[i] = cols;
}

/* The last node of g that reads slot s, or -1. */
static int last_reader(const struct op_graph *g, int s)
{
    for (int i = g->nnodes - 1; i >= 0; i--)
        if (g->nodes[i].src == s || g->nodes[i].src2 == s)
            return i;
    return -1;
}

/* Whether node i's backward writes the gradient of slot s (=) instead of
 * adding to it: it is the first of s's readers that backward runs (the
 * last in the graph) and its kind can. Such a slot needs no zeroing, which
 * would be a whole pass over memory. */
static int overwrites(const struct cell_run *r, int i, int s)
{
    const struct op_graph *g = r->g;
    const struct node *nd = &g->nodes[i];
    if (last_reader(g, s) != i)
        return 0;
    /* Only when the node's backward covers every channel of s. */
    const int ca = width_eval(nd->a, r->in, r->out, r->mid), cs = slot_channels(r, s);
    switch (nd->kind) {
    case NODE_CONV:
    case NODE_SHUFFLE:
        return ca == cs;
    case NODE_BN:
        return slot_channels(r, nd->dst) == cs;
    case NODE_SPLIT:
        return ca + width_eval(nd->b, r->in, r->out, r->mid) == cs;
    case NODE_CONCAT:
        return nd->src != nd->src2;
    default:
        return 0;
    }
}

static int slot_overwritten(const struct cell_run *r, int s)
{
    int i = last_reader(r->g, s);
    return i >= 0 && overwrites(r, i, s);
}

/* The fused concat and shuffle at nodes i, i + 1 (concat_shuffle_fused). */
static void concat_shuffle_run(const struct cell_run *r, int i, int backward)
{
    const struct op_graph *g = r->g;
    const struct node *cat = &g->nodes[i], *shf = &g->nodes[i + 1];
    const int sp = split_read_through(g, i);
    const int a = sp >= 0 ? g->nodes[sp].src : cat->src;   /* where the first part is read */
    const int ca = slot_channels(r, cat->src), cb = slot_channels(r, cat->src2);
    const int a_c = slot_channels(r, a), hw = (int)run_plane(r, cat->src);
    if (!backward) {
        /* b through a batch norm's map left to this copy (bn_deferred),
         * or already in place (shuffle_write_through) */
        const int mapped = r->map.scale != NULL && r->map_node == i;
        const struct channel_map b_map = {r->map.scale, r->map.shift, r->map.relu};
        concat_shuffle_forward_mapped(slot_mut(r, shf->dst), slot(r, a), a_c, ca,
                                      r->placed == i + 1 ? NULL : slot(r, cat->src2), cb,
                                      mapped ? &b_map : NULL, run_images(r), hw, 2);
        return;
    }
    assert(r->lanes == 1);
    /* The first part's gradient goes where it would have ended: the
     * split's input gradient, written if the split would have written it
     * (it is that slot's first writer, and backward reaches us first). */
    const int accumulate_a = sp >= 0 ? !overwrites(r, sp, a) : !overwrites(r, i, cat->src);
    concat_shuffle_backward(dslot(r, a), a_c, dslot(r, cat->src2), dslot(r, shf->dst), ca, cb,
                            r->n, hw, 2, accumulate_a, !overwrites(r, i, cat->src2));
}

static void bn_backward(struct supernet *sn, const struct cell_run *r, int i)
{
    const struct node *nd = &r->g->nodes[i];
    int set = sn->arch.bn_set;
    struct bn_shape s = {.n = r->n, .c = slot_channels(r, nd->dst), .hw = (int)slot_hw(r, nd->dst),
                         .relu = nd->relu, .overwrite = overwrites(r, i, nd->src)};
    int pg = nd->param + 2 * set;
    batchnorm_backward(dslot(r, nd->src), param_ptr(sn, sn->grads, pg),
                       param_ptr(sn, sn->grads, pg + 1), dslot(r, nd->dst), slot(r, nd->src),
                       param_ptr(sn, sn->weights, pg), param_ptr(sn, sn->weights, pg + 1),
                       bn_mean(sn, nd), bn_var(sn, nd), (float)sn->def.bn_eps, &s);
    touch(sn, pg, 1, s.c);
    touch(sn, pg + 1, 1, s.c);
}

static void node_backward(struct supernet *sn, const struct cell_run *r, int i)
{
    const struct node *nd = &r->g->nodes[i];
    int n = r->n;
    int hw = (int)slot_hw(r, nd->src);
    int ca = width_eval(nd->a, r->in, r->out, r->mid);
    switch (nd->kind) {
    case NODE_CONV: {
        const struct param_info *w = &sn->params[nd->param];
        struct conv2d_shape s = conv_shape(r, nd, w);
        s.overwrite = overwrites(r, i, nd->src);
        conv2d_backward(dslot(r, nd->src), sn->grads + w->offset, dslot(r, nd->dst),
                        slot(r, nd->src), sn->weights + w->offset, &s, r->scratch);
        touch(sn, nd->param, s.cout, (s.cin / s.groups) * s.k * s.k);
        break;
    }
    case NODE_BN:
        bn_backward(sn, r, i);
        break;
    case NODE_SPLIT:
        /* (A first output read through has its gradient in place.) */
        split_backward(dslot(r, nd->src),
                       split_first_skipped(sn, r->g, i) ? NULL : dslot(r, nd->dst),
                       dslot(r, nd->dst2), ca,
                       width_eval(nd->b, r->in, r->out, r->mid), n, hw,
                       !overwrites(r, i, nd->src));
        break;
    case NODE_CONCAT:
        concat_backward(dslot(r, nd->src), dslot(r, nd->src2), dslot(r, nd->dst),
                        slot_channels(r, nd->src), slot_channels(r, nd->src2), n, hw,
                        !overwrites(r, i, nd->src), !overwrites(r, i, nd->src2));
        break;
    case NODE_SHUFFLE:
        shuffle_backward(dslot(r, nd->src), dslot(r, nd->dst), n, ca, hw, 2,
                         !overwrites(r, i, nd->src));
        break;
    case NODE_ADD:
        add_backward(dslot(r, nd->src), dslot(r, nd->src2), dslot(r, nd->dst),
                     (size_t)n * (size_t)ca * (size_t)hw);
        break;
    case NODE_POOL:
        global_avgpool_backward(dslot(r, nd->src), dslot(r, nd->dst), n, ca, hw);
        break;
    case NODE_LINEAR: {
        const struct param_info *w = &sn->params[nd->param];
        struct linear_shape s = {.n = n, .in = ca, .out = width_eval(nd->b, r->in, r->out, r->mid),
                                 .in_max = w->cols};
        linear_backward(dslot(r, nd->src), sn->grads + w->offset,
                        param_ptr(sn, sn->grads, nd->param + 1), dslot(r, nd->dst),
                        slot(r, nd->src), sn->weights + w->offset, &s);
        touch(sn, nd->param, s.out, s.in);
        touch(sn, nd->param + 1, 1, s.out);
        break;
    }
    }
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
                struct conv2d_shape s = conv_shape(&r, nd, &sn->params[nd->param]);
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

/* Evaluation runs its batch in chunks, each chunk through the whole
 * network on one thread, its ops single-threaded inside (parallel.h): no
 * barrier per op, and a chunk's activations stay in the thread's cache.
 * Whole groups of CONV2D_INTERLEAVED images run interleaved (conv2d.h):
 * every op is then vectors of the group's images, with no lanes lost to
 * a 7 x 7 plane's 49 pixels or to channel counts, and no transposes for
 * the depthwise kernel. The images left over go in chunks of at most
 * EVAL_CHUNK, NCHW. Every image gets the same bits whatever its chunk,
 * its layout or the thread count. */
enum { EVAL_CHUNK = 8 };

static int eval_chunk(int n)
{
    return n < EVAL_CHUNK ? n : EVAL_CHUNK;
}

/* The images of a batch of n in whole interleaved groups (calibration's
 * regions hold that many). */
static int interleaved_room(int n)
{
    return (n + CONV2D_INTERLEAVED - 1) / CONV2D_INTERLEAVED * CONV2D_INTERLEAVED;
}

/* The most images of a chunk of a batch of n (a thread's regions hold
 * that many). */
static int eval_chunk_room(int n)
{
    return n >= CONV2D_INTERLEAVED ? CONV2D_INTERLEAVED : eval_chunk(n);
}

/* Floats of the evaluation regions of `threads` threads for chunks of
 * `chunk` images: two regions of the largest cell each. Thread t's start
 * at eval_floats(sn, t, chunk). */
static size_t eval_floats(const struct supernet *sn, int threads, int chunk)
{
    return (size_t)threads * 2 * (size_t)chunk * sn->cell_floats_max;
}

/* Floats of activations for training batches of train_n and evaluation
 * (and calibration) batches of eval_n: training keeps every cell,
 * calibration two regions of the largest cell for the whole batch,
 * evaluation two such regions per thread for a chunk. */
static size_t act_floats(const struct supernet *sn, int train_n, int eval_n)
{
    size_t train = (size_t)train_n * sn->act_per_image;
    size_t calib = eval_floats(sn, 1, interleaved_room(eval_n));
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
 * it itself), then the folds. */
static void thread_buffers(const struct supernet *sn, int t, float **scratch, float **fold)
{
    *scratch = sn->scratch + (size_t)t * sn->scratch_per_thread;
    *fold = sn->scratch + (size_t)sn->threads * sn->scratch_per_thread
            + (size_t)t * 2 * sn->fold_width;
}

/* Room for training batches of train_n (activations and their gradients)
 * and evaluation batches of eval_n, each kept at least at its current
 * capacity. */
static enum mtd_status reserve(struct supernet *sn, int train_n, int eval_n,
                               struct mtd_error *err)
{
    if (sn->scratch == NULL) {
        /* Once: it depends on neither batch, and the thread count is set
         * at start (parallel.h). */
        sn->threads = parallel_threads();
        sn->scratch_per_thread = scratch_floats(sn);
        sn->fold_width = floats_whole_lines(fold_floats(sn) / 2);
        sn->scratch = floats_alloc((size_t)sn->threads
                                   * (sn->scratch_per_thread + 2 * sn->fold_width));
        sn->fold = sn->scratch + (size_t)sn->threads * sn->scratch_per_thread;  /* thread 0's */
    }
    train_n = train_n > sn->train_cap ? train_n : sn->train_cap;
    eval_n = eval_n > sn->eval_cap ? eval_n : sn->eval_cap;
    size_t need = act_floats(sn, train_n, eval_n);
    int grow_act = need > sn->act_floats, grow_grad = train_n > sn->grad_cap;
    int grow_logits = eval_n > sn->eval_cap || sn->logits == NULL;
    float *act = grow_act ? floats_alloc(need) : NULL;
    float *dact = grow_grad ? floats_alloc(2 * (size_t)train_n * sn->cell_floats_max) : NULL;
    float *logits = grow_logits ? floats_alloc((size_t)eval_n * (size_t)sn->def.classes + 1)
                                : NULL;
    const int moments_n = train_n > eval_n ? train_n : eval_n;
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
                             train_n > eval_n ? train_n : eval_n);
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
    sn->eval_cap = eval_n;
    return MTD_OK;
}

enum mtd_status supernet_reserve(struct supernet *sn, int n, struct mtd_error *err)
{
    return reserve(sn, n, n, err);
}

enum mtd_status supernet_reserve_eval(struct supernet *sn, int n, struct mtd_error *err)
{
    return reserve(sn, 0, n, err);
}

/* Runs the nodes of r's op on r->input; its output. Interleaved, the
 * global pool writes NCHW, and what follows runs NCHW (r->lanes = 1). */
static const float *run_cell(struct supernet *sn, struct cell_run *r, enum forward_mode mode)
{
    for (int i = 0; i < r->g->nnodes; i++) {
        if (r->g->nodes[i].kind == NODE_POOL && r->lanes > 1) {
            node_forward(sn, r, i, mode);
            r->lanes = 1;
            continue;
        }
        if (!sn->no_fusion && conv_bn_fusable(r->g, i)) {
            if (mode == FORWARD_EVAL)
                conv_bn_eval(sn, r, &r->g->nodes[i], &r->g->nodes[i + 1]);
            else
                conv_bn_train(sn, r, &r->g->nodes[i], &r->g->nodes[i + 1], mode);
            i++;
            continue;
        }
        if (concat_shuffle_fused(sn, r->g, i)) {
            concat_shuffle_run(r, i, 0);
            i++;
            continue;
        }
        node_forward(sn, r, i, mode);
    }
    return slot(r, r->g->out);
}

/* Forward of cell c on x (n images): training in the cell's own region
 * (kept for backward), otherwise in whichever of the two regions at
 * `arena` x is not in; scratch and fold are the running thread's. *lanes:
 * the layout x is in (and then the cell's output is in: run_cell). */
static const float *forward_cell(struct supernet *sn, int c, const float *x, int n,
                                 enum forward_mode mode, float *arena, float *scratch,
                                 float *fold, int *lanes)
{
    struct cell_run r;
    cell_run_init(&r, sn, c, n);
    if (mode != FORWARD_TRAIN)
        r.base = region(sn, arena, in_region0(sn, arena, x, n), n);
    r.input = x;
    r.scratch = scratch;
    r.fold = fold;
    r.lanes = *lanes;
    const float *y = run_cell(sn, &r, mode);
    *lanes = r.lanes;
    return y;
}

const float *cell_forward(struct supernet *sn, int c, const float *x, int n,
                          enum forward_mode mode)
{
    int lanes = 1;
    return forward_cell(sn, c, x, n, mode, sn->act, sn->scratch, sn->fold, &lanes);
}

/* Whether the current arch can be evaluated interleaved: every
 * convolution before the global pool can (conv2d_interleaved_supported),
 * and there is a pool, after which the rest runs NCHW. Off with the
 * fusions (supernet_set_fusion), so that tests compare the two layouts. */
static int interleaved_eval(const struct supernet *sn)
{
    if (sn->no_fusion)
        return 0;
    for (int c = 0; c < sn->ncells; c++) {
        struct cell_run r;
        cell_run_init(&r, sn, c, CONV2D_INTERLEAVED);
        for (int i = 0; i < r.g->nnodes; i++) {
            const struct node *nd = &r.g->nodes[i];
            if (nd->kind == NODE_POOL)
                return 1;
            if (nd->kind == NODE_LINEAR)
                return 0;
            if (nd->kind == NODE_CONV) {
                const struct conv2d_shape s = conv_shape(&r, nd, &sn->params[nd->param]);
                if (!conv2d_interleaved_supported(&s))
                    return 0;
            }
        }
    }
    return 0;
}

/* Whether a calibration batch can run interleaved: the evaluation can,
 * and every BN takes its moments from the convolution before it (the
 * interleaved planes' moments are taken there: conv_forward_run). */
static int interleaved_calib(const struct supernet *sn)
{
    if (!interleaved_eval(sn))
        return 0;
    for (int c = 0; c < sn->ncells; c++) {
        const struct op_graph *g = &sn->cells[c].ops[sn->arch.op[c]];
        for (int i = 0; i < g->nnodes; i++) {
            if (g->nodes[i].kind == NODE_POOL)
                return 1;
            if (g->nodes[i].kind == NODE_BN && (i == 0 || !conv_bn_fusable(g, i - 1)))
                return 0;
        }
    }
    return 1;
}

/* x = images [0, n) of inp (n, C, H, W), whose images are `image` floats
 * apart, in groups of CONV2D_INTERLEAVED, each (C, H, W, 16); the last
 * group's lanes past n are zeros (finite values whose results are never
 * read). */
static void interleave_images(float *x, const float *inp, int n, size_t image)
{
    const int lanes = CONV2D_INTERLEAVED;
    for (int first = 0; first < n; first += lanes) {
        const float *in = inp + (size_t)first * image;
        float *group = x + (size_t)first * image;
        for (size_t q = 0; q < image; q++)
            for (int l = 0; l < lanes; l++)
                group[q * lanes + (size_t)l] = first + l < n ? in[(size_t)l * image + q] : 0.0f;
    }
}

/* The logits of images [first, first + m) of inp, a chunk on the calling
 * thread's regions and scratch: interleaved when `interleaved` (m <=
 * CONV2D_INTERLEAVED), NCHW otherwise; into sn->logits. */
static void forward_chunk(struct supernet *sn, const float *inp, int first, int m,
                          int interleaved, int room)
{
    const int t = omp_get_thread_num();
    const size_t image = (size_t)sn->def.in_c * sn->def.in_h * sn->def.in_w;
    float *arena = sn->act + eval_floats(sn, t, room);
    float *scratch, *fold;
    thread_buffers(sn, t, &scratch, &fold);
    const float *x = inp + (size_t)first * image;
    int n = m, lanes = 1;
    if (interleaved) {
        /* In the second region, where the first cell will not write. */
        float *il = region(sn, arena, 1, CONV2D_INTERLEAVED);
        interleave_images(il, x, m, image);
        x = il;
        n = lanes = CONV2D_INTERLEAVED;
    }
    for (int c = 0; c < sn->ncells; c++)
        x = forward_cell(sn, c, x, n, FORWARD_EVAL, arena, scratch, fold, &lanes);
    assert(lanes == 1);
    memcpy(sn->logits + (size_t)first * sn->def.classes, x,
           (size_t)m * sn->def.classes * sizeof(float));
}

/* Evaluation in chunks: whole groups of CONV2D_INTERLEAVED images
 * interleaved (when the arch allows), the rest in chunks of EVAL_CHUNK;
 * each thread takes whole chunks through every cell in its own pair of
 * regions, then copies the chunk's logits out. A batch of one NCHW chunk
 * runs with the ops' own parallelism instead. */
static const float *forward_eval(struct supernet *sn, const float *inp, int n)
{
    const int groups = interleaved_eval(sn) ? n / CONV2D_INTERLEAVED : 0;
    const int grouped = groups * CONV2D_INTERLEAVED, rest = n - grouped;
    const int chunk = eval_chunk(rest), nchunks = rest ? (rest + chunk - 1) / chunk : 0;
    const int room = eval_chunk_room(n);
    if (groups == 0 && nchunks == 1) {
        const float *x = inp;
        int lanes = 1;
        for (int c = 0; c < sn->ncells; c++)
            x = forward_cell(sn, c, x, n, FORWARD_EVAL, sn->act, sn->scratch, sn->fold, &lanes);
        return x;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < groups + nchunks; k++) {
        if (k < groups) {
            forward_chunk(sn, inp, k * CONV2D_INTERLEAVED, CONV2D_INTERLEAVED, 1, room);
        } else {
            const int first = grouped + (k - groups) * chunk;
            forward_chunk(sn, inp, first, n - first < chunk ? n - first : chunk, 0, room);
        }
    }
    return sn->logits;
}

const float *supernet_forward(struct supernet *sn, const float *inp, int n,
                              enum forward_mode mode)
{
    assert(n >= 1 && n <= (mode == FORWARD_TRAIN ? sn->train_cap : sn->eval_cap));
    assert(mode != FORWARD_CALIB || sn->calib_sum != NULL);
    if (mode == FORWARD_EVAL)
        return forward_eval(sn, inp, n);
    sn->n = n;
    const float *x = inp;
    int lanes = 1, rows = n;
    if (mode == FORWARD_CALIB && interleaved_calib(sn)) {
        /* Whole groups, the last one padded, in the second region (the
         * first cell writes the first). */
        const size_t image = (size_t)sn->def.in_c * sn->def.in_h * sn->def.in_w;
        lanes = CONV2D_INTERLEAVED;
        rows = interleaved_room(n);
        float *il = region(sn, sn->act, 1, rows);
        interleave_images(il, inp, n, image);
        x = il;
    }
    for (int c = 0; c < sn->ncells; c++) {
        if (mode == FORWARD_TRAIN)
            sn->cell_in[c] = x;
        x = forward_cell(sn, c, x, rows, mode, sn->act, sn->scratch, sn->fold, &lanes);
    }
    return x;
}

void supernet_set_fusion(struct supernet *sn, int on)
{
    sn->no_fusion = !on;
}

int supernet_eval_interleaved(const struct supernet *sn)
{
    return interleaved_eval(sn);
}

static size_t slot_floats(const struct cell_run *r, int s)
{
    return (size_t)r->n * (size_t)slot_channels(r, s) * slot_hw(r, s);
}

/* Zeroes the gradients of a cell's own slots that backward adds to, but
 * its output's, which the next cell's backward has filled. */
static void zero_grads(const struct cell_run *r)
{
    for (int s = 1; s < r->g->nslots; s++)
        if (s != r->g->out && !slot_overwritten(r, s))
            floats_zero(dslot(r, s), slot_floats(r, s));
}

void supernet_backward(struct supernet *sn, const float *dlogits)
{
    int n = sn->n;
    assert(n <= sn->grad_cap);
    struct cell_run runs[SPACE_MAX_BLOCKS + 3];
    int owner[SPACE_MAX_BLOCKS + 3];   /* the cell whose slot a cell's
                                          input gradient is; -1: none */
    float *dx = NULL;
    int k = 0, last_owner = -1;
    for (int c = 0; c < sn->ncells; c++) {
        struct cell_run *r = &runs[c];
        cell_run_init(r, sn, c, n);
        r->input = sn->cell_in[c];
        r->dinput = dx;
        owner[c] = last_owner;
        /* Cells with slots of their own alternate regions, so that a
         * cell's gradients never share a region with its input's. */
        if (r->g->nslots > 1) {
            r->dbase = region(sn, sn->dact, k, n);
            k = !k;
            last_owner = c;
        }
        dx = dslot(r, r->g->out);
    }
    const struct cell_run *head = &runs[sn->ncells - 1];
    memcpy(dx, dlogits, (size_t)n * (size_t)head->out * sizeof(float));
    for (int c = sn->ncells - 1; c >= 0; c--) {
        const struct cell_run *r = &runs[c];
        zero_grads(r);
        /* (An identity's input gradient is its output's: already there.) */
        if (owner[c] >= 0 && r->g->out != 0 && !slot_overwritten(r, 0))
            floats_zero(r->dinput, slot_floats(&runs[owner[c]], runs[owner[c]].g->out));
        for (int i = r->g->nnodes - 1; i >= 0; i--) {
            if (i > 0 && concat_shuffle_fused(sn, r->g, i - 1)) {
                concat_shuffle_run(r, i - 1, 1);
                i--;
                continue;
            }
            node_backward(sn, r, i);
        }
    }
}

void supernet_sgd_step(struct supernet *sn, const struct sgd_config *cfg, int decay_norm_and_bias)
{
    for (int p = 0; p < sn->nparams; p++) {
        const struct param_info *info = &sn->params[p];
        int *t = sn->touched + sn->touched_offset[p];
        int decay = info->decay || decay_norm_and_bias;
        /* Touched regions are unions of leading blocks: a staircase of
         * rows, stepped a run of equal widths at a time. */
        for (int r0 = 0; r0 < info->rows && t[r0] > 0;) {
            int r1 = r0 + 1;
            while (r1 < info->rows && t[r1] == t[r0])
                r1++;
            size_t at = info->offset + (size_t)r0 * (size_t)info->cols;
            sgd_step(sn->weights + at, sn->grads + at, sn->velocity + at, r1 - r0, t[r0],
                     info->cols, cfg, decay);
            for (int r = r0; r < r1; r++)
                memset(sn->grads + info->offset + (size_t)r * (size_t)info->cols, 0,
                       (size_t)t[r0] * sizeof(float));
            r0 = r1;
        }
        memset(t, 0, (size_t)info->rows * sizeof *t);
    }
}

enum mtd_status supernet_calib_begin(struct supernet *sn, struct mtd_error *err)
{
    if (sn->calib_sum == NULL) {
        sn->calib_sum = calloc(sn->nstats + 1, sizeof *sn->calib_sum);
        sn->calib_count = calloc(sn->nstats + 1, sizeof *sn->calib_count);
        if (!sn->calib_sum || !sn->calib_count) {
            supernet_calib_free(sn);
            return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for BN calibration");
        }
    }
    memset(sn->calib_sum, 0, sn->nstats * sizeof *sn->calib_sum);
    memset(sn->calib_count, 0, sn->nstats * sizeof *sn->calib_count);
    return MTD_OK;
}

void supernet_calib_finish(struct supernet *sn)
{
    int set = sn->arch.bn_set;
    for (int c = 0; c < sn->ncells; c++) {
        struct cell_run r;
        cell_run_init(&r, sn, c, 1);
        for (int i = 0; i < r.g->nnodes; i++) {
            const struct node *nd = &r.g->nodes[i];
            if (nd->kind != NODE_BN || sn->calib_count[nd->stat] == 0)
                continue;
            struct bn_calib calib = {.mean = sn->calib_sum + nd->stat,
                                     .m2 = sn->calib_sum + nd->stat + sn->params[nd->param].cols,
                                     .count = sn->calib_count[nd->stat]};
            batchnorm_calib_finalize(buffer_ptr(sn, nd->buffer + 2 * set),
                                     buffer_ptr(sn, nd->buffer + 2 * set + 1), &calib,
                                     slot_channels(&r, nd->dst));
        }
    }
}

void supernet_calib_free(struct supernet *sn)
{
    free(sn->calib_sum);
    free(sn->calib_count);
    sn->calib_sum = NULL;
    sn->calib_count = NULL;
}
