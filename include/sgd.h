/*
 * sgd.h - stochastic gradient descent with momentum, nesterov and weight
 * decay, with PyTorch's semantics (dampening 0):
 *     g = grad + weight_decay * w          (when decay is applied)
 *     v = momentum * v + g
 *     w -= lr * (nesterov ? g + momentum * v : v)
 * The velocity starts at zero, which makes the first step v = g as in
 * PyTorch. Weight decay is switched off per tensor (BN affine parameters
 * and biases) by the caller.
 *
 * Width awareness: a step updates a (rows, cols) block of a parameter
 * stored with row stride ld, so only the active part of a weight moves;
 * grad and velocity have the parameter's layout.
 */
#ifndef MUTATORD_SGD_H
#define MUTATORD_SGD_H

struct sgd_config {
    float lr;
    float momentum;
    float weight_decay;
    int nesterov;
};

void sgd_step(float *param, const float *grad, float *velocity, int rows,
              int cols, int ld, const struct sgd_config *cfg, int apply_decay);

#endif
