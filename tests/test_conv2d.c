/*
 * test_conv2d.c - conv2d against PyTorch fixtures, against central finite
 * differences (full and reduced width, dense, 1x1, grouped and depthwise),
 * and for determinism across runs at the same thread count; the small
 * products underneath against a plain double-precision product; the two
 * depthwise forward kernels against each other, bit for bit, and the two
 * backward ones to rounding; the output
 * planes' moments an epilogue takes for a batch norm; an input read
 * through a batch norm's map, an output gradient taken from the batch
 * norm after the convolution an image at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/tensor/conv2d_depthwise.h"
#include "../src/tensor/gemm_small.h"
#include "activation.h"
#include "alloc.h"
#include "batchnorm.h"
#include "conv2d.h"
#include "fixture.h"
#include "gradcheck.h"
#include "parallel.h"
#include "simd.h"

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

/* --- the small products ----------------------------------------------------- */

static float uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(*state >> 40) / (float)(1 << 24) - 0.5f;
}

/* C0 + A B in double, A's element (i, p) at a[i * ar + p * ac], B's (p, j)
 * at b[p * br + j * bc]. */
static double product(const float *c0, const float *a, size_t ar, size_t ac, const float *b,
                      size_t br, size_t bc, int k, int i, int j, size_t ldc)
{
    double sum = c0 ? (double)c0[(size_t)i * ldc + j] : 0.0;
    for (int p = 0; p < k; p++)
        sum += (double)a[(size_t)i * ar + (size_t)p * ac] * (double)b[(size_t)p * br + (size_t)j * bc];
    return sum;
}

/* Every edge of the blocking (rows around 6 and 12, columns around 16 and
 * 32), A plain and transposed, C overwritten and accumulated, padding
 * between rows untouched. */
