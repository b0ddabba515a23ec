/*
 * space.c - parsing and checking the search-space section of a config.
 */
#include "space.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define MAX_CHANNELS 4096
#define MAX_SIZE 4096

int op_family_is_shuffle(enum op_family family)
{
    return family == OP_SHUFFLE || family == OP_XCEPTION;
}

int op_spec_parse(const char *name, struct op_spec *out)
{
    struct op_spec op = {0};
    int k = 0, e = 0;
    char tail;
    if (strlen(name) >= sizeof op.name)
        return -1;
    if (strcmp(name, "shuffle_xception") == 0) {
        op.family = OP_XCEPTION;
        op.k = 3;
    } else if (strcmp(name, "identity") == 0) {
        op.family = OP_IDENTITY;
    } else if (sscanf(name, "shuffle_%dx%d%c", &k, &e, &tail) == 2 && k == e &&
               (k == 3 || k == 5 || k == 7)) {
        op.family = OP_SHUFFLE;
        op.k = k;
    } else if (sscanf(name, "conv_%dx%d%c", &k, &e, &tail) == 2 && k == e &&
               (k == 3 || k == 5)) {
        op.family = OP_CONV;
        op.k = k;
    } else if (sscanf(name, "mb_k%d_e%d%c", &k, &e, &tail) == 2 &&
               (k == 3 || k == 5 || k == 7) && (e == 3 || e == 4 || e == 6)) {
        op.family = OP_MB;
        op.k = k;
        op.expand = e;
    } else {
        return -1;
    }
    /* sscanf accepts "shuffle_03x3"; only the canonical spelling is a name. */
    char canonical[sizeof op.name];
    switch (op.family) {
    case OP_SHUFFLE: snprintf(canonical, sizeof canonical, "shuffle_%dx%d", k, k); break;
    case OP_CONV: snprintf(canonical, sizeof canonical, "conv_%dx%d", k, k); break;
    case OP_MB: snprintf(canonical, sizeof canonical, "mb_k%d_e%d", k, e); break;
    default: snprintf(canonical, sizeof canonical, "%s", name); break;
    }
    if (strcmp(canonical, name) != 0)
        return -1;
    snprintf(op.name, sizeof op.name, "%s", name);
    *out = op;
    return 0;
}

int block_def_mid_max(const struct block_def *b, const struct op_spec *op)
{
    switch (op->family) {
    case OP_SHUFFLE:
    case OP_XCEPTION:
        return b->mid ? b->mid : b->cout / 2;
    case OP_MB:
        return b->mid ? b->mid : b->cin * op->expand;
    default:
        return 0;
    }
}

int space_def_features(const struct space_def *def)
{
    if (def->last_channels)
        return def->last_channels;
    return def->nblocks ? def->blocks[def->nblocks - 1].cout : def->stem_channels;
}

static int out_size(int in, int k, int stride)
{
    return (in + 2 * (k / 2) - k) / stride + 1;
}

/* Checks op o of block b against the block's shapes. */
static enum mtd_status check_op(const config_setting_t *where, const struct block_def *b,
                                const struct op_spec *op, struct mtd_error *err)
{
    switch (op->family) {
    case OP_SHUFFLE:
    case OP_XCEPTION:
        if (b->cin % 2 || b->cout % 2)
            return conf_error(err, where, "%s needs even input and output channels (block %s: %d -> %d)",
                              op->name, b->name, b->cin, b->cout);
        if (b->stride == 2 && b->cout <= b->cin)
            return conf_error(err, where, "%s at stride 2 needs more output than input channels (block %s: %d -> %d)",
                              op->name, b->name, b->cin, b->cout);
        if (b->stride == 1 && b->cout <= b->cin / 2)
            return conf_error(err, where, "%s at stride 1 needs more than cin/2 output channels (block %s: %d -> %d)",
                              op->name, b->name, b->cin, b->cout);
        break;
    case OP_IDENTITY:
        if (b->cin != b->cout || b->stride != 1)
            return conf_error(err, where, "identity needs equal input and output channels and stride 1 (block %s: %d -> %d, stride %d)",
                              b->name, b->cin, b->cout, b->stride);
        break;
    default:
        break;
    }
    return MTD_OK;
}

