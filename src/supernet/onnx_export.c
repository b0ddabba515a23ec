/*
 * onnx_export.c - a standalone network as an ONNX model (model.h), built
 * with protobuf-c from the onnx.proto Debian's libonnx-dev ships.
 *
 * Opset 13, IR version 7. Input "input": float32 [N, C, H, W], normalised
 * as the data section says; output "logits": [N, classes]. Each cell's
 * node program maps to standard operators: a convolution and the BN after
 * it become one Conv with the BN folded into its weights and bias (then a
 * Relu), a split two Slices, the channel shuffle Reshape-Transpose-Reshape,
 * the head GlobalAveragePool, Flatten and Gemm. Weights are sliced to the
 * active widths.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchnorm.h"
#include "ckpt_io.h"
#include "graph.h"
#include "model.h"
#include "onnx.pb-c.h"

#define OPSET 13
#define IR_VERSION 7

/* Everything the model points to, freed at once. */
struct builder {
    void **blocks;
    size_t nblocks, cap_blocks;
    int failed;
    Onnx__GraphProto graph;
    size_t cap_node, cap_init;
    int counter;                   /* for unique names */
};

static void *b_alloc(struct builder *b, size_t size)
{
    if (b->failed)
        return NULL;
    if (b->nblocks == b->cap_blocks) {
        size_t cap = b->cap_blocks ? 2 * b->cap_blocks : 1024;
        void **p = realloc(b->blocks, cap * sizeof *p);
        if (p == NULL) {
            b->failed = 1;
            return NULL;
        }
        b->blocks = p;
        b->cap_blocks = cap;
    }
    void *p = calloc(1, size ? size : 1);
    if (p == NULL) {
        b->failed = 1;
        return NULL;
    }
    b->blocks[b->nblocks++] = p;
    return p;
}

static char *b_strdup(struct builder *b, const char *text)
{
    char *s = b_alloc(b, strlen(text) + 1);
    if (s != NULL)
        strcpy(s, text);
    return s;
}

/* A tensor name "c<cell>_<what><number>". */
static char *b_name(struct builder *b, int cell, const char *what, int number)
{
    char buf[64];
    snprintf(buf, sizeof buf, "c%d_%s%d", cell, what, number);
    return b_strdup(b, buf);
}

/* A fresh name for an intermediate tensor. */
static char *b_temp(struct builder *b)
{
    char buf[32];
    snprintf(buf, sizeof buf, "t%d", b->counter++);
    return b_strdup(b, buf);
}

/* Appends p to the array *arr of *n elements and capacity *cap. */
static void b_push(struct builder *b, void ***arr, size_t *n, size_t *cap, void *p)
{
    if (b->failed || p == NULL) {
        b->failed = 1;
        return;
    }
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        void **q = b_alloc(b, c * sizeof *q);
        if (q == NULL)
            return;
        if (*n)
            memcpy(q, *arr, *n * sizeof *q);
        *arr = q;
        *cap = c;
    }
    (*arr)[(*n)++] = p;
}

static Onnx__TensorProto *tensor(struct builder *b, const char *name, const int64_t *dims,
                                 int ndims)
{
    Onnx__TensorProto *t = b_alloc(b, sizeof *t);
    int64_t *d = b_alloc(b, (size_t)ndims * sizeof *d);
    if (t == NULL || d == NULL)
        return NULL;
    onnx__tensor_proto__init(t);
    memcpy(d, dims, (size_t)ndims * sizeof *d);
    t->n_dims = (size_t)ndims;
    t->dims = d;
    t->name = b_strdup(b, name);
    t->has_data_type = 1;
    b_push(b, (void ***)&b->graph.initializer, &b->graph.n_initializer, &b->cap_init, t);
    return t;
}

/* A float initializer; returns its data for the caller to fill. */
static float *init_floats(struct builder *b, const char *name, const int64_t *dims, int ndims)
{
    size_t count = 1;
    for (int i = 0; i < ndims; i++)
        count *= (size_t)dims[i];
    Onnx__TensorProto *t = tensor(b, name, dims, ndims);
    float *data = b_alloc(b, count * sizeof *data);
    if (t == NULL || data == NULL)
        return NULL;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_float_data = count;
    t->float_data = data;
    return data;
}