static void test_gemm_small_shapes(void **state)
{
    (void)state;
    /* every block's row edges (8, 6, 12) and column edges (48, 32, 16,
     * the tail past a multiple of 16) */
    const int ms[] = {1, 5, 6, 7, 8, 9, 12, 13, 16, 17, 25, 70};
    const int ns[] = {1, 15, 16, 17, 20, 31, 33, 36, 47, 48, 49, 52, 64, 65, 80, 97};
    const int ks[] = {1, 9, 50};
    uint64_t seed = 7;
    for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
            for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
                const int m = ms[mi], n = ns[ni], k = ks[ki];
                const size_t lda = (size_t)k + 3, ldat = (size_t)m + 2, ldb = (size_t)n + 1;
                const size_t ldc = (size_t)n + 5;
                float *a = floats_alloc((size_t)m * lda), *at = floats_alloc((size_t)k * ldat);
                float *b = floats_alloc((size_t)k * ldb), *c = floats_alloc((size_t)m * ldc);
                float *c0 = floats_alloc((size_t)m * ldc);
                for (size_t i = 0; i < (size_t)m * lda; i++)
                    a[i] = uniform(&seed);
                for (size_t i = 0; i < (size_t)k * ldat; i++)
                    at[i] = uniform(&seed);
                for (size_t i = 0; i < (size_t)k * ldb; i++)
                    b[i] = uniform(&seed);
                for (size_t i = 0; i < (size_t)m * ldc; i++)
                    c0[i] = uniform(&seed);
                for (int form = 0; form < 4; form++) {
                    const int transposed = form & 1, accumulate = form >> 1;
                    struct gemm_operand op = transposed ? (struct gemm_operand){at, 1, ldat}
                                                        : (struct gemm_operand){a, lda, 1};
                    memcpy(c, c0, (size_t)m * ldc * sizeof(float));
                    gemm_small(m, n, k, op, b, ldb, c, ldc, accumulate);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < (int)ldc; j++) {
                            const size_t at_c = (size_t)i * ldc + j;
                            if (j >= n) {  /* the padding */
                                assert_true(c[at_c] == c0[at_c]);
                                continue;
                            }
                            double want = product(accumulate ? c0 : NULL, op.data, op.row,
                                                  op.col, b, ldb, 1, k, i, j, ldc);
                            assert_float_equal(c[at_c], want, 1e-5);
                        }
                }
                /* The epilogue gives affine_plane's bits on the product's. */
                float *scale = floats_alloc((size_t)m), *shift = floats_alloc((size_t)m);
                for (int i = 0; i < m; i++) {
                    scale[i] = uniform(&seed);
                    shift[i] = uniform(&seed);
                }
                for (int relu = 0; relu < 2; relu++) {
                    struct conv2d_epilogue ep = {scale, shift, relu, NULL, NULL};
                    const struct gemm_operand op = {a, lda, 1};
                    gemm_small(m, n, k, op, b, ldb, c0, ldc, 0);
                    for (int i = 0; i < m; i++)
                        affine_plane(c0 + (size_t)i * ldc, c0 + (size_t)i * ldc, n, scale[i],
                                     shift[i], relu);
                    gemm_small_ep(m, n, k, op, b, ldb, c, ldc, &ep);
                    for (int i = 0; i < m; i++)
                        assert_memory_equal(c + (size_t)i * ldc, c0 + (size_t)i * ldc,
                                            (size_t)n * sizeof(float));
                    /* A copied with unit rows when n prefers it (its last
                     * columns go 16 rows at a time): the same bits. */
                    float *copy = floats_alloc((size_t)m * k);
                    gemm_small_ep(m, n, k, gemm_small_columns(a, lda, m, k, n, copy), b, ldb, c, ldc,
                                  &ep);
                    for (int i = 0; i < m; i++)
                        assert_memory_equal(c + (size_t)i * ldc, c0 + (size_t)i * ldc,
                                            (size_t)n * sizeof(float));
                    floats_free(copy);
                }
                floats_free(scale);
                floats_free(shift);
                /* C += A B^T with B (n x k): b read as n rows of k. */
                float *bt = floats_alloc(gemm_small_nt_floats(n, k) + 1);
                const size_t ldbn = (size_t)k + 1;
                float *bn = floats_alloc((size_t)n * ldbn);
                for (size_t i = 0; i < (size_t)n * ldbn; i++)
                    bn[i] = uniform(&seed);
                memcpy(c, c0, (size_t)m * ldc * sizeof(float));
                gemm_small_nt_add(m, n, k, a, lda, bn, ldbn, c, ldc, bt);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                        assert_float_equal(c[(size_t)i * ldc + j],
                                           product(c0, a, lda, 1, bn, 1, ldbn, k, i, j, ldc),
                                           1e-5);
                floats_free(bt);
                floats_free(bn);
                floats_free(a);
                floats_free(at);
                floats_free(b);
                floats_free(c);
                floats_free(c0);
            }
}

/* A convolution reading its input in place as channels [skip, skip + cin)
 * of a wider tensor (in_image) gives the bits of one reading a compact
 * copy: dense 1x1 and 3x3, depthwise through both kernels. */
static void test_input_in_wider_tensor(void **state)
{
    (void)state;
    const struct conv2d_shape shapes[] = {
        {.n = 3, .cin = 6, .cout = 5, .wcin = 6, .h = 7, .w = 7, .k = 1, .stride = 1, .groups = 1},
        {.n = 3, .cin = 6, .cout = 5, .wcin = 6, .h = 6, .w = 5, .k = 3, .stride = 2, .pad = 1,
         .groups = 1},
        {.n = 3, .cin = 20, .cout = 20, .wcin = 1, .h = 7, .w = 7, .k = 3, .stride = 1, .pad = 1,
         .groups = 20},
    };
    const int skip = 4, extra = 3;  /* channels before and after the input's */
    uint64_t seed = 5;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (int planes = 0; planes < 2; planes++) {
            struct conv2d_shape s = shapes[si];
            if (planes && s.groups == 1)
                continue;
            const size_t hw = (size_t)s.h * s.w, wide_image = (size_t)(skip + s.cin + extra) * hw;
            const size_t weights = (size_t)s.cout * s.wcin * s.k * s.k;
            float *wide = floats_alloc((size_t)s.n * wide_image), *x = floats_alloc(in_count(&s));
            float *w = floats_alloc(weights), *y0 = floats_alloc(out_count(&s));
            float *y1 = floats_alloc(out_count(&s)), *scratch = scratch_for(&s);
            for (size_t i = 0; i < (size_t)s.n * wide_image; i++)
                wide[i] = uniform(&seed);
            for (size_t i = 0; i < weights; i++)
                w[i] = uniform(&seed);
            for (int img = 0; img < s.n; img++)
                memcpy(x + (size_t)img * s.cin * hw, wide + img * wide_image + skip * hw,
                       (size_t)s.cin * hw * sizeof(float));
            void (*forward)(float *, const float *, const float *, const struct conv2d_shape *,
                            float *, const struct conv2d_epilogue *) =
                planes ? depthwise_planes_forward : conv2d_forward_ep;
            forward(y0, x, w, &s, scratch, NULL);
            s.in_image = wide_image;
            forward(y1, wide + skip * hw, w, &s, scratch, NULL);
            assert_memory_equal(y0, y1, out_count(&s) * sizeof(float));
            floats_free(wide); floats_free(x); floats_free(w);
            floats_free(y0); floats_free(y1); floats_free(scratch);
        }
}