static enum mtd_status parse_ops(const config_setting_t *parent, struct block_def *b,
                                 struct mtd_error *err)
{
    const config_setting_t *ops;
    enum mtd_status st = conf_get_list(parent, "ops", 1, 1, SPACE_MAX_OPS, &ops, err);
    if (st != MTD_OK)
        return st;
    b->nops = config_setting_length(ops);
    for (int i = 0; i < b->nops; i++) {
        const config_setting_t *e = config_setting_get_elem(ops, (unsigned)i);
        const char *name = config_setting_get_string(e);
        if (name == NULL)
            return conf_error(err, e, "expected an op name (a string)");
        if (op_spec_parse(name, &b->ops[i]) != 0)
            return conf_error(err, e, "unknown op '%s' (known: shuffle_3x3, shuffle_5x5, shuffle_7x7, "
                              "shuffle_xception, mb_k{3,5,7}_e{3,4,6}, conv_3x3, conv_5x5, identity)", name);
        for (int j = 0; j < i; j++)
            if (strcmp(b->ops[j].name, name) == 0)
                return conf_error(err, e, "op '%s' listed twice", name);
    }
    return MTD_OK;
}

/* Fills in a block's input and spatial sizes from the previous output,
 * checks every op, and appends the block. */
static enum mtd_status finish_block(const config_setting_t *where, struct space_def *def,
                                    struct block_def *b, struct mtd_error *err)
{
    const struct block_def *prev = def->nblocks ? &def->blocks[def->nblocks - 1] : NULL;
    b->cin = prev ? prev->cout : def->stem_channels;
    b->h_in = prev ? prev->h_out : def->stem_h;
    b->w_in = prev ? prev->w_out : def->stem_w;
    /* Every op pads k/2, so all kernels give the same output size. */
    b->h_out = out_size(b->h_in, 3, b->stride);
    b->w_out = out_size(b->w_in, 3, b->stride);
    if (b->h_in < 1 || b->w_in < 1 || b->h_out < 1 || b->w_out < 1)
        return conf_error(err, where, "block %s: input %dx%d is too small for stride %d",
                          b->name, b->h_in, b->w_in, b->stride);
    for (int i = 0; i < b->nops; i++) {
        enum mtd_status st = check_op(where, b, &b->ops[i], err);
        if (st != MTD_OK)
            return st;
    }
    if (def->nblocks >= SPACE_MAX_BLOCKS)
        return conf_error(err, where, "more than %d blocks", SPACE_MAX_BLOCKS);
    def->blocks[def->nblocks++] = *b;
    return MTD_OK;
}

