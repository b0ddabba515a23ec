/*
 * conv2d.c - dense convolution through sgemm, and the dispatch to the
 * depthwise kernel.
 *
 * Per image and group, out_g (cout_g, OH*OW) = W_g (cout_g, K) x col (K, OH*OW)
 * with K = cin_g*k*k; W_g is a block of the stored weight with leading
 * dimension wcin*k*k; these products are small (gemm_small.h). The weight
 * gradient is a reduction over the batch: each thread accumulates its own
 * images into a private partial, and the partials are added to dweight in
 * thread order (deterministic).
 */
#include "conv2d.h"
#include "activation.h"
#include "alloc.h"
#include "batchnorm.h"
#include "conv2d_depthwise.h"
#include "gemm_small.h"
#include "im2col.h"
#include "parallel.h"

#include <assert.h>
#include <omp.h>
#include <string.h>

int conv2d_out_h(const struct conv2d_shape *s)
{
    return (s->h + 2 * s->pad - s->k) / s->stride + 1;
}

int conv2d_out_w(const struct conv2d_shape *s)
{
    return (s->w + 2 * s->pad - s->k) / s->stride + 1;
}

double conv2d_macs(const struct conv2d_shape *s)
{
    return (double)s->n * s->cout * conv2d_out_h(s) * conv2d_out_w(s)
           * (s->cin / s->groups) * s->k * s->k;
}

size_t conv2d_in_image(const struct conv2d_shape *s)
{
    return s->in_image ? s->in_image : (size_t)s->cin * s->h * s->w;
}

static void check_shape(const struct conv2d_shape *s)
{
    assert(s->in_map == NULL || (s->cin == s->groups && s->cout == s->groups) ||
           (s->groups == 1 && conv2d_in_image(s) == (size_t)s->cin * s->h * s->w));
    assert(s->out_channel == 0 || s->out_channel >= (size_t)conv2d_out_h(s) * conv2d_out_w(s));
    assert(s->n > 0 && s->cin > 0 && s->cout > 0 && s->groups > 0);
    assert(s->cin % s->groups == 0 && s->cout % s->groups == 0);
    assert(s->cin / s->groups <= s->wcin);
    assert(s->k > 0 && s->stride > 0 && s->pad >= 0);
    assert(conv2d_out_h(s) > 0 && conv2d_out_w(s) > 0);
    assert(conv2d_in_image(s) >= (size_t)s->cin * s->h * s->w);
}

static int is_depthwise(const struct conv2d_shape *s)
{
    return s->cin == s->groups && s->cout == s->groups;
}

/* A 1x1 convolution at stride 1 without padding reads its input as the
 * column matrix itself. */
static int needs_im2col(const struct conv2d_shape *s)
{
    return !(s->k == 1 && s->stride == 1 && s->pad == 0);
}

/* Per-thread scratch of the dense path: the column matrix, its gradient,
 * PARALLEL_RANGES_PER_THREAD partial weight gradients (in the forward pass
 * the first holds the weight with unit rows if the product prefers it:
 * gemm_small_columns), and the weight-gradient product's transposed
 * columns. */
struct dense_scratch_layout {
    size_t col;      /* floats of one column matrix */
    size_t dweight;  /* floats of one partial weight gradient */
    size_t bt;       /* floats of gemm_small_nt_add's transpose */
    size_t in;       /* floats of one image's input through in_map */
    size_t dout;     /* floats of one image's output gradient from dout_bn */
    size_t per_thread;
};

static struct dense_scratch_layout dense_layout(const struct conv2d_shape *s)
{
    struct dense_scratch_layout l;
    int kg = (s->cin / s->groups) * s->k * s->k;
    int ohw = conv2d_out_h(s) * conv2d_out_w(s);
    l.col = needs_im2col(s) ? (size_t)kg * ohw : 0;
    l.dweight = (size_t)s->cout * kg;
    l.bt = gemm_small_nt_floats(kg, ohw);
    l.in = (size_t)s->cin * s->h * s->w;
    l.dout = (size_t)s->cout * ohw;
    l.per_thread = floats_whole_lines(2 * l.col + PARALLEL_RANGES_PER_THREAD * l.dweight + l.bt +
                                      l.in + l.dout);
    return l;
}

/* Thread t's room for an image's input through in_map. */
static float *mapped_room(float *scratch, const struct dense_scratch_layout *l, int t)
{
    return scratch + l->per_thread * (size_t)t + 2 * l->col + PARALLEL_RANGES_PER_THREAD * l->dweight +
           l->bt;
}

