/*
 * conv2d_depthwise.c - direct depthwise convolution on "wide" planes.
 *
 * The images of this project are small (28x28 down to 7x7), so a loop over
 * the output columns of one row is too short to vectorise well, and a
 * stride-2 loop does not vectorise at all. Instead each input plane is
 * copied, zero-padded, into s*s phase planes (phase (py, px) holds the
 * padded pixels at rows py, py+s, ... and columns px, px+s, ...), each
 * hq x wq. Output pixel (oy, ox) then reads, for tap (ky, kx), phase
 * (ky % s, kx % s) at (oy + ky/s, ox + kx/s): a stride-1 window. Laid out
 * with the phase's row length wq, the outputs form one "wide" vector of
 * span = (oh - 1) * wq + ow floats whose element i reads element
 * i + (ky/s) * wq + kx/s of its phase plane, for every output at once; the
 * wq - ow columns past each output row are computed and thrown away. Every
 * tap is then one long contiguous multiply-add.
 *
 * Vectors are processed in blocks of DW_BLOCK floats, so loops run past
 * span up to the next multiple of the block: the last phase plane carries
 * DW_BLOCK floats of zero slack, and the wide output gradient is zero past
 * each row's ow columns, so the extra lanes read finite data and add
 * nothing.
 *
 * Forward parallelises over (image, channel) planes; backward over
 * channels, each thread summing the weight gradient of its channels over
 * the whole batch in image order into per-lane partials that are added in
 * lane order at the end: the bits do not depend on the thread count.
 */
#include "conv2d_depthwise.h"
#include "alloc.h"
#include "im2col.h"
#include "parallel.h"
#include "simd.h"

#include <assert.h>
#include <string.h>

enum { DW_BLOCK = 16, DW_MAX_K = 11 };

struct dw_geom {
    int k, s, pad, h, w, oh, ow;
    int hq, wq;        /* phase plane */
    size_t plane;      /* hq * wq */
    size_t phases;     /* s*s planes plus the slack */
    size_t span;       /* wide output vector */
    size_t span_r;     /* span rounded up to DW_BLOCK */
    size_t front;      /* zeros before the wide gradient: the largest
                          window offset inside a phase */
    size_t tap_off[DW_MAX_K * DW_MAX_K];  /* where tap (ky, kx) starts
                                             reading in the phase planes */
    size_t win_off[DW_MAX_K * DW_MAX_K];  /* its offset inside its phase */
    int alo[DW_MAX_K], ahi[DW_MAX_K];     /* per phase row py: the phase
                                             rows [alo, ahi) that hold
                                             pixels */
    int blo[DW_MAX_K], bhi[DW_MAX_K];     /* per phase column px: the same
                                             for columns */
};

static struct dw_geom dw_geom(const struct conv2d_shape *s)
{
    struct dw_geom g;
    g.k = s->k;
    g.s = s->stride;
    g.pad = s->pad;
    g.h = s->h;
    g.w = s->w;
    g.oh = conv2d_out_h(s);
    g.ow = conv2d_out_w(s);
    g.hq = (s->h + 2 * s->pad + s->stride - 1) / s->stride;
    g.wq = (s->w + 2 * s->pad + s->stride - 1) / s->stride;
    g.plane = (size_t)g.hq * g.wq;
    g.phases = (size_t)g.s * g.s * g.plane + DW_BLOCK;
    g.span = (size_t)(g.oh - 1) * g.wq + g.ow;
    g.span_r = (g.span + DW_BLOCK - 1) / DW_BLOCK * DW_BLOCK;
    g.front = (size_t)((g.k - 1) / g.s) * g.wq + (size_t)((g.k - 1) / g.s);
    assert(g.k <= DW_MAX_K && g.s <= DW_MAX_K);
    for (int p = 0; p < g.s; p++) {
        conv_valid_range(p, g.h, g.hq, g.s, g.pad, &g.alo[p], &g.ahi[p]);
        conv_valid_range(p, g.w, g.wq, g.s, g.pad, &g.blo[p], &g.bhi[p]);
    }
    for (int ky = 0; ky < g.k; ky++)
        for (int kx = 0; kx < g.k; kx++) {
            size_t t = (size_t)(ky * g.k + kx);
            g.win_off[t] = (size_t)(ky / g.s) * g.wq + (size_t)(kx / g.s);
            g.tap_off[t] = (size_t)((ky % g.s) * g.s + kx % g.s) * g.plane + g.win_off[t];
        }
    return g;
}

