/*
 * evolution.c - the evolutionary loop (search.h): drawing candidates from
 * the mutators under the constraints, scoring each subnet once, keeping
 * the top-k, and checkpointing as it goes.
 *
 * Random streams: the candidates of generation g of the "topk" strategy
 * are drawn at once from the stream (seed, g); child i of generation g of
 * the "regularized" strategy from the stream (seed, g, i). Both are drawn
 * from state that checkpoints hold (top-k, population), so a resumed
 * search draws exactly what an uninterrupted one would.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data.h"
#include "latency_table.h"
#include "log.h"
#include "memstat.h"
#include "search_state.h"
#include "train.h"

/* Keeps the search's streams apart from training's, which use the same
 * seed values. */
#define STREAM_SEARCH 0x7365617263680000ULL

/* ---- the score cache and the top-k ------------------------------------ */

long search_find(const struct search *s, uint64_t hash)
{
    if (s->table_size == 0)
        return -1;
    for (long i = (long)(hash & (uint64_t)(s->table_size - 1));; i = (i + 1) & (s->table_size - 1)) {
        long v = s->table[i];
        if (v == 0)
            return -1;
        if (s->entries[v - 1].hash == hash)
            return v - 1;
    }
}

static void table_insert(long *table, long size, uint64_t hash, long index)
{
    long i = (long)(hash & (uint64_t)(size - 1));
    while (table[i] != 0)
        i = (i + 1) & (size - 1);
    table[i] = index + 1;
}

static enum mtd_status grow(struct search *s, struct mtd_error *err)
{
    if (s->nentries < s->cap_entries && 2 * (s->nentries + 1) < s->table_size)
        return MTD_OK;
    long cap = s->cap_entries ? 2 * s->cap_entries : 256;
    struct search_entry *e = realloc(s->entries, (size_t)cap * sizeof *e);
    if (e == NULL)
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for %ld scored subnets", cap);
    s->entries = e;
    s->cap_entries = cap;
    long size = 4 * cap;
    long *table = calloc((size_t)size, sizeof *table);
    if (table == NULL)
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for the score index");
    for (long i = 0; i < s->nentries; i++)
        table_insert(table, size, s->entries[i].hash, i);
    free(s->table);
    s->table = table;
    s->table_size = size;
    return MTD_OK;
}

/* Entry a ranks before entry b: higher score, else scored earlier. */
static int ranks_before(const struct search *s, long a, long b)
{
    double sa = s->entries[a].score, sb = s->entries[b].score;
    return sa > sb || (sa == sb && a < b);
}

enum mtd_status search_add(struct search *s, const struct search_entry *e, struct mtd_error *err)
{
    enum mtd_status st = grow(s, err);
    if (st != MTD_OK)
        return st;
    long idx = s->nentries++;
    s->entries[idx] = *e;
    table_insert(s->table, s->table_size, e->hash, idx);
    /* Into the top-k by insertion. */
    int pos = s->ntop;
    while (pos > 0 && ranks_before(s, idx, s->top[pos - 1]))
        pos--;
    if (pos < s->cfg.top_k) {
        int last = s->ntop < s->cfg.top_k ? s->ntop : s->cfg.top_k - 1;
        memmove(s->top + pos + 1, s->top + pos, (size_t)(last - pos) * sizeof *s->top);
        s->top[pos] = idx;
        if (s->ntop < s->cfg.top_k)
            s->ntop++;
    }
    return MTD_OK;
}

/* ---- candidates ------------------------------------------------------- */

static int feasible(const struct search *s, const struct subnet *sub)
{
    struct subnet_cost c;
    search_cost(s->ss, s->lat, sub, &c);
    return search_within(&s->cfg, &c);
}

static void random_subnet(const struct search *s, struct rng *rng, struct subnet *out)
{
    out->n = search_space_ngroups(s->ss);
    search_space_sample(s->ss, SAMPLE_RANDOM, rng, out->choice);
}

static enum mtd_status draw_random(const struct search *s, struct rng *rng, struct subnet *out,
                                   struct mtd_error *err)
{
    return search_draw_feasible(s->ss, &s->cfg, s->lat, rng, out, err);
}

/* Each group of parent, with probability mutate_prob, from a fresh random
 * draw of the mutators (MMRazor's mutation). */
static void mutate(const struct search *s, struct rng *rng, const struct subnet *parent,
                   struct subnet *child)
{
    struct subnet fresh;
    random_subnet(s, rng, &fresh);
    *child = *parent;
    for (int g = 0; g < child->n; g++)
        if ((double)rng_uniform(rng) < s->cfg.mutate_prob)
            child->choice[g] = fresh.choice[g];
}

