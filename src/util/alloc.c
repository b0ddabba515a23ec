/*
 * alloc.c - aligned float buffers.
 */
#include "alloc.h"

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

void floats_free(float *p)
{
    free(p);
}
