/*
 * test_supernet.c - the supernet on small spaces: units derived from the
 * structure, whole-network gradients against finite differences at reduced
 * widths, inactive weights untouched by backward and the SGD step, the
 * estimator against hand-computed counts, static extraction equivalence,
 * and config errors with file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "conf.h"
#include "fixture.h"
#include "gradcheck.h"
#include "parallel.h"
#include "simd.h"
#include "space.h"
#include "spaces.h"
#include "supernet.h"

static struct supernet *build(const char *text, int bn_sets, struct space_def *def)
{
    return test_space_build(text, bn_sets, def);
}

static void assert_unit(const struct supernet *sn, int u, const char *name, int max, int align)
{
    const struct channel_unit *unit = supernet_unit(sn, u);
    assert_string_equal(unit->name, name);
    assert_int_equal(unit->max, max);
    assert_int_equal(unit->align, align);
}

static void test_units_shuffle(void **state)
{
    (void)state;
    struct space_def def;
    struct supernet *sn = build(test_shuffle_space, 1, &def);
    /* stem; block0 mid and output; block1 mid (output tied to block0's by
     * the passthrough half); block0 of stage 2 widens: its own unit. */
    assert_int_equal(supernet_nunits(sn), 7);
    assert_unit(sn, 0, "stem", 4, 2);
    assert_unit(sn, 1, "stage1.block0.mid", 4, 1);
    assert_unit(sn, 2, "stage1.block0", 8, 2);
    assert_unit(sn, 3, "stage1.block1.mid", 4, 1);
    assert_unit(sn, 4, "stage2.block0.mid", 6, 1);
    assert_unit(sn, 5, "stage2.block0", 12, 2);
    assert_unit(sn, 6, "last", 16, 1);
    supernet_free(sn);
}

static void test_units_residual(void **state)
{
    (void)state;
    struct space_def def;
    struct supernet *sn = build(test_mb_space, 1, &def);
    /* The residual stage is one unit with the block that opened it; each
     * block has an inner unit as wide as its widest expansion. */
    assert_int_equal(supernet_nunits(sn), 5);
    assert_unit(sn, 0, "stem", 4, 1);
    assert_unit(sn, 1, "stage1.block0.mid", 16, 1);
    assert_unit(sn, 2, "stage1.block0", 6, 1);
    assert_unit(sn, 3, "stage2.block0.mid", 24, 1);
    assert_unit(sn, 4, "stage2.block1.mid", 24, 1);
    assert_int_equal(supernet_unit_find(sn, "stage2.block1"), -1);
    supernet_free(sn);
}

/* --- Whole-network gradients -------------------------------------------- */

struct net_case {
    struct supernet *sn;
    const float *inp;
    const float *r;   /* dloss/dlogits */
    int n, classes;
};

static double net_loss(void *ctx)
{
    struct net_case *c = ctx;
    const float *logits = supernet_forward(c->sn, c->inp, c->n, FORWARD_TRAIN);
    return dot_loss(logits, c->r, (size_t)c->n * (size_t)c->classes);
}

static void set_arch(struct supernet *sn, const struct arch *a)
{
    struct mtd_error err = {0};
    if (supernet_set_arch(sn, a, &err) != MTD_OK)
        fail_msg("%s", err.msg);
}

/* A case of n random images and dloss/dlogits (from seed), run forward
 * and backward once under the current arch; net_case_free frees it. */
static struct net_case net_case_run(struct supernet *sn, const struct space_def *def, int n,
                                    uint64_t seed)
{
    struct mtd_error err = {0};
    assert_int_equal(supernet_reserve(sn, n, &err), MTD_OK);
    size_t in_size = (size_t)n * def->in_c * def->in_h * def->in_w;
    float *r = random_floats((size_t)n * def->classes, seed + 1, 1.0f);
    struct net_case c = {.sn = sn, .inp = random_floats(in_size, seed, 1.0f), .r = r, .n = n,
                         .classes = def->classes};
    net_loss(&c);
    supernet_backward(sn, r);
    return c;
}

