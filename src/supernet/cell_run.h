/*
 * cell_run.h - running one cell of the supernet's current arch, shared by
 * the files that do it (cell_run.c, forward.c, node_forward.c, backward.c,
 * fusion.c, activations.c, calibration.c) and by nothing else.
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
#ifndef MUTATORD_SUPERNET_CELL_RUN_H
#define MUTATORD_SUPERNET_CELL_RUN_H

#include <assert.h>
#include <stdint.h>

#include "conv2d.h"
#include "graph.h"

/* The widths of the chosen op of one cell and where its tensors are. */
struct cell_run {
    const struct cell *cell;
    const struct op_graph *g;
    const struct arch *arch;       /* the arch it runs (the supernet's, or
                                      a group member's: group.c) */
    float *bufvals;                /* the BN running statistics it reads
                                      and calibration writes */
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
    int map_node;                  /* the node that reads its input through
                                      `map` (a batch norm's map left to its
                                      reader: bn_deferred) */
    struct conv2d_epilogue map;    /* its scale and shift in `fold`; none
                                      while map.scale is NULL */
    const float *map_input;        /* what `map` maps: the BN's input (in
                                      calibration in place in its output's
                                      slot; in training the convolution's,
                                      which backward reads) */
    int placed;                    /* 1 + the fused concat whose second part
                                      its producer wrote in place
                                      (shuffle_write_through); 0: none */
};


static inline int slot_channels(const struct cell_run *r, int s)
{
    return width_eval(r->g->slots[s].c, r->in, r->out, r->mid);
}

static inline size_t slot_hw(const struct cell_run *r, int s)
{
    return (size_t)r->g->slots[s].h * (size_t)r->g->slots[s].w;
}

/* The images and the floats of a channel's plane that a channel move or
 * an elementwise op sees: interleaved, one image of planes n times as long
 * (whole planes are what they move). */
static inline int run_images(const struct cell_run *r)
{
    return r->n / r->lanes;
}

static inline size_t run_plane(const struct cell_run *r, int s)
{
    return slot_hw(r, s) * (size_t)r->lanes;
}

static inline const float *slot(const struct cell_run *r, int s)
{
    return s == 0 ? r->input : r->base + (size_t)r->n * r->g->slot_offset[s];
}

static inline float *slot_mut(const struct cell_run *r, int s)
{
    assert(s > 0);
    return r->base + (size_t)r->n * r->g->slot_offset[s];
}

static inline float *dslot(const struct cell_run *r, int s)
{
    return s == 0 ? r->dinput : r->dbase + (size_t)r->n * r->g->slot_offset[s];
}

/* Region k (0 or 1) of a two-region arena for batches of n. */
static inline float *region(const struct supernet *sn, float *arena, int k, int n)
{
    return arena + (size_t)k * (size_t)n * sn->cell_floats_max;
}

/* Whether p points into region 0 of arena (batch n). */
static inline int in_region0(const struct supernet *sn, float *arena, const float *p, int n)
{
    uintptr_t lo = (uintptr_t)arena, hi = (uintptr_t)region(sn, arena, 1, n);
    return p != NULL && (uintptr_t)p >= lo && (uintptr_t)p < hi;
}

static inline float *param_ptr(const struct supernet *sn, float *arena, int p)
{
    return arena + sn->params[p].offset;
}

/* Running mean (k = 0) or variance (k = 1) of BN node nd in r's BN set. */
static inline float *run_bn_buffer(const struct supernet *sn, const struct cell_run *r,
                                   const struct node *nd, int k)
{
    return r->bufvals + sn->buffers[nd->buffer + 2 * r->arch->bn_set + k].offset;
}

/* Batch mean and var of a BN node (each of its maximum width). */
static inline float *bn_mean(const struct supernet *sn, const struct node *nd)
{
    return sn->stats + nd->stat;
}

