/*
 * status.c - names and exit codes of status values, and error messages.
 */
#include "status.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <sysexits.h>

static const char *const status_names[MTD_STATUS_COUNT] = {
    [MTD_OK] = "ok",
    [MTD_ERR_NOMEM] = "out of memory",
    [MTD_ERR_IO] = "i/o error",
    [MTD_ERR_CONFIG] = "configuration error",
    [MTD_ERR_DATA] = "data error",
    [MTD_ERR_USAGE] = "usage error",
    [MTD_ERR_TEMPFAIL] = "temporary failure",
    [MTD_STOPPED] = "stopped",
    [MTD_ERR_NOINPUT] = "missing input",
};

static const int status_exit_codes[MTD_STATUS_COUNT] = {
    [MTD_OK] = EX_OK,
    [MTD_ERR_NOMEM] = EX_OSERR,
    [MTD_ERR_IO] = EX_IOERR,
    [MTD_ERR_CONFIG] = EX_CONFIG,
    [MTD_ERR_DATA] = EX_DATAERR,
    [MTD_ERR_USAGE] = EX_USAGE,
    [MTD_ERR_TEMPFAIL] = EX_TEMPFAIL,
    [MTD_STOPPED] = EX_OK,
    [MTD_ERR_NOINPUT] = EX_NOINPUT,
};

const char *mtd_status_name(enum mtd_status status)
{
    assert(status >= 0 && status < MTD_STATUS_COUNT);
    return status_names[status];
}

int mtd_status_exit_code(enum mtd_status status)
{
    assert(status >= 0 && status < MTD_STATUS_COUNT);
    return status_exit_codes[status];
}

enum mtd_status mtd_error_set(struct mtd_error *err, enum mtd_status status,
                              const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        err->status = status;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}
