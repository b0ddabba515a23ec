/*
 * cell_run.c - a cell of the current arch ready to run: its widths, where
 * its tensors are, the shapes of its convolutions.
 */
#include "cell_run.h"

void cell_run_init(struct cell_run *r, const struct supernet *sn, int c, int n)
{
    cell_run_init_arch(r, sn, &sn->arch, sn->bufvals, c, n);
}

void cell_run_init_arch(struct cell_run *r, const struct supernet *sn, const struct arch *arch,
                        float *bufvals, int c, int n)
{
    r->cell = &sn->cells[c];
    r->g = &r->cell->ops[arch->op[c]];
    r->arch = arch;
    r->bufvals = bufvals;
    cell_widths(sn, arch, c, arch->op[c], &r->in, &r->out, &r->mid);
    r->n = n;
    r->base = sn->act + (size_t)n * r->cell->arena_offset;
    r->dbase = NULL;
    r->scratch = sn->scratch;
    r->fold = sn->fold;
    r->lanes = 1;
    r->map = (struct conv2d_epilogue){0};
    r->map_input = NULL;
    r->placed = 0;
}

struct conv2d_shape cell_conv_shape(const struct cell_run *r, const struct node *nd,
                                    const struct param_info *w)
{
    const struct slot *s = &r->g->slots[nd->src];
    int cin = width_eval(nd->a, r->in, r->out, r->mid);
    int cout = width_eval(nd->b, r->in, r->out, r->mid);
    return (struct conv2d_shape){
        .n = r->n, .cin = cin, .cout = cout, .wcin = w->cols / (nd->k * nd->k),
        .h = s->h, .w = s->w, .k = nd->k, .stride = nd->stride, .pad = nd->k / 2,
        .groups = nd->depthwise ? cin : 1};
}