/* A 1-D int64 initializer, named afresh; returns the name. */
static char *init_ints(struct builder *b, const int64_t *v, int n)
{
    char *name = b_temp(b);
    int64_t dims[1] = {n};
    Onnx__TensorProto *t = name ? tensor(b, name, dims, 1) : NULL;
    int64_t *data = b_alloc(b, (size_t)n * sizeof *data);
    if (t == NULL || data == NULL)
        return NULL;
    memcpy(data, v, (size_t)n * sizeof *data);
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    t->n_int64_data = (size_t)n;
    t->int64_data = data;
    return t->name;
}

static Onnx__NodeProto *node(struct builder *b, const char *op, int nin, const char *const *in,
                             const char *out)
{
    Onnx__NodeProto *nd = b_alloc(b, sizeof *nd);
    char **ins = b_alloc(b, (size_t)nin * sizeof *ins);
    char **outs = b_alloc(b, sizeof *outs);
    if (nd == NULL || ins == NULL || outs == NULL)
        return NULL;
    onnx__node_proto__init(nd);
    for (int i = 0; i < nin; i++)
        ins[i] = (char *)in[i];
    outs[0] = (char *)out;
    for (int i = 0; i < nin; i++)
        b->failed |= in[i] == NULL;
    nd->n_input = (size_t)nin;
    nd->input = ins;
    nd->n_output = 1;
    nd->output = outs;
    nd->op_type = (char *)op;
    if (out == NULL)
        b->failed = 1;
    b_push(b, (void ***)&b->graph.node, &b->graph.n_node, &b->cap_node, nd);
    return nd;
}

static void attr_ints(struct builder *b, Onnx__NodeProto *nd, const char *name,
                      const int64_t *v, int n)
{
    Onnx__AttributeProto *a = b_alloc(b, sizeof *a);
    int64_t *data = b_alloc(b, (size_t)n * sizeof *data);
    Onnx__AttributeProto **list = b_alloc(b, (nd ? nd->n_attribute + 1 : 1) * sizeof *list);
    if (a == NULL || data == NULL || list == NULL || nd == NULL) {
        b->failed = 1;
        return;
    }
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    if (n == 1 && strcmp(name, "kernel_shape") != 0 && strcmp(name, "strides") != 0 &&
        strcmp(name, "pads") != 0 && strcmp(name, "perm") != 0) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1;
        a->i = v[0];
    } else {
        memcpy(data, v, (size_t)n * sizeof *data);
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        a->n_ints = (size_t)n;
        a->ints = data;
    }
    if (nd->n_attribute)
        memcpy(list, nd->attribute, nd->n_attribute * sizeof *list);
    list[nd->n_attribute++] = a;
    nd->attribute = list;
}

static void attr_int(struct builder *b, Onnx__NodeProto *nd, const char *name, int64_t v)
{
    attr_ints(b, nd, name, &v, 1);
}

/* The widths of cell c's (only) op in the exported network. */
struct cell_view {
    struct supernet *sn;
    int c;
    const struct op_graph *g;
    int in, out, mid;
    const char *slot_name[OP_MAX_SLOTS];
};

static int view_channels(const struct cell_view *v, int s)
{
    return width_eval(v->g->slots[s].c, v->in, v->out, v->mid);
}

static const float *param(const struct cell_view *v, int p)
{
    return supernet_weights(v->sn) + supernet_param(v->sn, p)->offset;
}

static const float *buffer(const struct cell_view *v, int p)
{
    return supernet_buffers(v->sn) + supernet_buffer(v->sn, p)->offset;
}

