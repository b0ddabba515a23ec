/*
 * transpose.h - blocks of floats transposed in registers, 8 x 8 in AVX
 * and 16 x 16 in AVX-512 (internal to the ops that lay data out for their
 * kernels).
 */
#ifndef MUTATORD_TRANSPOSE_H
#define MUTATORD_TRANSPOSE_H

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

/* r[i] becomes element i of every r[j], in j order, in four rounds of 16
 * shuffles: pairs of rows within 128-bit lanes (as floats, then as pairs
 * of floats), then 128-bit lanes across vectors twice. */
static inline __attribute__((always_inline)) SIMD_AVX512 void transpose16(__m512 r[16])
{
    __m512 t[16], u[16], v[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    /* u[4j + m], 128-bit lane L: column 4L + m of rows 4j .. 4j + 3 */
#pragma GCC unroll 16
    for (int j = 0; j < 16; j += 4) {
        const __m512d a = _mm512_castps_pd(t[j]), b = _mm512_castps_pd(t[j + 1]);
        const __m512d c = _mm512_castps_pd(t[j + 2]), d = _mm512_castps_pd(t[j + 3]);
        u[j] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[j + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[j + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
#pragma GCC unroll 4
    for (int m = 0; m < 4; m++) {
        v[m] = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88);        /* lanes 0, 2 */
        v[4 + m] = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xdd);    /* lanes 1, 3 */
        v[8 + m] = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88);
        v[12 + m] = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xdd);
    }
#pragma GCC unroll 4
    for (int m = 0; m < 4; m++) {
        r[m] = _mm512_shuffle_f32x4(v[m], v[8 + m], 0x88);
        r[8 + m] = _mm512_shuffle_f32x4(v[m], v[8 + m], 0xdd);
        r[4 + m] = _mm512_shuffle_f32x4(v[4 + m], v[12 + m], 0x88);
        r[12 + m] = _mm512_shuffle_f32x4(v[4 + m], v[12 + m], 0xdd);
    }
}

#endif
