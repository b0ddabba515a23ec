/*
 * node_forward.c - forward of one node of a cell, or of a fused pair
 * (fusion.c), in training, calibration or evaluation mode, NCHW or in
 * interleaved groups of images.
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "activation.h"
#include "cell_run.h"
#include "channel.h"
#include "conv2d.h"
#include "linear.h"
#include "parallel.h"
#include "pool.h"

/* A convolution's input: its slot, or where it reads it through
 * (split_second_read_through), with the floats between images in
 * s->in_image. */
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

struct conv2d_epilogue bn_train_map(const struct supernet *sn, const struct cell_run *r,
                                    const struct node *bn)
{
    const int set = r->arch->bn_set;
    batchnorm_train_map(r->fold, r->fold + sn->fold_width,
                        param_ptr(sn, sn->weights, bn->param + 2 * set),
                        param_ptr(sn, sn->weights, bn->param + 2 * set + 1), bn_mean(sn, bn),
                        bn_var(sn, bn), (float)sn->def.bn_eps, slot_channels(r, bn->dst));
    return (struct conv2d_epilogue){r->fold, r->fold + sn->fold_width, bn->relu, NULL, NULL};
}

/* A BN node on its input slot, or in training and calibration on `inp`
 * (which may be its output) with its planes' moments taken by the
 * producer when moments is not NULL. */
