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

/* The size of the ranges PARALLEL_RANGES hands out for count items: about
 * four per thread. */
static inline size_t parallel_step(size_t count, int threads)
{
    const size_t step = count / (4 * (size_t)threads);
    return step > 0 ? step : 1;
}

/* Calls fn(args..., t, begin, end) on ranges [begin, end) that together
 * cover [0, count) once: on the threads t of a new team, which take the
 * next range as they finish one (a thread slowed down by its neighbours on
 * a shared machine takes fewer, instead of keeping the others waiting at
 * the end), or once for all of it (t = 0) on the calling thread when
 * `worth` is false or inside another parallel region: evaluation runs the
 * ops of its chunks within one, where a nested team of a single thread
 * would still cost a system call per op. fn's results must not depend on
 * how the items are cut into ranges. */
#define PARALLEL_RANGES(count, worth, fn, ...)                                          \
    do {                                                                               \
        const size_t count_ = (count);                                                 \
        if (!(worth) || omp_in_parallel()) {                                           \
            fn(__VA_ARGS__, 0, 0, count_);                                             \
        } else {                                                                       \
            const size_t step_ = parallel_step(count_, parallel_threads());            \
            size_t next_ = 0;                                                          \
            _Pragma("omp parallel")                                                    \
            {                                                                          \
                const int t_ = omp_get_thread_num();                                   \
                for (;;) {                                                             \
                    size_t begin_;                                                     \
                    _Pragma("omp atomic capture")                                      \
                    {                                                                  \
                        begin_ = next_;                                                \
                        next_ += step_;                                                \
                    }                                                                  \
                    if (begin_ >= count_)                                              \
                        break;                                                         \
                    fn(__VA_ARGS__, t_, begin_, count_ - begin_ < step_ ? count_ : begin_ + step_); \
                }                                                                      \
            }                                                                          \
        }                                                                              \
    } while (0)

#endif
