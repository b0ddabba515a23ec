/*
 * supernet.c - building the supernet from a space_def: channel units, cells
 * and their op programs, the parameter table and its arenas, and the
 * seeded initialisation. Accessors for the other modules.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "graph.h"
#include "rng.h"

/* Parameters start on a cache line. */
#define PARAM_ALIGN 16

static size_t round_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

int supernet_add_param(struct supernet *sn, int buffer, const char *name, int rows, int cols,
                       int decay, float init)
{
    int *count = buffer ? &sn->nbuffers : &sn->nparams;
    int *cap = buffer ? &sn->cap_buffers : &sn->cap_params;
    struct param_info **table = buffer ? &sn->buffers : &sn->params;
    float **inits = buffer ? &sn->buffer_init : &sn->param_init;
    size_t *size = buffer ? &sn->nbufvals : &sn->nweights;
    if (*count == *cap) {
        int cap2 = *cap ? 2 * *cap : 64;
        struct param_info *t = realloc(*table, (size_t)cap2 * sizeof **table);
        float *in = realloc(*inits, (size_t)cap2 * sizeof **inits);
        if (t)
            *table = t;
        if (in)
            *inits = in;
        if (!t || !in) {
            sn->nomem = 1;
            return -1;
        }
        *cap = cap2;
    }
    struct param_info *p = &(*table)[*count];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->offset = *size;
    p->rows = rows;
    p->cols = cols;
    p->decay = decay;
    (*inits)[*count] = init;
    *size += round_up((size_t)rows * (size_t)cols, PARAM_ALIGN);
    return (*count)++;
}

static int add_unit(struct supernet *sn, const char *name, enum unit_kind kind, int max)
{
    assert(sn->nunits < SUPERNET_MAX_UNITS);
    struct channel_unit *u = &sn->units[sn->nunits];
    snprintf(u->name, sizeof u->name, "%s", name);
    u->kind = kind;
    u->max = max;
    u->align = 1;
    return sn->nunits++;
}

static int op_has_mid(const struct op_spec *op)
{
    return op->family == OP_SHUFFLE || op->family == OP_XCEPTION || op->family == OP_MB;
}

/* Whether some candidate of b passes its input through to its output, so
 * that both are one channel unit (see supernet.h). */
static int block_ties_input(const struct block_def *b)
{
    if (b->stride != 1 || b->cin != b->cout)
        return 0;
    for (int i = 0; i < b->nops; i++) {
        enum op_family f = b->ops[i].family;
        if (f == OP_IDENTITY || op_family_is_shuffle(f) || (f == OP_MB && !b->no_residual))
            return 1;
    }
    return 0;
}

