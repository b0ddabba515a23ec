/*
 * batchnorm.h - 2-D batch normalisation, NCHW float32, affine.
 *
 * Three modes, composed from the calls below:
 *  - training: batchnorm_forward_train normalises with the batch statistics
 *    and returns them; batchnorm_running_update folds them into the running
 *    statistics with a momentum (PyTorch's rule: unbiased variance);
 *  - calibration (exact averages, for scoring subnets with inherited
 *    weights): batchnorm_calib_reset, then per batch batchnorm_forward_train
 *    and batchnorm_calib_accumulate, then batchnorm_calib_finalize, which
 *    sets the running statistics to the exact mean and unbiased variance of
 *    every value seen, whatever the batch sizes were;
 *  - evaluation: batchnorm_forward_eval uses the running statistics.
 *
 * Width awareness: gamma, beta and the statistics are stored at maximum
 * width; a call uses the first `c` entries.
 * Threads: parallel over channels (statistics, evaluation) or over images
 * (training's map, the backward); no result depends on the thread count.
 */
#ifndef MUTATORD_BATCHNORM_H
#define MUTATORD_BATCHNORM_H

#include <stddef.h>

struct bn_shape {
    int n;   /* batch */
    int c;   /* active channels */
    int hw;  /* height x width */
    int relu;  /* a ReLU follows (fused into the pass) */
    int overwrite;  /* backward: dinp = the gradient instead of dinp += it
                       (the caller need not zero dinp) */
};

/* out = gamma * (inp - mean) / sqrt(var + eps) + beta with the batch's
 * statistics, which are returned in mean and var (biased), both (C); then
 * out = max(out, 0) when s->relu.
 * out: (N, C, HW), may be inp; inp: (N, C, HW); gamma, beta: (C) */
void batchnorm_forward_train(float *out, float *mean, float *var,
                             const float *inp, const float *gamma,
                             const float *beta, float eps,
                             const struct bn_shape *s);

/* The moments of one plane of hw values, as batchnorm_forward_train takes
 * them: moments[0] = their sum, moments[1] = their squared deviations from
 * (float)(sum / hw). A producer of the BN's input can take them while a
 * plane is in cache. */
void batchnorm_plane_moments(double *moments, const float *x, int hw);

/* batchnorm_forward_train with the moments of inp's planes given (the
 * same bits): moments (N, C, 2), plane (img, ch) at 2 * (img * C + ch). */
void batchnorm_forward_train_moments(float *out, float *mean, float *var, const float *inp,
                                     const double *moments, const float *gamma,
                                     const float *beta, float eps, const struct bn_shape *s);

/* The two halves of batchnorm_forward_train_moments, for inputs whose
 * planes are not laid out as their moments' images (images interleaved:
 * conv2d.h), or whose map its reader applies (batchnorm_train_map): the
 * batch statistics from s's images' moments, then the map on a tensor of
 * shape `layout` (its relu is the one applied). */
void batchnorm_moments_stats(float *mean, float *var, const double *moments,
                             const struct bn_shape *s);
/* The map batchnorm_train_apply applies, as scale and shift per channel
 * (c of them): out = inp * scale + shift, for a consumer to apply. */
void batchnorm_train_map(float *scale, float *shift, const float *gamma, const float *beta,
                         const float *mean, const float *var, float eps, int c);
/* (out may be inp. Its threads take layout->n images, or groups of
 * interleaved images, a share each.) */
void batchnorm_train_apply(float *out, const float *inp, const float *gamma, const float *beta,
                           const float *mean, const float *var, float eps,
                           const struct bn_shape *layout);

/* batchnorm_plane_moments of the planes of `valid` images interleaved 16
 * at a time (x (hw, 16): image l's pixel q at x[16 q + l]), image l's at
 * moments + l * stride: the same bits as each plane on its own. AVX-512
 * only (as conv2d_interleaved_forward). */
