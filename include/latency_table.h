/*
 * latency_table.h - a per-op latency model of this CPU: the time of every
 * op choice of every cell at every width it can take, at batch 1, measured
 * once (mutator-eval --latency-table FILE); a subnet's predicted latency is
 * the sum of its cells' entries. The search may constrain it:
 *
 *   search = { latency_table = "latency.csv";
 *              constraints = { latency = [0.0, 1.5]; }; };   # milliseconds
 *
 * File (text): '#' comment lines, `space,<16 hex digits>` (the supernet's
 * fingerprint: a table of another search space is refused), the header
 * `cell,op,in,out,mid,ms`, then one line per entry.
 */
#ifndef MUTATORD_LATENCY_TABLE_H
#define MUTATORD_LATENCY_TABLE_H

#include <signal.h>
#include <stdint.h>

#include "supernet.h"

struct latency_table;

/* The width settings a unit can take (from the search space's choices). */
struct unit_settings {
    int n;
    struct unit_width w[64];
};

/* Called after every cell measured. */
typedef void (*latency_progress_fn)(void *ctx, int cells_done, int cells);

/* Measures every op of every cell at every combination of its units'
 * settings (settings[u] for each unit; n = 0: full width only), `repeats`
 * timed runs each after a warm-up, the median kept. The supernet's arch is
 * changed. MTD_STOPPED when *stop (may be NULL) becomes nonzero. */
enum mtd_status latency_table_measure(struct supernet *sn, const struct unit_settings *settings,
                                      int repeats, latency_progress_fn progress, void *ctx,
                                      const volatile sig_atomic_t *stop,
                                      struct latency_table **out, struct mtd_error *err);
enum mtd_status latency_table_write(const struct latency_table *t, const struct supernet *sn,
                                    const char *path, struct mtd_error *err);
/* Reads a table for sn's search space. */
enum mtd_status latency_table_load(struct latency_table **out, const struct supernet *sn,
                                   const char *path, struct mtd_error *err);
void latency_table_free(struct latency_table *t);
int latency_table_entries(const struct latency_table *t);

/* The predicted latency of arch in ms: the sum of its cells' entries, or
 * NAN when the table lacks one. */
double latency_table_predict(const struct latency_table *t, const struct supernet *sn,
                             const struct arch *arch);

#endif
