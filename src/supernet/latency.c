/*
 * latency.c - the per-op latency table (latency_table.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "ckpt_io.h"
#include "graph.h"
#include "latency_table.h"
#include "log.h"
#include "stats.h"

struct latency_entry {
    int cell, op, in, out, mid;
    double ms;
};

struct latency_table {
    int n, cap;
    struct latency_entry *e;
};

void latency_table_free(struct latency_table *t)
{
    if (t == NULL)
        return;
    free(t->e);
    free(t);
}

int latency_table_entries(const struct latency_table *t)
{
    return t->n;
}

static const struct latency_entry *find(const struct latency_table *t, int cell, int op, int in,
                                        int out, int mid)
{
    for (int i = 0; i < t->n; i++) {
        const struct latency_entry *e = &t->e[i];
        if (e->cell == cell && e->op == op && e->in == in && e->out == out && e->mid == mid)
            return e;
    }
    return NULL;
}

static int add(struct latency_table *t, const struct latency_entry *e)
{
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 256;
        struct latency_entry *p = realloc(t->e, (size_t)cap * sizeof *p);
        if (p == NULL)
            return -1;
        t->e = p;
        t->cap = cap;
    }
    t->e[t->n++] = *e;
    return 0;
}

double latency_table_predict(const struct latency_table *t, const struct supernet *sn,
                             const struct arch *arch)
{
    double sum = 0.0;
    for (int c = 0; c < sn->ncells; c++) {
        int in, out, mid, o = arch->op[c];
        cell_widths(sn, arch, c, o, &in, &out, &mid);
        const struct latency_entry *e = find(t, c, o, in, out, mid);
        if (e == NULL)
            return NAN;
        sum += e->ms;
    }
    return sum;
}

/* Median time of cell c's forward at batch 1 under the current arch. */
static double time_cell(struct supernet *sn, int c, const float *x, int repeats, double *runs)
{
    for (int i = 0; i < 3; i++)
        cell_forward(sn, c, x, 1, FORWARD_EVAL);
    for (int i = 0; i < repeats; i++) {
        double t0 = monotonic_seconds();
        cell_forward(sn, c, x, 1, FORWARD_EVAL);
        runs[i] = 1e3 * (monotonic_seconds() - t0);
    }
    return median(runs, repeats);
}

/* Every combination of the settings of a cell's (distinct) units. */
struct combo {
    int units[3], nunits, index[3];
};

static void combo_init(struct combo *k, const struct cell *cell)
{
    const int u[3] = {cell->in_unit, cell->out_unit, cell->mid_unit};
    k->nunits = 0;
    for (int i = 0; i < 3; i++) {
        int dup = u[i] < 0;
        for (int j = 0; j < k->nunits; j++)
            dup |= k->units[j] == u[i];
        if (!dup)
            k->units[k->nunits++] = u[i];
    }
    memset(k->index, 0, sizeof k->index);
}

static int settings_count(const struct unit_settings *s, int u)
{
    return s[u].n > 0 ? s[u].n : 1;
}

/* Applies the current combination to arch; advances; 0 after the last. */
static int combo_next(struct combo *k, const struct unit_settings *s, struct arch *arch)
{
    for (int j = 0; j < k->nunits; j++) {
        int u = k->units[j];
        if (s[u].n > 0)
            arch->width[u] = s[u].w[k->index[j]];
    }
    for (int j = 0; j < k->nunits; j++) {
        if (++k->index[j] < settings_count(s, k->units[j]))
            return 1;
        k->index[j] = 0;
    }
    return 0;
}

static enum mtd_status measure_cell(struct supernet *sn, int c, const struct unit_settings *s,
                                    int repeats, const float *x, double *runs,
                                    const volatile sig_atomic_t *stop, struct latency_table *t,
                                    struct mtd_error *err)
{
    const struct cell *cell = &sn->cells[c];
    for (int o = 0; o < cell->nops; o++) {
        struct combo k;
        combo_init(&k, cell);
        struct arch arch;
        supernet_arch_max(sn, &arch);
        arch.op[c] = o;
        int more;
        do {
            more = combo_next(&k, s, &arch);
            struct latency_entry e = {.cell = c, .op = o};
            cell_widths(sn, &arch, c, o, &e.in, &e.out, &e.mid);
            if (find(t, c, o, e.in, e.out, e.mid) != NULL)
                continue;
            if (stop != NULL && *stop)
                return MTD_STOPPED;
            struct mtd_error ignored;
            if (supernet_set_arch(sn, &arch, &ignored) != MTD_OK)
                continue;   /* a width this op cannot take: no subnet uses it */
            e.ms = time_cell(sn, c, x, repeats, runs);
            if (add(t, &e) != 0)
                return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for the latency table");
        } while (more);
    }
    return MTD_OK;
}

