/*
 * simd.h - compiling the hot kernels for the vector units of the machine
 * they run on.
 *
 * The build targets the baseline x86-64 (SSE2) so that one binary runs
 * anywhere, but the inner loops of the ops are worth 2-4x more with AVX2 and
 * FMA or AVX-512. SIMD_KERNEL makes GCC compile a function once per level
 * and pick the best one the CPU supports when the program loads (an ifunc).
 * A machine always picks the same clone, so results stay bit-identical from
 * run to run on it; two machines of different levels may differ in the last
 * bits (FMA rounds once where the baseline rounds twice). Valgrind reports
 * a CPU without AVX-512, so under it the AVX2 or baseline clone runs.
 */
#ifndef MUTATORD_SIMD_H
#define MUTATORD_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(MUTATORD_NO_CLONES)
#define SIMD_KERNEL \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

/* A few kernels are written for AVX-512 with intrinsics (masked loads,
 * register transposes), in functions marked SIMD_AVX512, and run only when
 * simd_avx512() says the CPU has it; the caller has a portable path for
 * the rest (and for valgrind, which reports no AVX-512). */
#define SIMD_HAVE_AVX512 1
#define SIMD_AVX512 __attribute__((target("avx512f")))
#include <immintrin.h>

static inline int simd_avx512(void)
{
    return __builtin_cpu_supports("avx512f");
}

/* The mask of the first `count` of 16 lanes (none when count <= 0, all
 * from 16 on): a vector's share of the tail of a row. */
static inline __mmask16 simd_first_lanes(int count)
{
    return count >= 16 ? (__mmask16)0xffff : count <= 0 ? 0 : (__mmask16)((1u << count) - 1u);
}

/* Lanes 8 to 15 of v (AVX-512F alone). */
SIMD_AVX512 static inline __m256 simd_high_half(__m512 v)
{
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}
#else
#define SIMD_KERNEL

static inline int simd_avx512(void)
{
    return 0;
}
#endif

#endif