static void net_case_free(struct net_case *c)
{
    floats_free((float *)c->inp);
    floats_free((float *)c->r);
}

/* Checks the gradients of every parameter of the current arch. */
static void check_net_gradients(struct supernet *sn, const struct space_def *def, int n)
{
    struct net_case c = net_case_run(sn, def, n, 7);
    float *w = supernet_weights(sn), *g = supernet_grads(sn);
    for (int p = 0; p < supernet_nparams(sn); p++) {
        const struct param_info *info = supernet_param(sn, p);
        size_t count = (size_t)info->rows * info->cols;
        /* Steps of 1e-3 cross ReLU kinks of these tiny batches; at 1e-4
         * the float32 network still resolves the difference (the loss is
         * summed in double). The tolerance scales with the tensor's
         * largest gradient; a wrong formula is off by far more. */
        double largest = 0.0;
        for (size_t i = 0; i < count; i++)
            largest = fmax(largest, fabs((double)g[info->offset + i]));
        /* The leading entries are the active ones; 48 per tensor keep the
         * test fast enough for valgrind. */
        gradcheck(net_loss, &c, w + info->offset, count < 48 ? count : 48, g + info->offset,
                  1e-4,
                  1e-4 + 0.05 * largest, 0.05, info->name);
    }
    net_case_free(&c);
}

static void test_gradients_shuffle_reduced(void **state)
{
    (void)state;
    struct space_def def;
    struct supernet *sn = build(test_shuffle_space, 1, &def);
    struct arch a;
    supernet_arch_max(sn, &a);
    a.op[1] = 3;                                  /* xception, stride 2 */
    a.op[2] = 1;                                  /* shuffle_5x5, stride 1 */
    a.op[3] = 0;
    a.width[1] = (struct unit_width){.channels = 3};   /* mid of block 0 */
    a.width[2] = (struct unit_width){.channels = 6};
    a.width[4] = (struct unit_width){.channels = 5};
    a.width[5] = (struct unit_width){.channels = 10};
    a.width[6] = (struct unit_width){.ratio = 0.5, .divisor = 4};
    set_arch(sn, &a);
    check_net_gradients(sn, &def, 3);   /* (2 images cross a ReLU kink here) */
    supernet_free(sn);
}

/* One step of the max subnet with a learning rate of 0: the weights stay,
 * their gradients are cleared, and the gradient arena keeps the max
 * subnet's values. */
static void stale_step(struct supernet *sn, const struct space_def *def, int n)
{
    struct arch max;
    supernet_arch_max(sn, &max);
    set_arch(sn, &max);
    struct net_case c = net_case_run(sn, def, n, 21);
    struct sgd_config zero = {.lr = 0.0f};
    supernet_sgd_step(sn, &zero, 0);
    net_case_free(&c);
}

/* The gradients of a training step with the fusions on (fusion.c: channel
 * moves fused, batch norm maps left to their readers, a batch norm's
 * input gradient taken an image at a time by the convolution before it)
 * and node by node: the same bits. Max and reduced subnets of the
 * shuffle space, whose blocks split, concatenate and shuffle, and of the
 * MB space, whose blocks add a residual. */
static void check_fusion_gradients(const char *space, int cell, int op, int channels)
{
    struct space_def def;
    struct supernet *sn = build(space, 1, &def);
    const size_t floats = supernet_weights_size(sn);
    float *fused = malloc(floats * sizeof(float));
    struct arch a;
    supernet_arch_max(sn, &a);
    for (int reduced = 0; reduced < 2; reduced++) {
        if (reduced) {
            a.op[cell] = op;
            a.width[cell] = (struct unit_width){.channels = channels};
        }
        set_arch(sn, &a);
        for (int on = 1; on >= 0; on--) {
            supernet_set_fusion(sn, on);
            struct net_case c = net_case_run(sn, &def, 3, 11);
            if (on)
                memcpy(fused, supernet_grads(sn), floats * sizeof(float));
            else
                assert_memory_equal(fused, supernet_grads(sn), floats * sizeof(float));
            struct sgd_config zero = {.lr = 0.0f};
            supernet_sgd_step(sn, &zero, 0);  /* clears the gradients */
            net_case_free(&c);
        }
    }
    supernet_set_fusion(sn, 1);
    free(fused);
    supernet_free(sn);
}

