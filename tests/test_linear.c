/*
 * test_linear.c - the fully connected layer against PyTorch (at reduced
 * width) and finite differences (full and reduced width).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "fixture.h"
#include "gradcheck.h"
#include "linear.h"
#include "parallel.h"

static void test_fixture(void **state)
{
    (void)state;
    struct fixture *fx = fixture_load("linear");
    const int32_t *v = fixture_ints(fx, "shape", NULL);
    struct linear_shape s = {.n = v[0], .in = v[1], .out = v[2], .in_max = v[3]};
    size_t nweight, nbias;
    const float *weight = fixture_floats(fx, "weight", &nweight);
    const float *bias = fixture_floats(fx, "bias", &nbias);
    const float *inp = fixture_floats(fx, "inp", NULL);
    float *out = floats_alloc((size_t)s.n * s.out), *dinp = floats_alloc((size_t)s.n * s.in);
    float *dweight = floats_alloc(nweight), *dbias = floats_alloc(nbias);
    linear_forward(out, inp, weight, bias, &s);
    assert_close(out, fixture_floats(fx, "out", NULL), (size_t)s.n * s.out, 1e-5, 1e-4, "out");
    linear_backward(dinp, dweight, dbias, fixture_floats(fx, "dout", NULL), inp, weight, &s);
    assert_close(dinp, fixture_floats(fx, "dinp", NULL), (size_t)s.n * s.in, 1e-5, 1e-4, "dinp");
    assert_close(dweight, fixture_floats(fx, "dweight", NULL), nweight, 1e-5, 1e-4, "dweight");
    assert_close(dbias, fixture_floats(fx, "dbias", NULL), nbias, 1e-5, 1e-4, "dbias");
    floats_free(out); floats_free(dinp); floats_free(dweight); floats_free(dbias);
    fixture_free(fx);
}

struct linear_case {
    struct linear_shape s;
    float *inp, *weight, *bias, *out, *r;
};

static double linear_loss(void *ctx)
{
    struct linear_case *c = ctx;
    linear_forward(c->out, c->inp, c->weight, c->bias, &c->s);
    return dot_loss(c->out, c->r, (size_t)c->s.n * c->s.out);
}

static void check_gradients(struct linear_shape s, int out_max)
{
    const size_t nin = (size_t)s.n * s.in, nout = (size_t)s.n * s.out;
    const size_t nweight = (size_t)out_max * s.in_max;
    struct linear_case c = {.s = s};
    c.inp = random_floats(nin, 71, 1.0f);
    c.weight = random_floats(nweight, 72, 0.5f);
    c.bias = random_floats(out_max, 73, 0.5f);
    c.out = floats_alloc(nout);
    c.r = random_floats(nout, 74, 1.0f);
    float *dinp = floats_alloc(nin), *dweight = floats_alloc(nweight), *dbias = floats_alloc(out_max);
    linear_backward(dinp, dweight, dbias, c.r, c.inp, c.weight, &s);
    gradcheck(linear_loss, &c, c.inp, nin, dinp, 1e-2, 1e-3, 1e-3, "dinp");
    gradcheck(linear_loss, &c, c.weight, nweight, dweight, 1e-2, 1e-3, 1e-3, "dweight");
    gradcheck(linear_loss, &c, c.bias, out_max, dbias, 1e-2, 1e-3, 1e-3, "dbias");
    for (int o = 0; o < out_max; o++) {
        const float *row = dweight + (size_t)o * s.in_max;
        if (o >= s.out)
            assert_all_zero(row, (size_t)s.in_max, "dweight beyond out");
        else
            assert_all_zero(row + s.in, (size_t)(s.in_max - s.in), "dweight beyond in");
    }
    floats_free(c.inp); floats_free(c.weight); floats_free(c.bias); floats_free(c.out);
    floats_free(c.r); floats_free(dinp); floats_free(dweight); floats_free(dbias);
}

static void test_gradients(void **state)
{
    (void)state;
    check_gradients((struct linear_shape){.n = 4, .in = 8, .out = 5, .in_max = 8}, 5);
    check_gradients((struct linear_shape){.n = 3, .in = 6, .out = 4, .in_max = 11}, 7);
}

int main(void)
{
    parallel_init(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_gradients),
    };
    return cmocka_run_group_tests_name("linear", tests, NULL, NULL);
}
