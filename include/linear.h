/*
 * linear.h - fully connected layer, out = inp x W^T + b.
 *
 * Width awareness: W is stored as (out_max, in_max) and b as (out_max); a
 * call uses the first `out` rows and the first `in` columns of W, handed to
 * sgemm with leading dimension in_max. Backward passes accumulate (+=).
 * Threads: one sgemm at BLAS's thread count (1 under parallel_init), with
 * no enclosing parallel region.
 */
#ifndef MUTATORD_LINEAR_H
#define MUTATORD_LINEAR_H

struct linear_shape {
    int n;       /* batch */
    int in;      /* active input features */
    int out;     /* active output features */
    int in_max;  /* input features the weight is stored for (row stride) */
};

/* out: (N, out); inp: (N, in); weight: (>= out, in_max); bias: (>= out) or NULL */
void linear_forward(float *out, const float *inp, const float *weight,
                    const float *bias, const struct linear_shape *s);

/* dinp: (N, in) or NULL; dweight: like weight; dbias: like bias, or NULL;
 * dout: (N, out) */
void linear_backward(float *dinp, float *dweight, float *dbias,
                     const float *dout, const float *inp, const float *weight,
                     const struct linear_shape *s);

#endif
