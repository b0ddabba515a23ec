/*
 * trainer.c - the supernet training loop: path sampling, losses, the
 * optimizer step, end-of-epoch validation and checkpoints (train.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "log.h"
#include "loss.h"
#include "trainer_state.h"

/* Paths of a step are drawn from this stream of (seed, global step). */
#define STREAM_PATHS 0x70617468ULL
/* The random subnets of the final report. */
#define STREAM_REPORT 0x7265706fULL

static int find_slimmable_group(const struct search_space *ss)
{
    for (int m = 0; m < search_space_nmutators(ss); m++)
        if (strcmp(search_space_mutator(ss, m)->name, "SlimmableChannelMutator") == 0) {
            int first, n;
            search_space_mutator_groups(ss, m, &first, &n);
            return first;
        }
    return -1;
}

enum mtd_status trainer_create(struct trainer **out, struct search_space *ss,
                               const struct data *d, const struct train_config *cfg,
                               const char *run_dir, struct mtd_error *err)
{
    *out = NULL;
    struct trainer *t = calloc(1, sizeof *t);
    if (t == NULL)
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for the trainer");
    t->ss = ss;
    t->sn = search_space_supernet(ss);
    t->d = d;
    t->cfg = *cfg;
    snprintf(t->run_dir, sizeof t->run_dir, "%s", run_dir);
    t->fingerprint = supernet_fingerprint(t->sn);
    t->train = data_split(d, SPLIT_TRAIN);
    t->val = data_split(d, SPLIT_VAL);
    t->calib = data_split(d, SPLIT_CALIB);
    t->order_epoch = -1;
    t->slimmable_group = find_slimmable_group(ss);
    enum mtd_status st = MTD_OK;
    /* Whole batches only: every step sees batch_size images. */
    t->steps_per_epoch = t->train.count / cfg->batch_size;
    if (t->steps_per_epoch < 1)
        st = mtd_error_set(err, MTD_ERR_CONFIG, "train.batch_size %d is larger than the %d "
                           "training images", cfg->batch_size, t->train.count);
    else if (cfg->sampler == SAMPLER_SLIMMABLE && t->slimmable_group < 0)
        st = mtd_error_set(err, MTD_ERR_CONFIG, "train.sampler \"slimmable\" needs a "
                           "SlimmableChannelMutator among the mutators");
    t->total_steps = t->steps_per_epoch * cfg->epochs;
    t->warmup_steps = (long)(cfg->warmup_epochs * (double)t->steps_per_epoch + 0.5);
    const int classes = supernet_space(t->sn)->classes;
    const size_t batch = (size_t)cfg->batch_size, pixels = (size_t)(d->train.h * d->train.w);
    t->paths = malloc(TRAIN_MAX_PATHS * sizeof *t->paths);
    t->order = malloc((size_t)t->train.count * sizeof *t->order + 1);
    t->labels = malloc(batch * sizeof *t->labels);
    t->images = floats_alloc(batch * pixels);
    t->dlogits = floats_alloc(batch * (size_t)classes);
    t->probs = floats_alloc(batch * (size_t)classes);
    t->teacher_logits = floats_alloc(batch * (size_t)classes);
    t->teacher_probs = floats_alloc(batch * (size_t)classes);
    if (st == MTD_OK && (!t->paths || !t->order || !t->labels || !t->images || !t->dlogits || !t->probs ||
                         !t->teacher_logits || !t->teacher_probs))
        st = mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for training batches");
    if (st != MTD_OK) {
        trainer_free(t);
        return st;
    }
    *out = t;
    return MTD_OK;
}

void trainer_free(struct trainer *t)
{
    if (t == NULL)
        return;
    free(t->paths);
    free(t->order);
    free(t->labels);
    floats_free(t->images);
    floats_free(t->dlogits);
    floats_free(t->probs);
    floats_free(t->teacher_logits);
    floats_free(t->teacher_probs);
    free(t);
}

void trainer_set_hook(struct trainer *t, trainer_hook hook, void *ctx)
{
    t->hook = hook;
    t->hook_ctx = ctx;
}

void trainer_fix_subnet(struct trainer *t, const int *choices)
{
    memcpy(t->fixed, choices, (size_t)search_space_ngroups(t->ss) * sizeof *choices);
    t->cfg.sampler = SAMPLER_FIXED;
}

