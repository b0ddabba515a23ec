/*
 * batchnorm.c - batch normalisation.
 *
 * Statistics are taken per image plane, its sum and its squared deviations
 * from its own mean (two passes over a plane, in float lanes, see below),
 * and merged per channel in double in image order: a channel of large mean
 * loses no precision, and a convolution can take its output planes'
 * moments while they are in cache (batchnorm_plane_moments), so that the
 * BN makes no pass over its input for them. The ReLU that follows
 * most BNs is fused into both passes when the shape asks for it.
 */
#include "batchnorm.h"
#include "activation.h"
#include "parallel.h"
#include "simd.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

/* Lanes: the sums below are taken in BN_LANES independent float partials
 * per image plane (a loop the compiler vectorises without reassociating;
 * the tail of a plane goes to the first lanes), whose lanes are added in
 * double, pairwise (lanes_tree); a channel's planes are then added in
 * image order. The bits depend on neither the thread count nor the vector
 * width. */
enum { BN_LANES = 16 };

/* The lanes' sum in double as a fixed tree (j + w into j, w = 8, 4, 2,
 * 1): each level is one vector operation, where a chain of 16 additions
 * would cost a plane of 7x7 more than its data. */
static inline __attribute__((always_inline)) double lanes_tree(const float *lane)
{
    double d[BN_LANES];
    for (int j = 0; j < BN_LANES; j++)
        d[j] = (double)lane[j];
    for (int w = BN_LANES / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++)
            d[j] += d[j + w];
    return d[0];
}

SIMD_KERNEL
static double plane_sum(const float *restrict x, int hw)
{
    float lane[BN_LANES] = {0};
    int i = 0;
    for (; i + BN_LANES <= hw; i += BN_LANES)
        for (int j = 0; j < BN_LANES; j++)
            lane[j] += x[i + j];
    for (int j = 0; i + j < hw; j++)
        lane[j] += x[i + j];
    return lanes_tree(lane);
}

SIMD_KERNEL
static double plane_sqdev(const float *restrict x, int hw, float m)
{
    float lane[BN_LANES] = {0};
    int i = 0;
    for (; i + BN_LANES <= hw; i += BN_LANES)
        for (int j = 0; j < BN_LANES; j++) {
            float d = x[i + j] - m;
            lane[j] += d * d;
        }
    for (int j = 0; i + j < hw; j++) {
        float d = x[i + j] - m;
        lane[j] += d * d;
    }
    return lanes_tree(lane);
}

/* The plane's own mean, rounded to float: the centre of its squared
 * deviations. */
static float plane_centre(double sum, int hw)
{
    return (float)(sum / hw);
}

#ifdef SIMD_HAVE_AVX512
/* lanes_tree of one vector of lanes. */
SIMD_AVX512 static double lanes_tree512(__m512 lane)
{
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(lane));
    const __m512d hi =
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(lane), 1)));
    const __m512d d8 = _mm512_add_pd(lo, hi);
    const __m256d d4 = _mm256_add_pd(_mm512_castpd512_pd256(d8), _mm512_extractf64x4_pd(d8, 1));
    const __m128d d2 = _mm_add_pd(_mm256_castpd256_pd128(d4), _mm256_extractf128_pd(d4, 1));
    return _mm_cvtsd_f64(_mm_add_sd(d2, _mm_unpackhi_pd(d2, d2)));
}

/* plane_sum and plane_sqdev in vectors, the tail masked into the first
 * lanes: the same lanes and the same tree, without the loops' scalar
 * tails and lane arrays on the stack (a store the vector reload cannot
 * forward), which made a 7x7 plane's moments cost several times its
 * data. (The squared deviations are fused multiply-adds; the C loops'
 * rounding there is the compiler's.) */
