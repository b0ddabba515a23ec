/*
 * extract.c - static extraction: the standalone network of one arch, with
 * the arch's slices of the supernet's weights and BN statistics.
 *
 * The extracted space lists each block with its chosen op only, at the
 * arch's widths; its supernet then has the same node programs as the
 * chosen ops (same node order), so the weights are copied node by node,
 * each the leading rows and columns of the supernet's matrix.
 */
#include <string.h>

#include "graph.h"

static void copy_block(float *dst, const struct param_info *d, const float *src,
                       const struct param_info *s)
{
    for (int r = 0; r < d->rows; r++)
        memcpy(dst + d->offset + (size_t)r * (size_t)d->cols,
               src + s->offset + (size_t)r * (size_t)s->cols, (size_t)d->cols * sizeof(float));
}

static void copy_param(struct supernet *dst, int dp, const struct supernet *src, int sp)
{
    copy_block(dst->weights, &dst->params[dp], src->weights, &src->params[sp]);
}

static void copy_buffer(struct supernet *dst, int db, const struct supernet *src, int sb)
{
    copy_block(dst->bufvals, &dst->buffers[db], src->bufvals, &src->buffers[sb]);
}

static void copy_node(struct supernet *dst, const struct node *dn, const struct supernet *src,
                      const struct node *sn_, int set)
{
    switch (dn->kind) {
    case NODE_CONV:
        copy_param(dst, dn->param, src, sn_->param);
        break;
    case NODE_LINEAR:
        copy_param(dst, dn->param, src, sn_->param);
        copy_param(dst, dn->param + 1, src, sn_->param + 1);
        break;
    case NODE_BN:
        copy_param(dst, dn->param, src, sn_->param + 2 * set);
        copy_param(dst, dn->param + 1, src, sn_->param + 2 * set + 1);
        copy_buffer(dst, dn->buffer, src, sn_->buffer + 2 * set);
        copy_buffer(dst, dn->buffer + 1, src, sn_->buffer + 2 * set + 1);
        break;
    default:
        break;
    }
}

/* The space of the arch: one op per block at its active widths. */
static void extracted_space(const struct supernet *sn, const struct arch *arch,
                            struct space_def *def)
{
    *def = sn->def;
    int in, out, mid;
    cell_widths(sn, arch, 0, 0, &in, &out, &mid);
    def->stem_channels = out;
    for (int b = 0; b < def->nblocks; b++) {
        struct block_def *bd = &def->blocks[b];
        const struct op_graph *g = &sn->cells[b + 1].ops[arch->op[b + 1]];
        int had_residual = bd->stride == 1 && bd->cin == bd->cout && !bd->no_residual;
        cell_widths(sn, arch, b + 1, arch->op[b + 1], &in, &out, &mid);
        bd->ops[0] = g->spec;
        bd->nops = 1;
        bd->cin = in;
        bd->cout = out;
        bd->mid = g->mid_max ? mid : 0;
        bd->no_residual = !had_residual;
    }
    if (def->last_channels) {
        cell_widths(sn, arch, sn->ncells - 2, 0, &in, &out, &mid);
        def->last_channels = out;
    }
}

enum mtd_status supernet_extract(const struct supernet *sn, const struct arch *arch,
                                 struct space_def *def, struct supernet **out,
                                 struct mtd_error *err)
{
    enum mtd_status st = supernet_arch_check(sn, arch, err);
    if (st != MTD_OK)
        return st;
    extracted_space(sn, arch, def);
    struct supernet *x;
    st = supernet_create(&x, def, 1, 0, err);
    if (st != MTD_OK)
        return st;
    for (int c = 0; c < sn->ncells; c++) {
        const struct op_graph *sg = &sn->cells[c].ops[arch->op[c]];
        const struct op_graph *xg = &x->cells[c].ops[0];
        for (int i = 0; i < xg->nnodes; i++)
            copy_node(x, &xg->nodes[i], sn, &sg->nodes[i], arch->bn_set);
    }
    *out = x;
    return MTD_OK;
}
