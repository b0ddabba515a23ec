/*
 * search.h - the evolutionary search over a trained supernet.
 *
 * Config section (every key optional; defaults in brackets, MMRazor's
 * EvolutionSearchLoop where it has one):
 *
 *   search = {
 *     strategy = "topk";         # ["topk"]: each generation is bred from the
 *                                #   top_k best subnets seen so far;
 *                                # "regularized": aging evolution, each child
 *                                #   from a tournament in a population whose
 *                                #   oldest member dies as a child is born
 *     generations = 20;          # [20]
 *     population = 50;           # [50] candidates per generation
 *     top_k = 10;                # [10] subnets kept (and written to best/)
 *     num_mutation = 25;         # [25] mutated candidates per generation
 *     num_crossover = 25;        # [25] crossed-over candidates per generation
 *     mutate_prob = 0.1;         # [0.1] per group, of a new random choice
 *     crossover_prob = 0.5;      # [0.5] per group, of the second parent's
 *     tournament = 10;           # [10] regularized: subnets per tournament
 *     seed = 1;                  # [1]
 *     constraints = { macs = [0.0, 1.3e7]; params = [0.0, 2.2e5];
 *                     latency = [0.0, 1.5]; };
 *                                # [none] closed ranges a candidate must be in;
 *                                #   latency in ms, predicted by the table below
 *     latency_table = "latency.csv";  # [none] mutator-eval --latency-table's
 *                                #   output (latency_table.h); relative to the
 *                                #   working directory
 *     max_attempts = 10000;      # [10000] draws to find a feasible candidate
 *                                #   before the constraints are called too tight
 *     batch_size = 250;          # [250] of calibration and evaluation
 *     checkpoint_every = 10;     # [10] candidates; also after every generation
 *     keep_checkpoints = 3;      # [3]
 *   };
 *
 * Scores: top-1 accuracy on the validation split after BN recalibration on
 * the calibration set (exact averages), so every score is a function of the
 * weights and the subnet only. A subnet is scored once (a cache keyed by its
 * hash) and holds at most one top-k slot; ties are broken by the order in
 * which subnets were first scored.
 *
 * Determinism and resume: every random draw of generation g comes from a
 * stream derived from (seed, g) (and the child's index for "regularized"),
 * and a checkpoint holds the whole state, so a search stopped or killed at
 * any point and restarted ends with the same top-k, bit for bit.
 */
#ifndef MUTATORD_SEARCH_H
#define MUTATORD_SEARCH_H

#include <libconfig.h>
#include <signal.h>
#include <stdint.h>

#include "status.h"
#include "subnet.h"

#define SEARCH_MAX_POPULATION 4096
#define SEARCH_MAX_GENERATIONS 100000

/* Written to checkpoints: append only. */
enum search_strategy { STRATEGY_TOPK, STRATEGY_REGULARIZED, STRATEGY_COUNT };

const char *search_strategy_name(enum search_strategy s);

struct search_range {
    double min, max;
};

struct search_config {
    enum search_strategy strategy;
    int generations, population, top_k, num_mutation, num_crossover, tournament;
    double mutate_prob, crossover_prob;
    uint64_t seed;
    struct search_range macs, params, latency;
    int max_attempts, batch_size, checkpoint_every, keep_checkpoints;
    char latency_table[4096];     /* "" when none */
};

/* Defaults, then the keys of group `search` (which may be NULL). Errors
 * name file and line. */
enum mtd_status search_config_parse(const config_setting_t *search, struct search_config *cfg,
                                    struct mtd_error *err);

/* --- Constraints (constraints.c) ---------------------------------------- */

struct latency_table;
struct rng;

/* What a subnet costs: MACs and params by counting; latency in ms from the
 * table (0 when lat is NULL). */
struct subnet_cost {
    double macs, params, latency;
};
void search_cost(const struct search_space *ss, const struct latency_table *lat,
                 const struct subnet *s, struct subnet_cost *out);
/* Whether a cost is within every range of cfg. */
int search_within(const struct search_config *cfg, const struct subnet_cost *c);
/* A random subnet within the constraints, in at most cfg->max_attempts
 * draws from rng; else a configuration error saying what the draws
 * reached. */
