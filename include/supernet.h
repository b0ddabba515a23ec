/*
 * supernet.h - the weight-sharing network built from a space_def.
 *
 * Structure. The network is a chain of cells: the stem, one cell per choice
 * block, the last conv and the head. A cell holds one or more candidate ops
 * (a choice block holds the candidates its config lists; the stem, last conv
 * and head hold one); each op is a small program of nodes (conv, BN, split,
 * concatenation, shuffle, addition, pooling, linear) over numbered tensor
 * slots, slot 0 being the cell's input. Only the chosen op of each cell runs.
 *
 * Channel units. Every tensor width that a channel mutator may change belongs
 * to a unit; widths tied together share one:
 *  - the output of the stem is a unit, named "stem";
 *  - the output of each choice block is a unit named after the block
 *    ("stage1.block0"), unless the block ties it to its input: when the
 *    block's input and output have the same width and stride 1 and one of its
 *    candidates passes the input through to the output (an identity, an
 *    inverted residual's addition, or the untouched half that a stride-1
 *    shuffle block concatenates), output and input are one unit, named after
 *    the block that first produced it. A stage of equal blocks is one unit;
 *  - the inner width of a block ("stage1.block0.mid": the 1x1 expansion of an
 *    inverted residual, the middle of a shuffle branch) is a unit of its own,
 *    shared by the block's candidates; a width given as a ratio applies to
 *    each candidate's own maximum inner width;
 *  - the last conv's output is the unit "last".
 * Units read by a shuffle block (which halves and interleaves channels) only
 * take even widths.
 *
 * Architecture. Which op each cell runs, each unit's width and the BN set
 * (switchable BN) form a `struct arch`: plain data that mutators write and
 * that the estimator reads, so constraints are checked without touching the
 * network. The supernet keeps a current arch that forward and backward use.
 *
 * Memory. Parameters, gradients and momentum are three arenas carved by one
 * parameter table; BN running statistics a fourth. Weights are stored at
 * maximum width; a narrower arch uses their leading rows and columns.
 * Inactive ops and channels are never read by backward or written by the
 * optimizer step: no gradient, no momentum, no weight decay.
 *
 * Threads: one supernet per thread of control; the ops inside parallelise
 * with OpenMP.
 */
#ifndef MUTATORD_SUPERNET_H
#define MUTATORD_SUPERNET_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "sgd.h"
#include "space.h"
#include "status.h"

#define SUPERNET_MAX_UNITS (3 * SPACE_MAX_BLOCKS + 4)
#define SUPERNET_MAX_BN_SETS 16

/* How a unit's width is chosen: `channels` when positive, else
 * make_divisible(ratio * maximum, divisor), as MMRazor's make_divisible:
 * rounded to the nearest multiple of the divisor, at least the divisor, and
 * never below 90% of the exact value. The result is then rounded up to the
 * unit's alignment and capped at the maximum. */
struct unit_width {
    int channels;
    double ratio;
    int divisor;
};

struct arch {
    int op[SPACE_MAX_BLOCKS + 3];                   /* chosen op of each cell */
    struct unit_width width[SUPERNET_MAX_UNITS];    /* each unit */
    int bn_set;                                     /* switchable BN set */
};

/* The width a unit_width gives for a tensor of at most `max` channels that
 * must be a multiple of `align`. */
int unit_width_resolve(const struct unit_width *w, int max, int align);

/* MMRazor's make_divisible(value, divisor, min_value = divisor, 0.9). */
int make_divisible(double value, int divisor);

enum unit_kind { UNIT_MAIN, UNIT_MID };

struct channel_unit {
    char name[SPACE_NAME_MAX + 8];
    enum unit_kind kind;
    int max;      /* channels at full width (for UNIT_MID: the largest
                     candidate's inner width) */
    int align;    /* widths are multiples of this (2 for shuffle blocks) */
};

struct supernet;

/* Builds the supernet of `def` with `bn_sets` switchable BN sets (1 when the
 * network has no switchable BN), weights initialised from `seed` (Kaiming
 * normal for convs, as PyTorch's fan_out mode; BN gamma 1 beta 0; linear
 * normal(0, 0.01), bias 0). The current arch is the maximum one. */
enum mtd_status supernet_create(struct supernet **out, const struct space_def *def,
                                int bn_sets, uint64_t seed, struct mtd_error *err);
void supernet_free(struct supernet *sn);

