/*
 * transpose8.h - an 8 x 8 block of floats transposed in AVX registers
 * (internal to the ops that lay data out for their kernels).
 */
#ifndef MUTATORD_TRANSPOSE8_H
#define MUTATORD_TRANSPOSE8_H

#include <stddef.h>

#include "simd.h"

/* col[i] = element i of every row[j], in j order: unpack pairs of rows,
 * shuffle pairs of pairs, then swap 128-bit halves. For SIMD_AVX512
 * callers. */
static inline __attribute__((always_inline)) SIMD_AVX512 void
transpose8(const __m256 row[8], __m256 col[8])
{
    __m256 u[8], v[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 2) {
        u[i] = _mm256_unpacklo_ps(row[i], row[i + 1]);
        u[i + 1] = _mm256_unpackhi_ps(row[i], row[i + 1]);
    }
#pragma GCC unroll 8
    for (int h = 0; h < 8; h += 4) {
        v[h] = _mm256_shuffle_ps(u[h], u[h + 2], 0x44);
        v[h + 1] = _mm256_shuffle_ps(u[h], u[h + 2], 0xEE);
        v[h + 2] = _mm256_shuffle_ps(u[h + 1], u[h + 3], 0x44);
        v[h + 3] = _mm256_shuffle_ps(u[h + 1], u[h + 3], 0xEE);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 4; i++) {
        col[i] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x20);
        col[i + 4] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x31);
    }
}

/* dst row i (dst_stride apart) = column i of the 8 x 8 block whose rows
 * are src_stride apart. */
static inline __attribute__((always_inline)) SIMD_AVX512 void
transpose8_block(float *dst, size_t dst_stride, const float *src, size_t src_stride)
{
    __m256 row[8], col[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        row[i] = _mm256_loadu_ps(src + (size_t)i * src_stride);
    transpose8(row, col);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        _mm256_storeu_ps(dst + (size_t)i * dst_stride, col[i]);
}

#endif
