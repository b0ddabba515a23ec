/*
 * search_ckpt.c - search checkpoints: "search-<progress>.ckpt" in the run
 * directory, in the ckpt_io.h container, where progress is
 * generation * (population + 1) + candidates done (it only grows).
 *
 * Payload, version 2 (version 1: the same without the latency setting;
 * read as a search without a latency constraint), little-endian, doubles as
 * their 64 bits:
 *   u64 search-space fingerprint   u64 weights fingerprint   u64 seed
 *   u32 strategy  u32 population  u32 top_k  u32 num_mutation
 *   u32 num_crossover  u32 tournament  u32 max_attempts  u32 batch_size
 *   f64 mutate_prob  f64 crossover_prob  u64 macs, params and latency ranges
 *   (each: bits of min ^ 31 * bits of max)
 *   u32 groups
 *   u32 generation  u32 ncand  u32 cand_done, then ncand x groups u32 choices
 *   u64 entries, then per entry: groups u32 choices, u32 generation,
 *       f64 score, macs, params
 *   u32 npop, then npop u64 entry indices
 * The top-k and the hash index are rebuilt from the entries, in order.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ckpt_io.h"
#include "ckpt_series.h"
#include "search_state.h"

static const char magic[8] = {'M', 'T', 'D', 'S', 'R', 'C', 'H', '1'};
#define VERSION 2
#define PREFIX "search"

static uint64_t f64_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double bits_f64(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* The settings a checkpoint must agree on, in file order. Generations may
 * grow or shrink: the generations done stay done. */
struct setting {
    const char *name;
    uint64_t value;
};

enum { NSETTINGS = 16 };

static void settings_of(const struct search *s, struct setting *out)
{
    const struct search_config *c = &s->cfg;
    struct setting all[NSETTINGS] = {
        {"the search space (its groups and choices)", s->space_fingerprint},
        {"the supernet's weights (a checksum)", s->weights_fingerprint},
        {"search.seed", c->seed},
        {"search.strategy", (uint64_t)c->strategy},
        {"search.population", (uint64_t)c->population},
        {"search.top_k", (uint64_t)c->top_k},
        {"search.num_mutation", (uint64_t)c->num_mutation},
        {"search.num_crossover", (uint64_t)c->num_crossover},
        {"search.tournament", (uint64_t)c->tournament},
        {"search.max_attempts", (uint64_t)c->max_attempts},
        {"search.batch_size", (uint64_t)c->batch_size},
        {"search.mutate_prob (bits)", f64_bits(c->mutate_prob)},
        {"search.crossover_prob (bits)", f64_bits(c->crossover_prob)},
        {"search.constraints.macs (bits of min, max)", f64_bits(c->macs.min) ^ (f64_bits(c->macs.max) * 31)},
        {"search.constraints.params (bits of min, max)", f64_bits(c->params.min) ^ (f64_bits(c->params.max) * 31)},
        {"search.constraints.latency (bits of min, max)", f64_bits(c->latency.min) ^ (f64_bits(c->latency.max) * 31)},
    };
    memcpy(out, all, sizeof all);
}

static void write_choices(struct ckpt_writer *w, const struct subnet *sub)
{
    for (int g = 0; g < sub->n; g++)
        ckpt_write_u32(w, (uint32_t)sub->choice[g]);
}

static void write_f64(struct ckpt_writer *w, double v)
{
    ckpt_write_u64(w, f64_bits(v));
}

enum mtd_status search_ckpt_save(struct search *s, struct mtd_error *err)
{
    char path[PATH_MAX + 64];
    long progress = (long)s->generation * (s->cfg.population + 1) + s->cand_done;
    ckpt_series_path(s->run_dir, PREFIX, progress, path, sizeof path);
    struct ckpt_writer *w;
    enum mtd_status st = ckpt_writer_open(&w, path, magic, VERSION, err);
    if (st != MTD_OK)
        return st;
    struct setting set[NSETTINGS];
    settings_of(s, set);
    for (int i = 0; i < NSETTINGS; i++)
        ckpt_write_u64(w, set[i].value);
    const int groups = search_space_ngroups(s->ss);
    ckpt_write_u32(w, (uint32_t)groups);
    ckpt_write_u32(w, (uint32_t)s->generation);
    ckpt_write_u32(w, (uint32_t)s->ncand);
    ckpt_write_u32(w, (uint32_t)s->cand_done);
    for (int i = 0; i < s->ncand; i++)
        write_choices(w, &s->cand[i]);
    ckpt_write_u64(w, (uint64_t)s->nentries);
    for (long i = 0; i < s->nentries; i++) {
        const struct search_entry *e = &s->entries[i];
        write_choices(w, &e->subnet);
        ckpt_write_u32(w, (uint32_t)e->generation);
        write_f64(w, e->score);
        write_f64(w, e->macs);
        write_f64(w, e->params);
    }
    ckpt_write_u32(w, (uint32_t)s->npop);
    for (int i = 0; i < s->npop; i++)
        ckpt_write_u64(w, (uint64_t)s->pop[i]);
    if ((st = ckpt_writer_commit(w, err)) != MTD_OK)
        return st;
    ckpt_series_prune(s->run_dir, PREFIX, s->cfg.keep_checkpoints);
    return MTD_OK;
}