static void test_channel_fusion_gradients(void **state)
{
    (void)state;
    check_fusion_gradients(test_shuffle_space, 2, 1, 6);
}

static void test_mb_fusion_gradients(void **state)
{
    (void)state;
    check_fusion_gradients(test_mb_space, 2, 1, 8);
}

/* Backward writes most gradients (=) instead of adding to zeroed ones
 * (backward.c): after another subnet's backward has left its values in the
 * gradient arena, the gradients of a reduced subnet are still right. */
static void test_gradients_after_another_path(void **state)
{
    (void)state;
    struct space_def def;
    struct supernet *sn = build(test_shuffle_space, 1, &def);
    struct arch a;
    supernet_arch_max(sn, &a);
    stale_step(sn, &def, 3);
    a.op[1] = 1;
    a.op[2] = 3;
    a.width[2] = (struct unit_width){.channels = 6};
    a.width[6] = (struct unit_width){.ratio = 0.5, .divisor = 4};
    set_arch(sn, &a);
    check_net_gradients(sn, &def, 3);
    supernet_free(sn);

    sn = build(test_mb_space, 1, &def);
    supernet_arch_max(sn, &a);
    stale_step(sn, &def, 3);
    a.op[1] = 2;                                  /* conv_3x3 */
    a.op[2] = 2;                                  /* identity */
    a.op[3] = 0;                                  /* mb_k3_e3, residual */
    set_arch(sn, &a);
    check_net_gradients(sn, &def, 3);
    supernet_free(sn);
}

static void test_gradients_mb(void **state)
{
    (void)state;
    struct space_def def;
    struct supernet *sn = build(test_mb_space, 1, &def);
    struct arch a;
    supernet_arch_max(sn, &a);
    a.op[1] = 1;                                  /* mb_k5_e4, stride 2 */
    a.op[2] = 0;                                  /* mb_k3_e3 with residual */
    a.op[3] = 2;                                  /* identity */
    a.width[1] = (struct unit_width){.ratio = 0.5, .divisor = 2};
    a.width[2] = (struct unit_width){.channels = 4};
    set_arch(sn, &a);
    check_net_gradients(sn, &def, 2);
    supernet_free(sn);
    /* An identity between two blocks: the gradient regions of the blocks
     * around it must still alternate (backward.c). A fresh supernet: the
     * gradients above are still in the arena. */
    sn = build(test_mb_space, 1, &def);
    a.op[1] = 2;                                  /* conv_3x3 */
    a.op[2] = 2;                                  /* identity */
    a.op[3] = 1;                                  /* mb_k5_e4 */
    set_arch(sn, &a);
    check_net_gradients(sn, &def, 3);   /* (2 images cross a ReLU kink here) */
    supernet_free(sn);
}

/* One training step of one arch leaves every other weight, and its
 * momentum, as it was: bit for bit. */
