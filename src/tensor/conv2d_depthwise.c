/*
 * conv2d_depthwise.c - direct depthwise convolution.
 *
 * Loops run kernel tap by kernel tap over the valid output range of each
 * tap (no bounds test inside), which keeps the inner loop a contiguous
 * multiply-add at stride 1. Forward parallelises over (image, channel)
 * planes; backward over channels, each thread summing the weight gradient
 * of its channels over the whole batch in image order, so no partials and
 * no dependence on the thread count.
 */
#include "conv2d_depthwise.h"
#include "im2col.h"

#include <string.h>

void conv2d_depthwise_forward(float *out, const float *inp, const float *weight,
                              const struct conv2d_shape *s)
{
    const int oh = conv2d_out_h(s), ow = conv2d_out_w(s), c = s->cin, k = s->k;
    const size_t ldw = (size_t)s->wcin * k * k, planes = (size_t)s->n * c;

#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *x = inp + p * s->h * s->w;
        const float *wk = weight + (p % (size_t)c) * ldw;
        float *y = out + p * oh * ow;
        memset(y, 0, sizeof(float) * (size_t)oh * ow);
        for (int ky = 0; ky < k; ky++) {
            int ylo, yhi;
            conv_valid_range(ky, s->h, oh, s->stride, s->pad, &ylo, &yhi);
            for (int kx = 0; kx < k; kx++) {
                int xlo, xhi;
                conv_valid_range(kx, s->w, ow, s->stride, s->pad, &xlo, &xhi);
                const float wv = wk[ky * k + kx];
                for (int oy = ylo; oy < yhi; oy++) {
                    long base = (long)(oy * s->stride - s->pad + ky) * s->w - s->pad + kx;
                    float *yrow = y + (size_t)oy * ow;
                    for (int ox = xlo; ox < xhi; ox++)
                        yrow[ox] += wv * x[base + (long)ox * s->stride];
                }
            }
        }
    }
}

void conv2d_depthwise_backward(float *dinp, float *dweight, const float *dout,
                               const float *inp, const float *weight,
                               const struct conv2d_shape *s)
{
    const int oh = conv2d_out_h(s), ow = conv2d_out_w(s), c = s->cin, k = s->k;
    const size_t ldw = (size_t)s->wcin * k * k;
    const size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)oh * ow;

#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float *wk = weight + (size_t)ch * ldw;
        float *dwk = dweight + (size_t)ch * ldw;
        for (int ky = 0; ky < k; ky++) {
            int ylo, yhi;
            conv_valid_range(ky, s->h, oh, s->stride, s->pad, &ylo, &yhi);
            for (int kx = 0; kx < k; kx++) {
                int xlo, xhi;
                conv_valid_range(kx, s->w, ow, s->stride, s->pad, &xlo, &xhi);
                const float wv = wk[ky * k + kx];
                float dwv = 0.0f;
                for (int img = 0; img < s->n; img++) {
                    size_t p = (size_t)img * c + ch;
                    const float *x = inp + p * in_plane;
                    const float *dy = dout + p * out_plane;
                    float *dx = dinp ? dinp + p * in_plane : NULL;
                    for (int oy = ylo; oy < yhi; oy++) {
                        long base = (long)(oy * s->stride - s->pad + ky) * s->w - s->pad + kx;
                        const float *dyrow = dy + (size_t)oy * ow;
                        for (int ox = xlo; ox < xhi; ox++) {
                            long i = base + (long)ox * s->stride;
                            dwv += dyrow[ox] * x[i];
                            if (dx)
                                dx[i] += wv * dyrow[ox];
                        }
                    }
                }
                dwk[ky * k + kx] += dwv;
            }
        }
    }
}
