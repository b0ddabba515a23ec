/*
 * bench_train.c - images per second of single-path supernet training on
 * a config's space (default conf/spos-fmnist.conf), REFERENCE.md's
 * protocol: a uniformly sampled path per batch of 128, forward,
 * cross-entropy, backward, SGD (momentum 0.9, nesterov, weight decay
 * 4e-5). Random input data of the space's shape: the speed does not
 * depend on the pixels. The PyTorch side is tests/reference/bench_torch.py.
 *
 * Paths: each group's choice is uniform, drawn without replacement in
 * rounds (a permutation per group, splitmix64 from seed 1, Fisher-Yates),
 * so that every op runs equally often and a run of some seconds costs what
 * a long one does per image; bench_torch.py draws the same paths. Warm-up
 * is the first round; then whole rounds for about SECONDS.
 *
 *   bench_train [-t THREADS] [-s SECONDS] [-p] [CONFIG]
 *
 * Prints one JSON line: images per second at THREADS threads, or with -p
 * the speed-up of THREADS threads over one, rounds timed in alternation
 * (bench_paired_speedup).
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

enum { BATCH = 128 };

/* splitmix64 (bench_torch.py's PathSequence.next64). */
static uint64_t next64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The paths of both sides, one step at a time. */
struct path_sequence {
    uint64_t state;
    int ngroups, round, at;   /* round: the choices per group (all equal) */
    int perm[SEARCH_SPACE_MAX_GROUPS][MUTATOR_MAX_CHOICES];
};

static void path_next(struct path_sequence *p, int *choices)
{
    if (p->at == p->round) {
        for (int g = 0; g < p->ngroups; g++) {
            for (int i = 0; i < p->round; i++)
                p->perm[g][i] = i;
            for (int j = p->round - 1; j > 0; j--) {
                int k = (int)(next64(&p->state) % (uint64_t)(j + 1));
                int t = p->perm[g][j];
                p->perm[g][j] = p->perm[g][k];
                p->perm[g][k] = t;
            }
        }
        p->at = 0;
    }
    for (int g = 0; g < p->ngroups; g++)
        choices[g] = p->perm[g][p->at];
    p->at++;
}

/* One training step's work, on the next path. */
struct train_ctx {
    struct search_space *ss;
    struct supernet *sn;
    struct path_sequence paths;
    const float *images;
    const int *labels;
    float *probs, *dlogits;
    int classes;
};

static void train_step(struct train_ctx *t)
{
    static const struct sgd_config sgd = {.lr = 0.01f, .momentum = 0.9f, .weight_decay = 4e-5f,
                                          .nesterov = 1};
    struct mtd_error err = {0};
    int c[SEARCH_SPACE_MAX_GROUPS];
    struct arch arch;
    path_next(&t->paths, c);
    search_space_to_arch(t->ss, c, &arch);
    supernet_set_arch(t->sn, &arch, &err);
    const float *logits = supernet_forward(t->sn, t->images, BATCH, FORWARD_TRAIN);
    crossentropy_forward(t->probs, logits, t->labels, BATCH, t->classes, 0.0f);
    for (size_t i = 0; i < (size_t)BATCH * (size_t)t->classes; i++)
        t->dlogits[i] = 0.0f;
    crossentropy_backward(t->dlogits, t->probs, t->labels, BATCH, t->classes, 0.0f, 1.0f);
    supernet_backward(t->sn, t->dlogits);
    supernet_sgd_step(t->sn, &sgd, 0);
}

/* A whole round of paths (every op once per group). */
static void train_round(void *arg)
{
    struct train_ctx *t = arg;
    for (int i = 0; i < t->paths.round; i++)
        train_step(t);
}

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
    struct train_ctx t = {.ss = ss, .sn = sn, .images = images, .labels = labels,
                          .probs = probs, .dlogits = dlogits, .classes = def->classes,
                          .paths = {.state = 1, .ngroups = search_space_ngroups(ss)}};
    t.paths.round = search_space_group(ss, 0)->nchoices;
    for (int g = 1; g < t.paths.ngroups; g++)
        if (search_space_group(ss, g)->nchoices != t.paths.round) {
            fprintf(stderr, "bench_train: %s: the groups have different numbers of choices\n",
                    path);
            return 1;
        }
    t.paths.at = t.paths.round;
    train_round(&t);   /* warm-up: arenas, pages, caches */
    if (args.paired) {
        struct bench_speedup speedup;
        bench_paired_speedup(threads, seconds, train_round, &t, &speedup);
        bench_print_speedup("train_speedup", threads, &speedup, "round of paths");
    } else {
        /* Whole rounds for about `seconds`. */
        long steps = 0;
        const double t0 = monotonic_seconds();
        do {
            train_round(&t);
            steps += t.paths.round;
        } while (monotonic_seconds() - t0 < seconds);
        const double elapsed = monotonic_seconds() - t0;
        printf("{\"bench\": \"train\", \"side\": \"mutatord\", \"threads\": %d, "
               "\"config\": \"%s\", \"batch\": %d, \"steps\": %ld, \"value\": %.1f, "
               "\"unit\": \"images/s\"}\n",
               threads, path, BATCH, steps, (double)steps * BATCH / elapsed);
    }
    floats_free(images);
    floats_free(probs);
    floats_free(dlogits);
    search_space_free(ss);
    config_destroy(&cfg);
    return 0;
}
