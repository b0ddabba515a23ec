/*
 * eval_options.h - mutator-eval's command line.
 */
#ifndef MUTATORD_EVAL_OPTIONS_H
#define MUTATORD_EVAL_OPTIONS_H

#include <stdint.h>

#include "data.h"

#define EVAL_MAX_SUBNET_FILES 64

struct eval_options {
    const char *config;        /* -c FILE; optional with --model */
    const char *run_dir;       /* -r DIR */
    int threads;               /* -j N; 0: the config's */
    const char *subnet[EVAL_MAX_SUBNET_FILES];  /* --subnet FILE... */
    int nsubnet;
    int best;                  /* --best */
    int sample;                /* --sample N */
    uint64_t seed;             /* --seed S [1] */
    enum data_split_kind split;  /* --split test|val [test] */
    int calib;                 /* --calib N; -1: the config's calib_images */
    const char *csv;           /* --csv FILE */
    int finetune;              /* --finetune EPOCHS; 0: none */
    int from_scratch;          /* --from-scratch */
    int rank;                  /* --rank N; 0: none */
    int rank_epochs;           /* --rank-epochs E [1] */
    const char *export_dir;    /* --export DIR */
    const char *model;         /* --model DIR */
    const char *latency_table; /* --latency-table FILE */
    int repeats;               /* --repeats N [50] latency runs */
    int no_timing;             /* --no-timing */
};

/* Parses argv. Returns -1 when the program should go on, else the exit
 * code to return now (help, version, usage error: the message printed). */
int eval_options_parse(int argc, char **argv, struct eval_options *o);

#endif