enum mtd_status search_draw_feasible(const struct search_space *ss,
                                     const struct search_config *cfg,
                                     const struct latency_table *lat, struct rng *rng,
                                     struct subnet *out, struct mtd_error *err);

/* Scores a subnet (the default: BN calibration and validation accuracy on
 * the supernet). MTD_STOPPED: cut short by a stop request; the subnet is
 * scored again after a resume. */
typedef enum mtd_status (*search_score_fn)(void *ctx, const struct subnet *s, double *score,
                                           struct mtd_error *err);

/* Scores subs[0, n) together where that saves work: *scored of them (at
 * least one, the first ones), each scores[i] the score search_score_fn
 * gives subs[i] alone. */
enum { SEARCH_GROUP_MAX = 16 };
typedef enum mtd_status (*search_score_group_fn)(void *ctx, const struct subnet *subs, int n,
                                                 double *scores, int *scored,
                                                 struct mtd_error *err);

/* One scored subnet. */
struct search_entry {
    struct subnet subnet;
    uint64_t hash;
    int generation;                /* in which it was first scored */
    double score, macs, params;
};

struct search;

/* A search over ss with checkpoints and outputs in run_dir (which must
 * exist). Nothing is read yet. */
enum mtd_status search_create(struct search **out, struct search_space *ss,
                              const struct search_config *cfg, search_score_fn score,
                              void *score_ctx, const char *run_dir, struct mtd_error *err);
void search_free(struct search *s);

/* Restores the newest valid search checkpoint of the run directory, if any
 * (as trainer_resume does). */
enum mtd_status search_resume(struct search *s, int *resumed, struct mtd_error *err);

/* Runs until the last generation is done, *stop becomes nonzero (checked
 * between candidates) or max_scored candidates have been scored in this
 * call (< 0: no limit); then writes a checkpoint and the outputs. */
enum mtd_status search_run(struct search *s, const volatile sig_atomic_t *stop, long max_scored,
                           struct mtd_error *err);

int search_done(const struct search *s);

/* The best subnets so far, best first; *n of them. Valid until the next
 * call that changes the search. */
const struct search_entry *search_top(const struct search *s, int i);
int search_ntop(const struct search *s);

/* Progress for status reports. */
struct search_progress {
    int generation, generations;
    int candidate, candidates;     /* within the generation */
    long scored;                   /* subnets scored in all */
    double best;                   /* best score so far (-1: none) */
    double eta_s;                  /* to the end, from this run's scoring
                                      rate (-1: not known yet) */
};
void search_get_progress(const struct search *s, struct search_progress *p);

/* Called by search_run after every candidate, from the thread running it;
 * the best entry may be NULL. */
typedef void (*search_hook)(void *ctx, const struct search_progress *p,
                            const struct search_entry *best);
void search_set_hook(struct search *s, search_hook hook, void *ctx);

/* A "topk" generation's candidates are scored in the order of their
 * choices, and with a group scorer (which takes the score function's
 * context) up to SEARCH_GROUP_MAX of them that are not scored yet are
 * handed to it at once. */
void search_set_group_scorer(struct search *s, search_score_group_fn score_group);

/* The order a "topk" generation is scored in: choice by choice, so that
 * candidates that begin with the same choices come together. */
void search_order(struct subnet *subs, int n);

/* The default scorer: its context. */
struct data;
struct data_split;
struct search_eval_ctx {
    struct search_space *ss;
    const struct data *d;
    const struct data_split *calib, *val;
    int batch;
    const volatile sig_atomic_t *stop;  /* may be NULL: cuts a score short */
};
enum mtd_status search_score_accuracy(void *ctx, const struct subnet *s, double *score,
                                      struct mtd_error *err);
/* Its group scorer: evaluate_archs of the leading subnets (at most 16)
 * each of which shares its first cell at least with the one before. */
enum mtd_status search_score_accuracy_group(void *ctx, const struct subnet *subs, int n,
                                            double *scores, int *scored, struct mtd_error *err);

#endif