/* Floats of the wide output, or of the wide output gradient with its
 * zeros in front and behind (gathers read it from -front up to a block
 * past the plane; span <= plane). */
static size_t wide_floats(const struct dw_geom *g)
{
    return g->front + g->plane + DW_BLOCK;
}

/* Per thread: the phase planes, their gradient, the wide output (or its
 * gradient), and the weight gradient's lane partials. */
size_t conv2d_depthwise_scratch_floats(const struct conv2d_shape *s)
{
    struct dw_geom g = dw_geom(s);
    const size_t planes = 2 * g.phases + wide_floats(&g) + (size_t)g.k * g.k * DW_BLOCK;
    const size_t lanes = depthwise_lanes_scratch_floats(s);
    return floats_whole_lines(planes > lanes ? planes : lanes);
}

/* How phases_exchange moves pixels. */
enum exchange {
    GATHER,       /* ph = x; the padding is not written, so the caller
                     zeroes ph once per geometry */
    SCATTER_ADD,  /* x += ph, the padding dropped */
    SCATTER_SET   /* x = ph: the phases partition the padded plane, so
                     every pixel of x is written once, no zeroing first */
};

/* The pixels of a plane x (h, w) against their places in the phase
 * planes ph; x is written only by the scatters. */
static void phases_exchange(float *ph, float *x, const struct dw_geom *g, enum exchange how)
{
    const int scatter = how != GATHER, add = how == SCATTER_ADD;
    for (int py = 0; py < g->s; py++) {
        const int alo = g->alo[py], ahi = g->ahi[py];
        for (int px = 0; px < g->s; px++) {
            const int blo = g->blo[px], bhi = g->bhi[px], s = g->s;
            float *p = ph + (size_t)(py * s + px) * g->plane;
            for (int a = alo; a < ahi; a++) {
                float *xr = x + (size_t)(a * s + py - g->pad) * g->w + px - g->pad;
                float *pr = p + (size_t)a * g->wq;
                /* Rows are short: plain loops, unit stride vectorised. */
                if (s == 1 && add)
                    for (int b = blo; b < bhi; b++)
                        xr[b] += pr[b];
                else if (s == 1 && scatter)
                    for (int b = blo; b < bhi; b++)
                        xr[b] = pr[b];
                else if (s == 1)
                    for (int b = blo; b < bhi; b++)
                        pr[b] = xr[b];
                else if (add)
                    for (int b = blo; b < bhi; b++)
                        xr[b * s] += pr[b];
                else if (scatter)
                    for (int b = blo; b < bhi; b++)
                        xr[b * s] = pr[b];
                else
                    for (int b = blo; b < bhi; b++)
                        pr[b] = xr[b * s];
            }
        }
    }
}

/* Rows of a plane between its compact layout (width ow) and its wide one
 * (width wq): dst row r = src row r, rows of ow floats. */
static void rows_copy(float *restrict dst, size_t ld_dst, const float *restrict src, size_t ld_src,
                      int rows, int cols)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[(size_t)r * ld_dst + (size_t)c] = src[(size_t)r * ld_src + (size_t)c];
}

/* wide[0, span_r) = sum over taps of weight * the tap's window. */
SIMD_KERNEL
static void taps_forward(float *restrict wide, const float *restrict ph,
                         const float *restrict wk, const struct dw_geom *g)
{
    for (size_t i0 = 0; i0 < g->span_r; i0 += DW_BLOCK) {
        float acc[DW_BLOCK] = {0};
        for (int ky = 0; ky < g->k; ky++)
            for (int kx = 0; kx < g->k; kx++) {
                const float wv = wk[ky * g->k + kx];
                const float *src = ph + g->tap_off[ky * g->k + kx] + i0;
                for (int j = 0; j < DW_BLOCK; j++)
                    acc[j] += wv * src[j];
            }
        memcpy(wide + i0, acc, sizeof acc);
    }
}

