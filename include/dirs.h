/*
 * dirs.h - directories of a run.
 */
#ifndef MUTATORD_DIRS_H
#define MUTATORD_DIRS_H

#include "status.h"

/* mkdir -p: every directory of path that does not exist is created 0700
 * (a run directory holds weights and results: its owner's only). */
enum mtd_status make_dirs(const char *path, struct mtd_error *err);

#endif
