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
#else
#define SIMD_KERNEL
#endif

#endif
