/*
 * test_batchnorm.c - batch norm in its three modes against PyTorch
 * fixtures, training-mode gradients against finite differences (full and
 * reduced width), and exact calibration statistics that do not depend on
 * how the calibration set is cut into batches.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alloc.h"
#include "batchnorm.h"
#include "fixture.h"
#include "gradcheck.h"
#include "parallel.h"
#include "simd.h"

#define EPS 1e-5f

/* batchnorm_backward with scratch of its own. */
static void backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                     const float *inp, const float *gamma, const float *beta, const float *mean,
                     const float *var, float eps, const struct bn_shape *s)
{
    float *coef = floats_alloc(BN_GRAD_COEFS * (size_t)s->c);
    double *planes = test_malloc(2 * (size_t)s->n * (size_t)s->c * sizeof *planes);
    assert_non_null(coef);
    assert_non_null(planes);
    batchnorm_backward(dinp, dgamma, dbeta, coef, planes, dout, inp, gamma, beta, mean, var, eps,
                       s);
    floats_free(coef);
    test_free(planes);
}

static void test_fixture_train(void **state)
{
    (void)state;
    struct fixture *fx = fixture_load("bn_train");
    const int32_t *v = fixture_ints(fx, "shape", NULL);
    struct bn_shape s = {.n = v[0], .c = v[1], .hw = v[2]};
    size_t count = (size_t)s.n * s.c * s.hw, c_max;
    const float *inp = fixture_floats(fx, "inp", NULL);
    const float *gamma = fixture_floats(fx, "gamma", &c_max);
    const float *beta = fixture_floats(fx, "beta", NULL);
    float *out = floats_alloc(count), *mean = floats_alloc(c_max), *var = floats_alloc(c_max);

    batchnorm_forward_train(out, mean, var, inp, gamma, beta, EPS, &s);
    assert_close(out, fixture_floats(fx, "out", NULL), count, 1e-5, 1e-4, "out");
    assert_close(mean, fixture_floats(fx, "mean", NULL), s.c, 1e-6, 1e-5, "mean");
    assert_close(var, fixture_floats(fx, "var", NULL), s.c, 1e-6, 1e-5, "var");

    float *rm = fixture_copy(fx, "running_mean_before", 0);
    float *rv = fixture_copy(fx, "running_var_before", 0);
    batchnorm_running_update(rm, rv, mean, var, s.c, (long)s.n * s.hw, 0.1f);
    assert_close(rm, fixture_floats(fx, "running_mean_after", NULL), s.c, 1e-6, 1e-5, "running_mean");
    assert_close(rv, fixture_floats(fx, "running_var_after", NULL), s.c, 1e-6, 1e-5, "running_var");
    /* Entries beyond the active width keep their values. */
    assert_memory_equal(rm + s.c, fixture_floats(fx, "running_mean_before", NULL) + s.c,
                        (c_max - (size_t)s.c) * sizeof(float));

    float *dinp = floats_alloc(count), *dgamma = floats_alloc(c_max), *dbeta = floats_alloc(c_max);
    backward(dinp, dgamma, dbeta, fixture_floats(fx, "dout", NULL), inp, gamma, beta,
                       mean, var, EPS, &s);
    assert_close(dinp, fixture_floats(fx, "dinp", NULL), count, 1e-5, 1e-4, "dinp");
    assert_close(dgamma, fixture_floats(fx, "dgamma", NULL), s.c, 1e-5, 1e-4, "dgamma");
    assert_close(dbeta, fixture_floats(fx, "dbeta", NULL), s.c, 1e-5, 1e-4, "dbeta");
    assert_all_zero(dgamma + s.c, c_max - (size_t)s.c, "dgamma beyond c");

    floats_free(out); floats_free(mean); floats_free(var);
    floats_free(rm); floats_free(rv);
    floats_free(dinp); floats_free(dgamma); floats_free(dbeta);
    fixture_free(fx);
}