SIMD_AVX512 static void plane_moments512(double *moments, const float *x, int hw)
{
    const int full = hw / BN_LANES, rest = hw % BN_LANES;
    const __mmask16 tail = simd_first_lanes(rest);
    const float *xt = x + (size_t)full * BN_LANES;
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < full; i++)
        acc = _mm512_add_ps(acc, _mm512_loadu_ps(x + (size_t)i * BN_LANES));
    acc = _mm512_mask_add_ps(acc, tail, acc, _mm512_maskz_loadu_ps(tail, xt));
    const double sum = lanes_tree512(acc);
    const __m512 m = _mm512_set1_ps(plane_centre(sum, hw));
    __m512 sq = _mm512_setzero_ps();
    for (int i = 0; i < full; i++) {
        const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + (size_t)i * BN_LANES), m);
        sq = _mm512_fmadd_ps(d, d, sq);
    }
    const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(tail, xt), m);
    sq = _mm512_mask3_fmadd_ps(d, d, sq, tail);
    moments[0] = sum;
    moments[1] = lanes_tree512(sq);
}
/* lanes_tree512 of lane j of each of 16 images: acc[j] (16 images) holds
 * lane j of their planes' vectors. The same adds, in double, image by
 * image in a vector's lanes. */
SIMD_AVX512 static void lanes_tree_images(__m512d tree[2], const __m512 acc[BN_LANES])
{
    __m512d d8[2][8];
    for (int j = 0; j < 8; j++)
        for (int h = 0; h < 2; h++) {
            const __m256 a = h ? simd_high_half(acc[j]) : _mm512_castps512_ps256(acc[j]);
            const __m256 b = h ? simd_high_half(acc[j + 8]) : _mm512_castps512_ps256(acc[j + 8]);
            d8[h][j] = _mm512_add_pd(_mm512_cvtps_pd(a), _mm512_cvtps_pd(b));
        }
    for (int h = 0; h < 2; h++) {
        __m512d d4[4], d2[2];
        for (int j = 0; j < 4; j++)
            d4[j] = _mm512_add_pd(d8[h][j], d8[h][j + 4]);
        for (int j = 0; j < 2; j++)
            d2[j] = _mm512_add_pd(d4[j], d4[j + 2]);
        tree[h] = _mm512_add_pd(d2[0], d2[1]);
    }
}

/* plane_moments512 of 16 interleaved planes: acc[j] gathers what its
 * lane j gathers, for every image at once. */
SIMD_AVX512 static void interleaved_moments512(double *moments, size_t stride, const float *x,
                                               int hw, int valid)
{
    const int full = hw / BN_LANES, rest = hw % BN_LANES;
    const float *xt = x + (size_t)full * BN_LANES * BN_LANES;
    __m512 acc[BN_LANES];
    for (int j = 0; j < BN_LANES; j++)
        acc[j] = _mm512_setzero_ps();
    for (int i = 0; i < full; i++)
        for (int j = 0; j < BN_LANES; j++)
            acc[j] = _mm512_add_ps(acc[j], _mm512_loadu_ps(x + ((size_t)i * BN_LANES + j) * BN_LANES));
    for (int j = 0; j < rest; j++)
        acc[j] = _mm512_add_ps(acc[j], _mm512_loadu_ps(xt + (size_t)j * BN_LANES));
    __m512d sum[2];
    lanes_tree_images(sum, acc);
    /* plane_centre: (float)(sum / hw) */
    const __m512d hwd = _mm512_set1_pd((double)hw);
    const __m256 m_lo = _mm512_cvtpd_ps(_mm512_div_pd(sum[0], hwd));
    const __m256 m_hi = _mm512_cvtpd_ps(_mm512_div_pd(sum[1], hwd));
    const __m512 m = _mm512_castpd_ps(_mm512_insertf64x4(
        _mm512_castps_pd(_mm512_castps256_ps512(m_lo)), _mm256_castps_pd(m_hi), 1));
    for (int j = 0; j < BN_LANES; j++)
        acc[j] = _mm512_setzero_ps();
    for (int i = 0; i < full; i++)
        for (int j = 0; j < BN_LANES; j++) {
            const __m512 d =
                _mm512_sub_ps(_mm512_loadu_ps(x + ((size_t)i * BN_LANES + j) * BN_LANES), m);
            acc[j] = _mm512_fmadd_ps(d, d, acc[j]);
        }
    for (int j = 0; j < rest; j++) {
        const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(xt + (size_t)j * BN_LANES), m);
        acc[j] = _mm512_fmadd_ps(d, d, acc[j]);
    }
    __m512d sq[2];
    lanes_tree_images(sq, acc);
    double s[BN_LANES], q[BN_LANES];
    _mm512_storeu_pd(s, sum[0]);
    _mm512_storeu_pd(s + 8, sum[1]);
    _mm512_storeu_pd(q, sq[0]);
    _mm512_storeu_pd(q + 8, sq[1]);
    for (int l = 0; l < valid; l++) {
        moments[(size_t)l * stride] = s[l];
        moments[(size_t)l * stride + 1] = q[l];
    }
}
#endif

