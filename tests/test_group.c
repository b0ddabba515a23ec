/*
 * test_group.c - archs scored together (group.c): the cells they all begin
 * with run once, and every member still gets the BN statistics and logits
 * it gets alone, bit for bit, interleaved or NCHW, whatever the widths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "fixture.h"
#include "spaces.h"
#include "space.h"
#include "supernet.h"

enum { CALIB_N = 37, EVAL_N = 45 };   /* whole interleaved groups, and rest */

struct alone {
    float *logits;   /* EVAL_N rows, after its own calibration */
};

/* Calibration in two batches (the accumulators add up over batches):
 * FORWARD_CALIB of the current arch, or of the group's members. */
static void calibrate(struct supernet *sn, struct supernet_group *g, const float *calib,
                      size_t image)
{
    const int first = CALIB_N - 5;
    if (g == NULL) {
        struct mtd_error err = {0};
        assert_int_equal(supernet_calib_begin(sn, &err), MTD_OK);
        supernet_forward(sn, calib, first, FORWARD_CALIB);
        supernet_forward(sn, calib + (size_t)first * image, CALIB_N - first, FORWARD_CALIB);
        supernet_calib_finish(sn);
    } else {
        supernet_group_calib_begin(sn, g);
        supernet_group_calib(sn, g, calib, first);
        supernet_group_calib(sn, g, calib + (size_t)first * image, CALIB_N - first);
        supernet_group_calib_finish(sn, g);
    }
}

