/*
 * test_conv2d.c - conv2d against PyTorch fixtures, against central finite
 * differences (full and reduced width, dense, 1x1, grouped and depthwise),
 * and for determinism across runs at the same thread count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alloc.h"
#include "conv2d.h"
#include "fixture.h"
#include "gradcheck.h"
#include "parallel.h"

static size_t in_count(const struct conv2d_shape *s)
{
    return (size_t)s->n * s->cin * s->h * s->w;
}

static size_t out_count(const struct conv2d_shape *s)
{
    return (size_t)s->n * s->cout * conv2d_out_h(s) * conv2d_out_w(s);
}

static float *scratch_for(const struct conv2d_shape *s)
{
    float *scratch = floats_alloc(conv2d_scratch_floats(s, parallel_threads()));
    assert_non_null(scratch);
    return scratch;
}

/* --- PyTorch fixtures ------------------------------------------------------ */

static void check_fixture(const char *name)
{
    struct fixture *fx = fixture_load(name);
    const int32_t *v = fixture_ints(fx, "shape", NULL);
    struct conv2d_shape s = {.n = v[0], .cin = v[1], .cout = v[2], .wcin = v[3],
                             .h = v[4], .w = v[5], .k = v[6], .stride = v[7],
                             .pad = v[8], .groups = v[9]};
    size_t nweight;
    const float *weight = fixture_floats(fx, "weight", &nweight);
    const float *inp = fixture_floats(fx, "inp", NULL);
    float *scratch = scratch_for(&s);
    float *out = floats_alloc(out_count(&s));
    float *dinp = floats_alloc(in_count(&s));
    float *dweight = floats_alloc(nweight);

    conv2d_forward(out, inp, weight, &s, scratch);
    assert_close(out, fixture_floats(fx, "out", NULL), out_count(&s), 1e-5, 1e-4, name);

    conv2d_backward(dinp, dweight, fixture_floats(fx, "dout", NULL), inp, weight, &s, scratch);
    assert_close(dinp, fixture_floats(fx, "dinp", NULL), in_count(&s), 1e-5, 1e-4, "dinp");
    /* The whole stored weight: outside the active block PyTorch has zeros. */
    assert_close(dweight, fixture_floats(fx, "dweight", NULL), nweight, 1e-5, 1e-4, "dweight");

    floats_free(out);
    floats_free(dinp);
    floats_free(dweight);
    floats_free(scratch);
    fixture_free(fx);
}

static void test_fixture_dense_k3(void **state) { (void)state; check_fixture("conv_dense_k3"); }
static void test_fixture_reduced_k5s2(void **state) { (void)state; check_fixture("conv_reduced_k5s2"); }
static void test_fixture_1x1_reduced(void **state) { (void)state; check_fixture("conv_1x1_reduced"); }
static void test_fixture_1x1_s2(void **state) { (void)state; check_fixture("conv_1x1_s2"); }
static void test_fixture_grouped(void **state) { (void)state; check_fixture("conv_grouped"); }
static void test_fixture_dw_k3s2(void **state) { (void)state; check_fixture("conv_dw_k3s2"); }
static void test_fixture_dw_k7_reduced(void **state) { (void)state; check_fixture("conv_dw_k7_reduced"); }

/* --- Finite differences ---------------------------------------------------- */

struct conv_case {
    struct conv2d_shape s;
    int cout_max;
    float *inp, *weight, *r, *out, *scratch;
};

static double conv_loss(void *ctx)
{
    struct conv_case *c = ctx;
    conv2d_forward(c->out, c->inp, c->weight, &c->s, c->scratch);
    return dot_loss(c->out, c->r, out_count(&c->s));
}

static void check_gradients(struct conv2d_shape s, int cout_max)
{
    const size_t ldw = (size_t)s.wcin * s.k * s.k, nweight = (size_t)cout_max * ldw;
    struct conv_case c = {.s = s, .cout_max = cout_max};
    c.inp = random_floats(in_count(&s), 1, 1.0f);
    c.weight = random_floats(nweight, 2, 0.5f);
    c.r = random_floats(out_count(&s), 3, 1.0f);
    c.out = floats_alloc(out_count(&s));
    c.scratch = scratch_for(&s);
    float *dinp = floats_alloc(in_count(&s));
    float *dweight = floats_alloc(nweight);

    conv2d_backward(dinp, dweight, c.r, c.inp, c.weight, &s, c.scratch);
    gradcheck(conv_loss, &c, c.inp, in_count(&s), dinp, 1e-2, 1e-3, 1e-3, "dinp");
    gradcheck(conv_loss, &c, c.weight, nweight, dweight, 1e-2, 1e-3, 1e-3, "dweight");

    /* Storage outside the active block has no gradient at all. */
    const int kg = (s.cin / s.groups) * s.k * s.k;
    for (int o = 0; o < cout_max; o++) {
        const float *row = dweight + (size_t)o * ldw;
        if (o >= s.cout)
            assert_all_zero(row, ldw, "dweight beyond cout");
        else
            assert_all_zero(row + kg, ldw - (size_t)kg, "dweight beyond cin");
    }

    floats_free(c.inp);
    floats_free(c.weight);
    floats_free(c.r);
    floats_free(c.out);
    floats_free(c.scratch);
    floats_free(dinp);
    floats_free(dweight);
}

