/*
 * forward.c - running the current arch on a batch: cell after cell in
 * training and calibration, in chunks on every thread in evaluation
 * (interleaved groups of images where the arch allows). The layout of
 * activations is described in cell_run.h.
 */
#include <assert.h>
#include <omp.h>
#include <string.h>

#include "cell_run.h"
#include "conv2d.h"

/* Runs nodes [first, end) of r's op on r->input (no fused pair straddles
 * end). Interleaved, the global pool writes NCHW, and what follows runs
 * NCHW (r->lanes = 1). */
static void run_nodes(struct supernet *sn, struct cell_run *r, int first, int end,
                      enum forward_mode mode)
{
    for (int i = first; i < end; i++) {
        if (r->g->nodes[i].kind == NODE_POOL && r->lanes > 1) {
            node_forward(sn, r, i, mode);
            r->lanes = 1;
            continue;
        }
        if (!sn->no_fusion && conv_bn_fusable(r->g, i)) {
            assert(i + 1 < end);
            if (mode == FORWARD_EVAL)
                conv_bn_eval(sn, r, &r->g->nodes[i], &r->g->nodes[i + 1]);
            else
                conv_bn_train(sn, r, &r->g->nodes[i], &r->g->nodes[i + 1], mode);
            i++;
            continue;
        }
        if (concat_shuffle_fused(sn, r->g, i)) {
            assert(i + 1 < end);
            concat_shuffle_forward_run(r, i);
            i++;
            continue;
        }
        node_forward(sn, r, i, mode);
    }
}

/* Runs the nodes of r's op on r->input; its output. */
static const float *run_cell(struct supernet *sn, struct cell_run *r, enum forward_mode mode)
{
    run_nodes(sn, r, 0, r->g->nnodes, mode);
    return slot(r, r->g->out);
}

/* r for cell c of p's arch on x (n images, in the layout of `lanes`):
 * training in the cell's own region (kept for backward), otherwise in
 * whichever of the two regions at `arena` x is not in; scratch and fold
 * are the running thread's. */
static void cell_run_on(struct cell_run *r, struct supernet *sn, const struct eval_path *p,
                        int c, const float *x, int n, enum forward_mode mode, float *arena,
                        float *scratch, float *fold, int lanes)
{
    cell_run_init_arch(r, sn, p->arch, p->bufvals, c, n);
    if (mode != FORWARD_TRAIN)
        r->base = region(sn, arena, in_region0(sn, arena, x, n), n);
    r->input = x;
    r->scratch = scratch;
    r->fold = fold;
    r->lanes = lanes;
}

/* Forward of cell c on x (cell_run_on); *lanes: the layout x is in, and
 * then the cell's output is in (run_cell). */
static const float *forward_cell(struct supernet *sn, const struct eval_path *p, int c,
                                 const float *x, int n, enum forward_mode mode, float *arena,
                                 float *scratch, float *fold, int *lanes)
{
    struct cell_run r;
    cell_run_on(&r, sn, p, c, x, n, mode, arena, scratch, fold, *lanes);
    const float *y = run_cell(sn, &r, mode);
    *lanes = r.lanes;
    return y;
}

/* Whether, interleaved, cell c's output is made by a dense convolution
 * and BN (its last two nodes) and read only by the global pool that opens
 * cell c + 1 (the last cell and the head): the pool is then taken in the
 * convolution's epilogue (conv_bn_pool_eval), and that output, the
 * network's widest, is never stored nor read back. Its slot holds the
 * pool's sums instead, two floats' room a channel and image: planes of
 * one pixel are left to the pool. */
static int pool_opens_next(const struct supernet *sn, const struct arch *arch, int c, int lanes)
{
    if (lanes == 1 || sn->no_fusion || c + 1 >= sn->ncells)
        return 0;
    const struct op_graph *g = &sn->cells[c].ops[arch->op[c]];
    const struct op_graph *h = &sn->cells[c + 1].ops[arch->op[c + 1]];
    const int i = g->nnodes - 2;
    const struct slot *out = &g->slots[g->out];
    return i >= 0 && out->h * out->w >= 2 && conv_bn_fusable(g, i) && !g->nodes[i].depthwise &&
           g->nodes[i + 1].dst == g->out && h->nnodes >= 1 && h->nodes[0].kind == NODE_POOL &&
           h->nodes[0].src == 0 && slot_readers(h, 0) == 1;
}

