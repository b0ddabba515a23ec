/*
 * gemm_small.c - direct AVX-512 kernel for small products, BLAS otherwise.
 *
 * C is computed in blocks of rows by one to three vectors of 16 columns,
 * held in 12 or 24 vector registers: for each p, one row of B (masked at
 * the right edge) meets each row's broadcast element of A. No packing: B's
 * rows are read in place (a block's k x 48 panel stays in L1 for these
 * sizes), and A is read through its strides, which covers both W and W^T
 * of a weight matrix. Rows past m in the last block repeat row m - 1 and
 * are not stored. When A's columns are contiguous, the few columns past a
 * multiple of 16 go 16 rows at a time instead (tail_columns).
 */
#include "gemm_small.h"
#include "activation.h"
#include "simd.h"

#include <assert.h>
#include <cblas.h>

#ifdef SIMD_HAVE_AVX512
#include "transpose.h"
#endif

#ifdef SIMD_HAVE_AVX512
/* A block is ROWS rows by NV vectors of 16 columns: 8 x 3 in general
 * (24 accumulators, 3 loads of B and 8 broadcasts of A per 24
 * multiply-adds: with two FMA units a smaller block waits on its loads),
 * 6 x 2 for a last block of at most 32 columns and 12 x 1 for one of at
 * most 16 (so that a width of 16k+r does not spend whole vectors of lanes
 * on r columns). 48 columns are also exactly a 7 x 7 image's first 48. */
enum { WIDEST_ROWS = 8, WIDE_ROWS = 6, NARROW_ROWS = 12, MAX_ROWS = 12, MAX_NV = 3 };

/* unit_rows: A's rows are 1 apart and the block is full, so that the
 * rows' elements are constant offsets from one pointer (twelve row
 * pointers do not fit in the registers beside the loop's own). */