static inline float *bn_var(const struct supernet *sn, const struct node *nd)
{
    return sn->stats + nd->stat + sn->params[nd->param].cols;
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

static inline int eval_chunk(int n)
{
    return n < EVAL_CHUNK ? n : EVAL_CHUNK;
}

/* The images of a batch of n in whole interleaved groups (calibration's
 * regions hold that many). */
static inline int interleaved_room(int n)
{
    return (n + CONV2D_INTERLEAVED - 1) / CONV2D_INTERLEAVED * CONV2D_INTERLEAVED;
}

/* The most images of a chunk of a batch of n (a thread's regions hold
 * that many). */
static inline int eval_chunk_room(int n)
{
    return n >= CONV2D_INTERLEAVED ? CONV2D_INTERLEAVED : eval_chunk(n);
}

/* Outputs of shared cells a group keeps at once (group.c). */
enum { STASH_LEVELS = 3 };

/* Floats of the evaluation regions of `threads` threads for chunks of
 * `chunk` images: two regions of the largest cell each, then the stash's
 * levels. Thread t's start at eval_floats(sn, t, chunk). Calibration's
 * are those of one thread for its whole batch. */
static inline size_t eval_floats(const struct supernet *sn, int threads, int chunk)
{
    return (size_t)threads * (size_t)chunk
           * (2 * sn->cell_floats_max + STASH_LEVELS * sn->out_floats_max);
}

/* Level `level` of the stash after the two regions at `arena` (batch n):
 * where a group member leaves a cell's output for the members after it. */
static inline float *stash(const struct supernet *sn, float *arena, int n, int level)
{
    return region(sn, arena, 2, n) + (size_t)level * (size_t)n * sn->out_floats_max;
}

/* A group member's walk (group.c): it starts at depth `from` (the output
 * of cell from - 1) kept in stash level `level` by a member before it
 * (-1: from the images, depth 0), and keeps its own output at depths
 * save_depth[i] in levels save_level + i for the members after it (the
 * kept outputs are a stack: a level is its place in it). Members
 * sharing their first cells thus run them once, each output the bits the
 * member would compute itself. */
struct member_walk {
    int from, level;
    int nsaves, save_level;        /* the saves' levels: save_level + i */
    int save_depth[STASH_LEVELS];
};

/* r for cell c of the current arch, batch n: training's own region,
 * NCHW, thread 0's scratch and fold (cell_run.c). */
void cell_run_init(struct cell_run *r, const struct supernet *sn, int c, int n);

/* The same for cell c of `arch` reading the BN statistics at bufvals. */
void cell_run_init_arch(struct cell_run *r, const struct supernet *sn, const struct arch *arch,
                        float *bufvals, int c, int n);

/* The shape of convolution node nd with weight w under r's widths. */
struct conv2d_shape cell_conv_shape(const struct cell_run *r, const struct node *nd,
                                    const struct param_info *w);

/* What an evaluation forward runs: an arch, and the BN running
 * statistics it reads (the supernet's own, or a group member's). */
struct eval_path {
    const struct arch *arch;
    float *bufvals;
};

/* Evaluation of images [0, n) of inp under each of paths[0, k) as their
 * walks say (NULL when k is 1), all in the layout of paths[0]'s arch.
 * Path j's logits at logits + j * stride (forward.c). */
void forward_eval_paths(struct supernet *sn, const struct eval_path *paths,
                        const struct member_walk *walks, int k, const float *inp, int n,
                        float *logits, size_t stride);

/* Member w's cells of p's arch on x (n rows in the layout *lanes says:
 * the images, or the kept output it starts from) in the two regions at
 * `arena`, in evaluation or calibration (its BN sums to the supernet's
 * accumulators), keeping its outputs where the walk says in the stash of
 * `room` rows a level, their layouts in lanes_at; its output (forward.c). */
const float *walk_member(struct supernet *sn, const struct eval_path *p,
                         const struct member_walk *w, const float *x, int n,
                         enum forward_mode mode, float *arena, int room, float *scratch,
                         float *fold, int *lanes, int *lanes_at);

/* A calibration batch of n images as the first cell of arch takes them:
 * interleaved in the second region when the arch calibrates so (*lanes
 * says); sets the batch the BNs count (forward.c). */
const float *forward_calib_input(struct supernet *sn, const struct arch *arch,
                                 const float *images, int n, int *lanes);

/* The exact averages of the calibration accumulators written to the
 * running statistics of p's arch at p's bufvals (calibration.c). */
void calib_finish_path(struct supernet *sn, const struct eval_path *p);

/* The floats of cell c's output under arch for a batch of rows. */
size_t cell_output_floats(const struct supernet *sn, const struct arch *arch, int c, int rows);

/* Whether arch evaluates interleaved, plus whether it calibrates so: two
 * archs with the same layouts can share cells. */
int forward_layouts(const struct supernet *sn, const struct arch *arch);

/* Fusions decided at run time (fusion.c); supernet_set_fusion(sn, 0)
 * turns every one off. */
int slot_readers(const struct op_graph *g, int s);
int concat_shuffle_fused(const struct supernet *sn, const struct op_graph *g, int i);
int split_first_skipped(const struct supernet *sn, const struct op_graph *g, int j);
int split_second_read_through(const struct supernet *sn, const struct op_graph *g, int s,
                              enum forward_mode mode);
int bn_deferred(const struct supernet *sn, const struct cell_run *r, int i,
                enum forward_mode mode);
int shuffle_write_through(const struct supernet *sn, const struct cell_run *r, int i);

/* BN node bn's map in training and calibration (batchnorm_train_map of
 * its batch statistics), in r->fold, for the reader it is left to
 * (bn_deferred). */
struct conv2d_epilogue bn_train_map(const struct supernet *sn, const struct cell_run *r,
                                    const struct node *bn);

/* What the fused concat and shuffle at nodes i, i + 1 move: the first
 * part (ca channels) read in slot a (a_c channels: the split's input
 * when split >= 0, split_read_through), the second (cb channels) in the
 * concat's second input, planes of hw floats. */
struct concat_shuffle_parts {
    int split, a, a_c, ca, cb, hw;
};
struct concat_shuffle_parts concat_shuffle_parts(const struct cell_run *r, int i);

/* Forward of single nodes and of fused pairs (node_forward.c). */
void node_forward(struct supernet *sn, struct cell_run *r, int i, enum forward_mode mode);
void conv_bn_eval(struct supernet *sn, struct cell_run *r, const struct node *conv,
                  const struct node *bn);
/* The convolution and BN at i, i + 1 of r's one interleaved group, and
 * the global pool of their output into `pooled` (16 images of that many
 * channels, NCHW), taken in the convolution's epilogue: no output is
 * stored (forward.c: pool_opens_next). */
void conv_bn_pool_eval(struct supernet *sn, struct cell_run *r, int i, float *pooled);
void conv_bn_train(struct supernet *sn, struct cell_run *r, const struct node *conv,
                   const struct node *bn, enum forward_mode mode);
void concat_shuffle_forward_run(const struct cell_run *r, int i);

/* The scratch and fold of thread t (activations.c). */
void thread_buffers(const struct supernet *sn, int t, float **scratch, float **fold);

#endif