void batchnorm_interleaved_moments(double *moments, size_t stride, const float *x, int hw,
                                   int valid)
{
    assert(valid >= 0 && valid <= BN_LANES);
#ifdef SIMD_HAVE_AVX512
    if (simd_avx512()) {
        interleaved_moments512(moments, stride, x, hw, valid);
        return;
    }
#endif
    (void)moments, (void)stride, (void)x, (void)hw, (void)valid;
    assert(!"interleaved planes need AVX-512");
}

void batchnorm_plane_moments(double *moments, const float *x, int hw)
{
#ifdef SIMD_HAVE_AVX512
    if (simd_avx512()) {
        plane_moments512(moments, x, hw);
        return;
    }
#endif
    const double sum = plane_sum(x, hw);
    moments[0] = sum;
    moments[1] = plane_sqdev(x, hw, plane_centre(sum, hw));
}

/* A channel's statistics, merged a plane at a time in image order (Chan
 * et al.'s pairwise update, in double). Planes all have hw values: after
 * k of them the mean moves by delta / k, so the reciprocals are known
 * ahead and no division sits on the chain from plane to plane. */
struct channel_moments {
    int planes;
    double mean, m2;
};

/* Merges a plane of hw values with moments {s, q}: q is about the plane's
 * centre a, and sum (x - mu)^2 = q - hw (mu - a)^2 about its mean mu. */
static inline void channel_merge(struct channel_moments *c, const double *moments, int hw)
{
    const double s = moments[0], mu = s / hw, a = (double)plane_centre(s, hw);
    const double m2 = moments[1] - hw * (mu - a) * (mu - a);
    const double k = (double)++c->planes, inv = 1.0 / k, delta = mu - c->mean;
    c->mean += delta * inv;
    c->m2 += m2 + delta * delta * (hw * (k - 1.0) * inv);
}

/* The map a training-mode forward applied to channel ch: the backward
 * recomputes its ReLU's mask from the input with it (reading the output
 * for it would be a third stream over memory). One function for both, so
 * that both round alike. */
static inline __attribute__((always_inline)) void
train_affine(float *scale, float *shift, const float *gamma, const float *beta, const float *mean,
             const float *var, float eps, int ch)
{
    *scale = gamma[ch] / sqrtf(var[ch] + eps);
    *shift = beta[ch] - mean[ch] * *scale;
}

/* A channel's batch statistics from its merged moments. */
static void channel_stats(float *mean, float *var, int ch, const struct channel_moments *c,
                          int hw)
{
    mean[ch] = (float)c->mean;
    var[ch] = (float)(c->m2 / ((double)c->planes * hw));
}

/* Normalises channels [c0, c1) of images [i0, i1) with their batch
 * statistics, image by image: a channel's planes are a whole image apart,
 * each a few cache lines on a page of its own, which the hardware
 * prefetchers do not follow, while an image's planes of the range are
 * one run of memory. */
static void range_affine(float *out, const float *inp, const float *gamma, const float *beta,
                         const float *mean, const float *var, float eps, const struct bn_shape *s,
                         size_t c0, size_t c1, size_t i0, size_t i1)
{
    enum { CHUNK = 64 };
    const size_t chw = (size_t)s->c * s->hw;
    for (size_t k0 = c0; k0 < c1; k0 += CHUNK) {
        const size_t k1 = c1 - k0 < CHUNK ? c1 : k0 + CHUNK;
        float scale[CHUNK], shift[CHUNK];
        for (size_t ch = k0; ch < k1; ch++)
            train_affine(&scale[ch - k0], &shift[ch - k0], gamma, beta, mean, var, eps, (int)ch);
        for (size_t img = i0; img < i1; img++)
            for (size_t ch = k0; ch < k1; ch++) {
                const size_t at = img * chw + ch * s->hw;
                affine_plane(out + at, inp + at, s->hw, scale[ch - k0], shift[ch - k0], s->relu);
            }
    }
}

