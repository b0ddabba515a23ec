/*
 * batch.c - epoch orders and batches: normalisation and augmentation
 * (data.h). Every random decision comes from a stream derived from
 * counters, so batches depend only on (seed, epoch, position).
 */
#include "data.h"

#include "rng.h"

/* Streams: the epoch's shuffle and each image's augmentation are kept
 * apart by the high bits of the stream number. */
#define STREAM_ORDER (1ULL << 62)

void data_epoch_order(uint64_t seed, int epoch, int count, int *order)
{
    struct rng rng;
    rng_seed(&rng, rng_derive(seed, STREAM_ORDER | (uint64_t)epoch));
    for (int i = 0; i < count; i++)
        order[i] = i;
    for (int i = count - 1; i > 0; i--) {
        int j = (int)rng_below(&rng, (uint64_t)i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* One image, shifted by (dy, dx) inside its zero padding (pixel value 0,
 * as a padded image before normalisation) and optionally mirrored. */
static void place_image(const unsigned char *src, int h, int w, int pad, int dy, int dx,
                        int flip, float mean, float std, float *dst)
{
    const float zero = (0.0f - mean) / std;
    for (int y = 0; y < h; y++) {
        int sy = y + dy - pad;
        for (int x = 0; x < w; x++) {
            int sx = (flip ? w - 1 - x : x) + dx - pad;
            float v = zero;
            if (sy >= 0 && sy < h && sx >= 0 && sx < w)
                v = ((float)src[sy * w + sx] / 255.0f - mean) / std;
            dst[y * w + x] = v;
        }
    }
}

void data_batch(const struct data *d, const struct data_split *s, const int *idx, int n,
                int augment, uint64_t seed, int epoch, long first_position, float *images,
                int *labels)
{
    const struct dataset *set = s->set;
    const int h = set->h, w = set->w, pad = augment ? d->cfg.crop_padding : 0;
    const int flip_on = augment && d->cfg.flip;
    const uint64_t epoch_seed = rng_derive(seed, (uint64_t)epoch);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        int k = s->first + idx[i];
        int dy = pad, dx = pad, flip = 0;
        if (augment) {
            struct rng rng;
            rng_seed(&rng, rng_derive(epoch_seed, (uint64_t)(first_position + i)));
            dy = (int)rng_below(&rng, (uint64_t)(2 * pad + 1));
            dx = (int)rng_below(&rng, (uint64_t)(2 * pad + 1));
            flip = flip_on && (rng_next(&rng) >> 63);
        }
        place_image(set->pixels + (size_t)k * (size_t)(h * w), h, w, pad, dy, dx, flip,
                    d->cfg.mean, d->cfg.std, images + (size_t)i * (size_t)(h * w));
        labels[i] = set->labels[k];
    }
}