int trainer_done(const struct trainer *t)
{
    return t->done;
}

long trainer_global_step(const struct trainer *t)
{
    return t->global_step;
}

enum mtd_status trainer_resume(struct trainer *t, int *resumed, struct mtd_error *err)
{
    enum mtd_status st = train_ckpt_load_newest(t, resumed, err);
    if (st == MTD_OK && *resumed && t->done)
        log_msg(LOG_INFO, "supernet training already complete (%ld steps)", t->global_step);
    else if (st == MTD_OK && *resumed)
        log_msg(LOG_INFO, "training resumed at epoch %d, step %ld (global step %ld)",
                t->epoch + 1, t->step, t->global_step);
    return st;
}

/* The paths of one step, heaviest first: the first is the teacher of the
 * others when distilling. Returns how many. */
static int step_paths(struct trainer *t, int (*choices)[SEARCH_SPACE_MAX_GROUPS], int max)
{
    struct rng rng;
    rng_seed(&rng, rng_derive(t->cfg.seed ^ STREAM_PATHS, (uint64_t)t->global_step));
    switch (t->cfg.sampler) {
    case SAMPLER_SANDWICH: {
        int n = 2 + t->cfg.sandwich_random;
        search_space_sample(t->ss, SAMPLE_MAX, &rng, choices[0]);
        search_space_sample(t->ss, SAMPLE_MIN, &rng, choices[1]);
        for (int i = 2; i < n && i < max; i++)
            search_space_sample(t->ss, SAMPLE_RANDOM, &rng, choices[i]);
        return n < max ? n : max;
    }
    case SAMPLER_SLIMMABLE: {
        int n = search_space_group(t->ss, t->slimmable_group)->nchoices;
        for (int i = 0; i < n && i < max; i++) {
            search_space_sample(t->ss, SAMPLE_MAX, &rng, choices[i]);
            choices[i][t->slimmable_group] = n - 1 - i;
        }
        return n < max ? n : max;
    }
    case SAMPLER_FIXED:
        memcpy(choices[0], t->fixed, sizeof t->fixed);
        return 1;
    default:
        search_space_sample(t->ss, SAMPLE_RANDOM, &rng, choices[0]);
        return 1;
    }
}

/* One optimizer step on the batch at the current position; returns the
 * loss of the first path (the label loss). */
static enum mtd_status train_step(struct trainer *t, float *loss, struct mtd_error *err)
{
    const int b = t->cfg.batch_size, classes = supernet_space(t->sn)->classes;
    const size_t logits_size = (size_t)b * (size_t)classes * sizeof(float);
    if (t->order_epoch != t->epoch) {
        data_epoch_order(t->cfg.seed, t->epoch, t->train.count, t->order);
        t->order_epoch = t->epoch;
    }
    long first = t->step * (long)b;
    data_batch(t->d, &t->train, t->order + first, b, 1, t->cfg.seed, t->epoch, first, t->images,
               t->labels);
    int (*choices)[SEARCH_SPACE_MAX_GROUPS] = t->paths;
    int npaths = step_paths(t, choices, TRAIN_MAX_PATHS);
    for (int p = 0; p < npaths; p++) {
        struct arch arch;
        search_space_to_arch(t->ss, choices[p], &arch);
        enum mtd_status st = supernet_set_arch(t->sn, &arch, err);
        if (st != MTD_OK)
            return st;
        const float *logits = supernet_forward(t->sn, t->images, b, FORWARD_TRAIN);
        memset(t->dlogits, 0, logits_size);
        int distilled = p > 0 && t->cfg.distill;
        if (distilled) {
            kl_div_forward(t->probs, t->teacher_probs, logits, t->teacher_logits, b, classes,
                           t->cfg.temperature);
            kl_div_backward(t->dlogits, t->probs, t->teacher_probs, b, classes,
                            t->cfg.temperature, 1.0f);
        } else {
            float l = crossentropy_forward(t->probs, logits, t->labels, b, classes,
                                           t->cfg.label_smoothing);
            crossentropy_backward(t->dlogits, t->probs, t->labels, b, classes,
                                  t->cfg.label_smoothing, 1.0f);
            if (p == 0)
                *loss = l;
        }
        if (p == 0 && npaths > 1)
            memcpy(t->teacher_logits, logits, logits_size);
        supernet_backward(t->sn, t->dlogits);
    }
    struct sgd_config sgd = t->cfg.sgd;
    sgd.lr = (float)train_lr(&t->cfg, t->global_step, t->total_steps, t->warmup_steps);
    supernet_sgd_step(t->sn, &sgd, t->cfg.decay_norm_and_bias);
    return MTD_OK;
}

