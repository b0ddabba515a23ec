/*
 * data.c - the data config, loading the IDX files and the splits (data.h).
 */
#include "data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "idx.h"

#define DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

enum mtd_status data_config_parse(const config_setting_t *data, struct data_config *cfg,
                                  struct mtd_error *err)
{
    static const char *const keys[] = {"dir", "train_images", "val_images", "calib_images",
                                       "mean", "std", "augment", NULL};
    static const char *const augment_keys[] = {"crop_padding", "flip", NULL};
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->dir, sizeof cfg->dir, "%s", DEFAULT_DIR);
    long long train = 50000, val = 10000, calib = 2000, pad = 2;
    double mean = 0.2860, std = 0.3530;
    int flip = 1;
    if (data == NULL)
        goto out;
    const char *dir = NULL;
    const config_setting_t *aug = NULL;
    enum mtd_status st;
    if ((st = conf_check_keys(data, keys, err)) != MTD_OK ||
        (st = conf_get_string(data, "dir", 0, &dir, err)) != MTD_OK ||
        (st = conf_get_int(data, "train_images", 0, 1, INT_MAX, &train, err)) != MTD_OK ||
        (st = conf_get_int(data, "val_images", 0, 1, INT_MAX, &val, err)) != MTD_OK ||
        (st = conf_get_int(data, "calib_images", 0, 1, INT_MAX, &calib, err)) != MTD_OK ||
        (st = conf_get_double(data, "mean", 0, -1e3, 1e3, &mean, err)) != MTD_OK ||
        (st = conf_get_double(data, "std", 0, 1e-6, 1e3, &std, err)) != MTD_OK ||
        (st = conf_get_group(data, "augment", 0, &aug, err)) != MTD_OK)
        return st;
    if (dir != NULL) {
        if (dir[0] == '\0' || strlen(dir) >= sizeof cfg->dir)
            return conf_error(err, conf_child(data, "dir"), "expected a directory path");
        snprintf(cfg->dir, sizeof cfg->dir, "%s", dir);
    }
    if (aug != NULL &&
        ((st = conf_check_keys(aug, augment_keys, err)) != MTD_OK ||
         (st = conf_get_int(aug, "crop_padding", 0, 0, 16, &pad, err)) != MTD_OK ||
         (st = conf_get_bool(aug, "flip", 0, &flip, err)) != MTD_OK))
        return st;
    if (calib > train)
        return conf_error(err, conf_child(data, "calib_images") ? conf_child(data, "calib_images")
                                                                : conf_child(data, "train_images"),
                          "the calibration set (%lld images) is the start of the training "
                          "split and cannot be larger than it (%lld)", calib, train);
out:
    cfg->train_images = (int)train;
    cfg->val_images = (int)val;
    cfg->calib_images = (int)calib;
    cfg->mean = (float)mean;
    cfg->std = (float)std;
    cfg->crop_padding = (int)pad;
    cfg->flip = flip;
    return MTD_OK;
}

/* dir/name.gz, or dir/name when only the uncompressed file exists. */
static void data_path(const char *dir, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s.gz", dir, name);
    if (access(path, F_OK) != 0) {
        char plain[PATH_MAX + 64];
        snprintf(plain, sizeof plain, "%s/%s", dir, name);
        if (access(plain, F_OK) == 0)
            snprintf(path, size, "%s", plain);
    }
}

static enum mtd_status load_set(struct dataset *set, const char *dir, const char *images,
                                const char *labels, int classes, int height, int width,
                                struct mtd_error *err)
{
    char ipath[PATH_MAX + 64], lpath[PATH_MAX + 64];
    struct idx_array img, lab;
    data_path(dir, images, ipath, sizeof ipath);
    data_path(dir, labels, lpath, sizeof lpath);
    enum mtd_status st = idx_load(ipath, 3, &img, err);
    if (st == MTD_ERR_IO && err != NULL && strcmp(dir, DEFAULT_DIR) == 0) {
        size_t len = strlen(err->msg);
        snprintf(err->msg + len, sizeof err->msg - len, " (Debian: apt-get install "
                 "dataset-fashion-mnist; or set data.dir)");
    }
    if (st != MTD_OK)
        return st;
    if ((st = idx_load(lpath, 1, &lab, err)) != MTD_OK) {
        idx_free(&img);
        return st;
    }
    if (img.dims[1] != height || img.dims[2] != width)
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: images of %dx%d, the supernet's input is %dx%d",
                           ipath, img.dims[1], img.dims[2], height, width);
    else if (lab.dims[0] != img.dims[0])
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: %d labels for the %d images of %s", lpath,
                           lab.dims[0], img.dims[0], ipath);
    for (size_t i = 0; st == MTD_OK && i < lab.size; i++)
        if (lab.data[i] >= classes)
            st = mtd_error_set(err, MTD_ERR_DATA, "%s: label %d of image %zu is not below the "
                               "%d classes", lpath, lab.data[i], i, classes);
    if (st != MTD_OK) {
        idx_free(&img);
        idx_free(&lab);
        return st;
    }
    set->n = img.dims[0];
    set->h = height;
    set->w = width;
    set->pixels = img.data;
    set->labels = lab.data;
    return MTD_OK;
}

enum mtd_status data_load(struct data *d, const struct data_config *cfg, int classes,
                          int height, int width, int with_test, struct mtd_error *err)
{
    memset(d, 0, sizeof *d);
    d->cfg = *cfg;
    d->classes = classes;
    enum mtd_status st = load_set(&d->train, cfg->dir, "train-images-idx3-ubyte",
                                  "train-labels-idx1-ubyte", classes, height, width, err);
    if (st != MTD_OK)
        return st;
    if (cfg->calib_images > cfg->train_images) {
        st = mtd_error_set(err, MTD_ERR_CONFIG, "%s: %d calibration images: more than the %d "
                           "of the training split they are taken from", cfg->dir,
                           cfg->calib_images, cfg->train_images);
        data_free(d);
        return st;
    }
    if ((long)cfg->train_images + cfg->val_images > d->train.n) {
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: the training file holds %d images, fewer "
                           "than train_images + val_images = %d + %d", cfg->dir, d->train.n,
                           cfg->train_images, cfg->val_images);
        data_free(d);
        return st;
    }
    if (with_test &&
        (st = load_set(&d->test, cfg->dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                       classes, height, width, err)) != MTD_OK) {
        data_free(d);
        return st;
    }
    return MTD_OK;
}

void data_free(struct data *d)
{
    free(d->train.pixels);
    free(d->train.labels);
    free(d->test.pixels);
    free(d->test.labels);
    memset(d, 0, sizeof *d);
}

struct data_split data_split(const struct data *d, enum data_split_kind kind)
{
    struct data_split s = {&d->train, 0, 0};
    switch (kind) {
    case SPLIT_TRAIN: s.count = d->cfg.train_images; break;
    case SPLIT_VAL:
        s.first = d->train.n - d->cfg.val_images;
        s.count = d->cfg.val_images;
        break;
    case SPLIT_CALIB: s.count = d->cfg.calib_images; break;
    case SPLIT_TEST:
        s.set = &d->test;
        s.count = d->test.n;
        break;
    }
    return s;
}
