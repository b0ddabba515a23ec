/*
 * test_sgd.c - SGD steps against torch.optim.SGD on a block of a larger
 * parameter: the block follows PyTorch, the rest does not move at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "fixture.h"
#include "parallel.h"
#include "sgd.h"

static void check_fixture(const char *name)
{
    struct fixture *fx = fixture_load(name);
    const float *c = fixture_floats(fx, "config", NULL);
    const int32_t *b = fixture_ints(fx, "block", NULL);
    struct sgd_config cfg = {.lr = c[0], .momentum = c[1], .weight_decay = c[2],
                             .nesterov = c[3] != 0.0f};
    const int rows = b[0], cols = b[1], ld = b[2];
    size_t nparam, ngrads;
    fixture_floats(fx, "param", &nparam);
    const float *grads = fixture_floats(fx, "grads", &ngrads);
    float *param = fixture_copy(fx, "param", 0);
    float *velocity = floats_alloc(nparam);
    for (size_t step = 0; step < ngrads / nparam; step++)
        sgd_step(param, grads + step * nparam, velocity, rows, cols, ld, &cfg, cfg.weight_decay > 0.0f);
    const float *want = fixture_floats(fx, "param_after", NULL);
    assert_close(param, want, nparam, 1e-6, 1e-5, name);
    /* Outside the block: bit for bit the original, and no velocity. */
    const float *before = fixture_floats(fx, "param", NULL);
    for (size_t i = 0; i < nparam; i++) {
        if ((int)(i / ld) < rows && (int)(i % ld) < cols)
            continue;
        assert_true(param[i] == before[i]);
        assert_true(velocity[i] == 0.0f);
    }
    floats_free(param);
    floats_free(velocity);
    fixture_free(fx);
}

static void test_nesterov_weight_decay(void **state) { (void)state; check_fixture("sgd_nesterov_wd"); }
static void test_momentum(void **state) { (void)state; check_fixture("sgd_momentum"); }
static void test_plain_weight_decay(void **state) { (void)state; check_fixture("sgd_plain_wd"); }

/* Weight decay switched off for a tensor: the step is the gradient's alone. */
static void test_decay_off(void **state)
{
    (void)state;
    struct sgd_config cfg = {.lr = 0.5f, .momentum = 0.0f, .weight_decay = 0.1f, .nesterov = 0};
    float w[2] = {2.0f, -4.0f}, g[2] = {1.0f, 1.0f}, v[2] = {0};
    sgd_step(w, g, v, 1, 2, 2, &cfg, 0);
    assert_true(w[0] == 1.5f && w[1] == -4.5f);
    sgd_step(w, g, v, 1, 2, 2, &cfg, 1);
    assert_close(w, (float[]){1.5f - 0.5f * (1.0f + 0.15f), -4.5f - 0.5f * (1.0f - 0.45f)},
                 2, 1e-7, 1e-6, "w");
}

int main(void)
{
    parallel_init(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nesterov_weight_decay),
        cmocka_unit_test(test_momentum),
        cmocka_unit_test(test_plain_weight_decay),
        cmocka_unit_test(test_decay_off),
    };
    return cmocka_run_group_tests_name("sgd", tests, NULL, NULL);
}
