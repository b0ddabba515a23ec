/*
 * mutator_eval.c - offline evaluation of the subnets a search found: the
 * evaluation table, finetuning, ranking quality, export (native and ONNX)
 * and the latency table. Works from the config and the run directory; the
 * daemon need not run. mutator-eval(1) describes every option.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "eval/candidates.h"
#include "eval/eval_options.h"
#include "eval/finetune.h"
#include "eval/latency_job.h"
#include "eval/measure.h"
#include "eval/report.h"
#include "eval/session.h"
#include "log.h"
#include "model.h"
#include "parallel.h"

/* SIGINT/SIGTERM: finetunes checkpoint and the program stops. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static enum mtd_status finish_report(const struct eval_options *o, const struct report *r,
                                     struct mtd_error *err)
{
    report_print(r, stdout);
    if (o->csv != NULL) {
        enum mtd_status st = report_write_csv(r, o->csv, err);
        if (st != MTD_OK)
            return st;
        printf("table written to %s\n", o->csv);
    }
    return MTD_OK;
}

/* The supernet's current subnet (scored, so calibrated) as a standalone
 * model in --export's directory. */
static enum mtd_status export_current(struct eval_session *es, const struct eval_row *row,
                                      struct mtd_error *err)
{
    struct space_def def;
    struct supernet *x;
    enum mtd_status st = supernet_extract(es->sn, supernet_arch(es->sn), &def, &x, err);
    if (st != MTD_OK)
        return st;
    struct subnet_metrics m = {0};
    subnet_metrics_set(&m, "macs", row->macs);
    subnet_metrics_set(&m, "params", row->params);
    subnet_metrics_set(&m, isnan(row->top1_finetuned) ? "top1" : "top1_finetuned",
                       isnan(row->top1_finetuned) ? row->top1 : row->top1_finetuned);
    st = model_export(x, &es->rc.data, row->hash, &m, es->opt->export_dir, err);
    supernet_free(x);
    if (st == MTD_OK)
        printf("%s exported to %s (model.conf, weights.bin, model.onnx)\n", row->name,
               es->opt->export_dir);
    return st;
}

/* One row: inherited-weight score, cost, speed, and the finetune. */
static enum mtd_status evaluate_one(struct eval_session *es, const struct candidate *c,
                                    int export, struct eval_row *row, struct mtd_error *err)
{
    const struct eval_options *o = es->opt;
    snprintf(row->name, sizeof row->name, "%s", c->name);
    row->hash = subnet_hash(&c->subnet);
    row->top1_finetuned = row->latency_ms = row->images_per_s = NAN;
    struct subnet_cost cost;
    search_cost(es->rc.ss, NULL, &c->subnet, &cost);
    row->macs = cost.macs;
    row->params = cost.params;
    enum mtd_status st = session_score(es, &c->subnet, &row->top1, err);
    if (st == MTD_OK && !o->no_timing) {
        struct speed sp;
        st = measure_speed(es->sn, &es->data, &es->scored, o->repeats, &sp, err);
        row->latency_ms = sp.latency_ms;
        row->images_per_s = sp.images_per_s;
    }
    if (st == MTD_OK && o->finetune)
        st = finetune_subnet(es, &c->subnet, o->finetune, o->from_scratch, export,
                             &row->top1_finetuned, err);
    if (st == MTD_OK && export)
        st = export_current(es, row, err);
    if (export)
        session_reset_weights(es, 0);
    return st;
}

