/*
 * session.h - what every mutator-eval job starts from: the config, the data
 * (training file and test file), the supernet with the run's trained
 * weights, and the splits scores are taken on.
 */
#ifndef MUTATORD_EVAL_SESSION_H
#define MUTATORD_EVAL_SESSION_H

#include <signal.h>

#include "data.h"
#include "eval_options.h"
#include "run_config.h"

struct eval_session {
    const struct eval_options *opt;
    struct run_config rc;
    struct data data;
    struct data_split calib, scored;  /* calibration; --split */
    struct supernet *sn;
    int batch;                        /* of scoring: search.batch_size */
    float *trained, *trained_bufs;    /* the run's weights and BN statistics */
    float *initial, *initial_bufs;    /* as initialised from train.seed */
    struct latency_table *lat;        /* search.latency_table, or NULL */
    const volatile sig_atomic_t *stop;
};

/* Reads the config and the data, and the newest training checkpoint of the
 * run directory (a missing one is an error; an unfinished training a
 * warning). */
enum mtd_status session_open(struct eval_session *es, const struct eval_options *opt,
                             const volatile sig_atomic_t *stop, struct mtd_error *err);
void session_close(struct eval_session *es);

/* Puts the supernet's weights and statistics back to the trained ones (or
 * the initial ones: from_scratch), momentum cleared. */
void session_reset_weights(struct eval_session *es, int from_scratch);

/* Scores the subnet on the scored split after BN calibration. */
enum mtd_status session_score(struct eval_session *es, const struct subnet *s, double *top1,
                              struct mtd_error *err);

#endif