static void bn_forward_on(struct supernet *sn, struct cell_run *r, const struct node *nd,
                          enum forward_mode mode, const float *inp, const double *moments)
{
    int set = r->arch->bn_set;
    struct bn_shape s = {.n = run_images(r), .c = slot_channels(r, nd->dst),
                         .hw = (int)run_plane(r, nd->dst), .relu = nd->relu};
    const float *gamma = param_ptr(sn, sn->weights, nd->param + 2 * set);
    const float *beta = param_ptr(sn, sn->weights, nd->param + 2 * set + 1);
    float *rmean = run_bn_buffer(sn, r, nd, 0);
    float *rvar = run_bn_buffer(sn, r, nd, 1);
    float eps = (float)sn->def.bn_eps;
    float *out = slot_mut(r, nd->dst);
    long count = (long)s.n * s.hw;
    if (mode == FORWARD_EVAL) {
        batchnorm_forward_eval(out, inp, gamma, beta, rmean, rvar, eps, &s);
    } else {
        float *mean = bn_mean(sn, nd), *var = bn_var(sn, nd);
        const int i = (int)(nd - r->g->nodes);
        const int deferred = bn_deferred(sn, r, i, mode);
        if (r->lanes > 1 || deferred) {
            /* The statistics of the batch's images from their planes'
             * moments (interleaved calibration: sn->n of them, whose
             * planes are interleaved in the groups); the map on the
             * planes, or left to the reader (bn_deferred). */
            assert(moments != NULL && (r->lanes == 1 || mode == FORWARD_CALIB));
            const struct bn_shape images = {.n = r->lanes > 1 ? sn->n : s.n, .c = s.c,
                                            .hw = (int)slot_hw(r, nd->dst)};
            count = (long)images.n * images.hw;
            batchnorm_moments_stats(mean, var, moments, &images);
            if (deferred) {
                r->map = bn_train_map(sn, r, nd);
                r->map_node = i + 1;
                r->map_input = inp;
            } else {
                batchnorm_train_apply(out, inp, gamma, beta, mean, var, eps, &s);
            }
        } else if (moments)
            batchnorm_forward_train_moments(out, mean, var, inp, moments, gamma, beta, eps, &s);
        else
            batchnorm_forward_train(out, mean, var, inp, gamma, beta, eps, &s);
        if (mode == FORWARD_TRAIN) {
            batchnorm_running_update(rmean, rvar, mean, var, s.c, count,
                                     (float)sn->def.bn_momentum);
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
    struct conv2d_shape s = cell_conv_shape(r, conv, w);
    /* Through a BN's map left to it (bn_deferred), from the BN's input:
     * the depthwise kernel and a dense convolution in NCHW map it as they
     * read it, an interleaved dense one in place, a group at a time. */
    const int mapped = r->map.scale != NULL && conv == &r->g->nodes[r->map_node];
    const float *x = mapped ? r->map_input : conv_input(sn, r, conv, mode, &s);
    const float *weight = sn->weights + w->offset + (size_t)row0 * (size_t)w->cols;
    struct conv2d_epilogue rows_ep;
    if (row0 > 0) {
        assert(ep != NULL && ep->scale != NULL && ep->moments == NULL && ep->pool == NULL);
        rows_ep = (struct conv2d_epilogue){ep->scale + row0, ep->shift + row0, ep->relu, NULL,
                                           NULL};
        ep = &rows_ep;
    }
    assert(row0 + rows <= s.cout && (row0 == 0 || s.groups == 1));
    s.cout = rows;
    s.out_channel = out_channel;
    const int in_place = mapped && !conv->depthwise && r->lanes > 1;
    s.in_map = mapped && !in_place ? &r->map : NULL;
    if (r->lanes > 1) {
        const size_t in_group = conv2d_in_image(&s) * (size_t)r->lanes;
        PARALLEL_RANGES((size_t)run_images(r), 1, interleaved_groups, out, x, weight, &s,
                        in_group, r->scratch, sn->scratch_per_thread, ep, sn->n,
                        in_place ? &r->map : NULL);
    } else {
        assert(out_channel == 0);
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

void node_forward(struct supernet *sn, struct cell_run *r, int i,
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

/* The evaluation-mode BN folded into the convolution before it: its
 * scale and shift in r->fold. */
static struct conv2d_epilogue bn_fold(struct supernet *sn, struct cell_run *r,
                                      const struct node *conv, const struct node *bn)
{
    const int cout = width_eval(conv->b, r->in, r->out, r->mid);
    int set = r->arch->bn_set;
    float *scale = r->fold, *shift = r->fold + sn->fold_width;
    batchnorm_eval_affine(scale, shift, param_ptr(sn, sn->weights, bn->param + 2 * set),
                          param_ptr(sn, sn->weights, bn->param + 2 * set + 1),
                          run_bn_buffer(sn, r, bn, 0), run_bn_buffer(sn, r, bn, 1),
                          (float)sn->def.bn_eps, cout);
    return (struct conv2d_epilogue){scale, shift, bn->relu, NULL, NULL};
}

void conv_bn_pool_eval(struct supernet *sn, struct cell_run *r, int i, float *pooled)
{
    const struct node *conv = &r->g->nodes[i], *bn = &r->g->nodes[i + 1];
    assert(run_images(r) == 1 && r->lanes == CONV2D_INTERLEAVED && !conv->depthwise);
    const int c = slot_channels(r, bn->dst), hw = (int)slot_hw(r, bn->dst);
    assert(hw * sizeof(float) >= sizeof(double));   /* room for the sums */
    /* The sums where the BN's output would be: nothing else reads it. */
    double *sums = (double *)slot_mut(r, bn->dst);
    memset(sums, 0, (size_t)c * CONV2D_INTERLEAVED * sizeof *sums);
    struct conv2d_epilogue ep = bn_fold(sn, r, conv, bn);
    ep.pool = sums;
    conv_forward_run(sn, r, conv, slot_mut(r, bn->dst), FORWARD_EVAL, &ep);
    for (int ch = 0; ch < c; ch++)
        global_avgpool_lane_means(pooled + ch, sums + (size_t)ch * CONV2D_INTERLEAVED, c, hw,
                                  CONV2D_INTERLEAVED);
}

void conv_bn_eval(struct supernet *sn, struct cell_run *r, const struct node *conv,
                  const struct node *bn)
{
    struct conv2d_epilogue ep = bn_fold(sn, r, conv, bn);
    const int c = shuffle_write_through(sn, r, (int)(conv - r->g->nodes));
    if (c >= 0)
        conv_bn_write_through(sn, r, c, conv, &ep);
    else
        conv_forward_run(sn, r, conv, slot_mut(r, bn->dst), FORWARD_EVAL, &ep);
}

/* In training and calibration a convolution takes the moments of its
 * output planes for the BN after it as it writes them (in cache), so that
 * the BN's only pass is its affine map, and none when it leaves the map
 * to its reader (bn_deferred). Calibration keeps no BN input for a
 * backward pass: the convolution writes straight into the BN's slot and
 * the BN works in place there. Same bits as the two nodes run apart. */
void conv_bn_train(struct supernet *sn, struct cell_run *r, const struct node *conv,
                   const struct node *bn, enum forward_mode mode)
{
    assert(width_eval(conv->b, r->in, r->out, r->mid) == slot_channels(r, bn->dst));
    assert((r->lanes > 1 ? sn->n : r->n) <= sn->moments_cap);
    float *y = slot_mut(r, mode == FORWARD_CALIB ? bn->dst : conv->dst);
    struct conv2d_epilogue ep = {.moments = sn->moments};
    conv_forward_run(sn, r, conv, y, mode, &ep);
    bn_forward_on(sn, r, bn, mode, y, sn->moments);
}

/* The fused concat and shuffle at nodes i, i + 1 (concat_shuffle_fused),
 * forward: b through a batch norm's map left to this copy (bn_deferred),
 * or already in place (shuffle_write_through). */
void concat_shuffle_forward_run(const struct cell_run *r, int i)
{
    const struct concat_shuffle_parts p = concat_shuffle_parts(r, i);
    const struct node *cat = &r->g->nodes[i], *shf = &r->g->nodes[i + 1];
    const int mapped = r->map.scale != NULL && r->map_node == i;
    const struct channel_map b_map = {r->map.scale, r->map.shift, r->map.relu};
    const float *b = r->placed == i + 1 ? NULL : mapped ? r->map_input : slot(r, cat->src2);
    concat_shuffle_forward_mapped(slot_mut(r, shf->dst), slot(r, p.a), p.a_c, p.ca, b, p.cb,
                                  mapped ? &b_map : NULL, run_images(r), p.hw, 2);
}
