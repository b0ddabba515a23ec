/*
 * test_pool.c - global average, max and average pooling against PyTorch
 * fixtures and finite differences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "alloc.h"
#include "fixture.h"
#include "gradcheck.h"
#include "parallel.h"
#include "pool.h"

static void test_fixture_global_avgpool(void **state)
{
    (void)state;
    struct fixture *fx = fixture_load("global_avgpool");
    const int n = 2, c = 3, hw = 20;
    float *out = floats_alloc((size_t)n * c), *dinp = floats_alloc((size_t)n * c * hw);
    global_avgpool_forward(out, fixture_floats(fx, "inp", NULL), n, c, hw);
    assert_close(out, fixture_floats(fx, "out", NULL), (size_t)n * c, 1e-6, 1e-5, "out");
    global_avgpool_backward(dinp, fixture_floats(fx, "dout", NULL), n, c, hw);
    assert_close(dinp, fixture_floats(fx, "dinp", NULL), (size_t)n * c * hw, 1e-6, 1e-5, "dinp");
    floats_free(out);
    floats_free(dinp);
    fixture_free(fx);
}

/* Planes pooled several at a time give each plane the bits of its own
 * sum in pixel order (in double), whatever its place in a group: plane
 * counts around the group's size, and the 7 x 7 planes of the last stage. */
static void test_global_avgpool_plane_order(void **state)
{
    (void)state;
    const int hw = 49, counts[] = {1, 7, 8, 9, 17, 256 * 3 + 5};
    for (size_t t = 0; t < sizeof counts / sizeof *counts; t++) {
        const int planes = counts[t];
        float *inp = floats_alloc((size_t)planes * hw), *out = floats_alloc((size_t)planes);
        for (size_t i = 0; i < (size_t)planes * hw; i++)
            inp[i] = (float)((i * 2654435761u) % 1000003u) / 1000.0f - 500.0f;
        global_avgpool_forward(out, inp, 1, planes, hw);
        for (int p = 0; p < planes; p++) {
            double sum = 0.0;
            for (int i = 0; i < hw; i++)
                sum += (double)inp[(size_t)p * hw + i];
            float want = (float)(sum / hw);
            assert_memory_equal(&out[p], &want, sizeof want);
        }
        floats_free(inp);
        floats_free(out);
    }
}

static void check_window_fixture(const char *kind, const char *window, int is_max)
{
    char name[64];
    snprintf(name, sizeof name, "%s_%s", kind, window);
    struct fixture *fx = fixture_load(name);
    const int32_t *v = fixture_ints(fx, "shape", NULL);
    struct pool_shape s = {.n = 2, .c = 3, .h = 7, .w = 6, .k = v[0], .stride = v[1], .pad = v[2]};
    size_t nin = (size_t)s.n * s.c * s.h * s.w;
    size_t nout = (size_t)s.n * s.c * pool_out_h(&s) * pool_out_w(&s);
    const float *inp = fixture_floats(fx, "inp", NULL);
    float *out = floats_alloc(nout), *dinp = floats_alloc(nin);
    if (is_max) {
        maxpool_forward(out, inp, &s);
        maxpool_backward(dinp, fixture_floats(fx, "dout", NULL), inp, &s);
    } else {
        avgpool_forward(out, inp, &s);
        avgpool_backward(dinp, fixture_floats(fx, "dout", NULL), &s);
    }
    assert_close(out, fixture_floats(fx, "out", NULL), nout, 1e-6, 1e-5, name);
    assert_close(dinp, fixture_floats(fx, "dinp", NULL), nin, 1e-6, 1e-5, name);
    floats_free(out);
    floats_free(dinp);
    fixture_free(fx);
}

static void test_fixture_windows(void **state)
{
    (void)state;
    const char *windows[] = {"k3s2p1", "k2s2p0", "k3s1p1"};
    for (int i = 0; i < 3; i++) {
        check_window_fixture("maxpool", windows[i], 1);
        check_window_fixture("avgpool", windows[i], 0);
    }
}

enum pool_kind { POOL_GLOBAL, POOL_MAX, POOL_AVG };

struct pool_case {
    enum pool_kind kind;
    struct pool_shape s;
    float *inp, *out, *r;
};

static size_t pool_in(const struct pool_case *c) { return (size_t)c->s.n * c->s.c * c->s.h * c->s.w; }

static size_t pool_out(const struct pool_case *c)
{
    if (c->kind == POOL_GLOBAL)
        return (size_t)c->s.n * c->s.c;
    return (size_t)c->s.n * c->s.c * pool_out_h(&c->s) * pool_out_w(&c->s);
}

static double pool_loss(void *ctx)
{
    struct pool_case *c = ctx;
    if (c->kind == POOL_GLOBAL)
        global_avgpool_forward(c->out, c->inp, c->s.n, c->s.c, c->s.h * c->s.w);
    else if (c->kind == POOL_MAX)
        maxpool_forward(c->out, c->inp, &c->s);
    else
        avgpool_forward(c->out, c->inp, &c->s);
    return dot_loss(c->out, c->r, pool_out(c));
}

static void check_gradients(enum pool_kind kind, struct pool_shape s)
{
    struct pool_case c = {.kind = kind, .s = s};
    /* Distinct values (a shuffled ramp) so that no max-pool window has a tie
     * that a perturbation of 1e-2 could flip: neighbours differ by 0.03. */
    c.inp = random_floats(pool_in(&c), 61, 1.0f);
    for (size_t i = 0; i < pool_in(&c); i++)
        c.inp[i] = ((float)((i * 7919) % pool_in(&c)) - 0.5f * (float)pool_in(&c)) * 0.03f
                   + c.inp[i] * 0.001f;
    c.out = floats_alloc(pool_in(&c));
    c.r = random_floats(pool_in(&c), 62, 1.0f);
    float *dinp = floats_alloc(pool_in(&c));
    if (kind == POOL_GLOBAL)
        global_avgpool_backward(dinp, c.r, s.n, s.c, s.h * s.w);
    else if (kind == POOL_MAX)
        maxpool_backward(dinp, c.r, c.inp, &s);
    else
        avgpool_backward(dinp, c.r, &s);
    gradcheck(pool_loss, &c, c.inp, pool_in(&c), dinp, 1e-2, 1e-4, 1e-3, "dinp");
    floats_free(c.inp);
    floats_free(c.out);
    floats_free(c.r);
    floats_free(dinp);
}

static void test_gradients(void **state)
{
    (void)state;
    const struct pool_shape a = {.n = 2, .c = 3, .h = 7, .w = 6, .k = 3, .stride = 2, .pad = 1};
    const struct pool_shape b = {.n = 3, .c = 2, .h = 4, .w = 5, .k = 2, .stride = 1, .pad = 0};
    for (enum pool_kind kind = POOL_GLOBAL; kind <= POOL_AVG; kind++) {
        check_gradients(kind, a);
        check_gradients(kind, b);
    }
}

int main(void)
{
    parallel_init(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_global_avgpool),
        cmocka_unit_test(test_global_avgpool_plane_order),
        cmocka_unit_test(test_fixture_windows),
        cmocka_unit_test(test_gradients),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
