/*
 * bench_train.c - images per second of single-path supernet training on
 * a config's space (default conf/spos-fmnist.conf), REFERENCE.md's
 * protocol: a uniformly sampled path per batch of 128, forward,
 * cross-entropy, backward, SGD (momentum 0.9, nesterov, weight decay
 * 4e-5). Random input data of the space's shape: the speed does not
 * depend on the pixels. The PyTorch side is tests/reference/bench_torch.py.
 *
 *   bench_train [--threads T] [--seconds S] [CONFIG]
 *
 * Prints one JSON line.
 */
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "bench_common.h"
#include "conf.h"
#include "log.h"
#include "loss.h"
#include "parallel.h"
#include "search_space.h"

enum { BATCH = 128, WARMUP_STEPS = 3 };

int main(int argc, char **argv)
{
    struct bench_args args;
    bench_parse_args(argc, argv, "bench_train", &args);
    const int threads = args.threads;
    const double seconds = args.seconds;
    const char *path = args.config;
    config_t cfg;
    struct mtd_error err = {0};
    struct search_space *ss = bench_load_space("bench_train", path, 1, &cfg);
    struct supernet *sn = search_space_supernet(ss);
    const struct space_def *def = supernet_space(sn);
    const size_t pixels = (size_t)def->in_c * (size_t)def->in_h * (size_t)def->in_w;
    float *images = floats_alloc(BATCH * pixels);
    float *probs = floats_alloc(BATCH * (size_t)def->classes);
    float *dlogits = floats_alloc(BATCH * (size_t)def->classes);
    int labels[BATCH];
    struct rng rng;
    rng_seed(&rng, 1);
    rng_fill_normal(&rng, images, (long)(BATCH * pixels), 0.0f, 1.0f);
    for (int i = 0; i < BATCH; i++)
        labels[i] = (int)rng_below(&rng, (uint64_t)def->classes);
    if (!images || !probs || !dlogits || supernet_reserve(sn, BATCH, &err) != MTD_OK) {
        fprintf(stderr, "bench_train: out of memory\n");
        return 1;
    }
    struct sgd_config sgd = {.lr = 0.01f, .momentum = 0.9f, .weight_decay = 4e-5f, .nesterov = 1};
    double t0 = 0.0;
    long steps = 0;
    for (long s = 0;; s++) {
        if (s == WARMUP_STEPS)
            t0 = monotonic_seconds();
        if (s > WARMUP_STEPS && monotonic_seconds() - t0 >= seconds)
            break;
        int c[SEARCH_SPACE_MAX_GROUPS];
        struct arch arch;
        search_space_sample(ss, SAMPLE_RANDOM, &rng, c);
        search_space_to_arch(ss, c, &arch);
        supernet_set_arch(sn, &arch, &err);
        const float *logits = supernet_forward(sn, images, BATCH, FORWARD_TRAIN);
        crossentropy_forward(probs, logits, labels, BATCH, def->classes, 0.0f);
        for (size_t i = 0; i < (size_t)BATCH * (size_t)def->classes; i++)
            dlogits[i] = 0.0f;
        crossentropy_backward(dlogits, probs, labels, BATCH, def->classes, 0.0f, 1.0f);
        supernet_backward(sn, dlogits);
        supernet_sgd_step(sn, &sgd, 0);
        if (s >= WARMUP_STEPS)
            steps++;
    }
    double elapsed = monotonic_seconds() - t0;
    printf("{\"bench\": \"train\", \"side\": \"mutatord\", \"threads\": %d, \"config\": \"%s\", "
           "\"batch\": %d, \"steps\": %ld, \"value\": %.1f, \"unit\": \"images/s\"}\n",
           threads, path, BATCH, steps, (double)steps * BATCH / elapsed);
    floats_free(images);
    floats_free(probs);
    floats_free(dlogits);
    search_space_free(ss);
    config_destroy(&cfg);
    return 0;
}
