/*
 * ckpt_series.h - a numbered series of checkpoints in a run directory:
 * "<prefix>-<counter, 10 digits>.ckpt", the newest (highest counter) first.
 * Training and search keep theirs this way: save, keep the newest K, and on
 * start load the newest one that reads back, reporting and skipping
 * damaged ones.
 */
#ifndef MUTATORD_CKPT_SERIES_H
#define MUTATORD_CKPT_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define CKPT_SERIES_MAX 4096

/* dir/prefix-NNNNNNNNNN.ckpt */
void ckpt_series_path(const char *dir, const char *prefix, long counter, char *buf, size_t size);

/* Counters of the series' files in dir, newest first; at most max. */
int ckpt_series_list(const char *dir, const char *prefix, long *counters, int max);

/* Removes all but the newest keep files of the series (failures logged). */
void ckpt_series_prune(const char *dir, const char *prefix, int keep);

/* Loads the newest file that `load` accepts. A file that load rejects with
 * MTD_ERR_DATA or MTD_ERR_IO (damaged, truncated) is logged and the one
 * before it tried; any other error (another config: MTD_ERR_CONFIG) stops
 * and is returned. *found tells whether one was loaded; a series whose
 * files are all damaged is an error. what names the series in messages. */
enum mtd_status ckpt_series_load_newest(const char *dir, const char *prefix, const char *what,
                                        enum mtd_status (*load)(void *ctx, const char *path,
                                                                struct mtd_error *err),
                                        void *ctx, int *found, struct mtd_error *err);

/* Failed checkpoint writes in a row before a run gives up. */
#define CKPT_MAX_FAILURES 3

/* The outcome of the checkpoints of a run: a failed write (full disk, I/O
 * error) leaves the previous checkpoint in place, is logged with its path
 * and reason, and the run goes on to retry at its next checkpoint; after
 * CKPT_MAX_FAILURES failures in a row it stops. */
struct ckpt_retry {
    int failures;
};

/* Records the result st of a checkpoint write: MTD_OK to go on (the write
 * succeeded, or failed and will be retried), else the error to stop with. */
enum mtd_status ckpt_retry_note(struct ckpt_retry *r, enum mtd_status st,
                                struct mtd_error *err);

/* A stored setting that must equal the config's: MTD_ERR_CONFIG naming
 * both values otherwise. */
enum mtd_status ckpt_expect_same(const char *path, const char *what, uint64_t stored,
                                 uint64_t now, struct mtd_error *err);

#endif
