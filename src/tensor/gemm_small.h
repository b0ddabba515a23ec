/*
 * gemm_small.h - the products of the convolutions, sized for one image
 * (internal to the conv2d op).
 *
 * The per-image products here are small (tens to a few hundred rows and
 * columns), where a general BLAS spends much of its time packing both
 * operands and taking its buffer lock. On a CPU with AVX-512 a direct
 * register-blocked kernel reads them where they lie; elsewhere the product
 * goes to BLAS.
 */
#ifndef MUTATORD_GEMM_SMALL_H
#define MUTATORD_GEMM_SMALL_H

#include <stddef.h>

#include "conv2d.h"

/* One operand's layout: element (i, p) at data[i * row + p * col]. */
struct gemm_operand {
    const float *data;
    size_t row, col;
};

/* C (m x n, rows ldc apart) = A (m x k) x B (k x n, rows ldb apart, unit
 * columns), or C += that when accumulate. One of A's strides must be 1.
 * Each element is summed over p in order, whatever the blocking: the bits
 * do not depend on where an element falls in the matrix. */
void gemm_small(int m, int n, int k, struct gemm_operand a, const float *b, size_t ldb, float *c,
                size_t ldc, int accumulate);

/* gemm_small without accumulation, then row i of C times ep->scale[i] plus
 * ep->shift[i], and the ReLU if ep->relu, as affine_plane computes it (the
 * same bits), while the block is in registers. */
void gemm_small_ep(int m, int n, int k, struct gemm_operand a, const float *b, size_t ldb,
                   float *c, size_t ldc, const struct conv2d_epilogue *ep);

/* Whether products of n columns are faster with A's columns contiguous
 * (A's row stride 1): the few columns past a multiple of 16 (the last of a
 * 7 x 7 image's 49) then go 16 rows at a time instead of taking a vector
 * of 16 lanes each. Same bits either way. */
int gemm_small_prefers_columns(int n);

/* A (m x k, rows lda apart, unit columns) as the operand for products of
 * n columns: copied into at (m * k floats) with unit rows when
 * gemm_small_prefers_columns(n), else A itself. */
struct gemm_operand gemm_small_columns(const float *a, size_t lda, int m, int k, int n, float *at);

/* C (m x n) += A (m x k, rows lda apart) x B^T, B (n x k, rows ldb apart):
 * the weight gradient's form. The direct kernel wants B^T's rows whole: it
 * transposes B into bt first, which needs gemm_small_nt_floats(n, k). */
void gemm_small_nt_add(int m, int n, int k, const float *a, size_t lda, const float *b,
                       size_t ldb, float *c, size_t ldc, float *bt);
size_t gemm_small_nt_floats(int n, int k);

/* Whether gemm_small runs its own kernel (1) or BLAS (0) on this CPU. */
int gemm_small_direct(void);

#endif
