/*
 * model.h - a subnet exported on its own (mutator-eval --export), read back
 * without the supernet (mutator-eval --model):
 *
 *   DIR/model.conf   the network as a `supernet` group in the `blocks` form
 *                    (space.h), the data section it was scored with (paths
 *                    made absolute) and a `model` group: format, the subnet's
 *                    hash, its metrics;
 *   DIR/weights.bin  every parameter and BN running statistic by name and
 *                    shape (ckpt_io.h container, magic MTDMODEL, version 1):
 *                    u32 count, then per entry u32 kind (0 parameter,
 *                    1 statistic), u32 name length, the name, u32 rows,
 *                    u32 cols, rows * cols floats;
 *   DIR/model.onnx   the same network as an ONNX model (model_export_onnx).
 *
 * The BN statistics are those the subnet was calibrated with, so the model
 * scores as the subnet did in the supernet.
 */
#ifndef MUTATORD_MODEL_H
#define MUTATORD_MODEL_H

#include <libconfig.h>
#include <stdint.h>

#include "data.h"
#include "space.h"
#include "subnet.h"
#include "supernet.h"

/* Writes the standalone network x (a supernet_extract result) into dir
 * (created 0700 if needed). metrics may be NULL. */
enum mtd_status model_export(struct supernet *x, const struct data_config *data,
                             uint64_t subnet_hash, const struct subnet_metrics *metrics,
                             const char *dir, struct mtd_error *err);

/* Writes x as an ONNX model (opset 13): input "input" float32 [N, C, H, W],
 * normalised as the data section says, output "logits" [N, classes]; each
 * BN folded into the convolution before it. */
enum mtd_status model_export_onnx(struct supernet *x, const char *path, struct mtd_error *err);

struct model {
    config_t cfg;
    struct space_def def;
    struct data_config data;
    uint64_t subnet_hash;     /* of the subnet it was exported from (0: not given) */
    struct supernet *sn;      /* weights and statistics loaded */
};

/* Reads dir back. m is cleaned by model_free, also after a failure. */
enum mtd_status model_load(struct model *m, const char *dir, struct mtd_error *err);
void model_free(struct model *m);

#endif
