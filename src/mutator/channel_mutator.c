/*
 * channel_mutator.c - OneShotChannelMutator: each channel unit one of its
 * candidate widths (AutoSlim).
 *
 * Config:  { type = "OneShotChannelMutator";
 *            candidates = [0.5, 0.75, 1.0];   # ratios (floats) or counts (ints)
 *            divisor = 8;                     # make_divisible for ratios
 *            units = ["stem", "stage1.block0"];   # optional: default all
 *            overrides = ( { unit = "last"; candidates = [0.75, 1.0]; } ); }
 * Each unit is a search group of its own, named after the unit; its
 * choices are its candidates in ascending order (max is the last).
 */
#include <stdlib.h>
#include <string.h>

#include "channel_common.h"
#include "conf.h"

struct channel_mutator {
    const config_setting_t *cfg;
    int divisor;
    struct width_candidates defaults;
    int ngroups;
    struct search_group groups[SUPERNET_MAX_UNITS];
    struct width_candidates widths[SUPERNET_MAX_UNITS];
};

static enum mtd_status create(void **state, const config_setting_t *cfg, struct mtd_error *err)
{
    static const char *const keys[] = {"type", "candidates", "divisor", "units", "overrides", NULL};
    struct channel_mutator *m = calloc(1, sizeof *m);
    if (m == NULL)
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory");
    long long divisor = 1;
    enum mtd_status st = conf_check_keys(cfg, keys, err);
    if (st == MTD_OK) st = width_candidates_parse(cfg, "candidates", 1, &m->defaults, err);
    if (st == MTD_OK) st = conf_get_int(cfg, "divisor", 0, 1, 1024, &divisor, err);
    if (st != MTD_OK) {
        free(m);
        return st;
    }
    m->cfg = cfg;
    m->divisor = (int)divisor;
    *state = m;
    return MTD_OK;
}

static enum mtd_status apply_overrides(struct channel_mutator *m, const struct supernet *sn,
                                       const int *units, int nunits, struct mtd_error *err)
{
    static const char *const keys[] = {"unit", "candidates", NULL};
    const config_setting_t *list;
    enum mtd_status st = conf_get_list(m->cfg, "overrides", 0, 1, SUPERNET_MAX_UNITS, &list, err);
    for (int i = 0; st == MTD_OK && list && i < config_setting_length(list); i++) {
        const config_setting_t *o = config_setting_get_elem(list, (unsigned)i);
        const char *name = NULL;
        if (config_setting_type(o) != CONFIG_TYPE_GROUP)
            return conf_error(err, o, "expected { unit = \"...\"; candidates = [...]; }");
        st = conf_check_keys(o, keys, err);
        if (st == MTD_OK) st = conf_get_string(o, "unit", 1, &name, err);
        if (st != MTD_OK)
            return st;
        int u = supernet_unit_find(sn, name), g = -1;
        for (int j = 0; j < nunits; j++)
            if (units[j] == u)
                g = j;
        if (g < 0)
            return conf_error(err, conf_child(o, "unit"), "'%s' is not a unit this mutator manages", name);
        st = width_candidates_parse(o, "candidates", 1, &m->widths[g], err);
    }
    return st;
}

static enum mtd_status prepare(void *state, const struct supernet *sn, struct mtd_error *err)
{
    struct channel_mutator *m = state;
    int units[SUPERNET_MAX_UNITS], nunits;
    enum mtd_status st = channel_units_parse(m->cfg, "units", sn, units, &nunits, err);
    if (st != MTD_OK)
        return st;
    for (int g = 0; g < nunits; g++)
        m->widths[g] = m->defaults;
    st = apply_overrides(m, sn, units, nunits, err);
    if (st != MTD_OK)
        return st;
    for (int g = 0; g < nunits; g++) {
        st = width_candidates_check(&m->widths[g], sn, units[g], m->cfg, err);
        if (st != MTD_OK)
            return st;
        search_group_single(&m->groups[g], supernet_unit(sn, units[g])->name, units[g]);
        width_candidates_label(&m->widths[g], &m->groups[g]);
    }
    m->ngroups = nunits;
    return MTD_OK;
}

static int groups(const void *state, const struct search_group **out)
{
    const struct channel_mutator *m = state;
    *out = m->groups;
    return m->ngroups;
}

static void sample(const void *state, enum sample_kind kind, struct rng *rng, int *choices)
{
    const struct channel_mutator *m = state;
    for (int g = 0; g < m->ngroups; g++) {
        int n = m->groups[g].nchoices;
        /* Candidates are sorted: counts, and ratios, grow with the index.
         * A list mixing both has no order; it takes its ends. */
        choices[g] = mutator_pick(kind, rng, n, n - 1, 0);
    }
}

static void set_choices(const void *state, const int *choices, struct arch *arch)
{
    const struct channel_mutator *m = state;
    for (int g = 0; g < m->ngroups; g++)
        arch->width[m->groups[g].mutables[0]] = width_candidate(&m->widths[g], choices[g], m->divisor);
}

static void current_choices(const void *state, const struct arch *arch, int *choices)
{
    const struct channel_mutator *m = state;
    for (int g = 0; g < m->ngroups; g++)
        choices[g] = width_candidate_find(&m->widths[g], m->divisor,
                                          &arch->width[m->groups[g].mutables[0]]);
}

static void destroy(void *state)
{
    free(state);
}

const struct mutator_ops one_shot_channel_mutator = {
    .name = "OneShotChannelMutator",
    .kind = MUTABLE_CHANNEL,
    .create = create,
    .prepare_from_supernet = prepare,
    .search_groups = groups,
    .sample_choices = sample,
    .set_choices = set_choices,
    .current_choices = current_choices,
    .destroy = destroy,
};