static int read_choices(struct ckpt_reader *r, const struct search *s, struct subnet *sub)
{
    sub->n = search_space_ngroups(s->ss);
    for (int g = 0; g < sub->n; g++) {
        uint32_t c;
        if (ckpt_read_u32(r, &c) || c >= (uint32_t)search_space_group(s->ss, g)->nchoices)
            return -1;
        sub->choice[g] = (int)c;
    }
    return 0;
}

static int read_f64(struct ckpt_reader *r, double *v)
{
    uint64_t u;
    if (ckpt_read_u64(r, &u))
        return -1;
    *v = bits_f64(u);
    return 0;
}

/* Everything after the settings; the state is rebuilt from scratch. */
static enum mtd_status load_state(struct search *s, struct ckpt_reader *r, const char *path,
                                  struct mtd_error *err)
{
    uint32_t groups, generation, ncand, cand_done, npop;
    uint64_t nentries;
    if (ckpt_read_u32(r, &groups) || groups != (uint32_t)search_space_ngroups(s->ss) ||
        ckpt_read_u32(r, &generation) || ckpt_read_u32(r, &ncand) ||
        ckpt_read_u32(r, &cand_done) || generation > SEARCH_MAX_GENERATIONS ||
        ncand > (uint32_t)s->cfg.population ||
        cand_done > (uint32_t)s->cfg.population ||
        (s->cfg.strategy == STRATEGY_TOPK && cand_done > ncand))
        return mtd_error_set(err, MTD_ERR_DATA, "%s: inconsistent search position", path);
    for (uint32_t i = 0; i < ncand; i++)
        if (read_choices(r, s, &s->cand[i]))
            return mtd_error_set(err, MTD_ERR_DATA, "%s: a bad candidate", path);
    s->nentries = 0;
    s->ntop = 0;
    s->npop = 0;
    if (s->table)
        memset(s->table, 0, (size_t)s->table_size * sizeof *s->table);
    if (ckpt_read_u64(r, &nentries))
        return mtd_error_set(err, MTD_ERR_DATA, "%s: truncated", path);
    for (uint64_t i = 0; i < nentries; i++) {
        struct search_entry e = {0};
        uint32_t gen;
        if (read_choices(r, s, &e.subnet) || ckpt_read_u32(r, &gen) || read_f64(r, &e.score) ||
            read_f64(r, &e.macs) || read_f64(r, &e.params) || gen > generation)
            return mtd_error_set(err, MTD_ERR_DATA, "%s: a bad scored subnet", path);
        e.generation = (int)gen;
        e.hash = subnet_hash(&e.subnet);
        if (search_find(s, e.hash) >= 0)
            return mtd_error_set(err, MTD_ERR_DATA, "%s: a subnet scored twice", path);
        enum mtd_status st = search_add(s, &e, err);
        if (st != MTD_OK)
            return st;
    }
    if (ckpt_read_u32(r, &npop) || npop > (uint32_t)s->cfg.population)
        return mtd_error_set(err, MTD_ERR_DATA, "%s: a bad population", path);
    for (uint32_t i = 0; i < npop; i++) {
        uint64_t e;
        if (ckpt_read_u64(r, &e) || e >= nentries)
            return mtd_error_set(err, MTD_ERR_DATA, "%s: a bad population member", path);
        s->pop[i] = (long)e;
    }
    if (ckpt_remaining(r) != 0)
        return mtd_error_set(err, MTD_ERR_DATA, "%s: trailing bytes", path);
    s->npop = (int)npop;
    s->generation = (int)generation;
    s->ncand = (int)ncand;
    s->cand_done = (int)cand_done;
    return MTD_OK;
}

static enum mtd_status load(void *ctx, const char *path, struct mtd_error *err)
{
    struct search *s = ctx;
    struct ckpt_reader r;
    enum mtd_status st = ckpt_reader_open(&r, path, magic, VERSION, err);
    if (st != MTD_OK)
        return st;
    struct setting set[NSETTINGS];
    settings_of(s, set);
    /* Version 1 had no latency constraint: its 15 settings, latency unset. */
    const int nsettings = r.version == 1 ? NSETTINGS - 1 : NSETTINGS;
    if (r.version == 1 && set[NSETTINGS - 1].value != (f64_bits(0.0) ^ (f64_bits(INFINITY) * 31)))
        st = mtd_error_set(err, MTD_ERR_CONFIG, "%s: written before search.constraints.latency "
                           "existed; a search with a latency constraint needs another run "
                           "directory, or --fresh", path);
    for (int i = 0; i < nsettings && st == MTD_OK; i++) {
        uint64_t stored;
        if (ckpt_read_u64(&r, &stored))
            st = mtd_error_set(err, MTD_ERR_DATA, "%s: truncated header", path);
        else if (stored != set[i].value && i < 2)
            st = mtd_error_set(err, MTD_ERR_CONFIG, "%s: written by a search with other %s "
                               "(use another run directory, or --fresh)", path, set[i].name);
        else
            st = ckpt_expect_same(path, set[i].name, stored, set[i].value, err);
    }
    if (st == MTD_OK)
        st = load_state(s, &r, path, err);
    ckpt_reader_close(&r);
    return st;
}

enum mtd_status search_ckpt_load_newest(struct search *s, int *found, struct mtd_error *err)
{
    return ckpt_series_load_newest(s->run_dir, PREFIX, "search", load, s, found, err);
}