/* The shapes of the tests of a batch norm's map and gradient through a
 * convolution: dense 1x1, dense k x k strided with a weight wider than
 * its block, depthwise at strides 1 and 2. */
static const struct conv2d_shape bn_shapes[] = {
    {.n = 5, .cin = 12, .cout = 7, .wcin = 12, .h = 7, .w = 7, .k = 1, .stride = 1, .groups = 1},
    {.n = 3, .cin = 6, .cout = 5, .wcin = 8, .h = 9, .w = 6, .k = 3, .stride = 2, .pad = 1,
     .groups = 1},
    {.n = 4, .cin = 20, .cout = 20, .wcin = 1, .h = 14, .w = 14, .k = 7, .stride = 1, .pad = 3,
     .groups = 20},
    {.n = 4, .cin = 9, .cout = 9, .wcin = 1, .h = 14, .w = 14, .k = 5, .stride = 2, .pad = 2,
     .groups = 9},
};

/* An input read through a batch norm's map (conv2d_shape.in_map, where
 * conv2d_maps_input) gives the bits of the map applied first
 * (affine_plane, as the BN applies it): forward, and backward's weight
 * and input gradients; dense 1x1 and k x k, depthwise at both strides,
 * with and without the map's ReLU. */
static void test_input_map(void **state)
{
    (void)state;
    uint64_t seed = 31;
    for (size_t si = 0; si < sizeof bn_shapes / sizeof *bn_shapes; si++)
        for (int relu = 0; relu < 2; relu++) {
            struct conv2d_shape s = bn_shapes[si];
            /* dense always; depthwise on the channel-vector kernel */
            assert_int_equal(conv2d_maps_input(&s), s.groups == 1 || simd_avx512());
            if (!conv2d_maps_input(&s))
                continue;
            const size_t in = in_count(&s), out = out_count(&s), hw = (size_t)s.h * s.w;
            const size_t nw = (size_t)s.cout * s.wcin * s.k * s.k;
            float *x = floats_alloc(in), *mapped = floats_alloc(in), *w = floats_alloc(nw);
            float *scale = floats_alloc((size_t)s.cin), *shift = floats_alloc((size_t)s.cin);
            float *y[2] = {floats_alloc(out), floats_alloc(out)};
            float *dx[2] = {floats_alloc(in), floats_alloc(in)};
            float *dw[2] = {floats_alloc(nw), floats_alloc(nw)};
            float *dy = floats_alloc(out), *scratch = scratch_for(&s);
            for (size_t i = 0; i < in; i++)
                x[i] = uniform(&seed);
            for (size_t i = 0; i < nw; i++)
                w[i] = uniform(&seed);
            for (size_t i = 0; i < out; i++)
                dy[i] = uniform(&seed);
            for (int c = 0; c < s.cin; c++) {
                scale[c] = 2.0f * uniform(&seed);
                shift[c] = uniform(&seed);
            }
            for (int img = 0; img < s.n; img++)
                for (int c = 0; c < s.cin; c++) {
                    const size_t at = ((size_t)img * s.cin + c) * hw;
                    affine_plane(mapped + at, x + at, (int)hw, scale[c], shift[c], relu);
                }
            const struct conv2d_epilogue map = {scale, shift, relu, NULL, NULL};
            for (int through = 0; through < 2; through++) {
                struct conv2d_shape t = s;
                t.in_map = through ? &map : NULL;
                t.overwrite = 1;
                const float *inp = through ? x : mapped;
                conv2d_forward_ep(y[through], inp, w, &t, scratch, NULL);
                conv2d_backward(dx[through], dw[through], dy, inp, w, &t, scratch);
            }
            assert_memory_equal(y[0], y[1], out * sizeof(float));
            assert_memory_equal(dx[0], dx[1], in * sizeof(float));
            assert_memory_equal(dw[0], dw[1], nw * sizeof(float));
            floats_free(x); floats_free(mapped); floats_free(w); floats_free(scale);
            floats_free(shift); floats_free(dy); floats_free(scratch);
            for (int j = 0; j < 2; j++) {
                floats_free(y[j]);
                floats_free(dx[j]);
                floats_free(dw[j]);
            }
        }
}