/* Images [begin, end), every channel: when the statistics are known
 * before the pass, it takes the images its thread's range holds, as the
 * producers that run over images wrote them. */
static void image_affine(float *out, const float *inp, const float *gamma, const float *beta,
                         const float *mean, const float *var, float eps, const struct bn_shape *s,
                         int t, size_t begin, size_t end)
{
    (void)t;
    range_affine(out, inp, gamma, beta, mean, var, eps, s, 0, (size_t)s->c, begin, end);
}

/* Channels [begin, end), their planes' moments taken here. */
static void train_channels(float *out, float *mean, float *var, const float *inp,
                           const float *gamma, const float *beta, float eps,
                           const struct bn_shape *s, int t, size_t begin, size_t end)
{
    (void)t;
    const size_t chw = (size_t)s->c * s->hw;
    for (int ch = (int)begin; ch < (int)end; ch++) {
        struct channel_moments c = {0};
        for (int img = 0; img < s->n; img++) {
            double m[2];
            batchnorm_plane_moments(m, inp + img * chw + (size_t)ch * s->hw, s->hw);
            channel_merge(&c, m, s->hw);
        }
        channel_stats(mean, var, ch, &c, s->hw);
    }
    range_affine(out, inp, gamma, beta, mean, var, eps, s, begin, end, 0, (size_t)s->n);
}

/* The statistics of channels [begin, end) from their planes' moments. */
static void merge_channels(float *mean, float *var, const double *moments,
                           const struct bn_shape *s, size_t begin, size_t end)
{
    for (int ch = (int)begin; ch < (int)end; ch++) {
        struct channel_moments c = {0};
        for (int img = 0; img < s->n; img++)
            channel_merge(&c, moments + 2 * ((size_t)img * s->c + ch), s->hw);
        channel_stats(mean, var, ch, &c, s->hw);
    }
}

static void stats_channels(float *mean, float *var, const double *moments,
                           const struct bn_shape *s, int t, size_t begin, size_t end)
{
    (void)t;
    merge_channels(mean, var, moments, s, begin, end);
}

void batchnorm_train_map(float *scale, float *shift, const float *gamma, const float *beta,
                         const float *mean, const float *var, float eps, int c)
{
    for (int ch = 0; ch < c; ch++)
        train_affine(&scale[ch], &shift[ch], gamma, beta, mean, var, eps, ch);
}

void batchnorm_moments_stats(float *mean, float *var, const double *moments,
                             const struct bn_shape *s)
{
    assert(s->n > 0 && s->hw > 0);
    PARALLEL_RANGES((size_t)s->c, 1, stats_channels, mean, var, moments, s);
}

void batchnorm_train_apply(float *out, const float *inp, const float *gamma, const float *beta,
                           const float *mean, const float *var, float eps,
                           const struct bn_shape *layout)
{
    assert(layout->n > 0 && layout->hw > 0);
    PARALLEL_RANGES((size_t)layout->n, 1, image_affine, out, inp, gamma, beta, mean, var, eps,
                    layout);
}

void batchnorm_forward_train_moments(float *out, float *mean, float *var, const float *inp,
                                     const double *moments, const float *gamma,
                                     const float *beta, float eps, const struct bn_shape *s)
{
    batchnorm_moments_stats(mean, var, moments, s);
    batchnorm_train_apply(out, inp, gamma, beta, mean, var, eps, s);
}

void batchnorm_forward_train(float *out, float *mean, float *var,
                             const float *inp, const float *gamma,
                             const float *beta, float eps,
                             const struct bn_shape *s)
{
    assert(s->n > 0 && s->hw > 0);
    PARALLEL_RANGES((size_t)s->c, 1, train_channels, out, mean, var, inp, gamma, beta, eps, s);
}

/* The forward's ReLU on a channel: off, or its map. */
struct relu_mask {
    int on;
    float scale, shift;
};

