/*
 * activation.c - ReLU.
 */
#include "activation.h"
#include "parallel.h"
#include "simd.h"

/* Below this many elements a parallel region costs more than it saves. */
#define PARALLEL_MIN 32768

static void relu_range(float *out, const float *inp, int t, size_t begin, size_t end)
{
    (void)t;
    for (size_t i = begin; i < end; i++)
        out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void relu_forward(float *out, const float *inp, size_t count)
{
    PARALLEL_RANGES(count, count >= PARALLEL_MIN, relu_range, out, inp);
}

void relu_backward_inplace(float *dout, const float *out, size_t count)
{
#pragma omp parallel for schedule(static) if (count >= PARALLEL_MIN)
    for (size_t i = 0; i < count; i++)
        dout[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

void relu_backward(float *dinp, const float *dout, const float *out, size_t count)
{
#pragma omp parallel for schedule(static) if (count >= PARALLEL_MIN)
    for (size_t i = 0; i < count; i++)
        dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

/* y = x * scale + shift, then ReLU when relu. */
SIMD_KERNEL
void affine_plane(float *y, const float *x, int hw, float scale, float shift, int relu)
{
    if (relu) {
        for (int i = 0; i < hw; i++) {
            float v = x[i] * scale + shift;
            y[i] = v > 0.0f ? v : 0.0f;
        }
    } else {
        for (int i = 0; i < hw; i++)
            y[i] = x[i] * scale + shift;
    }
}