/* The output gradient of a convolution taken an image at a time from the
 * training BN after it (conv2d_shape.dout_bn, after
 * batchnorm_backward_sums, where conv2d_maps_input) gives the bits of
 * batchnorm_backward's whole input gradient read by conv2d_backward:
 * weight and input gradients, the BN's dgamma and dbeta, dense and
 * depthwise, with and without the BN's ReLU; the input read through the
 * map of the BN before the convolution (in_map) at the same time, as in
 * a block. */
static void test_output_grad_through_bn(void **state)
{
    (void)state;
    const float eps = 1e-5f;
    uint64_t seed = 37;
    for (size_t si = 0; si < sizeof bn_shapes / sizeof *bn_shapes; si++)
        for (int relu = 0; relu < 2; relu++) {
            const struct conv2d_shape s = bn_shapes[si];
            if (!conv2d_maps_input(&s))
                continue;   /* (the depthwise plane kernel) */
            const size_t in = in_count(&s), out = out_count(&s);
            const size_t nw = (size_t)s.cout * s.wcin * s.k * s.k, c = (size_t)s.cout;
            const struct bn_shape bs = {.n = s.n, .c = s.cout,
                                        .hw = conv2d_out_h(&s) * conv2d_out_w(&s), .relu = relu,
                                        .overwrite = 1};
            float *x = floats_alloc(in), *w = floats_alloc(nw), *y = floats_alloc(out);
            float *z = floats_alloc(out), *dz = floats_alloc(out), *dy = floats_alloc(out);
            float *gamma = floats_alloc(c), *beta = floats_alloc(c), *mean = floats_alloc(c);
            float *var = floats_alloc(c), *coef = floats_alloc(BN_GRAD_COEFS * c);
            float *in_scale = floats_alloc((size_t)s.cin), *in_shift = floats_alloc((size_t)s.cin);
            float *mapped = floats_alloc(in);
            double *planes = malloc(2 * (size_t)s.n * c * sizeof *planes);
            assert_non_null(planes);
            float *dx[2] = {floats_alloc(in), floats_alloc(in)};
            float *dw[2] = {floats_alloc(nw), floats_alloc(nw)};
            float *dgamma[2] = {floats_alloc(c), floats_alloc(c)};
            float *dbeta[2] = {floats_alloc(c), floats_alloc(c)};
            float *scratch = scratch_for(&s);
            for (size_t i = 0; i < in; i++)
                x[i] = uniform(&seed);
            for (size_t i = 0; i < nw; i++)
                w[i] = uniform(&seed);
            for (size_t i = 0; i < out; i++)
                dz[i] = uniform(&seed);
            for (size_t i = 0; i < c; i++) {
                gamma[i] = 2.0f * uniform(&seed);
                beta[i] = uniform(&seed);
            }
            /* the input itself through the map of a BN and ReLU before the
             * convolution (in_map), as in a block */
            for (int ch = 0; ch < s.cin; ch++) {
                in_scale[ch] = 2.0f * uniform(&seed);
                in_shift[ch] = uniform(&seed);
            }
            const size_t hw = (size_t)s.h * s.w;
            for (int img = 0; img < s.n; img++)
                for (int ch = 0; ch < s.cin; ch++) {
                    const size_t at = ((size_t)img * s.cin + ch) * hw;
                    affine_plane(mapped + at, x + at, (int)hw, in_scale[ch], in_shift[ch], 1);
                }
            const struct conv2d_epilogue in_map = {in_scale, in_shift, 1, NULL, NULL};
            conv2d_forward(y, mapped, w, &s, scratch);
            batchnorm_forward_train(z, mean, var, y, gamma, beta, eps, &bs);
            /* the BN's whole input gradient, then the convolution's */
            batchnorm_backward(dy, dgamma[0], dbeta[0], coef, planes, dz, y, gamma, beta, mean, var,
                               eps, &bs);
            struct conv2d_shape t = s;
            t.overwrite = 1;
            conv2d_backward(dx[0], dw[0], dy, mapped, w, &t, scratch);
            /* the BN's sums, then an image at a time inside the convolution's */
            batchnorm_backward_sums(coef, planes, dgamma[1], dbeta[1], dz, y, gamma, beta, mean,
                                    var, eps, &bs);
            const struct bn_backward_map map = {coef, mean, bs.c, bs.hw, relu};
            t.dout_bn = &map;
            t.dout_bn_in = y;
            t.in_map = &in_map;
            conv2d_backward(dx[1], dw[1], dz, x, w, &t, scratch);
            assert_memory_equal(dx[0], dx[1], in * sizeof(float));
            assert_memory_equal(dw[0], dw[1], nw * sizeof(float));
            assert_memory_equal(dgamma[0], dgamma[1], c * sizeof(float));
            assert_memory_equal(dbeta[0], dbeta[1], c * sizeof(float));
            floats_free(x); floats_free(w); floats_free(y); floats_free(z); floats_free(dz);
            floats_free(dy); floats_free(gamma); floats_free(beta); floats_free(mean);
            floats_free(var); floats_free(coef); floats_free(scratch); floats_free(in_scale);
            floats_free(in_shift); floats_free(mapped);
            free(planes);
            for (int j = 0; j < 2; j++) {
                floats_free(dx[j]);
                floats_free(dw[j]);
                floats_free(dgamma[j]);
                floats_free(dbeta[j]);
            }
        }
}