/* For every tap: part[tap] += the lanes of dwide . window. */
SIMD_KERNEL
static void taps_weight_grad(float *restrict part, const float *restrict dwide,
                             const float *restrict ph, const struct dw_geom *g)
{
    for (int tap = 0; tap < g->k * g->k; tap++) {
        const float *src = ph + g->tap_off[tap];
        float lanes[DW_BLOCK];
        memcpy(lanes, part + (size_t)tap * DW_BLOCK, sizeof lanes);
        for (size_t i0 = 0; i0 < g->span_r; i0 += DW_BLOCK)
            for (int j = 0; j < DW_BLOCK; j++)
                lanes[j] += dwide[i0 + j] * src[i0 + j];
        memcpy(part + (size_t)tap * DW_BLOCK, lanes, sizeof lanes);
    }
}

/* The gradient of the phase planes at the input's pixels: element i of
 * phase (py, px) gathers weight * dwide[i - window offset] over the taps
 * that read that phase. dwide is zero before its origin (front floats),
 * past each row's ow outputs and past span. Only the range of a phase that
 * holds pixels is computed; its last block may spill into the padding of
 * the next phase or the slack, which nothing reads. */
SIMD_KERNEL
static void taps_input_grad(float *restrict dph, const float *restrict dwide,
                            const float *restrict wk, const struct dw_geom *g)
{
    for (int py = 0; py < g->s; py++) {
        const int alo = g->alo[py], ahi = g->ahi[py];
        for (int px = 0; px < g->s; px++) {
            const int blo = g->blo[px], bhi = g->bhi[px];
            if (alo >= ahi || blo >= bhi)
                continue;
            float *dst = dph + (size_t)(py * g->s + px) * g->plane;
            const size_t lo = (size_t)alo * g->wq + (size_t)blo;
            const size_t hi = (size_t)(ahi - 1) * g->wq + (size_t)bhi;
            for (size_t i0 = lo; i0 < hi; i0 += DW_BLOCK) {
                float acc[DW_BLOCK] = {0};
                for (int ky = py; ky < g->k; ky += g->s)
                    for (int kx = px; kx < g->k; kx += g->s) {
                        const float wv = wk[ky * g->k + kx];
                        const float *src = dwide + i0 - g->win_off[ky * g->k + kx];
                        for (int j = 0; j < DW_BLOCK; j++)
                            acc[j] += wv * src[j];
                    }
                memcpy(dst + i0, acc, sizeof acc);
            }
        }
    }
}

void conv2d_depthwise_forward(float *out, const float *inp, const float *weight,
                              const struct conv2d_shape *s, float *scratch,
                              const struct conv2d_epilogue *ep)
{
    if (!depthwise_lanes_forward(out, inp, weight, s, scratch, ep)) {
        assert(s->in_map == NULL);   /* (depthwise_lanes_maps_input) */
        depthwise_planes_forward(out, inp, weight, s, scratch, ep);
    }
}

/* Planes [begin, end) of the forward pass (image-major), on thread t's
 * scratch. */
static void planes_range(float *out, const float *inp, const float *weight,
                         const struct conv2d_shape *s, float *scratch,
                         const struct conv2d_epilogue *ep, int t, size_t begin, size_t end)
{
    const struct dw_geom g = dw_geom(s);
    const size_t ldw = (size_t)s->wcin * s->k * s->k, in_image = conv2d_in_image(s);
    float *ph = scratch + conv2d_depthwise_scratch_floats(s) * (size_t)t;
    float *wide = ph + 2 * g.phases;
    memset(ph, 0, g.phases * sizeof(float));  /* the padding, for good */
    for (size_t p = begin; p < end; p++) {
        /* plane p is channel ch of image img */
        const size_t img = p / (size_t)s->cin, ch = p % (size_t)s->cin;
        phases_exchange(ph, (float *)(inp + img * in_image + ch * g.h * g.w), &g, GATHER);
        taps_forward(wide, ph, weight + ch * ldw, &g);
        float *y = out + p * g.oh * g.ow;
        rows_copy(y, (size_t)g.ow, wide, (size_t)g.wq, g.oh, g.ow);
        if (ep && ep->scale) {
            struct conv2d_epilogue one = {ep->scale + ch, ep->shift + ch, ep->relu, NULL, NULL};
            conv2d_apply_epilogue(y, 1, g.oh * g.ow, &one);
        }
        conv2d_epilogue_moments(ep, y, img, (int)ch, 1, s->cout, g.oh * g.ow);
    }
}

