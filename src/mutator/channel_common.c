/*
 * channel_common.c - width candidates and unit lists of channel mutators.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel_common.h"
#include "conf.h"

enum mtd_status width_candidates_parse(const config_setting_t *cfg, const char *key, int required,
                                       struct width_candidates *out, struct mtd_error *err)
{
    const config_setting_t *list;
    enum mtd_status st = conf_get_list(cfg, key, required, 1, MUTATOR_MAX_CHOICES, &list, err);
    if (st != MTD_OK || list == NULL)
        return st;
    out->n = 0;
    for (int i = 0; i < config_setting_length(list); i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        double v;
        int absolute;
        if (config_setting_type(e) == CONFIG_TYPE_FLOAT) {
            v = config_setting_get_float(e);
            absolute = 0;
            if (!(v > 0.0 && v <= 1.0))
                return conf_error(err, e, "a width ratio lies in (0, 1], got %g", v);
        } else if (config_setting_type(e) == CONFIG_TYPE_INT) {
            v = config_setting_get_int(e);
            absolute = 1;
            if (v < 1)
                return conf_error(err, e, "a channel count is positive, got %g", v);
        } else {
            return conf_error(err, e, "expected a ratio (1.0, 0.5) or a channel count (24)");
        }
        /* Insert in ascending order of value, ratios before counts. */
        int at = out->n;
        while (at > 0 && (out->absolute[at - 1] > absolute ||
                          (out->absolute[at - 1] == absolute && out->value[at - 1] > v))) {
            out->value[at] = out->value[at - 1];
            out->absolute[at] = out->absolute[at - 1];
            at--;
        }
        if (at > 0 && out->absolute[at - 1] == absolute && out->value[at - 1] == v)
            return conf_error(err, e, "width %g listed twice", v);
        out->value[at] = v;
        out->absolute[at] = absolute;
        out->n++;
    }
    return MTD_OK;
}

struct unit_width width_candidate(const struct width_candidates *w, int i, int divisor)
{
    if (w->absolute[i])
        return (struct unit_width){.channels = (int)w->value[i]};
    return (struct unit_width){.ratio = w->value[i], .divisor = divisor};
}

int width_candidate_find(const struct width_candidates *w, int divisor, const struct unit_width *x)
{
    for (int c = 0; c < w->n; c++) {
        struct unit_width y = width_candidate(w, c, divisor);
        if (y.channels == x->channels &&
            (y.channels > 0 || (y.ratio == x->ratio && y.divisor == x->divisor)))
            return c;
    }
    return -1;
}

void width_candidates_label(const struct width_candidates *w, struct search_group *g)
{
    g->nchoices = w->n;
    for (int i = 0; i < w->n; i++) {
        struct choice *c = &g->choices[i];
        /* A ratio's label always has a point, so "1.0" (all channels)
         * never reads as 1 channel. */
        snprintf(c->label, sizeof c->label, w->absolute[i] ? "%.0f" : "%g", w->value[i]);
        if (strtod(c->label, NULL) != w->value[i])
            snprintf(c->label, sizeof c->label, "%.17g", w->value[i]);
        if (!w->absolute[i] && !strpbrk(c->label, ".e"))
            strncat(c->label, ".0", sizeof c->label - strlen(c->label) - 1);
        c->value = w->value[i];
        c->numeric = 1;
    }
}

enum mtd_status channel_units_parse(const config_setting_t *cfg, const char *key,
                                    const struct supernet *sn, int *units, int *nunits,
                                    struct mtd_error *err)
{
    const config_setting_t *list;
    enum mtd_status st = conf_get_list(cfg, key, 0, 1, SUPERNET_MAX_UNITS, &list, err);
    if (st != MTD_OK)
        return st;
    *nunits = 0;
    if (list == NULL) {
        for (int u = 0; u < supernet_nunits(sn); u++)
            units[(*nunits)++] = u;
        return MTD_OK;
    }
    for (int i = 0; i < config_setting_length(list); i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        const char *name = config_setting_get_string(e);
        int u = name ? supernet_unit_find(sn, name) : -1;
        if (u < 0)
            return conf_error(err, e, "no channel unit is named '%s' (mutatord --check lists them)",
                              name ? name : "(not a string)");
        for (int j = 0; j < *nunits; j++)
            if (units[j] == u)
                return conf_error(err, e, "unit '%s' listed twice", name);
        units[(*nunits)++] = u;
    }
    return MTD_OK;
}

enum mtd_status width_candidates_check(const struct width_candidates *w, const struct supernet *sn,
                                       int u, const config_setting_t *where, struct mtd_error *err)
{
    const struct channel_unit *unit = supernet_unit(sn, u);
    for (int i = 0; i < w->n; i++) {
        if (!w->absolute[i])
            continue;
        int v = (int)w->value[i];
        if (v > unit->max || v % unit->align)
            return conf_error(err, where, "%d channels do not fit unit %s (at most %d, a multiple of %d)",
                              v, unit->name, unit->max, unit->align);
    }
    return MTD_OK;
}
