/*
 * channel.c - channel moves. Every one is a copy of channel blocks between
 * two NCHW tensors of different channel counts, written once as
 * copy_channels and reused with and without accumulation.
 */
#include "channel.h"
#include "activation.h"
#include "parallel.h"

#include <assert.h>
#include <string.h>

#define PARALLEL_MIN 32768

/* copy_channels on images [begin, end). */
static void copy_images(float *dst, int dst_c, int dst_off, const float *src, int src_c,
                        int src_off, int count, int hw, int accumulate, int t, size_t begin,
                        size_t end)
{
    (void)t;
    const size_t block = (size_t)count * hw;
    for (size_t img = begin; img < end; img++) {
        float *d = dst + (img * dst_c + dst_off) * hw;
        const float *s = src + (img * src_c + src_off) * hw;
        if (accumulate) {
            for (size_t i = 0; i < block; i++)
                d[i] += s[i];
        } else {
            memcpy(d, s, sizeof(float) * block);
        }
    }
}

/* dst[:, dst_off + i] (=|+=) src[:, src_off + i] for i < count, per image. */
static void copy_channels(float *dst, int dst_c, int dst_off, const float *src,
                          int src_c, int src_off, int count, int n, int hw,
                          int accumulate)
{
    PARALLEL_RANGES((size_t)n, (size_t)count * hw * n >= PARALLEL_MIN, copy_images, dst, dst_c,
                    dst_off, src, src_c, src_off, count, hw, accumulate);
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
    if (a)
        copy_channels(a, ca, 0, inp, ca + cb, 0, ca, n, hw, 0);
    if (b)
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

/* Where shuffled channel o of [a[:, :ca], b] comes from: channel *ch of
 * a (returns 0) or of b (returns 1). */
static int shuffled_source(int o, int ca, int c, int groups, int *ch)
{
    const int per = c / groups, q = (o % groups) * per + o / groups;
    *ch = q < ca ? q : q - ca;
    return q >= ca;
}

/* Between the shuffled concatenation `whole` (N, ca+cb, HW) and its parts
 * a (a_c channels per image, the first ca used) and b (N, cb, HW): whole =
 * shuffle([a, b]), or the inverse, each part added to (accumulate_*) or
 * written; the parts are written only by the inverse. */
static void shuffle_images(float *whole, float *a, int a_c, int ca, float *b, int cb,
                           const struct channel_map *b_map, int hw, int groups, int inverse,
                           int accumulate_a, int accumulate_b, int t, size_t begin, size_t end)
{
    (void)t;
    const int c = ca + cb;
    for (size_t img = begin; img < end; img++)
        for (int o = 0; o < c; o++) {
            int ch;
            const int in_b = shuffled_source(o, ca, c, groups, &ch);
            float *part = in_b ? b + ((size_t)img * cb + ch) * hw
                               : a + ((size_t)img * a_c + ch) * hw;
            float *plane = whole + ((size_t)img * c + o) * hw;
            if (in_b && b == NULL)   /* (written in place by its producer) */
                continue;
            if (!inverse && in_b && b_map)
                affine_plane(plane, part, hw, b_map->scale[ch], b_map->shift[ch], b_map->relu);
            else if (!inverse)
                memcpy(plane, part, sizeof(float) * (size_t)hw);
            else if (in_b ? accumulate_b : accumulate_a)
                for (int i = 0; i < hw; i++)
                    part[i] += plane[i];
            else
                memcpy(part, plane, sizeof(float) * (size_t)hw);
        }
}

static void concat_shuffle_move(float *whole, float *a, int a_c, int ca, float *b, int cb,
                                const struct channel_map *b_map, int n, int hw, int groups,
                                int inverse, int accumulate_a, int accumulate_b)
{
    const int c = ca + cb;
    assert(groups > 0 && c % groups == 0 && a_c >= ca);
    PARALLEL_RANGES((size_t)n, (size_t)n * c * hw >= PARALLEL_MIN, shuffle_images, whole, a, a_c,
                    ca, b, cb, b_map, hw, groups, inverse, accumulate_a, accumulate_b);
}

void concat_shuffle_forward_mapped(float *out, const float *a, int a_c, int ca, const float *b,
                                   int cb, const struct channel_map *b_map, int n, int hw,
                                   int groups)
{
    concat_shuffle_move(out, (float *)a, a_c, ca, (float *)b, cb, b_map, n, hw, groups, 0, 0, 0);
}

void concat_shuffle_forward(float *out, const float *a, int a_c, int ca, const float *b, int cb,
                            int n, int hw, int groups)
{
    concat_shuffle_move(out, (float *)a, a_c, ca, (float *)b, cb, NULL, n, hw, groups, 0, 0, 0);
}

void concat_shuffle_backward(float *da, int a_c, float *db, const float *dout, int ca, int cb,
                             int n, int hw, int groups, int accumulate_a, int accumulate_b)
{
    concat_shuffle_move((float *)dout, da, a_c, ca, db, cb, NULL, n, hw, groups, 1, accumulate_a,
                        accumulate_b);
}

/* A shuffle is the concat-and-shuffle of one part: output channel
 * j*groups + g holds input channel g*(c/groups) + j. */
void shuffle_forward(float *out, const float *inp, int n, int c, int hw, int groups)
{
    concat_shuffle_move(out, (float *)inp, c, c, NULL, 0, NULL, n, hw, groups, 0, 0, 0);
}

void shuffle_backward(float *dinp, const float *dout, int n, int c, int hw, int groups,
                      int accumulate)
{
    concat_shuffle_move((float *)dout, dinp, c, c, NULL, 0, NULL, n, hw, groups, 1, accumulate, 0);
}

static void add_range(float *out, const float *a, const float *b, int t, size_t begin,
                      size_t end)
{
    (void)t;
    for (size_t i = begin; i < end; i++)
        out[i] = a[i] + b[i];
}

void add_forward(float *out, const float *a, const float *b, size_t count)
{
    PARALLEL_RANGES(count, count >= PARALLEL_MIN, add_range, out, a, b);
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