static void test_inactive_untouched(void **state)
{
    (void)state;
    struct space_def def;
    struct supernet *sn = build(test_shuffle_space, 1, &def);
    struct mtd_error err = {0};
    struct arch a;
    supernet_arch_max(sn, &a);
    a.op[1] = 2;
    a.width[2] = (struct unit_width){.channels = 6};
    set_arch(sn, &a);
    int n = 4;
    assert_int_equal(supernet_reserve(sn, n, &err), MTD_OK);
    size_t size = supernet_weights_size(sn);
    float *before = malloc(size * sizeof(float));
    memcpy(before, supernet_weights(sn), size * sizeof(float));
    float *inp = random_floats((size_t)n * 64, 3, 1.0f);
    float *r = random_floats((size_t)n * 3, 4, 1.0f);
    supernet_forward(sn, inp, n, FORWARD_TRAIN);
    supernet_backward(sn, r);
    struct sgd_config cfg = {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.1f, .nesterov = 1};
    supernet_sgd_step(sn, &cfg, 1);
    const float *w = supernet_weights(sn), *v = supernet_velocity(sn), *g = supernet_grads(sn);
    int changed_active = 0;
    for (int p = 0; p < supernet_nparams(sn); p++) {
        const struct param_info *info = supernet_param(sn, p);
        int inactive_op = strstr(info->name, "stage1.block0.") && !strstr(info->name, "shuffle_7x7");
        /* Block 0 of stage 1 runs shuffle_7x7; its output unit is 6 of 8
         * wide, so the last rows of its output convs are idle too. */
        for (int row = 0; row < info->rows; row++)
            for (int col = 0; col < info->cols; col++) {
                size_t i = info->offset + (size_t)row * info->cols + (size_t)col;
                assert_true(g[i] == 0.0f);
                if (inactive_op) {
                    if (w[i] != before[i] || v[i] != 0.0f)
                        fail_msg("%s[%d][%d] of an inactive op changed", info->name, row, col);
                } else if (w[i] != before[i]) {
                    changed_active++;
                }
            }
    }
    assert_true(changed_active > 1000);
    /* Within the active op, the output unit is 6 of 8 wide: the main
     * branch's last conv gives 6 - 4 = 2 of its 4 rows; rows 2 and 3 idle. */
    int p = supernet_param_find(sn, "stage1.block0.shuffle_7x7.n8.weight");
    assert_true(p >= 0);
    const struct param_info *info = supernet_param(sn, p);
    /* Stored for the narrowest input: 8 - 2 rows. */
    assert_int_equal(info->rows, 6);
    for (size_t i = info->offset + 2 * (size_t)info->cols; i < info->offset + 6 * (size_t)info->cols; i++)
        assert_true(w[i] == before[i] && v[i] == 0.0f);
    for (size_t i = info->offset; i < info->offset + 2 * (size_t)info->cols; i++)
        assert_true(w[i] != before[i]);
    free(before);
    floats_free(inp);
    floats_free(r);
    supernet_free(sn);
}

/* --- Estimator ------------------------------------------------------------ */

static void test_estimate_by_hand(void **state)
{
    (void)state;
    struct space_def def;
    struct supernet *sn = build(test_mb_space, 1, &def);
    struct arch a;
    supernet_arch_max(sn, &a);
    a.op[1] = 2;                  /* conv_3x3 stride 2: 4 -> 6, 6x6 -> 3x3 */
    a.op[2] = 0;                  /* mb_k3_e3: 6 -> 18 -> 18 -> 6 at 3x3 */
    a.op[3] = 2;                  /* identity */
    struct resources res;
    supernet_estimate(sn, &a, &res);
    double stem_p = 4 * 1 * 9, stem_m = stem_p * 36;
    double conv_p = 6 * 4 * 9, conv_m = conv_p * 9;
    double mb_p = 18 * 6 + 18 * 9 + 6 * 18, mb_m = mb_p * 9;
    double fc_p = 6 * 4 + 4, fc_m = 6 * 4;
    double bn_p = 2 * (4 + 6 + 18 + 18 + 6);
    assert_true(res.macs == stem_m + conv_m + mb_m + fc_m);
    assert_true(res.params == stem_p + conv_p + mb_p + fc_p + bn_p);
    supernet_free(sn);
}

/* --- Static extraction ------------------------------------------------------ */

