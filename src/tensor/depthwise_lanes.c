/*
 * depthwise_lanes.c - depthwise forward with 16 channels per vector.
 *
 * The plane kernel (conv2d_depthwise.c) computes a whole output plane as
 * one wide vector, which on the 7x7 planes of late stages wastes about
 * half its lanes on the padding columns. Here a vector holds one pixel of
 * 16 channels instead: the channels' planes are transposed into a padded
 * pixel-major tile, every output pixel is k*k full-width multiply-adds
 * (fewer where the taps on the border are skipped: taps_window and
 * taps_stride2; a row of up to 8 pixels shares each tap's weights), and
 * the result is
 * transposed back into planes. Taps are added in the same order, with the
 * same fused multiply-add, as the plane kernel: the bits are the same.
 *
 * The backward pass (odd kernels padded by half) works on the same tiles:
 * at stride 1 the output gradient, transposed into a tile like the
 * input's, is what the input gradient is a forward pass of (with the taps
 * flipped); at stride 2 each output pixel's gradient is scattered through
 * the taps into the input gradient's tile. Each tap's weight gradient is
 * a dot product of the output gradient and the input tile over the output
 * pixels. The plane kernel's padded phase planes, copied in and out per
 * plane, were a third of its cost.
 */
#include "alloc.h"
#include "conv2d_depthwise.h"
#include "batchnorm.h"
#include "simd.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "parallel.h"

#ifdef SIMD_HAVE_AVX512
#include <omp.h>

#include "transpose.h"
#endif

/* MAX_WINDOW_K: the largest kernel taps_window keeps a row of in
 * registers (the spaces' 7). */
enum { LANES = 16, ROW = 8, MAX_WINDOW_K = 7 };

/* The output pixels a row block takes: 7 where that divides the row (the
 * spaces' 7, 14 and 28), so that no block computes a pixel past the row's
 * end; ROW otherwise. */
static inline int row_block(int ow)
{
    return ow % 7 == 0 ? 7 : ROW;
}

struct lanes_geom {
    int k, s, pad, h, w, oh, ow, hp, wp;
    size_t tile, out;  /* floats of the padded input tile, of the output */
};

static struct lanes_geom lanes_geom(const struct conv2d_shape *s)
{
    struct lanes_geom g = {.k = s->k, .s = s->stride, .pad = s->pad, .h = s->h, .w = s->w,
                           .oh = conv2d_out_h(s), .ow = conv2d_out_w(s)};
    g.hp = g.h + 2 * g.pad;
    g.wp = g.w + 2 * g.pad;
    g.tile = (size_t)g.hp * g.wp * LANES;
    g.out = (size_t)g.oh * g.ow * LANES;
    return g;
}

/* Whether the backward runs here: an odd kernel padded by half of it. */
static int lanes_backward_fits(const struct conv2d_shape *s)
{
    return s->k % 2 == 1 && 2 * s->pad == s->k - 1;
}

/* Floats of one range's partial weight gradient in the backward pass:
 * taps lanes per group of 16 channels. */
static size_t partial_floats(const struct conv2d_shape *s)
{
    return floats_whole_lines((size_t)(s->cin + LANES - 1) / LANES * (size_t)(s->k * s->k) * LANES);
}

size_t depthwise_lanes_scratch_floats(const struct conv2d_shape *s)
{
    const struct lanes_geom g = lanes_geom(s);
    const size_t taps = (size_t)g.k * g.k * LANES, pos = (size_t)g.h * g.w;
    /* the tile, the output, the taps, the tile's pixel positions */
    const size_t forward = g.tile + g.out + taps + pos;
    /* and the output gradient's tile (or the input gradient's), every
     * group's flipped taps, the ranges' partial weight gradients, a
     * group's output gradient from the BN after it (dout_bn) */
    const size_t backward = lanes_backward_fits(s)
                                ? 2 * g.tile + g.out + partial_floats(s) + pos
                                      + PARALLEL_RANGES_PER_THREAD * partial_floats(s)
                                      + (size_t)LANES * g.oh * g.ow
                                : 0;
    return floats_whole_lines(forward > backward ? forward : backward);
}

size_t depthwise_interleaved_scratch_floats(const struct conv2d_shape *s)
{
    const struct lanes_geom g = lanes_geom(s);
    /* the tile, the taps, the affine map's scale and shift */
    return floats_whole_lines(g.tile + (size_t)g.k * g.k * LANES + 2 * LANES);
}

#ifdef SIMD_HAVE_AVX512
/* The taps of channels [c0, c0 + nc) as k*k vectors (zero past nc). */
static void weights_in(float *wt, const float *weight, size_t ldw, int c0, int nc, int taps)
{
    for (int t = 0; t < taps; t++)
        for (int l = 0; l < LANES; l++)
            wt[t * LANES + l] = l < nc ? weight[(size_t)(c0 + l) * ldw + t] : 0.0f;
}

