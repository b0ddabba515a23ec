/*
 * graph.h - the supernet's insides, shared by its source files only: cells,
 * the node programs of their ops, and the supernet struct.
 */
#ifndef MUTATORD_SUPERNET_GRAPH_H
#define MUTATORD_SUPERNET_GRAPH_H

#include "batchnorm.h"
#include "supernet.h"

#define OP_MAX_NODES 24
#define OP_MAX_SLOTS 28

enum node_kind {
    NODE_CONV,     /* dense or depthwise convolution, no bias */
    NODE_BN,       /* batch norm, then ReLU when relu */
    NODE_SPLIT,    /* channels [0, a) to dst, [a, a + b) to dst2 */
    NODE_CONCAT,   /* src then src2 */
    NODE_SHUFFLE,  /* channel shuffle, 2 groups */
    NODE_ADD,      /* src + src2 */
    NODE_POOL,     /* global average pool */
    NODE_LINEAR    /* fully connected, with bias */
};

/* A width inside a cell, in terms of the cell's input, output and inner
 * widths (in, out, mid). */
enum width_expr {
    W_IN,
    W_OUT,
    W_MID,
    W_IN_HALF,            /* in / 2 */
    W_OUT_MINUS_IN_HALF,  /* out - in / 2: a stride-1 shuffle's branch */
    W_OUT_MINUS_IN,       /* out - in: a stride-2 shuffle's branch */
    W_ONE                 /* 1 (a depthwise conv's weight columns per row) */
};

struct node {
    enum node_kind kind;
    int src, src2, dst, dst2;     /* slots; -1 when unused */
    enum width_expr a, b;         /* conv: in, out; split: the two parts;
                                     others: a = channels */
    int k, stride, depthwise;     /* conv */
    int relu;                     /* bn */
    int param;                    /* first parameter (conv weight; linear
                                     weight, bias; bn gamma, beta per set) */
    int buffer;                   /* bn: first running statistic */
    int stat;                     /* bn: offset of its batch mean, var in
                                     the statistics arena */
};

struct slot {
    enum width_expr c;
    int h, w;
};

struct op_graph {
    struct op_spec spec;
    int mid_max;                  /* the op's full inner width (0: none) */
    int nnodes;
    struct node nodes[OP_MAX_NODES];
    int nslots;                   /* slot 0 is the cell's input */
    struct slot slots[OP_MAX_SLOTS];
    int out;                      /* the output slot */
    size_t slot_offset[OP_MAX_SLOTS];  /* per image, in the cell arena */
    size_t floats;                /* per image, slots 1.. */
};

struct cell {
    char name[SPACE_NAME_MAX];
    int fixed;                        /* stem, last or head: not a block */
    int in_unit, out_unit, mid_unit;  /* -1: fixed width */
    int in_max, out_max;              /* full widths */
    int in_align;                     /* alignment of the input unit */
    int nops;
    struct op_graph *ops;
    size_t arena_offset;              /* per image, into the activations */
    size_t floats;                    /* per image: max over ops */
};

struct supernet {
    struct space_def def;
    int bn_sets;
    int ncells;                       /* stem, blocks, last (if any), head */
    struct cell *cells;
    int nunits;
    struct channel_unit units[SUPERNET_MAX_UNITS];
    struct arch arch;

    int nomem;                        /* an allocation failed while building */
    int nparams, cap_params;
    struct param_info *params;
    float *param_init;                /* per parameter: > 0 normal(0, init),
                                         else the constant -init */
    size_t nweights;                  /* floats in each parameter arena */
    float *weights, *grads, *velocity;
    int *touched;                     /* per parameter row: columns with a
                                         gradient since the last step */
    size_t *touched_offset;           /* per parameter: its first row */

    int nbuffers, cap_buffers;
    struct param_info *buffers;
    float *buffer_init;
    size_t nbufvals;
    float *bufvals;

    size_t nstats;                    /* batch mean and var of every BN */
    float *stats;                     /* node.stat: mean, then var, each of
                                         the BN's maximum width */
    double *calib_sum;                /* calibration: mean and m2, laid out
                                         as stats */
    long *calib_count;                /* indexed by node.stat */