/* The channel-vector depthwise forward (run by conv2d_forward where the
 * CPU has AVX-512) gives the plane kernel's bits: strides 1 and 2, every
 * kernel size of the spaces, channel counts around 8 and 16, reduced
 * widths, with and without the folded-BN epilogue and its ReLU. */
static void test_depthwise_kernels_agree(void **state)
{
    (void)state;
    /* (rows of 1, 2, 4 and 6 blocks of 7 at stride 1; 1, 2 and 3 at stride
     * 2, where 13 x 14 has an odd height) */
    const int ks[] = {3, 5, 7}, cs[] = {5, 8, 16, 20, 33};
    const int sizes[][2] = {{7, 7}, {14, 14}, {9, 6}, {28, 28}, {13, 14}, {7, 42}};
    uint64_t seed = 11;
    for (size_t ki = 0; ki < 3; ki++)
        for (size_t ci = 0; ci < 5; ci++)
            for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
                for (int stride = 1; stride <= 2; stride++)
                    for (int ep_kind = 0; ep_kind < 3; ep_kind++) {
                        const int c = cs[ci], k = ks[ki];
                        struct conv2d_shape s = {.n = 3, .cin = c, .cout = c, .wcin = 1,
                                                 .h = sizes[si][0], .w = sizes[si][1], .k = k,
                                                 .stride = stride, .pad = k / 2, .groups = c};
                        const size_t in = in_count(&s), out = out_count(&s);
                        float *x = floats_alloc(in), *w = floats_alloc((size_t)(c + 2) * k * k);
                        float *scale = floats_alloc((size_t)c), *shift = floats_alloc((size_t)c);
                        float *lanes = floats_alloc(out), *planes = floats_alloc(out);
                        float *scratch = scratch_for(&s);
                        for (size_t i = 0; i < in; i++)
                            x[i] = uniform(&seed);
                        for (size_t i = 0; i < (size_t)(c + 2) * k * k; i++)
                            w[i] = uniform(&seed);
                        for (int i = 0; i < c; i++) {
                            scale[i] = uniform(&seed);
                            shift[i] = uniform(&seed);
                        }
                        struct conv2d_epilogue ep = {scale, shift, ep_kind == 2, NULL, NULL};
                        const struct conv2d_epilogue *e = ep_kind ? &ep : NULL;
                        conv2d_forward_ep(lanes, x, w, &s, scratch, e);
                        depthwise_planes_forward(planes, x, w, &s, scratch, e);
                        assert_memory_equal(lanes, planes, out * sizeof(float));
                        floats_free(x); floats_free(w); floats_free(scale); floats_free(shift);
                        floats_free(lanes); floats_free(planes); floats_free(scratch);
                    }
}

