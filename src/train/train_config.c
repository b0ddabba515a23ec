/*
 * train_config.c - the `train` config section and the learning-rate
 * schedule (train.h).
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "conf.h"
#include "train.h"

static const char *const sampler_names[SAMPLER_COUNT] = {"uniform", "sandwich", "slimmable",
                                                         "fixed"};
static const char *const schedule_names[SCHEDULE_COUNT] = {"cosine", "poly"};

const char *train_sampler_name(enum train_sampler s)
{
    return s >= 0 && s < SAMPLER_COUNT ? sampler_names[s] : "unknown";
}

static enum mtd_status parse_optimizer(const config_setting_t *o, struct train_config *cfg,
                                       struct mtd_error *err)
{
    static const char *const keys[] = {"lr", "momentum", "nesterov", "weight_decay",
                                       "decay_norm_and_bias", NULL};
    double lr = cfg->sgd.lr, momentum = cfg->sgd.momentum, wd = cfg->sgd.weight_decay;
    enum mtd_status st;
    if ((st = conf_check_keys(o, keys, err)) != MTD_OK ||
        (st = conf_get_double(o, "lr", 0, 0.0, 100.0, &lr, err)) != MTD_OK ||
        (st = conf_get_double(o, "momentum", 0, 0.0, 0.9999, &momentum, err)) != MTD_OK ||
        (st = conf_get_bool(o, "nesterov", 0, &cfg->sgd.nesterov, err)) != MTD_OK ||
        (st = conf_get_double(o, "weight_decay", 0, 0.0, 1.0, &wd, err)) != MTD_OK ||
        (st = conf_get_bool(o, "decay_norm_and_bias", 0, &cfg->decay_norm_and_bias, err)) != MTD_OK)
        return st;
    if (cfg->sgd.nesterov && momentum == 0.0)
        return conf_error(err, conf_child(o, "nesterov") ? conf_child(o, "nesterov")
                                                         : conf_child(o, "momentum"),
                          "nesterov needs a momentum above 0");
    cfg->sgd.lr = (float)lr;
    cfg->sgd.momentum = (float)momentum;
    cfg->sgd.weight_decay = (float)wd;
    return MTD_OK;
}

static enum mtd_status parse_schedule(const config_setting_t *s, struct train_config *cfg,
                                      struct mtd_error *err)
{
    static const char *const keys[] = {"type", "warmup_epochs", "min_lr", "power", NULL};
    int type = (int)cfg->schedule;
    enum mtd_status st;
    if ((st = conf_check_keys(s, keys, err)) != MTD_OK ||
        (st = conf_get_enum(s, "type", schedule_names, SCHEDULE_COUNT, &type, err)) != MTD_OK ||
        (st = conf_get_double(s, "warmup_epochs", 0, 0.0, 1e4, &cfg->warmup_epochs, err)) != MTD_OK ||
        (st = conf_get_double(s, "min_lr", 0, 0.0, 100.0, &cfg->min_lr, err)) != MTD_OK ||
        (st = conf_get_double(s, "power", 0, 0.0, 100.0, &cfg->power, err)) != MTD_OK)
        return st;
    cfg->schedule = (enum lr_schedule)type;
    if (cfg->min_lr > (double)cfg->sgd.lr)
        return conf_error(err, conf_child(s, "min_lr"), "min_lr %g is above the base lr %g",
                          cfg->min_lr, (double)cfg->sgd.lr);
    return MTD_OK;
}

void train_config_defaults(struct train_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->epochs = 10;
    cfg->batch_size = 128;
    cfg->seed = 1;
    cfg->sampler = SAMPLER_UNIFORM;
    cfg->sandwich_random = 2;
    cfg->distill = 1;
    cfg->temperature = 1.0f;
    cfg->sgd = (struct sgd_config){.lr = 0.1f, .momentum = 0.9f, .weight_decay = 4e-5f,
                                   .nesterov = 1};
    cfg->schedule = SCHEDULE_COSINE;
    cfg->power = 1.0;
    cfg->checkpoint_every = 200;
    cfg->keep_checkpoints = 3;
    cfg->log_every = 50;
}

/* The keys of a `train` group, and the subset a `finetune` group takes
 * (a finetune trains one fixed subnet: no sampler, no report). */
static const char *const train_keys[] = {"epochs", "batch_size", "seed", "sampler", "random",
                                         "distill", "temperature", "label_smoothing",
                                         "optimizer", "schedule", "checkpoint_every",
                                         "keep_checkpoints", "log_every", "report_random", NULL};
static const char *const finetune_keys[] = {"batch_size", "seed", "label_smoothing",
                                            "optimizer", "schedule", "checkpoint_every",
                                            "keep_checkpoints", "log_every", NULL};

