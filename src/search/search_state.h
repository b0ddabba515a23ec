/*
 * search_state.h - the search's state, shared by the loop (evolution.c),
 * its checkpoints (search_ckpt.c) and its outputs (search_output.c).
 */
#ifndef MUTATORD_SEARCH_STATE_H
#define MUTATORD_SEARCH_STATE_H

#include <limits.h>

#include "ckpt_series.h"
#include "search.h"

struct search {
    struct search_space *ss;
    struct supernet *sn;
    struct search_config cfg;
    search_score_fn score;
    search_score_group_fn score_group;   /* NULL: one at a time */
    void *score_ctx;
    /* Scores the group scorer gave ahead of their candidates' turn (not
     * checkpointed: a resumed search scores them again, to the same bits). */
    int npending;
    uint64_t pending_hash[SEARCH_GROUP_MAX];
    double pending_score[SEARCH_GROUP_MAX];
    char run_dir[PATH_MAX];
    uint64_t space_fingerprint;     /* groups and their choices */
    uint64_t weights_fingerprint;   /* the supernet's weights */
    struct latency_table *lat;      /* NULL unless search.latency_table */

    /* Where the search is. Generation `generation` is under way (all done
     * when it equals cfg.generations); its candidates are cand[0, ncand)
     * (ncand = 0: not drawn yet), of which cand_done have been scored. */
    int generation;
    int ncand, cand_done;
    struct subnet *cand;            /* (population) */

    /* Every subnet scored, in the order scored, and an index by hash. */
    long nentries, cap_entries;
    struct search_entry *entries;
    long *table;                    /* open addressing: entry index + 1, or 0 */
    long table_size;                /* a power of two, > 2 * nentries */

    /* The best top_k entries, best first (ties: scored earlier first). */
    int ntop;
    long *top;                      /* (top_k) */

    /* "regularized": the living population, oldest first. */
    int npop;
    long *pop;                      /* (population) */

    struct ckpt_retry retry;        /* failed checkpoint writes in a row */
    search_hook hook;
    void *hook_ctx;
    long scored_this_run;
    double started;                 /* monotonic seconds at search_run */
};

/* The entry of a hash, or -1. */
long search_find(const struct search *s, uint64_t hash);

/* Adds a scored entry (not yet present): index, top-k and population. */
enum mtd_status search_add(struct search *s, const struct search_entry *e,
                           struct mtd_error *err);

/* Checkpoint of the current state, written atomically; older ones beyond
 * keep_checkpoints are removed. */
enum mtd_status search_ckpt_save(struct search *s, struct mtd_error *err);

/* The newest valid checkpoint (damaged ones logged and skipped); *found = 0
 * when there is none. */
enum mtd_status search_ckpt_load_newest(struct search *s, int *found, struct mtd_error *err);

/* history.csv, best/ and pareto.svg, each replaced atomically; final: the
 * summary goes to the log too. */
enum mtd_status search_write_outputs(const struct search *s, int final, struct mtd_error *err);

#endif