/* Each group from the second parent with probability crossover_prob. */
static void crossover(const struct search *s, struct rng *rng, const struct subnet *a,
                      const struct subnet *b, struct subnet *child)
{
    *child = *a;
    for (int g = 0; g < child->n; g++)
        if ((double)rng_uniform(rng) < s->cfg.crossover_prob)
            child->choice[g] = b->choice[g];
}

static const struct subnet *random_top(const struct search *s, struct rng *rng)
{
    return &s->entries[s->top[rng_below(rng, (uint64_t)s->ntop)]].subnet;
}

/* Choice by choice (search_order). */
static int choices_before(const void *a, const void *b)
{
    const struct subnet *x = a, *y = b;
    for (int g = 0; g < x->n && g < y->n; g++)
        if (x->choice[g] != y->choice[g])
            return x->choice[g] < y->choice[g] ? -1 : 1;
    return (x->n > y->n) - (x->n < y->n);
}

void search_order(struct subnet *subs, int n)
{
    qsort(subs, (size_t)n, sizeof *subs, choices_before);
}

/* The candidates of a "topk" generation: mutations and crossovers of the
 * top-k (each kind tried at most ten times per wanted candidate, as
 * MMRazor does), then random subnets up to the population; in the order
 * of their choices. */
static enum mtd_status draw_generation(struct search *s, struct mtd_error *err)
{
    struct rng rng;
    rng_seed(&rng, rng_derive(s->cfg.seed ^ STREAM_SEARCH, (uint64_t)s->generation));
    int n = 0;
    if (s->generation > 0 && s->ntop > 0) {
        for (int t = 0; t < 10 * s->cfg.num_mutation && n < s->cfg.num_mutation; t++) {
            mutate(s, &rng, random_top(s, &rng), &s->cand[n]);
            n += feasible(s, &s->cand[n]);
        }
        const int wanted = n + s->cfg.num_crossover;
        for (int t = 0; t < 10 * s->cfg.num_crossover && n < wanted; t++) {
            const struct subnet *a = random_top(s, &rng), *b = random_top(s, &rng);
            crossover(s, &rng, a, b, &s->cand[n]);
            n += feasible(s, &s->cand[n]);
        }
    }
    for (; n < s->cfg.population; n++) {
        enum mtd_status st = draw_random(s, &rng, &s->cand[n], err);
        if (st != MTD_OK)
            return st;
    }
    search_order(s->cand, n);
    s->ncand = n;
    s->cand_done = 0;
    return MTD_OK;
}

/* Child i of a "regularized" generation: generation 0 is the random
 * initial population; later ones mutate the winner of a tournament. */
static enum mtd_status draw_child(struct search *s, int i, struct subnet *out,
                                  struct mtd_error *err)
{
    struct rng rng;
    rng_seed(&rng, rng_derive(rng_derive(s->cfg.seed ^ STREAM_SEARCH, (uint64_t)s->generation),
                              (uint64_t)i));
    if (s->generation == 0 || s->npop == 0)
        return draw_random(s, &rng, out, err);
    for (int t = 0; t < s->cfg.max_attempts; t++) {
        long best = -1;
        for (int k = 0; k < s->cfg.tournament; k++) {
            long e = s->pop[rng_below(&rng, (uint64_t)s->npop)];
            if (best < 0 || ranks_before(s, e, best))
                best = e;
        }
        mutate(s, &rng, &s->entries[best].subnet, out);
        if (feasible(s, out))
            return MTD_OK;
    }
    return draw_random(s, &rng, out, err);
}

/* "regularized": the child joins the population, whose oldest member dies
 * once it is full. */
static void age_population(struct search *s, long entry)
{
    if (s->npop == s->cfg.population) {
        memmove(s->pop, s->pop + 1, (size_t)(s->npop - 1) * sizeof *s->pop);
        s->npop--;
    }
    s->pop[s->npop++] = entry;
}

/* ---- running ---------------------------------------------------------- */

static uint64_t space_fingerprint(const struct search_space *ss)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    int n = search_space_ngroups(ss);
    for (int g = 0; g < n; g++) {
        const struct search_group *grp = search_space_group(ss, g);
        crc = crc32(crc, (const Bytef *)grp->name, (uInt)strlen(grp->name));
        for (int c = 0; c < grp->nchoices; c++)
            crc = crc32(crc, (const Bytef *)grp->choices[c].label,
                        (uInt)strlen(grp->choices[c].label) + 1);
    }
    return ((uint64_t)n << 32) | (uint64_t)crc;
}