/* Where each pixel q of a plane lands in the padded tile (hw entries). */
static void tile_pixels(int *pos, const struct lanes_geom *g)
{
    for (int q = 0; q < g->h * g->w; q++)
        pos[q] = ((q / g->w + g->pad) * g->wp + q % g->w + g->pad) * LANES;
}

/* Pixel q of a tile of pixel-major lanes: at pos[q], or compact (pos
 * NULL). */
static inline size_t tile_at(const int *pos, int q)
{
    return pos ? (size_t)pos[q] : (size_t)q * LANES;
}

/* nc planes of hw pixels into a tile, 16 channels by 16 pixels at a time
 * through registers (lanes past nc get zeros; only their own lanes of the
 * results depend on them, and those are never stored), through the map of
 * channels [c0, c0 + nc) when `map` is not NULL (conv2d_shape.in_map:
 * affine_plane's FMA and its v > 0 ? v : 0). A padded tile's border stays
 * as the caller zeroed it. */
SIMD_AVX512 static void planes_in(float *tile, const float *x, int nc, int hw, const int *pos,
                                  const struct conv2d_epilogue *map, int c0)
{
    for (int q = 0; q < hw; q += 16) {
        const __mmask16 m = simd_first_lanes(hw - q);
        __m512 r[16];
#pragma GCC unroll 16
        for (int l = 0; l < 16; l++) {
            r[l] = l < nc ? _mm512_maskz_loadu_ps(m, x + (size_t)l * hw + q) : _mm512_setzero_ps();
            if (map && l < nc) {
                r[l] = _mm512_fmadd_ps(r[l], _mm512_set1_ps(map->scale[c0 + l]),
                                       _mm512_set1_ps(map->shift[c0 + l]));
                if (map->relu)
                    r[l] = _mm512_max_ps(r[l], _mm512_setzero_ps());
            }
        }
        transpose16(r);
        const int np = hw - q < 16 ? hw - q : 16;
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            if (i < np)
                _mm512_storeu_ps(tile + tile_at(pos, q + i), r[i]);
    }
}

/* A tile's pixels (lanes [0, nc)) back into nc planes of hw pixels, the
 * same way round; added to the planes' values when add. */
SIMD_AVX512 static void planes_out(float *y, const float *res, int nc, int hw, int add,
                                   const int *pos)
{
    for (int q = 0; q < hw; q += 16) {
        const int np = hw - q < 16 ? hw - q : 16;
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            r[i] = i < np ? _mm512_loadu_ps(res + tile_at(pos, q + i)) : _mm512_setzero_ps();
        transpose16(r);
        const __mmask16 m = simd_first_lanes(hw - q);
#pragma GCC unroll 16
        for (int l = 0; l < 16; l++)
            if (l < nc) {
                float *dst = y + (size_t)l * hw + q;
                _mm512_mask_storeu_ps(
                    dst, m, add ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), r[l]) : r[l]);
            }
    }
}

/* acc[x] += every tap's weight times the tile under it, for output pixels
 * (oy, ox0 + x), x < nx, taps in order (ky, then kx). */
static inline __attribute__((always_inline)) SIMD_AVX512 void
taps_strided(__m512 *acc, const float *tile, const float *wt, int oy, int ox0, int nx,
             const int row, const struct lanes_geom *g)
{
    const size_t step = (size_t)g->s * LANES;
    for (int ky = 0; ky < g->k; ky++)
        for (int kx = 0; kx < g->k; kx++) {
            const __m512 wv = _mm512_loadu_ps(wt + (size_t)(ky * g->k + kx) * LANES);
            const float *src =
                tile + ((size_t)(oy * g->s + ky) * g->wp + (size_t)ox0 * g->s + kx) * LANES;
#pragma GCC unroll 8
            for (int x = 0; x < row; x++)
                if (x < nx)
                    acc[x] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(src + x * step), acc[x]);
        }
}

/* The same at stride 1 for a kernel of k (a constant where inlined): a
 * tile row's nx + k - 1 pixels are loaded once into registers and serve
 * every kx, instead of a load per multiply-add (with two FMA units, loads
 * were the limit). The same multiply-adds in the same order. `direct`: src
 * is the input plane itself, unpadded, and the window takes zeros where
 * the tile has its border columns (border rows are never loaded).
 *
 * A multiply-add whose input pixel is in the border is skipped: the rows
 * of taps above or below the plane, and with `left` or `right` (constants:
 * a padding of k / 2 and blocks of whole sevenths of the row, row_block)
 * the columns left of the row's first block and right of its last. On a
 * 7 x 7 plane that is nearly a third of a 5 x 5 kernel's multiply-adds
 * and 43% of a 7 x 7's. Adding w * 0 changes a nonzero accumulator in
 * nothing, nor one at +0, where every accumulator starts: the bits are the
 * same for finite weights, but for the sign of a zero output whose every
 * product underflowed below the smallest subnormal (such a product rounds
 * to a zero of its own sign, which a skipped w * 0 might have flipped). */
