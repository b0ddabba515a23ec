/*
 * pool.h - pooling over NCHW tensors: global average, and max and average
 * pooling with a square window. Backward passes accumulate (+=).
 */
#ifndef MUTATORD_POOL_H
#define MUTATORD_POOL_H

/* out (N, C) = mean of each (H*W) plane of inp (N, C, HW). */
void global_avgpool_forward(float *out, const float *inp, int n, int c, int hw);

/* The same for images interleaved `lanes` at a time: out (lanes, C) =
 * the mean of each image's plane of inp (C, HW, lanes), with the bits of
 * global_avgpool_forward. */
void global_avgpool_interleaved(float *out, const float *inp, int c, int hw, int lanes);

/* Its last step for one channel: out[l * c] = the mean of image l's plane
 * of hw pixels from its sum (in pixel order, in double), l < lanes. */
void global_avgpool_lane_means(float *out, const double *sum, int c, int hw, int lanes);

/* dinp (N, C, HW) += dout (N, C) / HW. */
void global_avgpool_backward(float *dinp, const float *dout, int n, int c, int hw);

struct pool_shape {
    int n, c;    /* batch, channels */
    int h, w;    /* input height and width */
    int k;       /* window height = width */
    int stride;
    int pad;     /* implicit padding on every side, pad <= k/2 */
};

int pool_out_h(const struct pool_shape *s);
int pool_out_w(const struct pool_shape *s);

/* Max over each window; padding never wins. out: (N, C, OH, OW). */
void maxpool_forward(float *out, const float *inp, const struct pool_shape *s);

/* The gradient goes to the first maximum of each window in row-major
 * order (as PyTorch does), found again from inp. */
void maxpool_backward(float *dinp, const float *dout, const float *inp,
                      const struct pool_shape *s);

/* Mean over each window, padding counted as zeros in the divisor k*k
 * (PyTorch's count_include_pad=True). */
void avgpool_forward(float *out, const float *inp, const struct pool_shape *s);

void avgpool_backward(float *dinp, const float *dout, const struct pool_shape *s);

#endif
