/*
 * linear.c - fully connected layer through sgemm.
 */
#include "linear.h"

#include <assert.h>
#include <cblas.h>
#include <stddef.h>

static void check_shape(const struct linear_shape *s)
{
    assert(s->n > 0 && s->in > 0 && s->out > 0 && s->in <= s->in_max);
}

void linear_forward(float *out, const float *inp, const float *weight,
                    const float *bias, const struct linear_shape *s)
{
    check_shape(s);
    for (int i = 0; i < s->n; i++)
        for (int o = 0; o < s->out; o++)
            out[(size_t)i * s->out + o] = bias ? bias[o] : 0.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->n, s->out, s->in,
                1.0f, inp, s->in, weight, s->in_max, 1.0f, out, s->out);
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