static uint64_t weights_fingerprint(struct supernet *sn)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    const Bytef *w = (const Bytef *)supernet_weights(sn);
    size_t bytes = supernet_weights_size(sn) * sizeof(float);
    for (size_t at = 0; at < bytes; at += 1u << 30) {
        size_t len = bytes - at < (1u << 30) ? bytes - at : (1u << 30);
        crc = crc32(crc, w + at, (uInt)len);
    }
    return ((uint64_t)supernet_weights_size(sn) << 32) ^ (uint64_t)crc;
}

enum mtd_status search_create(struct search **out, struct search_space *ss,
                              const struct search_config *cfg, search_score_fn score,
                              void *score_ctx, const char *run_dir, struct mtd_error *err)
{
    struct search *s = calloc(1, sizeof *s);
    if (s == NULL)
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for the search");
    s->ss = ss;
    s->sn = search_space_supernet(ss);
    s->cfg = *cfg;
    s->score = score;
    s->score_ctx = score_ctx;
    snprintf(s->run_dir, sizeof s->run_dir, "%s", run_dir);
    s->space_fingerprint = space_fingerprint(ss);
    s->weights_fingerprint = weights_fingerprint(s->sn);
    s->cand = calloc((size_t)cfg->population, sizeof *s->cand);
    s->top = calloc((size_t)cfg->top_k, sizeof *s->top);
    s->pop = calloc((size_t)cfg->population, sizeof *s->pop);
    enum mtd_status st = MTD_OK;
    if (s->cand == NULL || s->top == NULL || s->pop == NULL)
        st = mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for the search");
    if (st == MTD_OK)
        st = grow(s, err);
    if (st == MTD_OK && cfg->latency_table[0] != '\0')
        st = latency_table_load(&s->lat, s->sn, cfg->latency_table, err);
    if (st != MTD_OK) {
        search_free(s);
        return st;
    }
    *out = s;
    return MTD_OK;
}

void search_free(struct search *s)
{
    if (s == NULL)
        return;
    free(s->cand);
    free(s->top);
    free(s->pop);
    free(s->entries);
    free(s->table);
    latency_table_free(s->lat);
    free(s);
}

enum mtd_status search_resume(struct search *s, int *resumed, struct mtd_error *err)
{
    enum mtd_status st = search_ckpt_load_newest(s, resumed, err);
    if (st == MTD_OK && *resumed)
        log_msg(LOG_INFO, "search resumed at generation %d/%d, candidate %d, %ld subnets scored",
                s->generation + 1 > s->cfg.generations ? s->cfg.generations : s->generation + 1,
                s->cfg.generations, s->cand_done, s->nentries);
    return st;
}

void search_set_group_scorer(struct search *s, search_score_group_fn score_group)
{
    s->score_group = score_group;
    s->npending = 0;
}

void search_set_hook(struct search *s, search_hook hook, void *ctx)
{
    s->hook = hook;
    s->hook_ctx = ctx;
}

static void call_hook(const struct search *s)
{
    if (s->hook == NULL)
        return;
    struct search_progress p;
    search_get_progress(s, &p);
    s->hook(s->hook_ctx, &p, s->ntop ? search_top(s, 0) : NULL);
}

int search_done(const struct search *s)
{
    return s->generation >= s->cfg.generations;
}

const struct search_entry *search_top(const struct search *s, int i)
{
    return &s->entries[s->top[i]];
}

int search_ntop(const struct search *s)
{
    return s->ntop;
}

void search_get_progress(const struct search *s, struct search_progress *p)
{
    p->generation = s->generation;
    p->generations = s->cfg.generations;
    p->candidate = s->cand_done;
    p->candidates = s->cfg.population;
    p->scored = s->nentries;
    p->best = s->ntop > 0 ? s->entries[s->top[0]].score : -1.0;
    /* Cache hits cost nothing: an upper bound from the scoring rate. */
    long left = (long)(s->cfg.generations - s->generation) * s->cfg.population - s->cand_done;
    double elapsed = monotonic_seconds() - s->started;
    p->eta_s = left <= 0 ? 0.0
               : s->scored_this_run > 0 ? elapsed / (double)s->scored_this_run * (double)left
                                        : -1.0;
}

static int pending_at(const struct search *s, uint64_t hash)
{
    for (int i = 0; i < s->npending; i++)
        if (s->pending_hash[i] == hash)
            return i;
    return -1;
}