const struct space_def *supernet_space(const struct supernet *sn);
int supernet_bn_sets(const struct supernet *sn);

/* Choice blocks (the module mutables): block b is cell b + 1. */
int supernet_nblocks(const struct supernet *sn);

int supernet_nunits(const struct supernet *sn);
const struct channel_unit *supernet_unit(const struct supernet *sn, int u);
/* The unit named `name`, or -1. */
int supernet_unit_find(const struct supernet *sn, const char *name);

/* The arch with every block at its first op and every unit at full width. */
void supernet_arch_max(const struct supernet *sn, struct arch *arch);

/* Checks an arch against the network: op indices in range, every branch of
 * every chosen op at least one channel wide. Names the block on failure. */
enum mtd_status supernet_arch_check(const struct supernet *sn, const struct arch *arch,
                                    struct mtd_error *err);

/* The arch forward and backward use. set copies it in (checked). */
const struct arch *supernet_arch(const struct supernet *sn);
enum mtd_status supernet_set_arch(struct supernet *sn, const struct arch *arch,
                                  struct mtd_error *err);

/* Active widths of block b under an arch: input, output, inner. */
void supernet_block_widths(const struct supernet *sn, const struct arch *arch, int b,
                           int *cin, int *cout, int *mid);

/* --- Forward and backward of the current arch -------------------------- */

enum forward_mode {
    FORWARD_TRAIN,   /* batch statistics, kept for backward; running
                        statistics updated with the BN momentum */
    FORWARD_CALIB,   /* batch statistics, accumulated for calibration */
    FORWARD_EVAL     /* running statistics */
};

/* Makes room for batches of up to n images: for training (activations and
 * their gradients), or for forward passes only (evaluation, calibration:
 * half the memory), or for evaluation only (FORWARD_EVAL: its activations
 * do not grow with the batch, only its logits). */
enum mtd_status supernet_reserve(struct supernet *sn, int n, struct mtd_error *err);
enum mtd_status supernet_reserve_eval(struct supernet *sn, int n, struct mtd_error *err);
enum mtd_status supernet_reserve_eval_forward(struct supernet *sn, int n, struct mtd_error *err);

/* logits (n, classes) of inp (n, C, H, W) under the current arch. The
 * returned pointer is owned by the supernet and valid until the next call. */
const float *supernet_forward(struct supernet *sn, const float *inp, int n,
                              enum forward_mode mode);

/* FORWARD_EVAL folds each BN into the convolution before it (the same
 * arithmetic, applied while the output is in cache), and runs whole groups
 * of 16 images interleaved (conv2d.h). Off: node by node, NCHW, for tests
 * that compare the two. On by default. */
void supernet_set_fusion(struct supernet *sn, int on);

/* Whether FORWARD_EVAL of the current arch runs groups of images
 * interleaved (the CPU and every convolution allow it). */
int supernet_eval_interleaved(const struct supernet *sn);

/* Gradients of the last FORWARD_TRAIN forward for dlogits (n, classes),
 * accumulated into the gradient arena for the active weights only. */
void supernet_backward(struct supernet *sn, const float *dlogits);

/* One SGD step on every weight entry that received a gradient since the
 * last step (and only those), then clears those gradients. BN affine
 * parameters and biases are decayed only when decay_norm_and_bias. */
void supernet_sgd_step(struct supernet *sn, const struct sgd_config *cfg,
                       int decay_norm_and_bias);

/* Clears the calibration accumulators of the current arch's BN layers;
 * FORWARD_CALIB passes then accumulate, and calib_finish writes the exact
 * mean and unbiased variance into the running statistics of the current
 * BN set. */
enum mtd_status supernet_calib_begin(struct supernet *sn, struct mtd_error *err);
void supernet_calib_finish(struct supernet *sn);

/* --- Parameters ---------------------------------------------------------- */

struct param_info {
    char name[128];  /* "stage1.block0.shuffle_3x3.n2.weight" */
    size_t offset;   /* in floats, into the arenas */
    int rows, cols;  /* a matrix of rows x cols, row-major */
    int decay;       /* 1: a weight; 0: BN affine or bias */
};

int supernet_nparams(const struct supernet *sn);
const struct param_info *supernet_param(const struct supernet *sn, int i);
int supernet_param_find(const struct supernet *sn, const char *name);
float *supernet_weights(struct supernet *sn);    /* the parameter arena */
float *supernet_grads(struct supernet *sn);
float *supernet_velocity(struct supernet *sn);
size_t supernet_weights_size(const struct supernet *sn);   /* floats */

