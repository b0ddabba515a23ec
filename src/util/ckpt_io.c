/*
 * ckpt_io.c - atomic, checksummed binary files (ckpt_io.h).
 */
#include "ckpt_io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define HEADER_BYTES 12
#define CRC_BYTES 4

struct ckpt_writer {
    FILE *f;
    char path[PATH_MAX];
    char tmp[PATH_MAX + 8];
    uLong crc;
    int failed_errno;     /* first write failure, 0 if none */
    int text;             /* a text file: no header, no checksum */
};

static enum mtd_status writer_fail(struct ckpt_writer *w, const char *step, int e,
                                   struct mtd_error *err)
{
    enum mtd_status st = mtd_error_set(err, MTD_ERR_IO, "%s: %s failed: %s (the previous file "
                                       "is kept)", w->path, step, strerror(e));
    if (w->f != NULL)
        fclose(w->f);
    unlink(w->tmp);
    free(w);
    return st;
}

static enum mtd_status writer_open(struct ckpt_writer **out, const char *path, int mode,
                                   struct mtd_error *err)
{
    *out = NULL;
    struct ckpt_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return mtd_error_set(err, MTD_ERR_NOMEM, "%s: out of memory", path);
    if (strlen(path) >= sizeof w->path) {
        free(w);
        return mtd_error_set(err, MTD_ERR_IO, "%s: path too long", path);
    }
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
    /* A stale temp file from a crash is ours to replace; a symlink there is
     * refused by O_NOFOLLOW after the unlink race is lost. */
    unlink(w->tmp);
    int fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        int e = errno;
        w->tmp[0] = '\0';
        return writer_fail(w, "creating the temp file", e, err);
    }
    w->f = fdopen(fd, "wb");
    if (w->f == NULL) {
        int e = errno;
        close(fd);
        return writer_fail(w, "opening the temp file", e, err);
    }
    w->crc = crc32(0L, Z_NULL, 0);
    *out = w;
    return MTD_OK;
}

enum mtd_status ckpt_writer_open(struct ckpt_writer **out, const char *path, const char magic[8],
                                 uint32_t version, struct mtd_error *err)
{
    enum mtd_status st = writer_open(out, path, 0600, err);
    if (st == MTD_OK) {
        ckpt_write(*out, magic, 8);
        ckpt_write_u32(*out, version);
    }
    return st;
}

enum mtd_status text_writer_open(struct ckpt_writer **out, const char *path, FILE **stream,
                                 struct mtd_error *err)
{
    enum mtd_status st = writer_open(out, path, 0600, err);
    if (st == MTD_OK) {
        (*out)->text = 1;
        *stream = (*out)->f;
    }
    return st;
}

void ckpt_write(struct ckpt_writer *w, const void *p, size_t n)
{
    if (w->failed_errno || n == 0)
        return;
    if (fwrite(p, 1, n, w->f) != n) {
        w->failed_errno = errno ? errno : EIO;
        return;
    }
    /* zlib's crc32 takes a uInt length. */
    const unsigned char *b = p;
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        w->crc = crc32(w->crc, b, chunk);
        b += chunk;
        n -= chunk;
    }
}

void ckpt_write_u32(struct ckpt_writer *w, uint32_t v)
{
    ckpt_write(w, &v, sizeof v);
}

void ckpt_write_u64(struct ckpt_writer *w, uint64_t v)
{
    ckpt_write(w, &v, sizeof v);
}

static int fsync_dir(const char *path)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

enum mtd_status ckpt_writer_commit(struct ckpt_writer *w, struct mtd_error *err)
{
    uint32_t crc = (uint32_t)w->crc;
    if (!w->failed_errno && !w->text && fwrite(&crc, 1, sizeof crc, w->f) != sizeof crc)
        w->failed_errno = errno ? errno : EIO;
    if (!w->failed_errno && w->text && ferror(w->f))
        w->failed_errno = errno ? errno : EIO;
    if (w->failed_errno)
        return writer_fail(w, "writing", w->failed_errno, err);
    if (fflush(w->f) != 0)
        return writer_fail(w, "flushing", errno, err);
    if (fsync(fileno(w->f)) != 0)
        return writer_fail(w, "fsync", errno, err);
    FILE *f = w->f;
    w->f = NULL;
    if (fclose(f) != 0)
        return writer_fail(w, "closing", errno, err);
    if (rename(w->tmp, w->path) != 0)
        return writer_fail(w, "rename", errno, err);
    /* The rename is durable once the directory is. The new file is in
     * place already: a failure here is reported but nothing is removed. */
    enum mtd_status st = MTD_OK;
    if (fsync_dir(w->path) != 0)
        st = mtd_error_set(err, MTD_ERR_IO, "%s: fsync of the directory failed: %s", w->path,
                           strerror(errno));
    free(w);
    return st;
}