/* The pending score of hash, taken out of the list; 0: none. */
static int take_pending(struct search *s, uint64_t hash, double *score)
{
    const int i = pending_at(s, hash);
    if (i < 0)
        return 0;
    *score = s->pending_score[i];
    s->pending_hash[i] = s->pending_hash[--s->npending];
    s->pending_score[i] = s->pending_score[s->npending];
    return 1;
}

/* With a group scorer, when the generation's candidate i is neither
 * scored nor pending: the scores of it and of the next candidates in the
 * same case (each once), as many as the scorer takes at once and at most
 * `most`. */
static enum mtd_status score_ahead(struct search *s, int i, long most, struct mtd_error *err)
{
    const uint64_t first = subnet_hash(&s->cand[i]);
    if (s->score_group == NULL || search_find(s, first) >= 0 || pending_at(s, first) >= 0)
        return MTD_OK;
    struct subnet subs[SEARCH_GROUP_MAX];
    uint64_t hash[SEARCH_GROUP_MAX];
    double scores[SEARCH_GROUP_MAX];
    int n = 0;
    for (; i < s->ncand && n < SEARCH_GROUP_MAX && n < most && s->npending + n < SEARCH_GROUP_MAX;
         i++) {
        const uint64_t h = subnet_hash(&s->cand[i]);
        int seen = search_find(s, h) >= 0 || pending_at(s, h) >= 0;
        for (int j = 0; j < n && !seen; j++)
            seen = hash[j] == h;
        if (!seen) {
            subs[n] = s->cand[i];
            hash[n++] = h;
        }
    }
    int scored = 0;
    enum mtd_status st = s->score_group(s->score_ctx, subs, n, scores, &scored, err);
    for (int j = 0; st == MTD_OK && j < scored && j < n; j++) {
        s->pending_hash[s->npending] = hash[j];
        s->pending_score[s->npending++] = scores[j];
    }
    return st;
}

/* Scores sub unless it is in the cache. *scored tells whether it was. */
static enum mtd_status score_once(struct search *s, const struct subnet *sub, long *entry,
                                  int *scored, struct mtd_error *err)
{
    uint64_t hash = subnet_hash(sub);
    *entry = search_find(s, hash);
    *scored = 0;
    if (*entry >= 0)
        return MTD_OK;
    struct search_entry e = {.subnet = *sub, .hash = hash, .generation = s->generation};
    struct subnet_cost c;
    search_cost(s->ss, NULL, sub, &c);
    e.macs = c.macs;
    e.params = c.params;
    enum mtd_status st =
        take_pending(s, hash, &e.score) ? MTD_OK : s->score(s->score_ctx, sub, &e.score, err);
    if (st == MTD_OK)
        st = search_add(s, &e, err);
    *entry = s->nentries - 1;
    *scored = 1;
    return st;
}

static enum mtd_status save(struct search *s, struct mtd_error *err)
{
    enum mtd_status st = search_ckpt_save(s, err);
    if (st == MTD_OK)
        st = search_write_outputs(s, 0, err);
    return st;
}

/* A checkpoint on the way: a failed write is retried at the next point. */
static enum mtd_status checkpoint(struct search *s, struct mtd_error *err)
{
    return ckpt_retry_note(&s->retry, save(s, err), err);
}

/* The last one, when stopping: nothing later would retry it. */
static enum mtd_status final_checkpoint(struct search *s, struct mtd_error *err)
{
    enum mtd_status st = save(s, err);
    if (st != MTD_OK)
        log_msg(LOG_ERROR, "%s", err->msg);
    return st;
}

static void log_generation(const struct search *s)
{
    const struct search_entry *best = s->ntop ? search_top(s, 0) : NULL;
    /* The peak RSS lets an operator see that memory stays flat over a
     * long search. */
    log_msg(LOG_INFO, "generation %d/%d done: %ld subnets scored, best %.2f%% (%.4g MACs, %.4g "
            "params), peak RSS %ld KiB", s->generation, s->cfg.generations, s->nentries,
            best ? 100.0 * best->score : 0.0, best ? best->macs : 0.0, best ? best->params : 0.0,
            peak_rss_kib());
}