/* A Conv, with the BN bn (may be NULL) folded in, then a Relu if asked. */
static void emit_conv(struct builder *b, const struct cell_view *v, const struct node *cv,
                      const struct node *bn, const char *out)
{
    const struct param_info *w = supernet_param(v->sn, cv->param);
    const int cin = width_eval(cv->a, v->in, v->out, v->mid);
    const int cout = width_eval(cv->b, v->in, v->out, v->mid);
    const int k = cv->k, per = cv->depthwise ? 1 : cin;
    char *wname = b_name(b, v->c, "w", b->counter++);
    char *bname = b_name(b, v->c, "b", b->counter++);
    int64_t wdims[4] = {cout, per, k, k}, bdims[1] = {cout};
    float *wd = init_floats(b, wname ? wname : "", wdims, 4);
    float *bd = init_floats(b, bname ? bname : "", bdims, 1);
    float *scale = malloc((size_t)cout * sizeof *scale), *shift = malloc((size_t)cout * sizeof *shift);
    if (wd == NULL || bd == NULL || scale == NULL || shift == NULL) {
        b->failed = 1;
        free(scale);
        free(shift);
        return;
    }
    if (bn != NULL) {
        batchnorm_eval_affine(scale, shift, param(v, bn->param), param(v, bn->param + 1),
                              buffer(v, bn->buffer), buffer(v, bn->buffer + 1),
                              (float)supernet_space(v->sn)->bn_eps, cout);
    } else {
        for (int o = 0; o < cout; o++) {
            scale[o] = 1.0f;
            shift[o] = 0.0f;
        }
    }
    const float *src = param(v, cv->param);
    for (int o = 0; o < cout; o++) {
        for (int i = 0; i < per * k * k; i++)
            wd[(size_t)o * per * k * k + i] = src[(size_t)o * w->cols + i] * scale[o];
        bd[o] = shift[o];
    }
    free(scale);
    free(shift);
    const int relu = bn != NULL && bn->relu;
    const char *conv_out = relu ? b_temp(b) : out;
    const char *in[3] = {v->slot_name[cv->src], wname, bname};
    Onnx__NodeProto *nd = node(b, "Conv", 3, in, conv_out);
    int64_t ks[2] = {k, k}, st[2] = {cv->stride, cv->stride}, pads[4] = {k / 2, k / 2, k / 2, k / 2};
    attr_ints(b, nd, "kernel_shape", ks, 2);
    attr_ints(b, nd, "strides", st, 2);
    attr_ints(b, nd, "pads", pads, 4);
    attr_int(b, nd, "group", cv->depthwise ? cin : 1);
    if (relu)
        node(b, "Relu", 1, &conv_out, out);
}

/* A BN not after a convolution: BatchNormalization (then Relu). */
static void emit_bn(struct builder *b, const struct cell_view *v, const struct node *bn,
                    const char *out)
{
    const int c = view_channels(v, bn->dst);
    int64_t dims[1] = {c};
    const char *names[5] = {v->slot_name[bn->src]};
    const float *src[4] = {param(v, bn->param), param(v, bn->param + 1), buffer(v, bn->buffer),
                           buffer(v, bn->buffer + 1)};
    for (int i = 0; i < 4; i++) {
        char *name = b_name(b, v->c, "bn", b->counter++);
        float *d = init_floats(b, name ? name : "", dims, 1);
        if (d == NULL)
            return;
        memcpy(d, src[i], (size_t)c * sizeof *d);
        names[i + 1] = name;
    }
    const char *bn_out = bn->relu ? b_temp(b) : out;
    Onnx__NodeProto *nd = node(b, "BatchNormalization", 5, names, bn_out);
    if (nd != NULL) {
        Onnx__AttributeProto **list = b_alloc(b, sizeof *list);
        Onnx__AttributeProto *a = b_alloc(b, sizeof *a);
        if (list == NULL || a == NULL)
            return;
        onnx__attribute_proto__init(a);
        a->name = (char *)"epsilon";
        a->has_type = 1;
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        a->has_f = 1;
        a->f = (float)supernet_space(v->sn)->bn_eps;
        list[0] = a;
        nd->attribute = list;
        nd->n_attribute = 1;
    }
    if (bn->relu)
        node(b, "Relu", 1, &bn_out, out);
}

/* Channels [from, from + count) of the slot: a Slice on axis 1. */
static void emit_slice(struct builder *b, const char *src, int from, int count, const char *out)
{
    int64_t starts[1] = {from}, ends[1] = {from + count}, axes[1] = {1};
    const char *in[4] = {src, init_ints(b, starts, 1), init_ints(b, ends, 1),
                         init_ints(b, axes, 1)};
    node(b, "Slice", 4, in, out);
}