static inline __attribute__((always_inline)) SIMD_AVX512 void
taps_window(__m512 *acc, const float *src, const float *wt, int oy, int ox0, int nx, const int k,
            const int row, const int direct, const int left, const int right,
            const struct lanes_geom *g)
{
    for (int ky = 0; ky < k; ky++) {
        const int iy = oy + ky - g->pad, ix0 = ox0 - g->pad;
        if (iy < 0 || iy >= g->h)
            continue;   /* a row of the border */
        __m512 win[ROW + MAX_WINDOW_K - 1];
#pragma GCC unroll 14
        for (int i = 0; i < row + k - 1; i++) {
            const size_t at = direct ? (size_t)iy * g->w + (size_t)(ix0 + i)
                                     : (size_t)(oy + ky) * g->wp + (size_t)(ox0 + i);
            win[i] = i < nx + k - 1 && (!direct || (ix0 + i >= 0 && ix0 + i < g->w))
                         ? _mm512_loadu_ps(src + at * LANES)
                         : _mm512_setzero_ps();
        }
        /* All `row` pixels, past nx too (on zeros or the row's padding,
         * never stored): a test per multiply-add cost more. */
#pragma GCC unroll 7
        for (int kx = 0; kx < k; kx++) {
            const __m512 wv = _mm512_loadu_ps(wt + (size_t)(ky * k + kx) * LANES);
#pragma GCC unroll 8
            for (int x = 0; x < row; x++) {
                /* (constants once unrolled: left and right are too) */
                if ((left && x + kx < k / 2) || (right && x + kx >= row + k / 2))
                    continue;
                acc[x] = _mm512_fmadd_ps(wv, win[x + kx], acc[x]);
            }
        }
    }
}

/* taps_strided at stride 2 for a kernel of k, padded by k / 2, on a row
 * of whole blocks of `row` (constants where inlined; `row` pixels always
 * valid), skipping the multiply-adds whose input pixel is in the border
 * as taps_window does: the rows above and below the plane, and the
 * columns left of the row's first block (left) and right of its last
 * (right, on a row twice the output's). `direct`: src is the input plane
 * itself, which then is read only inside. */
static inline __attribute__((always_inline)) SIMD_AVX512 void
taps_stride2(__m512 *acc, const float *src, const float *wt, int oy, int ox0, const int k,
             const int row, const int direct, const int left, const int right,
             const struct lanes_geom *g)
{
    const int pad = k / 2;
    for (int ky = 0; ky < k; ky++) {
        const int iy = 2 * oy + ky - pad;
        if (iy < 0 || iy >= g->h)
            continue;   /* a row of the border */
        /* where tap kx of pixel x is at 2 x + kx (one pad left of the
         * plane's first column in place: never read, by the skips) */
        const ptrdiff_t at = direct ? (ptrdiff_t)iy * g->w + 2 * ox0 - pad
                                    : (ptrdiff_t)(iy + pad) * g->wp + 2 * ox0;
#pragma GCC unroll 7
        for (int kx = 0; kx < k; kx++) {
            const __m512 wv = _mm512_loadu_ps(wt + (size_t)(ky * k + kx) * LANES);
#pragma GCC unroll 8
            for (int x = 0; x < row; x++) {
                /* (constants once unrolled) */
                if ((left && 2 * x + kx < pad) || (right && 2 * x + kx - pad >= 2 * row))
                    continue;
                acc[x] = _mm512_fmadd_ps(
                    wv, _mm512_loadu_ps(src + (at + 2 * x + kx) * LANES), acc[x]);
            }
        }
    }
}

/* The taps of the block at ox0 at stride 1 (taps_window) or 2
 * (taps_stride2), its place in the row (left, right) given. */
static inline __attribute__((always_inline)) SIMD_AVX512 void
taps_placed(__m512 *acc, const float *src, const float *wt, int oy, int ox0, int nx, const int k,
            const int row, const int direct, const int stride2, const int left,
            const int right, const struct lanes_geom *g)
{
    if (stride2)
        taps_stride2(acc, src, wt, oy, ox0, k, row, direct, left, right, g);
    else
        taps_window(acc, src, wt, oy, ox0, nx, k, row, direct, left, right, g);
}

/* taps_placed in the variant of the block's place in the row when
 * `edges` (always at stride 2): the row's first block, its last, both or
 * neither, each a compile-time constant of its own copy. */