enum mtd_status latency_table_measure(struct supernet *sn, const struct unit_settings *settings,
                                      int repeats, latency_progress_fn progress, void *ctx,
                                      const volatile sig_atomic_t *stop,
                                      struct latency_table **out, struct mtd_error *err)
{
    *out = NULL;
    struct latency_table *t = calloc(1, sizeof *t);
    size_t in_floats = 0;
    for (int c = 0; c < sn->ncells; c++) {
        const struct slot *s0 = &sn->cells[c].ops[0].slots[0];
        size_t f = (size_t)sn->cells[c].in_max * (size_t)s0->h * (size_t)s0->w;
        in_floats = f > in_floats ? f : in_floats;
    }
    float *x = floats_alloc(in_floats);
    double *runs = malloc((size_t)repeats * sizeof *runs);
    enum mtd_status st = MTD_OK;
    if (t == NULL || x == NULL || runs == NULL)
        st = mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for latency measurements");
    if (st == MTD_OK)
        st = supernet_reserve_eval(sn, 1, err);
    if (st == MTD_OK)
        for (size_t i = 0; i < in_floats; i++)
            x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (int c = 0; st == MTD_OK && c < sn->ncells; c++) {
        st = measure_cell(sn, c, settings, repeats, x, runs, stop, t, err);
        if (progress != NULL)
            progress(ctx, c + 1, sn->ncells);
    }
    floats_free(x);
    free(runs);
    if (st != MTD_OK) {
        latency_table_free(t);
        return st;
    }
    *out = t;
    return MTD_OK;
}

enum mtd_status latency_table_write(const struct latency_table *t, const struct supernet *sn,
                                    const char *path, struct mtd_error *err)
{
    struct ckpt_writer *w;
    FILE *f;
    enum mtd_status st = text_writer_open(&w, path, &f, err);
    if (st != MTD_OK)
        return st;
    fprintf(f, "# mutatord latency table: milliseconds per cell forward at batch 1 (median)\n"
               "space,%016llx\ncell,op,in,out,mid,ms\n",
            (unsigned long long)supernet_fingerprint(sn));
    for (int i = 0; i < t->n; i++) {
        const struct latency_entry *e = &t->e[i];
        const struct cell *cell = &sn->cells[e->cell];
        fprintf(f, "%s,%s,%d,%d,%d,%.6f\n", cell->name, cell->ops[e->op].spec.name, e->in,
                e->out, e->mid, e->ms);
    }
    return ckpt_writer_commit(w, err);
}

/* The cell and op named in a table line, or -1. */
static int lookup(const struct supernet *sn, const char *cell, const char *op, int *o)
{
    for (int c = 0; c < sn->ncells; c++) {
        if (strcmp(sn->cells[c].name, cell) != 0)
            continue;
        for (*o = 0; *o < sn->cells[c].nops; (*o)++)
            if (strcmp(sn->cells[c].ops[*o].spec.name, op) == 0)
                return c;
    }
    return -1;
}

static enum mtd_status parse_line(struct latency_table *t, const struct supernet *sn,
                                  const char *path, int lineno, char *line,
                                  struct mtd_error *err)
{
    char cell[SPACE_NAME_MAX + 1], op[32];
    struct latency_entry e;
    int used = 0;
    if (sscanf(line, "%48[^,],%31[^,],%d,%d,%d,%lf%n", cell, op, &e.in, &e.out, &e.mid, &e.ms,
               &used) != 6 || (line[used] != '\n' && line[used] != '\0') || !(e.ms >= 0.0) ||
        !isfinite(e.ms))
        return mtd_error_set(err, MTD_ERR_DATA, "%s:%d: expected cell,op,in,out,mid,ms",
                             path, lineno);
    e.cell = lookup(sn, cell, op, &e.op);
    if (e.cell < 0)
        return mtd_error_set(err, MTD_ERR_DATA, "%s:%d: no op %s in cell %s of this supernet",
                             path, lineno, op, cell);
    if (add(t, &e) != 0)
        return mtd_error_set(err, MTD_ERR_NOMEM, "out of memory for the latency table");
    return MTD_OK;
}

enum mtd_status latency_table_load(struct latency_table **out, const struct supernet *sn,
                                   const char *path, struct mtd_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return mtd_error_set(err, errno == ENOENT ? MTD_ERR_NOINPUT : MTD_ERR_IO,
                             "%s: cannot open the latency table: %s", path, strerror(errno));
    struct latency_table *t = calloc(1, sizeof *t);
    enum mtd_status st = t ? MTD_OK : mtd_error_set(err, MTD_ERR_NOMEM, "out of memory");
    char line[512];
    int lineno = 0, have_space = 0, have_header = 0;
    while (st == MTD_OK && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        unsigned long long fp;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (!have_space) {
            if (sscanf(line, "space,%16llx", &fp) != 1)
                st = mtd_error_set(err, MTD_ERR_DATA, "%s:%d: expected space,<fingerprint>",
                                   path, lineno);
            else if (fp != supernet_fingerprint(sn))
                st = mtd_error_set(err, MTD_ERR_DATA, "%s: measured for another search space "
                                   "(measure it again: mutator-eval --latency-table)", path);
            have_space = 1;
        } else if (!have_header) {
            if (strcmp(line, "cell,op,in,out,mid,ms\n") != 0)
                st = mtd_error_set(err, MTD_ERR_DATA, "%s:%d: expected the header "
                                   "cell,op,in,out,mid,ms", path, lineno);
            have_header = 1;
        } else {
            st = parse_line(t, sn, path, lineno, line, err);
        }
    }
    if (st == MTD_OK && ferror(f))
        st = mtd_error_set(err, MTD_ERR_IO, "%s: read error", path);
    if (st == MTD_OK && !have_header)
        st = mtd_error_set(err, MTD_ERR_DATA, "%s: not a latency table (no header)", path);
    fclose(f);
    if (st != MTD_OK) {
        latency_table_free(t);
        return st;
    }
    *out = t;
    return MTD_OK;
}
