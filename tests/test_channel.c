/*
 * test_channel.c - concatenation, split, channel shuffle and add against
 * PyTorch fixtures and finite differences at two shapes each; the fused
 * concat-and-shuffle against the two ops it replaces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "channel.h"
#include "fixture.h"
#include "gradcheck.h"
#include "parallel.h"

/* Exact ops: copies and one addition per value. */
#define EXACT 0.0, 0.0

static void test_fixture_concat(void **state)
{
    (void)state;
    struct fixture *fx = fixture_load("concat");
    const int n = 2, ca = 3, cb = 5, hw = 6;
    size_t na = (size_t)n * ca * hw, nb = (size_t)n * cb * hw;
    float *out = floats_alloc(na + nb), *da = floats_alloc(na), *db = floats_alloc(nb);
    concat_forward(out, fixture_floats(fx, "a", NULL), ca, fixture_floats(fx, "b", NULL), cb, n, hw);
    assert_close(out, fixture_floats(fx, "out", NULL), na + nb, EXACT, "out");
    concat_backward(da, db, fixture_floats(fx, "dout", NULL), ca, cb, n, hw, 1, 1);
    assert_close(da, fixture_floats(fx, "da", NULL), na, EXACT, "da");
    assert_close(db, fixture_floats(fx, "db", NULL), nb, EXACT, "db");
    floats_free(out); floats_free(da); floats_free(db);
    fixture_free(fx);
}

static void test_fixture_split(void **state)
{
    (void)state;
    struct fixture *fx = fixture_load("split");
    const int n = 2, ca = 3, cb = 5, hw = 6;
    size_t na = (size_t)n * ca * hw, nb = (size_t)n * cb * hw;
    float *a = floats_alloc(na), *b = floats_alloc(nb), *dinp = floats_alloc(na + nb);
    split_forward(a, b, fixture_floats(fx, "inp", NULL), ca, cb, n, hw);
    assert_close(a, fixture_floats(fx, "a", NULL), na, EXACT, "a");
    assert_close(b, fixture_floats(fx, "b", NULL), nb, EXACT, "b");
    split_backward(dinp, fixture_floats(fx, "da", NULL), fixture_floats(fx, "db", NULL), ca, cb, n, hw, 1);
    assert_close(dinp, fixture_floats(fx, "dinp", NULL), na + nb, EXACT, "dinp");
    floats_free(a); floats_free(b); floats_free(dinp);
    fixture_free(fx);
}

static void check_shuffle_fixture(const char *name)
{
    struct fixture *fx = fixture_load(name);
    const int n = 2, c = 12, hw = 6, groups = fixture_ints(fx, "groups", NULL)[0];
    size_t count = (size_t)n * c * hw;
    float *out = floats_alloc(count), *dinp = floats_alloc(count);
    shuffle_forward(out, fixture_floats(fx, "inp", NULL), n, c, hw, groups);
    assert_close(out, fixture_floats(fx, "out", NULL), count, EXACT, "out");
    shuffle_backward(dinp, fixture_floats(fx, "dout", NULL), n, c, hw, groups, 1);
    assert_close(dinp, fixture_floats(fx, "dinp", NULL), count, EXACT, "dinp");
    floats_free(out); floats_free(dinp);
    fixture_free(fx);
}

static void test_fixture_shuffle(void **state)
{
    (void)state;
    check_shuffle_fixture("shuffle_g2");
    check_shuffle_fixture("shuffle_g3");
}

static void test_fixture_add(void **state)
{
    (void)state;
    struct fixture *fx = fixture_load("add");
    size_t count;
    const float *a = fixture_floats(fx, "a", &count);
    float *out = floats_alloc(count), *da = floats_alloc(count), *db = floats_alloc(count);
    add_forward(out, a, fixture_floats(fx, "b", NULL), count);
    assert_close(out, fixture_floats(fx, "out", NULL), count, EXACT, "out");
    add_backward(da, db, fixture_floats(fx, "dout", NULL), count);
    assert_close(da, fixture_floats(fx, "da", NULL), count, EXACT, "da");
    assert_close(db, fixture_floats(fx, "db", NULL), count, EXACT, "db");
    floats_free(out); floats_free(da); floats_free(db);
    fixture_free(fx);
}

/* One case for every channel op: two inputs a (N, ca, HW) and b (N, cb, HW)
 * (b unused by shuffle and split), a loss r over the output. */
enum channel_op { OP_CONCAT, OP_SPLIT, OP_SHUFFLE, OP_ADD };

struct channel_case {
    enum channel_op op;
    int n, ca, cb, hw, groups;
    float *a, *b, *out, *out2, *r;
};

static size_t count_a(const struct channel_case *c) { return (size_t)c->n * c->ca * c->hw; }
static size_t count_b(const struct channel_case *c) { return (size_t)c->n * c->cb * c->hw; }

static double channel_loss(void *ctx)
{
    struct channel_case *c = ctx;
    switch (c->op) {
    case OP_CONCAT:
        concat_forward(c->out, c->a, c->ca, c->b, c->cb, c->n, c->hw);
        return dot_loss(c->out, c->r, count_a(c) + count_b(c));
    case OP_SPLIT: /* a holds ca+cb channels here */
        split_forward(c->out, c->out2, c->a, c->ca, c->cb, c->n, c->hw);
        return dot_loss(c->out, c->r, count_a(c))
               + dot_loss(c->out2, c->r + count_a(c), count_b(c));
    case OP_SHUFFLE:
        shuffle_forward(c->out, c->a, c->n, c->ca, c->hw, c->groups);
        return dot_loss(c->out, c->r, count_a(c));
    case OP_ADD:
        add_forward(c->out, c->a, c->b, count_a(c));
        return dot_loss(c->out, c->r, count_a(c));
    }
    return 0.0;
}