/* The gradient reaching the BN through its ReLU: dy where the output,
 * affine_plane's x * scale + shift, is positive. Inlined into the kernels
 * below with `on` known, so that each loop compiles branch-free. */
static inline __attribute__((always_inline)) float through_relu(float dy, float x,
                                                                const struct relu_mask *r, int on)
{
    return !on || x * r->scale + r->shift > 0.0f ? dy : 0.0f;
}

/* A plane's sums of dy and of dy * (x - m), in lanes added as lanes_tree:
 * sums[0], sums[1]. */
static inline __attribute__((always_inline)) void
grad_sums(double *restrict sums, const float *restrict dy, const float *restrict x, int hw,
          float m, const struct relu_mask *r, int on)
{
    float a[BN_LANES] = {0}, b[BN_LANES] = {0};
    int i = 0;
    for (; i + BN_LANES <= hw; i += BN_LANES)
        for (int j = 0; j < BN_LANES; j++) {
            float g = through_relu(dy[i + j], x[i + j], r, on);
            a[j] += g;
            b[j] += g * (x[i + j] - m);
        }
    for (int j = 0; i + j < hw; j++) {
        float g = through_relu(dy[i + j], x[i + j], r, on);
        a[j] += g;
        b[j] += g * (x[i + j] - m);
    }
    sums[0] = lanes_tree(a);
    sums[1] = lanes_tree(b);
}

SIMD_KERNEL
static void plane_grad_sums_c(double *sums, const float *dy, const float *x, int hw, float m,
                              const struct relu_mask *r)
{
    if (r->on)
        grad_sums(sums, dy, x, hw, m, r, 1);
    else
        grad_sums(sums, dy, x, hw, m, r, 0);
}

/* dx (+)= k * (dy - mean_dy) - c * (x - m) */
static inline __attribute__((always_inline)) void
grad_input(float *restrict dx, const float *restrict dy, const float *restrict x, int hw, float m,
           float k, float mean_dy, float c, const struct relu_mask *r, int on, int overwrite)
{
    for (int i = 0; i < hw; i++) {
        float g = k * (through_relu(dy[i], x[i], r, on) - mean_dy) - c * (x[i] - m);
        dx[i] = overwrite ? g : dx[i] + g;
    }
}

SIMD_KERNEL
static void plane_grad_input_c(float *dx, const float *dy, const float *x, int hw, float m,
                               float k, float mean_dy, float c, const struct relu_mask *r,
                               int overwrite)
{
    if (r->on && overwrite)
        grad_input(dx, dy, x, hw, m, k, mean_dy, c, r, 1, 1);
    else if (r->on)
        grad_input(dx, dy, x, hw, m, k, mean_dy, c, r, 1, 0);
    else if (overwrite)
        grad_input(dx, dy, x, hw, m, k, mean_dy, c, r, 0, 1);
    else
        grad_input(dx, dy, x, hw, m, k, mean_dy, c, r, 0, 0);
}

#ifdef SIMD_HAVE_AVX512
/* through_relu on 16 lanes, with the forward's fused multiply-add. */
static inline __attribute__((always_inline)) SIMD_AVX512 __m512
through_relu512(__m512 dy, __m512 x, const struct relu_mask *r)
{
    if (!r->on)
        return dy;
    const __m512 v = _mm512_fmadd_ps(x, _mm512_set1_ps(r->scale), _mm512_set1_ps(r->shift));
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), dy);
}

/* plane_grad_sums_c in vectors, the tail masked into the first lanes
 * (the C loops spill their lanes to the stack for a scalar tail, which a
 * 7x7 plane pays on every one of its 49 pixels' worth). */