static void test_fixture_eval(void **state)
{
    (void)state;
    struct fixture *fx = fixture_load("bn_eval");
    const int32_t *v = fixture_ints(fx, "shape", NULL);
    struct bn_shape s = {.n = v[0], .c = v[1], .hw = v[2]};
    size_t count = (size_t)s.n * s.c * s.hw;
    float *out = floats_alloc(count);
    batchnorm_forward_eval(out, fixture_floats(fx, "inp", NULL), fixture_floats(fx, "gamma", NULL),
                           fixture_floats(fx, "beta", NULL), fixture_floats(fx, "running_mean", NULL),
                           fixture_floats(fx, "running_var", NULL), EPS, &s);
    assert_close(out, fixture_floats(fx, "out", NULL), count, 1e-5, 1e-4, "out");
    floats_free(out);
    fixture_free(fx);
}

/* Runs a calibration pass over `batches` and finalises it. */
static void calibrate(float *rm, float *rv, const float *const *batches, const int *sizes,
                      int nbatches, int c, int hw)
{
    double mean_acc[16], m2_acc[16];
    struct bn_calib calib = {.mean = mean_acc, .m2 = m2_acc};
    float gamma[16], beta[16], mean[16], var[16];
    for (int i = 0; i < c; i++) {
        gamma[i] = 1.0f;
        beta[i] = 0.0f;
    }
    batchnorm_calib_reset(&calib, c);
    for (int b = 0; b < nbatches; b++) {
        struct bn_shape s = {.n = sizes[b], .c = c, .hw = hw};
        float *out = floats_alloc((size_t)sizes[b] * c * hw);
        batchnorm_forward_train(out, mean, var, batches[b], gamma, beta, EPS, &s);
        batchnorm_calib_accumulate(&calib, mean, var, c, (long)sizes[b] * hw);
        floats_free(out);
    }
    batchnorm_calib_finalize(rm, rv, &calib, c);
}

static void test_fixture_calibration(void **state)
{
    (void)state;
    struct fixture *fx = fixture_load("bn_calib");
    const int32_t *v = fixture_ints(fx, "shape", NULL);
    const int c = v[0], hw = v[1], sizes[3] = {4, 3, 2};
    const float *batches[3] = {fixture_floats(fx, "batch0", NULL), fixture_floats(fx, "batch1", NULL),
                               fixture_floats(fx, "batch2", NULL)};
    float rm[16], rv[16];
    calibrate(rm, rv, batches, sizes, 3, c, hw);
    assert_close(rm, fixture_floats(fx, "running_mean", NULL), c, 1e-6, 1e-6, "running_mean");
    assert_close(rv, fixture_floats(fx, "running_var", NULL), c, 1e-6, 1e-6, "running_var");
    fixture_free(fx);
}

/* The same 12 images in one batch, in 12 batches of one, and in batches
 * of 5, 4 and 3: the same statistics up to float rounding. */
static void test_calibration_ignores_batching(void **state)
{
    (void)state;
    const int c = 5, hw = 9, n = 12;
    const size_t image = (size_t)c * hw;
    float *data = random_floats(n * image, 21, 2.0f);
    for (size_t i = 0; i < n * image; i++)
        data[i] += 3.0f;
    const float *whole[1] = {data};
    const float *single[12];
    int ones[12];
    for (int i = 0; i < n; i++) {
        single[i] = data + i * image;
        ones[i] = 1;
    }
    const float *mixed[3] = {data, data + 5 * image, data + 9 * image};
    float rm[3][16], rv[3][16];
    calibrate(rm[0], rv[0], whole, (int[]){12}, 1, c, hw);
    calibrate(rm[1], rv[1], single, ones, 12, c, hw);
    calibrate(rm[2], rv[2], mixed, (int[]){5, 4, 3}, 3, c, hw);
    for (int k = 1; k < 3; k++) {
        assert_close(rm[k], rm[0], c, 1e-6, 1e-6, "running_mean");
        assert_close(rv[k], rv[0], c, 1e-6, 1e-6, "running_var");
    }
    floats_free(data);
}