/* One image's input x, through s->in_map (into room) when it has one:
 * affine_plane, as the BN whose map it is. */
static const float *image_input(const struct conv2d_shape *s, const float *x, float *room)
{
    if (s->in_map == NULL)
        return x;
    const int hw = s->h * s->w;
    for (int c = 0; c < s->cin; c++)
        affine_plane(room + (size_t)c * hw, x + (size_t)c * hw, hw, s->in_map->scale[c],
                     s->in_map->shift[c], s->in_map->relu);
    return room;
}

/* Range r's partial weight gradient: in the scratch of thread
 * r / PARALLEL_RANGES_PER_THREAD. */
static float *partial_dweight(float *scratch, const struct dense_scratch_layout *l, int r)
{
    return parallel_range_piece(scratch, l->per_thread, 2 * l->col, l->dweight, r);
}

int conv2d_maps_input(const struct conv2d_shape *s)
{
    return is_depthwise(s) ? depthwise_lanes_maps_input(s) : s->groups == 1;
}

size_t conv2d_scratch_floats(const struct conv2d_shape *s, int threads)
{
    check_shape(s);
    if (is_depthwise(s))
        return conv2d_depthwise_scratch_floats(s) * (size_t)threads;
    return dense_layout(s).per_thread * (size_t)threads;
}

void conv2d_forward(float *out, const float *inp, const float *weight,
                    const struct conv2d_shape *s, float *scratch)
{
    conv2d_forward_ep(out, inp, weight, s, scratch, NULL);
}

/* The epilogue's affine map on channels [0, c) of one image's output
 * (c, ohw). */
void conv2d_apply_epilogue(float *y, int c, int ohw, const struct conv2d_epilogue *ep)
{
    for (int ch = 0; ch < c; ch++)
        affine_plane(y + (size_t)ch * ohw, y + (size_t)ch * ohw, ohw, ep->scale[ch],
                     ep->shift[ch], ep->relu);
}

void conv2d_epilogue_moments(const struct conv2d_epilogue *ep, const float *y, size_t img,
                             int c0, int c, int cout, int ohw)
{
    if (ep == NULL || ep->moments == NULL)
        return;
    for (int ch = 0; ch < c; ch++)
        batchnorm_plane_moments(ep->moments + 2 * (img * (size_t)cout + (size_t)(c0 + ch)),
                                y + (size_t)ch * ohw, ohw);
}

/* Images [begin, end) of a dense forward pass, on thread t's scratch; w1
 * is the weight as an operand when ungrouped. */
static void dense_forward_images(float *out, const float *inp, const float *weight,
                                 const struct gemm_operand *w1, const struct conv2d_shape *s,
                                 float *scratch, const struct conv2d_epilogue *ep, int t,
                                 size_t begin, size_t end)
{
    const int oh = conv2d_out_h(s), ow = conv2d_out_w(s), ohw = oh * ow;
    const int cin_g = s->cin / s->groups, cout_g = s->cout / s->groups;
    const int kg = cin_g * s->k * s->k, ldw = s->wcin * s->k * s->k;
    const struct dense_scratch_layout l = dense_layout(s);
    float *col = scratch + l.per_thread * (size_t)t;
    const int affine = ep != NULL && ep->scale != NULL;
    for (size_t img = begin; img < end; img++) {
        const float *in = image_input(s, inp + img * conv2d_in_image(s), mapped_room(scratch, &l, t));
        for (int g = 0; g < s->groups; g++) {
            const float *x = in + (size_t)g * cin_g * s->h * s->w;
            float *y = out + (img * s->cout + (size_t)g * cout_g) * ohw;
            if (needs_im2col(s)) {
                im2col(col, x, cin_g, s->h, s->w, s->k, s->stride, s->pad, oh, ow);
                x = col;
            }
            /* The epilogue while the block is in registers. */
            struct conv2d_epilogue ep_g;
            if (affine)
                ep_g = (struct conv2d_epilogue){ep->scale + (size_t)g * cout_g,
                                                ep->shift + (size_t)g * cout_g, ep->relu, NULL,
                                                NULL};
            const struct gemm_operand wg =
                s->groups == 1 ? *w1
                               : (struct gemm_operand){weight + (size_t)g * cout_g * ldw,
                                                       (size_t)ldw, 1};
            gemm_small_ep(cout_g, ohw, kg, wg, x, (size_t)ohw, y, (size_t)ohw,
                          affine ? &ep_g : NULL);
        }
        conv2d_epilogue_moments(ep, out + img * s->cout * ohw, img, 0, s->cout, s->cout, ohw);
    }
}

