/*
 * latency_job.h - mutator-eval --latency-table FILE: measures the table and
 * checks it against whole-network latency on random subnets.
 */
#ifndef MUTATORD_EVAL_LATENCY_JOB_H
#define MUTATORD_EVAL_LATENCY_JOB_H

#include <signal.h>
#include <stdio.h>

#include "eval_options.h"
#include "status.h"

/* Subnets whose predicted latency is compared with the measured one. */
#define LATENCY_CHECK_SUBNETS 20

/* MTD_STOPPED when *stop becomes nonzero. */
enum mtd_status latency_job(const struct eval_options *opt, FILE *out,
                            const volatile sig_atomic_t *stop, struct mtd_error *err);

#endif