static struct cell *new_cell(struct supernet *sn, const char *name, int nops, int in_unit,
                             int in_max, int out_max)
{
    struct cell *c = &sn->cells[sn->ncells++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->nops = nops;
    c->ops = calloc((size_t)nops, sizeof *c->ops);
    if (c->ops == NULL)
        sn->nomem = 1;
    c->in_unit = in_unit;
    c->out_unit = -1;
    c->mid_unit = -1;
    c->in_max = in_max;
    c->out_max = out_max;
    return c;
}

static void build_single(struct supernet *sn, struct cell *c, enum op_family family, int k,
                         int stride, int h, int w)
{
    struct op_spec spec = {.family = family, .k = k};
    c->fixed = 1;
    snprintf(spec.name, sizeof spec.name, "%s", family == OP_HEAD ? "head" : "conv");
    if (c->ops)
        op_graph_build(sn, c, &c->ops[0], &spec, stride, 0, 0, h, w);
}

/* Cells, units and parameters of def. */
static void build(struct supernet *sn)
{
    const struct space_def *def = &sn->def;
    struct cell *c = new_cell(sn, "stem", 1, -1, def->in_c, def->stem_channels);
    int unit = add_unit(sn, "stem", UNIT_MAIN, def->stem_channels);
    c->out_unit = unit;
    build_single(sn, c, OP_CONV, def->stem_kernel, def->stem_stride, def->in_h, def->in_w);

    for (int bi = 0; bi < def->nblocks; bi++) {
        const struct block_def *b = &def->blocks[bi];
        c = new_cell(sn, b->name, b->nops, unit, b->cin, b->cout);
        int mid_max = 0, shuffle = 0;
        for (int o = 0; o < b->nops; o++) {
            if (op_has_mid(&b->ops[o]) && block_def_mid_max(b, &b->ops[o]) > mid_max)
                mid_max = block_def_mid_max(b, &b->ops[o]);
            shuffle |= op_family_is_shuffle(b->ops[o].family);
        }
        if (mid_max) {
            char name[SPACE_NAME_MAX + 8];
            snprintf(name, sizeof name, "%s.mid", b->name);
            c->mid_unit = add_unit(sn, name, UNIT_MID, mid_max);
        }
        if (!block_ties_input(b))
            unit = add_unit(sn, b->name, UNIT_MAIN, b->cout);
        c->out_unit = unit;
        if (shuffle) {
            sn->units[c->in_unit].align = 2;
            sn->units[c->out_unit].align = 2;
        }
        c->in_align = sn->units[c->in_unit].align;
        int residual = b->stride == 1 && b->cin == b->cout && !b->no_residual;
        for (int o = 0; o < b->nops && c->ops; o++)
            op_graph_build(sn, c, &c->ops[o], &b->ops[o], b->stride, residual,
                           op_has_mid(&b->ops[o]) ? block_def_mid_max(b, &b->ops[o]) : 0,
                           b->h_in, b->w_in);
    }
    int h = def->nblocks ? def->blocks[def->nblocks - 1].h_out : def->stem_h;
    int w = def->nblocks ? def->blocks[def->nblocks - 1].w_out : def->stem_w;
    int features = def->nblocks ? def->blocks[def->nblocks - 1].cout : def->stem_channels;
    if (def->last_channels) {
        c = new_cell(sn, "last", 1, unit, features, def->last_channels);
        unit = add_unit(sn, "last", UNIT_MAIN, def->last_channels);
        c->out_unit = unit;
        build_single(sn, c, OP_CONV, 1, 1, h, w);
        features = def->last_channels;
    }
    c = new_cell(sn, "head", 1, unit, features, def->classes);
    build_single(sn, c, OP_HEAD, 0, 1, h, w);
    /* A later block may raise a unit's alignment after an earlier cell
     * read it; the sizes above used the alignment known then, which is
     * never larger, so they stay upper bounds. */
    for (int i = 0; i < sn->ncells; i++)
        sn->cells[i].in_align = sn->cells[i].in_unit >= 0 ? sn->units[sn->cells[i].in_unit].align : 1;
}

/* Slot layout: each op's slots 1.. one after the other; a cell's ops share
 * its region (one runs at a time); cells one after the other. */
static void layout(struct supernet *sn)
{
    size_t total = 0;
    for (int ci = 0; ci < sn->ncells; ci++) {
        struct cell *c = &sn->cells[ci];
        c->arena_offset = total;
        c->floats = 0;
        for (int o = 0; o < c->nops; o++) {
            struct op_graph *g = &c->ops[o];
            size_t used = 0;
            for (int s = 1; s < g->nslots; s++) {
                const struct slot *sl = &g->slots[s];
                g->slot_offset[s] = used;
                int ch = width_cap(c, g, sl->c);
                const size_t floats = round_up((size_t)ch * (size_t)sl->h * (size_t)sl->w,
                                               PARAM_ALIGN);
                used += floats;
                if (s == g->out && floats > sn->out_floats_max)
                    sn->out_floats_max = floats;
            }
            g->floats = used;
            if (used > c->floats)
                c->floats = used;
        }
        total += c->floats;
        if (c->floats > sn->cell_floats_max)
            sn->cell_floats_max = c->floats;
    }
    sn->act_per_image = total;
}

static void initialise(struct supernet *sn, uint64_t seed)
{
    struct rng rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < sn->nparams; i++) {
        const struct param_info *p = &sn->params[i];
        float init = sn->param_init[i];
        float *w = sn->weights + p->offset;
        long n = (long)p->rows * p->cols;
        if (init > 0.0f)
            rng_fill_normal(&rng, w, n, 0.0f, init);
        else
            for (long j = 0; j < n; j++)
                w[j] = -init;
    }
    for (int i = 0; i < sn->nbuffers; i++) {
        const struct param_info *p = &sn->buffers[i];
        for (int j = 0; j < p->rows * p->cols; j++)
            sn->bufvals[p->offset + (size_t)j] = -sn->buffer_init[i];
    }
}

enum mtd_status supernet_create(struct supernet **out, const struct space_def *def,
                                int bn_sets, uint64_t seed, struct mtd_error *err)
{
    assert(bn_sets >= 1 && bn_sets <= SUPERNET_MAX_BN_SETS);
    *out = NULL;
    struct supernet *sn = calloc(1, sizeof *sn);
    if (sn == NULL)
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory building the supernet");
    sn->def = *def;
    sn->bn_sets = bn_sets;
    sn->cells = calloc((size_t)def->nblocks + 3, sizeof *sn->cells);
    if (sn->cells == NULL) {
        free(sn);
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory building the supernet");
    }
    build(sn);
    layout(sn);
    size_t rows = 0;
    sn->touched_offset = malloc(((size_t)sn->nparams + 1) * sizeof *sn->touched_offset);
    for (int i = 0; i < sn->nparams && sn->touched_offset; i++) {
        sn->touched_offset[i] = rows;
        rows += (size_t)sn->params[i].rows;
    }
    sn->touched = calloc(rows + 1, sizeof *sn->touched);
    sn->weights = floats_alloc(sn->nweights);
    sn->grads = floats_alloc(sn->nweights);
    sn->velocity = floats_alloc(sn->nweights);
    sn->bufvals = floats_alloc(sn->nbufvals);
    sn->stats = floats_alloc(sn->nstats);
    if (sn->nomem || !sn->touched_offset || !sn->touched || !sn->weights || !sn->grads ||
        !sn->velocity || !sn->bufvals || !sn->stats) {
        supernet_free(sn);
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory building the supernet");
    }
    initialise(sn, seed);
    supernet_arch_max(sn, &sn->arch);
    *out = sn;
    return MTD_OK;
}

