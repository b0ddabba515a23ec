/*
 * train.h - supernet training by path sampling.
 *
 * Config section (every key optional; defaults in brackets):
 *
 *   train = {
 *     epochs = 10;               # [10]
 *     batch_size = 128;          # [128]
 *     seed = 1;                  # [1] weights, data order, augmentation, paths
 *     sampler = "uniform";       # "uniform": one random path per batch (SPOS);
 *                                # "sandwich": max, min and `random` paths per
 *                                #   batch, gradients summed, one step;
 *                                # "slimmable": every configuration of the
 *                                #   SlimmableChannelMutator per batch
 *     random = 2;                # [2] sandwich: random paths besides max and min
 *     distill = true;            # [true] sandwich/slimmable: paths other than
 *                                #   the max one learn the max path's soft
 *                                #   output (KL) instead of the labels
 *     temperature = 1.0;         # [1.0] of the distillation
 *     label_smoothing = 0.0;     # [0.0] of the cross-entropy
 *     optimizer = { lr = 0.1; momentum = 0.9; nesterov = true;
 *                   weight_decay = 4e-5; decay_norm_and_bias = false; };
 *     schedule = { type = "cosine"; # or "poly"
 *                  warmup_epochs = 0.5; min_lr = 0.0; power = 1.0; };
 *     checkpoint_every = 200;    # [200] steps; 0: at epoch ends only
 *     keep_checkpoints = 3;      # [3] newest training checkpoints kept
 *     log_every = 50;            # [50] steps between log lines (no terminal)
 *     report_random = 20;        # [0] when training ends: validation accuracy
 *                                #   (BN-calibrated) of this many random subnets
 *   };
 *
 * Determinism: the same config, seed and thread count give the same
 * weights, bit for bit, whether or not the training was interrupted and
 * resumed from a checkpoint. Every random draw comes from a stream derived
 * from (seed, step) or (seed, epoch, position), so a checkpoint restores
 * the random state by restoring the counters.
 */
#ifndef MUTATORD_TRAIN_H
#define MUTATORD_TRAIN_H

#include <libconfig.h>
#include <signal.h>
#include <stdint.h>

#include "data.h"
#include "search_space.h"
#include "sgd.h"
#include "status.h"

/* Written to checkpoints: append only. */
enum train_sampler {
    SAMPLER_UNIFORM,
    SAMPLER_SANDWICH,
    SAMPLER_SLIMMABLE,
    SAMPLER_FIXED,      /* finetuning one subnet (trainer_fix_subnet); not a config value */
    SAMPLER_COUNT
};
enum lr_schedule { SCHEDULE_COSINE, SCHEDULE_POLY, SCHEDULE_COUNT };

const char *train_sampler_name(enum train_sampler s);

struct train_config {
    int epochs, batch_size;
    uint64_t seed;
    enum train_sampler sampler;
    int sandwich_random;
    int distill;
    float temperature;
    float label_smoothing;
    struct sgd_config sgd;        /* lr is the base learning rate */
    int decay_norm_and_bias;
    enum lr_schedule schedule;
    double warmup_epochs, min_lr, power;
    int checkpoint_every, keep_checkpoints, log_every;
    int report_random;
};

/* The defaults in brackets above. */
void train_config_defaults(struct train_config *cfg);

/* Defaults, then the keys of group `train` (which may be NULL). */
enum mtd_status train_config_parse(const config_setting_t *train, struct train_config *cfg,
                                   struct mtd_error *err);

/* The settings of a finetune (mutator-eval --finetune, --rank): `train`'s,
 * then the keys of group `finetune` (which may be NULL):
 *
 *   finetune = { batch_size; seed; label_smoothing; optimizer = {...};
 *                schedule = {...}; checkpoint_every; keep_checkpoints; log_every; };
 *
 * A finetune trains one fixed subnet for the epochs its command gives, so
 * epochs, sampler, random, distill, temperature and report_random are not
 * taken. */
