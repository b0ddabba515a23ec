/*
 * conv2d_depthwise.h - direct kernel for depthwise convolutions
 * (cin == cout == groups), internal to the conv2d op: one k x k filter per
 * channel, stored with a row stride of wcin*k*k floats. Same contracts as
 * conv2d_forward and conv2d_backward; scratch holds
 * conv2d_depthwise_scratch_floats(s) floats per thread.
 */
#ifndef MUTATORD_CONV2D_DEPTHWISE_H
#define MUTATORD_CONV2D_DEPTHWISE_H

#include "conv2d.h"

size_t conv2d_depthwise_scratch_floats(const struct conv2d_shape *s);

void conv2d_depthwise_forward(float *out, const float *inp, const float *weight,
                              const struct conv2d_shape *s, float *scratch,
                              const struct conv2d_epilogue *ep);

/* The forward with 16 channels per vector (depthwise_lanes.c): 1 when it
 * ran, 0 when the CPU lacks AVX-512 (then the plane kernel runs). Its
 * scratch per thread is depthwise_lanes_scratch_floats(s), counted in
 * conv2d_depthwise_scratch_floats. */
int depthwise_lanes_forward(float *out, const float *inp, const float *weight,
                            const struct conv2d_shape *s, float *scratch,
                            const struct conv2d_epilogue *ep);
size_t depthwise_lanes_scratch_floats(const struct conv2d_shape *s);

/* The forward on images interleaved 16 at a time (conv2d_interleaved_forward),
 * single-threaded: 1 when it ran, 0 when the CPU lacks AVX-512. scratch:
 * depthwise_interleaved_scratch_floats(s) floats. */
int depthwise_interleaved_forward(float *out, const float *inp, const float *weight,
                                  const struct conv2d_shape *s, float *scratch,
                                  const struct conv2d_epilogue *ep);
size_t depthwise_interleaved_scratch_floats(const struct conv2d_shape *s);

/* The backward pass in the same layout (depthwise_lanes.c): 1 when it ran,
 * 0 when the CPU lacks AVX-512 or the kernel is not odd and padded by half
 * of it (then the plane kernel runs). */
int depthwise_lanes_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                             const float *weight, const struct conv2d_shape *s, float *scratch);

/* Whether depthwise_lanes_forward and depthwise_lanes_backward both run
 * on s, and so take its in_map in NCHW (the plane kernel does not). */
int depthwise_lanes_maps_input(const struct conv2d_shape *s);

/* The plane kernel's backward alone (tests compare the two). */
void depthwise_planes_backward(float *dinp, float *dweight, const float *dout,
                               const float *inp, const float *weight,
                               const struct conv2d_shape *s, float *scratch);

/* The plane kernel's forward alone (tests compare the two). */
void depthwise_planes_forward(float *out, const float *inp, const float *weight,
                              const struct conv2d_shape *s, float *scratch,
                              const struct conv2d_epilogue *ep);

/* The epilogue's affine map on channels [0, c) of one image's output
 * (c, ohw) (conv2d.c). */
void conv2d_apply_epilogue(float *y, int c, int ohw, const struct conv2d_epilogue *ep);

/* The epilogue's moments (if it has any) of channels [c0, c0 + c) of
 * image img, whose planes are at y (c, ohw), of an output of cout
 * channels. */
void conv2d_epilogue_moments(const struct conv2d_epilogue *ep, const float *y, size_t img,
                             int c0, int c, int cout, int ohw);

void conv2d_depthwise_backward(float *dinp, float *dweight, const float *dout,
                               const float *inp, const float *weight,
                               const struct conv2d_shape *s, float *scratch);

#endif