static void test_gradients_dense(void **state)
{
    (void)state;
    /* full width, 3x3, stride 1 */
    check_gradients((struct conv2d_shape){.n = 2, .cin = 3, .cout = 4, .wcin = 3, .h = 6,
                                          .w = 5, .k = 3, .stride = 1, .pad = 1, .groups = 1}, 4);
    /* reduced width (3 of 5 inputs, 4 of 7 outputs), 3x3, stride 2 */
    check_gradients((struct conv2d_shape){.n = 3, .cin = 3, .cout = 4, .wcin = 5, .h = 7,
                                          .w = 6, .k = 3, .stride = 2, .pad = 1, .groups = 1}, 7);
}

static void test_gradients_1x1(void **state)
{
    (void)state;
    check_gradients((struct conv2d_shape){.n = 2, .cin = 6, .cout = 5, .wcin = 6, .h = 4,
                                          .w = 3, .k = 1, .stride = 1, .pad = 0, .groups = 1}, 5);
    check_gradients((struct conv2d_shape){.n = 2, .cin = 4, .cout = 3, .wcin = 8, .h = 5,
                                          .w = 5, .k = 1, .stride = 1, .pad = 0, .groups = 1}, 6);
}

static void test_gradients_grouped(void **state)
{
    (void)state;
    check_gradients((struct conv2d_shape){.n = 2, .cin = 4, .cout = 6, .wcin = 2, .h = 5,
                                          .w = 4, .k = 3, .stride = 1, .pad = 1, .groups = 2}, 6);
    check_gradients((struct conv2d_shape){.n = 2, .cin = 6, .cout = 3, .wcin = 3, .h = 6,
                                          .w = 6, .k = 5, .stride = 2, .pad = 2, .groups = 3}, 5);
}

static void test_gradients_depthwise(void **state)
{
    (void)state;
    /* full width, 3x3 stride 1 */
    check_gradients((struct conv2d_shape){.n = 2, .cin = 4, .cout = 4, .wcin = 1, .h = 6,
                                          .w = 5, .k = 3, .stride = 1, .pad = 1, .groups = 4}, 4);
    /* 6 of 8 channels, 5x5 stride 2 */
    check_gradients((struct conv2d_shape){.n = 2, .cin = 6, .cout = 6, .wcin = 1, .h = 7,
                                          .w = 7, .k = 5, .stride = 2, .pad = 2, .groups = 6}, 8);
    /* 7x7 on a plane smaller than the kernel's reach */
    check_gradients((struct conv2d_shape){.n = 1, .cin = 3, .cout = 3, .wcin = 1, .h = 4,
                                          .w = 3, .k = 7, .stride = 1, .pad = 3, .groups = 3}, 3);
}

/* --- Determinism ------------------------------------------------------------ */

/* Forward and backward twice on the same inputs: the same bits, at a
 * thread count of at least two (the test environment asks for two). */
static void check_deterministic(struct conv2d_shape s)
{
    const size_t nweight = (size_t)s.cout * s.wcin * s.k * s.k;
    float *inp = random_floats(in_count(&s), 11, 1.0f);
    float *weight = random_floats(nweight, 12, 0.2f);
    float *dout = random_floats(out_count(&s), 13, 1.0f);
    float *scratch = scratch_for(&s);
    float *out[2], *dinp[2], *dweight[2];
    for (int run = 0; run < 2; run++) {
        out[run] = floats_alloc(out_count(&s));
        dinp[run] = floats_alloc(in_count(&s));
        dweight[run] = floats_alloc(nweight);
        conv2d_forward(out[run], inp, weight, &s, scratch);
        conv2d_backward(dinp[run], dweight[run], dout, inp, weight, &s, scratch);
    }
    assert_memory_equal(out[0], out[1], out_count(&s) * sizeof(float));
    assert_memory_equal(dinp[0], dinp[1], in_count(&s) * sizeof(float));
    assert_memory_equal(dweight[0], dweight[1], nweight * sizeof(float));
    for (int run = 0; run < 2; run++) {
        floats_free(out[run]);
        floats_free(dinp[run]);
        floats_free(dweight[run]);
    }
    floats_free(inp);
    floats_free(weight);
    floats_free(dout);
    floats_free(scratch);
}

static void test_deterministic(void **state)
{
    (void)state;
    assert_true(parallel_threads() >= 2);
    check_deterministic((struct conv2d_shape){.n = 9, .cin = 16, .cout = 24, .wcin = 16, .h = 14,
                                              .w = 14, .k = 3, .stride = 1, .pad = 1, .groups = 1});
    check_deterministic((struct conv2d_shape){.n = 9, .cin = 24, .cout = 24, .wcin = 1, .h = 14,
                                              .w = 14, .k = 5, .stride = 2, .pad = 2, .groups = 24});
}

int main(void)
{
    parallel_init(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_dense_k3),
        cmocka_unit_test(test_fixture_reduced_k5s2),
        cmocka_unit_test(test_fixture_1x1_reduced),
        cmocka_unit_test(test_fixture_1x1_s2),
        cmocka_unit_test(test_fixture_grouped),
        cmocka_unit_test(test_fixture_dw_k3s2),
        cmocka_unit_test(test_fixture_dw_k7_reduced),
        cmocka_unit_test(test_gradients_dense),
        cmocka_unit_test(test_gradients_1x1),
        cmocka_unit_test(test_gradients_grouped),
        cmocka_unit_test(test_gradients_depthwise),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests_name("conv2d", tests, NULL, NULL);
}
