/*
 * parallel.h - the one place that decides how many threads do what.
 *
 * One level of parallelism at a time: the ops run OpenMP regions over the
 * batch or the channels and call BLAS single-threaded inside them. Loops are
 * partitioned by output so no two threads write the same address, and every
 * reduction across threads is summed in thread order, so the same inputs at
 * the same thread count always give the same bits.
 */
#ifndef MUTATORD_PARALLEL_H
#define MUTATORD_PARALLEL_H

#include <omp.h>
#include <stddef.h>

/* Sets the number of OpenMP threads the ops use (threads <= 0: as many as
 * OpenMP would choose by default), switches off OpenMP's dynamic adjustment
 * (the thread count must not change under us) and makes BLAS
 * single-threaded. Call once from the main thread before any op. */
void parallel_init(int threads);

/* The name of the core BLAS's kernels are for (OpenBLAS's choice, which
 * OPENBLAS_CORETYPE overrides): a daemon's log says it. */
const char *parallel_blas_core(void);

/* The number of threads an op's parallel region will have. */
int parallel_threads(void);

/* Sets BLAS's own thread count. Only for measurements of BLAS alone (the
 * benchmark's reference sgemm); ops expect 1, as parallel_init leaves it. */
void parallel_blas_threads(int threads);

/* Splits [0, total) into nparts contiguous ranges whose sizes differ by at
 * most one, and gives range `part`. */
static inline void parallel_range(size_t total, int part, int nparts,
                                  size_t *begin, size_t *end)
{
    size_t base = total / (size_t)nparts, extra = total % (size_t)nparts;
    size_t p = (size_t)part;
    *begin = p * base + (p < extra ? p : extra);
    *end = *begin + base + (p < extra ? 1 : 0);
}

/* Calls fn(args..., t, begin, end) for the ranges of [0, count) that
 * parallel_range gives the threads t of a new team, or once for all of it
 * (t = 0) on the calling thread when `worth` is false or inside another
 * parallel region: evaluation runs the ops of its chunks within one, where
 * a nested team of a single thread would still cost a system call per op. */
#define PARALLEL_RANGES(count, worth, fn, ...)                                      \
    do {                                                                           \
        const size_t count_ = (count);                                             \
        if (!(worth) || omp_in_parallel()) {                                       \
            fn(__VA_ARGS__, 0, 0, count_);                                         \
        } else {                                                                   \
            _Pragma("omp parallel")                                                \
            {                                                                      \
                size_t begin_, end_;                                               \
                const int t_ = omp_get_thread_num();                               \
                parallel_range(count_, t_, omp_get_num_threads(), &begin_, &end_); \
                fn(__VA_ARGS__, t_, begin_, end_);                                 \
            }                                                                      \
        }                                                                          \
    } while (0)

#endif
