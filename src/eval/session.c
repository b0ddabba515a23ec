/*
 * session.c - config, data and trained weights of a mutator-eval job
 * (session.h).
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "latency_table.h"
#include "log.h"
#include "parallel.h"
#include "session.h"

static float *copy_of(const float *p, size_t n)
{
    float *c = floats_alloc(n);
    if (c != NULL)
        memcpy(c, p, n * sizeof *c);
    return c;
}

/* The trained weights: the newest training checkpoint, read by a trainer
 * that never trains. */
static enum mtd_status load_weights(struct eval_session *es, struct mtd_error *err)
{
    struct trainer *t;
    int resumed = 0;
    enum mtd_status st = trainer_create(&t, es->rc.ss, &es->data, &es->rc.train,
                                        es->rc.run_dir, err);
    if (st != MTD_OK)
        return st;
    st = trainer_resume(t, &resumed, err);
    if (st == MTD_OK && !resumed)
        st = mtd_error_set(err, MTD_ERR_NOINPUT, "%s: no training checkpoint (train the "
                           "supernet first: mutatord -c %s)", es->rc.run_dir, es->opt->config);
    else if (st == MTD_OK && !trainer_done(t))
        log_msg(LOG_WARN, "the supernet's training is not complete (global step %ld); "
                "evaluating the weights of its newest checkpoint", trainer_global_step(t));
    trainer_free(t);
    return st;
}

enum mtd_status session_open(struct eval_session *es, const struct eval_options *opt,
                             const volatile sig_atomic_t *stop, struct mtd_error *err)
{
    memset(es, 0, sizeof *es);
    es->opt = opt;
    es->stop = stop;
    enum mtd_status st = run_config_read(&es->rc, opt->config, opt->run_dir, opt->threads, err);
    if (st != MTD_OK)
        return st;
    parallel_init(es->rc.threads);
    es->sn = search_space_supernet(es->rc.ss);
    /* Only drawing random subnets needs it (constraints.latency). */
    if ((opt->sample > 0 || opt->rank > 0) && es->rc.search.latency_table[0] != '\0' &&
        (st = latency_table_load(&es->lat, es->sn, es->rc.search.latency_table, err)) != MTD_OK)
        return st;
    es->batch = es->rc.search.batch_size;
    const struct space_def *def = supernet_space(es->sn);
    if (def->in_c != 1)
        return mtd_error_set(err, MTD_ERR_CONFIG, "the data has 1 channel, the supernet's "
                             "input %d", def->in_c);
    if (opt->calib > 0)
        es->rc.data.calib_images = opt->calib;
    if ((st = data_load(&es->data, &es->rc.data, def->classes, def->in_h, def->in_w,
                        opt->split == SPLIT_TEST, err)) != MTD_OK)
        return st;
    es->calib = data_split(&es->data, SPLIT_CALIB);
    es->scored = data_split(&es->data, opt->split);
    const size_t nw = supernet_weights_size(es->sn), nb = supernet_buffers_size(es->sn);
    es->initial = copy_of(supernet_weights(es->sn), nw);
    es->initial_bufs = copy_of(supernet_buffers(es->sn), nb);
    if ((st = load_weights(es, err)) != MTD_OK)
        return st;
    es->trained = copy_of(supernet_weights(es->sn), nw);
    es->trained_bufs = copy_of(supernet_buffers(es->sn), nb);
    if (!es->initial || !es->initial_bufs || !es->trained || !es->trained_bufs)
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for copies of the weights");
    return MTD_OK;
}

void session_close(struct eval_session *es)
{
    floats_free(es->trained);
    floats_free(es->trained_bufs);
    floats_free(es->initial);
    floats_free(es->initial_bufs);
    latency_table_free(es->lat);
    data_free(&es->data);
    run_config_free(&es->rc);
}

void session_reset_weights(struct eval_session *es, int from_scratch)
{
    const size_t nw = supernet_weights_size(es->sn), nb = supernet_buffers_size(es->sn);
    memcpy(supernet_weights(es->sn), from_scratch ? es->initial : es->trained, nw * sizeof(float));
    memcpy(supernet_buffers(es->sn), from_scratch ? es->initial_bufs : es->trained_bufs,
           nb * sizeof(float));
    memset(supernet_velocity(es->sn), 0, nw * sizeof(float));
}

enum mtd_status session_score(struct eval_session *es, const struct subnet *s, double *top1,
                              struct mtd_error *err)
{
    /* The search's own scorer, on the split this job scores. */
    struct search_eval_ctx ctx = {.ss = es->rc.ss, .d = &es->data, .calib = &es->calib,
                                  .val = &es->scored, .batch = es->batch, .stop = es->stop};
    return search_score_accuracy(&ctx, s, top1, err);
}
