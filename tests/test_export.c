/*
 * test_export.c - exported subnets and the evaluation helpers: the space
 * written back as config text parses to the same space; an exported model
 * reloads to the same logits, bit for bit, and refuses damaged files; its
 * ONNX form passes onnx.checker and computes the same logits in OpenCV
 * (tests/onnx_check.py, when python3-onnx and python3-opencv are
 * installed); Kendall's tau; the latency table's file and predictions.
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
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "conf.h"
#include "fixture.h"
#include "latency_table.h"
#include "model.h"
#include "space.h"
#include "spaces.h"
#include "stats.h"
#include "supernet.h"

static struct supernet *build(const char *text, int bn_sets, struct space_def *def)
{
    config_t cfg;
    struct mtd_error err = {0};
    assert_int_equal(conf_read_string(&cfg, text, "test.conf", &err), MTD_OK);
    if (space_def_parse(config_lookup(&cfg, "supernet"), def, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    config_destroy(&cfg);
    struct supernet *net;
    assert_int_equal(supernet_create(&net, def, bn_sets, 42, &err), MTD_OK);
    return net;
}

/* Running statistics away from (0, 1), so that folding them matters. */
static void perturb_statistics(struct supernet *sn)
{
    float *b = supernet_buffers(sn);
    float *r = random_floats(supernet_buffers_size(sn), 5, 0.3f);
    for (size_t i = 0; i < supernet_buffers_size(sn); i++)
        b[i] += fabsf(r[i]);   /* means shift, variances grow */
    floats_free(r);
    float *w = supernet_weights(sn);
    float *q = random_floats(supernet_weights_size(sn), 6, 0.05f);
    for (size_t i = 0; i < supernet_weights_size(sn); i++)
        w[i] += q[i];          /* BN gamma and beta away from 1 and 0 */
    floats_free(q);
}