enum mtd_status train_config_parse_finetune(const config_setting_t *finetune,
                                            const struct train_config *train,
                                            struct train_config *cfg, struct mtd_error *err);

/* The learning rate of step `step` (from 0) of `total`: linear warm-up
 * from lr / warmup_steps to lr over the warm-up steps, then cosine from lr
 * to min_lr, or poly: min_lr + (lr - min_lr) * (1 - t)^power. */
double train_lr(const struct train_config *cfg, long step, long total, long warmup_steps);

/* Accuracy (top-1, in [0, 1]) of the supernet's current arch on `eval`,
 * after recalibrating its BN statistics on `calib` (exact averages; NULL:
 * the running statistics as they are, e.g. those of an exported model),
 * in batches of `batch` images; top-1 runs in larger ones when they fit
 * in 8 MiB of input (2,048 28 x 28 images; the same accuracy whatever the
 * batch: an image's logits do not depend on it). MTD_STOPPED when *stop
 * (may be NULL) becomes nonzero between batches. */
enum mtd_status evaluate_arch(struct supernet *sn, const struct data *d,
                              const struct data_split *calib, const struct data_split *eval,
                              int batch, const volatile sig_atomic_t *stop, double *accuracy,
                              struct mtd_error *err);

/* The batch top-1 runs in for h x w images and calibration batches of
 * `batch` (evaluate_arch). */
int evaluate_top1_batch(int h, int w, int batch);

/* evaluate_arch of each of archs[0, k) (k <= SUPERNET_GROUP_MAX, all
 * with the same layouts), each accuracy[j] the one it gets alone, as a
 * group (supernet_group_create: sorted archs run their common cells
 * once); the supernet is left at the last arch, as evaluate_arch leaves
 * it. */
enum mtd_status evaluate_archs(struct supernet *sn, const struct data *d,
                               const struct data_split *calib, const struct data_split *eval,
                               int batch, const volatile sig_atomic_t *stop,
                               const struct arch *archs, int k, double *accuracy,
                               struct mtd_error *err);

struct trainer;

struct train_progress {
    int epoch, epochs;            /* epoch in [0, epochs) being run */
    long step, steps_per_epoch;   /* step within the epoch */
    double loss, images_per_s, eta_s;
};

/* Called by trainer_run after every step (and as validation ends), from
 * the thread running it. */
typedef void (*trainer_hook)(void *ctx, const struct train_progress *p);

/* A trainer for the search space's supernet on d's training split, with
 * checkpoints in run_dir (which must exist). Nothing is read yet. */
enum mtd_status trainer_create(struct trainer **out, struct search_space *ss,
                               const struct data *d, const struct train_config *cfg,
                               const char *run_dir, struct mtd_error *err);
void trainer_free(struct trainer *t);

/* Restores the newest valid training checkpoint of the run directory, if
 * any: damaged ones are reported (log) and skipped; one of another search
 * space or training setup is an error saying what differs. *resumed tells
 * whether one was loaded. */
enum mtd_status trainer_resume(struct trainer *t, int *resumed, struct mtd_error *err);

/* Trains until the last epoch is done, *stop becomes nonzero (checked
 * between batches) or max_steps steps have run in this call (< 0: no
 * limit); then writes a checkpoint. Progress: a bar on a terminal, log
 * lines otherwise. */
enum mtd_status trainer_run(struct trainer *t, const volatile sig_atomic_t *stop,
                            long max_steps, struct mtd_error *err);

int trainer_done(const struct trainer *t);
void trainer_set_hook(struct trainer *t, trainer_hook hook, void *ctx);

/* Finetuning: every step trains the subnet `choices` (one index per search
 * group) instead of sampled paths, and epoch ends report its validation
 * accuracy. Call before trainer_resume; the run directory should be the
 * subnet's own (its checkpoints record the sampler "fixed", not which
 * subnet). */
void trainer_fix_subnet(struct trainer *t, const int *choices);
long trainer_global_step(const struct trainer *t);

#endif