static enum mtd_status apply_keys(const config_setting_t *train, const char *const *keys,
                                  struct train_config *cfg, struct mtd_error *err)
{
    long long epochs = cfg->epochs, batch = cfg->batch_size, seed = (long long)cfg->seed,
              random = cfg->sandwich_random, every = cfg->checkpoint_every,
              keep = cfg->keep_checkpoints, log = cfg->log_every, report = cfg->report_random;
    double temperature = cfg->temperature, smoothing = cfg->label_smoothing;
    int sampler = (int)cfg->sampler;
    if (train != NULL) {
        const config_setting_t *opt = NULL, *sched = NULL;
        enum mtd_status st;
        if ((st = conf_check_keys(train, keys, err)) != MTD_OK ||
            (st = conf_get_int(train, "epochs", 0, 1, 100000, &epochs, err)) != MTD_OK ||
            (st = conf_get_int(train, "batch_size", 0, 2, 65536, &batch, err)) != MTD_OK ||
            (st = conf_get_int(train, "seed", 0, 0, INT64_MAX, &seed, err)) != MTD_OK ||
            (st = conf_get_enum(train, "sampler", sampler_names, SAMPLER_FIXED, &sampler, err)) != MTD_OK ||
            (st = conf_get_int(train, "random", 0, 0, 64, &random, err)) != MTD_OK ||
            (st = conf_get_bool(train, "distill", 0, &cfg->distill, err)) != MTD_OK ||
            (st = conf_get_double(train, "temperature", 0, 0.01, 100.0, &temperature, err)) != MTD_OK ||
            (st = conf_get_double(train, "label_smoothing", 0, 0.0, 0.99, &smoothing, err)) != MTD_OK ||
            (st = conf_get_int(train, "checkpoint_every", 0, 0, INT_MAX, &every, err)) != MTD_OK ||
            (st = conf_get_int(train, "keep_checkpoints", 0, 1, 1000, &keep, err)) != MTD_OK ||
            (st = conf_get_int(train, "log_every", 0, 1, INT_MAX, &log, err)) != MTD_OK ||
            (st = conf_get_int(train, "report_random", 0, 0, 100000, &report, err)) != MTD_OK ||
            (st = conf_get_group(train, "optimizer", 0, &opt, err)) != MTD_OK ||
            (st = conf_get_group(train, "schedule", 0, &sched, err)) != MTD_OK)
            return st;
        if (opt != NULL && (st = parse_optimizer(opt, cfg, err)) != MTD_OK)
            return st;
        if (sched != NULL && (st = parse_schedule(sched, cfg, err)) != MTD_OK)
            return st;
        if (cfg->warmup_epochs > (double)epochs)
            return conf_error(err, sched != NULL ? conf_child(sched, "warmup_epochs") : train,
                              "the warm-up (%g epochs) is longer than the training (%lld)",
                              cfg->warmup_epochs, epochs);
    }
    cfg->epochs = (int)epochs;
    cfg->batch_size = (int)batch;
    cfg->seed = (uint64_t)seed;
    cfg->sampler = (enum train_sampler)sampler;
    cfg->sandwich_random = (int)random;
    cfg->temperature = (float)temperature;
    cfg->label_smoothing = (float)smoothing;
    cfg->checkpoint_every = (int)every;
    cfg->keep_checkpoints = (int)keep;
    cfg->log_every = (int)log;
    cfg->report_random = (int)report;
    return MTD_OK;
}

enum mtd_status train_config_parse(const config_setting_t *train, struct train_config *cfg,
                                   struct mtd_error *err)
{
    train_config_defaults(cfg);
    return apply_keys(train, train_keys, cfg, err);
}

enum mtd_status train_config_parse_finetune(const config_setting_t *finetune,
                                            const struct train_config *train,
                                            struct train_config *cfg, struct mtd_error *err)
{
    *cfg = *train;
    cfg->report_random = 0;
    return apply_keys(finetune, finetune_keys, cfg, err);
}

double train_lr(const struct train_config *cfg, long step, long total, long warmup_steps)
{
    double lr = cfg->sgd.lr;
    if (step < warmup_steps)
        return lr * (double)(step + 1) / (double)warmup_steps;
    long span = total - warmup_steps;
    double t = span > 0 ? (double)(step - warmup_steps) / (double)span : 1.0;
    if (cfg->schedule == SCHEDULE_POLY)
        return cfg->min_lr + (lr - cfg->min_lr) * pow(1.0 - t, cfg->power);
    return cfg->min_lr + (lr - cfg->min_lr) * 0.5 * (1.0 + cos(M_PI * t));
}