/* Validation accuracy of a subnet (max, min or random), BN-calibrated. */
/* Validation accuracy of the subnet of choices c, BN-calibrated. */
static enum mtd_status validate_choices(struct trainer *t, const int *c, double *acc,
                                        struct mtd_error *err)
{
    struct arch arch;
    search_space_to_arch(t->ss, c, &arch);
    enum mtd_status st = supernet_set_arch(t->sn, &arch, err);
    if (st == MTD_OK)
        st = evaluate_arch(t->sn, t->d, &t->calib, &t->val, t->cfg.batch_size, t->stop, acc,
                           err);
    return st;
}

static enum mtd_status validate_one(struct trainer *t, enum sample_kind kind, struct rng *rng,
                                    double *acc, struct mtd_error *err)
{
    int c[SEARCH_SPACE_MAX_GROUPS];
    search_space_sample(t->ss, kind, rng, c);
    return validate_choices(t, c, acc, err);
}

static enum mtd_status validate_fixed(struct trainer *t, struct mtd_error *err)
{
    double acc;
    enum mtd_status st = validate_choices(t, t->fixed, &acc, err);
    if (st == MTD_OK)
        log_msg(LOG_INFO, "epoch %d/%d: validation accuracy %.2f%% (the subnet)", t->epoch + 1,
                t->cfg.epochs, 100.0 * acc);
    return st == MTD_STOPPED ? MTD_OK : st;
}

static enum mtd_status validate(struct trainer *t, struct mtd_error *err)
{
    if (t->cfg.sampler == SAMPLER_FIXED)
        return validate_fixed(t, err);
    double max, min;
    enum mtd_status st = validate_one(t, SAMPLE_MAX, NULL, &max, err);
    if (st == MTD_OK)
        st = validate_one(t, SAMPLE_MIN, NULL, &min, err);
    if (st == MTD_STOPPED) {
        /* Only a report: the epoch is done, and stopping must be quick. */
        log_msg(LOG_INFO, "epoch %d/%d: validation skipped (stopping)", t->epoch + 1,
                t->cfg.epochs);
        return MTD_OK;
    }
    if (st == MTD_OK)
        log_msg(LOG_INFO, "epoch %d/%d: validation accuracy %.2f%% (max subnet), %.2f%% (min "
                "subnet)", t->epoch + 1, t->cfg.epochs, 100.0 * max, 100.0 * min);
    return st;
}

/* The supernet's quality once trained: random subnets, BN-calibrated. */
static enum mtd_status report_random(struct trainer *t, struct mtd_error *err)
{
    struct rng rng;
    rng_seed(&rng, rng_derive(t->cfg.seed, STREAM_REPORT));
    double sum = 0.0, lo = 1.0, hi = 0.0;
    struct progress bar;
    progress_begin(&bar, "random subnets", t->cfg.report_random, (t->cfg.report_random + 3) / 4);
    for (int i = 0; i < t->cfg.report_random; i++) {
        double acc;
        enum mtd_status st = validate_one(t, SAMPLE_RANDOM, &rng, &acc, err);
        if (st == MTD_STOPPED) {
            progress_end(&bar);
            log_msg(LOG_INFO, "random-subnet report skipped (stopping)");
            return MTD_OK;
        }
        if (st != MTD_OK)
            return st;
        sum += acc;
        lo = acc < lo ? acc : lo;
        hi = acc > hi ? acc : hi;
        char extra[64];
        snprintf(extra, sizeof extra, "mean %.2f%%", 100.0 * sum / (i + 1));
        progress_update(&bar, i + 1, -1.0, extra);
    }
    progress_end(&bar);
    log_msg(LOG_INFO, "%d random subnets: validation accuracy mean %.2f%%, min %.2f%%, max %.2f%%",
            t->cfg.report_random, 100.0 * sum / t->cfg.report_random, 100.0 * lo, 100.0 * hi);
    return MTD_OK;
}