static inline __attribute__((always_inline)) SIMD_AVX512 void
block(const int rows, const int nv, const int unit_rows, const int full, int mr, int k,
      const float *a, size_t a_row, size_t a_col, const float *b, size_t ldb, float *c,
      size_t ldc, const __mmask16 *mask, int accumulate, const struct conv2d_epilogue *ep,
      const float *ahead)
{
    __m512 acc[MAX_ROWS][MAX_NV];
    const float *ar[MAX_ROWS];
#pragma GCC unroll 12
    for (int i = 0; i < rows; i++) {
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            acc[i][v] = _mm512_setzero_ps();
        ar[i] = a + (size_t)(i < mr ? i : mr - 1) * a_row;
    }
    const __mmask16 m0 = mask[0], m1 = nv > 1 ? mask[1] : 0, m2 = nv > 2 ? mask[2] : 0;
    /* The block's lines of C asked for, for writing, before the products:
     * a calibration batch's outputs are cold (the whole batch streams
     * through memory), and each of the block's stores opens a line of its
     * own; waiting for them at the end stalled the stores (calibration 8%
     * faster at 2 threads, top-1 5%, training 0-2%). A pooling epilogue
     * writes no C. Where rows ldc apart do not start a line (NCHW on 7 x 7
     * or 14 x 14 planes), a row's last line is not asked for: asking for
     * it too made training no faster (1-3% slower in alternation). */
#pragma GCC unroll 12
    for (int i = 0; i < rows; i++) {
        if (i >= mr || (ep && ep->pool))
            break;
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            _m_prefetchw(c + (size_t)i * ldc + 16 * v);
    }
    for (int p = 0; p < k; p++) {
        const float *bp = b + (size_t)p * ldb;
        if (ahead) {
            /* the next panel's row p: four lines cover 48 floats anywhere */
            const char *q = (const char *)(ahead + (size_t)p * ldb);
            _mm_prefetch(q, _MM_HINT_T0);
            _mm_prefetch(q + 64, _MM_HINT_T0);
            _mm_prefetch(q + 128, _MM_HINT_T0);
            _mm_prefetch(q + 191, _MM_HINT_T0);
        }
        __m512 bv[MAX_NV];
        /* Full blocks load without masks: three masks live across the
         * loop spilled one of them to the stack. */
        bv[0] = full ? _mm512_loadu_ps(bp) : _mm512_maskz_loadu_ps(m0, bp);
        if (nv > 1)
            bv[1] = full ? _mm512_loadu_ps(bp + 16) : _mm512_maskz_loadu_ps(m1, bp + 16);
        if (nv > 2)
            bv[2] = full ? _mm512_loadu_ps(bp + 32) : _mm512_maskz_loadu_ps(m2, bp + 32);
        const size_t at = (size_t)p * a_col;
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            const __m512 av = _mm512_set1_ps(unit_rows ? a[at + (size_t)i] : ar[i][at]);
#pragma GCC unroll 3
            for (int v = 0; v < nv; v++)
                acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < rows; i++) {
        if (i >= mr)
            break;
        float *ci = c + (size_t)i * ldc;
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            const __mmask16 mv = mask[v];
            if (accumulate)
                acc[i][v] = _mm512_add_ps(_mm512_maskz_loadu_ps(mv, ci + 16 * v), acc[i][v]);
            if (ep) {
                /* x * scale + shift rounded once, as affine_plane's FMA
                 * clone; max(v, +0) maps -0 and NaN to +0, as its v > 0 ? v : 0. */
                acc[i][v] = _mm512_fmadd_ps(acc[i][v], _mm512_set1_ps(ep->scale[i]),
                                            _mm512_set1_ps(ep->shift[i]));
                if (ep->relu)
                    acc[i][v] = _mm512_max_ps(acc[i][v], _mm512_setzero_ps());
            }
            if (ep && ep->pool) {
                /* a pixel of 16 images, added to their sums in double */
                double *sum = ep->pool + (size_t)i * 16;
                const __m512 x = acc[i][v];
                _mm512_storeu_pd(sum, _mm512_add_pd(_mm512_loadu_pd(sum),
                                                    _mm512_cvtps_pd(_mm512_castps512_ps256(x))));
                _mm512_storeu_pd(sum + 8, _mm512_add_pd(_mm512_loadu_pd(sum + 8),
                                                        _mm512_cvtps_pd(simd_high_half(x))));
            } else {
                _mm512_mask_storeu_ps(ci + 16 * v, mv, acc[i][v]);
            }
        }
    }
}

/* One function per block shape, each with A's unit-row case and the full
 * block (every column in) apart. (PREFETCHW: every CPU with AVX-512 has
 * it.) */
#define SIMD_PREFETCHW __attribute__((target("avx512f,prfchw")))
#define BLOCK_CASE(ROWS, NV, UNIT, FULL) \
    block(ROWS, NV, UNIT, FULL, mr, k, a, a_row, a_col, b, ldb, c, ldc, mask, accumulate, ep, \
          ahead)
#define BLOCK_SHAPE(name, ROWS, NV)                                                            \
    SIMD_PREFETCHW static void name(int mr, int k, const float *a, size_t a_row, size_t a_col, \
                                    const float *b, size_t ldb, float *c, size_t ldc,        \
                                    const __mmask16 *mask, int accumulate,                   \
                                    const struct conv2d_epilogue *ep, const float *ahead)    \
    {                                                                                        \
        const int unit = a_row == 1 && mr == (ROWS), full = mask[(NV) - 1] == 0xffff;       \
        if (unit && full)                                                                    \
            BLOCK_CASE(ROWS, NV, 1, 1);                                                      \
        else if (unit)                                                                       \
            BLOCK_CASE(ROWS, NV, 1, 0);                                                      \
        else if (full)                                                                       \
            BLOCK_CASE(ROWS, NV, 0, 1);                                                      \
        else                                                                                 \
            BLOCK_CASE(ROWS, NV, 0, 0);                                                      \
    }
