/*
 * search_output.c - what a search leaves in its run directory, each file
 * replaced atomically so that a reader never sees half of one (the
 * daemon writes status.json from the progress the search reports):
 *
 *   history.csv       a row per scored subnet, in the order scored
 *   best/subnet-NN.conf   the top-k as subnet files, with their metrics
 *   pareto.svg        score against MACs of every scored subnet, top-k marked
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt_io.h"
#include "log.h"
#include "search_state.h"

static enum mtd_status open_output(const struct search *s, const char *name,
                                   struct ckpt_writer **w, FILE **f, struct mtd_error *err)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", s->run_dir, name);
    return text_writer_open(w, path, f, err);
}

static enum mtd_status write_history(const struct search *s, struct mtd_error *err)
{
    struct ckpt_writer *w;
    FILE *f;
    enum mtd_status st = open_output(s, "history.csv", &w, &f, err);
    if (st != MTD_OK)
        return st;
    const int groups = search_space_ngroups(s->ss);
    fprintf(f, "index,generation,hash,score,macs,params");
    for (int g = 0; g < groups; g++)
        fprintf(f, ",%s", search_space_group(s->ss, g)->name);
    fputc('\n', f);
    for (long i = 0; i < s->nentries; i++) {
        const struct search_entry *e = &s->entries[i];
        fprintf(f, "%ld,%d,%016llx,%.6f,%.0f,%.0f", i, e->generation,
                (unsigned long long)e->hash, e->score, e->macs, e->params);
        for (int g = 0; g < groups; g++)
            fprintf(f, ",%s", search_space_group(s->ss, g)->choices[e->subnet.choice[g]].label);
        fputc('\n', f);
    }
    return ckpt_writer_commit(w, err);
}

static enum mtd_status write_best(const struct search *s, struct mtd_error *err)
{
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/best", s->run_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return mtd_error_set(err, MTD_ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
    for (int i = 0; i < s->ntop; i++) {
        const struct search_entry *e = search_top(s, i);
        char name[32];
        snprintf(name, sizeof name, "best/subnet-%02d.conf", i + 1);
        struct ckpt_writer *w;
        FILE *f;
        enum mtd_status st = open_output(s, name, &w, &f, err);
        if (st != MTD_OK)
            return st;
        struct subnet_metrics m = {0};
        subnet_metrics_set(&m, "score", e->score);
        subnet_metrics_set(&m, "macs", e->macs);
        subnet_metrics_set(&m, "params", e->params);
        if ((st = subnet_write(s->ss, &e->subnet, &m, f, name, err)) != MTD_OK) {
            ckpt_writer_abort(w);
            return st;
        }
        if ((st = ckpt_writer_commit(w, err)) != MTD_OK)
            return st;
    }
    return MTD_OK;
}

/* A "nice" tick step for a range: 1, 2 or 5 times a power of ten. */
static double tick_step(double range)
{
    double raw = range / 5.0, p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1.0 : m < 3.5 ? 2.0 : m < 7.5 ? 5.0 : 10.0) * p;
}

static enum mtd_status write_pareto(const struct search *s, struct mtd_error *err)
{
    struct ckpt_writer *w;
    FILE *f;
    enum mtd_status st = open_output(s, "pareto.svg", &w, &f, err);
    if (st != MTD_OK)
        return st;
    enum { W = 720, H = 480, L = 80, R = 30, T = 40, B = 60 };
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (long i = 0; i < s->nentries; i++) {
        x0 = fmin(x0, s->entries[i].macs / 1e6);
        x1 = fmax(x1, s->entries[i].macs / 1e6);
        y0 = fmin(y0, 100.0 * s->entries[i].score);
        y1 = fmax(y1, 100.0 * s->entries[i].score);
    }
    if (s->nentries == 0) {
        x0 = 0.0, x1 = 1.0, y0 = 0.0, y1 = 100.0;
    }
    /* Room around the points, and never an empty range. */
    double xpad = fmax((x1 - x0) * 0.05, 0.01), ypad = fmax((y1 - y0) * 0.05, 0.1);
    x0 -= xpad, x1 += xpad, y0 -= ypad, y1 += ypad;
#define PX(v) (L + ((v) - x0) / (x1 - x0) * (W - L - R))
#define PY(v) (H - B - ((v) - y0) / (y1 - y0) * (H - T - B))
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"15\">Validation accuracy against MACs: %ld "
            "subnets scored, top %d in red</text>\n", L, s->nentries, s->ntop);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"black\"/>\n", L, T, W - L - R, H - T - B);
    double dx = tick_step(x1 - x0), dy = tick_step(y1 - y0);
    for (double v = ceil(x0 / dx) * dx; v <= x1; v += dx)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\"/>"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
                PX(v), H - B, PX(v), H - B + 5, PX(v), H - B + 20, v);
    for (double v = ceil(y0 / dy) * dy; v <= y1; v += dy)
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                L - 5, PY(v), L, PY(v), L - 8, PY(v) + 4, v);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">MACs per image (millions)</text>\n",
            (W + L - R) / 2, H - 15);
    fprintf(f, "<text x=\"20\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 20 %d)\">"
            "validation accuracy (%%)</text>\n", (H + T - B) / 2, (H + T - B) / 2);
    for (long i = 0; i < s->nentries; i++)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#888\"/>\n",
                PX(s->entries[i].macs / 1e6), PY(100.0 * s->entries[i].score));
    for (int i = 0; i < s->ntop; i++) {
        const struct search_entry *e = search_top(s, i);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#d22\"><title>#%d %.2f%% "
                "%.4g MACs</title></circle>\n", PX(e->macs / 1e6), PY(100.0 * e->score), i + 1,
                100.0 * e->score, e->macs);
    }
#undef PX
#undef PY
    fprintf(f, "</svg>\n");
    return ckpt_writer_commit(w, err);
}

enum mtd_status search_write_outputs(const struct search *s, int final, struct mtd_error *err)
{
    enum mtd_status st = write_history(s, err);
    if (st == MTD_OK)
        st = write_best(s, err);
    if (st == MTD_OK)
        st = write_pareto(s, err);
    if (st == MTD_OK && final) {
        log_msg(LOG_INFO, "search complete: %ld subnets scored over %d generations; the best:",
                s->nentries, s->cfg.generations);
        for (int i = 0; i < s->ntop; i++) {
            const struct search_entry *e = search_top(s, i);
            log_msg(LOG_INFO, "  #%-2d %.2f%%  %.4g MACs  %.4g params  best/subnet-%02d.conf",
                    i + 1, 100.0 * e->score, e->macs, e->params, i + 1);
        }
    }
    return st;
}
