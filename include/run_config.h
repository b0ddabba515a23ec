/*
 * run_config.h - a whole config file as both programs read it: the search
 * space (supernet and mutators), the data, training, finetuning and search
 * sections, the run directory and the thread count. search.conf(5) lists
 * every key.
 */
#ifndef MUTATORD_RUN_CONFIG_H
#define MUTATORD_RUN_CONFIG_H

#include <libconfig.h>

#include "data.h"
#include "search.h"
#include "search_space.h"
#include "train.h"

struct run_config {
    config_t cfg;                   /* the parsed file; settings point into it */
    struct data_config data;
    struct train_config train;
    struct train_config finetune;   /* train's, overridden by `finetune` */
    struct search_config search;
    const char *run_dir;            /* "run" unless set */
    int threads;                    /* 0: the OpenMP default */
    struct search_space *ss;        /* weights initialised from train.seed */
};

/* Reads path. run_dir and threads (when non-NULL and positive) override the
 * file's. Errors name the file and line. rc is cleaned by run_config_free,
 * also after a failure. */
enum mtd_status run_config_read(struct run_config *rc, const char *path, const char *run_dir,
                                int threads, struct mtd_error *err);
void run_config_free(struct run_config *rc);

#endif