static enum mtd_status parse_stages(const config_setting_t *stages, struct space_def *def,
                                    struct mtd_error *err)
{
    static const char *const keys[] = {"blocks", "channels", "stride", "ops", "aliases", "mid", NULL};
    for (int si = 0; si < config_setting_length(stages); si++) {
        const config_setting_t *s = config_setting_get_elem(stages, (unsigned)si);
        if (config_setting_type(s) != CONFIG_TYPE_GROUP)
            return conf_error(err, s, "expected a stage group { blocks; channels; stride; ops; }");
        enum mtd_status st = conf_check_keys(s, keys, err);
        long long nblocks = 1, channels = 1, stride = 1, mid = 0;
        const config_setting_t *aliases = NULL;
        struct block_def proto = {0};
        if (st == MTD_OK) st = conf_get_int(s, "blocks", 1, 1, SPACE_MAX_BLOCKS, &nblocks, err);
        if (st == MTD_OK) st = conf_get_int(s, "channels", 1, 1, MAX_CHANNELS, &channels, err);
        if (st == MTD_OK) st = conf_get_int(s, "stride", 0, 1, 2, &stride, err);
        if (st == MTD_OK) st = conf_get_int(s, "mid", 0, 1, MAX_CHANNELS, &mid, err);
        if (st == MTD_OK) st = parse_ops(s, &proto, err);
        if (st == MTD_OK) st = conf_get_list(s, "aliases", 0, (int)nblocks, (int)nblocks, &aliases, err);
        if (st != MTD_OK)
            return st;
        for (int bi = 0; bi < nblocks; bi++) {
            struct block_def b = proto;
            snprintf(b.name, sizeof b.name, "stage%d.block%d", si + 1, bi);
            b.cout = (int)channels;
            b.stride = bi == 0 ? (int)stride : 1;
            b.mid = (int)mid;
            if (aliases) {
                const config_setting_t *a = config_setting_get_elem(aliases, (unsigned)bi);
                const char *alias = config_setting_get_string(a);
                if (alias == NULL || strlen(alias) >= sizeof b.alias)
                    return conf_error(err, a, "expected an alias string of at most %d characters",
                                      SPACE_NAME_MAX - 1);
                snprintf(b.alias, sizeof b.alias, "%s", alias);
            }
            st = finish_block(s, def, &b, err);
            if (st != MTD_OK)
                return st;
        }
    }
    return MTD_OK;
}

static enum mtd_status parse_blocks(const config_setting_t *blocks, struct space_def *def,
                                    struct mtd_error *err)
{
    static const char *const keys[] = {"name", "channels", "stride", "ops", "alias", "mid",
                                       "residual", NULL};
    for (int bi = 0; bi < config_setting_length(blocks); bi++) {
        const config_setting_t *s = config_setting_get_elem(blocks, (unsigned)bi);
        if (config_setting_type(s) != CONFIG_TYPE_GROUP)
            return conf_error(err, s, "expected a block group { channels; stride; ops; }");
        struct block_def b = {0};
        long long channels = 1, stride = 1, mid = 0;
        int residual = 1;
        const char *name = NULL, *alias = "";
        enum mtd_status st = conf_check_keys(s, keys, err);
        if (st == MTD_OK) st = conf_get_int(s, "channels", 1, 1, MAX_CHANNELS, &channels, err);
        if (st == MTD_OK) st = conf_get_int(s, "stride", 0, 1, 2, &stride, err);
        if (st == MTD_OK) st = conf_get_int(s, "mid", 0, 1, MAX_CHANNELS, &mid, err);
        if (st == MTD_OK) st = conf_get_string(s, "name", 0, &name, err);
        if (st == MTD_OK) st = conf_get_string(s, "alias", 0, &alias, err);
        if (st == MTD_OK) st = conf_get_bool(s, "residual", 0, &residual, err);
        if (st == MTD_OK) st = parse_ops(s, &b, err);
        if (st != MTD_OK)
            return st;
        if ((name && strlen(name) >= sizeof b.name) || strlen(alias) >= sizeof b.alias)
            return conf_error(err, s, "names and aliases have at most %d characters", SPACE_NAME_MAX - 1);
        if (name)
            snprintf(b.name, sizeof b.name, "%s", name);
        else
            snprintf(b.name, sizeof b.name, "block%d", bi);
        snprintf(b.alias, sizeof b.alias, "%s", alias);
        b.cout = (int)channels;
        b.stride = (int)stride;
        b.mid = (int)mid;
        b.no_residual = !residual;
        st = finish_block(s, def, &b, err);
        if (st != MTD_OK)
            return st;
    }
    return MTD_OK;
}

