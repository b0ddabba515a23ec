/*
 * backward.c - backward of the current arch into the gradient arena, and
 * the SGD step on the weights that received a gradient.
 */
#include <assert.h>
#include <string.h>

#include "alloc.h"
#include "cell_run.h"
#include "channel.h"
#include "conv2d.h"
#include "linear.h"
#include "pool.h"
#include "sgd.h"

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

/* The fused concat and shuffle at nodes i, i + 1 (concat_shuffle_fused),
 * backward. The first part's gradient goes where it would have ended: the
 * split's input gradient, written if the split would have written it (it
 * is that slot's first writer, and backward reaches us first). */
static void concat_shuffle_backward_run(const struct cell_run *r, int i)
{
    assert(r->lanes == 1);
    const struct concat_shuffle_parts p = concat_shuffle_parts(r, i);
    const struct node *cat = &r->g->nodes[i], *shf = &r->g->nodes[i + 1];
    const int accumulate_a =
        p.split >= 0 ? !overwrites(r, p.split, p.a) : !overwrites(r, i, cat->src);
    concat_shuffle_backward(dslot(r, p.a), p.a_c, dslot(r, cat->src2), dslot(r, shf->dst), p.ca,
                            p.cb, r->n, p.hw, 2, accumulate_a, !overwrites(r, i, cat->src2));
}

/* BN node i's backward; with `map`, only its sums (dgamma, dbeta and
 * the coefficients of its input gradient, batchnorm_backward_sums), and
 * *map then says how a reader computes that gradient an image at a time. */
static void bn_backward(struct supernet *sn, const struct cell_run *r, int i,
                        struct bn_backward_map *map)
{
    const struct node *nd = &r->g->nodes[i];
    int set = r->arch->bn_set;
    struct bn_shape s = {.n = r->n, .c = slot_channels(r, nd->dst), .hw = (int)slot_hw(r, nd->dst),
                         .relu = nd->relu, .overwrite = overwrites(r, i, nd->src)};
    int pg = nd->param + 2 * set;
    const float *gamma = param_ptr(sn, sn->weights, pg), *beta = param_ptr(sn, sn->weights, pg + 1);
    const float eps = (float)sn->def.bn_eps;
    float *dgamma = param_ptr(sn, sn->grads, pg), *dbeta = param_ptr(sn, sn->grads, pg + 1);
    /* (The forward's moments are merged by now: their room holds the
     * sums of the backward's planes.) */
    assert(r->n <= sn->moments_cap && (size_t)s.c <= sn->fold_width);
    if (map) {
        batchnorm_backward_sums(sn->bn_coef, sn->moments, dgamma, dbeta, dslot(r, nd->dst),
                                slot(r, nd->src), gamma, beta, bn_mean(sn, nd), bn_var(sn, nd),
                                eps, &s);
        *map = (struct bn_backward_map){sn->bn_coef, bn_mean(sn, nd), s.c, s.hw, s.relu};
    } else {
        batchnorm_backward(dslot(r, nd->src), dgamma, dbeta, sn->bn_coef, sn->moments,
                           dslot(r, nd->dst), slot(r, nd->src), gamma, beta, bn_mean(sn, nd),
                           bn_var(sn, nd), eps, &s);
    }
    touch(sn, pg, 1, s.c);
    touch(sn, pg + 1, 1, s.c);
}

/* Convolution node i's backward; with `bn` (the BN after it, whose sums
 * are taken: bn_backward), its output gradient an image at a time from
 * that BN's output gradient, never stored. */
static void conv_backward(struct supernet *sn, const struct cell_run *r, int i,
                          const struct bn_backward_map *bn)
{
    const struct node *nd = &r->g->nodes[i];
    const struct param_info *w = &sn->params[nd->param];
    struct conv2d_shape s = cell_conv_shape(r, nd, w);
    s.overwrite = overwrites(r, i, nd->src);
    /* The forward read its input through the BN before it (a map left
     * to it: bn_deferred), whose output was never stored: the same
     * map, on the BN's input. */
    const float *inp = slot(r, nd->src);
    struct conv2d_epilogue map;
    if (i > 0 && bn_deferred(sn, r, i - 1, FORWARD_TRAIN)) {
        map = bn_train_map(sn, r, &r->g->nodes[i - 1]);
        s.in_map = &map;
        inp = slot(r, r->g->nodes[i - 1].src);
    }
    const float *dout = dslot(r, nd->dst);
    if (bn) {
        s.dout_bn = bn;
        s.dout_bn_in = slot(r, nd->dst);
        dout = dslot(r, r->g->nodes[i + 1].dst);
    }
    conv2d_backward(dslot(r, nd->src), sn->grads + w->offset, dout, inp,
                    sn->weights + w->offset, &s, r->scratch);
    touch(sn, nd->param, s.cout, (s.cin / s.groups) * s.k * s.k);
}

/* Whether the BN at i + 1 hands its input gradient to convolution node i
 * an image at a time (conv_backward), the only reader of that gradient's
 * slot, instead of writing it for the whole batch. */
static int conv_bn_backward_fused(const struct supernet *sn, const struct cell_run *r, int i)
{
    if (sn->no_fusion || !conv_bn_fusable(r->g, i))
        return 0;
    const struct node *conv = &r->g->nodes[i];
    const struct conv2d_shape s = cell_conv_shape(r, conv, &sn->params[conv->param]);
    return conv2d_maps_input(&s);
}

static void node_backward(struct supernet *sn, const struct cell_run *r, int i)
{
    const struct node *nd = &r->g->nodes[i];
    int n = r->n;
    int hw = (int)slot_hw(r, nd->src);
    int ca = width_eval(nd->a, r->in, r->out, r->mid);
    switch (nd->kind) {
    case NODE_CONV:
        conv_backward(sn, r, i, NULL);
        break;
    case NODE_BN:
        bn_backward(sn, r, i, NULL);
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
                concat_shuffle_backward_run(r, i - 1);
                i--;
                continue;
            }
            if (i > 0 && conv_bn_backward_fused(sn, r, i - 1)) {
                struct bn_backward_map bn;
                bn_backward(sn, r, i, &bn);
                conv_backward(sn, r, i - 1, &bn);
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