struct bn_case {
    struct bn_shape s;
    float *inp, *gamma, *beta, *r, *out, *mean, *var;
};

static double bn_loss(void *ctx)
{
    struct bn_case *b = ctx;
    batchnorm_forward_train(b->out, b->mean, b->var, b->inp, b->gamma, b->beta, EPS, &b->s);
    return dot_loss(b->out, b->r, (size_t)b->s.n * b->s.c * b->s.hw);
}

static void check_gradients(struct bn_shape s, int c_max)
{
    const size_t count = (size_t)s.n * s.c * s.hw;
    struct bn_case b = {.s = s};
    b.inp = random_floats(count, 31, 1.5f);
    b.gamma = random_floats(c_max, 32, 0.5f);
    b.beta = random_floats(c_max, 33, 0.5f);
    for (int i = 0; i < c_max; i++)
        b.gamma[i] += 1.0f;
    b.r = random_floats(count, 34, 1.0f);
    b.out = floats_alloc(count);
    b.mean = floats_alloc(c_max);
    b.var = floats_alloc(c_max);
    float *dinp = floats_alloc(count), *dgamma = floats_alloc(c_max), *dbeta = floats_alloc(c_max);

    bn_loss(&b);
    backward(dinp, dgamma, dbeta, b.r, b.inp, b.gamma, b.beta, b.mean, b.var, EPS, &s);
    gradcheck(bn_loss, &b, b.inp, count, dinp, 1e-2, 2e-3, 2e-3, "dinp");
    gradcheck(bn_loss, &b, b.gamma, s.c, dgamma, 1e-2, 2e-3, 2e-3, "dgamma");
    gradcheck(bn_loss, &b, b.beta, s.c, dbeta, 1e-2, 2e-3, 2e-3, "dbeta");
    assert_all_zero(dgamma + s.c, (size_t)(c_max - s.c), "dgamma beyond c");
    assert_all_zero(dbeta + s.c, (size_t)(c_max - s.c), "dbeta beyond c");

    floats_free(b.inp); floats_free(b.gamma); floats_free(b.beta); floats_free(b.r);
    floats_free(b.out); floats_free(b.mean); floats_free(b.var);
    floats_free(dinp); floats_free(dgamma); floats_free(dbeta);
}

static void test_gradients(void **state)
{
    (void)state;
    check_gradients((struct bn_shape){.n = 3, .c = 4, .hw = 6}, 4);
    check_gradients((struct bn_shape){.n = 2, .c = 3, .hw = 10}, 5);
    /* planes longer than the summing lanes, with a tail */
    check_gradients((struct bn_shape){.n = 2, .c = 3, .hw = 37}, 4);
}

/* The fused ReLU is the composition of the plain BN and a ReLU, forward
 * and backward (finite differences would straddle its kink). */
static void test_fused_relu(void **state)
{
    (void)state;
    struct bn_shape plain = {.n = 3, .c = 3, .hw = 37}, fused = plain;
    fused.relu = 1;
    const size_t count = (size_t)plain.n * plain.c * plain.hw, c = (size_t)plain.c;
    float *inp = random_floats(count, 41, 1.5f), *dout = random_floats(count, 42, 1.0f);
    float *gamma = random_floats(c, 43, 0.5f), *beta = random_floats(c, 44, 0.5f);
    float *out0 = floats_alloc(count), *out1 = floats_alloc(count);
    float *mean = floats_alloc(c), *var = floats_alloc(c);
    batchnorm_forward_train(out0, mean, var, inp, gamma, beta, EPS, &plain);
    batchnorm_forward_train(out1, mean, var, inp, gamma, beta, EPS, &fused);
    float *masked = floats_alloc(count);
    size_t active = 0;
    for (size_t i = 0; i < count; i++) {
        assert_true(out1[i] == (out0[i] > 0.0f ? out0[i] : 0.0f));
        masked[i] = out0[i] > 0.0f ? dout[i] : 0.0f;
        active += out0[i] > 0.0f;
    }
    assert_true(active > count / 4 && active < 3 * count / 4);

    float *d0 = floats_alloc(count), *dg0 = floats_alloc(c), *db0 = floats_alloc(c);
    float *d1 = floats_alloc(count), *dg1 = floats_alloc(c), *db1 = floats_alloc(c);
    backward(d0, dg0, db0, masked, inp, gamma, beta, mean, var, EPS, &plain);
    backward(d1, dg1, db1, dout, inp, gamma, beta, mean, var, EPS, &fused);
    assert_close(d1, d0, count, 1e-6, 1e-5, "dinp");
    assert_close(dg1, dg0, c, 1e-6, 1e-5, "dgamma");
    assert_close(db1, db0, c, 1e-6, 1e-5, "dbeta");

    float *bufs[] = {inp, dout, gamma, beta, out0, out1, mean, var, masked,
                     d0, dg0, db0, d1, dg1, db1};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        floats_free(bufs[i]);
}

