/*
 * model_io.c - exported subnets: model.conf and weights.bin (model.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_io.h"
#include "conf.h"
#include "dirs.h"
#include "model.h"

static const char magic[8] = {'M', 'T', 'D', 'M', 'O', 'D', 'E', 'L'};
#define VERSION 1
#define FORMAT 1
#define MAX_NAME 1024

static void write_table(struct ckpt_writer *w, const struct param_info *p, uint32_t kind,
                        const float *arena)
{
    uint32_t len = (uint32_t)strlen(p->name);
    ckpt_write_u32(w, kind);
    ckpt_write_u32(w, len);
    ckpt_write(w, p->name, len);
    ckpt_write_u32(w, (uint32_t)p->rows);
    ckpt_write_u32(w, (uint32_t)p->cols);
    ckpt_write(w, arena + p->offset, (size_t)p->rows * (size_t)p->cols * sizeof(float));
}

static enum mtd_status write_weights(struct supernet *x, const char *path, struct mtd_error *err)
{
    struct ckpt_writer *w;
    enum mtd_status st = ckpt_writer_open(&w, path, magic, VERSION, err);
    if (st != MTD_OK)
        return st;
    ckpt_write_u32(w, (uint32_t)(supernet_nparams(x) + supernet_nbuffers(x)));
    for (int i = 0; i < supernet_nparams(x); i++)
        write_table(w, supernet_param(x, i), 0, supernet_weights(x));
    for (int i = 0; i < supernet_nbuffers(x); i++)
        write_table(w, supernet_buffer(x, i), 1, supernet_buffers(x));
    return ckpt_writer_commit(w, err);
}

static void write_conf(FILE *f, const struct space_def *def, const struct data_config *data,
                       uint64_t hash, const struct subnet_metrics *m)
{
    char dir[PATH_MAX];
    if (realpath(data->dir, dir) == NULL)
        snprintf(dir, sizeof dir, "%s", data->dir);
    fprintf(f, "# A subnet exported by mutator-eval --export; mutator-eval --model DIR\n"
               "# evaluates it. Inputs: 1 x %d x %d images, pixels / 255, then\n"
               "# (x - data.mean) / data.std.\n", def->in_h, def->in_w);
    fprintf(f, "model = {\n  format = %d;\n  subnet_hash = \"%016llx\";\n", FORMAT,
            (unsigned long long)hash);
    if (m != NULL && m->n > 0) {
        fputs("  metrics = {", f);
        for (int i = 0; i < m->n; i++)
            fprintf(f, " %s = %.17g;", m->name[i], m->value[i]);
        fputs(" };\n", f);
    }
    fputs("};\n", f);
    space_def_write(def, "", f);
    fprintf(f, "data = {\n  dir = \"%s\";\n  train_images = %d;\n  val_images = %d;\n"
               "  calib_images = %d;\n  mean = %.9g;\n  std = %.9g;\n};\n",
            dir, data->train_images, data->val_images, data->calib_images, (double)data->mean,
            (double)data->std);
}

enum mtd_status model_export(struct supernet *x, const struct data_config *data,
                             uint64_t subnet_hash, const struct subnet_metrics *metrics,
                             const char *dir, struct mtd_error *err)
{
    char path[PATH_MAX + 32];
    enum mtd_status st = make_dirs(dir, err);
    if (st != MTD_OK)
        return st;
    /* model.conf is the commit mark: gone while the other files change,
     * written last, so that a failed export never leaves a model.conf
     * beside the weights of another subnet. */
    snprintf(path, sizeof path, "%s/model.conf", dir);
    if (unlink(path) != 0 && errno != ENOENT)
        return mtd_error_set(err, MTD_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    if ((st = write_weights(x, path, err)) != MTD_OK)
        return st;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if ((st = model_export_onnx(x, path, err)) != MTD_OK)
        return st;
    snprintf(path, sizeof path, "%s/model.conf", dir);
    struct ckpt_writer *w;
    FILE *f;
    if ((st = text_writer_open(&w, path, &f, err)) != MTD_OK)
        return st;
    write_conf(f, supernet_space(x), data, subnet_hash, metrics);
    return ckpt_writer_commit(w, err);
}

