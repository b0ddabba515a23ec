/*
 * activation.h - elementwise ReLU.
 */
#ifndef MUTATORD_ACTIVATION_H
#define MUTATORD_ACTIVATION_H

#include <stddef.h>

/* out[i] = max(inp[i], 0); out may be inp. */
void relu_forward(float *out, const float *inp, size_t count);

/* dinp[i] += out[i] > 0 ? dout[i] : 0, from the forward's output (so the
 * forward may run in place). */
void relu_backward(float *dinp, const float *dout, const float *out, size_t count);

/* In place: dout[i] = out[i] > 0 ? dout[i] : 0 (the gradient through a
 * ReLU whose output's gradient has no other reader). */
void relu_backward_inplace(float *dout, const float *out, size_t count);

#endif