/* Cells c and c + 1 on an interleaved group x when pool_opens_next: cell
 * c but its last two nodes, those two into cell c + 1's pool output, then
 * the rest of cell c + 1, NCHW; its output. The regions are those
 * forward_cell would take. */
static const float *forward_pooled(struct supernet *sn, const struct eval_path *p, int c,
                                   const float *x, int n, float *arena, float *scratch,
                                   float *fold)
{
    struct cell_run r, h;
    cell_run_on(&r, sn, p, c, x, n, FORWARD_EVAL, arena, scratch, fold, CONV2D_INTERLEAVED);
    run_nodes(sn, &r, 0, r.g->nnodes - 2, FORWARD_EVAL);
    const float *y = slot(&r, r.g->out);   /* never written but by the pool's sums */
    cell_run_on(&h, sn, p, c + 1, y, n, FORWARD_EVAL, arena, scratch, fold, 1);
    conv_bn_pool_eval(sn, &r, r.g->nnodes - 2, slot_mut(&h, h.g->nodes[0].dst));
    run_nodes(sn, &h, 1, h.g->nnodes, FORWARD_EVAL);
    return slot(&h, h.g->out);
}

/* Cells [first, end) of p's arch on x in evaluation or calibration, in
 * the two regions at `arena` (a pool taken in the convolution before it
 * when both cells are in the range); *lanes as forward_cell. */
static const float *run_cells(struct supernet *sn, const struct eval_path *p, int first, int end,
                              const float *x, int n, enum forward_mode mode, float *arena,
                              float *scratch, float *fold, int *lanes)
{
    for (int c = first; c < end; c++) {
        if (mode == FORWARD_EVAL && c + 1 < end && pool_opens_next(sn, p->arch, c, *lanes)) {
            x = forward_pooled(sn, p, c, x, n, arena, scratch, fold);
            *lanes = 1;
            c++;
            continue;
        }
        x = forward_cell(sn, p, c, x, n, mode, arena, scratch, fold, lanes);
    }
    return x;
}

/* The path of the supernet's own arch and statistics. */
static struct eval_path own_path(struct supernet *sn)
{
    return (struct eval_path){&sn->arch, sn->bufvals};
}

const float *cell_forward(struct supernet *sn, int c, const float *x, int n,
                          enum forward_mode mode)
{
    int lanes = 1;
    const struct eval_path p = own_path(sn);
    return forward_cell(sn, &p, c, x, n, mode, sn->act, sn->scratch, sn->fold, &lanes);
}

/* Whether arch can be evaluated interleaved: every convolution before
 * the global pool can (conv2d_interleaved_supported), and there is a
 * pool, after which the rest runs NCHW. Off with the fusions
 * (supernet_set_fusion), so that tests compare the two layouts. */
static int interleaved_eval(const struct supernet *sn, const struct arch *arch)
{
    if (sn->no_fusion)
        return 0;
    for (int c = 0; c < sn->ncells; c++) {
        struct cell_run r;
        cell_run_init_arch(&r, sn, arch, sn->bufvals, c, CONV2D_INTERLEAVED);
        for (int i = 0; i < r.g->nnodes; i++) {
            const struct node *nd = &r.g->nodes[i];
            if (nd->kind == NODE_POOL)
                return 1;
            if (nd->kind == NODE_LINEAR)
                return 0;
            if (nd->kind == NODE_CONV) {
                const struct conv2d_shape s = cell_conv_shape(&r, nd, &sn->params[nd->param]);
                if (!conv2d_interleaved_supported(&s))
                    return 0;
            }
        }
    }
    return 0;
}

/* Whether a calibration batch of arch can run interleaved: the evaluation
 * can, and every BN takes its moments from the convolution before it (the
 * interleaved planes' moments are taken there: conv_forward_run). */
