/*
 * data.h - the image data a search trains and scores on: the four IDX files
 * of Fashion-MNIST (or any data set in the same layout), their splits, and
 * batches (normalised, optionally augmented).
 *
 * Config section (every key optional):
 *
 *   data = {
 *     dir = "/usr/share/datasets/fashion-mnist";  # the four IDX files,
 *                                  # .gz or plain; relative to the
 *                                  # working directory at start
 *     train_images = 50000;        # first N of the training file: supernet training
 *     val_images = 10000;          # last N of the training file: validation, search
 *     calib_images = 2000;         # first N of the training file: BN calibration
 *     mean = 0.2860; std = 0.3530; # pixels / 255, then (x - mean) / std
 *     augment = { crop_padding = 2; flip = true; };   # training batches only
 *   };
 *
 * Defaults are REFERENCE.md's. The training and validation splits must not
 * overlap; the test file is only for offline evaluation.
 *
 * Determinism. The order of an epoch is a shuffle seeded by (seed, epoch);
 * an image's augmentation is seeded by (seed, epoch, position in the
 * epoch). Nothing depends on the thread count or on earlier epochs, so a
 * resumed run rebuilds exactly the batches an uninterrupted one would see.
 */
#ifndef MUTATORD_DATA_H
#define MUTATORD_DATA_H

#include <libconfig.h>
#include <limits.h>
#include <stdint.h>

#include "status.h"

struct data_config {
    char dir[PATH_MAX];
    int train_images, val_images, calib_images;
    float mean, std;
    int crop_padding;   /* random crop of the image padded by this many pixels; 0: off */
    int flip;           /* random horizontal flip */
};

/* Defaults, then the keys of group `data` (which may be NULL). */
enum mtd_status data_config_parse(const config_setting_t *data, struct data_config *cfg,
                                  struct mtd_error *err);

/* One IDX image file with its labels. */
struct dataset {
    int n, h, w;              /* n images of 1 x h x w */
    unsigned char *pixels;    /* (n, h, w) */
    unsigned char *labels;    /* n, each < classes */
};

struct data {
    struct data_config cfg;
    int classes;
    struct dataset train;     /* the training file (train, val, calib splits) */
    struct dataset test;      /* the test file, when loaded */
};

enum data_split_kind { SPLIT_TRAIN, SPLIT_VAL, SPLIT_CALIB, SPLIT_TEST };

struct data_split {
    const struct dataset *set;
    int first, count;
};

/* Loads the training file (and the test file when with_test), checks that
 * images and labels agree, that labels lie below `classes`, that the
 * splits fit, and that images are (1, height, width). Errors name the file. */
enum mtd_status data_load(struct data *d, const struct data_config *cfg, int classes,
                          int height, int width, int with_test, struct mtd_error *err);
void data_free(struct data *d);

struct data_split data_split(const struct data *d, enum data_split_kind kind);

/* The positions of epoch `epoch` of a split of `count` images: a
 * permutation of [0, count) seeded by (seed, epoch). */
void data_epoch_order(uint64_t seed, int epoch, int count, int *order);

/* Fills images (n, 1, h, w), normalised, and labels (n) with the split's
 * images at positions idx[0..n). With augment, image i is cropped and
 * flipped at random from the stream (seed, epoch, first_position + i). */
void data_batch(const struct data *d, const struct data_split *s, const int *idx, int n,
                int augment, uint64_t seed, int epoch, long first_position, float *images,
                int *labels);

#endif
