/*
 * group.c - archs scored together: the cells they all begin with run once
 * per batch, in calibration and in evaluation, and each member runs the
 * rest from their output. A member's BN statistics and logits are the bits
 * it would get alone: the shared cells compute exactly what each member's
 * own would, from the same images, weights and batch statistics.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cell_run.h"

struct supernet_group {
    int k, shared, cap;
    struct arch *archs;
    float *bufvals;            /* k x nbufvals: each member's running stats */
    double *sums;              /* (k + 1) x nstats: calibration sums, the
                                  shared cells' last */
    long *counts;              /* (k + 1) x nstats, likewise */
    float *logits;             /* k x cap x classes */
};

/* Accumulator entries per member: supernet_calib_begin's. */
static size_t group_stats(const struct supernet *sn)
{
    return sn->nstats + 1;
}

size_t supernet_group_bytes(const struct supernet *sn, int k, int cap)
{
    return (size_t)k * (sn->nbufvals * sizeof(float) + (size_t)cap * sn->def.classes * sizeof(float))
           + (size_t)(k + 1) * group_stats(sn) * (sizeof(double) + sizeof(long));
}

int supernet_shared_cells(const struct supernet *sn, const struct arch *a, const struct arch *b)
{
    if (a->bn_set != b->bn_set || forward_layouts(sn, a) != forward_layouts(sn, b))
        return 0;
    int c = 0;
    for (; c < sn->ncells - 1 && a->op[c] == b->op[c]; c++) {
        int ain, aout, amid, bin, bout, bmid;
        cell_widths(sn, a, c, a->op[c], &ain, &aout, &amid);
        cell_widths(sn, b, c, b->op[c], &bin, &bout, &bmid);
        if (ain != bin || aout != bout || amid != bmid)
            break;
    }
    return c;
}

void supernet_group_free(struct supernet_group *g)
{
    if (g == NULL)
        return;
    free(g->archs);
    floats_free(g->bufvals);
    free(g->sums);
    free(g->counts);
    floats_free(g->logits);
    free(g);
}

enum mtd_status supernet_group_create(struct supernet *sn, const struct arch *archs, int k,
                                      int shared, int cap, struct supernet_group **out,
                                      struct mtd_error *err)
{
    *out = NULL;
    if (k < 1 || k > SUPERNET_GROUP_MAX || shared < 0 || cap < 1)
        return mtd_error_set(err, MTD_ERR_DATA, "a group of %d archs (at most %d)", k,
                             SUPERNET_GROUP_MAX);
    if (cap > sn->eval_cap)
        return mtd_error_set(err, MTD_ERR_DATA, "a group's batches of %d images exceed the "
                             "supernet's room for %d (supernet_reserve_eval)", cap, sn->eval_cap);
    for (int j = 0; j < k; j++) {
        enum mtd_status st = supernet_arch_check(sn, &archs[j], err);
        if (st != MTD_OK)
            return st;
        /* A chunk runs every member in the first one's layout. */
        if (supernet_shared_cells(sn, &archs[0], &archs[j]) < shared ||
            forward_layouts(sn, &archs[0]) != forward_layouts(sn, &archs[j]))
            return mtd_error_set(err, MTD_ERR_DATA, "group member %d does not share %d cells "
                                 "and the layouts of the first", j, shared);
    }
    struct supernet_group *g = calloc(1, sizeof *g);
    const size_t stats = group_stats(sn);
    if (g != NULL) {
        g->k = k;
        g->shared = shared;
        g->cap = cap;
        g->archs = malloc((size_t)k * sizeof *g->archs);
        g->bufvals = floats_alloc((size_t)k * sn->nbufvals);
        g->sums = malloc((size_t)(k + 1) * stats * sizeof *g->sums);
        g->counts = malloc((size_t)(k + 1) * stats * sizeof *g->counts);
        g->logits = floats_alloc((size_t)k * (size_t)cap * (size_t)sn->def.classes);
    }
    if (g == NULL || !g->archs || !g->bufvals || !g->sums || !g->counts || !g->logits) {
        supernet_group_free(g);
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for a group of %d archs", k);
    }
    memcpy(g->archs, archs, (size_t)k * sizeof *archs);
    for (int j = 0; j < k; j++)
        memcpy(g->bufvals + (size_t)j * sn->nbufvals, sn->bufvals,
               sn->nbufvals * sizeof *sn->bufvals);
    *out = g;
    return MTD_OK;
}

