/*
 * search_config.c - the `search` config section (search.h).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "search.h"

static const char *const strategy_names[STRATEGY_COUNT] = {"topk", "regularized"};

const char *search_strategy_name(enum search_strategy s)
{
    return s >= 0 && s < STRATEGY_COUNT ? strategy_names[s] : "unknown";
}

static enum mtd_status get_int(const config_setting_t *s, const char *key, long long min,
                               long long max, int *out, struct mtd_error *err)
{
    long long v = *out;
    enum mtd_status st = conf_get_int(s, key, 0, min, max, &v, err);
    *out = (int)v;
    return st;
}

/* key = [min, max]: two numbers, min <= max. */
static enum mtd_status get_range(const config_setting_t *s, const char *key,
                                 struct search_range *out, struct mtd_error *err)
{
    const config_setting_t *list;
    enum mtd_status st = conf_get_list(s, key, 0, 2, 2, &list, err);
    if (st != MTD_OK || list == NULL)
        return st;
    double v[2];
    for (int i = 0; i < 2; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        int type = config_setting_type(e);
        if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64 && type != CONFIG_TYPE_FLOAT)
            return conf_error(err, list, "expected [min, max], two numbers");
        v[i] = config_setting_get_float(e);
        if (type != CONFIG_TYPE_FLOAT)
            v[i] = (double)config_setting_get_int64(e);
    }
    if (!(v[0] >= 0.0) || !(v[0] <= v[1]) || !isfinite(v[1]))
        return conf_error(err, list, "expected 0 <= min <= max, got [%g, %g]", v[0], v[1]);
    out->min = v[0];
    out->max = v[1];
    return MTD_OK;
}

enum mtd_status search_config_parse(const config_setting_t *search, struct search_config *cfg,
                                    struct mtd_error *err)
{
    *cfg = (struct search_config){
        .strategy = STRATEGY_TOPK, .generations = 20, .population = 50, .top_k = 10,
        .num_mutation = 25, .num_crossover = 25, .tournament = 10, .mutate_prob = 0.1,
        .crossover_prob = 0.5, .seed = 1, .macs = {0.0, INFINITY}, .params = {0.0, INFINITY}, .latency = {0.0, INFINITY},
        .max_attempts = 10000, .batch_size = 250, .checkpoint_every = 10, .keep_checkpoints = 3};
    if (search == NULL)
        return MTD_OK;
    static const char *const keys[] = {
        "strategy", "generations", "population", "top_k", "num_mutation", "num_crossover",
        "mutate_prob", "crossover_prob", "tournament", "seed", "constraints", "max_attempts",
        "batch_size", "checkpoint_every", "keep_checkpoints", "latency_table", NULL};
    static const char *const constraint_keys[] = {"macs", "params", "latency", NULL};
    const char *table = "";
    int strategy = (int)cfg->strategy;
    long long seed = (long long)cfg->seed;
    const config_setting_t *cons = NULL;
    enum mtd_status st;
    if ((st = conf_check_keys(search, keys, err)) != MTD_OK ||
        (st = conf_get_enum(search, "strategy", strategy_names, STRATEGY_COUNT, &strategy,
                            err)) != MTD_OK ||
        (st = get_int(search, "generations", 1, SEARCH_MAX_GENERATIONS, &cfg->generations, err)) != MTD_OK ||
        (st = get_int(search, "population", 1, SEARCH_MAX_POPULATION, &cfg->population,
                      err)) != MTD_OK ||
        (st = get_int(search, "top_k", 1, SEARCH_MAX_POPULATION, &cfg->top_k, err)) != MTD_OK ||
        (st = get_int(search, "num_mutation", 0, SEARCH_MAX_POPULATION, &cfg->num_mutation,
                      err)) != MTD_OK ||
        (st = get_int(search, "num_crossover", 0, SEARCH_MAX_POPULATION, &cfg->num_crossover,
                      err)) != MTD_OK ||
        (st = conf_get_double(search, "mutate_prob", 0, 0.0, 1.0, &cfg->mutate_prob, err)) != MTD_OK ||
        (st = conf_get_double(search, "crossover_prob", 0, 0.0, 1.0, &cfg->crossover_prob,
                              err)) != MTD_OK ||
        (st = get_int(search, "tournament", 1, SEARCH_MAX_POPULATION, &cfg->tournament,
                      err)) != MTD_OK ||
        (st = conf_get_int(search, "seed", 0, 0, LLONG_MAX, &seed, err)) != MTD_OK ||
        (st = get_int(search, "max_attempts", 1, 100000000, &cfg->max_attempts, err)) != MTD_OK ||
        (st = get_int(search, "batch_size", 1, 4096, &cfg->batch_size, err)) != MTD_OK ||
        (st = get_int(search, "checkpoint_every", 0, 1000000, &cfg->checkpoint_every,
                      err)) != MTD_OK ||
        (st = get_int(search, "keep_checkpoints", 1, 1000, &cfg->keep_checkpoints, err)) != MTD_OK ||
        (st = conf_get_string(search, "latency_table", 0, &table, err)) != MTD_OK ||
        (st = conf_get_group(search, "constraints", 0, &cons, err)) != MTD_OK)
        return st;
    if (strlen(table) >= sizeof cfg->latency_table)
        return conf_error(err, conf_child(search, "latency_table"), "path too long");
    snprintf(cfg->latency_table, sizeof cfg->latency_table, "%s", table);
    if (cons != NULL &&
        ((st = conf_check_keys(cons, constraint_keys, err)) != MTD_OK ||
         (st = get_range(cons, "macs", &cfg->macs, err)) != MTD_OK ||
         (st = get_range(cons, "params", &cfg->params, err)) != MTD_OK ||
         (st = get_range(cons, "latency", &cfg->latency, err)) != MTD_OK))
        return st;
    if (cons != NULL && conf_child(cons, "latency") != NULL && cfg->latency_table[0] == '\0')
        return conf_error(err, conf_child(cons, "latency"), "a latency constraint needs "
                          "search.latency_table (written by mutator-eval --latency-table)");
    cfg->strategy = (enum search_strategy)strategy;
    cfg->seed = (uint64_t)seed;
    if (cfg->num_mutation + cfg->num_crossover > cfg->population)
        return conf_error(err, search, "num_mutation + num_crossover (%d) exceeds the "
                          "population (%d)", cfg->num_mutation + cfg->num_crossover,
                          cfg->population);
    if (cfg->strategy == STRATEGY_REGULARIZED && cfg->tournament > cfg->population)
        return conf_error(err, search, "tournament (%d) exceeds the population (%d)",
                          cfg->tournament, cfg->population);
    return MTD_OK;
}