/* Output channel j * 2 + g holds input channel g * (c / 2) + j. */
static void emit_shuffle(struct builder *b, const struct cell_view *v, const struct node *nd,
                         const char *out)
{
    const int c = width_eval(nd->a, v->in, v->out, v->mid);
    const struct slot *s = &v->g->slots[nd->src];
    int64_t split[5] = {-1, 2, c / 2, s->h, s->w}, merged[4] = {-1, c, s->h, s->w};
    int64_t perm[5] = {0, 2, 1, 3, 4};
    const char *a = b_temp(b), *t = b_temp(b);
    const char *in1[2] = {v->slot_name[nd->src], init_ints(b, split, 5)};
    node(b, "Reshape", 2, in1, a);
    Onnx__NodeProto *tr = node(b, "Transpose", 1, &a, t);
    attr_ints(b, tr, "perm", perm, 5);
    const char *in2[2] = {t, init_ints(b, merged, 4)};
    node(b, "Reshape", 2, in2, out);
}

static void emit_linear(struct builder *b, const struct cell_view *v, const struct node *nd,
                        const char *out)
{
    const struct param_info *w = supernet_param(v->sn, nd->param);
    const int in = width_eval(nd->a, v->in, v->out, v->mid);
    const int outc = width_eval(nd->b, v->in, v->out, v->mid);
    char *wname = b_name(b, v->c, "fc_w", b->counter++);
    char *bname = b_name(b, v->c, "fc_b", b->counter++);
    int64_t wdims[2] = {outc, in}, bdims[1] = {outc};
    float *wd = init_floats(b, wname ? wname : "", wdims, 2);
    float *bd = init_floats(b, bname ? bname : "", bdims, 1);
    if (wd == NULL || bd == NULL)
        return;
    const float *src = param(v, nd->param), *bias = param(v, nd->param + 1);
    for (int o = 0; o < outc; o++) {
        memcpy(wd + (size_t)o * in, src + (size_t)o * w->cols, (size_t)in * sizeof *wd);
        bd[o] = bias[o];
    }
    const char *flat = b_temp(b);
    Onnx__NodeProto *f = node(b, "Flatten", 1, &v->slot_name[nd->src], flat);
    attr_int(b, f, "axis", 1);
    const char *ins[3] = {flat, wname, bname};
    Onnx__NodeProto *g = node(b, "Gemm", 3, ins, out);
    attr_int(b, g, "transB", 1);
}

/* The nodes of cell c; its input tensor is named input, its output's name
 * is returned. */
static const char *emit_cell(struct builder *b, struct supernet *sn, int c, const char *input,
                             int last)
{
    struct cell_view v = {.sn = sn, .c = c, .g = &sn->cells[c].ops[0]};
    cell_widths(sn, supernet_arch(sn), c, 0, &v.in, &v.out, &v.mid);
    v.slot_name[0] = input;
    for (int s = 1; s < v.g->nslots; s++)
        v.slot_name[s] = last && s == v.g->out ? "logits" : b_name(b, c, "s", s);
    for (int i = 0; i < v.g->nnodes; i++) {
        const struct node *nd = &v.g->nodes[i];
        const char *dst = v.slot_name[nd->dst > 0 ? nd->dst : 0];
        switch (nd->kind) {
        case NODE_CONV:
            if (conv_bn_fusable(v.g, i)) {
                emit_conv(b, &v, nd, &v.g->nodes[i + 1], v.slot_name[v.g->nodes[i + 1].dst]);
                i++;
            } else {
                emit_conv(b, &v, nd, NULL, dst);
            }
            break;
        case NODE_BN:
            emit_bn(b, &v, nd, dst);
            break;
        case NODE_SPLIT: {
            int ca = width_eval(nd->a, v.in, v.out, v.mid), cb = width_eval(nd->b, v.in, v.out, v.mid);
            emit_slice(b, v.slot_name[nd->src], 0, ca, dst);
            emit_slice(b, v.slot_name[nd->src], ca, cb, v.slot_name[nd->dst2]);
            break;
        }
        case NODE_CONCAT: {
            const char *in[2] = {v.slot_name[nd->src], v.slot_name[nd->src2]};
            attr_int(b, node(b, "Concat", 2, in, dst), "axis", 1);
            break;
        }
        case NODE_SHUFFLE:
            emit_shuffle(b, &v, nd, dst);
            break;
        case NODE_ADD: {
            const char *in[2] = {v.slot_name[nd->src], v.slot_name[nd->src2]};
            node(b, "Add", 2, in, dst);
            break;
        }
        case NODE_POOL:
            node(b, "GlobalAveragePool", 1, &v.slot_name[nd->src], dst);
            break;
        case NODE_LINEAR:
            emit_linear(b, &v, nd, dst);
            break;
        }
    }
    return v.slot_name[v.g->out];
}