/* One entry of weights.bin into the network. */
static enum mtd_status read_entry(struct ckpt_reader *r, struct supernet *sn, const char *path,
                                  char *seen, struct mtd_error *err)
{
    uint32_t kind, len, rows, cols;
    char name[MAX_NAME + 1];
    if (ckpt_read_u32(r, &kind) || ckpt_read_u32(r, &len) || kind > 1 || len > MAX_NAME ||
        ckpt_read(r, name, len) || ckpt_read_u32(r, &rows) || ckpt_read_u32(r, &cols))
        return mtd_error_set(err, MTD_ERR_DATA, "%s: damaged entry table", path);
    name[len] = '\0';
    int i = kind ? supernet_buffer_find(sn, name) : supernet_param_find(sn, name);
    if (i < 0)
        return mtd_error_set(err, MTD_ERR_DATA, "%s: '%s' is not a %s of model.conf's network",
                             path, name, kind ? "BN statistic" : "parameter");
    const struct param_info *p = kind ? supernet_buffer(sn, i) : supernet_param(sn, i);
    if ((int)rows != p->rows || (int)cols != p->cols)
        return mtd_error_set(err, MTD_ERR_DATA, "%s: '%s' is %ux%u, model.conf's network has "
                             "%dx%d", path, name, rows, cols, p->rows, p->cols);
    int slot = kind ? supernet_nparams(sn) + i : i;
    if (seen[slot]++)
        return mtd_error_set(err, MTD_ERR_DATA, "%s: '%s' given twice", path, name);
    float *arena = kind ? supernet_buffers(sn) : supernet_weights(sn);
    if (ckpt_read(r, arena + p->offset, (size_t)rows * cols * sizeof(float)))
        return mtd_error_set(err, MTD_ERR_DATA, "%s: truncated at '%s'", path, name);
    return MTD_OK;
}

static enum mtd_status read_weights(struct supernet *sn, const char *path, struct mtd_error *err)
{
    struct ckpt_reader r;
    enum mtd_status st = ckpt_reader_open(&r, path, magic, VERSION, err);
    if (st != MTD_OK)
        return st;
    const int total = supernet_nparams(sn) + supernet_nbuffers(sn);
    char *seen = calloc((size_t)total, 1);
    uint32_t count;
    if (seen == NULL)
        st = mtd_error_set(err, MTD_ERR_NOMEM, "%s: out of memory", path);
    else if (ckpt_read_u32(&r, &count) || (int)count != total)
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: holds %u tensors, model.conf's network has %d",
                           path, count, total);
    for (uint32_t i = 0; st == MTD_OK && i < count; i++)
        st = read_entry(&r, sn, path, seen, err);
    if (st == MTD_OK && ckpt_remaining(&r) != 0)
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: trailing bytes", path);
    free(seen);
    ckpt_reader_close(&r);
    return st;
}

enum mtd_status model_load(struct model *m, const char *dir, struct mtd_error *err)
{
    static const char *const keys[] = {"model", "supernet", "data", NULL};
    static const char *const model_keys[] = {"format", "subnet_hash", "metrics", NULL};
    char path[PATH_MAX + 32];
    memset(m, 0, sizeof *m);
    snprintf(path, sizeof path, "%s/model.conf", dir);
    const config_setting_t *root, *model, *sn, *data;
    long long format = 0;
    enum mtd_status st = conf_read_file(&m->cfg, path, err);
    if (st != MTD_OK)
        return st;
    root = config_root_setting(&m->cfg);
    if ((st = conf_check_keys(root, keys, err)) != MTD_OK ||
        (st = conf_get_group(root, "model", 1, &model, err)) != MTD_OK ||
        (st = conf_check_keys(model, model_keys, err)) != MTD_OK ||
        (st = conf_get_int(model, "format", 1, 1, 1000, &format, err)) != MTD_OK)
        return st;
    if (format != FORMAT)
        return conf_error(err, conf_child(model, "format"), "model format %lld; this version "
                          "reads format %d", format, FORMAT);
    const char *hash = NULL;
    if ((st = conf_get_string(model, "subnet_hash", 0, &hash, err)) != MTD_OK)
        return st;
    char *end = NULL;
    if (hash != NULL && ((m->subnet_hash = strtoull(hash, &end, 16)), *end != '\0'))
        return conf_error(err, conf_child(model, "subnet_hash"), "expected 16 hex digits");
    if ((st = conf_get_group(root, "supernet", 1, &sn, err)) != MTD_OK ||
        (st = conf_get_group(root, "data", 0, &data, err)) != MTD_OK ||
        (st = space_def_parse(sn, &m->def, err)) != MTD_OK ||
        (st = data_config_parse(data, &m->data, err)) != MTD_OK)
        return st;
    for (int b = 0; b < m->def.nblocks; b++)
        if (m->def.blocks[b].nops != 1)
            return mtd_error_set(err, MTD_ERR_DATA, "%s: block %s has %d ops; a model has one "
                                 "per block", path, m->def.blocks[b].name, m->def.blocks[b].nops);
    if ((st = supernet_create(&m->sn, &m->def, 1, 0, err)) != MTD_OK)
        return st;
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    return read_weights(m->sn, path, err);
}

void model_free(struct model *m)
{
    supernet_free(m->sn);
    m->sn = NULL;
    config_destroy(&m->cfg);
}
