/*
 * candidates.c - which subnets to evaluate (candidates.h).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "candidates.h"
#include "rng.h"

/* --sample draws from this stream of --seed. */
#define STREAM_SAMPLE 0x73616d70ULL

/* The number of best/subnet-NN.conf files, NN from 01 without a gap. */
static int count_best(const char *run_dir)
{
    char path[PATH_MAX + 32];
    int n = 0;
    for (;; n++) {
        snprintf(path, sizeof path, "%s/best/subnet-%02d.conf", run_dir, n + 1);
        if (access(path, F_OK) != 0)
            return n;
    }
}

static enum mtd_status load_file(struct eval_session *es, const char *path, const char *name,
                                 struct candidate *c, struct mtd_error *err)
{
    snprintf(c->name, sizeof c->name, "%s", name);
    if (access(path, F_OK) != 0)
        return mtd_error_set(err, MTD_ERR_NOINPUT, "%s: no such subnet file", path);
    return subnet_load(es->rc.ss, path, &c->subnet, NULL, err);
}

enum mtd_status candidates_collect(struct eval_session *es, struct candidate **out, int *n,
                                   struct mtd_error *err)
{
    const struct eval_options *o = es->opt;
    const int nbest = o->best ? count_best(es->rc.run_dir) : 0;
    if (o->best && nbest == 0)
        return mtd_error_set(err, MTD_ERR_NOINPUT, "%s/best: no subnet files (the search has "
                             "not written any yet)", es->rc.run_dir);
    const int total = o->nsubnet + nbest + o->sample;
    struct candidate *c = calloc((size_t)total, sizeof *c);
    if (c == NULL)
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for %d subnets", total);
    *out = c;
    *n = 0;
    enum mtd_status st = MTD_OK;
    for (int i = 0; st == MTD_OK && i < o->nsubnet; i++)
        st = load_file(es, o->subnet[i], o->subnet[i], &c[(*n)++], err);
    for (int i = 0; st == MTD_OK && i < nbest; i++) {
        char path[PATH_MAX + 32], name[32];
        snprintf(path, sizeof path, "%s/best/subnet-%02d.conf", es->rc.run_dir, i + 1);
        snprintf(name, sizeof name, "best/subnet-%02d", i + 1);
        st = load_file(es, path, name, &c[(*n)++], err);
    }
    struct rng rng;
    rng_seed(&rng, rng_derive(o->seed, STREAM_SAMPLE));
    for (int i = 0; st == MTD_OK && i < o->sample; i++) {
        struct candidate *k = &c[(*n)++];
        snprintf(k->name, sizeof k->name, "sample-%d", i);
        st = search_draw_feasible(es->rc.ss, &es->rc.search, es->lat, &rng, &k->subnet, err);
    }
    return st;
}