/* The channel-vector depthwise backward (odd kernels padded by half;
 * run by conv2d_backward where the CPU has AVX-512) against the plane
 * kernel's: the same gradients up to the order of the sums, the input
 * gradient written or added, the weight gradient added to what is there,
 * over kernel sizes, strides 1 and 2, channel counts around the 16 lanes,
 * reduced width and plane sizes (odd and even). */
static void test_depthwise_backward_kernels_agree(void **state)
{
    (void)state;
    if (!simd_avx512())
        skip();   /* only the plane kernel runs (and under valgrind) */
    const int ks[] = {3, 5, 7}, cs[] = {5, 16, 20, 33}, sizes[][2] = {{7, 7}, {14, 14}, {9, 6}};
    uint64_t seed = 23;
    for (size_t ki = 0; ki < 3; ki++)
        for (size_t ci = 0; ci < 4; ci++)
            for (size_t si = 0; si < 3; si++)
                for (int run = 0; run < 4; run++) {
                    const int c = cs[ci], k = ks[ki], c_max = c + 3;
                    struct conv2d_shape s = {.n = 5, .cin = c, .cout = c, .wcin = 1,
                                             .h = sizes[si][0], .w = sizes[si][1], .k = k,
                                             .stride = 1 + run / 2, .pad = k / 2, .groups = c,
                                             .overwrite = run % 2};
                    const size_t in = in_count(&s), nw = (size_t)c_max * k * k;
                    float *x = floats_alloc(in), *dy = floats_alloc(out_count(&s));
                    float *w = floats_alloc(nw), *scratch = scratch_for(&s);
                    float *dx[2] = {floats_alloc(in), floats_alloc(in)};
                    float *dw[2] = {floats_alloc(nw), floats_alloc(nw)};
                    for (size_t i = 0; i < in; i++)
                        x[i] = uniform(&seed);
                    for (size_t i = 0; i < out_count(&s); i++)
                        dy[i] = uniform(&seed);
                    for (size_t i = 0; i < nw; i++)
                        w[i] = dw[0][i] = dw[1][i] = uniform(&seed);
                    for (size_t i = 0; i < in; i++)
                        dx[0][i] = dx[1][i] = uniform(&seed);
                    assert_true(depthwise_lanes_backward(dx[0], dw[0], dy, x, w, &s, scratch));
                    depthwise_planes_backward(dx[1], dw[1], dy, x, w, &s, scratch);
                    assert_close(dx[0], dx[1], in, 1e-5, 1e-5, "dinp");
                    assert_close(dw[0], dw[1], nw, 1e-5, 1e-5, "dweight");
                    /* without an input gradient */
                    depthwise_lanes_backward(NULL, dw[0], dy, x, w, &s, scratch);
                    depthwise_planes_backward(NULL, dw[1], dy, x, w, &s, scratch);
                    assert_close(dw[0], dw[1], nw, 1e-5, 1e-5, "dweight");
                    floats_free(x); floats_free(dy); floats_free(w); floats_free(scratch);
                    for (int j = 0; j < 2; j++) {
                        floats_free(dx[j]);
                        floats_free(dw[j]);
                    }
                }
}

