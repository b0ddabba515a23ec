/*
 * ckpt_series.c - numbered checkpoint files in a run directory
 * (ckpt_series.h).
 */
#include "ckpt_series.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

void ckpt_series_path(const char *dir, const char *prefix, long counter, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s-%010ld.ckpt", dir, prefix, counter);
}

int ckpt_series_list(const char *dir, const char *prefix, long *counters, int max)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    const size_t plen = strlen(prefix);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        const char *name = e->d_name;
        /* exactly prefix, '-', 10 digits, ".ckpt" */
        if (strlen(name) != plen + 16 || strncmp(name, prefix, plen) != 0 || name[plen] != '-' ||
            strcmp(name + plen + 11, ".ckpt") != 0)
            continue;
        long value = 0;
        int digits = 1;
        for (int i = 0; i < 10; i++) {
            char ch = name[plen + 1 + i];
            if (ch < '0' || ch > '9')
                digits = 0;
            value = value * 10 + (ch - '0');
        }
        if (digits)
            counters[n++] = value;
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && counters[j] > counters[j - 1]; j--) {
            long x = counters[j];
            counters[j] = counters[j - 1];
            counters[j - 1] = x;
        }
    return n;
}

void ckpt_series_prune(const char *dir, const char *prefix, int keep)
{
    static long counters[CKPT_SERIES_MAX];  /* large; callers are one thread */
    int count = ckpt_series_list(dir, prefix, counters, CKPT_SERIES_MAX);
    for (int i = keep; i < count; i++) {
        char old[PATH_MAX + 64];
        ckpt_series_path(dir, prefix, counters[i], old, sizeof old);
        if (unlink(old) != 0 && errno != ENOENT)
            log_msg(LOG_WARN, "%s: cannot remove an old checkpoint: %s", old, strerror(errno));
    }
}

enum mtd_status ckpt_series_load_newest(const char *dir, const char *prefix, const char *what,
                                        enum mtd_status (*load)(void *ctx, const char *path,
                                                                struct mtd_error *err),
                                        void *ctx, int *found, struct mtd_error *err)
{
    static long counters[CKPT_SERIES_MAX];
    int count = ckpt_series_list(dir, prefix, counters, CKPT_SERIES_MAX);
    *found = 0;
    for (int i = 0; i < count; i++) {
        char path[PATH_MAX + 64];
        ckpt_series_path(dir, prefix, counters[i], path, sizeof path);
        struct mtd_error e = {0};
        enum mtd_status st = load(ctx, path, &e);
        if (st == MTD_OK) {
            *found = 1;
            return MTD_OK;
        }
        if (st != MTD_ERR_DATA && st != MTD_ERR_IO) {
            *err = e;
            return st;
        }
        /* Damage is caught by the checksum before anything is restored;
         * a later inconsistency is overwritten by the next one loaded. */
        log_msg(LOG_WARN, "%s; trying the one before", e.msg);
    }
    if (count > 0)
        return mtd_error_set(err, MTD_ERR_DATA, "%s: no valid %s checkpoint among %d (see the "
                             "messages above)", dir, what, count);
    return MTD_OK;
}

enum mtd_status ckpt_expect_same(const char *path, const char *what, uint64_t stored,
                                 uint64_t now, struct mtd_error *err)
{
    if (stored == now)
        return MTD_OK;
    return mtd_error_set(err, MTD_ERR_CONFIG, "%s: written with %s = %llu, the config now gives "
                         "%llu (use another run directory, or --fresh)",
                         path, what, (unsigned long long)stored, (unsigned long long)now);
}

enum mtd_status ckpt_retry_note(struct ckpt_retry *r, enum mtd_status st,
                                struct mtd_error *err)
{
    if (st == MTD_OK) {
        r->failures = 0;
        return MTD_OK;
    }
    if (st != MTD_ERR_IO)   /* not a write failure: nothing to retry */
        return st;
    r->failures++;
    if (r->failures >= CKPT_MAX_FAILURES) {
        log_msg(LOG_ERROR, "%s; %d checkpoints failed in a row: stopping (the previous "
                "checkpoint is kept)", err->msg, r->failures);
        return st;
    }
    log_msg(LOG_ERROR, "%s; going on, the next checkpoint tries again (%d of %d failures in a "
            "row allowed)", err->msg, r->failures, CKPT_MAX_FAILURES - 1);
    return MTD_OK;
}
