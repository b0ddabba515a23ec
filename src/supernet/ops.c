/*
 * ops.c - the node programs of the op library (REFERENCE.md's ShuffleNetV2
 * blocks, MobileNetV2 inverted residuals, plain convs, identity) and of the
 * fixed cells (stem, last conv, head).
 *
 * Slot 0 is the cell's input. Every conv is followed by a BN; node and slot
 * numbers follow the order of the definitions in REFERENCE.md, and
 * parameter names follow the node numbers, so that the same op built at
 * another width (an extracted subnet) names its parameters the same way.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"

struct builder {
    struct supernet *sn;
    struct op_graph *g;
    const char *prefix;   /* "stage1.block0.shuffle_3x3" */
    int failed;
};

static int new_slot(struct builder *bd, enum width_expr c, int h, int w)
{
    struct op_graph *g = bd->g;
    if (g->nslots >= OP_MAX_SLOTS) {
        bd->failed = 1;
        return 0;
    }
    g->slots[g->nslots] = (struct slot){.c = c, .h = h, .w = w};
    return g->nslots++;
}

static struct node *new_node(struct builder *bd, enum node_kind kind)
{
    struct op_graph *g = bd->g;
    if (g->nnodes >= OP_MAX_NODES) {
        bd->failed = 1;
        return &g->nodes[OP_MAX_NODES - 1];
    }
    struct node *nd = &g->nodes[g->nnodes++];
    *nd = (struct node){.kind = kind, .src = -1, .src2 = -1, .dst = -1, .dst2 = -1,
                        .param = -1, .buffer = -1, .stat = -1};
    return nd;
}

static int node_index(const struct builder *bd, const struct node *nd)
{
    return (int)(nd - bd->g->nodes);
}

/* conv (k, stride, pad k/2) from src, then BN (and ReLU): returns the
 * BN's output slot. */
static int conv_bn(struct builder *bd, const struct cell *cell, int src, enum width_expr in,
                   enum width_expr out, int k, int stride, int depthwise, int relu)
{
    struct op_graph *g = bd->g;
    struct supernet *sn = bd->sn;
    char name[160];
    const struct slot *s = &g->slots[src];
    int h = (s->h + 2 * (k / 2) - k) / stride + 1;
    int w = (s->w + 2 * (k / 2) - k) / stride + 1;

    struct node *conv = new_node(bd, NODE_CONV);
    conv->src = src;
    conv->a = depthwise ? out : in;
    conv->b = out;
    conv->k = k;
    conv->stride = stride;
    conv->depthwise = depthwise;
    conv->dst = new_slot(bd, out, h, w);
    int rows = width_cap(cell, g, out);
    int cols = (depthwise ? 1 : width_cap(cell, g, in)) * k * k;
    snprintf(name, sizeof name, "%s.n%d.weight", bd->prefix, node_index(bd, conv));
    /* PyTorch's kaiming_normal_(mode="fan_out", nonlinearity="relu"). */
    conv->param = supernet_add_param(sn, 0, name, rows, cols, 1,
                                     sqrtf(2.0f / (float)(rows * k * k)));

    struct node *bn = new_node(bd, NODE_BN);
    bn->src = conv->dst;
    bn->a = out;
    bn->relu = relu;
    bn->dst = new_slot(bd, out, h, w);
    int c = width_cap(cell, g, out);
    for (int set = 0; set < sn->bn_sets; set++) {
        char sfx[16] = "";
        if (set)
            snprintf(sfx, sizeof sfx, ".s%d", set);
        int bi = node_index(bd, bn);
        snprintf(name, sizeof name, "%s.n%d%s.weight", bd->prefix, bi, sfx);
        int p = supernet_add_param(sn, 0, name, 1, c, 0, -1.0f);
        snprintf(name, sizeof name, "%s.n%d%s.bias", bd->prefix, bi, sfx);
        supernet_add_param(sn, 0, name, 1, c, 0, 0.0f);
        snprintf(name, sizeof name, "%s.n%d%s.running_mean", bd->prefix, bi, sfx);
        int q = supernet_add_param(sn, 1, name, 1, c, 0, 0.0f);
        snprintf(name, sizeof name, "%s.n%d%s.running_var", bd->prefix, bi, sfx);
        supernet_add_param(sn, 1, name, 1, c, 0, -1.0f);
        if (set == 0) {
            bn->param = p;
            bn->buffer = q;
        }
    }
    bn->stat = (int)sn->nstats;
    sn->nstats += 2 * (size_t)c;
    return bn->dst;
}

static int binary(struct builder *bd, enum node_kind kind, int a, int b, enum width_expr c)
{
    struct node *nd = new_node(bd, kind);
    nd->src = a;
    nd->src2 = b;
    nd->a = c;
    nd->dst = new_slot(bd, c, bd->g->slots[a].h, bd->g->slots[a].w);
    return nd->dst;
}

static int unary(struct builder *bd, enum node_kind kind, int src, enum width_expr c, int h,
                 int w)
{
    struct node *nd = new_node(bd, kind);
    nd->src = src;
    nd->a = c;
    nd->dst = new_slot(bd, c, h, w);
    return nd->dst;
}