static inline __attribute__((always_inline)) SIMD_AVX512 void
taps_block(__m512 *acc, const float *src, const float *wt, int oy, int ox0, int nx, const int k,
           const int row, const int direct, const int edges, const int stride2,
           const struct lanes_geom *g)
{
    const int left = edges && ox0 == 0, right = edges && ox0 + row == g->ow;
    if (left && right)
        taps_placed(acc, src, wt, oy, ox0, nx, k, row, direct, stride2, 1, 1, g);
    else if (left)
        taps_placed(acc, src, wt, oy, ox0, nx, k, row, direct, stride2, 1, 0, g);
    else if (right)
        taps_placed(acc, src, wt, oy, ox0, nx, k, row, direct, stride2, 0, 1, g);
    else
        taps_placed(acc, src, wt, oy, ox0, nx, k, row, direct, stride2, 0, 0, g);
}

/* taps_lanes with row blocks of `row` pixels (a constant where inlined). */
static inline __attribute__((always_inline)) SIMD_AVX512 void
taps_rows(float *out, const float *tile, const float *wt, const struct conv2d_epilogue *ep,
          __m512 scale, __m512 shift, const int row, const int direct, const int edges,
          const struct lanes_geom *g)
{
    for (int oy = 0; oy < g->oh; oy++)
        for (int ox0 = 0; ox0 < g->ow; ox0 += row) {
            const int nx = g->ow - ox0 < row ? g->ow - ox0 : row;
            __m512 acc[ROW];
#pragma GCC unroll 8
            for (int x = 0; x < row; x++)
                acc[x] = _mm512_setzero_ps();
            /* (a switch, so that the window's registers have fixed names) */
            switch (g->s == 1 ? g->k : edges ? -g->k : 0) {
            case 3: taps_block(acc, tile, wt, oy, ox0, nx, 3, row, direct, edges, 0, g); break;
            case 5: taps_block(acc, tile, wt, oy, ox0, nx, 5, row, direct, edges, 0, g); break;
            case 7: taps_block(acc, tile, wt, oy, ox0, nx, 7, row, direct, edges, 0, g); break;
            case -3: taps_block(acc, tile, wt, oy, ox0, nx, 3, row, direct, 1, 1, g); break;
            case -5: taps_block(acc, tile, wt, oy, ox0, nx, 5, row, direct, 1, 1, g); break;
            case -7: taps_block(acc, tile, wt, oy, ox0, nx, 7, row, direct, 1, 1, g); break;
            default: taps_strided(acc, tile, wt, oy, ox0, nx, row, g); break;
            }
            float *dst = out + ((size_t)oy * g->ow + ox0) * LANES;
#pragma GCC unroll 8
            for (int x = 0; x < row; x++) {
                if (x >= nx)
                    break;
                __m512 v = acc[x];
                if (ep) {
                    /* affine_plane's FMA and its v > 0 ? v : 0 */
                    v = _mm512_fmadd_ps(v, scale, shift);
                    if (ep->relu)
                        v = _mm512_max_ps(v, _mm512_setzero_ps());
                }
                _mm512_storeu_ps(dst + (size_t)x * LANES, v);
            }
        }
}

/* Whether taps_lanes skips the border's taps by the block's place in the
 * row (taps_window's and taps_stride2's edges): blocks of sevenths, a
 * kernel of 3, 5 or 7 padded by half, and at stride 2 a row twice the
 * output's. */
static int taps_edges(const struct lanes_geom *g)
{
    return row_block(g->ow) == 7 && (g->k == 3 || g->k == 5 || g->k == 7) &&
           g->pad == g->k / 2 && (g->s == 1 || (g->s == 2 && g->w == 2 * g->ow));
}

/* Whether taps_lanes can read an input plane in place (direct): stride 1
 * and a kernel taps_window takes, or stride 2 with taps_edges (no tap
 * read outside the plane). */
static int taps_direct(const struct lanes_geom *g)
{
    return (g->s == 1 && (g->k == 3 || g->k == 5 || g->k == 7)) ||
           (g->s == 2 && taps_edges(g));
}

/* out = the taps over src: the padded tile, or when direct
 * (taps_direct) the input plane itself. */
