/*
 * report.c - the evaluation table (report.h).
 */
#include <string.h>

#include "ckpt_io.h"
#include "report.h"

void report_print(const struct report *r, FILE *f)
{
    int w = 8;
    for (int i = 0; i < r->n; i++)
        w = (int)strlen(r->rows[i].name) > w ? (int)strlen(r->rows[i].name) : w;
    fprintf(f, "%-*s %-16s %8s", w, "subnet", "hash", "top1");
    if (r->finetuned)
        fprintf(f, " %9s", "finetuned");
    fprintf(f, " %11s %9s", "MACs", "params");
    if (r->timed)
        fprintf(f, " %10s %9s", "latency", "img/s");
    fprintf(f, "\n");
    for (int i = 0; i < r->n; i++) {
        const struct eval_row *e = &r->rows[i];
        fprintf(f, "%-*s %016llx %7.2f%%", w, e->name, (unsigned long long)e->hash, 100.0 * e->top1);
        if (r->finetuned)
            fprintf(f, " %8.2f%%", 100.0 * e->top1_finetuned);
        fprintf(f, " %11.0f %9.0f", e->macs, e->params);
        if (r->timed)
            fprintf(f, " %7.3f ms %9.0f", e->latency_ms, e->images_per_s);
        fprintf(f, "\n");
    }
    fprintf(f, "top1: %s split%s%s\n", r->split,
            r->finetuned ? "; finetuned: after --finetune" : "",
            r->timed ? "; latency: batch 1, median; img/s: batch 256" : "");
}

enum mtd_status report_write_csv(const struct report *r, const char *path,
                                 struct mtd_error *err)
{
    struct ckpt_writer *w;
    FILE *f;
    enum mtd_status st = text_writer_open(&w, path, &f, err);
    if (st != MTD_OK)
        return st;
    fprintf(f, "subnet,hash,split,top1,top1_finetuned,macs,params,latency_ms,images_per_s\n");
    for (int i = 0; i < r->n; i++) {
        const struct eval_row *e = &r->rows[i];
        fputc('"', f);
        for (const char *c = e->name; *c; c++)   /* RFC 4180: a quote is doubled */
            fputs(*c == '"' ? "\"\"" : (char[2]){*c, '\0'}, f);
        fprintf(f, "\",%016llx,%s,%.6f,%.6f,%.0f,%.0f,%.6f,%.3f\n",
                (unsigned long long)e->hash, r->split, e->top1, e->top1_finetuned, e->macs,
                e->params, e->latency_ms, e->images_per_s);
    }
    return ckpt_writer_commit(w, err);
}