/* arch calibrated on `calib` alone, then evaluated on `inp`. */
static struct alone run_alone(struct supernet *sn, const struct space_def *def,
                              const struct arch *arch, const float *calib, const float *inp)
{
    struct mtd_error err = {0};
    if (supernet_set_arch(sn, arch, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    calibrate(sn, NULL, calib, (size_t)def->in_c * def->in_h * def->in_w);
    const size_t nlogits = (size_t)EVAL_N * def->classes;
    struct alone a = {malloc(nlogits * sizeof(float))};
    memcpy(a.logits, supernet_forward(sn, inp, EVAL_N, FORWARD_EVAL), nlogits * sizeof(float));
    return a;
}

/* The group of archs[0, k) sharing `shared` cells against each member
 * alone: its logits, and the supernet's arch and statistics after the
 * group's calibration (the last member's). Fusions on and off. */
static void check_group(const char *text, const struct arch *archs, int k, int shared)
{
    struct space_def def;
    struct supernet *sn = test_space_build(text, 1, &def);
    struct mtd_error err = {0};
    assert_int_equal(supernet_reserve_eval(sn, EVAL_N, &err), MTD_OK);
    const size_t image = (size_t)def.in_c * def.in_h * def.in_w;
    float *calib = random_floats((size_t)CALIB_N * image, 17, 2.0f);
    float *inp = random_floats((size_t)EVAL_N * image, 13, 1.0f);
    const size_t nbuf = supernet_buffers_size(sn), nlogits = (size_t)EVAL_N * def.classes;
    for (int on = 0; on < 2; on++) {
        supernet_set_fusion(sn, on);
        struct alone alone[SUPERNET_GROUP_MAX];
        for (int j = 0; j < k; j++)
            alone[j] = run_alone(sn, &def, &archs[j], calib, inp);
        /* Statistics the group must not read: every one it uses, it
         * calibrates (the shared cells' included, for every member). */
        memset(supernet_buffers(sn), 0xff, nbuf * sizeof(float));
        struct supernet_group *g;
        assert_int_equal(supernet_group_create(sn, archs, k, shared, EVAL_N, &g, &err), MTD_OK);
        assert_int_equal(supernet_group_shared(g), shared);
        calibrate(sn, g, calib, image);
        /* The supernet is left at the last member, its statistics those
         * it gets alone (the others' are still the poison). */
        assert_memory_equal(supernet_arch(sn)->op, archs[k - 1].op, sizeof archs[k - 1].op);
        assert_memory_equal(supernet_forward(sn, inp, EVAL_N, FORWARD_EVAL), alone[k - 1].logits,
                            nlogits * sizeof(float));
        const float *logits = supernet_group_forward(sn, g, inp, EVAL_N);
        for (int j = 0; j < k; j++) {
            assert_memory_equal(logits + (size_t)j * nlogits, alone[j].logits,
                                nlogits * sizeof(float));
            free(alone[j].logits);
        }
        supernet_group_free(g);
    }
    floats_free(calib);
    floats_free(inp);
    supernet_free(sn);
}

/* The archs of spos_small: cells 0 (stem), 1-6 (blocks), 7 (last), 8
 * (head); member j differs from the first from block `from` on. */
static void spos_archs(struct supernet *sn, struct arch *archs, int k, int from)
{
    for (int j = 0; j < k; j++) {
        supernet_arch_max(sn, &archs[j]);
        for (int b = 1; b <= 6; b++)
            archs[j].op[b] = b < from ? (b * 3) % 4 : (b + j) % 4;
    }
}

static void test_group_spos(void **state)
{
    (void)state;
    struct space_def def;
    struct supernet *sn = test_space_build(test_spos_small_space, 1, &def);
    struct arch archs[4];
    spos_archs(sn, archs, 4, 3);
    assert_int_equal(supernet_shared_cells(sn, &archs[0], &archs[1]), 3);
    /* Nine cells (stem, six blocks, last, head): all but the head. */
    assert_int_equal(supernet_shared_cells(sn, &archs[0], &archs[0]), 8);
    supernet_free(sn);
    check_group(test_spos_small_space, archs, 4, 3);   /* stem and two blocks */
    check_group(test_spos_small_space, archs, 4, 1);   /* the stem only */
    check_group(test_spos_small_space, archs, 4, 0);   /* nothing */
    check_group(test_spos_small_space, archs, 1, 3);   /* one member */
    sn = test_space_build(test_spos_small_space, 1, &def);
    spos_archs(sn, archs, 2, 7);   /* the same blocks: they differ in nothing */
    supernet_free(sn);
    check_group(test_spos_small_space, archs, 2, 7);
}

/* Widths: a unit slimmed in one member ends what the members share at the
 * first cell it changes. */
static void test_group_widths(void **state)
{
    (void)state;
    struct space_def def;
    struct supernet *sn = test_space_build(test_shuffle_space, 1, &def);
    struct arch archs[3];
    for (int j = 0; j < 3; j++) {
        supernet_arch_max(sn, &archs[j]);
        archs[j].op[3] = j % 2;
    }
    archs[2].width[2] = (struct unit_width){.channels = 6};
    const int shared = supernet_shared_cells(sn, &archs[0], &archs[2]);
    assert_int_equal(supernet_shared_cells(sn, &archs[0], &archs[1]), 3);
    assert_true(shared >= 1 && shared <= 3);
    /* Asking for more than they share is an error. */
    struct supernet_group *g;
    struct mtd_error err = {0};
    assert_int_equal(supernet_reserve_eval(sn, 8, &err), MTD_OK);
    assert_int_equal(supernet_group_create(sn, archs, 3, shared + 1, 8, &g, &err), MTD_ERR_DATA);
    assert_non_null(strstr(err.msg, "does not share"));
    assert_int_equal(supernet_group_create(sn, archs, SUPERNET_GROUP_MAX + 1, 0, 8, &g, &err),
                     MTD_ERR_DATA);
    /* Batches past the supernet's room. */
    assert_int_equal(supernet_group_create(sn, archs, 3, 0, 9, &g, &err), MTD_ERR_DATA);
    assert_non_null(strstr(err.msg, "exceed"));
    supernet_free(sn);
    check_group(test_shuffle_space, archs, 3, shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_spos),
        cmocka_unit_test(test_group_widths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