enum mtd_status search_run(struct search *s, const volatile sig_atomic_t *stop, long max_scored,
                           struct mtd_error *err)
{
    enum mtd_status st = MTD_OK;
    long since_ckpt = 0;
    s->started = monotonic_seconds();
    s->scored_this_run = 0;
    if (!search_done(s))
        log_msg(LOG_INFO, "search: %s, %d generations of %d candidates, top %d",
                search_strategy_name(s->cfg.strategy), s->cfg.generations, s->cfg.population,
                s->cfg.top_k);
    struct progress bar;
    char label[32], extra[96];
    call_hook(s);  /* where the search is, even when there is nothing left */
    while (!search_done(s) && st == MTD_OK) {
        if (s->cfg.strategy == STRATEGY_TOPK && s->ncand == 0 &&
            (st = draw_generation(s, err)) != MTD_OK)
            break;
        snprintf(label, sizeof label, "generation %d/%d", s->generation + 1, s->cfg.generations);
        /* Without a terminal: about four log lines per generation. */
        progress_begin(&bar, label, s->cfg.population, (s->cfg.population + 3) / 4);
        while (s->cand_done < s->cfg.population) {
            if ((stop && *stop) || (max_scored >= 0 && s->scored_this_run >= max_scored))
                goto stopped;
            struct subnet child;
            const struct subnet *sub = &child;
            if (s->cfg.strategy == STRATEGY_TOPK)
                sub = &s->cand[s->cand_done];
            else if ((st = draw_child(s, s->cand_done, &child, err)) != MTD_OK)
                goto stopped;
            long entry;
            int scored;
            /* Not past max_scored: a stopped search scores nothing it
             * then drops. */
            const long budget = max_scored >= 0 ? max_scored - s->scored_this_run : SEARCH_GROUP_MAX;
            if (s->cfg.strategy == STRATEGY_TOPK &&
                (st = score_ahead(s, s->cand_done, budget, err)) != MTD_OK)
                goto stopped;
            if ((st = score_once(s, sub, &entry, &scored, err)) != MTD_OK)
                goto stopped;
            if (s->cfg.strategy == STRATEGY_REGULARIZED)
                age_population(s, entry);
            s->cand_done++;
            s->scored_this_run += scored;
            since_ckpt += scored;
            snprintf(extra, sizeof extra, "best %.2f%%",
                     s->ntop ? 100.0 * search_top(s, 0)->score : 0.0);
            struct search_progress p;
            search_get_progress(s, &p);
            progress_update(&bar, s->cand_done, p.eta_s, extra);
            call_hook(s);
            if (s->cfg.checkpoint_every > 0 && since_ckpt >= s->cfg.checkpoint_every) {
                since_ckpt = 0;
                if ((st = checkpoint(s, err)) != MTD_OK)
                    goto stopped;
            }
        }
        progress_end(&bar);
        s->generation++;
        s->ncand = 0;
        s->cand_done = 0;
        since_ckpt = 0;
        log_generation(s);
        call_hook(s);
        st = checkpoint(s, err);
    }
    if (st == MTD_OK && s->retry.failures > 0)
        st = final_checkpoint(s, err);   /* the last one failed: once more */
    if (st == MTD_OK && search_done(s))
        st = search_write_outputs(s, 1, err);
    return st;
stopped:
    progress_end(&bar);
    if (st != MTD_OK && st != MTD_STOPPED)
        return st;
    return final_checkpoint(s, err);
}

/* ---- the default scorer ----------------------------------------------- */

enum mtd_status search_score_accuracy(void *ctx, const struct subnet *sub, double *score,
                                      struct mtd_error *err)
{
    struct search_eval_ctx *c = ctx;
    struct supernet *sn = search_space_supernet(c->ss);
    struct arch arch;
    search_space_to_arch(c->ss, sub->choice, &arch);
    enum mtd_status st = supernet_set_arch(sn, &arch, err);
    if (st == MTD_OK)
        st = evaluate_arch(sn, c->d, c->calib, c->val, c->batch, c->stop, score, err);
    return st;
}

enum mtd_status search_score_accuracy_group(void *ctx, const struct subnet *subs, int n,
                                            double *scores, int *scored, struct mtd_error *err)
{
    struct search_eval_ctx *c = ctx;
    struct supernet *sn = search_space_supernet(c->ss);
    struct arch archs[SEARCH_GROUP_MAX];
    const int most = n < SUPERNET_GROUP_MAX ? n : SUPERNET_GROUP_MAX;
    int k = 1;
    search_space_to_arch(c->ss, subs[0].choice, &archs[0]);
    /* While each shares a cell with the one before (and so the layouts). */
    for (; k < most; k++) {
        search_space_to_arch(c->ss, subs[k].choice, &archs[k]);
        if (supernet_shared_cells(sn, &archs[k - 1], &archs[k]) == 0)
            break;
    }
    *scored = k;
    if (k == 1)
        return search_score_accuracy(ctx, &subs[0], &scores[0], err);
    return evaluate_archs(sn, c->d, c->calib, c->val, c->batch, c->stop, archs, k, scores, err);
}
