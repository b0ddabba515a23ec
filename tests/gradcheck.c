/*
 * gradcheck.c - central finite differences.
 */
#include "gradcheck.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>

#define GRADCHECK_MAX_POINTS 256

void gradcheck(gradcheck_loss loss, void *ctx, float *x, size_t n,
               const float *analytic, double eps, double atol, double rtol,
               const char *what)
{
    size_t step = n <= GRADCHECK_MAX_POINTS ? 1 : n / GRADCHECK_MAX_POINTS;
    for (size_t i = 0; i < n; i += step) {
        const float saved = x[i];
        x[i] = (float)((double)saved + eps);
        double plus = loss(ctx);
        x[i] = (float)((double)saved - eps);
        double minus = loss(ctx);
        /* The perturbation actually applied, after rounding to float. */
        double h = (double)(float)((double)saved + eps) - (double)(float)((double)saved - eps);
        x[i] = saved;
        double numeric = (plus - minus) / h;
        double diff = fabs(numeric - (double)analytic[i]);
        if (diff > atol + rtol * fabs(numeric))
            fail_msg("%s[%zu]: analytic %.7g, numeric %.7g (|diff| %.3g)", what, i,
                     (double)analytic[i], numeric, diff);
    }
}

double dot_loss(const float *out, const float *r, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)out[i] * (double)r[i];
    return sum;
}