BLOCK_SHAPE(block_widest, WIDEST_ROWS, 3)
BLOCK_SHAPE(block_wide, WIDE_ROWS, 2)
BLOCK_SHAPE(block_narrow, NARROW_ROWS, 1)
#undef BLOCK_SHAPE
#undef BLOCK_CASE

/* Row block i's epilogue: ep's rows from i on, or NULL. */
static const struct conv2d_epilogue *rows_from(const struct conv2d_epilogue *ep, int i,
                                               struct conv2d_epilogue *buf)
{
    if (ep == NULL)
        return NULL;
    *buf = (struct conv2d_epilogue){ep->scale + i, ep->shift + i, ep->relu, NULL,
                                    ep->pool ? ep->pool + (size_t)i * 16 : NULL};
    return buf;
}

/* Up to TAIL columns left past a multiple of 16 are computed 16 rows at a
 * time instead, when A's columns are contiguous (a.row == 1): a vector of
 * A's column p meets B's element p of each column, broadcast. A block of
 * 16 columns would spend 16 lanes on each of them; on a 7 x 7 image, 49
 * columns, that is a quarter of the product. The same multiply-adds in the
 * same order as the blocks: the same bits. */
enum { TAIL = 4 };

/* TAIL_GROUPS groups of 16 rows at once, so that the multiply-adds of a
 * single column are that many independent chains rather than one. */
enum { TAIL_GROUPS = 4 };

/* Rows [0, mr) (at most TAIL_GROUPS * 16) of the r last columns. */
static inline __attribute__((always_inline)) SIMD_AVX512 void
tail_rows(const int r, int mr, int k, const float *a, size_t a_col, const float *b, size_t ldb,
          float *c, size_t ldc, int accumulate, const struct conv2d_epilogue *ep)
{
    __mmask16 rows[TAIL_GROUPS];
    __m512 acc[TAIL_GROUPS][TAIL];
#pragma GCC unroll 4
    for (int g = 0; g < TAIL_GROUPS; g++) {
        rows[g] = simd_first_lanes(mr - 16 * g);
#pragma GCC unroll 4
        for (int j = 0; j < r; j++)
            acc[g][j] = _mm512_setzero_ps();
    }
    for (int p = 0; p < k; p++) {
        const float *ap = a + (size_t)p * a_col, *bp = b + (size_t)p * ldb;
#pragma GCC unroll 4
        for (int g = 0; g < TAIL_GROUPS; g++) {
            const __m512 av = _mm512_maskz_loadu_ps(rows[g], ap + 16 * g);
#pragma GCC unroll 4
            for (int j = 0; j < r; j++)
                acc[g][j] = _mm512_fmadd_ps(av, _mm512_set1_ps(bp[j]), acc[g][j]);
        }
    }
#pragma GCC unroll 4
    for (int g = 0; g < TAIL_GROUPS; g++) {
        const int n = mr - 16 * g < 16 ? mr - 16 * g : 16;
        for (int j = 0; j < r; j++) {
            float col[16];
            float *cj = c + (size_t)(16 * g) * ldc + j;
            if (accumulate) {
                for (int i = 0; i < n; i++)
                    col[i] = cj[(size_t)i * ldc];
                acc[g][j] = _mm512_add_ps(_mm512_maskz_loadu_ps(rows[g], col), acc[g][j]);
            }
            if (ep) {
                acc[g][j] = _mm512_fmadd_ps(acc[g][j], _mm512_maskz_loadu_ps(rows[g], ep->scale + 16 * g),
                                            _mm512_maskz_loadu_ps(rows[g], ep->shift + 16 * g));
                if (ep->relu)
                    acc[g][j] = _mm512_max_ps(acc[g][j], _mm512_setzero_ps());
            }
            _mm512_storeu_ps(col, acc[g][j]);
            for (int i = 0; i < n; i++)
                cj[(size_t)i * ldc] = col[i];
        }
    }
}

