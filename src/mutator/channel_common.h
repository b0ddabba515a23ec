/*
 * channel_common.h - what the channel mutators share: width candidates
 * (ratios or absolute counts) and the list of units a mutator manages.
 */
#ifndef MUTATORD_CHANNEL_COMMON_H
#define MUTATORD_CHANNEL_COMMON_H

#include "mutator.h"

/* A width candidate: a ratio of the unit's maximum (a float in the config)
 * or an absolute channel count (an integer). */
struct width_candidates {
    int n;
    double value[MUTATOR_MAX_CHOICES];
    int absolute[MUTATOR_MAX_CHOICES];
};

/* Parses the list `key` of cfg. Ratios must lie in (0, 1], counts be
 * positive; the list is sorted ascending, duplicates refused. */
enum mtd_status width_candidates_parse(const config_setting_t *cfg, const char *key, int required,
                                       struct width_candidates *out, struct mtd_error *err);

/* The unit width a candidate stands for. */
struct unit_width width_candidate(const struct width_candidates *w, int i, int divisor);

/* The index of the candidate that width w is, or -1. */
int width_candidate_find(const struct width_candidates *w, int divisor, const struct unit_width *x);

/* Fills a group's choices from candidates. */
void width_candidates_label(const struct width_candidates *w, struct search_group *g);

/* The units named in the list `key` of cfg, or every unit when the key is
 * absent. Unknown names are reported with the file and line. */
enum mtd_status channel_units_parse(const config_setting_t *cfg, const char *key,
                                    const struct supernet *sn, int *units, int *nunits,
                                    struct mtd_error *err);

/* Fails when a count candidate cannot fit unit u (wider than it, or not a
 * multiple of its alignment). */
enum mtd_status width_candidates_check(const struct width_candidates *w, const struct supernet *sn,
                                       int u, const config_setting_t *where, struct mtd_error *err);

#endif
