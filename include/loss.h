/*
 * loss.h - classification losses on logits (N, K), averaged over the batch.
 *
 * Backward passes accumulate (+=) dloss times the gradient of the mean loss.
 */
#ifndef MUTATORD_LOSS_H
#define MUTATORD_LOSS_H

/* Softmax cross-entropy against targets with label smoothing: the target
 * distribution is (1 - smoothing) on the true class plus smoothing / K on
 * every class (PyTorch's CrossEntropyLoss(label_smoothing=...)).
 * probs (N, K) receives the softmax, kept for the backward pass.
 * Returns the mean loss. targets: N class indices in [0, K). */
float crossentropy_forward(float *probs, const float *logits, const int *targets,
                           int n, int k, float smoothing);

/* dlogits (N, K) += dloss * (probs - target distribution) / N */
void crossentropy_backward(float *dlogits, const float *probs, const int *targets,
                           int n, int k, float smoothing, float dloss);

/* Knowledge distillation to soft targets: KL(p_t || p_s) with
 * p = softmax(logits / tau), times tau^2 (so gradients keep their scale
 * across temperatures), averaged over the batch (PyTorch's KLDivLoss with
 * reduction='batchmean'). The teacher is a constant: no gradient flows to it.
 * student_probs and teacher_probs (N, K) receive the two softmaxes.
 * Returns the mean loss. */
float kl_div_forward(float *student_probs, float *teacher_probs,
                     const float *student_logits, const float *teacher_logits,
                     int n, int k, float tau);

/* dstudent_logits (N, K) += dloss * tau * (p_s - p_t) / N */
void kl_div_backward(float *dstudent_logits, const float *student_probs,
                     const float *teacher_probs, int n, int k, float tau,
                     float dloss);

#endif
