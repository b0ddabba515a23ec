/*
 * channel.c - channel moves. Every one is a copy of channel blocks between
 * two NCHW tensors of different channel counts, written once as
 * copy_channels and reused with and without accumulation.
 */
#include "channel.h"

#include <assert.h>
#include <string.h>

#define PARALLEL_MIN 32768

/* dst[:, dst_off + i] (=|+=) src[:, src_off + i] for i < count, per image. */
static void copy_channels(float *dst, int dst_c, int dst_off, const float *src,
                          int src_c, int src_off, int count, int n, int hw,
                          int accumulate)
{
    const size_t block = (size_t)count * hw;
#pragma omp parallel for schedule(static) if (block * n >= PARALLEL_MIN)
    for (int img = 0; img < n; img++) {
        float *d = dst + ((size_t)img * dst_c + dst_off) * hw;
        const float *s = src + ((size_t)img * src_c + src_off) * hw;
        if (accumulate) {
            for (size_t i = 0; i < block; i++)
                d[i] += s[i];
        } else {
            memcpy(d, s, sizeof(float) * block);
        }
    }
}

void concat_forward(float *out, const float *a, int ca, const float *b, int cb,
                    int n, int hw)
{
    copy_channels(out, ca + cb, 0, a, ca, 0, ca, n, hw, 0);
    copy_channels(out, ca + cb, ca, b, cb, 0, cb, n, hw, 0);
}

void concat_backward(float *da, float *db, const float *dout, int ca, int cb,
                     int n, int hw, int accumulate_a, int accumulate_b)
{
    if (da)
        copy_channels(da, ca, 0, dout, ca + cb, 0, ca, n, hw, accumulate_a);
    if (db)
        copy_channels(db, cb, 0, dout, ca + cb, ca, cb, n, hw, accumulate_b);
}

void split_forward(float *a, float *b, const float *inp, int ca, int cb,
                   int n, int hw)
{
    copy_channels(a, ca, 0, inp, ca + cb, 0, ca, n, hw, 0);
    copy_channels(b, cb, 0, inp, ca + cb, ca, cb, n, hw, 0);
}

void split_backward(float *dinp, const float *da, const float *db, int ca,
                    int cb, int n, int hw, int accumulate)
{
    if (da)
        copy_channels(dinp, ca + cb, 0, da, ca, 0, ca, n, hw, accumulate);
    if (db)
        copy_channels(dinp, ca + cb, ca, db, cb, 0, cb, n, hw, accumulate);
}

/* Output channel j*groups + g holds input channel g*(c/groups) + j. The
 * inverse adds back, or copies back unless accumulate. */
static void shuffle_move(float *dst, const float *src, int n, int c, int hw,
                         int groups, int inverse, int accumulate)
{
    assert(groups > 0 && c % groups == 0);
    const int per = c / groups;
    const size_t plane = (size_t)hw;
#pragma omp parallel for schedule(static) if ((size_t)n * c * hw >= PARALLEL_MIN)
    for (int img = 0; img < n; img++) {
        for (int g = 0; g < groups; g++) {
            for (int j = 0; j < per; j++) {
                size_t shuffled = ((size_t)img * c + (size_t)j * groups + g) * plane;
                size_t original = ((size_t)img * c + (size_t)g * per + j) * plane;
                if (!inverse) {
                    memcpy(dst + shuffled, src + original, sizeof(float) * plane);
                } else if (!accumulate) {
                    memcpy(dst + original, src + shuffled, sizeof(float) * plane);
                } else {
                    for (size_t i = 0; i < plane; i++)
                        dst[original + i] += src[shuffled + i];
                }
            }
        }
    }
}

void shuffle_forward(float *out, const float *inp, int n, int c, int hw, int groups)
{
    shuffle_move(out, inp, n, c, hw, groups, 0, 0);
}

void shuffle_backward(float *dinp, const float *dout, int n, int c, int hw, int groups,
                      int accumulate)
{
    shuffle_move(dinp, dout, n, c, hw, groups, 1, accumulate);
}

void add_forward(float *out, const float *a, const float *b, size_t count)
{
#pragma omp parallel for schedule(static) if (count >= PARALLEL_MIN)
    for (size_t i = 0; i < count; i++)
        out[i] = a[i] + b[i];
}

void add_backward(float *da, float *db, const float *dout, size_t count)
{
#pragma omp parallel for schedule(static) if (count >= PARALLEL_MIN)
    for (size_t i = 0; i < count; i++) {
        if (da)
            da[i] += dout[i];
        if (db)
            db[i] += dout[i];
    }
}
