/*
 * subnet.h - a subnet: the choice of every search group of a search space.
 *
 * Canonical encoding: the choice indices in group order (mutators in config
 * order, each mutator's groups in its order); two subnets are the same
 * network exactly when their encodings are equal. The 64-bit hash is
 * FNV-1a over the encoding (the group count, then each index as 4 bytes
 * little-endian), stable across runs and machines.
 *
 * Text form, a libconfig file:
 *
 *   subnet = (
 *     { group = "stage1.block0"; choice = "shuffle_7x7"; },
 *     { group = "stem"; choice = 0.75; },       # numbers for widths
 *     ...
 *   );
 *   metrics = { macs = 1.25e7; params = 1.1e5; score = 0.912; };   # optional
 *
 * Loading checks that every group of the space is named once and every
 * choice is one of its group's, and names the offending one.
 */
#ifndef MUTATORD_SUBNET_H
#define MUTATORD_SUBNET_H

#include <stdint.h>
#include <stdio.h>

#include "search_space.h"

#define SUBNET_MAX_METRICS 8

struct subnet {
    int n;                                    /* groups */
    int choice[SEARCH_SPACE_MAX_GROUPS];
};

struct subnet_metrics {
    int n;
    char name[SUBNET_MAX_METRICS][24];        /* "macs", "params", "score" */
    double value[SUBNET_MAX_METRICS];
};

uint64_t subnet_hash(const struct subnet *s);
int subnet_equal(const struct subnet *a, const struct subnet *b);

/* Sets (or adds) metric name. */
void subnet_metrics_set(struct subnet_metrics *m, const char *name, double value);

/* Writes the text form to f; metrics may be NULL. Fails on a write error. */
enum mtd_status subnet_write(const struct search_space *ss, const struct subnet *s,
                             const struct subnet_metrics *metrics, FILE *f, const char *what,
                             struct mtd_error *err);

/* Reads the text form from a file, or from a string (tests; `name` stands
 * for the file in messages). metrics may be NULL. */
enum mtd_status subnet_load(const struct search_space *ss, const char *path, struct subnet *s,
                            struct subnet_metrics *metrics, struct mtd_error *err);
enum mtd_status subnet_load_string(const struct search_space *ss, const char *text,
                                   const char *name, struct subnet *s,
                                   struct subnet_metrics *metrics, struct mtd_error *err);

#endif