SIMD_AVX512 static void plane_grad_sums512(double *sums, const float *dy, const float *x, int hw,
                                           float m, const struct relu_mask *r)
{
    const int full = hw / BN_LANES, rest = hw % BN_LANES;
    const __mmask16 tail = simd_first_lanes(rest);
    const __m512 mv = _mm512_set1_ps(m);
    __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
    for (int i = 0; i < full; i++) {
        const __m512 xv = _mm512_loadu_ps(x + (size_t)i * BN_LANES);
        const __m512 g = through_relu512(_mm512_loadu_ps(dy + (size_t)i * BN_LANES), xv, r);
        a = _mm512_add_ps(a, g);
        b = _mm512_fmadd_ps(g, _mm512_sub_ps(xv, mv), b);
    }
    if (rest) {
        const size_t at = (size_t)full * BN_LANES;
        const __m512 xv = _mm512_maskz_loadu_ps(tail, x + at);
        const __m512 g = through_relu512(_mm512_maskz_loadu_ps(tail, dy + at), xv, r);
        a = _mm512_mask_add_ps(a, tail, a, g);
        b = _mm512_mask3_fmadd_ps(g, _mm512_sub_ps(xv, mv), b, tail);
    }
    sums[0] = lanes_tree512(a);
    sums[1] = lanes_tree512(b);
}

SIMD_AVX512 static void plane_grad_input512(float *dx, const float *dy, const float *x, int hw,
                                            float m, float k, float mean_dy, float c,
                                            const struct relu_mask *r, int overwrite)
{
    const __m512 mv = _mm512_set1_ps(m), kv = _mm512_set1_ps(k);
    const __m512 mdy = _mm512_set1_ps(mean_dy), cv = _mm512_set1_ps(c);
    for (int i = 0; i < hw; i += BN_LANES) {
        const __mmask16 l = simd_first_lanes(hw - i);
        const __m512 xv = _mm512_maskz_loadu_ps(l, x + i);
        const __m512 g = through_relu512(_mm512_maskz_loadu_ps(l, dy + i), xv, r);
        __m512 v = _mm512_fnmadd_ps(cv, _mm512_sub_ps(xv, mv),
                                    _mm512_mul_ps(kv, _mm512_sub_ps(g, mdy)));
        if (!overwrite)
            v = _mm512_add_ps(_mm512_maskz_loadu_ps(l, dx + i), v);
        _mm512_mask_storeu_ps(dx + i, l, v);
    }
}
#endif

static void plane_grad_sums(double *sums, const float *dy, const float *x, int hw, float m,
                            const struct relu_mask *r)
{
#ifdef SIMD_HAVE_AVX512
    if (simd_avx512()) {
        plane_grad_sums512(sums, dy, x, hw, m, r);
        return;
    }
#endif
    plane_grad_sums_c(sums, dy, x, hw, m, r);
}

static void plane_grad_input(float *dx, const float *dy, const float *x, int hw, float m, float k,
                             float mean_dy, float c, const struct relu_mask *r, int overwrite)
{
#ifdef SIMD_HAVE_AVX512
    if (simd_avx512()) {
        plane_grad_input512(dx, dy, x, hw, m, k, mean_dy, c, r, overwrite);
        return;
    }
#endif
    plane_grad_input_c(dx, dy, x, hw, m, k, mean_dy, c, r, overwrite);
}

/* The backward pass runs image by image, as the passes that write its
 * output gradient and read its input gradient do: a thread reads back
 * what it wrote, mostly from its own cache, and an image is one run of
 * memory (range_affine). First the sums of each plane, into a table of
 * them; then each channel's sums over the batch, from the table in image
 * order, so that the bits depend on neither the thread count nor the
 * vector width; then, in batchnorm_backward, the input gradient. */

/* The coefficients that need no sums: k = gamma / sqrt(var + eps) and
 * the forward's ReLU map (coef's layout: batchnorm_backward_sums in
 * batchnorm.h). */
static void grad_coefs(float *coef, const float *gamma, const float *beta, const float *mean,
                       const float *var, float eps, int c)
{
    for (int ch = 0; ch < c; ch++) {
        train_affine(&coef[3 * c + ch], &coef[4 * c + ch], gamma, beta, mean, var, eps, ch);
        coef[ch] = gamma[ch] * (1.0f / sqrtf(var[ch] + eps));
    }
}

static struct relu_mask grad_relu(const float *coef, int relu, int c, int ch)
{
    return (struct relu_mask){relu, coef[3 * c + ch], coef[4 * c + ch]};
}

/* Images [begin, end): each plane's two sums (grad_sums) at
 * planes + 2 (img C + ch). */
