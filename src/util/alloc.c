/*
 * alloc.c - aligned float buffers.
 */
#include "alloc.h"
#include "parallel.h"

#include <omp.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FLOATS_ALIGN 64

float *floats_alloc(size_t n)
{
    if (n > (SIZE_MAX - FLOATS_ALIGN) / sizeof(float))
        return NULL;
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t bytes = (n * sizeof(float) + FLOATS_ALIGN - 1) / FLOATS_ALIGN * FLOATS_ALIGN;
    if (bytes == 0)
        bytes = FLOATS_ALIGN;
    float *p = aligned_alloc(FLOATS_ALIGN, bytes);
    if (p != NULL)
        memset(p, 0, bytes);
    return p;
}

/* Below this many floats one thread clears faster than a team starts. */
#define ZERO_PARALLEL_MIN 65536

void floats_zero(float *p, size_t n)
{
    if (n < ZERO_PARALLEL_MIN) {
        memset(p, 0, n * sizeof(float));
        return;
    }
#pragma omp parallel
    {
        size_t begin, end;
        parallel_range(n, omp_get_thread_num(), omp_get_num_threads(), &begin, &end);
        memset(p + begin, 0, (end - begin) * sizeof(float));
    }
}

void floats_free(float *p)
{
    free(p);
}