/* The backward's sums go plane by plane into a table and then image by
 * image into each channel: its bits do not depend on the thread count
 * (nor on how the images are cut among threads). */
static void check_backward_threads(struct bn_shape s, uint64_t seed)
{
    const size_t count = (size_t)s.n * s.c * s.hw, c = (size_t)s.c;
    float *inp = random_floats(count, seed, 2.0f), *dout = random_floats(count, seed + 1, 1.0f);
    float *gamma = random_floats(c, seed + 2, 1.0f), *beta = random_floats(c, seed + 3, 0.5f);
    float *start = random_floats(count, seed + 4, 1.0f);   /* what dinp adds to */
    float *out = floats_alloc(count), *mean = floats_alloc(c), *var = floats_alloc(c);
    batchnorm_forward_train(out, mean, var, inp, gamma, beta, EPS, &s);
    const int threads = parallel_threads();
    float *dinp[3], *dgamma[3], *dbeta[3];
    for (int k = 0; k < 3; k++) {
        parallel_init(k + 1);
        dinp[k] = floats_alloc(count);
        dgamma[k] = floats_alloc(c);
        dbeta[k] = floats_alloc(c);
        memcpy(dinp[k], start, count * sizeof(float));
        memset(dgamma[k], 0, c * sizeof(float));
        memset(dbeta[k], 0, c * sizeof(float));
        backward(dinp[k], dgamma[k], dbeta[k], dout, inp, gamma, beta, mean, var, EPS, &s);
    }
    parallel_init(threads);
    for (int k = 1; k < 3; k++) {
        assert_memory_equal(dinp[0], dinp[k], count * sizeof(float));
        assert_memory_equal(dgamma[0], dgamma[k], c * sizeof(float));
        assert_memory_equal(dbeta[0], dbeta[k], c * sizeof(float));
    }
    float *bufs[] = {inp, dout, gamma, beta, start, out, mean, var};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        floats_free(bufs[i]);
    for (int k = 0; k < 3; k++) {
        floats_free(dinp[k]);
        floats_free(dgamma[k]);
        floats_free(dbeta[k]);
    }
}

static void test_backward_ignores_threads(void **state)
{
    (void)state;
    /* uneven blocks of images, a plane's tail of one lane, ReLU, written */
    check_backward_threads((struct bn_shape){.n = 37, .c = 40, .hw = 49, .relu = 1,
                                             .overwrite = 1}, 81);
    /* channel ranges of more than one merge chunk, no ReLU, added to */
    check_backward_threads((struct bn_shape){.n = 9, .c = 130, .hw = 9}, 91);
}

/* The backward recomputes the ReLU's mask from the input: with a
 * gradient of ones, dbeta counts the outputs the forward pass left
 * positive, exactly. Each channel holds copies of four values, and its
 * beta puts one of them at the kink, so that a mask off by a little (a
 * shift 0.1% off fails here) flips all its copies at once. */