static void image_sums(double *planes, const float *dout, const float *inp, const float *coef,
                       const float *mean, const struct bn_shape *s, int t, size_t begin,
                       size_t end)
{
    (void)t;
    const size_t c = (size_t)s->c, chw = c * s->hw;
    for (size_t img = begin; img < end; img++)
        for (size_t ch = 0; ch < c; ch++) {
            const struct relu_mask r = grad_relu(coef, s->relu, s->c, (int)ch);
            const size_t at = img * chw + ch * s->hw;
            plane_grad_sums(planes + 2 * (img * c + ch), dout + at, inp + at, s->hw, mean[ch], &r);
        }
}

/* Channels are merged a chunk at a time, image by image: a row of the
 * table per image. */
enum { GRAD_CHUNK = 32 };

/* Channels [begin, end): their planes' sums added in image order, then
 * dgamma and dbeta (+=) and the coefficients that need the sums. */
static void merge_sums(float *coef, float *dgamma, float *dbeta, const double *planes,
                       const float *var, float eps, const struct bn_shape *s, int t,
                       size_t begin, size_t end)
{
    (void)t;
    const size_t c = (size_t)s->c;
    const double count = (double)s->n * s->hw;
    for (size_t c0 = begin; c0 < end; c0 += GRAD_CHUNK) {
        const size_t nc = end - c0 < GRAD_CHUNK ? end - c0 : GRAD_CHUNK;
        double sum_dy[GRAD_CHUNK] = {0}, sum_dy_xm[GRAD_CHUNK] = {0};
        for (int img = 0; img < s->n; img++) {
            const double *row = planes + 2 * ((size_t)img * c + c0);
            for (size_t j = 0; j < nc; j++) {
                sum_dy[j] += row[2 * j];
                sum_dy_xm[j] += row[2 * j + 1];
            }
        }
        for (size_t j = 0; j < nc; j++) {
            const size_t ch = c0 + j;
            const float rstd = 1.0f / sqrtf(var[ch] + eps);
            const double sum_dy_xhat = sum_dy_xm[j] * (double)rstd;
            dgamma[ch] += (float)sum_dy_xhat;
            dbeta[ch] += (float)sum_dy[j];
            /* dx = gamma*rstd * (dy - mean(dy) - xhat * mean(dy*xhat)),
             * xhat = (x - m) * rstd */
            coef[c + ch] = (float)(sum_dy[j] / count);
            coef[2 * c + ch] = coef[ch] * rstd * (float)(sum_dy_xhat / count);
        }
    }
}

void batchnorm_backward_sums(float *coef, double *planes, float *dgamma, float *dbeta,
                             const float *dout, const float *inp, const float *gamma,
                             const float *beta, const float *mean, const float *var, float eps,
                             const struct bn_shape *s)
{
    grad_coefs(coef, gamma, beta, mean, var, eps, s->c);
    PARALLEL_RANGES((size_t)s->n, 1, image_sums, planes, dout, inp, coef, mean, s);
    PARALLEL_RANGES((size_t)s->c, 1, merge_sums, coef, dgamma, dbeta, planes, var, eps, s);
}

/* Channels [c0, c0 + nc) of one image's input gradient, written, or
 * added to the planes' values when !overwrite. */
static void channels_grad(float *dinp, const float *dout, const float *inp,
                          const struct bn_backward_map *b, int c0, int nc, int overwrite)
{
    assert(c0 >= 0 && c0 + nc <= b->c);
    const size_t c = (size_t)b->c;
    for (int ch = c0; ch < c0 + nc; ch++) {
        const float *q = b->coef + ch;
        const struct relu_mask r = grad_relu(b->coef, b->relu, b->c, ch);
        const size_t at = (size_t)(ch - c0) * b->hw;
        plane_grad_input(dinp + at, dout + at, inp + at, b->hw, b->mean[ch], q[0], q[c],
                         q[2 * c], &r, overwrite);
    }
}

/* Images [begin, end) of the input gradient. */
static void image_grads(float *dinp, const float *dout, const float *inp,
                        const struct bn_backward_map *b, int overwrite, int t, size_t begin,
                        size_t end)
{
    (void)t;
    const size_t chw = (size_t)b->c * b->hw;
    for (size_t img = begin; img < end; img++)
        channels_grad(dinp + img * chw, dout + img * chw, inp + img * chw, b, 0, b->c, overwrite);
}

