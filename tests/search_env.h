/*
 * search_env.h - what the search tests share: a search space with a search
 * config and a run directory under a temporary root, a synthetic scorer
 * (a pure function of the subnet, like the real score, but instant), a
 * straight-through reference run, and top-k comparison.
 */
#ifndef MUTATORD_TESTS_SEARCH_ENV_H
#define MUTATORD_TESTS_SEARCH_ENV_H

#include <libconfig.h>

#include "search.h"
#include "search_space.h"

/* The temporary root of the test program's run directories. */
extern char tmp_root[256];
/* Creates tmp_root as /tmp/mutatord-test-<name>-XXXXXX; -1 on failure. */
int search_env_init(const char *name);

/* A search space, a search config and a run directory. */
struct env {
    config_t cfg;
    struct search_space *ss;
    struct search_config sc;
    char dir[512];              /* tmp_root/<name> */
};

/* space: a `supernet` section; search: the keys of a `search` group; the
 * run directory is tmp_root/dir (created). */
void env_open(struct env *e, const char *space, const char *search, const char *dir);
void env_close(struct env *e);

/* The synthetic score: a fixed pseudo-random value per subnet, in [0, 1),
 * with a calls counter so that tests see what was scored. */
struct synth {
    long calls;
    long kill_after;   /* > 0: SIGKILL this process at that call */
};
enum mtd_status synth_score(void *ctx, const struct subnet *s, double *score,
                            struct mtd_error *err);

/* 4^6 = 4096 subnets of shuffle blocks on 8x8 images. */
extern const char *const wide_space;

/* Runs a whole search in dir; returns its top-k (copied) and *calls. */
int run_straight(const char *space, const char *search, const char *dir,
                 struct search_entry *top, long *calls);

/* Same subnets, scores and MACs, bit for bit, in the same order. */
void assert_same_top(const struct search_entry *a, int na, const struct search_entry *b,
                     int nb);

#endif