SIMD_AVX512 static void
taps_lanes(float *out, const float *src, const float *wt, const struct conv2d_epilogue *ep,
           int c0, int nc, int direct, const struct lanes_geom *g)
{
    const __mmask16 m = simd_first_lanes(nc);
    __m512 scale = _mm512_setzero_ps(), shift = _mm512_setzero_ps();
    if (ep) {
        scale = _mm512_maskz_loadu_ps(m, ep->scale + c0);
        shift = _mm512_maskz_loadu_ps(m, ep->shift + c0);
    }
    assert(!direct || taps_direct(g));
    const int seven = row_block(g->ow) == 7, edges = taps_edges(g);
    if (direct && edges)
        taps_rows(out, src, wt, ep, scale, shift, 7, 1, 1, g);
    else if (direct && seven)
        taps_rows(out, src, wt, ep, scale, shift, 7, 1, 0, g);
    else if (direct)
        taps_rows(out, src, wt, ep, scale, shift, ROW, 1, 0, g);
    else if (edges)
        taps_rows(out, src, wt, ep, scale, shift, 7, 0, 1, g);
    else if (seven)
        taps_rows(out, src, wt, ep, scale, shift, 7, 0, 0, g);
    else
        taps_rows(out, src, wt, ep, scale, shift, ROW, 0, 0, g);
}

/* Forward item it (items are group-major): image img's channels [c0,
 * c0 + nc), group grp's. */
struct lanes_item {
    int grp, img, c0, nc;
};

static struct lanes_item lanes_item(const struct conv2d_shape *s, size_t it)
{
    const int grp = (int)(it / (size_t)s->n), c0 = grp * LANES;
    return (struct lanes_item){grp, (int)(it % (size_t)s->n), c0,
                               s->cin - c0 < LANES ? s->cin - c0 : LANES};
}

/* An item's input planes: nc planes of hw pixels. */
static const float *item_planes(const float *inp, const struct lanes_item *item,
                                size_t in_image, size_t hw)
{
    return inp + (size_t)item->img * in_image + (size_t)item->c0 * hw;
}

/* Asks for the input planes of forward item it, into L2: the next item's
 * are an image further on, a jump the hardware prefetchers do not take,
 * and at 2 threads, where the two cores share the memory's bandwidth, the
 * transposes waited for them. */
static void prefetch_item(const float *inp, const struct conv2d_shape *s, size_t it,
                          size_t in_image, size_t hw)
{
    const struct lanes_item item = lanes_item(s, it);
    const char *planes = (const char *)item_planes(inp, &item, in_image, hw);
    for (size_t b = 0; b < (size_t)item.nc * hw * sizeof(float); b += 64)
        __builtin_prefetch(planes + b, 0, 2);
}

/* Items [begin, end) of the forward pass (group-major, so that a thread's
 * items share weights), on thread t's scratch. */
static void lanes_items(float *out, const float *inp, const float *weight,
                        const struct conv2d_shape *s, float *scratch,
                        const struct conv2d_epilogue *ep, int t, size_t begin, size_t end)
{
    const struct lanes_geom g = lanes_geom(s);
    const int c = s->cin, taps = s->k * s->k;
    const size_t ldw = (size_t)s->wcin * taps, hw = (size_t)g.h * g.w;
    const size_t ohw = (size_t)g.oh * g.ow, in_image = conv2d_in_image(s);
    float *tile = scratch + depthwise_lanes_scratch_floats(s) * (size_t)t;
    float *res = tile + g.tile, *wt = res + g.out;
    int *pos = (int *)(wt + (size_t)taps * LANES);
    int have = -1;   /* the group whose weights wt holds */
    const struct conv2d_epilogue *affine = ep && ep->scale ? ep : NULL;
    memset(tile, 0, g.tile * sizeof(float));   /* the border, for good */
    tile_pixels(pos, &g);
    for (size_t it = begin; it < end; it++) {
        const struct lanes_item item = lanes_item(s, it);
        const int img = item.img, c0 = item.c0, nc = item.nc;
        if (item.grp != have) {
            weights_in(wt, weight, ldw, c0, nc, taps);
            have = item.grp;
        }
        if (it + 1 < end)
            prefetch_item(inp, s, it + 1, in_image, hw);
        planes_in(tile, item_planes(inp, &item, in_image, hw), nc, (int)hw, pos, s->in_map, c0);
        taps_lanes(res, tile, wt, affine, c0, nc, 0, &g);
        planes_out(out + ((size_t)img * c + c0) * ohw, res, nc, (int)ohw, 0, NULL);
        conv2d_epilogue_moments(ep, out + ((size_t)img * c + c0) * ohw, (size_t)img, c0, nc, c,
                                (int)ohw);
    }
}

int depthwise_lanes_forward(float *out, const float *inp, const float *weight,
                            const struct conv2d_shape *s, float *scratch,
                            const struct conv2d_epilogue *ep)
{
    if (!simd_avx512())
        return 0;
    const size_t groups = ((size_t)s->cin + LANES - 1) / LANES;
    PARALLEL_RANGES(groups * (size_t)s->n, 1, lanes_items, out, inp, weight, s, scratch, ep);
    return 1;
}

/* dst = src (count floats, a multiple of 16) through channel c's map
 * (conv2d_shape.in_map): affine_plane's FMA and its v > 0 ? v : 0. */