/* What the supernet allocates, in bytes: for its parameters (each arena:
 * weights, their gradients, SGD momentum), BN running statistics, per
 * image of a batch the activations a training forward keeps for backward,
 * their gradients and the activations of a calibration forward, and the
 * activations of evaluation at any batch (chunks of images, per thread).
 * One buffer holds the largest of the three kinds of activations. */
struct supernet_footprint {
    size_t weights, grads, momentum, buffers;
    size_t train_per_image, grad_per_image, calib_per_image, eval;
    size_t moments_per_image;   /* BN plane moments, for the larger batch */
};
void supernet_footprint(const struct supernet *sn, struct supernet_footprint *f);

/* BN running statistics: "<bn name>.running_mean" / ".running_var", one
 * pair per BN layer and set ("...s1." prefix for sets after the first). */
int supernet_nbuffers(const struct supernet *sn);
const struct param_info *supernet_buffer(const struct supernet *sn, int i);
int supernet_buffer_find(const struct supernet *sn, const char *name);
float *supernet_buffers(struct supernet *sn);
size_t supernet_buffers_size(const struct supernet *sn);

/* FNV-1a over the parameter and buffer tables (names and shapes): equal
 * for networks built from the same space, different otherwise. */
uint64_t supernet_fingerprint(const struct supernet *sn);

/* --- Groups: archs scored together (group.c) ---------------------------- */

/* The most archs in a group. */
enum { SUPERNET_GROUP_MAX = 16 };

/* The leading cells two archs run alike (same op, widths, BN set and
 * layouts), at most all but the last. */
int supernet_shared_cells(const struct supernet *sn, const struct arch *a, const struct arch *b);

/* A group of archs[0, k) (each checked; k <= SUPERNET_GROUP_MAX; all with
 * the layouts of archs[0]) for evaluation batches of up to cap images: a
 * member starts from the output of the cells it shares with the member
 * before it, kept by an earlier member (up to three such outputs at
 * once), so that sorted archs run their common cells once. The supernet
 * must have room for the batches and for the calibration's
 * (supernet_reserve_eval). */
struct supernet_group;
enum mtd_status supernet_group_create(struct supernet *sn, const struct arch *archs, int k,
                                      int cap, struct supernet_group **out,
                                      struct mtd_error *err);
void supernet_group_free(struct supernet_group *g);
/* The leading cells member j does not run itself. */
int supernet_group_from(const struct supernet_group *g, int j);
/* What a group of k for batches of cap allocates: each member's BN
 * statistics, calibration sums and logits. */
size_t supernet_group_bytes(const struct supernet *sn, int k, int cap);

/* BN recalibration of every member, as supernet_calib_begin, FORWARD_CALIB
 * batches and supernet_calib_finish would do for each alone: the same
 * statistics, bit for bit, kept in the group. finish leaves the supernet
 * at the last member's arch and statistics, as its own calibration would. */
void supernet_group_calib_begin(struct supernet *sn, struct supernet_group *g);
void supernet_group_calib(struct supernet *sn, struct supernet_group *g, const float *images,
                          int n);
void supernet_group_calib_finish(struct supernet *sn, struct supernet_group *g);

/* Evaluation-mode forward of every member on n <= cap images, with its
 * own calibrated statistics: member j's logits (n, classes) at the result
 * + j * n * classes, the bits of its own FORWARD_EVAL. */
const float *supernet_group_forward(struct supernet *sn, struct supernet_group *g,
                                    const float *images, int n);

/* --- Counting and extraction ------------------------------------------- */

struct resources {
    double macs;    /* multiply-accumulates per image: convs and linear */
    double params;  /* learnable parameters on the path, BN affine included */
};

/* MACs and params of an arch by closed-form counting (REFERENCE.md's
 * rules); no forward pass, nothing allocated. */
void supernet_estimate(const struct supernet *sn, const struct arch *arch,
                       struct resources *out);

/* The standalone network of an arch: a space with one op per block at the
 * arch's widths, and a supernet of it holding the arch's weights and BN
 * statistics (of the arch's BN set). */
enum mtd_status supernet_extract(const struct supernet *sn, const struct arch *arch,
                                 struct space_def *def, struct supernet **out,
                                 struct mtd_error *err);

#endif
