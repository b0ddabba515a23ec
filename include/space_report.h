/*
 * space_report.h - the human-readable description of a search space that
 * `mutatord --check` prints: every search group with its choices, the
 * channel units, the number of subnets and the resources of the smallest
 * and largest subnets.
 */
#ifndef MUTATORD_SPACE_REPORT_H
#define MUTATORD_SPACE_REPORT_H

#include <stdio.h>

#include "search_space.h"

/* "16,777,216": n with thousands separators (n < 1e18), else "%.4g". */
void format_count(double n, char *buf, size_t size);

void space_report(const struct search_space *ss, FILE *out);

/* What the supernet will allocate for training batches of train_batch and
 * evaluation batches of eval_batch (supernet_footprint), in MiB. */
void memory_report(const struct supernet *sn, int train_batch, int eval_batch, FILE *out);

#endif