SIMD_AVX512 static void
tail_columns(int m, int r, int k, const float *a, size_t a_col, const float *b, size_t ldb,
             float *c, size_t ldc, int accumulate, const struct conv2d_epilogue *ep)
{
    struct conv2d_epilogue rows;
    for (int i = 0; i < m; i += 16 * TAIL_GROUPS) {
        const int mr = m - i < 16 * TAIL_GROUPS ? m - i : 16 * TAIL_GROUPS;
        const struct conv2d_epilogue *e = rows_from(ep, i, &rows);
        float *ci = c + (size_t)i * ldc;
#define TAIL_CASE(n) \
    case n: tail_rows(n, mr, k, a + i, a_col, b, ldb, ci, ldc, accumulate, e); break
        switch (r) {
        TAIL_CASE(1); TAIL_CASE(2); TAIL_CASE(3); TAIL_CASE(4);
        }
#undef TAIL_CASE
    }
}

SIMD_AVX512 static void
gemm_avx512(int m, int n, int k, struct gemm_operand a, const float *b, size_t ldb, float *c,
            size_t ldc, int accumulate, const struct conv2d_epilogue *ep)
{
    _Static_assert(TAIL == 4, "a case per tail width");
    const int tail = a.row == 1 && n > 16 && n % 16 <= TAIL ? n % 16 : 0;
    const int nb = n - tail;   /* the columns the blocks take */
    assert(ep == NULL || ep->pool == NULL || (tail == 0 && n % 16 == 0));
    struct conv2d_epilogue rows;
    for (int j = 0, nv; j < nb; j += 16 * nv) {
        const int left = nb - j;
        nv = left > 32 ? 3 : left > 16 ? 2 : 1;
        const int block_rows = nv == 3 ? WIDEST_ROWS : nv == 2 ? WIDE_ROWS : NARROW_ROWS;
        const __mmask16 mask[MAX_NV] = {simd_first_lanes(left), simd_first_lanes(left - 16),
                                           simd_first_lanes(left - 32)};
        for (int i = 0; i < m; i += block_rows) {
            const int mr = m - i < block_rows ? m - i : block_rows;
            const float *ai = a.data + (size_t)i * a.row;
            float *ci = c + (size_t)i * ldc + j;
            const struct conv2d_epilogue *e = rows_from(ep, i, &rows);
            /* The first row block brings the next panel of B into L1
             * while it works (+0.5% evaluation, +1% calibration). */
            const float *ahead = i == 0 && j + 16 * nv < nb ? b + j + 16 * nv : NULL;
            if (nv == 3)
                block_widest(mr, k, ai, a.row, a.col, b + j, ldb, ci, ldc, mask, accumulate, e,
                             ahead);
            else if (nv == 2)
                block_wide(mr, k, ai, a.row, a.col, b + j, ldb, ci, ldc, mask, accumulate, e,
                           ahead);
            else
                block_narrow(mr, k, ai, a.row, a.col, b + j, ldb, ci, ldc, mask, accumulate, e,
                             ahead);
        }
    }
    if (tail)
        tail_columns(m, tail, k, a.data, a.col, b + nb, ldb, c + nb, ldc, accumulate, ep);
}
#endif

int gemm_small_direct(void)
{
    return simd_avx512();
}

#ifdef SIMD_HAVE_AVX512
/* t (k x n) = B^T, B (n x k, rows ldb apart), for rows [j0, j1) and
 * columns [p0, p1) of B. */
static void transpose_part(float *restrict t, const float *restrict b, int n, size_t ldb, int j0,
                           int j1, int p0, int p1)
{
    for (int p = p0; p < p1; p++)
        for (int j = j0; j < j1; j++)
            t[(size_t)p * n + j] = b[(size_t)j * ldb + p];
}

/* The same in 8 x 8 tiles transposed in registers (transpose.h); the
 * edges that do not fill a tile one by one. */
