/*
 * report.h - mutator-eval's table: one row per subnet, on stdout and, with
 * --csv, in a CSV file.
 */
#ifndef MUTATORD_EVAL_REPORT_H
#define MUTATORD_EVAL_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "status.h"

struct eval_row {
    char name[96];          /* where the subnet came from */
    uint64_t hash;          /* 0 for an exported model */
    double top1;            /* in [0, 1] */
    double top1_finetuned;  /* NAN: not finetuned */
    double macs, params;
    double latency_ms;      /* NAN: not timed */
    double images_per_s;    /* NAN: not timed */
};

struct report {
    const char *split;      /* "test" or "val" */
    int finetuned, timed;   /* which columns */
    int n;
    const struct eval_row *rows;
};

void report_print(const struct report *r, FILE *f);
/* Written atomically. */
enum mtd_status report_write_csv(const struct report *r, const char *path,
                                 struct mtd_error *err);

#endif
