/*
 * batchnorm.c - batch normalisation.
 *
 * Statistics are summed in double across images (each image's plane in
 * float lanes, see below), mean first and then squared deviations (two passes), so
 * that a channel of large mean loses no precision. The ReLU that follows
 * most BNs is fused into both passes when the shape asks for it.
 */
#include "batchnorm.h"
#include "activation.h"
#include "parallel.h"
#include "simd.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

/* Lanes: the sums below are taken in BN_LANES independent float partials
 * per image plane (a loop the compiler vectorises without reassociating;
 * the tail of a plane goes to the first lanes), flushed into BN_LANES
 * double partials at the end of each plane, which are added in lane order
 * once per channel. The bits depend on neither the thread count nor the
 * vector width. */
enum { BN_LANES = 16 };

static inline __attribute__((always_inline)) void lanes_flush(double *restrict acc,
                                                              const float *restrict lane)
{
    for (int j = 0; j < BN_LANES; j++)
        acc[j] += (double)lane[j];
}

static double lanes_total(const double *acc)
{
    double sum = 0.0;
    for (int j = 0; j < BN_LANES; j++)
        sum += acc[j];
    return sum;
}

SIMD_KERNEL
static void plane_sum(double *restrict acc, const float *restrict x, int hw)
{
    float lane[BN_LANES] = {0};
    int i = 0;
    for (; i + BN_LANES <= hw; i += BN_LANES)
        for (int j = 0; j < BN_LANES; j++)
            lane[j] += x[i + j];
    for (int j = 0; i + j < hw; j++)
        lane[j] += x[i + j];
    lanes_flush(acc, lane);
}

SIMD_KERNEL
static void plane_sqdev(double *restrict acc, const float *restrict x, int hw, float m)
{
    float lane[BN_LANES] = {0};
    int i = 0;
    for (; i + BN_LANES <= hw; i += BN_LANES)
        for (int j = 0; j < BN_LANES; j++) {
            float d = x[i + j] - m;
            lane[j] += d * d;
        }
    for (int j = 0; i + j < hw; j++) {
        float d = x[i + j] - m;
        lane[j] += d * d;
    }
    lanes_flush(acc, lane);
}

static void train_channels(float *out, float *mean, float *var, const float *inp,
                           const float *gamma, const float *beta, float eps,
                           const struct bn_shape *s, int t, size_t begin, size_t end)
{
    (void)t;
    const size_t chw = (size_t)s->c * s->hw;
    const double count = (double)s->n * s->hw;
    for (int ch = (int)begin; ch < (int)end; ch++) {
        const float *x0 = inp + (size_t)ch * s->hw;
        double acc[BN_LANES] = {0};
        for (int img = 0; img < s->n; img++)
            plane_sum(acc, x0 + img * chw, s->hw);
        const double m = lanes_total(acc) / count;
        double acc2[BN_LANES] = {0};
        for (int img = 0; img < s->n; img++)
            plane_sqdev(acc2, x0 + img * chw, s->hw, (float)m);
        const double v = lanes_total(acc2) / count;
        mean[ch] = (float)m;
        var[ch] = (float)v;
        const float scale = gamma[ch] / sqrtf((float)v + eps);
        const float shift = beta[ch] - (float)m * scale;
        for (int img = 0; img < s->n; img++)
            affine_plane(out + img * chw + (size_t)ch * s->hw, x0 + img * chw, s->hw, scale,
                         shift, s->relu);
    }
}

void batchnorm_forward_train(float *out, float *mean, float *var,
                             const float *inp, const float *gamma,
                             const float *beta, float eps,
                             const struct bn_shape *s)
{
    assert(s->n > 0 && s->hw > 0);
    PARALLEL_RANGES((size_t)s->c, 1, train_channels, out, mean, var, inp, gamma, beta, eps, s);
}

/* The gradient reaching the BN through its ReLU: dy where the output is
 * positive. Inlined into the kernels below with mask known, so that each
 * loop compiles branch-free. */
static inline __attribute__((always_inline)) float through_relu(const float *dy,
                                                                const float *out, size_t i,
                                                                int mask)
{
    return !mask || out[i] > 0.0f ? dy[i] : 0.0f;
}

