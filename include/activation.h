/*
 * activation.h - elementwise ReLU, alone or after a per-channel affine map
 * (batch norm's, applied on its own or fused into a convolution).
 */
#ifndef MUTATORD_ACTIVATION_H
#define MUTATORD_ACTIVATION_H

#include <stddef.h>

/* out[i] = max(inp[i], 0); out may be inp. */
void relu_forward(float *out, const float *inp, size_t count);

/* dinp[i] += out[i] > 0 ? dout[i] : 0, from the forward's output (so the
 * forward may run in place). */
void relu_backward(float *dinp, const float *dout, const float *out, size_t count);

/* y[i] = x[i] * scale + shift for i < hw, then max(y[i], 0) when relu;
 * y may be x. One thread: callers parallelise over planes. */
void affine_plane(float *y, const float *x, int hw, float scale, float shift, int relu);

/* In place: dout[i] = out[i] > 0 ? dout[i] : 0 (the gradient through a
 * ReLU whose output's gradient has no other reader). */
void relu_backward_inplace(float *dout, const float *out, size_t count);

#endif
