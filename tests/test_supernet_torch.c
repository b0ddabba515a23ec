/*
 * test_supernet_torch.c - the whole supernet against PyTorch: for the two
 * small spaces of test_supernet.c and one reduced-width arch each, the
 * training forward's logits, the gradient of every parameter (over its
 * full maximum-shape matrix: zero outside the active block and for every
 * inactive op) and the BN running statistics after that forward, all as
 * tests/fixtures/make_supernet_fixtures.py computed them from functional
 * PyTorch ops following REFERENCE.md.
 *
 * Every parameter of the supernet is loaded from the fixture, and every
 * parameter and buffer of the fixture must exist in the supernet with the
 * same shape: the two sides agree on names and maximum shapes too.
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

#include "conf.h"
#include "fixture.h"
#include "parallel.h"
#include "space.h"
#include "spaces.h"
#include "supernet.h"

#define BATCH 3

/* Array `key` of exactly `count` values (any count when 0). */
static const float *floats_of(const struct fixture *fx, const char *key, size_t count)
{
    size_t n;
    const float *v = fixture_floats(fx, key, &n);
    if (count && n != count)
        fail_msg("%s has %zu values, the supernet %zu", key, n, count);
    return v;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* --- The comparison ---------------------------------------------------- */

static struct supernet *build(const char *text, struct space_def *def)
{
    return test_space_build(text, 1, def);
}

/* Gradients pass through BN layers of 27 to 192 values a channel and the
 * ReLUs between them; the reference is exact (float64), the C side float32.
 * The tolerance scales with the tensor's largest gradient, so that small
 * entries of a large gradient are judged against their tensor's rounding. */
static void compare_scaled(const float *got, const float *want, size_t count,
                           double atol, double rtol, const char *what)
{
    double largest = 0.0;
    for (size_t i = 0; i < count; i++)
        largest = fmax(largest, fabs((double)want[i]));
    assert_close(got, want, count, atol * fmax(1.0, largest), rtol, what);
}

static void check_against_torch(const char *text, const char *fixture, const struct arch *a)
{
    struct space_def def;
    struct supernet *sn = build(text, &def);
    struct mtd_error err = {0};
    if (supernet_set_arch(sn, a, &err) != MTD_OK)
        fail_msg("%s", err.msg);
    struct fixture *fx = fixture_load(fixture);

    /* Every fixture array is an input, a logit, a gradient or a name of
     * the supernet's tables. */
    for (int i = 0; i < fixture_count(fx); i++) {
        const char *key = fixture_name(fx, i);
        if (!strcmp(key, "inp") || !strcmp(key, "dlogits") || !strcmp(key, "logits"))
            continue;
        if (!strncmp(key, "grad:", 5))
            key += 5;
        if (supernet_param_find(sn, key) < 0 && supernet_buffer_find(sn, key) < 0)
            fail_msg("%s: %s is not a parameter of the supernet", fixture, key);
    }

    /* Every parameter of the supernet from the fixture, at its full shape;
     * running statistics at their initial values. */
    float *w = supernet_weights(sn);
    for (int p = 0; p < supernet_nparams(sn); p++) {
        const struct param_info *info = supernet_param(sn, p);
        size_t count = (size_t)info->rows * (size_t)info->cols;
        memcpy(w + info->offset, floats_of(fx, info->name, count), count * sizeof(float));
    }
    float *buf = supernet_buffers(sn);
    for (int b = 0; b < supernet_nbuffers(sn); b++) {
        const struct param_info *info = supernet_buffer(sn, b);
        size_t count = (size_t)info->rows * (size_t)info->cols;
        float init = has_suffix(info->name, ".running_var") ? 1.0f : 0.0f;
        assert_true(has_suffix(info->name, ".running_var") || has_suffix(info->name, ".running_mean"));
        for (size_t i = 0; i < count; i++)
            buf[info->offset + i] = init;
    }

    size_t in_size = (size_t)BATCH * def.in_c * def.in_h * def.in_w;
    size_t out_size = (size_t)BATCH * def.classes;
    const float *inp = floats_of(fx, "inp", in_size);
    const float *dlogits = floats_of(fx, "dlogits", out_size);
    assert_int_equal(supernet_reserve(sn, BATCH, &err), MTD_OK);

    const float *logits = supernet_forward(sn, inp, BATCH, FORWARD_TRAIN);
    assert_close(logits, floats_of(fx, "logits", out_size), out_size, 1e-5, 1e-4, "logits");

    memset(supernet_grads(sn), 0, supernet_weights_size(sn) * sizeof(float));
    supernet_backward(sn, dlogits);
    const float *g = supernet_grads(sn);
    char key[160];
    for (int p = 0; p < supernet_nparams(sn); p++) {
        const struct param_info *info = supernet_param(sn, p);
        size_t count = (size_t)info->rows * (size_t)info->cols;
        snprintf(key, sizeof key, "grad:%s", info->name);
        compare_scaled(g + info->offset, floats_of(fx, key, count), count, 1e-5, 1e-4, key);
    }

    for (int b = 0; b < supernet_nbuffers(sn); b++) {
        const struct param_info *info = supernet_buffer(sn, b);
        size_t count = (size_t)info->rows * (size_t)info->cols;
        assert_close(buf + info->offset, floats_of(fx, info->name, count), count, 1e-5, 1e-4,
                     info->name);
    }
    fixture_free(fx);
    supernet_free(sn);
}

static struct arch full_arch(void)
{
    struct arch a;
    memset(&a, 0, sizeof a);
    for (int u = 0; u < SUPERNET_MAX_UNITS; u++)
        a.width[u] = (struct unit_width){.ratio = 1.0, .divisor = 1};
    return a;
}

static void test_shuffle_vs_torch(void **state)
{
    (void)state;
    struct arch a = full_arch();
    a.op[1] = 3;                                          /* xception, stride 2 */
    a.op[2] = 2;                                          /* shuffle_7x7, stride 1 */
    a.op[3] = 1;                                          /* xception, widening */
    a.width[1] = (struct unit_width){.channels = 2};      /* stage1.block0.mid */
    a.width[2] = (struct unit_width){.channels = 6};      /* stage1.block0 */
    a.width[6] = (struct unit_width){.ratio = 0.75, .divisor = 4};   /* last: 12 */
    check_against_torch(test_shuffle_space, "supernet_shuffle", &a);
}

static void test_mb_vs_torch(void **state)
{
    (void)state;
    struct arch a = full_arch();
    a.op[1] = 1;                                          /* mb_k5_e4, stride 2 */
    a.op[2] = 0;                                          /* mb_k3_e3, residual */
    a.op[3] = 2;                                          /* identity */
    a.width[1] = (struct unit_width){.ratio = 0.5, .divisor = 2};    /* 16 -> 8 */
    a.width[2] = (struct unit_width){.channels = 4};
    check_against_torch(test_mb_space, "supernet_mb", &a);
}

int main(void)
{
    parallel_init(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shuffle_vs_torch),
        cmocka_unit_test(test_mb_vs_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