static void check_extraction(const char *text, struct arch *a, int bn_sets)
{
    struct space_def def, xdef;
    struct supernet *sn = build(text, bn_sets, &def);
    struct mtd_error err = {0};
    set_arch(sn, a);
    int n = 5;
    assert_int_equal(supernet_reserve(sn, n, &err), MTD_OK);
    size_t in_size = (size_t)n * def.in_c * def.in_h * def.in_w;
    float *inp = random_floats(in_size, 11, 1.0f);
    /* Train a few steps so weights and running statistics are not the
     * initial ones. */
    float *r = random_floats((size_t)n * def.classes, 12, 1.0f);
    struct sgd_config cfg = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-4f};
    for (int step = 0; step < 3; step++) {
        supernet_forward(sn, inp, n, FORWARD_TRAIN);
        supernet_backward(sn, r);
        supernet_sgd_step(sn, &cfg, 0);
    }
    struct supernet *x;
    if (supernet_extract(sn, a, &xdef, &x, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(supernet_reserve(x, n, &err), MTD_OK);
    struct resources rs, rx;
    supernet_estimate(sn, a, &rs);
    supernet_estimate(x, supernet_arch(x), &rx);
    assert_true(rs.macs == rx.macs && rs.params == rx.params);
    for (int mode = FORWARD_TRAIN; mode <= FORWARD_EVAL; mode += 2) {
        size_t count = (size_t)n * def.classes;
        float *want = malloc(count * sizeof(float));
        memcpy(want, supernet_forward(sn, inp, n, (enum forward_mode)mode), count * sizeof(float));
        const float *got = supernet_forward(x, inp, n, (enum forward_mode)mode);
        for (size_t i = 0; i < count; i++)
            if (fabs((double)got[i] - (double)want[i]) > 1e-6)
                fail_msg("mode %d logit %zu: extracted %.9g, supernet %.9g", mode, i, (double)got[i], (double)want[i]);
        free(want);
    }
    /* Evaluation with each BN folded into its convolution gives the bits
     * of the node-by-node evaluation. */
    size_t count = (size_t)n * def.classes;
    float *fused = malloc(count * sizeof(float));
    memcpy(fused, supernet_forward(sn, inp, n, FORWARD_EVAL), count * sizeof(float));
    supernet_set_fusion(sn, 0);
    assert_memory_equal(fused, supernet_forward(sn, inp, n, FORWARD_EVAL), count * sizeof(float));
    /* So does a calibration batch, whose convolutions read split
     * channels in place. */
    for (int on = 1; on >= 0; on--) {
        supernet_set_fusion(sn, on);
        assert_int_equal(supernet_calib_begin(sn, &err), MTD_OK);
        const float *logits = supernet_forward(sn, inp, n, FORWARD_CALIB);
        if (on)
            memcpy(fused, logits, count * sizeof(float));
        else
            assert_memory_equal(fused, logits, count * sizeof(float));
    }
    supernet_set_fusion(sn, 1);
    free(fused);
    floats_free(inp);
    floats_free(r);
    supernet_free(x);
    supernet_free(sn);
}

/* Evaluation takes its batch in chunks, a thread each (forward.c), whole
 * groups of 16 images interleaved: a batch of two groups and short NCHW
 * chunks gives every image the bits it gets alone (one NCHW chunk), and
 * the bits of the node-by-node NCHW evaluation. */
static void check_eval_chunks(const char *text, const struct arch *a)
{
    struct space_def def;
    struct supernet *sn = build(text, 1, &def);
    struct mtd_error err = {0};
    set_arch(sn, a);
    /* Calibration (which moves the BNs' running statistics away from
     * (0, 1), so that their folding is not nearly the identity): a batch
     * of two whole interleaved groups and a padded one gives the logits
     * and statistics of the node-by-node NCHW pass. */
    const int n = 37;
    assert_int_equal(supernet_reserve_eval(sn, n, &err), MTD_OK);
    if (simd_avx512())
        assert_true(supernet_eval_interleaved(sn));
    const size_t image = (size_t)def.in_c * def.in_h * def.in_w;
    float *calib = random_floats((size_t)n * image, 17, 2.0f);
    const size_t nbuf = supernet_buffers_size(sn), nlogits = (size_t)n * def.classes;
    float *stats = malloc(nbuf * sizeof(float)), *logits = malloc(nlogits * sizeof(float));
    for (int on = 0; on < 2; on++) {
        supernet_set_fusion(sn, on);
        assert_int_equal(supernet_calib_begin(sn, &err), MTD_OK);
        const float *got = supernet_forward(sn, calib, n, FORWARD_CALIB);
        supernet_calib_finish(sn);
        if (!on) {
            memcpy(logits, got, nlogits * sizeof(float));
            memcpy(stats, supernet_buffers(sn), nbuf * sizeof(float));
        } else {
            assert_memory_equal(got, logits, nlogits * sizeof(float));
            assert_memory_equal(supernet_buffers(sn), stats, nbuf * sizeof(float));
        }
    }
    free(stats);
    free(logits);
    float *inp = random_floats((size_t)n * image, 13, 1.0f);
    const size_t count = (size_t)n * def.classes;
    float *batch = malloc(count * sizeof(float));
    memcpy(batch, supernet_forward(sn, inp, n, FORWARD_EVAL), count * sizeof(float));
    for (int i = 0; i < n; i++)
        assert_memory_equal(supernet_forward(sn, inp + (size_t)i * image, 1, FORWARD_EVAL),
                            batch + (size_t)i * def.classes, def.classes * sizeof(float));
    /* An evaluation batch past the calibration's room (evaluate_arch's
     * top-1): the batch twice over, the same bits twice. */
    assert_int_equal(supernet_reserve_eval_forward(sn, 2 * n, &err), MTD_OK);
    float *twice = floats_alloc(2 * (size_t)n * image);
    memcpy(twice, inp, (size_t)n * image * sizeof(float));
    memcpy(twice + (size_t)n * image, inp, (size_t)n * image * sizeof(float));
    const float *both = supernet_forward(sn, twice, 2 * n, FORWARD_EVAL);
    assert_memory_equal(both, batch, count * sizeof(float));
    assert_memory_equal(both + count, batch, count * sizeof(float));
    floats_free(twice);
    supernet_set_fusion(sn, 0);
    assert_false(supernet_eval_interleaved(sn));
    assert_memory_equal(supernet_forward(sn, inp, n, FORWARD_EVAL), batch, count * sizeof(float));
    free(batch);
    floats_free(inp);
    floats_free(calib);
    supernet_free(sn);
}

/* Two stride-2 stages on 4 x 4 images: the last convolution's planes are
 * 1 x 1. */
static const char *const one_pixel_space =
    "supernet = { input = { channels = 1; height = 4; width = 4; }; classes = 3;\n"
    "  stem = { channels = 4; kernel = 3; stride = 1; };\n"
    "  stages = (\n"
    "    { blocks = 1; channels = 8; stride = 2; ops = [\"shuffle_3x3\"]; },\n"
    "    { blocks = 1; channels = 16; stride = 2; ops = [\"shuffle_xception\"]; } );\n"
    "  last = { channels = 24; }; };\n";

static void test_eval_chunks(void **state)
{
    (void)state;
    struct arch a;
    struct space_def def;
    struct supernet *sn = build(test_mb_space, 1, &def);
    supernet_arch_max(sn, &a);
    a.op[2] = 2;                                  /* identity in the middle */
    supernet_free(sn);
    check_eval_chunks(test_mb_space, &a);
    sn = build(test_shuffle_space, 1, &def);
    supernet_arch_max(sn, &a);
    supernet_free(sn);
    check_eval_chunks(test_shuffle_space, &a);
    a.op[2] = 1;
    a.width[2] = (struct unit_width){.channels = 6};   /* a slimmed unit */
    check_eval_chunks(test_shuffle_space, &a);
    sn = build(test_spos_small_space, 1, &def);
    supernet_arch_max(sn, &a);
    supernet_free(sn);
    for (int k = 0; k < 4; k++) {   /* every op in every block, over the four */
        for (int c = 1; c <= 6; c++)
            a.op[c] = (c + k) % 4;
        check_eval_chunks(test_spos_small_space, &a);
    }
    /* A last map of one pixel, whose plane has no room for the pool's
     * sums: the pool is not taken in the epilogue (forward.c), and the
     * bits are still NCHW's. */
    sn = build(one_pixel_space, 1, &def);
    supernet_arch_max(sn, &a);
    supernet_free(sn);
    check_eval_chunks(one_pixel_space, &a);
}

static void test_extract_shuffle(void **state)
{
    (void)state;
    struct arch a;
    memset(&a, 0, sizeof a);
    for (int u = 0; u < SUPERNET_MAX_UNITS; u++)
        a.width[u] = (struct unit_width){.ratio = 1.0, .divisor = 1};
    a.op[1] = 3;
    a.op[2] = 2;
    a.op[3] = 1;
    a.width[1] = (struct unit_width){.channels = 2};
    a.width[2] = (struct unit_width){.channels = 6};
    a.width[6] = (struct unit_width){.ratio = 0.75, .divisor = 4};
    check_extraction(test_shuffle_space, &a, 1);
}

static void test_extract_mb_second_bn_set(void **state)
{
    (void)state;
    struct arch a;
    memset(&a, 0, sizeof a);
    for (int u = 0; u < SUPERNET_MAX_UNITS; u++)
        a.width[u] = (struct unit_width){.ratio = 0.5, .divisor = 2};
    a.op[1] = 0;
    a.op[2] = 1;
    a.op[3] = 2;
    a.bn_set = 1;
    check_extraction(test_mb_space, &a, 2);
}

/* --- Config errors ---------------------------------------------------------- */

static void expect_space_error(const char *text, const char *needle)
{
    config_t cfg;
    struct mtd_error err = {0};
    struct space_def def;
    assert_int_equal(conf_read_string(&cfg, text, "bad.conf", &err), MTD_OK);
    enum mtd_status st = space_def_parse(config_lookup(&cfg, "supernet"), &def, &err);
    config_destroy(&cfg);
    assert_int_equal(st, MTD_ERR_CONFIG);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err.msg, needle);
}

