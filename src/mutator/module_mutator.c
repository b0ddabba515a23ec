/*
 * module_mutator.c - OneShotModuleMutator: one op per choice block,
 * sampled uniformly (SPOS).
 *
 * Config:  { type = "OneShotModuleMutator";
 *            custom_groups = ( ["stage1.block1", "stage1.block2"], ... ); }
 * Blocks are named by position ("stage2.block0") or by alias. The blocks of
 * a custom group, and blocks sharing an alias, form one search group: one
 * search space (their candidate ops must be the same) and one sampled
 * choice. Every other block is a group of its own. Groups are ordered by
 * their first block and named after it (or after their alias).
 *
 * Max and min are the ops with the most and the fewest MACs in the group's
 * first block, the rest of the network at full width.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "mutator.h"

struct module_mutator {
    const config_setting_t *custom_groups;   /* owned by the config, or NULL */
    int ngroups;
    struct search_group groups[SPACE_MAX_BLOCKS];
    int max_choice[SPACE_MAX_BLOCKS], min_choice[SPACE_MAX_BLOCKS];
    int group_of[SPACE_MAX_BLOCKS];
    const struct supernet *sn;               /* of prepare_from_supernet */
};

static enum mtd_status create(void **state, const config_setting_t *cfg, struct mtd_error *err)
{
    static const char *const keys[] = {"type", "custom_groups", NULL};
    struct module_mutator *m = calloc(1, sizeof *m);
    if (m == NULL)
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory");
    enum mtd_status st = conf_check_keys(cfg, keys, err);
    if (st == MTD_OK)
        st = conf_get_list(cfg, "custom_groups", 0, 0, SPACE_MAX_BLOCKS, &m->custom_groups, err);
    if (st != MTD_OK) {
        free(m);
        return st;
    }
    *state = m;
    return MTD_OK;
}

static int find_block(const struct space_def *def, const char *name)
{
    for (int b = 0; b < def->nblocks; b++)
        if (strcmp(def->blocks[b].name, name) == 0 ||
            (def->blocks[b].alias[0] && strcmp(def->blocks[b].alias, name) == 0))
            return b;
    return -1;
}

static int find_op(const struct block_def *b, const char *name)
{
    for (int o = 0; o < b->nops; o++)
        if (strcmp(b->ops[o].name, name) == 0)
            return o;
    return -1;
}

/* Whether two blocks offer the same ops (in any order). */
static int same_ops(const struct block_def *a, const struct block_def *b)
{
    if (a->nops != b->nops)
        return 0;
    for (int o = 0; o < a->nops; o++)
        if (find_op(b, a->ops[o].name) < 0)
            return 0;
    return 1;
}

/* Union-find over blocks, the smaller index the root. */
static int root(int *parent, int b)
{
    while (parent[b] != b)
        b = parent[b] = parent[parent[b]];
    return b;
}

static void unite(int *parent, int a, int b)
{
    a = root(parent, a);
    b = root(parent, b);
    if (a < b)
        parent[b] = a;
    else
        parent[a] = b;
}

static enum mtd_status unite_custom(struct module_mutator *m, const struct space_def *def,
                                    int *parent, struct mtd_error *err)
{
    int seen[SPACE_MAX_BLOCKS] = {0};
    int ncustom = m->custom_groups ? config_setting_length(m->custom_groups) : 0;
    for (int i = 0; i < ncustom; i++) {
        const config_setting_t *grp = config_setting_get_elem(m->custom_groups, (unsigned)i);
        int n = config_setting_length(grp);
        if (!config_setting_is_aggregate(grp) || n < 1)
            return conf_error(err, grp, "expected a list of block names");
        int first = -1;
        for (int j = 0; j < n; j++) {
            const config_setting_t *e = config_setting_get_elem(grp, (unsigned)j);
            const char *name = config_setting_get_string(e);
            int b = name ? find_block(def, name) : -1;
            if (b < 0)
                return conf_error(err, e, "no choice block is named '%s'", name ? name : "(not a string)");
            if (seen[b])
                return conf_error(err, e, "block '%s' is in two custom groups", name);
            seen[b] = 1;
            if (first < 0) {
                first = b;
                continue;
            }
            const struct block_def *a = &def->blocks[first], *c = &def->blocks[b];
            if (!same_ops(a, c))
                return conf_error(err, e, "block '%s' has other candidate ops than '%s': a custom "
                                  "group shares one search space", c->name, a->name);
            unite(parent, first, b);
        }
    }
    return MTD_OK;
}

