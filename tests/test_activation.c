/*
 * test_activation.c - ReLU against PyTorch and finite differences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "activation.h"
#include "alloc.h"
#include "fixture.h"
#include "gradcheck.h"
#include "parallel.h"

static void test_fixture(void **state)
{
    (void)state;
    struct fixture *fx = fixture_load("relu");
    size_t n;
    const float *inp = fixture_floats(fx, "inp", &n);
    float *out = floats_alloc(n), *dinp = floats_alloc(n);
    relu_forward(out, inp, n);
    assert_close(out, fixture_floats(fx, "out", NULL), n, 0.0, 0.0, "out");
    relu_backward(dinp, fixture_floats(fx, "dout", NULL), out, n);
    assert_close(dinp, fixture_floats(fx, "dinp", NULL), n, 0.0, 0.0, "dinp");
    /* In place, as the supernet runs it. */
    float *x = fixture_copy(fx, "inp", 0);
    relu_forward(x, x, n);
    assert_memory_equal(x, out, n * sizeof(float));
    floats_free(x);
    floats_free(out);
    floats_free(dinp);
    fixture_free(fx);
}

struct relu_case {
    float *inp, *out, *r;
    size_t n;
};

static double relu_loss(void *ctx)
{
    struct relu_case *c = ctx;
    relu_forward(c->out, c->inp, c->n);
    return dot_loss(c->out, c->r, c->n);
}

static void check_gradients(size_t n)
{
    struct relu_case c = {.n = n};
    c.inp = random_floats(n, 41, 1.0f);
    /* Keep inputs away from the kink, where the derivative is undefined. */
    for (size_t i = 0; i < n; i++)
        c.inp[i] += c.inp[i] < 0 ? -0.05f : 0.05f;
    c.out = floats_alloc(n);
    c.r = random_floats(n, 42, 1.0f);
    float *dinp = floats_alloc(n);
    relu_loss(&c);
    relu_backward(dinp, c.r, c.out, n);
    gradcheck(relu_loss, &c, c.inp, n, dinp, 1e-2, 1e-4, 1e-3, "dinp");
    /* The in-place form gives the same bits as the accumulating one. */
    float *inplace = floats_alloc(n);
    memcpy(inplace, c.r, n * sizeof *inplace);
    relu_backward_inplace(inplace, c.out, n);
    assert_memory_equal(inplace, dinp, n * sizeof *inplace);
    floats_free(inplace);
    floats_free(c.inp);
    floats_free(c.out);
    floats_free(c.r);
    floats_free(dinp);
}

static void test_gradients(void **state)
{
    (void)state;
    check_gradients(37);
    check_gradients(70000); /* large enough for the parallel path */
}

int main(void)
{
    parallel_init(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_gradients),
    };
    return cmocka_run_group_tests_name("activation", tests, NULL, NULL);
}
