/*
 * pidfile.h - one daemon per run directory: DIR/mutatord.pid holds the
 * pid of the process that has it, under an exclusive flock for as long as
 * that process lives (the kernel drops the lock when it dies, so a stale
 * file from a crash never blocks a restart).
 */
#ifndef MUTATORD_PIDFILE_H
#define MUTATORD_PIDFILE_H

#include <limits.h>

#include "status.h"

struct pidfile {
    int fd;
    char path[PATH_MAX];
};

/* Takes the run directory: MTD_ERR_TEMPFAIL naming the pid when another
 * process holds it. */
enum mtd_status pidfile_acquire(struct pidfile *pf, const char *dir, struct mtd_error *err);

/* Writes the caller's pid again (after daemonizing changed it). */
enum mtd_status pidfile_update(struct pidfile *pf, struct mtd_error *err);

/* Removes the file and drops the lock; a pidfile never acquired (fd < 0)
 * is left alone. */
void pidfile_release(struct pidfile *pf);

#endif
