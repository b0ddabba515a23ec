/*
 * im2col.h - unfolding of convolution windows into matrix columns, and
 * folding back (internal to the conv2d op).
 *
 * The column matrix has c*k*k rows (channel-major, then kernel row, then
 * kernel column: the layout of a weight row) and oh*ow columns.
 */
#ifndef MUTATORD_IM2COL_H
#define MUTATORD_IM2COL_H

/* The output positions o in [0, out) whose input position
 * o*stride - pad + kk lies inside [0, in), as the range [*lo, *hi). */
void conv_valid_range(int kk, int in, int out, int stride, int pad,
                      int *lo, int *hi);

/* col (c*k*k, oh*ow) = windows of img (c, h, w); padding reads as 0. */
void im2col(float *col, const float *img, int c, int h, int w, int k,
            int stride, int pad, int oh, int ow);

/* The same for images interleaved `lanes` at a time (img (c, h, w, lanes)),
 * for output pixels [q0, q0 + nq) only: col (c*k*k, nq, lanes). */
void im2col_interleaved(float *col, const float *img, int c, int h, int w, int k, int stride,
                        int pad, int ow, int q0, int nq, int lanes);

/* img (c, h, w) += the columns of col folded back onto their pixels. */
void col2im_add(float *img, const float *col, int c, int h, int w, int k,
                int stride, int pad, int oh, int ow);

#endif