/* Images interleaved 16 at a time give each image the bits of
 * conv2d_forward_ep: depthwise kernels of the spaces at both strides
 * (on output rows of one, two and four blocks of 7 pixels, read in
 * place; test_depthwise_kernels_agree holds the skipped border taps to
 * the plane kernel),
 * 1x1 convolutions (one product over every image's pixels), and dense
 * k x k ones (im2col in pieces: the 28 x 28 stem), a weight wider than
 * its active block, with and without the epilogue and its ReLU. */
static void test_interleaved_forward(void **state)
{
    (void)state;
    if (!conv2d_interleaved_supported(&(struct conv2d_shape){.n = 1, .cin = 1, .cout = 1,
                                                            .wcin = 1, .h = 1, .w = 1, .k = 1,
                                                            .stride = 1, .groups = 1}))
        skip();
    enum { L = CONV2D_INTERLEAVED };
    const struct conv2d_shape shapes[] = {
        {.cin = 24, .cout = 24, .wcin = 1, .h = 14, .w = 14, .k = 5, .stride = 1, .pad = 2, .groups = 24},
        {.cin = 20, .cout = 20, .wcin = 1, .h = 14, .w = 14, .k = 7, .stride = 2, .pad = 3, .groups = 20},
        {.cin = 5, .cout = 5, .wcin = 1, .h = 28, .w = 28, .k = 5, .stride = 2, .pad = 2, .groups = 5},
        {.cin = 4, .cout = 4, .wcin = 1, .h = 13, .w = 42, .k = 3, .stride = 2, .pad = 1, .groups = 4},
        {.cin = 17, .cout = 17, .wcin = 1, .h = 7, .w = 7, .k = 3, .stride = 1, .pad = 1, .groups = 17},
        {.cin = 18, .cout = 18, .wcin = 1, .h = 7, .w = 7, .k = 7, .stride = 1, .pad = 3, .groups = 18},
        {.cin = 3, .cout = 3, .wcin = 1, .h = 28, .w = 28, .k = 5, .stride = 1, .pad = 2, .groups = 3},
        {.cin = 24, .cout = 40, .wcin = 30, .h = 7, .w = 7, .k = 1, .stride = 1, .pad = 0, .groups = 1},
        {.cin = 1, .cout = 16, .wcin = 1, .h = 28, .w = 28, .k = 3, .stride = 1, .pad = 1, .groups = 1},
        {.cin = 3, .cout = 8, .wcin = 3, .h = 9, .w = 6, .k = 3, .stride = 2, .pad = 1, .groups = 1},
    };
    uint64_t seed = 5;
    for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++)
        for (int ep_kind = 0; ep_kind < 3; ep_kind++) {
            struct conv2d_shape s = shapes[t];
            s.n = L;
            const size_t in = in_count(&s), out = out_count(&s);
            const size_t image = in / L, out_image = out / L;
            const size_t nw = (size_t)(s.cout + 2) * s.wcin * s.k * s.k;
            float *x = floats_alloc(in), *xi = floats_alloc(in), *w = floats_alloc(nw);
            float *want = floats_alloc(out), *got = floats_alloc(out);
            float *scale = floats_alloc((size_t)s.cout), *shift = floats_alloc((size_t)s.cout);
            float *scratch = scratch_for(&s);
            float *il_scratch = floats_alloc(conv2d_interleaved_scratch_floats(&s) + 1);
            for (size_t i = 0; i < in; i++)
                x[i] = uniform(&seed);
            for (size_t i = 0; i < nw; i++)
                w[i] = uniform(&seed);
            for (int i = 0; i < s.cout; i++) {
                scale[i] = uniform(&seed);
                shift[i] = uniform(&seed);
            }
            struct conv2d_epilogue ep = {scale, shift, ep_kind == 2, NULL, NULL};
            const struct conv2d_epilogue *e = ep_kind ? &ep : NULL;
            for (size_t q = 0; q < image; q++)
                for (int l = 0; l < L; l++)
                    xi[q * L + (size_t)l] = x[(size_t)l * image + q];
            conv2d_forward_ep(want, x, w, &s, scratch, e);
            conv2d_interleaved_forward(got, xi, w, &s, il_scratch, e);
            for (size_t q = 0; q < out_image; q++)
                for (int l = 0; l < L; l++)
                    if (memcmp(&got[q * L + (size_t)l], &want[(size_t)l * out_image + q],
                               sizeof(float)))
                        fail_msg("shape %zu, epilogue %d: image %d, output %zu: %.9g, not %.9g",
                                 t, ep_kind, l, q, (double)got[q * L + (size_t)l],
                                 (double)want[(size_t)l * out_image + q]);
            floats_free(x); floats_free(xi); floats_free(w); floats_free(want);
            floats_free(got); floats_free(scale); floats_free(shift); floats_free(scratch);
            floats_free(il_scratch);
        }
}