SIMD_AVX512 static void map_row(float *dst, const float *src, size_t count,
                                const struct conv2d_epilogue *map, int c)
{
    const __m512 scale = _mm512_set1_ps(map->scale[c]), shift = _mm512_set1_ps(map->shift[c]);
    for (size_t i = 0; i < count; i += LANES) {
        __m512 v = _mm512_fmadd_ps(_mm512_loadu_ps(src + i), scale, shift);
        if (map->relu)
            v = _mm512_max_ps(v, _mm512_setzero_ps());
        _mm512_storeu_ps(dst + i, v);
    }
}

/* Images interleaved 16 at a time ((c, h, w, 16): conv2d_interleaved)
 * are already pixel-major lanes, one image per lane: a channel's input
 * plane is read in place where taps_direct holds and no in_map is to be
 * applied, or else copied row by row into the tile (through
 * conv2d_shape.in_map when it has one), its taps
 * broadcast into the lanes, and taps_lanes writes the channel's output
 * plane in place.
 * Each lane sees taps_lanes's multiply-adds in the order a channel's lane
 * does: the bits of the forward above. */
SIMD_AVX512 static void interleaved_channels(float *out, const float *inp, const float *weight,
                                             const struct conv2d_shape *s, float *scratch,
                                             const struct conv2d_epilogue *ep)
{
    const struct lanes_geom g = lanes_geom(s);
    const int taps = s->k * s->k;
    const size_t ldw = (size_t)s->wcin * taps, row = (size_t)g.w * LANES;
    const size_t plane = (size_t)g.h * row;
    const size_t out_plane = s->out_channel ? s->out_channel : (size_t)g.oh * g.ow * LANES;
    float *tile = scratch, *wt = tile + g.tile, *affine = wt + (size_t)taps * LANES;
    const int has_affine = ep != NULL && ep->scale != NULL;
    /* A plane read in place needs no copy into the tile (without a map
     * to apply as it is copied). */
    const int direct = s->in_map == NULL && taps_direct(&g);
    const struct conv2d_epilogue lane_ep = {affine, affine + LANES, has_affine && ep->relu, NULL,
                                            NULL};
    if (!direct)
        memset(tile, 0, g.tile * sizeof(float));   /* the border, for good */
    for (int c = 0; c < s->cin; c++) {
        for (int t = 0; t < taps; t++)
            _mm512_storeu_ps(wt + (size_t)t * LANES, _mm512_set1_ps(weight[(size_t)c * ldw + t]));
        if (has_affine) {
            _mm512_storeu_ps(affine, _mm512_set1_ps(ep->scale[c]));
            _mm512_storeu_ps(affine + LANES, _mm512_set1_ps(ep->shift[c]));
        }
        const float *x = inp + (size_t)c * plane;
        if (direct) {
            taps_lanes(out + (size_t)c * out_plane, x, wt, has_affine ? &lane_ep : NULL, 0, LANES,
                       1, &g);
            continue;
        }
        for (int y = 0; y < g.h; y++) {
            float *dst = tile + ((size_t)(y + g.pad) * g.wp + (size_t)g.pad) * LANES;
            if (s->in_map)
                map_row(dst, x + (size_t)y * row, row, s->in_map, c);
            else
                memcpy(dst, x + (size_t)y * row, row * sizeof(float));
        }
        taps_lanes(out + (size_t)c * out_plane, tile, wt, has_affine ? &lane_ep : NULL, 0, LANES,
                   0, &g);
    }
}

int depthwise_interleaved_forward(float *out, const float *inp, const float *weight,
                                  const struct conv2d_shape *s, float *scratch,
                                  const struct conv2d_epilogue *ep)
{
    if (!simd_avx512())
        return 0;
    interleaved_channels(out, inp, weight, s, scratch, ep);
    return 1;
}

/* part[tap] += the sum over output pixels of the output gradient's lanes
 * times the input's under the tap, in four partial sums over the pixels
 * of each row (a chain of one would wait on every add). Output pixel
 * (oy, ox) is at dy + (oy * dy_ld + ox) * LANES. */
