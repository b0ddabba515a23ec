/*
 * trainer_state.h - the trainer's state, shared by the training loop
 * (trainer.c) and its checkpoints (train_ckpt.c).
 */
#ifndef MUTATORD_TRAINER_STATE_H
#define MUTATORD_TRAINER_STATE_H

#include <limits.h>

#include "ckpt_series.h"
#include "train.h"

/* Paths of one step at most: max, min and 64 random (sandwich), or every
 * configuration of a slimmable mutator. */
#define TRAIN_MAX_PATHS 68

struct trainer {
    struct search_space *ss;
    struct supernet *sn;
    const struct data *d;
    struct train_config cfg;
    char run_dir[PATH_MAX];
    uint64_t fingerprint;           /* of the supernet's parameter table */

    struct data_split train, val, calib;
    long steps_per_epoch, total_steps, warmup_steps;

    /* Where the training is: epoch, step within it, steps overall. The
     * whole random state is a function of these and the seed. */
    int epoch;
    long step, global_step;
    int done;

    int (*paths)[SEARCH_SPACE_MAX_GROUPS];  /* (TRAIN_MAX_PATHS) a step's choices */
    int *order;                     /* (train.count) the epoch's order */
    int order_epoch;                /* the epoch `order` is of, or -1 */
    int slimmable_group;            /* the sampler's group, or -1 */
    int fixed[SEARCH_SPACE_MAX_GROUPS];     /* SAMPLER_FIXED: the subnet */
    float *images;                  /* (batch, 1, H, W) */
    int *labels;                    /* (batch) */
    float *dlogits, *probs;         /* (batch, classes) */
    float *teacher_logits, *teacher_probs;  /* (batch, classes) */

    struct ckpt_retry retry;                 /* failed checkpoint writes in a row */
    const volatile sig_atomic_t *stop;       /* of the trainer_run under way */
    trainer_hook hook;                       /* progress, after every step */
    void *hook_ctx;
};

/* Checkpoint file of the current state, written atomically; older ones
 * beyond keep_checkpoints are removed. */
enum mtd_status train_ckpt_save(struct trainer *t, struct mtd_error *err);

/* Loads the newest valid checkpoint (damaged ones are logged and skipped);
 * *found = 0 when there is none. */
enum mtd_status train_ckpt_load_newest(struct trainer *t, int *found, struct mtd_error *err);

#endif