/* Per image: lanes of dy and of dy * (x - m). */
static inline __attribute__((always_inline)) void
grad_sums(double *restrict acc_dy, double *restrict acc_dy_xm, const float *restrict dy,
          const float *restrict x, const float *restrict out, int hw, float m, int mask)
{
    float a[BN_LANES] = {0}, b[BN_LANES] = {0};
    int i = 0;
    for (; i + BN_LANES <= hw; i += BN_LANES)
        for (int j = 0; j < BN_LANES; j++) {
            float g = through_relu(dy, out, (size_t)(i + j), mask);
            a[j] += g;
            b[j] += g * (x[i + j] - m);
        }
    for (int j = 0; i + j < hw; j++) {
        float g = through_relu(dy, out, (size_t)(i + j), mask);
        a[j] += g;
        b[j] += g * (x[i + j] - m);
    }
    lanes_flush(acc_dy, a);
    lanes_flush(acc_dy_xm, b);
}

SIMD_KERNEL
static void plane_grad_sums(double *acc_dy, double *acc_dy_xm, const float *dy, const float *x,
                            const float *out, int hw, float m)
{
    if (out)
        grad_sums(acc_dy, acc_dy_xm, dy, x, out, hw, m, 1);
    else
        grad_sums(acc_dy, acc_dy_xm, dy, x, out, hw, m, 0);
}

/* dx (+)= k * (dy - mean_dy) - c * (x - m) */
static inline __attribute__((always_inline)) void
grad_input(float *restrict dx, const float *restrict dy, const float *restrict x,
           const float *restrict out, int hw, float m, float k, float mean_dy, float c, int mask,
           int overwrite)
{
    for (int i = 0; i < hw; i++) {
        float g = k * (through_relu(dy, out, (size_t)i, mask) - mean_dy) - c * (x[i] - m);
        dx[i] = overwrite ? g : dx[i] + g;
    }
}

SIMD_KERNEL
static void plane_grad_input(float *dx, const float *dy, const float *x, const float *out, int hw,
                             float m, float k, float mean_dy, float c, int overwrite)
{
    if (out && overwrite)
        grad_input(dx, dy, x, out, hw, m, k, mean_dy, c, 1, 1);
    else if (out)
        grad_input(dx, dy, x, out, hw, m, k, mean_dy, c, 1, 0);
    else if (overwrite)
        grad_input(dx, dy, x, out, hw, m, k, mean_dy, c, 0, 1);
    else
        grad_input(dx, dy, x, out, hw, m, k, mean_dy, c, 0, 0);
}

static void backward_channels(float *dinp, float *dgamma, float *dbeta, const float *dout,
                              const float *inp, const float *out, const float *gamma,
                              const float *mean, const float *var, float eps,
                              const struct bn_shape *s, int t, size_t begin, size_t end)
{
    (void)t;
    const size_t chw = (size_t)s->c * s->hw;
    const double count = (double)s->n * s->hw;
    const float *mask = s->relu ? out : NULL;
    for (int ch = (int)begin; ch < (int)end; ch++) {
        const size_t at = (size_t)ch * s->hw;
        const float m = mean[ch];
        const float rstd = 1.0f / sqrtf(var[ch] + eps);
        double acc_dy[BN_LANES] = {0}, acc_dy_xm[BN_LANES] = {0};
        for (int img = 0; img < s->n; img++)
            plane_grad_sums(acc_dy, acc_dy_xm, dout + img * chw + at, inp + img * chw + at,
                            mask ? mask + img * chw + at : NULL, s->hw, m);
        const double sum_dy = lanes_total(acc_dy);
        const double sum_dy_xhat = lanes_total(acc_dy_xm) * (double)rstd;
        dgamma[ch] += (float)sum_dy_xhat;
        dbeta[ch] += (float)sum_dy;
        if (dinp == NULL)
            continue;
        /* dx = gamma*rstd * (dy - mean(dy) - xhat * mean(dy*xhat)),
         * xhat = (x - m) * rstd */
        const float k = gamma[ch] * rstd;
        const float mean_dy = (float)(sum_dy / count);
        const float c = k * rstd * (float)(sum_dy_xhat / count);
        for (int img = 0; img < s->n; img++)
            plane_grad_input(dinp + img * chw + at, dout + img * chw + at, inp + img * chw + at,
                             mask ? mask + img * chw + at : NULL, s->hw, m, k, mean_dy, c,
                             s->overwrite);
    }
}

