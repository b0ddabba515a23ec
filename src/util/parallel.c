/*
 * parallel.c - thread counts of OpenMP and BLAS.
 */
#include "parallel.h"

#include <cblas.h>
#include <omp.h>

void parallel_init(int threads)
{
    omp_set_dynamic(0);
    /* A parallel region inside another runs on its one thread: evaluation
     * gives each thread whole images and calls the ops from there. */
    omp_set_max_active_levels(1);
    if (threads <= 0)
        threads = omp_get_max_threads();
    /* (the ops' cursors have room for this many: parallel.h) */
    omp_set_num_threads(threads < PARALLEL_MAX_THREADS ? threads : PARALLEL_MAX_THREADS);
    openblas_set_num_threads(1);
}

int parallel_threads(void)
{
    const int threads = omp_get_max_threads();
    return threads < PARALLEL_MAX_THREADS ? threads : PARALLEL_MAX_THREADS;
}

const char *parallel_blas_core(void)
{
    return openblas_get_corename();
}

void parallel_blas_threads(int threads)
{
    openblas_set_num_threads(threads);
}