    /* Activations (activations.c, cell_run.h). Training keeps every slot
     * of every cell for backward: cell regions one after the other
     * (act_per_image floats per image). Evaluation and calibration keep only a cell's input and
     * its own slots, and backward only the gradients of the cell it is in
     * and of that cell's input: two regions of the largest cell, used in
     * turn. One activation buffer serves both layouts. */
    size_t act_per_image;
    size_t cell_floats_max;           /* per image, the largest cell */
    size_t out_floats_max;            /* per image, the largest cell output */
    int train_cap, calib_cap;         /* batches the activations fit */
    int eval_cap;                     /* evaluation batches (the logits) */
    int grad_cap;                     /* batches the gradients fit */
    size_t act_floats;
    float *act, *dact;
    float *logits;                    /* evaluation's output, eval_cap rows */
    float *scratch;                   /* the convolutions' scratch,
                                         scratch_per_thread floats per
                                         thread, then each thread's fold
                                         (activations.c) */
    size_t scratch_per_thread;
    int threads;                      /* parallel_threads() when allocated */
    float *fold;                      /* thread 0's: a BN's scale, then its
                                         shift at fold + fold_width */
    size_t fold_width;
    float *bn_coef;                   /* BN_GRAD_COEFS fold_width floats after
                                         the folds:
                                         a training BN's backward
                                         coefficients (for the convolution
                                         before it: batchnorm_backward_sums) */
    double *moments;                  /* the moments of a convolution's
                                         output planes for the training-mode
                                         BN after it, moments_cap images of
                                         fold_width channels (activations.c);
                                         in backward, a BN's plane sums */
    int moments_cap;
    int no_fusion;                    /* supernet_set_fusion(sn, 0) */
    const float **cell_in;            /* each cell's input, last forward */
    int n;                            /* batch of the last forward */
};

/* The width an expression takes for cell widths in, out, mid. */
int width_eval(enum width_expr e, int in, int out, int mid);

/* The largest value a width expression can take in a cell under any arch:
 * a branch of out - in channels grows when only the input narrows, so when
 * input and output are separate units its bound takes the narrowest input
 * (the input unit's alignment). Weights and activations are sized by it. */
int width_cap(const struct cell *cell, const struct op_graph *g, enum width_expr e);

/* Active widths of cell c under arch: in, out, and mid for op o. */
void cell_widths(const struct supernet *sn, const struct arch *arch, int c, int o,
                 int *in, int *out, int *mid);

/* Builds the node program of op `spec` for cell `cell` (widths at maximum,
 * the op's inner width mid_max, input h x w) and registers its parameters.
 * Defined in ops.c. */
void op_graph_build(struct supernet *sn, struct cell *cell, struct op_graph *g,
                    const struct op_spec *spec, int stride, int residual, int mid_max, int h,
                    int w);

/* Appends a parameter (or a buffer when buffer) of rows x cols, initialised
 * from normal(0, init) when init > 0, else to the constant -init. */
int supernet_add_param(struct supernet *sn, int buffer, const char *name, int rows,
                       int cols, int decay, float init);

/* Forward of cell c alone under the current arch: x is its input (n
 * images), the result its output, in the activation arena (forward.c). */
const float *cell_forward(struct supernet *sn, int c, const float *x, int n,
                          enum forward_mode mode);

/* Node i of g is a convolution whose only reader is the BN at i + 1, so
 * that the BN can be folded into it (fusion.c). */
int conv_bn_fusable(const struct op_graph *g, int i);

/* Floats of evaluation activations (activations.c). */
size_t supernet_eval_floats(const struct supernet *sn);

/* Bytes per image of the BN plane moments that training and calibration
 * take from the convolutions (activations.c), for the larger of their two
 * batches. */
size_t supernet_moments_per_image(const struct supernet *sn);

/* Frees the calibration accumulators (calibration.c). */
void supernet_calib_free(struct supernet *sn);

#endif
