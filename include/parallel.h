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

#endif