void batchnorm_interleaved_moments(double *moments, size_t stride, const float *x, int hw,
                                   int valid);

/* Gradients of batchnorm_forward_train (with its ReLU when s->relu, whose
 * mask is recomputed from inp with the forward's own arithmetic),
 * accumulated (+=) into dgamma and dbeta; dinp (+)= its gradient (=
 * when s->overwrite).
 * dinp: (N, C, HW) or NULL; dgamma, dbeta: (C); coef and planes:
 * scratch, as batchnorm_backward_sums'; dout, inp: (N, C, HW);
 * gamma, beta, mean, var: as given to and returned by the forward pass. */
void batchnorm_backward(float *dinp, float *dgamma, float *dbeta, float *coef, double *planes,
                        const float *dout, const float *inp, const float *gamma, const float *beta,
                        const float *mean, const float *var, float eps, const struct bn_shape *s);

/* batchnorm_backward in two halves, for a reader of the input gradient
 * that takes it an image at a time (the same bits). The first: the
 * batch's sums, dgamma and dbeta (+=), and coef, each channel's factors,
 * so that no image recomputes them: BN_GRAD_COEFS rows of C floats (C =
 * s->c), k = gamma / sqrt(var + eps), the mean of the gradient through
 * the ReLU, the factor of (x - mean), then the forward's ReLU map, scale
 * and shift. planes: scratch of 2 x N x C doubles (each image plane's
 * sums), overwritten. */
void batchnorm_backward_sums(float *coef, double *planes, float *dgamma, float *dbeta,
                             const float *dout, const float *inp, const float *gamma,
                             const float *beta, const float *mean, const float *var, float eps,
                             const struct bn_shape *s);
enum { BN_GRAD_COEFS = 5 };
struct bn_backward_map {
    const float *coef;   /* batchnorm_backward_sums' */
    const float *mean;   /* the forward's batch means */
    int c, hw, relu;
};
/* The second: the input gradient of channels [c0, c0 + nc) of one image,
 * written (dinp, dout and inp: those channels' planes, (nc, HW)). */
void batchnorm_backward_image(float *dinp, const float *dout, const float *inp,
                              const struct bn_backward_map *b, int c0, int nc);

/* running = (1 - momentum) * running + momentum * batch, where the batch
 * variance is made unbiased over count = N*HW values. */
void batchnorm_running_update(float *running_mean, float *running_var,
                              const float *mean, const float *var, int c,
                              long count, float momentum);

/* out = gamma * (inp - running_mean) / sqrt(running_var + eps) + beta,
 * then max(out, 0) when s->relu. out may be inp. */
void batchnorm_forward_eval(float *out, const float *inp, const float *gamma,
                            const float *beta, const float *running_mean,
                            const float *running_var, float eps,
                            const struct bn_shape *s);

/* The evaluation-mode map as scale and shift per channel (c of them):
 * out = inp * scale + shift, what batchnorm_forward_eval applies; for
 * folding into the preceding convolution's output. */
void batchnorm_eval_affine(float *scale, float *shift, const float *gamma, const float *beta,
                           const float *running_mean, const float *running_var, float eps,
                           int c);

/* Exact statistics of a calibration pass, per channel, in double. The
 * caller owns the arrays, each of at least the maximum channel count. */
struct bn_calib {
    double *mean;  /* (C) mean of every value seen so far */
    double *m2;    /* (C) sum of squared deviations from that mean */
    long count;    /* values seen per channel */
};

void batchnorm_calib_reset(struct bn_calib *calib, int c);

/* Merges one batch's statistics (from batchnorm_forward_train, count =
 * N*HW values per channel) into calib (Chan et al.'s pairwise update). */
void batchnorm_calib_accumulate(struct bn_calib *calib, const float *mean,
                                const float *var, int c, long count);

/* running_mean = mean, running_var = unbiased variance of all values seen. */
void batchnorm_calib_finalize(float *running_mean, float *running_var,
                              const struct bn_calib *calib, int c);

#endif
