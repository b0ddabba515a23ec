/*
 * finetune.c - finetuning and ranking quality (finetune.h).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "dirs.h"
#include "finetune.h"
#include "log.h"
#include "rng.h"
#include "stats.h"

/* The subnets of --rank come from this stream of the seed. */
#define STREAM_RANK 0x72616e6bULL

/* What a finetune starts from: the weights (a CRC of the trained or the
 * initial ones) and every setting of the optimisation. A finetune's
 * directory carries it, so that a run after the supernet trained on, or
 * after a change of the finetune section, starts afresh instead of reusing
 * results of another start. */
static uint32_t start_key(const struct eval_session *es, const struct train_config *c,
                          int from_scratch)
{
    const float *w = from_scratch ? es->initial : es->trained;
    uLong crc = crc32(0L, (const Bytef *)w,
                      (uInt)(supernet_weights_size(es->sn) * sizeof *w));
    const double settings[] = {c->sgd.lr, c->sgd.momentum, c->sgd.weight_decay, c->sgd.nesterov,
                               c->decay_norm_and_bias, c->schedule, c->warmup_epochs, c->min_lr,
                               c->power, c->label_smoothing, c->batch_size, (double)c->seed};
    return (uint32_t)crc32(crc, (const Bytef *)settings, sizeof settings);
}

enum mtd_status finetune_subnet(struct eval_session *es, const struct subnet *s, int epochs,
                                int from_scratch, int keep, double *top1,
                                struct mtd_error *err)
{
    char dir[PATH_MAX];
    struct train_config cfg = es->rc.finetune;
    cfg.epochs = epochs;
    if (cfg.warmup_epochs > epochs)
        cfg.warmup_epochs = epochs;
    if (snprintf(dir, sizeof dir, "%s/finetune/%016llx-e%d%s-%08x", es->rc.run_dir,
                 (unsigned long long)subnet_hash(s), epochs, from_scratch ? "-scratch" : "",
                 start_key(es, &cfg, from_scratch)) >= (int)sizeof dir)
        return mtd_error_set(err, MTD_ERR_IO, "%s: path too long", es->rc.run_dir);
    enum mtd_status st = make_dirs(dir, err);
    if (st != MTD_OK)
        return st;
    session_reset_weights(es, from_scratch);
    struct trainer *t;
    if ((st = trainer_create(&t, es->rc.ss, &es->data, &cfg, dir, err)) != MTD_OK)
        return st;
    trainer_fix_subnet(t, s->choice);
    int resumed;
    log_msg(LOG_INFO, "finetuning subnet %016llx for %d epochs in %s (from %s)",
            (unsigned long long)subnet_hash(s), epochs, dir,
            from_scratch ? "scratch" : "the supernet's weights");
    st = trainer_resume(t, &resumed, err);
    if (st == MTD_OK)
        st = trainer_run(t, es->stop, -1, err);
    if (st == MTD_OK && !trainer_done(t))
        st = MTD_STOPPED;
    trainer_free(t);
    if (st == MTD_OK)
        st = session_score(es, s, top1, err);
    if (!keep || st != MTD_OK)
        session_reset_weights(es, 0);
    return st;
}

enum mtd_status rank_subnets(struct eval_session *es, FILE *out, struct mtd_error *err)
{
    const int n = es->opt->rank;
    struct subnet *subnets = calloc((size_t)n, sizeof *subnets);
    double *inherited = calloc((size_t)n, sizeof *inherited);
    double *tuned = calloc((size_t)n, sizeof *tuned);
    enum mtd_status st = MTD_OK;
    if (subnets == NULL || inherited == NULL || tuned == NULL)
        st = mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for %d subnets", n);
    struct rng rng;
    rng_seed(&rng, rng_derive(es->opt->seed, STREAM_RANK));
    for (int i = 0; st == MTD_OK && i < n; i++)
        st = search_draw_feasible(es->rc.ss, &es->rc.search, es->lat, &rng, &subnets[i], err);
    for (int i = 0; st == MTD_OK && i < n; i++) {
        st = session_score(es, &subnets[i], &inherited[i], err);
        if (st == MTD_OK)
            st = finetune_subnet(es, &subnets[i], es->opt->rank_epochs, 0, 0, &tuned[i], err);
        if (st == MTD_OK)
            log_msg(LOG_INFO, "rank %d/%d: subnet %016llx: %.2f%% inherited, %.2f%% finetuned",
                    i + 1, n, (unsigned long long)subnet_hash(&subnets[i]), 100.0 * inherited[i],
                    100.0 * tuned[i]);
    }
    if (st == MTD_OK) {
        fprintf(out, "%-4s %-16s %10s %10s\n", "#", "hash", "inherited", "finetuned");
        for (int i = 0; i < n; i++)
            fprintf(out, "%-4d %016llx %9.2f%% %9.2f%%\n", i, (unsigned long long)subnet_hash(&subnets[i]),
                    100.0 * inherited[i], 100.0 * tuned[i]);
        fprintf(out, "Kendall's tau (inherited vs finetuned %d epoch%s, %d subnets, %s split): "
                "%.4f\n", es->opt->rank_epochs, es->opt->rank_epochs == 1 ? "" : "s", n,
                es->opt->split == SPLIT_TEST ? "test" : "val", kendall_tau(inherited, tuned, n));
    }
    free(subnets);
    free(inherited);
    free(tuned);
    return st;
}
