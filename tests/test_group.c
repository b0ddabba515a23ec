/*
 * test_group.c - archs scored together (group.c): a member starts from the
 * output of the cells it shares with the one before it, kept by an earlier
 * member, and every member still gets the BN statistics and logits it gets
 * alone, bit for bit, interleaved or NCHW, whatever the widths, when the
 * kept outputs run out too.
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
#include "simd.h"
#include "spaces.h"
#include "space.h"
#include "supernet.h"

enum { CALIB_N = 37, EVAL_N = 45 };   /* whole interleaved groups, and rest */

/* spos-fmnist's cells (stem, six blocks of every op in three stages, last,
 * head) at 16 x 16 and a few channels: cheap enough for valgrind. */
static const char *const spos_tiny_space =
    "supernet = { input = { channels = 1; height = 16; width = 16; }; classes = 10;\n"
    "  stem = { channels = 4; kernel = 3; stride = 1; };\n"
    "  stages = (\n"
    "    { blocks = 2; channels = 8; stride = 2;\n"
    "      ops = [\"shuffle_3x3\", \"shuffle_5x5\", \"shuffle_7x7\", \"shuffle_xception\"]; },\n"
    "    { blocks = 2; channels = 16; stride = 2;\n"
    "      ops = [\"shuffle_3x3\", \"shuffle_5x5\", \"shuffle_7x7\", \"shuffle_xception\"]; },\n"
    "    { blocks = 2; channels = 16; stride = 1;\n"
    "      ops = [\"shuffle_3x3\", \"shuffle_5x5\", \"shuffle_7x7\", \"shuffle_xception\"]; } );\n"
    "  last = { channels = 24; }; };\n";

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

/* The group of archs[0, k) against each member alone: its logits, and
 * the supernet's arch and statistics after the group's calibration (the
 * last member's); `from`, when not NULL, the cells each member should
 * leave to the ones before it. Fusions on and off. */
static void check_group(const char *text, const struct arch *archs, int k, const int *from)
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
        if (on && simd_avx512())   /* the layout of chunks of 16 images */
            assert_true(supernet_eval_interleaved(sn));
        /* Statistics the group must not read: every one it uses, it
         * calibrates (the shared cells' included, for every member). */
        memset(supernet_buffers(sn), 0xff, nbuf * sizeof(float));
        struct supernet_group *g;
        assert_int_equal(supernet_group_create(sn, archs, k, EVAL_N, &g, &err), MTD_OK);
        for (int j = 0; from != NULL && j < k; j++)
            assert_int_equal(supernet_group_from(g, j), from[j]);
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

/* An arch of spos_tiny (cells 0 stem, 1-6 blocks, 7 last, 8 head) from
 * its blocks' ops. */
static struct arch spos_arch(struct supernet *sn, const int ops[6])
{
    struct arch a;
    supernet_arch_max(sn, &a);
    for (int b = 1; b <= 6; b++)
        a.op[b] = ops[b - 1];
    return a;
}

static void test_group_spos(void **state)
{
    (void)state;
    struct space_def def;
    struct supernet *sn = test_space_build(spos_tiny_space, 1, &def);
    /* Sorted, as a search scores them: each shares 6, 3, 5, 2 and 1 cells
     * with the one before. The first keeps depths 1, 2 and 3 (three
     * levels: not 6), the second starts from 3 (recomputing what the
     * fourth level would have kept), the third finds no free level for
     * the fourth's 5, the last two start from what is left. */
    static const int ops[6][6] = {{0, 1, 2, 3, 0, 1}, {0, 1, 2, 3, 0, 2}, {0, 1, 3, 0, 0, 0},
                                  {0, 1, 3, 0, 1, 1}, {0, 2, 0, 0, 0, 0}, {1, 0, 0, 0, 0, 0}};
    static const int from[6] = {0, 3, 3, 3, 2, 1};
    struct arch archs[6];
    for (int j = 0; j < 6; j++)
        archs[j] = spos_arch(sn, ops[j]);
    assert_int_equal(supernet_shared_cells(sn, &archs[0], &archs[1]), 6);
    assert_int_equal(supernet_shared_cells(sn, &archs[2], &archs[3]), 5);
    /* Nine cells: all but the head. */
    assert_int_equal(supernet_shared_cells(sn, &archs[0], &archs[0]), 8);
    supernet_free(sn);
    check_group(spos_tiny_space, archs, 6, from);
    check_group(spos_tiny_space, archs + 2, 2, (const int[]){0, 5});
    check_group(spos_tiny_space, archs, 1, (const int[]){0});
    /* The same arch twice: the second runs only the head. */
    archs[1] = archs[0];
    check_group(spos_tiny_space, archs, 2, (const int[]){0, 8});
    /* Nothing shared but the stem. */
    check_group(spos_tiny_space, archs + 4, 2, (const int[]){0, 1});
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
    const int shared = supernet_shared_cells(sn, &archs[1], &archs[2]);
    assert_int_equal(supernet_shared_cells(sn, &archs[0], &archs[1]), 3);
    assert_true(shared >= 1 && shared <= 3);
    struct supernet_group *g;
    struct mtd_error err = {0};
    assert_int_equal(supernet_reserve_eval(sn, 8, &err), MTD_OK);
    assert_int_equal(supernet_group_create(sn, archs, SUPERNET_GROUP_MAX + 1, 8, &g, &err),
                     MTD_ERR_DATA);
    /* Batches past the supernet's room. */
    assert_int_equal(supernet_group_create(sn, archs, 3, 9, &g, &err), MTD_ERR_DATA);
    assert_non_null(strstr(err.msg, "exceed"));
    supernet_free(sn);
    check_group(test_shuffle_space, archs, 3, (const int[]){0, 3, shared});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_spos),
        cmocka_unit_test(test_group_widths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
