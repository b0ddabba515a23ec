/*
 * space.h - the search space as the config describes it: input, stem,
 * choice blocks with their candidate ops, last conv and head. Plain data,
 * parsed and checked here (every shape rule of every op), built into a
 * supernet by supernet.h.
 *
 * The `supernet` section of a config:
 *
 *   supernet = {
 *     input   = { channels = 1; height = 28; width = 28; };
 *     classes = 10;
 *     stem    = { channels = 16; kernel = 3; stride = 1; };  # conv, BN, ReLU
 *     stages  = (                                            # or blocks = ( ... )
 *       { blocks = 4; channels = 48; stride = 2;             # first block's stride
 *         ops = ["shuffle_3x3", "shuffle_5x5", "shuffle_7x7", "shuffle_xception"];
 *         aliases = ["", "", "", ""]; },                     # optional, per block
 *       ...
 *     );
 *     last = { channels = 256; };                            # 1x1 conv, BN, ReLU; optional
 *     bn   = { eps = 1e-5; momentum = 0.1; };                # optional
 *   };
 *
 * `blocks = ( { channels; stride; ops; mid; alias; name; residual; }, ... )` lists
 * blocks one by one instead of `stages` (an extracted subnet is written so).
 */
#ifndef MUTATORD_SPACE_H
#define MUTATORD_SPACE_H

#include <libconfig.h>
#include <stdio.h>

#include "status.h"

#define SPACE_MAX_OPS 16
#define SPACE_MAX_BLOCKS 64
#define SPACE_NAME_MAX 48

/* Appended to only. */
enum op_family {
    OP_SHUFFLE,    /* shuffle_3x3, shuffle_5x5, shuffle_7x7 */
    OP_XCEPTION,   /* shuffle_xception */
    OP_MB,         /* mb_k{3,5,7}_e{3,4,6}: MobileNetV2 inverted residual */
    OP_CONV,       /* conv_3x3, conv_5x5: conv, BN, ReLU */
    OP_IDENTITY,   /* identity (depth search) */
    OP_HEAD,       /* internal: global average pool and classifier */
    OP_FAMILY_COUNT
};

struct op_spec {
    enum op_family family;
    int k;        /* kernel of the op's (depthwise) convolution */
    int expand;   /* expansion ratio of an inverted residual, else 0 */
    char name[24];
};

/* Parses an op name of the library; returns 0 on success, -1 when the name
 * is unknown. */
int op_spec_parse(const char *name, struct op_spec *out);

/* Whether an op family splits, concatenates and shuffles channels (the
 * ShuffleNetV2 wrapper). */
int op_family_is_shuffle(enum op_family family);

struct block_def {
    char name[SPACE_NAME_MAX];   /* "stage1.block0", or as given */
    char alias[SPACE_NAME_MAX];  /* "" when none */
    int cin;                     /* input channels (the previous output) */
    int cout;                    /* output channels */
    int stride;                  /* 1 or 2 */
    int mid;                     /* inner width; 0: each op's default */
    int no_residual;             /* 1: inverted residuals add no shortcut
                                    even where the shapes allow one */
    int h_in, w_in, h_out, w_out;
    int nops;
    struct op_spec ops[SPACE_MAX_OPS];
};

struct space_def {
    int in_c, in_h, in_w;
    int classes;
    int stem_channels, stem_kernel, stem_stride;
    int stem_h, stem_w;          /* output size of the stem */
    int nblocks;
    struct block_def blocks[SPACE_MAX_BLOCKS];
    int last_channels;           /* 0: no last conv */
    double bn_eps, bn_momentum;
};

/* Parses and checks the `supernet` group. Errors name file, line and key. */
enum mtd_status space_def_parse(const config_setting_t *supernet, struct space_def *def,
                                struct mtd_error *err);

/* Writes def as a `supernet` group in the `blocks` form, each line
 * prefixed by indent; space_def_parse reads it back to the same def.
 * Returns -1 on a write error. */
int space_def_write(const struct space_def *def, const char *indent, FILE *f);

/* The maximum inner width of op o in block b (0 for ops without one). */
int block_def_mid_max(const struct block_def *b, const struct op_spec *op);

/* The output channels of the network body: last conv, or the last block. */
int space_def_features(const struct space_def *def);

#endif
