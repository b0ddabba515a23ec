/*
 * status.h - status codes and error messages for everything that input,
 * disk or memory can cause (the second error tier; programmer errors are
 * assertions). A function that can fail returns an enum mtd_status and, when
 * given a struct mtd_error, fills it with a one-line message naming what is
 * wrong and where. Only main() turns a status into an exit code.
 */
#ifndef MUTATORD_STATUS_H
#define MUTATORD_STATUS_H

/* Appended to only: the numeric values may be written to disk. */
enum mtd_status {
    MTD_OK = 0,
    MTD_ERR_NOMEM,      /* an allocation failed */
    MTD_ERR_IO,         /* a read, write, fsync or rename failed */
    MTD_ERR_CONFIG,     /* a configuration file is wrong */
    MTD_ERR_DATA,       /* a data, checkpoint or subnet file is wrong */
    MTD_ERR_USAGE,      /* a command line is wrong */
    MTD_ERR_TEMPFAIL,   /* try again later, e.g. the run directory is locked */
    MTD_STOPPED,        /* work cut short by a stop request (not an error) */
    MTD_ERR_NOINPUT,    /* an input file does not exist */
    MTD_STATUS_COUNT
};

#define MTD_ERROR_MSG_MAX 512

struct mtd_error {
    enum mtd_status status;
    char msg[MTD_ERROR_MSG_MAX];
};

/* Short lower-case name of a status ("io", "config", ...). */
const char *mtd_status_name(enum mtd_status status);

/* The <sysexits.h> code a program exits with for this status. */
int mtd_status_exit_code(enum mtd_status status);

/* Records status and a printf-style message in err (which may be NULL) and
 * returns status, so that a caller can write
 *     return mtd_error_set(err, MTD_ERR_IO, "%s: %s", path, strerror(errno));
 */
enum mtd_status mtd_error_set(struct mtd_error *err, enum mtd_status status,
                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