enum mtd_status space_def_parse(const config_setting_t *sn, struct space_def *def,
                                struct mtd_error *err)
{
    static const char *const keys[] = {"input", "classes", "stem", "stages", "blocks", "last", "bn", NULL};
    static const char *const input_keys[] = {"channels", "height", "width", NULL};
    static const char *const stem_keys[] = {"channels", "kernel", "stride", NULL};
    static const char *const last_keys[] = {"channels", NULL};
    static const char *const bn_keys[] = {"eps", "momentum", NULL};
    memset(def, 0, sizeof *def);
    const config_setting_t *input = NULL, *stem = NULL, *last = NULL, *bn = NULL;
    const config_setting_t *stages = NULL, *blocks = NULL;
    long long in_c = 1, in_h = 1, in_w = 1, classes = 2, stem_c = 1, stem_k = 3, stem_s = 1, last_c = 0;
    double eps = 1e-5, momentum = 0.1;

    if (config_setting_type(sn) != CONFIG_TYPE_GROUP)
        return conf_error(err, sn, "expected a group { input; classes; stem; stages; ... }");
    enum mtd_status st = conf_check_keys(sn, keys, err);
    if (st == MTD_OK) st = conf_get_group(sn, "input", 1, &input, err);
    if (st == MTD_OK) st = conf_check_keys(input, input_keys, err);
    if (st == MTD_OK) st = conf_get_int(input, "channels", 1, 1, MAX_CHANNELS, &in_c, err);
    if (st == MTD_OK) st = conf_get_int(input, "height", 1, 1, MAX_SIZE, &in_h, err);
    if (st == MTD_OK) st = conf_get_int(input, "width", 1, 1, MAX_SIZE, &in_w, err);
    if (st == MTD_OK) st = conf_get_int(sn, "classes", 1, 2, 4096, &classes, err);
    if (st == MTD_OK) st = conf_get_group(sn, "stem", 1, &stem, err);
    if (st == MTD_OK) st = conf_check_keys(stem, stem_keys, err);
    if (st == MTD_OK) st = conf_get_int(stem, "channels", 1, 1, MAX_CHANNELS, &stem_c, err);
    if (st == MTD_OK) st = conf_get_int(stem, "kernel", 0, 1, 7, &stem_k, err);
    if (st == MTD_OK) st = conf_get_int(stem, "stride", 0, 1, 2, &stem_s, err);
    if (st == MTD_OK) st = conf_get_group(sn, "last", 0, &last, err);
    if (st == MTD_OK && last) st = conf_check_keys(last, last_keys, err);
    if (st == MTD_OK && last) st = conf_get_int(last, "channels", 1, 1, MAX_CHANNELS, &last_c, err);
    if (st == MTD_OK) st = conf_get_group(sn, "bn", 0, &bn, err);
    if (st == MTD_OK && bn) st = conf_check_keys(bn, bn_keys, err);
    if (st == MTD_OK && bn) st = conf_get_double(bn, "eps", 0, 1e-12, 1.0, &eps, err);
    if (st == MTD_OK && bn) st = conf_get_double(bn, "momentum", 0, 0.0, 1.0, &momentum, err);
    if (st == MTD_OK) st = conf_get_list(sn, "stages", 0, 1, SPACE_MAX_BLOCKS, &stages, err);
    if (st == MTD_OK) st = conf_get_list(sn, "blocks", 0, 1, SPACE_MAX_BLOCKS, &blocks, err);
    if (st != MTD_OK)
        return st;
    if (stem_k % 2 == 0)
        return conf_error(err, conf_child(stem, "kernel"), "expected an odd kernel size");
    if ((stages == NULL) == (blocks == NULL))
        return conf_error(err, sn, "give either 'stages' or 'blocks'");

    def->in_c = (int)in_c;
    def->in_h = (int)in_h;
    def->in_w = (int)in_w;
    def->classes = (int)classes;
    def->stem_channels = (int)stem_c;
    def->stem_kernel = (int)stem_k;
    def->stem_stride = (int)stem_s;
    def->stem_h = out_size(def->in_h, def->stem_kernel, def->stem_stride);
    def->stem_w = out_size(def->in_w, def->stem_kernel, def->stem_stride);
    def->last_channels = (int)last_c;
    def->bn_eps = eps;
    def->bn_momentum = momentum;
    return stages ? parse_stages(stages, def, err) : parse_blocks(blocks, def, err);
}