static void test_relu_mask_recomputed(void **state)
{
    (void)state;
    struct bn_shape s = {.n = 4, .c = 24, .hw = 49, .relu = 1};
    const size_t count = (size_t)s.n * s.c * s.hw, c = (size_t)s.c;
    float *values = random_floats(4 * c, 71, 1.0f), *ones = floats_alloc(count);
    float *inp = floats_alloc(count), *gamma = random_floats(c, 72, 1.0f), *beta = floats_alloc(c);
    float *out = floats_alloc(count), *mean = floats_alloc(c), *var = floats_alloc(c);
    float *dgamma = floats_alloc(c), *dbeta = floats_alloc(c);
    for (size_t i = 0; i < count; i++) {
        const size_t ch = i / (size_t)s.hw % c;
        ones[i] = 1.0f;
        inp[i] = values[4 * ch + i % 4];
    }
    for (size_t i = 0; i < c; i++)
        beta[i] = dgamma[i] = dbeta[i] = 0.0f;
    batchnorm_forward_train(out, mean, var, inp, gamma, beta, EPS, &s);
    for (size_t ch = 0; ch < c; ch++) {
        const float scale = gamma[ch] / sqrtf(var[ch] + EPS);
        beta[ch] = (mean[ch] - values[4 * ch]) * scale;
    }
    batchnorm_forward_train(out, mean, var, inp, gamma, beta, EPS, &s);
    backward(NULL, dgamma, dbeta, ones, inp, gamma, beta, mean, var, EPS, &s);
    for (int ch = 0; ch < s.c; ch++) {
        long positive = 0;
        for (int img = 0; img < s.n; img++)
            for (int i = 0; i < s.hw; i++)
                positive += out[((size_t)img * s.c + ch) * s.hw + i] > 0.0f;
        assert_true(dbeta[ch] == (float)positive);
    }
    float *bufs[] = {values, inp, ones, gamma, beta, out, mean, var, dgamma, dbeta};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        floats_free(bufs[i]);
}

/* Moments taken by a producer (batchnorm_plane_moments, plane by plane)
 * give the bits of the BN taking them itself, over plane sizes around the
 * summing lanes' width and with the ReLU. */
static void test_given_moments(void **state)
{
    (void)state;
    const int hws[] = {1, 15, 16, 17, 49, 196};
    for (size_t h = 0; h < sizeof hws / sizeof *hws; h++) {
        struct bn_shape s = {.n = 5, .c = 3, .hw = hws[h], .relu = (int)h % 2};
        const size_t count = (size_t)s.n * s.c * s.hw, c = (size_t)s.c;
        float *inp = random_floats(count, 51 + h, 2.0f);
        float *gamma = random_floats(c, 52, 0.5f), *beta = random_floats(c, 53, 0.5f);
        float *out0 = floats_alloc(count), *out1 = floats_alloc(count);
        float *mean0 = floats_alloc(c), *var0 = floats_alloc(c);
        float *mean1 = floats_alloc(c), *var1 = floats_alloc(c);
        double *moments = test_malloc(2 * (size_t)s.n * c * sizeof *moments);
        for (size_t p = 0; p < (size_t)s.n * c; p++)
            batchnorm_plane_moments(moments + 2 * p, inp + p * (size_t)s.hw, s.hw);
        batchnorm_forward_train(out0, mean0, var0, inp, gamma, beta, EPS, &s);
        batchnorm_forward_train_moments(out1, mean1, var1, inp, moments, gamma, beta, EPS, &s);
        assert_memory_equal(out0, out1, count * sizeof(float));
        assert_memory_equal(mean0, mean1, c * sizeof(float));
        assert_memory_equal(var0, var1, c * sizeof(float));
        /* and in place */
        batchnorm_forward_train_moments(inp, mean1, var1, inp, moments, gamma, beta, EPS, &s);
        assert_memory_equal(out0, inp, count * sizeof(float));
        float *bufs[] = {inp, gamma, beta, out0, out1, mean0, var0, mean1, var1};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
            floats_free(bufs[i]);
        test_free(moments);
    }
}

