/*
 * pool.c - pooling. Each output plane is independent, so the loops are
 * parallel over (image, channel) planes.
 */
#include "pool.h"
#include "parallel.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

/* Planes go four at a time: each plane's sum is one chain of dependent
 * additions (in pixel order, so its bits do not depend on the grouping),
 * and a single chain waits out the adder's latency at every pixel; four
 * chains side by side, in registers, keep it busy. */
static void global_avgpool_planes(float *out, const float *inp, int hw, int t, size_t begin,
                                  size_t end)
{
    (void)t;
    size_t p = begin;
    for (; p + 4 <= end; p += 4) {
        const float *x0 = inp + p * hw, *x1 = x0 + hw, *x2 = x1 + hw, *x3 = x2 + hw;
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        for (int i = 0; i < hw; i++) {
            s0 += (double)x0[i];
            s1 += (double)x1[i];
            s2 += (double)x2[i];
            s3 += (double)x3[i];
        }
        out[p] = (float)(s0 / hw);
        out[p + 1] = (float)(s1 / hw);
        out[p + 2] = (float)(s2 / hw);
        out[p + 3] = (float)(s3 / hw);
    }
    for (; p < end; p++) {
        const float *x = inp + p * hw;
        double sum = 0.0;
        for (int i = 0; i < hw; i++)
            sum += (double)x[i];
        out[p] = (float)(sum / hw);
    }
}

void global_avgpool_forward(float *out, const float *inp, int n, int c, int hw)
{
    PARALLEL_RANGES((size_t)n * c, 1, global_avgpool_planes, out, inp, hw);
}

void global_avgpool_interleaved(float *out, const float *inp, int c, int hw, int lanes)
{
    enum { MAX_LANES = 16 };
    assert(lanes <= MAX_LANES);
    for (int ch = 0; ch < c; ch++) {
        /* Each image's sum in pixel order, in double, as global_avgpool_planes */
        double sum[MAX_LANES] = {0.0};
        const float *x = inp + (size_t)ch * hw * lanes;
        for (int i = 0; i < hw; i++)
            for (int l = 0; l < lanes; l++)
                sum[l] += (double)x[(size_t)i * lanes + l];
        global_avgpool_lane_means(out + ch, sum, c, hw, lanes);
    }
}

void global_avgpool_lane_means(float *out, const double *sum, int c, int hw, int lanes)
{
    for (int l = 0; l < lanes; l++)
        out[(size_t)l * c] = (float)(sum[l] / hw);
}

void global_avgpool_backward(float *dinp, const float *dout, int n, int c, int hw)
{
    const size_t planes = (size_t)n * c;
    const float inv = 1.0f / (float)hw;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        float g = dout[p] * inv;
        float *dx = dinp + p * hw;
        for (int i = 0; i < hw; i++)
            dx[i] += g;
    }
}

int pool_out_h(const struct pool_shape *s)
{
    return (s->h + 2 * s->pad - s->k) / s->stride + 1;
}

int pool_out_w(const struct pool_shape *s)
{
    return (s->w + 2 * s->pad - s->k) / s->stride + 1;
}

/* The window of output (oy, ox) clipped to the input: rows [*y0, *y1),
 * columns [*x0, *x1). */
static void window(const struct pool_shape *s, int oy, int ox,
                   int *y0, int *y1, int *x0, int *x1)
{
    int ys = oy * s->stride - s->pad, xs = ox * s->stride - s->pad;
    *y0 = ys < 0 ? 0 : ys;
    *x0 = xs < 0 ? 0 : xs;
    *y1 = ys + s->k > s->h ? s->h : ys + s->k;
    *x1 = xs + s->k > s->w ? s->w : xs + s->k;
}

/* Index within the plane of the first maximum of window (oy, ox). */
static int window_argmax(const float *x, const struct pool_shape *s, int oy, int ox)
{
    int y0, y1, x0, x1;
    window(s, oy, ox, &y0, &y1, &x0, &x1);
    int best = y0 * s->w + x0;
    for (int y = y0; y < y1; y++)
        for (int xx = x0; xx < x1; xx++)
            if (x[y * s->w + xx] > x[best] || isnan(x[y * s->w + xx]))
                best = y * s->w + xx;
    return best;
}

static void check_pool(const struct pool_shape *s)
{
    assert(s->k > 0 && s->stride > 0 && s->pad >= 0 && 2 * s->pad <= s->k);
    assert(pool_out_h(s) > 0 && pool_out_w(s) > 0);
}

static void maxpool_planes(float *out, const float *inp, const struct pool_shape *s, int t,
                           size_t begin, size_t end)
{
    (void)t;
    const int oh = pool_out_h(s), ow = pool_out_w(s);
    for (size_t p = begin; p < end; p++) {
        const float *x = inp + p * s->h * s->w;
        float *y = out + p * oh * ow;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                y[oy * ow + ox] = x[window_argmax(x, s, oy, ox)];
    }
}

void maxpool_forward(float *out, const float *inp, const struct pool_shape *s)
{
    check_pool(s);
    PARALLEL_RANGES((size_t)s->n * s->c, 1, maxpool_planes, out, inp, s);
}

void maxpool_backward(float *dinp, const float *dout, const float *inp,
                      const struct pool_shape *s)
{
    check_pool(s);
    const int oh = pool_out_h(s), ow = pool_out_w(s);
    const size_t planes = (size_t)s->n * s->c;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *x = inp + p * s->h * s->w;
        const float *dy = dout + p * oh * ow;
        float *dx = dinp + p * s->h * s->w;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                dx[window_argmax(x, s, oy, ox)] += dy[oy * ow + ox];
    }
}

static void avgpool_planes(float *out, const float *inp, const struct pool_shape *s, int t,
                           size_t begin, size_t end)
{
    (void)t;
    const int oh = pool_out_h(s), ow = pool_out_w(s);
    const float inv = 1.0f / (float)(s->k * s->k);
    for (size_t p = begin; p < end; p++) {
        const float *x = inp + p * s->h * s->w;
        float *y = out + p * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                int y0, y1, x0, x1;
                window(s, oy, ox, &y0, &y1, &x0, &x1);
                float sum = 0.0f;
                for (int yy = y0; yy < y1; yy++)
                    for (int xx = x0; xx < x1; xx++)
                        sum += x[yy * s->w + xx];
                y[oy * ow + ox] = sum * inv;
            }
        }
    }
}

void avgpool_forward(float *out, const float *inp, const struct pool_shape *s)
{
    check_pool(s);
    PARALLEL_RANGES((size_t)s->n * s->c, 1, avgpool_planes, out, inp, s);
}

void avgpool_backward(float *dinp, const float *dout, const struct pool_shape *s)
{
    check_pool(s);
    const int oh = pool_out_h(s), ow = pool_out_w(s);
    const size_t planes = (size_t)s->n * s->c;
    const float inv = 1.0f / (float)(s->k * s->k);
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *dy = dout + p * oh * ow;
        float *dx = dinp + p * s->h * s->w;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                int y0, y1, x0, x1;
                window(s, oy, ox, &y0, &y1, &x0, &x1);
                float g = dy[oy * ow + ox] * inv;
                for (int yy = y0; yy < y1; yy++)
                    for (int xx = x0; xx < x1; xx++)
                        dx[yy * s->w + xx] += g;
            }
        }
    }
}