SIMD_AVX512 static void transpose(float *restrict t, const float *restrict b, int n, int k,
                                  size_t ldb)
{
    const int n8 = n / 8 * 8, k8 = k / 8 * 8;
    for (int j = 0; j < n8; j += 8) {
        for (int p = 0; p < k8; p += 8)
            transpose8_block(t + (size_t)p * n + j, (size_t)n, b + (size_t)j * ldb + p, ldb);
        transpose_part(t, b, n, ldb, j, j + 8, k8, k);
    }
    transpose_part(t, b, n, ldb, n8, n, 0, k);
}
#endif

int gemm_small_prefers_columns(int n)
{
#ifdef SIMD_HAVE_AVX512
    return gemm_small_direct() && n > 16 && n % 16 != 0 && n % 16 <= TAIL;
#else
    (void)n;
    return 0;
#endif
}

struct gemm_operand gemm_small_columns(const float *a, size_t lda, int m, int k, int n, float *at)
{
#ifdef SIMD_HAVE_AVX512
    if (gemm_small_prefers_columns(n)) {
        transpose(at, a, m, k, lda);
        return (struct gemm_operand){at, 1, (size_t)m};
    }
#endif
    (void)m, (void)k, (void)n, (void)at;
    return (struct gemm_operand){a, lda, 1};
}

size_t gemm_small_nt_floats(int n, int k)
{
    return gemm_small_direct() ? (size_t)n * (size_t)k : 0;
}

void gemm_small_nt_add(int m, int n, int k, const float *a, size_t lda, const float *b,
                       size_t ldb, float *c, size_t ldc, float *bt)
{
    if (m <= 0 || n <= 0)
        return;
#ifdef SIMD_HAVE_AVX512
    if (gemm_small_direct()) {
        transpose(bt, b, n, k, ldb);
        gemm_avx512(m, n, k, (struct gemm_operand){a, lda, 1}, bt, (size_t)n, c, ldc, 1, NULL);
        return;
    }
#endif
    (void)bt;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, (int)lda, b, (int)ldb,
                1.0f, c, (int)ldc);
}

static void gemm_any(int m, int n, int k, struct gemm_operand a, const float *b, size_t ldb,
                     float *c, size_t ldc, int accumulate, const struct conv2d_epilogue *ep)
{
    assert(a.row == 1 || a.col == 1);
    if (m <= 0 || n <= 0)
        return;
#ifdef SIMD_HAVE_AVX512
    if (gemm_small_direct()) {
        gemm_avx512(m, n, k, a, b, ldb, c, ldc, accumulate, ep);
        return;
    }
#endif
    assert(ep == NULL || ep->pool == NULL);
    /* A with unit columns is row-major with rows a.row apart; with unit
     * rows it is the transpose of a row-major matrix with rows a.col apart. */
    const int transposed = a.col != 1;
    cblas_sgemm(CblasRowMajor, transposed ? CblasTrans : CblasNoTrans, CblasNoTrans, m, n, k, 1.0f,
                a.data, (int)(transposed ? a.col : a.row), b, (int)ldb, accumulate ? 1.0f : 0.0f,
                c, (int)ldc);
    if (ep)
        for (int i = 0; i < m; i++)
            affine_plane(c + (size_t)i * ldc, c + (size_t)i * ldc, n, ep->scale[i], ep->shift[i],
                         ep->relu);
}

void gemm_small(int m, int n, int k, struct gemm_operand a, const float *b, size_t ldb, float *c,
                size_t ldc, int accumulate)
{
    gemm_any(m, n, k, a, b, ldb, c, ldc, accumulate, NULL);
}

void gemm_small_ep(int m, int n, int k, struct gemm_operand a, const float *b, size_t ldb,
                   float *c, size_t ldc, const struct conv2d_epilogue *ep)
{
    gemm_any(m, n, k, a, b, ldb, c, ldc, 0, ep);
}
