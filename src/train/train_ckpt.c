/*
 * train_ckpt.c - training checkpoints: "train-<global step>.ckpt" in the
 * run directory, in the ckpt_io.h container.
 *
 * Payload, version 1 (little-endian):
 *   u64 fingerprint of the parameter table    u64 seed
 *   u32 batch_size  u32 epochs  u32 sampler  u32 train_images
 *   u32 epoch  u64 step in epoch  u64 global step  u32 done
 *   u64 n, then n floats of weights, n floats of momentum
 *   u64 m, then m floats of BN running statistics
 * The random state is not stored: every stream is derived from the seed
 * and the counters above (train.h).
 */
#include <limits.h>
#include <stdio.h>

#include "ckpt_io.h"
#include "ckpt_series.h"
#include "trainer_state.h"

static const char magic[8] = {'M', 'T', 'D', 'T', 'R', 'A', 'I', 'N'};
#define VERSION 1
#define PREFIX "train"

enum mtd_status train_ckpt_save(struct trainer *t, struct mtd_error *err)
{
    char path[PATH_MAX + 64];
    ckpt_series_path(t->run_dir, PREFIX, t->global_step, path, sizeof path);
    struct ckpt_writer *w;
    enum mtd_status st = ckpt_writer_open(&w, path, magic, VERSION, err);
    if (st != MTD_OK)
        return st;
    ckpt_write_u64(w, t->fingerprint);
    ckpt_write_u64(w, t->cfg.seed);
    ckpt_write_u32(w, (uint32_t)t->cfg.batch_size);
    ckpt_write_u32(w, (uint32_t)t->cfg.epochs);
    ckpt_write_u32(w, (uint32_t)t->cfg.sampler);
    ckpt_write_u32(w, (uint32_t)t->train.count);
    ckpt_write_u32(w, (uint32_t)t->epoch);
    ckpt_write_u64(w, (uint64_t)t->step);
    ckpt_write_u64(w, (uint64_t)t->global_step);
    ckpt_write_u32(w, (uint32_t)t->done);
    size_t n = supernet_weights_size(t->sn), m = supernet_buffers_size(t->sn);
    ckpt_write_u64(w, n);
    ckpt_write(w, supernet_weights(t->sn), n * sizeof(float));
    ckpt_write(w, supernet_velocity(t->sn), n * sizeof(float));
    ckpt_write_u64(w, m);
    ckpt_write(w, supernet_buffers(t->sn), m * sizeof(float));
    if ((st = ckpt_writer_commit(w, err)) != MTD_OK)
        return st;
    ckpt_series_prune(t->run_dir, PREFIX, t->cfg.keep_checkpoints);
    return MTD_OK;
}

static enum mtd_status load(void *ctx, const char *path, struct mtd_error *err)
{
    struct trainer *t = ctx;
    struct ckpt_reader r;
    enum mtd_status st = ckpt_reader_open(&r, path, magic, VERSION, err);
    if (st != MTD_OK)
        return st;
    uint64_t fp, seed, step, global, n, m;
    uint32_t batch, epochs, sampler, train, epoch, done;
    if (ckpt_read_u64(&r, &fp) || ckpt_read_u64(&r, &seed) || ckpt_read_u32(&r, &batch) ||
        ckpt_read_u32(&r, &epochs) || ckpt_read_u32(&r, &sampler) || ckpt_read_u32(&r, &train) ||
        ckpt_read_u32(&r, &epoch) || ckpt_read_u64(&r, &step) || ckpt_read_u64(&r, &global) ||
        ckpt_read_u32(&r, &done)) {
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: truncated header", path);
        goto out;
    }
    if (fp != t->fingerprint) {
        st = mtd_error_set(err, MTD_ERR_CONFIG, "%s: written for another supernet (its parameter "
                           "table differs from this config's search space; use another run "
                           "directory, or --fresh)", path);
        goto out;
    }
    if ((st = ckpt_expect_same(path, "train.seed", seed, t->cfg.seed, err)) != MTD_OK ||
        (st = ckpt_expect_same(path, "train.batch_size", batch, (uint64_t)t->cfg.batch_size, err)) != MTD_OK ||
        (st = ckpt_expect_same(path, "train.epochs", epochs, (uint64_t)t->cfg.epochs, err)) != MTD_OK ||
        (st = ckpt_expect_same(path, "train.sampler", sampler, (uint64_t)t->cfg.sampler, err)) != MTD_OK ||
        (st = ckpt_expect_same(path, "data.train_images", train, (uint64_t)t->train.count, err)) != MTD_OK)
        goto out;
    if (epoch > epochs || (long)step >= t->steps_per_epoch || done > 1 ||
        (long)global != (long)epoch * t->steps_per_epoch + (long)step) {
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: inconsistent position (epoch %u, step %llu, "
                           "global step %llu)", path, epoch, (unsigned long long)step,
                           (unsigned long long)global);
        goto out;
    }
    size_t want_n = supernet_weights_size(t->sn), want_m = supernet_buffers_size(t->sn);
    if (ckpt_read_u64(&r, &n) || n != want_n ||
        ckpt_read(&r, supernet_weights(t->sn), n * sizeof(float)) ||
        ckpt_read(&r, supernet_velocity(t->sn), n * sizeof(float)) ||
        ckpt_read_u64(&r, &m) || m != want_m ||
        ckpt_read(&r, supernet_buffers(t->sn), m * sizeof(float)) || ckpt_remaining(&r) != 0) {
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: the weights do not match the supernet", path);
        goto out;
    }
    t->epoch = (int)epoch;
    t->step = (long)step;
    t->global_step = (long)global;
    t->done = (int)done;
out:
    ckpt_reader_close(&r);
    return st;
}

enum mtd_status train_ckpt_load_newest(struct trainer *t, int *found, struct mtd_error *err)
{
    return ckpt_series_load_newest(t->run_dir, PREFIX, "training", load, t, found, err);
}
