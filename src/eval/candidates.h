/*
 * candidates.h - the subnets a mutator-eval run evaluates: --subnet files,
 * the run's best/ subnets, --sample random ones within the constraints.
 */
#ifndef MUTATORD_EVAL_CANDIDATES_H
#define MUTATORD_EVAL_CANDIDATES_H

#include "session.h"

struct candidate {
    char name[96];
    struct subnet subnet;
};

/* *out (free()d by the caller) holds *n candidates, in the order given:
 * files, then best/ (best first), then samples. */
enum mtd_status candidates_collect(struct eval_session *es, struct candidate **out, int *n,
                                   struct mtd_error *err);

#endif