/* The main branch of a shuffle block: in -> mid -> out. */
static int shuffle_branch(struct builder *bd, const struct cell *cell, int src,
                          enum width_expr in, enum width_expr out, const struct op_spec *spec,
                          int stride)
{
    if (spec->family == OP_XCEPTION) {
        int x = conv_bn(bd, cell, src, in, in, 3, stride, 1, 0);
        x = conv_bn(bd, cell, x, in, W_MID, 1, 1, 0, 1);
        x = conv_bn(bd, cell, x, W_MID, W_MID, 3, 1, 1, 0);
        x = conv_bn(bd, cell, x, W_MID, W_MID, 1, 1, 0, 1);
        x = conv_bn(bd, cell, x, W_MID, W_MID, 3, 1, 1, 0);
        return conv_bn(bd, cell, x, W_MID, out, 1, 1, 0, 1);
    }
    int x = conv_bn(bd, cell, src, in, W_MID, 1, 1, 0, 1);
    x = conv_bn(bd, cell, x, W_MID, W_MID, spec->k, stride, 1, 0);
    return conv_bn(bd, cell, x, W_MID, out, 1, 1, 0, 1);
}

static int shuffle_block(struct builder *bd, const struct cell *cell, const struct op_spec *spec,
                         int stride)
{
    const struct slot *in = &bd->g->slots[0];
    int pass, main;
    if (stride == 1) {
        struct node *split = new_node(bd, NODE_SPLIT);
        split->src = 0;
        split->a = W_IN_HALF;
        split->b = W_IN_HALF;
        split->dst = new_slot(bd, W_IN_HALF, in->h, in->w);
        split->dst2 = new_slot(bd, W_IN_HALF, in->h, in->w);
        pass = split->dst;
        main = shuffle_branch(bd, cell, split->dst2, W_IN_HALF, W_OUT_MINUS_IN_HALF, spec, 1);
    } else {
        int k = spec->family == OP_XCEPTION ? 3 : spec->k;
        int x = conv_bn(bd, cell, 0, W_IN, W_IN, k, stride, 1, 0);
        pass = conv_bn(bd, cell, x, W_IN, W_IN, 1, 1, 0, 1);
        main = shuffle_branch(bd, cell, 0, W_IN, W_OUT_MINUS_IN, spec, stride);
    }
    int cat = binary(bd, NODE_CONCAT, pass, main, W_OUT);
    return unary(bd, NODE_SHUFFLE, cat, W_OUT, bd->g->slots[cat].h, bd->g->slots[cat].w);
}

static int inverted_residual(struct builder *bd, const struct cell *cell,
                             const struct op_spec *spec, int stride, int residual)
{
    int x = conv_bn(bd, cell, 0, W_IN, W_MID, 1, 1, 0, 1);
    x = conv_bn(bd, cell, x, W_MID, W_MID, spec->k, stride, 1, 1);
    x = conv_bn(bd, cell, x, W_MID, W_OUT, 1, 1, 0, 0);
    return residual ? binary(bd, NODE_ADD, 0, x, W_OUT) : x;
}

static int head(struct builder *bd, const struct cell *cell)
{
    struct supernet *sn = bd->sn;
    char name[160];
    int pooled = unary(bd, NODE_POOL, 0, W_IN, 1, 1);
    struct node *fc = new_node(bd, NODE_LINEAR);
    fc->src = pooled;
    fc->a = W_IN;
    fc->b = W_OUT;
    fc->dst = new_slot(bd, W_OUT, 1, 1);
    snprintf(name, sizeof name, "%s.weight", bd->prefix);
    fc->param = supernet_add_param(sn, 0, name, cell->out_max, cell->in_max, 1, 0.01f);
    snprintf(name, sizeof name, "%s.bias", bd->prefix);
    supernet_add_param(sn, 0, name, 1, cell->out_max, 0, 0.0f);
    return fc->dst;
}

void op_graph_build(struct supernet *sn, struct cell *cell, struct op_graph *g,
                    const struct op_spec *spec, int stride, int residual, int mid_max, int h,
                    int w)
{
    char prefix[SPACE_NAME_MAX + 32];
    if (cell->fixed)
        snprintf(prefix, sizeof prefix, "%s", cell->name);
    else
        snprintf(prefix, sizeof prefix, "%s.%s", cell->name, spec->name);
    struct builder bd = {.sn = sn, .g = g, .prefix = prefix};
    memset(g, 0, sizeof *g);
    g->spec = *spec;
    g->mid_max = mid_max;
    g->nslots = 1;
    g->slots[0] = (struct slot){.c = W_IN, .h = h, .w = w};

    switch (spec->family) {
    case OP_SHUFFLE:
    case OP_XCEPTION:
        g->out = shuffle_block(&bd, cell, spec, stride);
        break;
    case OP_MB:
        g->out = inverted_residual(&bd, cell, spec, stride, residual);
        break;
    case OP_CONV:
        g->out = conv_bn(&bd, cell, 0, W_IN, W_OUT, spec->k, stride, 0, 1);
        break;
    case OP_IDENTITY:
        g->out = 0;
        break;
    case OP_HEAD:
        g->out = head(&bd, cell);
        break;
    default:
        assert(!"op family without a program");
    }
    /* The limits hold the largest program of the library. */
    assert(!bd.failed);
}