static void test_space_errors(void **state)
{
    (void)state;
    const char *head = "supernet = { input = { channels = 1; height = 8; width = 8; }; classes = 3;\n"
                       "  stem = { channels = 4; };\n";
    char text[1024];
    snprintf(text, sizeof text, "%s  stages = ( { blocks = 1; channels = 8; ops = [\"shufle_3x3\"]; } ); };", head);
    expect_space_error(text, "bad.conf:3: supernet.stages[0].ops[0]: unknown op 'shufle_3x3'");
    snprintf(text, sizeof text, "%s  stages = ( { blocks = 1; channels = 8; chanels = 3; ops = [\"conv_3x3\"]; } ); };", head);
    expect_space_error(text, "bad.conf:3: supernet.stages[0].chanels");
    snprintf(text, sizeof text, "%s  stages = ( { blocks = 1; channels = \"8\"; ops = [\"conv_3x3\"]; } ); };", head);
    expect_space_error(text, "bad.conf:3: supernet.stages[0].channels");
    snprintf(text, sizeof text, "%s  stages = ( { blocks = 1; channels = 0; ops = [\"conv_3x3\"]; } ); };", head);
    expect_space_error(text, "supernet.stages[0].channels");
    snprintf(text, sizeof text, "%s  stages = ( { blocks = 1; channels = 8; stride = 3; ops = [\"conv_3x3\"]; } ); };", head);
    expect_space_error(text, "supernet.stages[0].stride");
    snprintf(text, sizeof text, "%s  stages = ( { blocks = 1; channels = 6; ops = [\"identity\"]; } ); };", head);
    expect_space_error(text, "identity needs equal input and output channels");
    snprintf(text, sizeof text, "%s  stages = ( { blocks = 1; channels = 3; stride = 2; ops = [\"shuffle_3x3\"]; } ); };", head);
    expect_space_error(text, "shuffle_3x3 needs even input and output channels");
    expect_space_error("supernet = { classes = 3; };", "input");
}

int main(void)
{
    parallel_init(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units_shuffle),
        cmocka_unit_test(test_units_residual),
        cmocka_unit_test(test_gradients_shuffle_reduced),
        cmocka_unit_test(test_gradients_mb),
        cmocka_unit_test(test_gradients_after_another_path),
        cmocka_unit_test(test_channel_fusion_gradients),
        cmocka_unit_test(test_mb_fusion_gradients),
        cmocka_unit_test(test_inactive_untouched),
        cmocka_unit_test(test_estimate_by_hand),
        cmocka_unit_test(test_eval_chunks),
        cmocka_unit_test(test_extract_shuffle),
        cmocka_unit_test(test_extract_mb_second_bn_set),
        cmocka_unit_test(test_space_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
