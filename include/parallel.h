/*
 * parallel.h - the one place that decides how many threads do what.
 *
 * One level of parallelism at a time: the ops run OpenMP regions over the
 * batch or the channels and call BLAS single-threaded inside them. Loops are
 * partitioned by output so no two threads write the same address, and every
 * reduction across threads is summed in a fixed order (of threads, or of
 * the ranges below), so the same inputs at the same thread count always
 * give the same bits.
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

/* Work cut into ranges, PARALLEL_RANGES_PER_THREAD per thread, in blocks:
 * thread t takes the ranges of block t in order, then the next ranges of
 * the other blocks. A thread thus keeps the same part of the batch from op
 * to op (its caches hold it) unless another thread is slower: on a shared
 * machine one vCPU often is, and with fixed shares the other waited for it
 * at every op's end. */
enum { PARALLEL_RANGES_PER_THREAD = 8, PARALLEL_MAX_THREADS = 256 };

struct parallel_cursor {
    int threads;                        /* blocks */
    int next[PARALLEL_MAX_THREADS];     /* block b's next range */
};

static inline void parallel_cursor_init(struct parallel_cursor *c)
{
    c->threads = parallel_threads();
    for (int b = 0; b < c->threads; b++)
        c->next[b] = b * PARALLEL_RANGES_PER_THREAD;
}

/* The number of ranges a cursor hands out. */
static inline int parallel_cursor_ranges(const struct parallel_cursor *c)
{
    return PARALLEL_RANGES_PER_THREAD * c->threads;
}

/* The next range for thread t, or -1 when none is left. */
static inline int parallel_cursor_take(struct parallel_cursor *c, int t)
{
    for (int k = 0; k < c->threads; k++) {
        const int b = (t + k) % c->threads;
        int r;
#pragma omp atomic capture
        r = c->next[b]++;
        if (r < (b + 1) * PARALLEL_RANGES_PER_THREAD)
            return r;
    }
    return -1;
}

/* Range r of a cursor's cut of [0, count): block b (thread b's) is
 * parallel_range's part b, cut into PARALLEL_RANGES_PER_THREAD ranges
 * that shrink in the order a thread takes them (sizes in proportion to 8,
 * 6, 5, 4, 3, 2, 2, 1), so that an op ends on small ranges and the thread
 * that finishes first waits less for the other: at 2 threads training
 * ran 2.3% faster than with equal ranges, calibration 0.9%. Fixed by count
 * and the thread count alone, as the bits of the per-range reductions
 * must be; a range may be empty when count is small. */
static inline void parallel_cursor_range(size_t count, int r, int threads, size_t *begin,
                                         size_t *end)
{
    _Static_assert(PARALLEL_RANGES_PER_THREAD == 8, "a taper per range");
    static const unsigned char taper_sum[PARALLEL_RANGES_PER_THREAD + 1] = {
        0, 8, 14, 19, 23, 26, 28, 30, 31};   /* the sizes' running sums */
    size_t b0, b1;
    parallel_range(count, r / PARALLEL_RANGES_PER_THREAD, threads, &b0, &b1);
    const int k = r % PARALLEL_RANGES_PER_THREAD;
    const size_t size = b1 - b0, total = taper_sum[PARALLEL_RANGES_PER_THREAD];
    *begin = b0 + size * taper_sum[k] / total;
    *end = b0 + size * taper_sum[k + 1] / total;
}

/* The next range [begin, end) of [0, count) for thread t, in a cursor's
 * cut (parallel_cursor_range); its r, or -1 when none is left. */
static inline int parallel_cursor_next(struct parallel_cursor *c, int t, size_t count,
                                       size_t *begin, size_t *end)
{
    const int r = parallel_cursor_take(c, t);
    if (r >= 0)
        parallel_cursor_range(count, r, c->threads, begin, end);
    return r;
}

/* Range r's own piece of scratch, for a reduction summed per range and
 * the ranges added in order: scratch holds per_thread floats a thread,
 * and from `at` in each PARALLEL_RANGES_PER_THREAD pieces of `piece`
 * floats, one per range of that thread's block. */
static inline float *parallel_range_piece(float *scratch, size_t per_thread, size_t at,
                                          size_t piece, int r)
{
    return scratch + per_thread * (size_t)(r / PARALLEL_RANGES_PER_THREAD) + at
           + (size_t)(r % PARALLEL_RANGES_PER_THREAD) * piece;
}

/* Calls fn(args..., t, begin, end) on ranges [begin, end) that together
 * cover [0, count) once, none empty: on the threads t of a new team,
 * handed out by a parallel_cursor, or once for all of it (t = 0) on the
 * calling thread
 * when `worth` is false or inside another parallel region: evaluation runs
 * the ops of its chunks within one, where a nested team of a single thread
 * would still cost a system call per op. fn's results must not depend on
 * how the items are cut into ranges. */
#define PARALLEL_RANGES(count, worth, fn, ...)                                     \
    do {                                                                          \
        const size_t count_ = (count);                                            \
        if (!(worth) || omp_in_parallel()) {                                      \
            if (count_ > 0)                                                       \
                fn(__VA_ARGS__, 0, 0, count_);                                    \
        } else {                                                                  \
            struct parallel_cursor cursor_;                                       \
            parallel_cursor_init(&cursor_);                                       \
            _Pragma("omp parallel")                                               \
            {                                                                     \
                const int t_ = omp_get_thread_num();                              \
                size_t begin_, end_;                                              \
                while (parallel_cursor_next(&cursor_, t_, count_, &begin_, &end_) >= 0) \
                    if (begin_ < end_)                                            \
                        fn(__VA_ARGS__, t_, begin_, end_);                        \
            }                                                                     \
        }                                                                         \
    } while (0)

#endif