void supernet_free(struct supernet *sn)
{
    if (sn == NULL)
        return;
    for (int i = 0; i < sn->ncells; i++)
        free(sn->cells[i].ops);
    free(sn->cells);
    free(sn->params);
    free(sn->param_init);
    free(sn->buffers);
    free(sn->buffer_init);
    free(sn->touched);
    free(sn->touched_offset);
    floats_free(sn->weights);
    floats_free(sn->grads);
    floats_free(sn->velocity);
    floats_free(sn->bufvals);
    floats_free(sn->stats);
    floats_free(sn->act);
    floats_free(sn->dact);
    floats_free(sn->scratch);
    floats_free(sn->logits);
    free(sn->cell_in);
    free(sn->moments);
    supernet_calib_free(sn);
    free(sn);
}

const struct space_def *supernet_space(const struct supernet *sn) { return &sn->def; }
int supernet_bn_sets(const struct supernet *sn) { return sn->bn_sets; }
int supernet_nblocks(const struct supernet *sn) { return sn->def.nblocks; }
int supernet_nunits(const struct supernet *sn) { return sn->nunits; }

const struct channel_unit *supernet_unit(const struct supernet *sn, int u)
{
    assert(u >= 0 && u < sn->nunits);
    return &sn->units[u];
}

int supernet_unit_find(const struct supernet *sn, const char *name)
{
    for (int u = 0; u < sn->nunits; u++)
        if (strcmp(sn->units[u].name, name) == 0)
            return u;
    return -1;
}

static int find_info(const struct param_info *table, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return i;
    return -1;
}

int supernet_nparams(const struct supernet *sn) { return sn->nparams; }
const struct param_info *supernet_param(const struct supernet *sn, int i) { return &sn->params[i]; }
int supernet_param_find(const struct supernet *sn, const char *name)
{
    return find_info(sn->params, sn->nparams, name);
}
float *supernet_weights(struct supernet *sn) { return sn->weights; }
float *supernet_grads(struct supernet *sn) { return sn->grads; }
float *supernet_velocity(struct supernet *sn) { return sn->velocity; }
size_t supernet_weights_size(const struct supernet *sn) { return sn->nweights; }

void supernet_footprint(const struct supernet *sn, struct supernet_footprint *f)
{
    const size_t fl = sizeof(float);
    f->weights = f->grads = f->momentum = sn->nweights * fl;
    f->buffers = sn->nbufvals * fl;
    f->train_per_image = sn->act_per_image * fl;
    /* activations.c: two regions of the largest cell, and for calibration
     * the stash of a group's shared cells' output (cell_run.h) */
    f->grad_per_image = 2 * sn->cell_floats_max * fl;
    f->calib_per_image = (2 * sn->cell_floats_max + sn->out_floats_max) * fl;
    f->eval = supernet_eval_floats(sn) * fl;
    f->moments_per_image = supernet_moments_per_image(sn);
}

int supernet_nbuffers(const struct supernet *sn) { return sn->nbuffers; }
const struct param_info *supernet_buffer(const struct supernet *sn, int i) { return &sn->buffers[i]; }
int supernet_buffer_find(const struct supernet *sn, const char *name)
{
    return find_info(sn->buffers, sn->nbuffers, name);
}
float *supernet_buffers(struct supernet *sn) { return sn->bufvals; }
size_t supernet_buffers_size(const struct supernet *sn) { return sn->nbufvals; }

/* FNV-1a over the parameter and buffer tables: names and shapes. */
uint64_t supernet_fingerprint(const struct supernet *sn)
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < supernet_nparams(sn) + supernet_nbuffers(sn); i++) {
        const struct param_info *p = i < supernet_nparams(sn)
                                         ? supernet_param(sn, i)
                                         : supernet_buffer(sn, i - supernet_nparams(sn));
        int shape[2] = {p->rows, p->cols};
        const unsigned char *bytes[2] = {(const unsigned char *)p->name,
                                         (const unsigned char *)shape};
        size_t len[2] = {strlen(p->name) + 1, sizeof shape};
        for (int k = 0; k < 2; k++)
            for (size_t j = 0; j < len[k]; j++)
                h = (h ^ bytes[k][j]) * 1099511628211ULL;
    }
    return h;
}