void batchnorm_backward(float *dinp, float *dgamma, float *dbeta, float *coef, double *planes,
                        const float *dout, const float *inp, const float *gamma, const float *beta,
                        const float *mean, const float *var, float eps, const struct bn_shape *s)
{
    batchnorm_backward_sums(coef, planes, dgamma, dbeta, dout, inp, gamma, beta, mean, var, eps,
                            s);
    const struct bn_backward_map map = {coef, mean, s->c, s->hw, s->relu};
    if (dinp != NULL)
        PARALLEL_RANGES((size_t)s->n, 1, image_grads, dinp, dout, inp, &map, s->overwrite);
}

void batchnorm_backward_image(float *dinp, const float *dout, const float *inp,
                              const struct bn_backward_map *b, int c0, int nc)
{
    channels_grad(dinp, dout, inp, b, c0, nc, 1);
}

void batchnorm_running_update(float *running_mean, float *running_var,
                              const float *mean, const float *var, int c,
                              long count, float momentum)
{
    assert(count > 1);
    const float unbias = (float)count / (float)(count - 1);
    for (int ch = 0; ch < c; ch++) {
        running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * mean[ch];
        running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * var[ch] * unbias;
    }
}

static void eval_affine(float *scale, float *shift, const float *gamma, const float *beta,
                        const float *running_mean, const float *running_var, float eps, int ch)
{
    *scale = gamma[ch] / sqrtf(running_var[ch] + eps);
    *shift = beta[ch] - running_mean[ch] * *scale;
}

void batchnorm_eval_affine(float *scale, float *shift, const float *gamma, const float *beta,
                           const float *running_mean, const float *running_var, float eps,
                           int c)
{
    for (int ch = 0; ch < c; ch++)
        eval_affine(&scale[ch], &shift[ch], gamma, beta, running_mean, running_var, eps, ch);
}

static void eval_channels(float *out, const float *inp, const float *gamma, const float *beta,
                          const float *running_mean, const float *running_var, float eps,
                          const struct bn_shape *s, int t, size_t begin, size_t end)
{
    (void)t;
    const size_t chw = (size_t)s->c * s->hw;
    for (int ch = (int)begin; ch < (int)end; ch++) {
        float scale, shift;
        eval_affine(&scale, &shift, gamma, beta, running_mean, running_var, eps, ch);
        for (int img = 0; img < s->n; img++)
            affine_plane(out + img * chw + (size_t)ch * s->hw, inp + img * chw + (size_t)ch * s->hw,
                         s->hw, scale, shift, s->relu);
    }
}

void batchnorm_forward_eval(float *out, const float *inp, const float *gamma,
                            const float *beta, const float *running_mean,
                            const float *running_var, float eps,
                            const struct bn_shape *s)
{
    PARALLEL_RANGES((size_t)s->c, 1, eval_channels, out, inp, gamma, beta, running_mean,
                    running_var, eps, s);
}

void batchnorm_calib_reset(struct bn_calib *calib, int c)
{
    for (int ch = 0; ch < c; ch++) {
        calib->mean[ch] = 0.0;
        calib->m2[ch] = 0.0;
    }
    calib->count = 0;
}

void batchnorm_calib_accumulate(struct bn_calib *calib, const float *mean,
                                const float *var, int c, long count)
{
    assert(count > 0);
    const double na = (double)calib->count, nb = (double)count, n = na + nb;
    for (int ch = 0; ch < c; ch++) {
        double delta = (double)mean[ch] - calib->mean[ch];
        calib->mean[ch] += delta * nb / n;
        calib->m2[ch] += (double)var[ch] * nb + delta * delta * na * nb / n;
    }
    calib->count += count;
}

void batchnorm_calib_finalize(float *running_mean, float *running_var,
                              const struct bn_calib *calib, int c)
{
    assert(calib->count > 1);
    for (int ch = 0; ch < c; ch++) {
        running_mean[ch] = (float)calib->mean[ch];
        running_var[ch] = (float)(calib->m2[ch] / (double)(calib->count - 1));
    }
}
