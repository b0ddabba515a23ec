/*
 * im2col.c - window unfolding for the sgemm convolution.
 *
 * For each (channel, ky, kx) row, the valid output column range of every
 * output row is computed once, so the inner loops carry no bounds test.
 */
#include "im2col.h"

#include <string.h>

void conv_valid_range(int kk, int in, int out, int stride, int pad,
                        int *lo, int *hi)
{
    int first = pad - kk;  /* need o*stride >= pad - kk */
    int l = first <= 0 ? 0 : (first + stride - 1) / stride;
    int last = in - 1 + pad - kk;  /* need o*stride <= in - 1 + pad - kk */
    int h = last < 0 ? 0 : last / stride + 1;
    if (h > out)
        h = out;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

void im2col(float *col, const float *img, int c, int h, int w, int k,
            int stride, int pad, int oh, int ow)
{
    for (int ci = 0; ci < c; ci++) {
        const float *plane = img + (size_t)ci * h * w;
        for (int ky = 0; ky < k; ky++) {
            int ylo, yhi;
            conv_valid_range(ky, h, oh, stride, pad, &ylo, &yhi);
            for (int kx = 0; kx < k; kx++) {
                int xlo, xhi;
                conv_valid_range(kx, w, ow, stride, pad, &xlo, &xhi);
                float *row = col + (((size_t)ci * k + ky) * k + kx) * oh * ow;
                memset(row, 0, sizeof(float) * (size_t)ylo * ow);
                for (int oy = ylo; oy < yhi; oy++) {
                    float *dst = row + (size_t)oy * ow;
                    /* Input index of output column 0 (may be negative; only
                     * columns in [xlo, xhi) are read). */
                    long base = (long)(oy * stride - pad + ky) * w - pad + kx;
                    for (int ox = 0; ox < xlo; ox++)
                        dst[ox] = 0.0f;
                    if (stride == 1) {
                        memcpy(dst + xlo, plane + base + xlo, sizeof(float) * (size_t)(xhi - xlo));
                    } else {
                        for (int ox = xlo; ox < xhi; ox++)
                            dst[ox] = plane[base + (long)ox * stride];
                    }
                    for (int ox = xhi; ox < ow; ox++)
                        dst[ox] = 0.0f;
                }
                memset(row + (size_t)yhi * ow, 0, sizeof(float) * (size_t)(oh - yhi) * ow);
            }
        }
    }
}

void col2im_add(float *img, const float *col, int c, int h, int w, int k,
                int stride, int pad, int oh, int ow)
{
    for (int ci = 0; ci < c; ci++) {
        float *plane = img + (size_t)ci * h * w;
        for (int ky = 0; ky < k; ky++) {
            int ylo, yhi;
            conv_valid_range(ky, h, oh, stride, pad, &ylo, &yhi);
            for (int kx = 0; kx < k; kx++) {
                int xlo, xhi;
                conv_valid_range(kx, w, ow, stride, pad, &xlo, &xhi);
                const float *row = col + (((size_t)ci * k + ky) * k + kx) * oh * ow;
                for (int oy = ylo; oy < yhi; oy++) {
                    const float *src = row + (size_t)oy * ow;
                    long base = (long)(oy * stride - pad + ky) * w - pad + kx;
                    for (int ox = xlo; ox < xhi; ox++)
                        plane[base + (long)ox * stride] += src[ox];
                }
            }
        }
    }
}

void im2col_interleaved(float *col, const float *img, int c, int h, int w, int k, int stride,
                        int pad, int ow, int q0, int nq, int lanes)
{
    const size_t vec = (size_t)lanes * sizeof(float);
    for (int ci = 0; ci < c; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = col + ((((size_t)ci * k + ky) * k + kx) * nq) * lanes;
                for (int j = 0; j < nq; j++) {
                    const int oy = (q0 + j) / ow, ox = (q0 + j) % ow;
                    const int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                    float *dst = row + (size_t)j * lanes;
                    if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                        memcpy(dst, img + (((size_t)ci * h + iy) * w + ix) * lanes, vec);
                    else
                        memset(dst, 0, vec);
                }
            }
}