void conv2d_forward_ep(float *out, const float *inp, const float *weight,
                       const struct conv2d_shape *s, float *scratch,
                       const struct conv2d_epilogue *ep)
{
    check_shape(s);
    assert(ep == NULL || ep->pool == NULL);   /* interleaved only */
    if (is_depthwise(s)) {
        conv2d_depthwise_forward(out, inp, weight, s, scratch, ep);
        return;
    }
    /* Ungrouped, the weight may be copied with unit rows for the product's
     * sake (gemm_small_columns), once per call, into room of the first
     * thread's that no forward pass uses otherwise; every thread reads it. */
    const struct dense_scratch_layout l = dense_layout(s);
    const int kg = s->cin * s->k * s->k, ldw = s->wcin * s->k * s->k;
    const struct gemm_operand w1 =
        s->groups == 1 ? gemm_small_columns(weight, (size_t)ldw, s->cout, kg,
                                            conv2d_out_h(s) * conv2d_out_w(s), scratch + 2 * l.col)
                       : (struct gemm_operand){weight, (size_t)ldw, 1};
    PARALLEL_RANGES((size_t)s->n, 1, dense_forward_images, out, inp, weight, &w1, s, scratch, ep);
}

/* Output pixels of one piece of an interleaved dense forward: its column
 * matrix (kg rows of that many pixels of 16 lanes) stays a bounded scratch
 * whatever the image size. */
enum { INTERLEAVED_PIECE = 196 };

int conv2d_interleaved_supported(const struct conv2d_shape *s)
{
    return gemm_small_direct() && (is_depthwise(s) || s->groups == 1);
}

size_t conv2d_interleaved_scratch_floats(const struct conv2d_shape *s)
{
    check_shape(s);
    if (is_depthwise(s))
        return depthwise_interleaved_scratch_floats(s);
    if (!needs_im2col(s))
        return 0;
    return floats_whole_lines((size_t)s->cin * s->k * s->k * INTERLEAVED_PIECE
                              * CONV2D_INTERLEAVED);
}

void conv2d_interleaved_forward(float *out, const float *inp, const float *weight,
                                const struct conv2d_shape *s, float *scratch,
                                const struct conv2d_epilogue *ep)
{
    check_shape(s);
    assert(conv2d_interleaved_supported(s) && (ep == NULL || ep->moments == NULL));
    assert(ep == NULL || ep->pool == NULL || ep->scale != NULL);
    if (is_depthwise(s)) {
        assert(ep == NULL || ep->pool == NULL);
        const int ran = depthwise_interleaved_forward(out, inp, weight, s, scratch, ep);
        assert(ran);
        (void)ran;
        return;
    }
    /* Each lane's columns are summed over the weight's row in order, as
     * dense_forward_images's product does for its image: the same bits. */
    const int ohw = conv2d_out_h(s) * conv2d_out_w(s), kg = s->cin * s->k * s->k;
    const size_t lanes = CONV2D_INTERLEAVED, plane = (size_t)ohw * lanes;
    const size_t ldc = s->out_channel ? s->out_channel : plane;
    const struct gemm_operand w = {weight, (size_t)s->wcin * s->k * s->k, 1};
    const struct conv2d_epilogue *affine = ep != NULL && ep->scale != NULL ? ep : NULL;
    if (!needs_im2col(s)) {
        gemm_small_ep(s->cout, (int)plane, kg, w, inp, plane, out, ldc, affine);
        return;
    }
    for (int q0 = 0; q0 < ohw; q0 += INTERLEAVED_PIECE) {
        const int nq = ohw - q0 < INTERLEAVED_PIECE ? ohw - q0 : INTERLEAVED_PIECE;
        im2col_interleaved(scratch, inp, s->cin, s->h, s->w, s->k, s->stride, s->pad,
                           conv2d_out_w(s), q0, nq, (int)lanes);
        gemm_small_ep(s->cout, nq * (int)lanes, kg, w, scratch, (size_t)nq * lanes,
                      out + (size_t)q0 * lanes, ldc, affine);
    }
}

/* One image's contribution: its weight gradient into the thread's partial
 * dw (cout, kg), its input gradient into dinp. */