static char *temp_dir(void)
{
    char *dir = strdup("/tmp/mutatord-test-export-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

/* --- The space as text ------------------------------------------------------ */

static void roundtrip(const char *text)
{
    struct space_def def, back;
    struct supernet *sn = build(text, 1, &def);
    supernet_free(sn);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(space_def_write(&def, "", f), 0);
    fclose(f);
    config_t cfg;
    struct mtd_error err = {0};
    if (conf_read_string(&cfg, buf, "written.conf", &err) != MTD_OK ||
        space_def_parse(config_lookup(&cfg, "supernet"), &back, &err) != MTD_OK)
        fail_msg("%s\n%s", err.msg, buf);
    config_destroy(&cfg);
    /* Written again, the text is the same: nothing was lost or changed. */
    char *buf2 = NULL;
    size_t len2 = 0;
    f = open_memstream(&buf2, &len2);
    space_def_write(&back, "", f);
    fclose(f);
    assert_string_equal(buf, buf2);
    assert_int_equal(back.nblocks, def.nblocks);
    for (int b = 0; b < def.nblocks; b++) {
        assert_int_equal(back.blocks[b].cin, def.blocks[b].cin);
        assert_int_equal(back.blocks[b].h_out, def.blocks[b].h_out);
        assert_int_equal(back.blocks[b].nops, def.blocks[b].nops);
    }
    assert_true(back.bn_eps == def.bn_eps && back.bn_momentum == def.bn_momentum);
    free(buf);
    free(buf2);
}

static void test_space_roundtrip(void **state)
{
    (void)state;
    roundtrip(test_shuffle_space);
    roundtrip(test_mb_space);
}

/* --- Export and reload ------------------------------------------------------ */

/* Exports arch a of the space and checks the model against the supernet;
 * writes io.bin for the ONNX check. Returns the directory. */
static char *export_and_check(const char *text, const struct arch *a, int bn_sets)
{
    struct space_def def, xdef;
    struct supernet *sn = build(text, bn_sets, &def);
    perturb_statistics(sn);
    struct mtd_error err = {0};
    if (supernet_set_arch(sn, a, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    struct supernet *x;
    if (supernet_extract(sn, a, &xdef, &x, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    char *dir = temp_dir();
    struct data_config data = {.dir = "/nonexistent", .train_images = 10, .val_images = 5,
                               .calib_images = 5, .mean = 0.5f, .std = 0.25f};
    if (model_export(x, &data, 0x1234, NULL, dir, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    struct model m;
    if (model_load(&m, dir, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    assert_true(m.data.mean == 0.5f && m.data.std == 0.25f);

    const int n = 7;
    const size_t in_size = (size_t)n * def.in_c * def.in_h * def.in_w;
    const size_t out_size = (size_t)n * def.classes;
    float *inp = random_floats(in_size, 11, 1.0f);
    float *want = malloc(out_size * sizeof *want);
    assert_int_equal(supernet_reserve_eval(sn, n, &err), MTD_OK);
    assert_int_equal(supernet_reserve_eval(x, n, &err), MTD_OK);
    assert_int_equal(supernet_reserve_eval(m.sn, n, &err), MTD_OK);
    memcpy(want, supernet_forward(x, inp, n, FORWARD_EVAL), out_size * sizeof *want);
    /* The reloaded model is the extracted network, bit for bit. */
    assert_memory_equal(supernet_forward(m.sn, inp, n, FORWARD_EVAL), want,
                        out_size * sizeof *want);
    /* And computes what the subnet computes inside the supernet. */
    assert_close(supernet_forward(sn, inp, n, FORWARD_EVAL), want, out_size, 1e-5, 1e-5,
                 "supernet vs exported model");

    char path[512];
    snprintf(path, sizeof path, "%s/io.bin", dir);
    FILE *f = fopen(path, "wb");
    int32_t header[5] = {n, def.in_c, def.in_h, def.in_w, def.classes};
    assert_int_equal(fwrite(header, sizeof header, 1, f), 1);
    assert_int_equal(fwrite(inp, sizeof(float), in_size, f), in_size);
    assert_int_equal(fwrite(want, sizeof(float), out_size, f), out_size);
    fclose(f);
    model_free(&m);
    floats_free(inp);
    free(want);
    supernet_free(x);
    supernet_free(sn);
    return dir;
}

/* python3 tests/onnx_check.py logits DIR/model.onnx DIR/io.bin */
static void onnx_check(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/onnx_check.py logits %s/model.onnx %s/io.bin",
             TESTS_DIR, dir, dir);
    int rc = system(cmd);
    int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (code == 77 || code == 127) {
        print_message("ONNX check skipped: python3-onnx and python3-opencv are not installed\n");
        return;
    }
    assert_int_equal(code, 0);
}

static void default_arch(struct arch *a)
{
    memset(a, 0, sizeof *a);
    for (int u = 0; u < SUPERNET_MAX_UNITS; u++)
        a->width[u] = (struct unit_width){.ratio = 1.0, .divisor = 1};
}

static void test_export_shuffle_narrowed(void **state)
{
    (void)state;
    struct arch a;
    default_arch(&a);
    a.op[1] = 3;   /* xception, stride 2 */
    a.op[2] = 2;   /* 7x7 */
    a.op[3] = 1;   /* xception, widening */
    a.width[1] = (struct unit_width){.channels = 2};
    a.width[2] = (struct unit_width){.channels = 6};
    a.width[6] = (struct unit_width){.ratio = 0.75, .divisor = 4};
    char *dir = export_and_check(test_shuffle_space, &a, 1);
    onnx_check(dir);
    remove_tree(dir);
    free(dir);
}

static void test_export_mb_conv_identity(void **state)
{
    (void)state;
    struct arch a;
    default_arch(&a);
    a.op[1] = 2;   /* conv_3x3, stride 2 */
    a.op[2] = 1;   /* mb_k5_e4 with its residual */
    a.op[3] = 2;   /* identity */
    a.bn_set = 1;  /* the second switchable-BN set */
    char *dir = export_and_check(test_mb_space, &a, 2);
    onnx_check(dir);
    remove_tree(dir);
    free(dir);
}

static void expect_load_error(const char *dir, const char *needle)
{
    struct model m;
    struct mtd_error err = {0};
    assert_int_not_equal(model_load(&m, dir, &err), MTD_OK);
    model_free(&m);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("expected '%s' in: %s", needle, err.msg);
}

static void rewrite(const char *path, const char *from, const char *to)
{
    FILE *f = fopen(path, "rb");
    char buf[8192];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    char *at = strstr(buf, from);
    assert_non_null(at);
    f = fopen(path, "wb");
    fwrite(buf, 1, (size_t)(at - buf), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fclose(f);
}

static void truncate_to(const char *path, long size)
{
    assert_int_equal(truncate(path, size), 0);
}

static void test_damaged_models(void **state)
{
    (void)state;
    struct arch a;
    default_arch(&a);
    char *dir = export_and_check(test_mb_space, &a, 1);
    char conf[512], weights[512], saved[512], cmd[2048];
    snprintf(conf, sizeof conf, "%s/model.conf", dir);
    snprintf(weights, sizeof weights, "%s/weights.bin", dir);
    snprintf(saved, sizeof saved, "%s/weights.saved", dir);
    snprintf(cmd, sizeof cmd, "cp %s %s", weights, saved);
    assert_int_equal(system(cmd), 0);

    truncate_to(weights, 100);
    expect_load_error(dir, "weights.bin");
    snprintf(cmd, sizeof cmd, "cp %s %s", saved, weights);
    assert_int_equal(system(cmd), 0);

    /* A network that is not the weights' one. */
    rewrite(conf, "channels = 6;", "channels = 8;");
    expect_load_error(dir, "weights.bin");
    rewrite(conf, "channels = 8;", "channels = 6;");

    rewrite(conf, "format = 1;", "format = 2;");
    expect_load_error(dir, "model format 2; this version reads format 1");
    rewrite(conf, "format = 2;", "format = 1;");

    snprintf(cmd, sizeof cmd, "rm %s", weights);
    assert_int_equal(system(cmd), 0);
    expect_load_error(dir, "weights.bin");
    remove_tree(dir);
    free(dir);
}

/* --- Kendall's tau ---------------------------------------------------------- */

/* The median: the middle value, or the mean of the middle two. */
static void test_median(void **state)
{
    (void)state;
    double odd[] = {3.0, 1.0, 2.0}, even[] = {4.0, 1.0, 3.0, 2.0}, one[] = {5.0};
    assert_true(median(odd, 3) == 2.0);
    assert_true(median(even, 4) == 2.5);
    assert_true(median(one, 1) == 5.0);
    assert_true(even[0] == 1.0 && even[3] == 4.0);   /* sorted in place */
}

static void test_kendall_tau(void **state)
{
    (void)state;
    const double a[5] = {1, 2, 3, 4, 5}, same[5] = {10, 20, 30, 40, 50},
                 reversed[5] = {5, 4, 3, 2, 1}, one_swap[5] = {1, 2, 3, 5, 4};
    assert_true(fabs(kendall_tau(a, same, 5) - 1.0) < 1e-12);
    assert_true(fabs(kendall_tau(a, reversed, 5) + 1.0) < 1e-12);
    /* 10 pairs, 9 concordant, 1 discordant. */
    assert_true(fabs(kendall_tau(a, one_swap, 5) - 0.8) < 1e-12);
    /* tau-b with ties (scipy.stats.kendalltau([1,2,2,3],[1,3,2,4]) = 0.9128709). */
    const double t1[4] = {1, 2, 2, 3}, t2[4] = {1, 3, 2, 4};
    assert_true(fabs(kendall_tau(t1, t2, 4) - 0.91287092917527679) < 1e-9);
    const double flat[3] = {1, 1, 1};
    assert_true(kendall_tau(a, flat, 3) == 0.0);
}

/* --- The latency table ------------------------------------------------------ */

static void test_latency_table(void **state)
{
    (void)state;
    struct space_def def;
    struct supernet *sn = build(test_shuffle_space, 1, &def);
    struct unit_settings *settings = calloc((size_t)supernet_nunits(sn), sizeof *settings);
    /* Unit 2 (stage1's output, 8 channels) at two widths: two entries per
     * op of the cells it touches. */
    assert_string_equal(supernet_unit(sn, 2)->name, "stage1.block0");
    settings[2].n = 2;
    settings[2].w[0] = (struct unit_width){.ratio = 1.0, .divisor = 1};
    settings[2].w[1] = (struct unit_width){.channels = 6};
    struct latency_table *t, *back;
    struct mtd_error err = {0};
    if (latency_table_measure(sn, settings, 3, NULL, NULL, NULL, &t, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    /* stem 1, stage1 blocks 4 ops x 2 widths each, stage2 2 ops x 2 input
     * widths, last 1, head 1. */
    assert_int_equal(latency_table_entries(t), 1 + 8 + 8 + 4 + 1 + 1);
    char *dir = temp_dir(), path[512];
    snprintf(path, sizeof path, "%s/latency.csv", dir);
    assert_int_equal(latency_table_write(t, sn, path, &err), MTD_OK);
    if (latency_table_load(&back, sn, path, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    struct arch a;
    default_arch(&a);
    a.op[2] = 1;
    double p1 = latency_table_predict(t, sn, &a), p2 = latency_table_predict(back, sn, &a);
    assert_true(p1 > 0.0 && fabs(p1 - p2) < 1e-5 * p1 + 1e-6);
    /* A width no entry has: no prediction. */
    a.width[0] = (struct unit_width){.channels = 2};
    assert_true(isnan(latency_table_predict(back, sn, &a)));
    latency_table_free(back);
    /* Another space's table is refused. */
    struct space_def def2;
    struct supernet *other = build(test_mb_space, 1, &def2);
    assert_int_not_equal(latency_table_load(&back, other, path, &err), MTD_OK);
    assert_non_null(strstr(err.msg, "another search space"));
    /* A damaged line names the file and line. */
    FILE *f = fopen(path, "a");
    fputs("stem,conv,1,x\n", f);
    fclose(f);
    assert_int_not_equal(latency_table_load(&back, sn, path, &err), MTD_OK);
    assert_non_null(strstr(err.msg, "latency.csv:"));
    latency_table_free(t);
    supernet_free(other);
    supernet_free(sn);
    free(settings);
    remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_space_roundtrip),
        cmocka_unit_test(test_export_shuffle_narrowed),
        cmocka_unit_test(test_export_mb_conv_identity),
        cmocka_unit_test(test_damaged_models),
        cmocka_unit_test(test_median),
        cmocka_unit_test(test_kendall_tau),
        cmocka_unit_test(test_latency_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