static Onnx__ValueInfoProto *value_info(struct builder *b, const char *name, const int64_t *dims,
                                        int ndims)
{
    Onnx__ValueInfoProto *vi = b_alloc(b, sizeof *vi);
    Onnx__TypeProto *tp = b_alloc(b, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = b_alloc(b, sizeof *tt);
    Onnx__TensorShapeProto *shape = b_alloc(b, sizeof *shape);
    Onnx__TensorShapeProto__Dimension **dim = b_alloc(b, (size_t)ndims * sizeof *dim);
    if (vi == NULL || tp == NULL || tt == NULL || shape == NULL || dim == NULL)
        return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(shape);
    for (int i = 0; i < ndims; i++) {
        dim[i] = b_alloc(b, sizeof *dim[i]);
        if (dim[i] == NULL)
            return NULL;
        onnx__tensor_shape_proto__dimension__init(dim[i]);
        if (dims[i] < 0) {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim[i]->dim_param = (char *)"N";
        } else {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim[i]->dim_value = dims[i];
        }
    }
    shape->n_dim = (size_t)ndims;
    shape->dim = dim;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = shape;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->name = (char *)name;
    vi->type = tp;
    return vi;
}

enum mtd_status model_export_onnx(struct supernet *x, const char *path, struct mtd_error *err)
{
    struct builder b;
    memset(&b, 0, sizeof b);
    onnx__graph_proto__init(&b.graph);
    b.graph.name = (char *)"mutatord_subnet";
    const struct space_def *def = supernet_space(x);
    const char *t = "input";
    for (int c = 0; c < x->ncells; c++)
        t = emit_cell(&b, x, c, t, c == x->ncells - 1);
    int64_t in_dims[4] = {-1, def->in_c, def->in_h, def->in_w}, out_dims[2] = {-1, def->classes};
    Onnx__ValueInfoProto *in = value_info(&b, "input", in_dims, 4);
    Onnx__ValueInfoProto *out = value_info(&b, "logits", out_dims, 2);
    Onnx__ValueInfoProto **ins = b_alloc(&b, sizeof *ins), **outs = b_alloc(&b, sizeof *outs);
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT, *opsets[1] = {&opset};
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    enum mtd_status st = MTD_OK;
    if (b.failed || in == NULL || out == NULL || ins == NULL || outs == NULL) {
        st = mtd_error_set(err, MTD_ERR_NOMEM, "%s: out of memory building the model", path);
        goto out;
    }
    ins[0] = in;
    outs[0] = out;
    b.graph.n_input = 1;
    b.graph.input = ins;
    b.graph.n_output = 1;
    b.graph.output = outs;
    opset.domain = (char *)"";
    opset.has_version = 1;
    opset.version = OPSET;
    model.has_ir_version = 1;
    model.ir_version = IR_VERSION;
    model.producer_name = (char *)"mutatord";
    model.producer_version = (char *)PACKAGE_VERSION;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.graph = &b.graph;
    size_t size = onnx__model_proto__get_packed_size(&model);
    uint8_t *buf = malloc(size);
    if (buf == NULL) {
        st = mtd_error_set(err, MTD_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, size);
        goto out;
    }
    onnx__model_proto__pack(&model, buf);
    struct ckpt_writer *w;
    FILE *f;
    if ((st = text_writer_open(&w, path, &f, err)) == MTD_OK) {
        fwrite(buf, 1, size, f);
        st = ckpt_writer_commit(w, err);
    }
    free(buf);
out:
    for (size_t i = 0; i < b.nblocks; i++)
        free(b.blocks[i]);
    free(b.blocks);
    return st;
}
