/*
 * channel.h - operations that move channels of NCHW tensors: split and
 * concatenation along channels, channel shuffle, and the elementwise add of
 * residual connections. Backward passes accumulate (+=).
 */
#ifndef MUTATORD_CHANNEL_H
#define MUTATORD_CHANNEL_H

#include <stddef.h>

/* out (N, ca+cb, HW) = [a (N, ca, HW), b (N, cb, HW)] */
void concat_forward(float *out, const float *a, int ca, const float *b, int cb,
                    int n, int hw);

/* da += dout[:, :ca], db += dout[:, ca:] (= instead of += for the one whose
 * accumulate is 0); either may be NULL. */
void concat_backward(float *da, float *db, const float *dout, int ca, int cb,
                     int n, int hw, int accumulate_a, int accumulate_b);

/* a (N, ca, HW) = inp[:, :ca], b (N, cb, HW) = inp[:, ca:ca+cb];
 * inp: (N, ca+cb, HW). Either output may be NULL (not written). */
void split_forward(float *a, float *b, const float *inp, int ca, int cb,
                   int n, int hw);

/* dinp[:, :ca] += da, dinp[:, ca:] += db (= unless accumulate); da or db
 * may be NULL (then, without accumulate, that part of dinp is not
 * written). */
void split_backward(float *dinp, const float *da, const float *db, int ca,
                    int cb, int n, int hw, int accumulate);

/* Channel shuffle: view inp (N, C, HW) as (N, groups, C/groups, HW), swap
 * the two channel axes, flatten back. out must not alias inp. */
void shuffle_forward(float *out, const float *inp, int n, int c, int hw,
                     int groups);

/* dinp += the inverse shuffle of dout (= unless accumulate). */
void shuffle_backward(float *dinp, const float *dout, int n, int c, int hw,
                      int groups, int accumulate);

/* shuffle_forward of concat_forward in one move, without the concatenated
 * tensor: out (N, ca+cb, HW) = shuffle([a[:, :ca], b], groups), where a
 * has a_c >= ca channels per image (the pass-through half of a split can
 * be read in its input) and b is (N, cb, HW). */
void concat_shuffle_forward(float *out, const float *a, int a_c, int ca, const float *b, int cb,
                            int n, int hw, int groups);

/* concat_shuffle_forward with b's channels mapped as they are copied:
 * channel ch as x * scale[ch] + shift[ch], then ReLU when relu
 * (affine_plane's arithmetic: a batch norm's map left to this copy); or,
 * b NULL, without b's channels (its producer wrote them in place). */
struct channel_map {
    const float *scale, *shift;
    int relu;
};
void concat_shuffle_forward_mapped(float *out, const float *a, int a_c, int ca, const float *b,
                                   int cb, const struct channel_map *b_map, int n, int hw,
                                   int groups);

/* Its gradient: da[:, :ca] and db (N, cb, HW) get their channels of the
 * inverse shuffle of dout, each added (accumulate) or written; da has a_c
 * channels per image, of which only the first ca are touched. */
void concat_shuffle_backward(float *da, int a_c, float *db, const float *dout, int ca, int cb,
                             int n, int hw, int groups, int accumulate_a, int accumulate_b);

/* out = a + b, elementwise; out may alias a or b. */
void add_forward(float *out, const float *a, const float *b, size_t count);

/* da += dout, db += dout; either may be NULL. */
void add_backward(float *da, float *db, const float *dout, size_t count);

#endif
