/*
 * conv2d.h - 2-D convolution, NCHW float32, no bias.
 *
 * Width awareness: the weight is stored at its maximum width as
 * (cout_max, wcin, k, k), where wcin is the number of input channels per
 * group it was allocated for. A call runs on the first `cout` output
 * channels and, in each group, the first `cin / groups` input channels of
 * every filter: a sub-block of the weight matrix (rows of wcin*k*k floats),
 * which is handed to sgemm with that leading dimension, never copied.
 * Activations are compact at their active width.
 *
 * Dense convolutions (cin/groups > 1, or groups == 1) go through sgemm:
 * im2col, or the input itself for 1x1 convolutions at stride 1 without
 * padding. Depthwise ones (cin == cout == groups) use a direct kernel.
 *
 * Threads: parallel over the batch (dense) or the channels (depthwise) with
 * BLAS single-threaded inside; deterministic for a given thread count.
 */
#ifndef MUTATORD_CONV2D_H
#define MUTATORD_CONV2D_H

#include <stddef.h>

#include "batchnorm.h"

struct conv2d_shape {
    int n;       /* batch */
    int cin;     /* active input channels, a multiple of groups */
    int cout;    /* active output channels, a multiple of groups */
    int wcin;    /* input channels per group of the stored weight, >= cin/groups */
    int h, w;    /* input height and width */
    int k;       /* kernel height = width */
    int stride;
    int pad;     /* zero padding on every side */
    int groups;
    int overwrite;  /* backward: dinp = the gradient instead of dinp += it
                       (the caller need not zero dinp) */
    size_t in_image;  /* forward: floats from one image's input to the
                         next's; 0 means cin*h*w. A larger one reads the
                         input in place as channels of a wider tensor. */
    const struct conv2d_epilogue *in_map;
                      /* each input channel's map (scale, shift, ReLU:
                         the epilogue's arithmetic) applied to the input as
                         it is read, for a batch norm whose output only
                         this reads: forward and backward in NCHW where
                         conv2d_maps_input, forward of an interleaved
                         depthwise one (node_forward.c maps an interleaved
                         dense one's input itself); NULL: none */
    const struct bn_backward_map *dout_bn;
    const float *dout_bn_in;
                      /* backward, where conv2d_maps_input: when not NULL, dout is the
                         gradient of the output of the training BN after
                         this convolution, whose input (this convolution's
                         output, N x cout x oh*ow) is dout_bn_in: each
                         image's output gradient is batchnorm_backward_image
                         of them, in scratch */
    size_t out_channel; /* forward, interleaved only: floats from one
                           output channel to the next; 0: compact (OH*OW*16).
                           A larger one writes channels in place in a
                           wider tensor (a channel shuffle's output). */
};

/* Floats from one image's input to the next's in the forward pass. */
size_t conv2d_in_image(const struct conv2d_shape *s);

/* Output height and width. */
int conv2d_out_h(const struct conv2d_shape *s);
int conv2d_out_w(const struct conv2d_shape *s);

/* Multiply-accumulates of one forward pass of the whole batch. */
double conv2d_macs(const struct conv2d_shape *s);

/* Whether conv2d_forward_ep and conv2d_backward take s->in_map, and
 * conv2d_backward s->dout_bn (NCHW): a dense ungrouped convolution, or a
 * depthwise one on the kernel with 16 channels per vector (AVX-512, an
 * odd kernel padded by half of it). */
int conv2d_maps_input(const struct conv2d_shape *s);

/* Floats of scratch memory that conv2d_forward and conv2d_backward need
 * when run with `threads` threads (parallel_threads()). */
size_t conv2d_scratch_floats(const struct conv2d_shape *s, int threads);

/* out = conv(inp, weight).
 * out:     (N, cout, OH, OW), overwritten
 * inp:     (N, cin, H, W)
 * weight:  (>= cout, wcin, k, k)
 * scratch: conv2d_scratch_floats(s, parallel_threads()) floats */
void conv2d_forward(float *out, const float *inp, const float *weight,
                    const struct conv2d_shape *s, float *scratch);

/* What is done with each image's output as soon as it is computed: a
 * per-output-channel affine map and optional ReLU (an evaluation-mode
 * batch norm folded into the convolution): out = out * scale[c] +
 * shift[c]; and/or the moments of each output plane for the training-mode
 * batch norm that reads it (batchnorm_plane_moments; then the BN makes no
 * pass of its own over the output for them). */
struct conv2d_epilogue {
    const float *scale, *shift;   /* (cout), or NULL: no affine map */
    int relu;
    double *moments;              /* (N, cout, 2), or NULL */
    double *pool;                 /* interleaved dense only, with scale:
                                     (cout, 16), each image's sum of its
                                     output planes in pixel order, in
                                     double, added to; nothing is stored
                                     (the global pool that is the output's
                                     only reader); or NULL */
};

/* conv2d_forward, then the epilogue (which may be NULL). */
void conv2d_forward_ep(float *out, const float *inp, const float *weight,
                       const struct conv2d_shape *s, float *scratch,
                       const struct conv2d_epilogue *ep);

/* Images interleaved 16 at a time: tensors (C, H, W, 16), each pixel of a
 * channel a vector of the 16 images' values (evaluation's layout for
 * whole groups of images: src/supernet/forward.c). Every lane gets the
 * bits that conv2d_forward_ep gives its image. Runs on the calling thread
 * only.
 * supported: whether the CPU and the shape allow it (AVX-512; depthwise,
 * or ungrouped); scratch: conv2d_interleaved_scratch_floats(s) floats.
 * s->n and s->in_image are not read: the input is (cin, H, W, 16). */
enum { CONV2D_INTERLEAVED = 16 };
int conv2d_interleaved_supported(const struct conv2d_shape *s);
size_t conv2d_interleaved_scratch_floats(const struct conv2d_shape *s);
void conv2d_interleaved_forward(float *out, const float *inp, const float *weight,
                                const struct conv2d_shape *s, float *scratch,
                                const struct conv2d_epilogue *ep);

/* Gradients of conv2d_forward, accumulated (+=) into dinp and dweight.
 * dinp:    (N, cin, H, W), or NULL when the input needs no gradient
 * dweight: (>= cout, wcin, k, k), only the active block is touched
 * dout:    (N, cout, OH, OW)
 * inp, weight: as given to the forward pass */
void conv2d_backward(float *dinp, float *dweight, const float *dout,
                     const float *inp, const float *weight,
                     const struct conv2d_shape *s, float *scratch);

#endif