void ckpt_writer_abort(struct ckpt_writer *w)
{
    if (w == NULL)
        return;
    if (w->f != NULL)
        fclose(w->f);
    unlink(w->tmp);
    free(w);
}

static enum mtd_status reader_fail(struct ckpt_reader *r, enum mtd_status st, const char *what,
                                   struct mtd_error *err)
{
    mtd_error_set(err, st, "%s: %s", r->path, what);
    free(r->buf);
    r->buf = NULL;
    return st;
}

enum mtd_status ckpt_reader_open(struct ckpt_reader *r, const char *path, const char magic[8],
                                 uint32_t max_version, struct mtd_error *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return mtd_error_set(err, MTD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return mtd_error_set(err, MTD_ERR_DATA, "%s: not a regular file", path);
    }
    r->size = (size_t)sb.st_size;
    r->buf = malloc(r->size + 1);
    if (r->buf == NULL) {
        fclose(f);
        return mtd_error_set(err, MTD_ERR_NOMEM, "%s: out of memory for %zu bytes", path, r->size);
    }
    size_t got = fread(r->buf, 1, r->size, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error)
        return reader_fail(r, MTD_ERR_IO, "read error", err);
    r->size = got;
    if (r->size < HEADER_BYTES + CRC_BYTES)
        return reader_fail(r, MTD_ERR_DATA, "truncated (shorter than a header)", err);
    if (memcmp(r->buf, magic, 8) != 0)
        return reader_fail(r, MTD_ERR_DATA, "not a file of this kind (bad magic)", err);
    uint32_t stored;
    memcpy(&stored, r->buf + r->size - CRC_BYTES, CRC_BYTES);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t at = 0, left = r->size - CRC_BYTES; left > 0;) {
        uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
        crc = crc32(crc, r->buf + at, chunk);
        at += chunk;
        left -= chunk;
    }
    memcpy(&r->version, r->buf + 8, 4);
    if ((uint32_t)crc != stored) {
        /* A newer version could have another trailer; say so if it is one. */
        if (r->version > max_version) {
            char msg[160];
            snprintf(msg, sizeof msg, "format version %u is newer than this program reads (%u)",
                     r->version, max_version);
            return reader_fail(r, MTD_ERR_DATA, msg, err);
        }
        return reader_fail(r, MTD_ERR_DATA, "damaged or truncated (checksum mismatch)", err);
    }
    if (r->version > max_version) {
        /* Intact, and written by a newer program: falling back to an older
         * checkpoint would throw its work away. */
        char msg[200];
        snprintf(msg, sizeof msg, "format version %u is newer than this program reads (%u); "
                 "use a newer version of the program, or another run directory", r->version,
                 max_version);
        return reader_fail(r, MTD_ERR_CONFIG, msg, err);
    }
    if (r->version == 0)
        return reader_fail(r, MTD_ERR_DATA, "format version 0 is invalid", err);
    r->pos = HEADER_BYTES;
    r->size -= CRC_BYTES;
    return MTD_OK;
}

int ckpt_read(struct ckpt_reader *r, void *p, size_t n)
{
    if (n > r->size - r->pos)
        return -1;
    memcpy(p, r->buf + r->pos, n);
    r->pos += n;
    return 0;
}

int ckpt_read_u32(struct ckpt_reader *r, uint32_t *v)
{
    return ckpt_read(r, v, sizeof *v);
}

int ckpt_read_u64(struct ckpt_reader *r, uint64_t *v)
{
    return ckpt_read(r, v, sizeof *v);
}

size_t ckpt_remaining(const struct ckpt_reader *r)
{
    return r->size - r->pos;
}

void ckpt_reader_close(struct ckpt_reader *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}