/* A channel of large mean and small spread, its planes of different
 * means: the variance as a double-precision two-pass reference gives it
 * (a sum of squares minus the squared mean would lose it all in float). */
static void test_large_mean_variance(void **state)
{
    (void)state;
    struct bn_shape s = {.n = 7, .c = 2, .hw = 49};
    const size_t count = (size_t)s.n * s.c * s.hw;
    float *inp = random_floats(count, 61, 1.0f);
    for (int img = 0; img < s.n; img++)
        for (int i = 0; i < s.hw; i++) {
            inp[((size_t)img * s.c) * s.hw + i] += 1000.0f + 0.5f * (float)img;
            inp[((size_t)img * s.c + 1) * s.hw + i] *= 1e-3f;
        }
    float gamma[2] = {1.0f, 1.0f}, beta[2] = {0.0f, 0.0f}, mean[2], var[2];
    float *out = floats_alloc(count);
    batchnorm_forward_train(out, mean, var, inp, gamma, beta, EPS, &s);
    for (int ch = 0; ch < s.c; ch++) {
        double m = 0.0, v = 0.0;
        for (int img = 0; img < s.n; img++)
            for (int i = 0; i < s.hw; i++)
                m += (double)inp[((size_t)img * s.c + ch) * s.hw + i];
        m /= (double)s.n * s.hw;
        for (int img = 0; img < s.n; img++)
            for (int i = 0; i < s.hw; i++) {
                double d = (double)inp[((size_t)img * s.c + ch) * s.hw + i] - m;
                v += d * d;
            }
        v /= (double)s.n * s.hw;
        assert_true(fabs((double)mean[ch] - m) <= 1e-6 * fabs(m));
        assert_true(fabs((double)var[ch] - v) <= 1e-5 * v);
    }
    floats_free(inp);
    floats_free(out);
}

/* The moments of 16 interleaved planes are each plane's own, bit for bit,
 * for the sizes of the spaces' planes and the edges of a vector, a large
 * mean, and fewer valid images than lanes (the rest are never written). */
static void test_interleaved_moments(void **state)
{
    (void)state;
    if (!simd_avx512())
        skip();
    const int sizes[] = {1, 7, 15, 16, 17, 49, 196, 784};
    for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
        const int hw = sizes[t];
        float *x = random_floats((size_t)hw * 16, 40 + t, 3.0f);
        float *plane = floats_alloc((size_t)hw);
        for (size_t i = 0; i < (size_t)hw * 16; i++)
            x[i] += (i % 16 == 3) ? 1000.0f : 0.5f;
        for (int valid = 16; valid >= 11; valid -= 5) {
            double got[3 * 16 + 2], want[2];
            for (size_t i = 0; i < sizeof got / sizeof *got; i++)
                got[i] = -1.0;
            batchnorm_interleaved_moments(got, 3, x, hw, valid);
            for (int l = 0; l < 16; l++) {
                if (l >= valid) {
                    assert_true(got[3 * l] == -1.0 && got[3 * l + 1] == -1.0);
                    continue;
                }
                for (int q = 0; q < hw; q++)
                    plane[q] = x[(size_t)q * 16 + l];
                batchnorm_plane_moments(want, plane, hw);
                assert_memory_equal(&got[3 * l], want, sizeof want);
            }
        }
        floats_free(plane);
        floats_free(x);
    }
}

int main(void)
{
    parallel_init(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_train),
        cmocka_unit_test(test_interleaved_moments),
        cmocka_unit_test(test_fixture_eval),
        cmocka_unit_test(test_fixture_calibration),
        cmocka_unit_test(test_calibration_ignores_batching),
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_fused_relu),
        cmocka_unit_test(test_backward_ignores_threads),
        cmocka_unit_test(test_relu_mask_recomputed),
        cmocka_unit_test(test_given_moments),
        cmocka_unit_test(test_large_mean_variance),
    };
    return cmocka_run_group_tests_name("batchnorm", tests, NULL, NULL);
}