/* A checkpoint on the way: a failed write is retried at the next point
 * (ckpt_retry_note); *unsaved counts the steps no checkpoint holds. */
static enum mtd_status checkpoint(struct trainer *t, long *unsaved, struct mtd_error *err)
{
    enum mtd_status st = train_ckpt_save(t, err);
    if (st == MTD_OK)
        *unsaved = 0;
    return ckpt_retry_note(&t->retry, st, err);
}

enum mtd_status trainer_run(struct trainer *t, const volatile sig_atomic_t *stop,
                            long max_steps, struct mtd_error *err)
{
    if (t->done)
        return MTD_OK;
    /* Here, not at creation: a trainer that only loads weights (offline
     * evaluation) needs no room for training batches. */
    enum mtd_status st = supernet_reserve(t->sn, t->cfg.batch_size, err);
    if (st != MTD_OK)
        return st;
    t->stop = stop;
    log_msg(LOG_INFO, "training: %d epochs of %ld steps of %d images, sampler %s", t->cfg.epochs,
            t->steps_per_epoch, t->cfg.batch_size, train_sampler_name(t->cfg.sampler));
    long ran = 0, since_ckpt = 0;
    double t0 = monotonic_seconds(), loss_sum = 0.0;
    long loss_count = 0;
    char label[32], extra[96];
    struct progress bar;
    snprintf(label, sizeof label, "epoch %d/%d", t->epoch + 1, t->cfg.epochs);
    progress_begin(&bar, label, t->steps_per_epoch, t->cfg.log_every);
    while (!t->done) {
        if ((stop != NULL && *stop) || (max_steps >= 0 && ran >= max_steps))
            break;
        float loss = 0.0f;
        if ((st = train_step(t, &loss, err)) != MTD_OK)
            return st;
        ran++;
        since_ckpt++;
        t->step++;
        t->global_step++;
        loss_sum += (double)loss;
        loss_count++;
        double elapsed = monotonic_seconds() - t0;
        double rate = (double)ran * t->cfg.batch_size / elapsed;
        double eta = (double)(t->total_steps - t->global_step) * t->cfg.batch_size / rate;
        snprintf(extra, sizeof extra, "loss %.4f, %.0f img/s", loss_sum / (double)loss_count, rate);
        progress_update(&bar, t->step, eta, extra);
        if (t->hook) {
            struct train_progress p = {.epoch = t->epoch, .epochs = t->cfg.epochs, .step = t->step,
                                       .steps_per_epoch = t->steps_per_epoch,
                                       .loss = loss_sum / (double)loss_count,
                                       .images_per_s = rate, .eta_s = eta};
            t->hook(t->hook_ctx, &p);
        }
        if (t->step == t->steps_per_epoch) {
            progress_end(&bar);
            if ((st = validate(t, err)) != MTD_OK)
                return st;
            t->epoch++;
            t->step = 0;
            t->done = t->epoch == t->cfg.epochs;
            loss_sum = 0.0;
            loss_count = 0;
            if ((st = checkpoint(t, &since_ckpt, err)) != MTD_OK)
                return st;
            snprintf(label, sizeof label, "epoch %d/%d", t->epoch + 1, t->cfg.epochs);
            progress_begin(&bar, label, t->steps_per_epoch, t->cfg.log_every);
        } else if (t->cfg.checkpoint_every > 0 && t->global_step % t->cfg.checkpoint_every == 0 &&
                   (st = checkpoint(t, &since_ckpt, err)) != MTD_OK) {
            return st;
        }
    }
    progress_end(&bar);
    /* The last one, when stopping or done: nothing later would retry it. */
    if (since_ckpt > 0 && (st = train_ckpt_save(t, err)) != MTD_OK) {
        log_msg(LOG_ERROR, "%s", err->msg);
        return st;
    }
    if (t->done) {
        log_msg(LOG_INFO, "training complete: %ld steps", t->global_step);
        if (t->cfg.report_random > 0 && (st = report_random(t, err)) != MTD_OK)
            return st;
    }
    return MTD_OK;
}