/* The moments an epilogue takes are those of the output planes it wrote,
 * bit for bit, through each kernel (dense 1x1 and 3x3, grouped, both
 * depthwise ones), with the affine map on and off. */
static void test_epilogue_moments(void **state)
{
    (void)state;
    const struct conv2d_shape shapes[] = {
        {.n = 5, .cin = 6, .cout = 20, .wcin = 6, .h = 7, .w = 7, .k = 1, .stride = 1, .groups = 1},
        {.n = 3, .cin = 6, .cout = 5, .wcin = 6, .h = 9, .w = 6, .k = 3, .stride = 2, .pad = 1,
         .groups = 1},
        {.n = 3, .cin = 8, .cout = 4, .wcin = 4, .h = 6, .w = 6, .k = 3, .stride = 1, .pad = 1,
         .groups = 2},
        {.n = 4, .cin = 20, .cout = 20, .wcin = 1, .h = 14, .w = 14, .k = 5, .stride = 1, .pad = 2,
         .groups = 20},
        {.n = 3, .cin = 33, .cout = 33, .wcin = 1, .h = 7, .w = 7, .k = 3, .stride = 2, .pad = 1,
         .groups = 33},
    };
    uint64_t seed = 17;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (int run = 0; run < 4; run++) {
            const struct conv2d_shape s = shapes[si];
            const int planes = run & 1, affine = run >> 1;
            if (planes && s.groups != s.cin)
                continue;
            const size_t weights = (size_t)s.cout * s.wcin * s.k * s.k, out = out_count(&s);
            const int ohw = conv2d_out_h(&s) * conv2d_out_w(&s);
            const size_t nplanes = (size_t)s.n * s.cout;
            float *x = floats_alloc(in_count(&s)), *w = floats_alloc(weights);
            float *y = floats_alloc(out), *scratch = scratch_for(&s);
            float *scale = floats_alloc((size_t)s.cout), *shift = floats_alloc((size_t)s.cout);
            double *got = test_malloc(2 * nplanes * sizeof *got);
            for (size_t i = 0; i < in_count(&s); i++)
                x[i] = uniform(&seed);
            for (size_t i = 0; i < weights; i++)
                w[i] = uniform(&seed);
            for (int i = 0; i < s.cout; i++) {
                scale[i] = uniform(&seed);
                shift[i] = uniform(&seed);
            }
            struct conv2d_epilogue ep = {affine ? scale : NULL, affine ? shift : NULL, 1, got, NULL};
            (planes ? depthwise_planes_forward : conv2d_forward_ep)(y, x, w, &s, scratch, &ep);
            for (size_t p = 0; p < nplanes; p++) {
                double want[2];
                batchnorm_plane_moments(want, y + p * (size_t)ohw, ohw);
                assert_memory_equal(got + 2 * p, want, sizeof want);
            }
            floats_free(x); floats_free(w); floats_free(y); floats_free(scratch);
            floats_free(scale); floats_free(shift);
            test_free(got);
        }
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
        cmocka_unit_test(test_gemm_small_shapes),
        cmocka_unit_test(test_depthwise_kernels_agree),
        cmocka_unit_test(test_interleaved_forward),
        cmocka_unit_test(test_input_in_wider_tensor),
        cmocka_unit_test(test_epilogue_moments),
        cmocka_unit_test(test_depthwise_backward_kernels_agree),
        cmocka_unit_test(test_input_map),
        cmocka_unit_test(test_output_grad_through_bn),
    };
    return cmocka_run_group_tests_name("conv2d", tests, NULL, NULL);
}