static enum mtd_status evaluate_candidates(struct eval_session *es, struct mtd_error *err)
{
    struct candidate *c = NULL;
    int n = 0;
    enum mtd_status st = candidates_collect(es, &c, &n, err);
    struct eval_row *rows = calloc((size_t)(n > 0 ? n : 1), sizeof *rows);
    if (st == MTD_OK && rows == NULL)
        st = mtd_error_set(err, MTD_ERR_NOMEM, "out of memory");
    struct progress bar;
    progress_begin(&bar, "subnets", n, 1);
    int done = 0;
    for (; st == MTD_OK && done < n; done++) {
        st = evaluate_one(es, &c[done], done == 0 && es->opt->export_dir != NULL, &rows[done],
                          err);
        char extra[128];
        snprintf(extra, sizeof extra, "%s %.2f%%", c[done].name, 100.0 * rows[done].top1);
        if (st == MTD_OK)
            progress_update(&bar, done + 1, -1.0, extra);
    }
    progress_end(&bar);
    if (st == MTD_OK) {
        struct report r = {.split = es->opt->split == SPLIT_TEST ? "test" : "val",
                           .finetuned = es->opt->finetune > 0, .timed = !es->opt->no_timing,
                           .n = n, .rows = rows};
        st = finish_report(es->opt, &r, err);
    }
    free(c);
    free(rows);
    return st;
}

/* --model DIR: the exported network alone, with its own statistics. */
static enum mtd_status evaluate_model(const struct eval_options *o, struct mtd_error *err)
{
    struct model m;
    struct data d;
    memset(&d, 0, sizeof d);
    enum mtd_status st = model_load(&m, o->model, err);
    if (st == MTD_OK) {
        parallel_init(o->threads);
        st = data_load(&d, &m.data, m.def.classes, m.def.in_h, m.def.in_w,
                       o->split == SPLIT_TEST, err);
    }
    struct eval_row row = {.top1_finetuned = NAN, .latency_ms = NAN, .images_per_s = NAN};
    snprintf(row.name, sizeof row.name, "%s", o->model);
    if (st == MTD_OK) {
        row.hash = m.subnet_hash;
        struct data_split scored = data_split(&d, o->split);
        struct resources res;
        supernet_estimate(m.sn, supernet_arch(m.sn), &res);
        row.macs = res.macs;
        row.params = res.params;
        st = evaluate_arch(m.sn, &d, NULL, &scored, 250, &stop_requested, &row.top1, err);
        if (st == MTD_OK && !o->no_timing) {
            struct speed sp;
            st = measure_speed(m.sn, &d, &scored, o->repeats, &sp, err);
            row.latency_ms = sp.latency_ms;
            row.images_per_s = sp.images_per_s;
        }
    }
    if (st == MTD_OK) {
        struct report r = {.split = o->split == SPLIT_TEST ? "test" : "val",
                           .timed = !o->no_timing, .n = 1, .rows = &row};
        st = finish_report(o, &r, err);
    }
    data_free(&d);
    model_free(&m);
    return st;
}

static enum mtd_status run(const struct eval_options *o, struct mtd_error *err)
{
    if (o->model != NULL)
        return evaluate_model(o, err);
    enum mtd_status st = MTD_OK;
    if (o->latency_table != NULL && (st = latency_job(o, stdout, &stop_requested, err)) != MTD_OK)
        return st;
    if (!(o->nsubnet || o->best || o->sample || o->rank))
        return MTD_OK;
    struct eval_session es;
    st = session_open(&es, o, &stop_requested, err);
    if (st == MTD_OK && (o->nsubnet || o->best || o->sample))
        st = evaluate_candidates(&es, err);
    if (st == MTD_OK && o->rank)
        st = rank_subnets(&es, stdout, err);
    session_close(&es);
    return st;
}

int main(int argc, char **argv)
{
    struct eval_options o;
    int code = eval_options_parse(argc, argv, &o);
    if (code >= 0)
        return code;
    catch_signals();
    struct mtd_error err = {0};
    enum mtd_status st = run(&o, &err);
    if (st == MTD_STOPPED) {
        fprintf(stderr, "mutator-eval: stopped; finetunes keep their checkpoints, and the same "
                "command continues from them\n");
        return 130;
    }
    if (st != MTD_OK) {
        fprintf(stderr, "mutator-eval: %s\n", err.msg);
        return mtd_status_exit_code(st);
    }
    return EX_OK;
}
