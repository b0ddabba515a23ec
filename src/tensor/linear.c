/*
 * linear.c - fully connected layer: its forward as fixed-order dot
 * products, its backward through sgemm.
 */
#include "linear.h"
#include "simd.h"

#include <assert.h>
#include <cblas.h>
#include <stddef.h>

static void check_shape(const struct linear_shape *s)
{
    assert(s->n > 0 && s->in > 0 && s->out > 0 && s->in <= s->in_max);
}

/* x . w in DOT_PARTS partial sums (element p goes to sum p % DOT_PARTS,
 * in order), then added pairwise in a fixed tree. sgemm's order depends on
 * the batch's size (its kernels split rows and columns by it), so an
 * image's logits depended on how many came with it; these do not. */
enum { DOT_PARTS = 16 };

SIMD_KERNEL static float dot_fixed(const float *x, const float *w, int k)
{
    float part[DOT_PARTS] = {0.0f};
    int p = 0;
    for (; p + DOT_PARTS <= k; p += DOT_PARTS)
        for (int l = 0; l < DOT_PARTS; l++)
            part[l] += x[p + l] * w[p + l];
    for (int l = 0; p + l < k; l++)
        part[l] += x[p + l] * w[p + l];
    for (int width = DOT_PARTS / 2; width > 0; width /= 2)
        for (int l = 0; l < width; l++)
            part[l] += part[l + width];
    return part[0];
}

void linear_forward(float *out, const float *inp, const float *weight,
                    const float *bias, const struct linear_shape *s)
{
    check_shape(s);
    for (int i = 0; i < s->n; i++)
        for (int o = 0; o < s->out; o++)
            out[(size_t)i * s->out + o] =
                (bias ? bias[o] : 0.0f)
                + dot_fixed(inp + (size_t)i * s->in, weight + (size_t)o * s->in_max, s->in);
}

void linear_backward(float *dinp, float *dweight, float *dbias,
                     const float *dout, const float *inp, const float *weight,
                     const struct linear_shape *s)
{
    check_shape(s);
    /* dW (out, in) += dout^T (out, N) x inp (N, in) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s->out, s->in, s->n,
                1.0f, dout, s->out, inp, s->in, 1.0f, dweight, s->in_max);
    /* dinp (N, in) += dout (N, out) x W (out, in) */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->n, s->in, s->out,
                    1.0f, dout, s->out, weight, s->in_max, 1.0f, dinp, s->in);
    if (dbias) {
        for (int o = 0; o < s->out; o++) {
            double sum = 0.0;
            for (int i = 0; i < s->n; i++)
                sum += (double)dout[(size_t)i * s->out + o];
            dbias[o] += (float)sum;
        }
    }
}