void batchnorm_backward(float *dinp, float *dgamma, float *dbeta,
                        const float *dout, const float *inp, const float *out,
                        const float *gamma, const float *mean, const float *var, float eps,
                        const struct bn_shape *s)
{
    assert(!s->relu || out != NULL);
    PARALLEL_RANGES((size_t)s->c, 1, backward_channels, dinp, dgamma, dbeta, dout, inp, out,
                    gamma, mean, var, eps, s);
}

void batchnorm_running_update(float *running_mean, float *running_var,
                              const float *mean, const float *var, int c,
                              long count, float momentum)
{
    assert(count > 1);
    const float unbias = (float)count / (float)(count - 1);
    for (int ch = 0; ch < c; ch++) {
        running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * mean[ch];
        running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * var[ch] * unbias;
    }
}

static void eval_affine(float *scale, float *shift, const float *gamma, const float *beta,
                        const float *running_mean, const float *running_var, float eps, int ch)
{
    *scale = gamma[ch] / sqrtf(running_var[ch] + eps);
    *shift = beta[ch] - running_mean[ch] * *scale;
}

void batchnorm_eval_affine(float *scale, float *shift, const float *gamma, const float *beta,
                           const float *running_mean, const float *running_var, float eps,
                           int c)
{
    for (int ch = 0; ch < c; ch++)
        eval_affine(&scale[ch], &shift[ch], gamma, beta, running_mean, running_var, eps, ch);
}

static void eval_channels(float *out, const float *inp, const float *gamma, const float *beta,
                          const float *running_mean, const float *running_var, float eps,
                          const struct bn_shape *s, int t, size_t begin, size_t end)
{
    (void)t;
    const size_t chw = (size_t)s->c * s->hw;
    for (int ch = (int)begin; ch < (int)end; ch++) {
        float scale, shift;
        eval_affine(&scale, &shift, gamma, beta, running_mean, running_var, eps, ch);
        for (int img = 0; img < s->n; img++)
            affine_plane(out + img * chw + (size_t)ch * s->hw, inp + img * chw + (size_t)ch * s->hw,
                         s->hw, scale, shift, s->relu);
    }
}

void batchnorm_forward_eval(float *out, const float *inp, const float *gamma,
                            const float *beta, const float *running_mean,
                            const float *running_var, float eps,
                            const struct bn_shape *s)
{
    PARALLEL_RANGES((size_t)s->c, 1, eval_channels, out, inp, gamma, beta, running_mean,
                    running_var, eps, s);
}

void batchnorm_calib_reset(struct bn_calib *calib, int c)
{
    for (int ch = 0; ch < c; ch++) {
        calib->mean[ch] = 0.0;
        calib->m2[ch] = 0.0;
    }
    calib->count = 0;
}

void batchnorm_calib_accumulate(struct bn_calib *calib, const float *mean,
                                const float *var, int c, long count)
{
    assert(count > 0);
    const double na = (double)calib->count, nb = (double)count, n = na + nb;
    for (int ch = 0; ch < c; ch++) {
        double delta = (double)mean[ch] - calib->mean[ch];
        calib->mean[ch] += delta * nb / n;
        calib->m2[ch] += (double)var[ch] * nb + delta * delta * na * nb / n;
    }
    calib->count += count;
}

void batchnorm_calib_finalize(float *running_mean, float *running_var,
                              const struct bn_calib *calib, int c)
{
    assert(calib->count > 1);
    for (int ch = 0; ch < c; ch++) {
        running_mean[ch] = (float)calib->mean[ch];
        running_var[ch] = (float)(calib->m2[ch] / (double)(calib->count - 1));
    }
}
