/*
 * group.c - archs scored together, in the order given: a member that
 * begins with the same cells as the one before it starts from their
 * output, kept by an earlier member (a walk through the tree of their
 * shared cells, at most STASH_LEVELS outputs kept at once: cell_run.h),
 * in calibration and in evaluation. A member's BN statistics and logits
 * are the bits it would get alone: a shared cell computes exactly what
 * the member's own would, from the same images, weights and batch
 * statistics.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cell_run.h"

struct supernet_group {
    int k, cap;
    struct arch *archs;
    struct member_walk walks[SUPERNET_GROUP_MAX];
    float *bufvals;            /* k x nbufvals: each member's running stats */
    double *sums;              /* k x stats: each member's calibration sums */
    long *counts;              /* k x stats, likewise */
    float *logits;             /* k x cap x classes */
};

/* Accumulator entries per member: supernet_calib_begin's. */
static size_t group_stats(const struct supernet *sn)
{
    return sn->nstats + 1;
}

size_t supernet_group_bytes(const struct supernet *sn, int k, int cap)
{
    return (size_t)k * (sn->nbufvals * sizeof(float) + (size_t)cap * sn->def.classes * sizeof(float)
                        + group_stats(sn) * (sizeof(double) + sizeof(long)));
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

/* The members' walks. Member j shares branch[j] cells with member j - 1,
 * and starts from the deepest kept output no deeper than that (the kept
 * ones deeper belong to branches left behind); it keeps its outputs at
 * the depths later members start from when it is the last to compute
 * them (member m can start from member j's output at depth branch[m] when
 * every member between them shares that much), shallowest first, while a
 * level is free. The kept outputs are a stack, level k its k-th entry. */
static void plan_walks(const struct supernet *sn, const struct arch *archs, int k,
                       struct member_walk *walks)
{
    int branch[SUPERNET_GROUP_MAX] = {0};
    for (int j = 1; j < k; j++)
        branch[j] = supernet_shared_cells(sn, &archs[j - 1], &archs[j]);
    int kept[STASH_LEVELS], nkept = 0;   /* depths */
    for (int j = 0; j < k; j++) {
        struct member_walk *w = &walks[j];
        while (nkept > 0 && kept[nkept - 1] > branch[j])
            nkept--;
        w->from = nkept > 0 ? kept[nkept - 1] : 0;
        w->level = nkept - 1;
        w->save_level = nkept;
        w->nsaves = 0;
        /* The depths wanted: branch[m] no more than every branch since
         * j, so they only shrink with m. */
        int want[SUPERNET_GROUP_MAX], nwant = 0, low = sn->ncells;
        for (int m = j + 1; m < k; m++) {
            const int d = branch[m];
            if (d <= low) {
                if (d > w->from && (nwant == 0 || want[nwant - 1] != d))
                    want[nwant++] = d;
                low = d;
            }
        }
        for (int i = nwant - 1; i >= 0 && nkept < STASH_LEVELS; i--)
            w->save_depth[w->nsaves++] = kept[nkept++] = want[i];
    }
}

enum mtd_status supernet_group_create(struct supernet *sn, const struct arch *archs, int k,
                                      int cap, struct supernet_group **out,
                                      struct mtd_error *err)
{
    *out = NULL;
    if (k < 1 || k > SUPERNET_GROUP_MAX || cap < 1)
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
        if (forward_layouts(sn, &archs[0]) != forward_layouts(sn, &archs[j]))
            return mtd_error_set(err, MTD_ERR_DATA, "group member %d does not have the layouts "
                                 "of the first", j);
    }
    struct supernet_group *g = calloc(1, sizeof *g);
    const size_t stats = group_stats(sn);
    if (g != NULL) {
        g->k = k;
        g->cap = cap;
        g->archs = malloc((size_t)k * sizeof *g->archs);
        g->bufvals = floats_alloc((size_t)k * sn->nbufvals);
        g->sums = malloc((size_t)k * stats * sizeof *g->sums);
        g->counts = malloc((size_t)k * stats * sizeof *g->counts);
        g->logits = floats_alloc((size_t)k * (size_t)cap * (size_t)sn->def.classes);
    }
    if (g == NULL || !g->archs || !g->bufvals || !g->sums || !g->counts || !g->logits) {
        supernet_group_free(g);
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for a group of %d archs", k);
    }
    memcpy(g->archs, archs, (size_t)k * sizeof *archs);
    plan_walks(sn, g->archs, k, g->walks);
    for (int j = 0; j < k; j++)
        memcpy(g->bufvals + (size_t)j * sn->nbufvals, sn->bufvals,
               sn->nbufvals * sizeof *sn->bufvals);
    *out = g;
    return MTD_OK;
}

int supernet_group_from(const struct supernet_group *g, int j)
{
    return g->walks[j].from;
}

/* Member j's path. */
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
    const size_t all = (size_t)g->k * group_stats(sn);
    memset(g->sums, 0, all * sizeof *g->sums);
    memset(g->counts, 0, all * sizeof *g->counts);
}

void supernet_group_calib(struct supernet *sn, struct supernet_group *g, const float *images,
                          int n)
{
    assert(n >= 1 && n <= sn->calib_cap);
    double *own_sum = sn->calib_sum;
    long *own_count = sn->calib_count;
    /* The stash's levels hold whole interleaved groups, whatever the
     * layout. */
    const int room = interleaved_room(n);
    int lanes_at[STASH_LEVELS] = {0};
    for (int j = 0; j < g->k; j++) {
        const struct eval_path p = member(sn, g, j);
        const struct member_walk *w = &g->walks[j];
        int lanes;
        const float *x;
        if (w->level < 0) {   /* the first member's sets the batch (sn->n) */
            x = forward_calib_input(sn, p.arch, images, n, &lanes);
        } else {
            x = stash(sn, sn->act, room, w->level);
            lanes = lanes_at[w->level];
        }
        use_accumulators(sn, g, j);
        walk_member(sn, &p, w, x, lanes > 1 ? room : n, FORWARD_CALIB, sn->act, room,
                    sn->scratch, sn->fold, &lanes, lanes_at);
    }
    sn->calib_sum = own_sum;
    sn->calib_count = own_count;
}

/* Member j's accumulators of the cells it did not run, from the member
 * that ran each: the last one up to j that started at or before it. */
static void take_shared(struct supernet *sn, struct supernet_group *g, int j)
{
    const size_t stats = group_stats(sn);
    double *sum = g->sums + (size_t)j * stats;
    long *count = g->counts + (size_t)j * stats;
    for (int c = 0; c < g->walks[j].from; c++) {
        int owner = j;
        while (g->walks[owner].from > c)
            owner--;
        const double *from_sum = g->sums + (size_t)owner * stats;
        const long *from_count = g->counts + (size_t)owner * stats;
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
    forward_eval_paths(sn, paths, g->walks, g->k, images, n, g->logits,
                       (size_t)n * (size_t)sn->def.classes);
    return g->logits;
}