static void check_gradients(enum channel_op op, int n, int ca, int cb, int hw, int groups)
{
    struct channel_case c = {.op = op, .n = n, .ca = ca, .cb = cb, .hw = hw, .groups = groups};
    size_t total = count_a(&c) + count_b(&c);
    c.a = random_floats(total, 51, 1.0f);
    c.b = random_floats(count_b(&c), 52, 1.0f);
    c.out = floats_alloc(total);
    c.out2 = floats_alloc(count_b(&c));
    c.r = random_floats(total, 53, 1.0f);
    float *da = floats_alloc(total), *db = floats_alloc(count_b(&c));
    size_t na = count_a(&c);
    switch (op) {
    case OP_CONCAT:
        concat_backward(da, db, c.r, ca, cb, n, hw, 1, 1);
        gradcheck(channel_loss, &c, c.b, count_b(&c), db, 1e-2, 1e-4, 1e-4, "db");
        break;
    case OP_SPLIT:
        split_backward(da, c.r, c.r + na, ca, cb, n, hw, 1);
        na = total;
        break;
    case OP_SHUFFLE:
        shuffle_backward(da, c.r, n, ca, hw, groups, 1);
        break;
    case OP_ADD:
        add_backward(da, db, c.r, na);
        gradcheck(channel_loss, &c, c.b, na, db, 1e-2, 1e-4, 1e-4, "db");
        break;
    }
    gradcheck(channel_loss, &c, c.a, na, da, 1e-2, 1e-4, 1e-4, "da");
    floats_free(c.a); floats_free(c.b); floats_free(c.out); floats_free(c.out2);
    floats_free(c.r); floats_free(da); floats_free(db);
}

static void test_gradients(void **state)
{
    (void)state;
    check_gradients(OP_CONCAT, 2, 3, 5, 6, 0);
    check_gradients(OP_CONCAT, 3, 8, 2, 4, 0);
    check_gradients(OP_SPLIT, 2, 4, 4, 5, 0);
    check_gradients(OP_SPLIT, 2, 2, 6, 3, 0);
    check_gradients(OP_SHUFFLE, 2, 8, 0, 5, 2);
    check_gradients(OP_SHUFFLE, 3, 12, 0, 4, 4);
    check_gradients(OP_ADD, 2, 3, 3, 7, 0);
    check_gradients(OP_ADD, 4, 5, 5, 9, 0);
}

static void fill(float *x, size_t count, float base)
{
    for (size_t i = 0; i < count; i++)
        x[i] = base + 0.25f * (float)i;
}

/* concat_shuffle_* against concat then shuffle, forward and backward,
 * with a read in a wider tensor (a split's input), unequal halves and both
 * accumulation modes: the same values, bit for bit. */
static void test_concat_shuffle(void **state)
{
    (void)state;
    const int n = 3, hw = 5, shapes[3][3] = {{4, 4, 4}, {4, 4, 8}, {2, 6, 2}};  /* ca, cb, a_c */
    for (int k = 0; k < 3; k++) {
        const int ca = shapes[k][0], cb = shapes[k][1], a_c = shapes[k][2], c = ca + cb;
        const size_t nw = (size_t)n * a_c * hw, nb = (size_t)n * cb * hw, nc = (size_t)n * c * hw;
        float *wide = floats_alloc(nw), *a = floats_alloc((size_t)n * ca * hw);
        float *b = floats_alloc(nb), *cat = floats_alloc(nc), *want = floats_alloc(nc);
        float *got = floats_alloc(nc);
        fill(wide, nw, 1.0f);
        fill(b, nb, -7.0f);
        split_forward(a, NULL, wide, ca, a_c - ca, n, hw);
        concat_forward(cat, a, ca, b, cb, n, hw);
        shuffle_forward(want, cat, n, c, hw, 2);
        concat_shuffle_forward(got, wide, a_c, ca, b, cb, n, hw, 2);
        assert_memory_equal(got, want, nc * sizeof(float));
        for (int acc = 0; acc < 2; acc++) {
            /* dout = want; gradients start from wide and b's values. */
            float *dwide = floats_alloc(nw), *dwide_ref = floats_alloc(nw);
            float *db = floats_alloc(nb), *db_ref = floats_alloc(nb), *da = floats_alloc(nw);
            fill(dwide, nw, 3.0f);
            fill(dwide_ref, nw, 3.0f);
            fill(db, nb, 5.0f);
            fill(db_ref, nb, 5.0f);
            concat_shuffle_backward(dwide, a_c, db, want, ca, cb, n, hw, 2, acc, !acc);
            shuffle_backward(cat, want, n, c, hw, 2, 0);
            fill(da, (size_t)n * ca * hw, 0.0f);
            concat_backward(da, db_ref, cat, ca, cb, n, hw, 0, !acc);
            /* da lands in the first ca channels of each image of dwide */
            split_backward(dwide_ref, da, NULL, ca, a_c - ca, n, hw, acc);
            assert_memory_equal(dwide, dwide_ref, nw * sizeof(float));
            assert_memory_equal(db, db_ref, nb * sizeof(float));
            floats_free(dwide); floats_free(dwide_ref); floats_free(db); floats_free(db_ref);
            floats_free(da);
        }
        floats_free(wide); floats_free(a); floats_free(b); floats_free(cat); floats_free(want);
        floats_free(got);
    }
}

int main(void)
{
    parallel_init(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_concat),
        cmocka_unit_test(test_fixture_split),
        cmocka_unit_test(test_fixture_shuffle),
        cmocka_unit_test(test_fixture_add),
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_concat_shuffle),
    };
    return cmocka_run_group_tests_name("channel", tests, NULL, NULL);
}