static int interleaved_calib(const struct supernet *sn, const struct arch *arch)
{
    if (!interleaved_eval(sn, arch))
        return 0;
    for (int c = 0; c < sn->ncells; c++) {
        const struct op_graph *g = &sn->cells[c].ops[arch->op[c]];
        for (int i = 0; i < g->nnodes; i++) {
            if (g->nodes[i].kind == NODE_POOL)
                return 1;
            if (g->nodes[i].kind == NODE_BN && (i == 0 || !conv_bn_fusable(g, i - 1)))
                return 0;
        }
    }
    return 1;
}

int forward_layouts(const struct supernet *sn, const struct arch *arch)
{
    return interleaved_eval(sn, arch) + interleaved_calib(sn, arch);
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

size_t cell_output_floats(const struct supernet *sn, const struct arch *arch, int c, int rows)
{
    struct cell_run r;
    cell_run_init_arch(&r, sn, arch, sn->bufvals, c, rows);
    return (size_t)rows * (size_t)slot_channels(&r, r.g->out) * slot_hw(&r, r.g->out);
}

/* Images [first, first + m) of inp as a chunk takes them: interleaved
 * in the second region at `arena` when `interleaved` (where the first
 * cell will not write), else in place; *n, *lanes: its rows and layout. */
static const float *chunk_input(const struct supernet *sn, float *arena, const float *inp,
                                int first, int m, int interleaved, int *n, int *lanes)
{
    const size_t image = (size_t)sn->def.in_c * sn->def.in_h * sn->def.in_w;
    const float *x = inp + (size_t)first * image;
    *n = m;
    *lanes = 1;
    if (!interleaved)
        return x;
    float *il = region(sn, arena, 1, CONV2D_INTERLEAVED);
    interleave_images(il, x, m, image);
    *n = *lanes = CONV2D_INTERLEAVED;
    return il;
}

const float *walk_member(struct supernet *sn, const struct eval_path *p,
                         const struct member_walk *w, const float *x, int n,
                         enum forward_mode mode, float *arena, int room, float *scratch,
                         float *fold, int *lanes, int *lanes_at)
{
    int depth = w->from;
    for (int i = 0; i <= w->nsaves; i++) {
        const int end = i < w->nsaves ? w->save_depth[i] : sn->ncells;
        x = run_cells(sn, p, depth, end, x, n, mode, arena, scratch, fold, lanes);
        depth = end;
        if (i < w->nsaves) {
            float *kept = stash(sn, arena, room, w->save_level + i);
            memcpy(kept, x, cell_output_floats(sn, p->arch, end - 1, n) * sizeof *kept);
            lanes_at[w->save_level + i] = *lanes;
            x = kept;
        }
    }
    return x;
}

/* The logits of images [first, first + m) of inp under each of paths[0,
 * k) as walks[0, k) say (a single path: all of it), a chunk on the
 * calling thread's regions, stash and scratch: interleaved when
 * `interleaved` (m <= CONV2D_INTERLEAVED), NCHW otherwise; path j's into
 * logits + j * stride. */
static void forward_chunk(struct supernet *sn, const struct eval_path *paths,
                          const struct member_walk *walks, int k, const float *inp, int first,
                          int m, int interleaved, int room, float *logits, size_t stride)
{
    const int t = omp_get_thread_num();
    float *arena = sn->act + eval_floats(sn, t, room);
    float *scratch, *fold;
    thread_buffers(sn, t, &scratch, &fold);
    const struct member_walk whole = {0, -1, 0, 0, {0}};
    const size_t classes = (size_t)sn->def.classes;
    int lanes_at[STASH_LEVELS] = {0};
    for (int j = 0; j < k; j++) {
        const struct member_walk *w = walks ? &walks[j] : &whole;
        int n = m, lanes = 1;
        const float *x;
        if (w->level < 0) {
            x = chunk_input(sn, arena, inp, first, m, interleaved, &n, &lanes);
        } else {
            x = stash(sn, arena, room, w->level);
            lanes = lanes_at[w->level];
            n = interleaved ? CONV2D_INTERLEAVED : m;
        }
        x = walk_member(sn, &paths[j], w, x, n, FORWARD_EVAL, arena, room, scratch, fold, &lanes,
                        lanes_at);
        assert(lanes == 1);
        memcpy(logits + j * stride + (size_t)first * classes, x, (size_t)m * classes * sizeof *x);
    }
}

void forward_eval_paths(struct supernet *sn, const struct eval_path *paths,
                        const struct member_walk *walks, int k, const float *inp, int n,
                        float *logits, size_t stride)
{
    const int groups = interleaved_eval(sn, paths[0].arch) ? n / CONV2D_INTERLEAVED : 0;
    const int grouped = groups * CONV2D_INTERLEAVED, rest = n - grouped;
    const int chunk = eval_chunk(rest), nchunks = rest ? (rest + chunk - 1) / chunk : 0;
    const int room = eval_chunk_room(n);
#pragma omp parallel for schedule(dynamic, 1)
    for (int q = 0; q < groups + nchunks; q++) {
        if (q < groups) {
            forward_chunk(sn, paths, walks, k, inp, q * CONV2D_INTERLEAVED, CONV2D_INTERLEAVED,
                          1, room, logits, stride);
        } else {
            const int first = grouped + (q - groups) * chunk;
            forward_chunk(sn, paths, walks, k, inp, first,
                          n - first < chunk ? n - first : chunk, 0, room, logits, stride);
        }
    }
}

/* Evaluation of the supernet's arch in chunks: whole groups of
 * CONV2D_INTERLEAVED images interleaved (when the arch allows), the rest
 * in chunks of EVAL_CHUNK; each thread takes whole chunks through every
 * cell in its own pair of regions, then copies the chunk's logits out. A
 * batch of one NCHW chunk runs with the ops' own parallelism instead. */
static const float *forward_eval(struct supernet *sn, const float *inp, int n)
{
    const struct eval_path own = own_path(sn);
    if (n <= EVAL_CHUNK) {
        int lanes = 1;
        return run_cells(sn, &own, 0, sn->ncells, inp, n, FORWARD_EVAL, sn->act, sn->scratch,
                         sn->fold, &lanes);
    }
    forward_eval_paths(sn, &own, NULL, 1, inp, n, sn->logits, 0);
    return sn->logits;
}

const float *forward_calib_input(struct supernet *sn, const struct arch *arch,
                                 const float *images, int n, int *lanes)
{
    sn->n = n;
    *lanes = 1;
    if (!interleaved_calib(sn, arch))
        return images;
    /* Whole groups, the last one padded, in the second region (the first
     * cell writes the first). */
    const size_t image = (size_t)sn->def.in_c * sn->def.in_h * sn->def.in_w;
    float *il = region(sn, sn->act, 1, interleaved_room(n));
    interleave_images(il, images, n, image);
    *lanes = CONV2D_INTERLEAVED;
    return il;
}

const float *supernet_forward(struct supernet *sn, const float *inp, int n,
                              enum forward_mode mode)
{
    assert(n >= 1 && n <= (mode == FORWARD_TRAIN   ? sn->train_cap
                           : mode == FORWARD_CALIB ? sn->calib_cap
                                                   : sn->eval_cap));
    assert(mode != FORWARD_CALIB || sn->calib_sum != NULL);
    const struct eval_path own = own_path(sn);
    if (mode == FORWARD_EVAL)
        return forward_eval(sn, inp, n);
    int lanes = 1;
    if (mode == FORWARD_CALIB) {
        const float *x = forward_calib_input(sn, &sn->arch, inp, n, &lanes);
        return run_cells(sn, &own, 0, sn->ncells, x, lanes > 1 ? interleaved_room(n) : n,
                         FORWARD_CALIB, sn->act, sn->scratch, sn->fold, &lanes);
    }
    sn->n = n;
    const float *x = inp;
    for (int c = 0; c < sn->ncells; c++) {
        sn->cell_in[c] = x;
        x = forward_cell(sn, &own, c, x, n, mode, sn->act, sn->scratch, sn->fold, &lanes);
    }
    return x;
}

void supernet_set_fusion(struct supernet *sn, int on)
{
    sn->no_fusion = !on;
}

int supernet_eval_interleaved(const struct supernet *sn)
{
    return interleaved_eval(sn, &sn->arch);
}