int supernet_group_shared(const struct supernet_group *g)
{
    return g->shared;
}

/* Member j's path; j = k: the shared cells' accumulators. */
static struct eval_path member(const struct supernet *sn, const struct supernet_group *g, int j)
{
    return (struct eval_path){&g->archs[j], g->bufvals + (size_t)j * sn->nbufvals};
}

static void use_accumulators(struct supernet *sn, struct supernet_group *g, int j)
{
    sn->calib_sum = g->sums + (size_t)j * group_stats(sn);
    sn->calib_count = g->counts + (size_t)j * group_stats(sn);
}

void supernet_group_calib_begin(struct supernet *sn, struct supernet_group *g)
{
    const size_t all = (size_t)(g->k + 1) * group_stats(sn);
    memset(g->sums, 0, all * sizeof *g->sums);
    memset(g->counts, 0, all * sizeof *g->counts);
}

void supernet_group_calib(struct supernet *sn, struct supernet_group *g, const float *images,
                          int n)
{
    assert(n >= 1 && n <= sn->calib_cap);
    double *own_sum = sn->calib_sum;
    long *own_count = sn->calib_count;
    const float *x = images;
    int lanes = 1;
    if (g->shared > 0) {
        const struct eval_path first = member(sn, g, 0);
        use_accumulators(sn, g, g->k);
        x = forward_calib_cells(sn, &first, images, n, 0, g->shared, &lanes);
        const int rows = lanes > 1 ? interleaved_room(n) : n;
        float *kept = stash(sn, sn->act, rows);
        memcpy(kept, x, cell_output_floats(sn, first.arch, g->shared - 1, rows) * sizeof *kept);
        x = kept;
    }
    for (int j = 0; j < g->k; j++) {
        const struct eval_path p = member(sn, g, j);
        int l = lanes;
        use_accumulators(sn, g, j);
        forward_calib_cells(sn, &p, x, n, g->shared, sn->ncells, &l);
    }
    sn->calib_sum = own_sum;
    sn->calib_count = own_count;
}

/* Member j's accumulators of the shared cells' BNs, from where they ran. */
static void take_shared(struct supernet *sn, struct supernet_group *g, int j)
{
    const size_t stats = group_stats(sn);
    const double *from_sum = g->sums + (size_t)g->k * stats;
    const long *from_count = g->counts + (size_t)g->k * stats;
    double *sum = g->sums + (size_t)j * stats;
    long *count = g->counts + (size_t)j * stats;
    for (int c = 0; c < g->shared; c++) {
        struct cell_run r;
        cell_run_init_arch(&r, sn, &g->archs[j], NULL, c, 1);
        for (int i = 0; i < r.g->nnodes; i++) {
            const struct node *nd = &r.g->nodes[i];
            if (nd->kind != NODE_BN)
                continue;
            count[nd->stat] = from_count[nd->stat];
            memcpy(sum + nd->stat, from_sum + nd->stat,
                   2 * (size_t)sn->params[nd->param].cols * sizeof *sum);
        }
    }
}

void supernet_group_calib_finish(struct supernet *sn, struct supernet_group *g)
{
    double *own_sum = sn->calib_sum;
    long *own_count = sn->calib_count;
    for (int j = 0; j < g->k; j++) {
        const struct eval_path p = member(sn, g, j);
        take_shared(sn, g, j);
        use_accumulators(sn, g, j);
        calib_finish_path(sn, &p);
        if (j == g->k - 1) {
            /* The supernet is left as if the last member had been
             * calibrated alone: its arch, its statistics. */
            sn->arch = g->archs[j];
            const struct eval_path own = {&sn->arch, sn->bufvals};
            calib_finish_path(sn, &own);
        }
    }
    sn->calib_sum = own_sum;
    sn->calib_count = own_count;
}

const float *supernet_group_forward(struct supernet *sn, struct supernet_group *g,
                                    const float *images, int n)
{
    assert(n >= 1 && n <= g->cap);
    struct eval_path paths[SUPERNET_GROUP_MAX];
    for (int j = 0; j < g->k; j++)
        paths[j] = member(sn, g, j);
    forward_eval_paths(sn, paths, g->k, g->shared, images, n, g->logits,
                       (size_t)n * (size_t)sn->def.classes);
    return g->logits;
}
