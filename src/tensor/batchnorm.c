/*
 * batchnorm.c - batch normalisation.
 *
 * Statistics are summed in double, mean first and then squared deviations
 * (two passes), so that a channel of large mean loses no precision.
 */
#include "batchnorm.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

void batchnorm_forward_train(float *out, float *mean, float *var,
                             const float *inp, const float *gamma,
                             const float *beta, float eps,
                             const struct bn_shape *s)
{
    const size_t chw = (size_t)s->c * s->hw;
    const double count = (double)s->n * s->hw;
    assert(count > 0);

#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < s->c; ch++) {
        double sum = 0.0;
        for (int img = 0; img < s->n; img++) {
            const float *x = inp + img * chw + (size_t)ch * s->hw;
            for (int i = 0; i < s->hw; i++)
                sum += (double)x[i];
        }
        const double m = sum / count;
        double ss = 0.0;
        for (int img = 0; img < s->n; img++) {
            const float *x = inp + img * chw + (size_t)ch * s->hw;
            for (int i = 0; i < s->hw; i++) {
                double d = (double)x[i] - m;
                ss += d * d;
            }
        }
        const double v = ss / count;
        mean[ch] = (float)m;
        var[ch] = (float)v;
        const float scale = gamma[ch] / sqrtf((float)v + eps);
        const float shift = beta[ch] - (float)m * scale;
        for (int img = 0; img < s->n; img++) {
            const float *x = inp + img * chw + (size_t)ch * s->hw;
            float *y = out + img * chw + (size_t)ch * s->hw;
            for (int i = 0; i < s->hw; i++)
                y[i] = x[i] * scale + shift;
        }
    }
}

void batchnorm_backward(float *dinp, float *dgamma, float *dbeta,
                        const float *dout, const float *inp, const float *gamma,
                        const float *mean, const float *var, float eps,
                        const struct bn_shape *s)
{
    const size_t chw = (size_t)s->c * s->hw;
    const double count = (double)s->n * s->hw;

#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < s->c; ch++) {
        const float m = mean[ch];
        const float rstd = 1.0f / sqrtf(var[ch] + eps);
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int img = 0; img < s->n; img++) {
            const float *x = inp + img * chw + (size_t)ch * s->hw;
            const float *dy = dout + img * chw + (size_t)ch * s->hw;
            for (int i = 0; i < s->hw; i++) {
                sum_dy += (double)dy[i];
                sum_dy_xhat += (double)dy[i] * (double)((x[i] - m) * rstd);
            }
        }
        dgamma[ch] += (float)sum_dy_xhat;
        dbeta[ch] += (float)sum_dy;
        if (dinp == NULL)
            continue;
        /* dx = gamma*rstd * (dy - mean(dy) - xhat * mean(dy*xhat)) */
        const float k = gamma[ch] * rstd;
        const float mean_dy = (float)(sum_dy / count);
        const float mean_dy_xhat = (float)(sum_dy_xhat / count);
        for (int img = 0; img < s->n; img++) {
            const float *x = inp + img * chw + (size_t)ch * s->hw;
            const float *dy = dout + img * chw + (size_t)ch * s->hw;
            float *dx = dinp + img * chw + (size_t)ch * s->hw;
            for (int i = 0; i < s->hw; i++) {
                float xhat = (x[i] - m) * rstd;
                dx[i] += k * (dy[i] - mean_dy - xhat * mean_dy_xhat);
            }
        }
    }
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

void batchnorm_forward_eval(float *out, const float *inp, const float *gamma,
                            const float *beta, const float *running_mean,
                            const float *running_var, float eps,
                            const struct bn_shape *s)
{
    const size_t chw = (size_t)s->c * s->hw;

#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < s->c; ch++) {
        const float scale = gamma[ch] / sqrtf(running_var[ch] + eps);
        const float shift = beta[ch] - running_mean[ch] * scale;
        for (int img = 0; img < s->n; img++) {
            const float *x = inp + img * chw + (size_t)ch * s->hw;
            float *y = out + img * chw + (size_t)ch * s->hw;
            for (int i = 0; i < s->hw; i++)
                y[i] = x[i] * scale + shift;
        }
    }
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
