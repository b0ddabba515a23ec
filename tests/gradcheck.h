/*
 * gradcheck.h - central finite-difference check of analytic gradients.
 *
 * The function under test is a scalar loss f(ctx), typically
 * sum(op_forward(...) * R) for a fixed random R, computed in double from
 * the op's float outputs. For each checked coordinate i of x,
 *     numeric = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)
 * must match analytic[i] within atol + rtol * |numeric|.
 */
#ifndef MUTATORD_TESTS_GRADCHECK_H
#define MUTATORD_TESTS_GRADCHECK_H

#include <stddef.h>

typedef double (*gradcheck_loss)(void *ctx);

/* Checks every coordinate of x[0..n) when n <= 256, else 256 of them
 * spread evenly. x is restored afterwards. Fails the test on a mismatch. */
void gradcheck(gradcheck_loss loss, void *ctx, float *x, size_t n,
               const float *analytic, double eps, double atol, double rtol,
               const char *what);

/* sum(out[i] * r[i]) in double: the loss whose gradient is r. */
double dot_loss(const float *out, const float *r, size_t n);

#endif
