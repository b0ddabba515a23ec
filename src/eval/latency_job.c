/*
 * latency_job.c - building and checking a latency table (latency_job.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "latency_job.h"
#include "latency_table.h"
#include "log.h"
#include "measure.h"
#include "parallel.h"
#include "rng.h"
#include "run_config.h"

#define STREAM_LATENCY 0x6c617465ULL

static int same_width(const struct unit_width *a, const struct unit_width *b)
{
    return a->channels == b->channels && a->ratio == b->ratio && a->divisor == b->divisor;
}

/* Every width setting each unit takes when one group at a time moves away
 * from the largest subnet: the settings the mutators can give it. */
static enum mtd_status unit_settings_of(const struct search_space *ss,
                                        struct unit_settings *out, struct mtd_error *err)
{
    const int ngroups = search_space_ngroups(ss), nunits = supernet_nunits(search_space_supernet(ss));
    int base[SEARCH_SPACE_MAX_GROUPS], c[SEARCH_SPACE_MAX_GROUPS];
    search_space_sample(ss, SAMPLE_MAX, NULL, base);
    memset(out, 0, (size_t)nunits * sizeof *out);
    for (int g = 0; g < ngroups; g++)
        for (int k = 0; k < search_space_group(ss, g)->nchoices; k++) {
            struct arch arch;
            memcpy(c, base, sizeof base);
            c[g] = k;
            search_space_to_arch(ss, c, &arch);
            for (int u = 0; u < nunits; u++) {
                struct unit_settings *s = &out[u];
                int known = 0;
                for (int i = 0; i < s->n; i++)
                    known |= same_width(&s->w[i], &arch.width[u]);
                if (known)
                    continue;
                if (s->n == (int)(sizeof s->w / sizeof s->w[0]))
                    return mtd_error_set(err, MTD_ERR_CONFIG, "unit %s takes more than %d "
                                         "widths: too many for a latency table",
                                         supernet_unit(search_space_supernet(ss), u)->name, s->n);
                s->w[s->n++] = arch.width[u];
            }
        }
    return MTD_OK;
}

static void show_progress(void *ctx, int done, int total)
{
    struct progress *bar = ctx;
    bar->total = total;
    progress_update(bar, done, -1.0, "cells");
}

/* Predicted against measured on random subnets. */
static enum mtd_status check_table(struct run_config *rc, const struct latency_table *t,
                                   int repeats, const volatile sig_atomic_t *stop, FILE *out,
                                   struct mtd_error *err)
{
    struct supernet *sn = search_space_supernet(rc->ss);
    const struct space_def *def = supernet_space(sn);
    float *image = floats_alloc((size_t)def->in_c * def->in_h * def->in_w);
    double *runs = malloc((size_t)repeats * sizeof *runs);
    enum mtd_status st = image && runs ? MTD_OK
                                       : mtd_error_set(err, MTD_ERR_NOMEM, "out of memory");
    if (st == MTD_OK)
        st = supernet_reserve_eval(sn, 1, err);
    struct rng rng;
    rng_seed(&rng, rng_derive(rc->search.seed, STREAM_LATENCY));
    double abs_err = 0.0, rel_err = 0.0;
    if (st == MTD_OK) {
        for (int i = 0; i < def->in_c * def->in_h * def->in_w; i++)
            image[i] = (float)((i * 37) % 100) / 50.0f - 1.0f;
        fprintf(out, "%-4s %-16s %12s %12s\n", "#", "hash", "predicted", "measured");
    }
    for (int i = 0; st == MTD_OK && i < LATENCY_CHECK_SUBNETS; i++) {
        if (*stop) {
            st = MTD_STOPPED;
            break;
        }
        struct subnet s = {.n = search_space_ngroups(rc->ss)};
        struct arch arch;
        search_space_sample(rc->ss, SAMPLE_RANDOM, &rng, s.choice);
        search_space_to_arch(rc->ss, s.choice, &arch);
        if ((st = supernet_set_arch(sn, &arch, err)) != MTD_OK)
            break;
        double predicted = latency_table_predict(t, sn, &arch);
        if (isnan(predicted)) {
            st = mtd_error_set(err, MTD_ERR_DATA, "the latency table has no entry for a cell of "
                               "subnet %016llx (a width the mutators give was not measured)",
                               (unsigned long long)subnet_hash(&s));
            break;
        }
        double measured = measure_latency_ms(sn, image, repeats, runs);
        abs_err += fabs(predicted - measured);
        rel_err += fabs(predicted - measured) / measured;
        fprintf(out, "%-4d %016llx %9.4f ms %9.4f ms\n", i, (unsigned long long)subnet_hash(&s),
                predicted, measured);
    }
    if (st == MTD_OK)
        fprintf(out, "%d random subnets: mean absolute error %.4f ms, mean relative error "
                "%.1f%%\n", LATENCY_CHECK_SUBNETS, abs_err / LATENCY_CHECK_SUBNETS,
                100.0 * rel_err / LATENCY_CHECK_SUBNETS);
    floats_free(image);
    free(runs);
    return st;
}

enum mtd_status latency_job(const struct eval_options *opt, FILE *out,
                            const volatile sig_atomic_t *stop, struct mtd_error *err)
{
    struct run_config rc;
    enum mtd_status st = run_config_read(&rc, opt->config, opt->run_dir, opt->threads, err);
    struct unit_settings *settings = NULL;
    struct latency_table *t = NULL;
    if (st == MTD_OK) {
        parallel_init(rc.threads);
        struct supernet *sn = search_space_supernet(rc.ss);
        settings = calloc((size_t)supernet_nunits(sn), sizeof *settings);
        if (settings == NULL)
            st = mtd_error_set(err, MTD_ERR_NOMEM, "out of memory");
        if (st == MTD_OK) {
            struct progress bar;
            st = unit_settings_of(rc.ss, settings, err);
            progress_begin(&bar, "latency table", 0, 1);  /* total set by the first update */
            if (st == MTD_OK)
                st = latency_table_measure(sn, settings, opt->repeats, show_progress, &bar, stop,
                                           &t, err);
            progress_end(&bar);
        }
        if (st == MTD_OK)
            st = latency_table_write(t, sn, opt->latency_table, err);
        if (st == MTD_OK) {
            fprintf(out, "%s: %d entries, %d threads\n", opt->latency_table,
                    latency_table_entries(t), parallel_threads());
            st = check_table(&rc, t, opt->repeats, stop, out, err);
        }
    }
    latency_table_free(t);
    free(settings);
    run_config_free(&rc);
    return st;
}
