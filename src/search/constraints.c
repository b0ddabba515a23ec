/*
 * constraints.c - what a subnet costs and whether the search may take it
 * (search.h).
 */
#include <math.h>
#include <stdio.h>

#include "latency_table.h"
#include "rng.h"
#include "search.h"
#include "search_space.h"

void search_cost(const struct search_space *ss, const struct latency_table *lat,
                 const struct subnet *s, struct subnet_cost *out)
{
    struct arch arch;
    struct resources r;
    const struct supernet *sn = search_space_supernet(ss);
    search_space_to_arch(ss, s->choice, &arch);
    supernet_estimate(sn, &arch, &r);
    out->macs = r.macs;
    out->params = r.params;
    out->latency = lat != NULL ? latency_table_predict(lat, sn, &arch) : 0.0;
}

static int in_range(const struct search_range *r, double v)
{
    return v >= r->min && v <= r->max;
}

/* Whether cfg limits the latency at all (a missing table entry, NAN, then
 * fails the range; without a limit it does not matter). */
static int latency_limited(const struct search_config *cfg)
{
    return cfg->latency.min > 0.0 || isfinite(cfg->latency.max);
}

int search_within(const struct search_config *cfg, const struct subnet_cost *c)
{
    return in_range(&cfg->macs, c->macs) && in_range(&cfg->params, c->params) &&
           (!latency_limited(cfg) || in_range(&cfg->latency, c->latency));
}

/* The constraints admit nothing we could draw: say what the space reaches. */
static enum mtd_status too_tight(const struct search_config *cfg, const struct subnet_cost *lo,
                                 const struct subnet_cost *hi, struct mtd_error *err)
{
    char latency[160] = "";
    if (latency_limited(cfg))
        snprintf(latency, sizeof latency, " and latency in [%.6g, %.6g] ms (reached [%.6g, "
                 "%.6g])", cfg->latency.min, cfg->latency.max, lo->latency, hi->latency);
    return mtd_error_set(err, MTD_ERR_CONFIG,
                         "search.constraints: no subnet in %d random draws has macs in "
                         "[%.6g, %.6g] and params in [%.6g, %.6g]%s; the draws reached macs "
                         "[%.6g, %.6g] and params [%.6g, %.6g] (loosen the ranges, or raise "
                         "search.max_attempts)",
                         cfg->max_attempts, cfg->macs.min, cfg->macs.max, cfg->params.min,
                         cfg->params.max, latency, lo->macs, hi->macs, lo->params, hi->params);
}

enum mtd_status search_draw_feasible(const struct search_space *ss,
                                     const struct search_config *cfg,
                                     const struct latency_table *lat, struct rng *rng,
                                     struct subnet *out, struct mtd_error *err)
{
    struct subnet_cost lo = {INFINITY, INFINITY, INFINITY}, hi = {0.0, 0.0, 0.0};
    /* (fmin and fmax skip a NAN latency: a subnet the table lacks.) */
    for (int a = 0; a < cfg->max_attempts; a++) {
        out->n = search_space_ngroups(ss);
        search_space_sample(ss, SAMPLE_RANDOM, rng, out->choice);
        struct subnet_cost c;
        search_cost(ss, lat, out, &c);
        if (search_within(cfg, &c))
            return MTD_OK;
        lo = (struct subnet_cost){fmin(lo.macs, c.macs), fmin(lo.params, c.params),
                                  fmin(lo.latency, c.latency)};
        hi = (struct subnet_cost){fmax(hi.macs, c.macs), fmax(hi.params, c.params),
                                  fmax(hi.latency, c.latency)};
    }
    return too_tight(cfg, &lo, &hi, err);
}