void depthwise_planes_forward(float *out, const float *inp, const float *weight,
                              const struct conv2d_shape *s, float *scratch,
                              const struct conv2d_epilogue *ep)
{
    PARALLEL_RANGES((size_t)s->n * s->cin, 1, planes_range, out, inp, weight, s, scratch, ep);
}

/* Channels [begin, end) of the backward pass, on thread t's scratch. A
 * channel's weight gradient comes from its own planes only, so the bits do
 * not depend on the cut. */
static void backward_channels(float *dinp, float *dweight, const float *dout, const float *inp,
                              const float *weight, const struct conv2d_shape *s, float *scratch,
                              int t, size_t begin, size_t end)
{
    const struct dw_geom g = dw_geom(s);
    const int c = s->cin, taps = s->k * s->k;
    const size_t ldw = (size_t)s->wcin * taps;
    const size_t in_plane = (size_t)g.h * g.w, out_plane = (size_t)g.oh * g.ow;
    float *ph = scratch + conv2d_depthwise_scratch_floats(s) * (size_t)t;
    float *dph = ph + g.phases;
    float *dwide = dph + g.phases + g.front;
    float *part = dwide - g.front + wide_floats(&g);
    /* The padding of the phases, and the wide gradient outside its
     * outputs, stay 0 for the whole call. */
    memset(ph, 0, g.phases * sizeof(float));
    memset(dwide - g.front, 0, wide_floats(&g) * sizeof(float));
    for (int ch = (int)begin; ch < (int)end; ch++) {
        const float *wk = weight + (size_t)ch * ldw;
        memset(part, 0, (size_t)taps * DW_BLOCK * sizeof(float));
        for (int img = 0; img < s->n; img++) {
            size_t p = (size_t)img * c + ch;
            phases_exchange(ph, (float *)(inp + p * in_plane), &g, GATHER);
            rows_copy(dwide, (size_t)g.wq, dout + p * out_plane, (size_t)g.ow, g.oh, g.ow);
            taps_weight_grad(part, dwide, ph, &g);
            if (dinp) {
                taps_input_grad(dph, dwide, wk, &g);
                phases_exchange(dph, dinp + p * in_plane, &g,
                                s->overwrite ? SCATTER_SET : SCATTER_ADD);
            }
        }
        float *dwk = dweight + (size_t)ch * ldw;
        for (int k = 0; k < taps; k++) {
            float sum = 0.0f;
            for (int j = 0; j < DW_BLOCK; j++)
                sum += part[(size_t)k * DW_BLOCK + j];
            dwk[k] += sum;
        }
    }
}

void conv2d_depthwise_backward(float *dinp, float *dweight, const float *dout,
                               const float *inp, const float *weight,
                               const struct conv2d_shape *s, float *scratch)
{
    if (!depthwise_lanes_backward(dinp, dweight, dout, inp, weight, s, scratch)) {
        assert(s->in_map == NULL && s->dout_bn == NULL);
        depthwise_planes_backward(dinp, dweight, dout, inp, weight, s, scratch);
    }
}

void depthwise_planes_backward(float *dinp, float *dweight, const float *dout,
                               const float *inp, const float *weight,
                               const struct conv2d_shape *s, float *scratch)
{
    PARALLEL_RANGES((size_t)s->cin, 1, backward_channels, dinp, dweight, dout, inp, weight, s,
                    scratch);
}
