/*
 * loss.c - cross-entropy and KL divergence. Log-probabilities are computed
 * as (x - max) - log(sum exp(x - max)) in double, so no probability is
 * ever rounded to zero before its logarithm is taken.
 */
#include "loss.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

/* probs = softmax(x / tau); logp (may be NULL) = log softmax(x / tau) in double. */
static void softmax_row(float *probs, double *logp, const float *x, int k, float tau)
{
    double mx = (double)x[0] / (double)tau;
    for (int j = 1; j < k; j++)
        if ((double)x[j] / (double)tau > mx)
            mx = (double)x[j] / (double)tau;
    double sum = 0.0;
    for (int j = 0; j < k; j++)
        sum += exp((double)x[j] / (double)tau - mx);
    double lse = log(sum);
    for (int j = 0; j < k; j++) {
        double lp = (double)x[j] / (double)tau - mx - lse;
        probs[j] = (float)exp(lp);
        if (logp)
            logp[j] = lp;
    }
}

float crossentropy_forward(float *probs, const float *logits, const int *targets,
                           int n, int k, float smoothing)
{
    assert(n > 0 && k > 0 && k <= 4096);
    double logp[4096];
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        assert(targets[i] >= 0 && targets[i] < k);
        softmax_row(probs + (size_t)i * k, logp, logits + (size_t)i * k, k, 1.0f);
        double sum_logp = 0.0;
        for (int j = 0; j < k; j++)
            sum_logp += logp[j];
        total += -(1.0 - (double)smoothing) * logp[targets[i]] - (double)smoothing / k * sum_logp;
    }
    return (float)(total / n);
}

void crossentropy_backward(float *dlogits, const float *probs, const int *targets,
                           int n, int k, float smoothing, float dloss)
{
    const float scale = dloss / (float)n;
    const float off = smoothing / (float)k;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
            float target = off + (j == targets[i] ? 1.0f - smoothing : 0.0f);
            dlogits[(size_t)i * k + j] += scale * (probs[(size_t)i * k + j] - target);
        }
    }
}

float kl_div_forward(float *student_probs, float *teacher_probs,
                     const float *student_logits, const float *teacher_logits,
                     int n, int k, float tau)
{
    assert(n > 0 && k > 0 && k <= 4096 && tau > 0.0f);
    double logp_s[4096], logp_t[4096];
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        softmax_row(student_probs + (size_t)i * k, logp_s, student_logits + (size_t)i * k, k, tau);
        softmax_row(teacher_probs + (size_t)i * k, logp_t, teacher_logits + (size_t)i * k, k, tau);
        for (int j = 0; j < k; j++)
            total += exp(logp_t[j]) * (logp_t[j] - logp_s[j]);
    }
    return (float)(total / n * (double)tau * (double)tau);
}

void kl_div_backward(float *dstudent_logits, const float *student_probs,
                     const float *teacher_probs, int n, int k, float tau,
                     float dloss)
{
    const float scale = dloss * tau / (float)n;
    for (size_t i = 0; i < (size_t)n * k; i++)
        dstudent_logits[i] += scale * (student_probs[i] - teacher_probs[i]);
}