SIMD_AVX512 static void taps_weight_grad_lanes(float *part, const float *dy, int dy_ld,
                                               const float *tile, const struct lanes_geom *g)
{
    const size_t step = (size_t)g->s * LANES;
    for (int ky = 0; ky < g->k; ky++)
        for (int kx = 0; kx < g->k; kx++) {
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int oy = 0; oy < g->oh; oy++) {
                const float *d = dy + (size_t)oy * dy_ld * LANES;
                const float *x = tile + ((size_t)(oy * g->s + ky) * g->wp + kx) * LANES;
                int ox = 0;
                for (; ox + 4 <= g->ow; ox += 4) {
                    const float *dd = d + (size_t)ox * LANES, *v = x + (size_t)ox * step;
                    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(dd), _mm512_loadu_ps(v), a0);
                    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(dd + LANES), _mm512_loadu_ps(v + step),
                                         a1);
                    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(dd + 2 * LANES),
                                         _mm512_loadu_ps(v + 2 * step), a2);
                    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(dd + 3 * LANES),
                                         _mm512_loadu_ps(v + 3 * step), a3);
                }
                for (; ox < g->ow; ox++)
                    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(d + (size_t)ox * LANES),
                                         _mm512_loadu_ps(x + (size_t)ox * step), a0);
            }
            float *pt = part + (size_t)(ky * g->k + kx) * LANES;
            const __m512 sum = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
            _mm512_storeu_ps(pt, _mm512_add_ps(_mm512_loadu_ps(pt), sum));
        }
}

/* Strided: the input gradient's padded tile dxt (zeroed) += each output
 * pixel's gradient times each tap, scattered to the pixels it read; wtf
 * holds the taps flipped. */
SIMD_AVX512 static void taps_input_grad_scatter(float *dxt, const float *dy, const float *wtf,
                                                const struct lanes_geom *g)
{
    const int taps = g->k * g->k;
    for (int oy = 0; oy < g->oh; oy++)
        for (int ox = 0; ox < g->ow; ox++) {
            const __m512 d = _mm512_loadu_ps(dy + ((size_t)oy * g->ow + ox) * LANES);
            for (int ky = 0; ky < g->k; ky++) {
                float *row = dxt + ((size_t)(oy * g->s + ky) * g->wp + (size_t)ox * g->s) * LANES;
                const float *w = wtf + (size_t)(taps - 1 - ky * g->k) * LANES;
                for (int kx = 0; kx < g->k; kx++) {
                    float *p = row + (size_t)kx * LANES;
                    _mm512_storeu_ps(p, _mm512_fmadd_ps(_mm512_loadu_ps(w - (size_t)kx * LANES), d,
                                                        _mm512_loadu_ps(p)));
                }
            }
        }
}

/* Every group's taps, flipped (tap t holds the weight of tap k*k - 1 - t:
 * the input gradient is a forward pass of the output gradient with them). */
static void flipped_taps(float *wtf, const float *weight, const struct conv2d_shape *s)
{
    const int taps = s->k * s->k, groups = (s->cin + LANES - 1) / LANES;
    const size_t ldw = (size_t)s->wcin * taps;
    for (int grp = 0; grp < groups; grp++) {
        const int c0 = grp * LANES, nc = s->cin - c0 < LANES ? s->cin - c0 : LANES;
        float *w = wtf + (size_t)grp * taps * LANES;
        for (int t = 0; t < taps; t++)
            for (int l = 0; l < LANES; l++)
                w[t * LANES + l] = l < nc ? weight[(size_t)(c0 + l) * ldw + (taps - 1 - t)] : 0.0f;
    }
}

/* Images [begin, end) of the backward pass: their weight gradient into
 * part (groups x taps x lanes), their input gradient into dinp. At stride
 * 1 the output gradient goes into dtile like the input into tile (its
 * pixels where the input's are), and the input gradient is the forward
 * kernel over it with the flipped taps; strided, it goes compact into res
 * and is scattered into dtile, the input gradient's padded tile. */
SIMD_AVX512 static void lanes_backward_images(float *dinp, float *part, const float *dout,
                                              const float *inp, const float *wtf,
                                              const struct conv2d_shape *s, float *tile,
                                              float *dtile, float *res, float *bn_grad,
                                              const int *pos, size_t begin, size_t end)
{
    const struct lanes_geom g = lanes_geom(s);
    const int c = s->cin, taps = s->k * s->k, groups = (c + LANES - 1) / LANES;
    const int hw = g.h * g.w, ohw = g.oh * g.ow;
    for (size_t img = begin; img < end; img++)
        for (int grp = 0; grp < groups; grp++) {
            const int c0 = grp * LANES, nc = c - c0 < LANES ? c - c0 : LANES;
            const float *w = wtf + (size_t)grp * taps * LANES;
            float *p = part + (size_t)grp * taps * LANES;
            float *dx = dinp ? dinp + (img * (size_t)c + (size_t)c0) * (size_t)hw : NULL;
            planes_in(tile, inp + (img * (size_t)c + (size_t)c0) * (size_t)hw, nc, hw, pos,
                      s->in_map, c0);
            const float *dy = dout + (img * (size_t)c + (size_t)c0) * (size_t)ohw;
            if (s->dout_bn) {
                /* the group's output gradient from the BN after it */
                batchnorm_backward_image(bn_grad, dy,
                                         s->dout_bn_in + (img * (size_t)c + (size_t)c0) * ohw,
                                         s->dout_bn, c0, nc);
                dy = bn_grad;
            }
            if (g.s == 1) {
                planes_in(dtile, dy, nc, hw, pos, NULL, 0);
                taps_weight_grad_lanes(p, dtile + ((size_t)g.pad * g.wp + g.pad) * LANES, g.wp,
                                       tile, &g);
                if (dx == NULL)
                    continue;
                taps_lanes(res, dtile, w, NULL, c0, nc, 0, &g);
                planes_out(dx, res, nc, hw, !s->overwrite, NULL);
            } else {
                planes_in(res, dy, nc, ohw, NULL, NULL, 0);
                taps_weight_grad_lanes(p, res, g.ow, tile, &g);
                if (dx == NULL)
                    continue;
                memset(dtile, 0, g.tile * sizeof(float));
                taps_input_grad_scatter(dtile, res, w, &g);
                planes_out(dx, dtile, nc, hw, !s->overwrite, pos);
            }
        }
}

