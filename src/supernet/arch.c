/*
 * arch.c - architectures: unit widths (make_divisible), the widths of each
 * cell under an arch, the maximum arch and the validity check.
 */
#include <assert.h>
#include <string.h>

#include "graph.h"

int make_divisible(double value, int divisor)
{
    if (divisor < 1)
        divisor = 1;
    int v = (int)(value + divisor / 2.0) / divisor * divisor;
    if (v < divisor)
        v = divisor;
    /* Rounding down may not lose more than 10%. */
    if (v < 0.9 * value)
        v += divisor;
    return v;
}

int unit_width_resolve(const struct unit_width *w, int max, int align)
{
    int v = w->channels > 0 ? w->channels : make_divisible(w->ratio * max, w->divisor);
    v = (v + align - 1) / align * align;
    return v < max ? v : max;
}

int width_eval(enum width_expr e, int in, int out, int mid)
{
    switch (e) {
    case W_IN: return in;
    case W_OUT: return out;
    case W_MID: return mid;
    case W_IN_HALF: return in / 2;
    case W_OUT_MINUS_IN_HALF: return out - in / 2;
    case W_OUT_MINUS_IN: return out - in;
    case W_ONE: return 1;
    }
    return 0;
}

int width_cap(const struct cell *cell, const struct op_graph *g, enum width_expr e)
{
    int untied = cell->in_unit >= 0 && cell->in_unit != cell->out_unit;
    if (untied && (e == W_OUT_MINUS_IN_HALF || e == W_OUT_MINUS_IN))
        return width_eval(e, cell->in_align, cell->out_max, g->mid_max);
    return width_eval(e, cell->in_max, cell->out_max, g->mid_max);
}

static int unit_active(const struct supernet *sn, const struct arch *arch, int u, int fixed)
{
    if (u < 0)
        return fixed;
    return unit_width_resolve(&arch->width[u], sn->units[u].max, sn->units[u].align);
}

void cell_widths(const struct supernet *sn, const struct arch *arch, int c, int o, int *in,
                 int *out, int *mid)
{
    const struct cell *cell = &sn->cells[c];
    const struct op_graph *g = &cell->ops[o];
    *in = unit_active(sn, arch, cell->in_unit, cell->in_max);
    *out = unit_active(sn, arch, cell->out_unit, cell->out_max);
    *mid = g->mid_max;
    if (cell->mid_unit >= 0 && g->mid_max > 0)
        *mid = unit_width_resolve(&arch->width[cell->mid_unit], g->mid_max, 1);
}

void supernet_block_widths(const struct supernet *sn, const struct arch *arch, int b, int *cin,
                           int *cout, int *mid)
{
    assert(b >= 0 && b < sn->def.nblocks);
    cell_widths(sn, arch, b + 1, arch->op[b + 1], cin, cout, mid);
}

void supernet_arch_max(const struct supernet *sn, struct arch *arch)
{
    memset(arch, 0, sizeof *arch);
    for (int u = 0; u < SUPERNET_MAX_UNITS; u++)
        arch->width[u] = (struct unit_width){.channels = 0, .ratio = 1.0, .divisor = 1};
    (void)sn;
}

enum mtd_status supernet_arch_check(const struct supernet *sn, const struct arch *arch,
                                    struct mtd_error *err)
{
    if (arch->bn_set < 0 || arch->bn_set >= sn->bn_sets)
        return mtd_error_set(err, MTD_ERR_DATA, "BN set %d out of range [0, %d)", arch->bn_set,
                             sn->bn_sets);
    for (int c = 0; c < sn->ncells; c++) {
        const struct cell *cell = &sn->cells[c];
        int o = arch->op[c];
        if (o < 0 || o >= cell->nops)
            return mtd_error_set(err, MTD_ERR_DATA, "%s: op %d out of range [0, %d)", cell->name,
                                 o, cell->nops);
        int in, out, mid;
        cell_widths(sn, arch, c, o, &in, &out, &mid);
        const struct op_graph *g = &cell->ops[o];
        for (int s = 0; s < g->nslots; s++)
            if (width_eval(g->slots[s].c, in, out, mid) < 1)
                return mtd_error_set(err, MTD_ERR_DATA,
                                     "%s: %s leaves a branch without channels at widths "
                                     "%d -> %d (inner %d)",
                                     cell->name, g->spec.name, in, out, mid);
    }
    return MTD_OK;
}

const struct arch *supernet_arch(const struct supernet *sn)
{
    return &sn->arch;
}

enum mtd_status supernet_set_arch(struct supernet *sn, const struct arch *arch,
                                  struct mtd_error *err)
{
    enum mtd_status st = supernet_arch_check(sn, arch, err);
    if (st == MTD_OK)
        sn->arch = *arch;
    return st;
}
