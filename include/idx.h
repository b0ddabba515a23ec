/*
 * idx.h - reading IDX files (the MNIST / Fashion-MNIST format), plain or
 * gzip-compressed (zlib reads both).
 *
 * Layout: two zero bytes, a type byte (0x08: unsigned byte, the only type
 * accepted here), the number of dimensions, then each dimension as a
 * big-endian 32-bit count, then the data in row-major order. A file must
 * hold exactly the bytes its header announces: a short file or trailing
 * bytes are errors that name the file.
 */
#ifndef MUTATORD_IDX_H
#define MUTATORD_IDX_H

#include <stddef.h>

#include "status.h"

#define IDX_MAX_DIMS 4

struct idx_array {
    int ndims;
    int dims[IDX_MAX_DIMS];
    size_t size;           /* product of dims: bytes of data */
    unsigned char *data;   /* owned; free with idx_free */
};

/* Loads path, which must have `ndims` dimensions (1 for labels, 3 for
 * images). Errors (MTD_ERR_IO when the file cannot be read, MTD_ERR_DATA
 * when its content is wrong) name the file and what is wrong. */
enum mtd_status idx_load(const char *path, int ndims, struct idx_array *out,
                         struct mtd_error *err);

void idx_free(struct idx_array *a);

#endif