static void find_extremes(struct module_mutator *m, const struct supernet *sn, int gi)
{
    struct search_group *g = &m->groups[gi];
    struct arch arch;
    supernet_arch_max(sn, &arch);
    double best = -1.0, worst = 0.0;
    for (int c = 0; c < g->nchoices; c++) {
        for (int i = 0; i < g->nmutables; i++)
            arch.op[g->mutables[i] + 1] = c;
        struct resources r;
        supernet_estimate(sn, &arch, &r);
        if (best < 0.0 || r.macs > best) {
            best = r.macs;
            m->max_choice[gi] = c;
        }
        if (c == 0 || r.macs < worst) {
            worst = r.macs;
            m->min_choice[gi] = c;
        }
    }
}

static enum mtd_status prepare(void *state, const struct supernet *sn, struct mtd_error *err)
{
    struct module_mutator *m = state;
    const struct space_def *def = supernet_space(sn);
    int parent[SPACE_MAX_BLOCKS];
    for (int b = 0; b < def->nblocks; b++)
        parent[b] = b;
    enum mtd_status st = unite_custom(m, def, parent, err);
    if (st != MTD_OK)
        return st;
    for (int a = 0; a < def->nblocks; a++)
        for (int b = a + 1; b < def->nblocks; b++)
            if (def->blocks[a].alias[0] && strcmp(def->blocks[a].alias, def->blocks[b].alias) == 0) {
                const struct block_def *x = &def->blocks[a], *y = &def->blocks[b];
                if (!same_ops(x, y))
                    return mtd_error_set(err, MTD_ERR_CONFIG,
                                         "blocks %s and %s share the alias '%s' but not their candidate ops",
                                         x->name, y->name, x->alias);
                unite(parent, a, b);
            }
    m->ngroups = 0;
    for (int b = 0; b < def->nblocks; b++) {
        const struct block_def *blk = &def->blocks[b];
        if (blk->nops < 2)
            continue;   /* a block with one op is not a choice */
        int r = root(parent, b);
        if (r == b) {
            struct search_group *g = &m->groups[m->ngroups];
            search_group_single(g, blk->alias[0] ? blk->alias : blk->name, b);
            g->nchoices = blk->nops;
            for (int o = 0; o < blk->nops; o++)
                snprintf(g->choices[o].label, sizeof g->choices[o].label, "%s", blk->ops[o].name);
            m->group_of[b] = m->ngroups++;
        } else {
            m->group_of[b] = m->group_of[r];
            struct search_group *g = &m->groups[m->group_of[r]];
            g->mutables[g->nmutables++] = b;
        }
    }
    for (int gi = 0; gi < m->ngroups; gi++)
        find_extremes(m, sn, gi);
    m->sn = sn;
    return MTD_OK;
}

static int groups(const void *state, const struct search_group **out)
{
    const struct module_mutator *m = state;
    *out = m->groups;
    return m->ngroups;
}

static void sample(const void *state, enum sample_kind kind, struct rng *rng, int *choices)
{
    const struct module_mutator *m = state;
    for (int g = 0; g < m->ngroups; g++)
        choices[g] = mutator_pick(kind, rng, m->groups[g].nchoices, m->max_choice[g],
                                  m->min_choice[g]);
}

static void set_choices(const void *state, const int *choices, struct arch *arch)
{
    const struct module_mutator *m = state;
    const struct space_def *def = supernet_space(m->sn);
    for (int gi = 0; gi < m->ngroups; gi++) {
        const struct search_group *g = &m->groups[gi];
        const char *op = g->choices[choices[gi]].label;
        /* Members list the same ops, maybe in another order. */
        for (int i = 0; i < g->nmutables; i++)
            arch->op[g->mutables[i] + 1] = find_op(&def->blocks[g->mutables[i]], op);
    }
}

static void current_choices(const void *state, const struct arch *arch, int *choices)
{
    const struct module_mutator *m = state;
    for (int gi = 0; gi < m->ngroups; gi++) {
        const struct search_group *g = &m->groups[gi];
        int c = arch->op[g->mutables[0] + 1];
        for (int i = 1; i < g->nmutables; i++)
            if (arch->op[g->mutables[i] + 1] != c)
                c = -1;   /* the blocks of one group disagree */
        choices[gi] = c >= 0 && c < g->nchoices ? c : -1;
    }
}

static void destroy(void *state)
{
    free(state);
}

const struct mutator_ops one_shot_module_mutator = {
    .name = "OneShotModuleMutator",
    .kind = MUTABLE_MODULE,
    .create = create,
    .prepare_from_supernet = prepare,
    .search_groups = groups,
    .sample_choices = sample,
    .set_choices = set_choices,
    .current_choices = current_choices,
    .destroy = destroy,
};