int depthwise_lanes_maps_input(const struct conv2d_shape *s)
{
    return simd_avx512() && lanes_backward_fits(s);
}

int depthwise_lanes_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                             const float *weight, const struct conv2d_shape *s, float *scratch)
{
    if (!simd_avx512() || !lanes_backward_fits(s))
        return 0;
    const struct lanes_geom g = lanes_geom(s);
    const int taps = s->k * s->k, groups = (s->cin + LANES - 1) / LANES;
    const size_t per_thread = depthwise_lanes_scratch_floats(s), part = partial_floats(s);
    const size_t ldw = (size_t)s->wcin * taps;
    /* Thread t's scratch: tile, dtile, res, flipped taps, positions, then
     * the partials of its block of ranges. */
    const size_t parts_at = 2 * g.tile + g.out + part + (size_t)g.h * g.w;
    struct parallel_cursor cursor;
    parallel_cursor_init(&cursor);
    const int ranges = parallel_cursor_ranges(&cursor);
#pragma omp parallel
    {
        const int t = omp_get_thread_num();
        assert(omp_get_num_threads() <= parallel_threads());
        float *tile = scratch + per_thread * (size_t)t, *dtile = tile + g.tile;
        float *res = dtile + g.tile, *wtf = res + g.out;
        int *pos = (int *)(wtf + part);
        float *bn_grad = scratch + per_thread * (size_t)t + parts_at +
                         PARALLEL_RANGES_PER_THREAD * part;
        memset(tile, 0, 2 * g.tile * sizeof(float));   /* the borders, for good */
        tile_pixels(pos, &g);
        flipped_taps(wtf, weight, s);
        /* Each range's weight gradient is a partial of its own, added in
         * range order below: the bits depend on the thread count only. */
        size_t begin, end;
        for (int r; (r = parallel_cursor_next(&cursor, t, (size_t)s->n, &begin, &end)) >= 0;) {
            float *p = parallel_range_piece(scratch, per_thread, parts_at, part, r);
            memset(p, 0, part * sizeof(float));
            lanes_backward_images(dinp, p, dout, inp, wtf, s, tile, dtile, res, bn_grad, pos,
                                  begin, end);
        }
    }
    for (int grp = 0; grp < groups; grp++) {
        const int c0 = grp * LANES, nc = s->cin - c0 < LANES ? s->cin - c0 : LANES;
        for (int tap = 0; tap < taps; tap++)
            for (int l = 0; l < nc; l++) {
                float sum = 0.0f;
                for (int r = 0; r < ranges; r++)
                    sum += parallel_range_piece(scratch, per_thread, parts_at, part,
                                                r)[((size_t)grp * taps + tap) * LANES + l];
                dweight[(size_t)(c0 + l) * ldw + tap] += sum;
            }
    }
    return 1;
}
#else
int depthwise_lanes_maps_input(const struct conv2d_shape *s)
{
    (void)s;
    return 0;
}

int depthwise_lanes_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                             const float *weight, const struct conv2d_shape *s, float *scratch)
{
    (void)dinp, (void)dweight, (void)dout, (void)inp, (void)weight, (void)s, (void)scratch;
    return 0;
}

int depthwise_lanes_forward(float *out, const float *inp, const float *weight,
                            const struct conv2d_shape *s, float *scratch,
                            const struct conv2d_epilogue *ep)
{
    (void)out, (void)inp, (void)weight, (void)s, (void)scratch, (void)ep;
    return 0;
}

int depthwise_interleaved_forward(float *out, const float *inp, const float *weight,
                                  const struct conv2d_shape *s, float *scratch,
                                  const struct conv2d_epilogue *ep)
{
    (void)out, (void)inp, (void)weight, (void)s, (void)scratch, (void)ep;
    return 0;
}
#endif
