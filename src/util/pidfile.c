/*
 * pidfile.c - the run directory's lock (pidfile.h).
 */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

enum mtd_status pidfile_update(struct pidfile *pf, struct mtd_error *err)
{
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    /* Written, then cut to length: a reader never finds it empty (a
     * shorter pid leaves old digits after its newline for a moment). */
    if (pwrite(pf->fd, buf, (size_t)len, 0) != len || ftruncate(pf->fd, len) != 0)
        return mtd_error_set(err, MTD_ERR_IO, "%s: cannot write: %s", pf->path, strerror(errno));
    return MTD_OK;
}

enum mtd_status pidfile_acquire(struct pidfile *pf, const char *dir, struct mtd_error *err)
{
    pf->fd = -1;
    if (snprintf(pf->path, sizeof pf->path, "%s/mutatord.pid", dir) >= (int)sizeof pf->path)
        return mtd_error_set(err, MTD_ERR_IO, "%s: path too long", dir);
    int fd = open(pf->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return mtd_error_set(err, MTD_ERR_IO, "%s: cannot open: %s", pf->path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        close(fd);
        if (e != EWOULDBLOCK)
            return mtd_error_set(err, MTD_ERR_IO, "%s: cannot lock: %s", pf->path, strerror(e));
        long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
        return mtd_error_set(err, MTD_ERR_TEMPFAIL, "run directory %s is in use by mutatord "
                             "(pid %ld, %s)", dir, pid, pf->path);
    }
    pf->fd = fd;
    enum mtd_status st = pidfile_update(pf, err);
    if (st != MTD_OK)
        pidfile_release(pf);
    return st;
}

void pidfile_release(struct pidfile *pf)
{
    if (pf->fd < 0)
        return;
    unlink(pf->path);
    close(pf->fd);
    pf->fd = -1;
}
