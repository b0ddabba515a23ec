/*
 * finetune.h - retraining a subnet alone (the retrain step of a NAS
 * pipeline) and checking how far the supernet's ranking can be trusted.
 */
#ifndef MUTATORD_EVAL_FINETUNE_H
#define MUTATORD_EVAL_FINETUNE_H

#include "session.h"

/* Trains subnet s for `epochs` epochs with the config's finetune settings,
 * from the supernet's weights (or from the initial ones: from_scratch),
 * then scores it. Checkpoints go to RUN/finetune/<hash>-e<epochs>[-scratch]-<key>/
 * (key: a CRC of the starting weights and the finetune settings)
 * and a second run resumes (or, when done, only scores). The supernet's
 * weights are put back afterwards unless keep (the caller then has the
 * finetuned, calibrated subnet in the supernet, e.g. to export it).
 * MTD_STOPPED when *es->stop was set. */
enum mtd_status finetune_subnet(struct eval_session *es, const struct subnet *s, int epochs,
                                int from_scratch, int keep, double *top1,
                                struct mtd_error *err);

/* --rank N: N random subnets within the constraints, scored with inherited
 * weights and after a finetune of rank_epochs; prints both rankings and
 * the tau. */
enum mtd_status rank_subnets(struct eval_session *es, FILE *out, struct mtd_error *err);

#endif
