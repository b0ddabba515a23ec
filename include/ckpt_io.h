/*
 * ckpt_io.h - durable binary files: checkpoints and exported weights.
 *
 * A file is a magic of 8 bytes, a little-endian uint32 format version, the
 * payload, and the CRC-32 (zlib's) of everything before it.
 *
 * Writing is atomic, as redis writes its dumps: the payload goes to
 * "<path>.tmp" (created 0600, never through a symlink), every write is
 * checked, then fflush, fsync, close, rename over path, fsync of the
 * directory. On any failure the temp file is removed, the old file stays
 * as it was, and the error names the step, the path and the reason.
 *
 * Reading loads the whole file, checks magic, CRC and version (newer than
 * the reader knows: refused, naming both versions) before a byte of the
 * payload is trusted; reads past the end fail instead of crashing.
 */
#ifndef MUTATORD_CKPT_IO_H
#define MUTATORD_CKPT_IO_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "status.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint files are little-endian; this host is not"
#endif

struct ckpt_writer;

enum mtd_status ckpt_writer_open(struct ckpt_writer **out, const char *path, const char magic[8],
                                 uint32_t version, struct mtd_error *err);
/* The same atomic replacement for a text file (status, tables, reports):
 * no header and no checksum; the caller prints to *stream (write errors
 * are caught at commit), then commits or aborts. Created 0600, as
 * everything in a run directory. */
enum mtd_status text_writer_open(struct ckpt_writer **out, const char *path, FILE **stream,
                                 struct mtd_error *err);

/* Appends n bytes; a failure is remembered and reported by commit. */
void ckpt_write(struct ckpt_writer *w, const void *p, size_t n);
void ckpt_write_u32(struct ckpt_writer *w, uint32_t v);
void ckpt_write_u64(struct ckpt_writer *w, uint64_t v);
/* Finishes the file and puts it in place; frees w in every case. */
enum mtd_status ckpt_writer_commit(struct ckpt_writer *w, struct mtd_error *err);
/* Gives up: removes the temp file; frees w. */
void ckpt_writer_abort(struct ckpt_writer *w);

struct ckpt_reader {
    const char *path;
    unsigned char *buf;
    size_t size, pos;     /* payload: buf[12 .. size - 4) */
    uint32_t version;
};

/* Loads and checks path. MTD_ERR_IO when it cannot be read, MTD_ERR_DATA
 * when it is damaged or of another kind, MTD_ERR_CONFIG when it is intact
 * but of a newer format version (a series then stops rather than fall back
 * to older files and lose the newer program's work). */
enum mtd_status ckpt_reader_open(struct ckpt_reader *r, const char *path, const char magic[8],
                                 uint32_t max_version, struct mtd_error *err);
/* Copies the next n bytes; -1 (and nothing copied) past the end. */
int ckpt_read(struct ckpt_reader *r, void *p, size_t n);
int ckpt_read_u32(struct ckpt_reader *r, uint32_t *v);
int ckpt_read_u64(struct ckpt_reader *r, uint64_t *v);
/* Bytes of payload not read yet. */
size_t ckpt_remaining(const struct ckpt_reader *r);
void ckpt_reader_close(struct ckpt_reader *r);

#endif
