/*
 * alloc.h - aligned float buffers. Every tensor buffer of the project comes
 * from here: 64-byte aligned (one cache line, the widest vector), zeroed.
 */
#ifndef MUTATORD_ALLOC_H
#define MUTATORD_ALLOC_H

#include <stddef.h>

/* A zeroed, 64-byte aligned array of n floats (n may be 0), or NULL when
 * memory is exhausted or n*sizeof(float) overflows. Free with floats_free. */
float *floats_alloc(size_t n);

/* p[0, n) = 0, split over the threads when n is large (a lone thread
 * clearing activation gradients would hold the others up). */
void floats_zero(float *p, size_t n);

/* n rounded up to whole cache lines (16 floats): per-thread parts of one
 * buffer so sized never share a line, which two threads writing near
 * their ends would otherwise pass back and forth. */
static inline size_t floats_whole_lines(size_t n)
{
    return (n + 15) / 16 * 16;
}

/* Releases a buffer from floats_alloc; NULL is accepted. */
void floats_free(float *p);

#endif