static void dense_backward_image(float *dinp, float *dw, float *col, float *dcol, float *bt,
                                 const float *dout, const float *inp,
                                 const float *weight, const struct conv2d_shape *s)
{
    const int oh = conv2d_out_h(s), ow = conv2d_out_w(s), ohw = oh * ow;
    const int cin_g = s->cin / s->groups, cout_g = s->cout / s->groups;
    const int kg = cin_g * s->k * s->k, ldw = s->wcin * s->k * s->k;

    for (int g = 0; g < s->groups; g++) {
        const float *x = inp + (size_t)g * cin_g * s->h * s->w;
        const float *dy = dout + (size_t)g * cout_g * ohw;
        const float *wg = weight + (size_t)g * cout_g * ldw;
        if (needs_im2col(s)) {
            im2col(col, x, cin_g, s->h, s->w, s->k, s->stride, s->pad, oh, ow);
            x = col;
        }
        /* dW_g (cout_g, kg) += dY_g (cout_g, ohw) x col^T (ohw, kg) */
        gemm_small_nt_add(cout_g, kg, ohw, dy, (size_t)ohw, x, (size_t)ohw,
                          dw + (size_t)g * cout_g * kg, (size_t)kg, bt);
        if (dinp == NULL)
            continue;
        float *dx = dinp + (size_t)g * cin_g * s->h * s->w;
        /* dcol (kg, ohw) = W_g^T (kg, cout_g) x dY_g (cout_g, ohw) */
        const struct gemm_operand wt = {wg, 1, (size_t)ldw};
        if (!needs_im2col(s)) {
            gemm_small(kg, ohw, cout_g, wt, dy, (size_t)ohw, dx, (size_t)ohw, !s->overwrite);
        } else {
            gemm_small(kg, ohw, cout_g, wt, dy, (size_t)ohw, dcol, (size_t)ohw, 0);
            if (s->overwrite)  /* this image's slice, while it is in cache */
                memset(dx, 0, sizeof(float) * (size_t)cin_g * s->h * s->w);
            col2im_add(dx, dcol, cin_g, s->h, s->w, s->k, s->stride, s->pad, oh, ow);
        }
    }
}

void conv2d_backward(float *dinp, float *dweight, const float *dout,
                     const float *inp, const float *weight,
                     const struct conv2d_shape *s, float *scratch)
{
    check_shape(s);
    assert(s->in_image == 0 || s->in_image == (size_t)s->cin * s->h * s->w);  /* forward only */
    if (is_depthwise(s)) {
        conv2d_depthwise_backward(dinp, dweight, dout, inp, weight, s, scratch);
        return;
    }
    const int ohw = conv2d_out_h(s) * conv2d_out_w(s);
    const int kg = (s->cin / s->groups) * s->k * s->k, ldw = s->wcin * s->k * s->k;
    const struct dense_scratch_layout l = dense_layout(s);
    const size_t in_image = (size_t)s->cin * s->h * s->w;
    const size_t out_image = (size_t)s->cout * ohw;

    struct parallel_cursor cursor;
    parallel_cursor_init(&cursor);
    const int ranges = parallel_cursor_ranges(&cursor);
#pragma omp parallel
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        assert(nt <= parallel_threads());
        float *col = scratch + l.per_thread * (size_t)t;
        float *dcol = col + l.col;
        float *bt = dcol + l.col + PARALLEL_RANGES_PER_THREAD * l.dweight;
        float *in_room = mapped_room(scratch, &l, t), *dout_room = in_room + l.in;
        /* Each range's weight gradient is a partial of its own, added in
         * range order below: the bits depend on the thread count only,
         * not on which thread took which range. */
        size_t begin, end;
        for (int r; (r = parallel_cursor_next(&cursor, t, (size_t)s->n, &begin, &end)) >= 0;) {
            float *dw = partial_dweight(scratch, &l, r);
            memset(dw, 0, sizeof(float) * l.dweight);
            for (size_t img = begin; img < end; img++) {
                const float *dy = dout + img * out_image;
                if (s->dout_bn) {
                    batchnorm_backward_image(dout_room, dy, s->dout_bn_in + img * out_image,
                                             s->dout_bn, 0, s->cout);
                    dy = dout_room;
                }
                dense_backward_image(dinp ? dinp + img * in_image : NULL, dw, col, dcol, bt, dy,
                                     image_input(s, inp + img * in_image, in_room), weight, s);
            }
        }
#pragma omp barrier
        /* Add the partials to dweight row by row, always in range order. */
        size_t row_begin, row_end;
        parallel_range((size_t)s->cout, t, nt, &row_begin, &row_end);
        for (size_t row = row_begin; row < row_end; row++) {
            float *dst = dweight + row * (size_t)ldw;
            for (int r = 0; r < ranges; r++) {
                const float *src = partial_dweight(scratch, &l, r) + row * (size_t)kg;
                for (int j = 0; j < kg; j++)
                    dst[j] += src[j];
            }
        }
    }
}
