/*
 * calibration.c - BN recalibration's accumulators: reset, the exact
 * averages written to the running statistics of the current arch, freed.
 */
#include <stdlib.h>
#include <string.h>

#include "cell_run.h"

enum mtd_status supernet_calib_begin(struct supernet *sn, struct mtd_error *err)
{
    if (sn->calib_sum == NULL) {
        sn->calib_sum = calloc(sn->nstats + 1, sizeof *sn->calib_sum);
        sn->calib_count = calloc(sn->nstats + 1, sizeof *sn->calib_count);
        if (!sn->calib_sum || !sn->calib_count) {
            supernet_calib_free(sn);
            return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for BN calibration");
        }
    }
    memset(sn->calib_sum, 0, sn->nstats * sizeof *sn->calib_sum);
    memset(sn->calib_count, 0, sn->nstats * sizeof *sn->calib_count);
    return MTD_OK;
}

void supernet_calib_finish(struct supernet *sn)
{
    const struct eval_path own = {&sn->arch, sn->bufvals};
    calib_finish_path(sn, &own);
}

void calib_finish_path(struct supernet *sn, const struct eval_path *p)
{
    for (int c = 0; c < sn->ncells; c++) {
        struct cell_run r;
        cell_run_init_arch(&r, sn, p->arch, p->bufvals, c, 1);
        for (int i = 0; i < r.g->nnodes; i++) {
            const struct node *nd = &r.g->nodes[i];
            if (nd->kind != NODE_BN || sn->calib_count[nd->stat] == 0)
                continue;
            struct bn_calib calib = {.mean = sn->calib_sum + nd->stat,
                                     .m2 = sn->calib_sum + nd->stat + sn->params[nd->param].cols,
                                     .count = sn->calib_count[nd->stat]};
            batchnorm_calib_finalize(run_bn_buffer(sn, &r, nd, 0), run_bn_buffer(sn, &r, nd, 1),
                                     &calib,
                                     slot_channels(&r, nd->dst));
        }
    }
}

void supernet_calib_free(struct supernet *sn)
{
    free(sn->calib_sum);
    free(sn->calib_count);
    sn->calib_sum = NULL;
    sn->calib_count = NULL;
}
