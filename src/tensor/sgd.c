/*
 * sgd.c - the SGD update, elementwise and parallel over rows.
 */
#include "sgd.h"

#include <stddef.h>

void sgd_step(float *param, const float *grad, float *velocity, int rows,
              int cols, int ld, const struct sgd_config *cfg, int apply_decay)
{
    const float wd = apply_decay ? cfg->weight_decay : 0.0f;
    const float mom = cfg->momentum, lr = cfg->lr;
#pragma omp parallel for schedule(static) if ((long)rows * cols >= 32768)
    for (int r = 0; r < rows; r++) {
        float *w = param + (size_t)r * ld;
        const float *g = grad + (size_t)r * ld;
        float *v = velocity + (size_t)r * ld;
        for (int j = 0; j < cols; j++) {
            float d = g[j] + wd * w[j];
            v[j] = mom * v[j] + d;
            w[j] -= lr * (cfg->nesterov ? d + mom * v[j] : v[j]);
        }
    }
}
