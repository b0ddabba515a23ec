/*
 * slimmable_mutator.c - SlimmableChannelMutator: a fixed list of width
 * configurations with switchable BN (slimmable networks).
 *
 * Config:  { type = "SlimmableChannelMutator";
 *            multipliers = [0.35, 0.5, 0.75, 1.0];  # one configuration each
 *            divisor = 8;
 *            units = [...]; }                       # optional: default all
 * Configuration i sets every managed unit to multipliers[i] of its width
 * and selects BN set i: each configuration keeps its own BN statistics and
 * affine parameters. One search group, "slimmable", whose choices are the
 * configurations.
 */
#include <stdlib.h>

#include "channel_common.h"
#include "conf.h"

struct slimmable_mutator {
    const config_setting_t *cfg;
    int divisor;
    struct width_candidates multipliers;
    int units[SUPERNET_MAX_UNITS], nunits;
    struct search_group group;
};

static enum mtd_status create(void **state, const config_setting_t *cfg, struct mtd_error *err)
{
    static const char *const keys[] = {"type", "multipliers", "divisor", "units", NULL};
    struct slimmable_mutator *m = calloc(1, sizeof *m);
    if (m == NULL)
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory");
    long long divisor = 1;
    enum mtd_status st = conf_check_keys(cfg, keys, err);
    if (st == MTD_OK) st = width_candidates_parse(cfg, "multipliers", 1, &m->multipliers, err);
    if (st == MTD_OK) st = conf_get_int(cfg, "divisor", 0, 1, 1024, &divisor, err);
    for (int i = 0; st == MTD_OK && i < m->multipliers.n; i++)
        if (m->multipliers.absolute[i])
            st = conf_error(err, conf_child(cfg, "multipliers"), "multipliers are ratios (0.5, 1.0)");
    if (st == MTD_OK && m->multipliers.n > SUPERNET_MAX_BN_SETS)
        st = conf_error(err, conf_child(cfg, "multipliers"), "at most %d configurations", SUPERNET_MAX_BN_SETS);
    if (st != MTD_OK) {
        free(m);
        return st;
    }
    m->cfg = cfg;
    m->divisor = (int)divisor;
    *state = m;
    return MTD_OK;
}

static int bn_sets(const void *state)
{
    const struct slimmable_mutator *m = state;
    return m->multipliers.n;
}

static enum mtd_status prepare(void *state, const struct supernet *sn, struct mtd_error *err)
{
    struct slimmable_mutator *m = state;
    enum mtd_status st = channel_units_parse(m->cfg, "units", sn, m->units, &m->nunits, err);
    if (st != MTD_OK)
        return st;
    search_group_single(&m->group, "slimmable", m->units[0]);
    for (int i = 1; i < m->nunits; i++)
        m->group.mutables[m->group.nmutables++] = m->units[i];
    width_candidates_label(&m->multipliers, &m->group);
    return MTD_OK;
}

static int groups(const void *state, const struct search_group **out)
{
    const struct slimmable_mutator *m = state;
    *out = &m->group;
    return 1;
}

static void sample(const void *state, enum sample_kind kind, struct rng *rng, int *choices)
{
    const struct slimmable_mutator *m = state;
    choices[0] = mutator_pick(kind, rng, m->multipliers.n, m->multipliers.n - 1, 0);
}

static void set_choices(const void *state, const int *choices, struct arch *arch)
{
    const struct slimmable_mutator *m = state;
    for (int i = 0; i < m->nunits; i++)
        arch->width[m->units[i]] = width_candidate(&m->multipliers, choices[0], m->divisor);
    arch->bn_set = choices[0];
}

static void current_choices(const void *state, const struct arch *arch, int *choices)
{
    const struct slimmable_mutator *m = state;
    int c = arch->bn_set >= 0 && arch->bn_set < m->multipliers.n ? arch->bn_set : -1;
    /* A configuration is its BN set and its widths together. */
    for (int i = 0; i < m->nunits && c >= 0; i++)
        if (width_candidate_find(&m->multipliers, m->divisor, &arch->width[m->units[i]]) != c)
            c = -1;
    choices[0] = c;
}

static void destroy(void *state)
{
    free(state);
}

const struct mutator_ops slimmable_channel_mutator = {
    .name = "SlimmableChannelMutator",
    .kind = MUTABLE_CHANNEL,
    .create = create,
    .bn_sets = bn_sets,
    .prepare_from_supernet = prepare,
    .search_groups = groups,
    .sample_choices = sample,
    .set_choices = set_choices,
    .current_choices = current_choices,
    .destroy = destroy,
};
