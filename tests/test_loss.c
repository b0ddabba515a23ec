/*
 * test_loss.c - cross-entropy with label smoothing and KL divergence to
 * soft targets against PyTorch fixtures and finite differences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "fixture.h"
#include "gradcheck.h"
#include "loss.h"
#include "parallel.h"

#define N 5
#define K 10

static void check_ce_fixture(const char *name)
{
    struct fixture *fx = fixture_load(name);
    float smoothing = fixture_floats(fx, "smoothing", NULL)[0];
    const float *logits = fixture_floats(fx, "logits", NULL);
    const int32_t *targets = fixture_ints(fx, "targets", NULL);
    float probs[N * K], dlogits[N * K] = {0};
    float loss = crossentropy_forward(probs, logits, targets, N, K, smoothing);
    assert_close(&loss, fixture_floats(fx, "loss", NULL), 1, 1e-6, 1e-5, "loss");
    assert_close(probs, fixture_floats(fx, "probs", NULL), N * K, 1e-7, 1e-5, "probs");
    crossentropy_backward(dlogits, probs, targets, N, K, smoothing, 1.0f);
    assert_close(dlogits, fixture_floats(fx, "dlogits", NULL), N * K, 1e-7, 1e-5, "dlogits");
    fixture_free(fx);
}

static void test_fixture_crossentropy(void **state)
{
    (void)state;
    check_ce_fixture("ce_plain");
    check_ce_fixture("ce_smooth");
}

static void check_kl_fixture(const char *name)
{
    struct fixture *fx = fixture_load(name);
    float tau = fixture_floats(fx, "tau", NULL)[0];
    float ps[N * K], pt[N * K], dstudent[N * K] = {0};
    float loss = kl_div_forward(ps, pt, fixture_floats(fx, "student", NULL),
                                fixture_floats(fx, "teacher", NULL), N, K, tau);
    assert_close(&loss, fixture_floats(fx, "loss", NULL), 1, 1e-6, 1e-5, "loss");
    kl_div_backward(dstudent, ps, pt, N, K, tau, 1.0f);
    assert_close(dstudent, fixture_floats(fx, "dstudent", NULL), N * K, 1e-7, 1e-5, "dstudent");
    fixture_free(fx);
}

static void test_fixture_kl(void **state)
{
    (void)state;
    check_kl_fixture("kl_tau1");
    check_kl_fixture("kl_tau4");
}

struct loss_case {
    int n, k;
    float smoothing, tau;
    int kl;
    float *logits, *teacher, *probs, *probs2;
    int *targets;
};

static double loss_value(void *ctx)
{
    struct loss_case *c = ctx;
    if (c->kl)
        return kl_div_forward(c->probs, c->probs2, c->logits, c->teacher, c->n, c->k, c->tau);
    return crossentropy_forward(c->probs, c->logits, c->targets, c->n, c->k, c->smoothing);
}

static void check_gradients(int n, int k, int kl, float smoothing, float tau)
{
    struct loss_case c = {.n = n, .k = k, .smoothing = smoothing, .tau = tau, .kl = kl};
    size_t count = (size_t)n * k;
    c.logits = random_floats(count, 81, 2.0f);
    c.teacher = random_floats(count, 82, 2.0f);
    c.probs = floats_alloc(count);
    c.probs2 = floats_alloc(count);
    int targets[64];
    for (int i = 0; i < n; i++)
        targets[i] = (i * 7 + 3) % k;
    c.targets = targets;
    float *dlogits = floats_alloc(count);
    const float dloss = 1.7f;
    loss_value(&c);
    if (kl)
        kl_div_backward(dlogits, c.probs, c.probs2, n, k, tau, dloss);
    else
        crossentropy_backward(dlogits, c.probs, targets, n, k, smoothing, dloss);
    for (size_t i = 0; i < count; i++)
        dlogits[i] /= dloss;  /* the checked loss is the plain mean */
    gradcheck(loss_value, &c, c.logits, count, dlogits, 1e-2, 1e-4, 2e-3, "dlogits");
    floats_free(c.logits); floats_free(c.teacher); floats_free(c.probs);
    floats_free(c.probs2); floats_free(dlogits);
}

static void test_gradients(void **state)
{
    (void)state;
    check_gradients(4, 10, 0, 0.0f, 1.0f);
    check_gradients(7, 3, 0, 0.2f, 1.0f);
    check_gradients(4, 10, 1, 0.0f, 1.0f);
    check_gradients(6, 5, 1, 0.0f, 3.0f);
}

int main(void)
{
    parallel_init(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_crossentropy),
        cmocka_unit_test(test_fixture_kl),
        cmocka_unit_test(test_gradients),
    };
    return cmocka_run_group_tests_name("loss", tests, NULL, NULL);
}
