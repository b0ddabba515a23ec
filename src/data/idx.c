/*
 * idx.c - the IDX reader (idx.h).
 */
#include "idx.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Larger than any data set this tool trains on; a corrupt header must not
 * make us allocate gigabytes. */
#define IDX_MAX_BYTES ((size_t)1 << 32)

/* Reads up to n bytes; returns the count read, or -1 on a read error. */
static long read_fully(gzFile f, unsigned char *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        size_t want = n - done > (1u << 30) ? (1u << 30) : n - done;
        int got = gzread(f, buf + done, (unsigned)want);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (long)done;
}

static enum mtd_status read_error(gzFile f, const char *path, struct mtd_error *err)
{
    int zerr;
    const char *msg = gzerror(f, &zerr);
    if (zerr == Z_ERRNO)
        return mtd_error_set(err, MTD_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    return mtd_error_set(err, MTD_ERR_DATA, "%s: corrupt or truncated compressed data (%s)", path,
                         msg);
}

#define READ_CHUNK ((size_t)1 << 20)

enum mtd_status idx_load(const char *path, int ndims, struct idx_array *out,
                         struct mtd_error *err)
{
    memset(out, 0, sizeof *out);
    if (ndims < 1 || ndims > IDX_MAX_DIMS)
        return mtd_error_set(err, MTD_ERR_DATA, "%s: %d dimensions are not supported", path, ndims);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (f == NULL)
        return mtd_error_set(err, errno == ENOENT ? MTD_ERR_NOINPUT : MTD_ERR_IO,
                             "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    enum mtd_status st = MTD_OK;
    unsigned char head[4 + 4 * IDX_MAX_DIMS];
    long got = read_fully(f, head, 4);
    if (got < 0) {
        st = read_error(f, path, err);
        goto done;
    }
    if (got < 4 || head[0] != 0 || head[1] != 0 || head[2] != 0x08) {
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: not an IDX file of unsigned bytes "
                           "(bad magic: expected 00 00 08 xx)", path);
        goto done;
    }
    if (head[3] != ndims) {
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: %d dimensions, expected %d", path, head[3], ndims);
        goto done;
    }
    got = read_fully(f, head + 4, 4 * (size_t)ndims);
    if (got < 0) {
        st = read_error(f, path, err);
        goto done;
    }
    if (got < 4 * ndims) {
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: truncated header", path);
        goto done;
    }
    out->ndims = ndims;
    out->size = 1;
    for (int d = 0; d < ndims; d++) {
        const unsigned char *p = head + 4 + 4 * d;
        uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (n == 0 || n > INT32_MAX || out->size * n > IDX_MAX_BYTES) {
            st = mtd_error_set(err, MTD_ERR_DATA, "%s: implausible size %u of dimension %d", path,
                               n, d);
            goto done;
        }
        out->dims[d] = (int)n;
        out->size *= n;
    }
    /* One byte more than announced tells a too-long file apart. The
     * buffer grows with the data that arrives, never to what a header
     * merely claims: a 20-byte file announcing gigabytes costs a megabyte. */
    const size_t want = out->size + 1;
    size_t cap = want < READ_CHUNK ? want : READ_CHUNK, have = 0;
    out->data = malloc(cap);
    for (;;) {
        if (out->data == NULL) {
            st = mtd_error_set(err, MTD_ERR_NOMEM, "%s: out of memory for %zu bytes", path, cap);
            goto done;
        }
        got = read_fully(f, out->data + have, cap - have);
        if (got < 0)
            break;
        have += (size_t)got;
        if (have < cap || cap == want)
            break;   /* the end of the file, or all we take */
        cap = cap > want / 2 ? want : 2 * cap;
        unsigned char *grown = realloc(out->data, cap);
        if (grown == NULL)
            free(out->data);
        out->data = grown;
    }
    if (got >= 0)
        got = (long)have;
    if (got < 0)
        st = read_error(f, path, err);
    else if ((size_t)got < out->size)
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: truncated: the header announces %zu bytes of "
                           "data, the file holds %ld", path, out->size, got);
    else if ((size_t)got > out->size)
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: more data than the header announces (%zu bytes)",
                           path, out->size);
done:
    gzclose(f);
    if (st != MTD_OK)
        idx_free(out);
    return st;
}

void idx_free(struct idx_array *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}
