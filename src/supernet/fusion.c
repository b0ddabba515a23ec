/*
 * fusion.c - which nodes of a cell run together, decided at run time from
 * the op's graph, the mode and the layout: channel moves read through or
 * written through instead of copied, a BN folded into the convolution
 * before it or its map left to the node after it.
 */
#include "cell_run.h"

/* Channel moves fused at run time: a CONCAT whose output only a SHUFFLE
 * reads runs, forward and backward, as one concat_shuffle (channel.h) into
 * the shuffle's slot; and when the concat's first input is the first
 * output of a SPLIT that nothing else reads (a shuffle block's pass-through
 * half), the concat reads those channels in the split's input, and the
 * split moves only its second output. The skipped slots are never written:
 * of a stride-1 block's three full copies (split, concat, shuffle) one and
 * a half remain. supernet_set_fusion(sn, 0) turns this off with the rest. */

int slot_readers(const struct op_graph *g, int s)
{
    int count = 0;
    for (int i = 0; i < g->nnodes; i++)
        count += (g->nodes[i].src == s) + (g->nodes[i].src2 == s);
    return count;
}

/* Whether node i is a CONCAT run together with the SHUFFLE at i + 1. */
int concat_shuffle_fused(const struct supernet *sn, const struct op_graph *g, int i)
{
    if (sn->no_fusion || g->nodes[i].kind != NODE_CONCAT || i + 1 >= g->nnodes)
        return 0;
    const struct node *cat = &g->nodes[i], *shf = &g->nodes[i + 1];
    return shf->kind == NODE_SHUFFLE && shf->src == cat->dst && slot_readers(g, cat->dst) == 1 &&
           g->out != cat->dst;
}

/* The SPLIT whose first output the fused concat i reads in place, or -1. */
static int split_read_through(const struct op_graph *g, int i)
{
    const struct node *cat = &g->nodes[i];
    for (int j = 0; j < i; j++) {
        const struct node *sp = &g->nodes[j];
        if (sp->kind == NODE_SPLIT && sp->dst == cat->src)
            return slot_readers(g, sp->dst) == 1 && g->out != sp->dst ? j : -1;
    }
    return -1;
}

/* Whether SPLIT node j's first output is read through, never written. */
int split_first_skipped(const struct supernet *sn, const struct op_graph *g, int j)
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
int split_second_read_through(const struct supernet *sn, const struct op_graph *g, int s,
                              enum forward_mode mode)
{
    if (sn->no_fusion || mode == FORWARD_TRAIN || slot_readers(g, s) != 1 || g->out == s)
        return -1;
    int split = -1, conv = 0;
    for (int j = 0; j < g->nnodes; j++) {
        split = g->nodes[j].kind == NODE_SPLIT && g->nodes[j].dst2 == s ? j : split;
        conv |= g->nodes[j].kind == NODE_CONV && g->nodes[j].src == s;
    }
    return conv ? split : -1;
}

/* Whether BN node i's map is left to the node after it, the only reader
 * of its output, the BN taking its moments from the convolution before it
 * (conv_bn_fusable): in training and calibration, a concat-and-shuffle
 * maps it as it copies it, and a convolution as it reads it (NCHW, where
 * conv2d_maps_input: an image of a dense one into its scratch, 16
 * channels into a depthwise one's tile; interleaved: a depthwise one as
 * it copies its input, a dense one in place a group at a time just before
 * its product reads it, interleaved_groups). The BN's own pass over the
 * whole batch is saved, or (interleaved dense) made while the group is in
 * cache. Training never needs the BN's output itself: its backward reads
 * the BN's input, a concat-and-shuffle's backward only gradients, and a
 * convolution's backward maps its input again (bn_train_map). */
int bn_deferred(const struct supernet *sn, const struct cell_run *r, int i,
                enum forward_mode mode)
{
    const struct op_graph *g = r->g;
    const struct node *bn = &g->nodes[i];
    if (mode == FORWARD_EVAL || sn->no_fusion || i < 1 || !conv_bn_fusable(g, i - 1) ||
        i + 1 >= g->nnodes)
        return 0;
    const struct node *next = &g->nodes[i + 1];
    const int copy = concat_shuffle_fused(sn, g, i + 1) && next->src2 == bn->dst &&
                     next->src != bn->dst;
    int conv = next->kind == NODE_CONV && next->src == bn->dst;
    if (conv && r->lanes > 1) {
        conv = mode == FORWARD_CALIB;
    } else if (conv) {
        const struct conv2d_shape s = cell_conv_shape(r, next, &sn->params[next->param]);
        conv = conv2d_maps_input(&s);
    }
    return (copy || conv) && slot_readers(g, bn->dst) == 1 && g->out != bn->dst;
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
int shuffle_write_through(const struct supernet *sn, const struct cell_run *r, int i)
{
    const struct op_graph *g = r->g;
    if (r->lanes == 1 || sn->no_fusion || i + 3 >= g->nnodes || !concat_shuffle_fused(sn, g, i + 2))
        return -1;
    const struct node *bn = &g->nodes[i + 1], *cat = &g->nodes[i + 2];
    return cat->src2 == bn->dst && cat->src != bn->dst && slot_readers(g, bn->dst) == 1 &&
                   g->out != bn->dst
               ? i + 2
               : -1;
}

struct concat_shuffle_parts concat_shuffle_parts(const struct cell_run *r, int i)
{
    const struct op_graph *g = r->g;
    const struct node *cat = &g->nodes[i];
    struct concat_shuffle_parts p = {.split = split_read_through(g, i)};
    p.a = p.split >= 0 ? g->nodes[p.split].src : cat->src;
    p.ca = slot_channels(r, cat->src);
    p.cb = slot_channels(r, cat->src2);
    p.a_c = slot_channels(r, p.a);
    p.hw = (int)run_plane(r, cat->src);
    return p;
}
