/*
 * dirs.c - directories of a run (dirs.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "dirs.h"

enum mtd_status make_dirs(const char *path, struct mtd_error *err)
{
    char buf[PATH_MAX];
    if (path[0] == '\0')
        return mtd_error_set(err, MTD_ERR_USAGE, "an empty directory path");
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return mtd_error_set(err, MTD_ERR_IO, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return mtd_error_set(err, MTD_ERR_IO, "%s: cannot create the directory: %s", buf,
                                 strerror(errno));
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return mtd_error_set(err, MTD_ERR_IO, "%s: not a directory", path);
    return MTD_OK;
}
