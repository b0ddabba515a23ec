/*
 * status_board.c - the daemon's status, and status.json (status_board.h).
 */
#include "status_board.h"

#include <stdio.h>
#include <string.h>

#include "ckpt_io.h"

static const char *const phase_names[PHASE_COUNT] = {"starting", "train", "search", "done",
                                                     "stopped", "failed"};

void board_init(struct status_board *b)
{
    memset(&b->v, 0, sizeof b->v);
    pthread_mutex_init(&b->lock, NULL);
    b->v.search.best = -1.0;
}

void board_destroy(struct status_board *b)
{
    pthread_mutex_destroy(&b->lock);
}

void board_set_phase(struct status_board *b, enum board_phase phase, const char *message)
{
    pthread_mutex_lock(&b->lock);
    b->v.phase = phase;
    snprintf(b->v.message, sizeof b->v.message, "%s", message ? message : "");
    pthread_mutex_unlock(&b->lock);
}

void board_train_hook(void *ctx, const struct train_progress *p)
{
    struct status_board *b = ctx;
    pthread_mutex_lock(&b->lock);
    b->v.phase = PHASE_TRAIN;
    b->v.train = *p;
    pthread_mutex_unlock(&b->lock);
}

void board_search_hook(void *ctx, const struct search_progress *p,
                       const struct search_entry *best)
{
    struct status_board *b = ctx;
    pthread_mutex_lock(&b->lock);
    b->v.phase = PHASE_SEARCH;
    b->v.search = *p;
    b->v.have_best = best != NULL;
    if (best)
        b->v.best = *best;
    pthread_mutex_unlock(&b->lock);
}

/* A JSON string: only what our messages hold needs escaping. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
    fputc('"', f);
}

static void json_number_or_null(FILE *f, const char *key, double v)
{
    if (v >= 0.0)
        fprintf(f, "\"%s\": %.0f", key, v);
    else
        fprintf(f, "\"%s\": null", key);
}

enum mtd_status board_write(struct status_board *b, const char *path, struct mtd_error *err)
{
    pthread_mutex_lock(&b->lock);
    struct board_view c = b->v;
    pthread_mutex_unlock(&b->lock);
    struct ckpt_writer *w;
    FILE *f;
    enum mtd_status st = text_writer_open(&w, path, &f, err);
    if (st != MTD_OK)
        return st;
    fprintf(f, "{\"phase\": \"%s\"", phase_names[c.phase]);
    if (c.phase == PHASE_FAILED) {
        fprintf(f, ", \"error\": ");
        json_string(f, c.message);
    }
    if (c.train.epochs > 0) {
        fprintf(f, ",\n \"train\": {\"epoch\": %d, \"epochs\": %d, \"step\": %ld, "
                "\"steps_per_epoch\": %ld, \"loss\": %.6f, \"images_per_s\": %.1f, ",
                c.train.epoch + (c.train.step == c.train.steps_per_epoch),
                c.train.epochs, c.train.step, c.train.steps_per_epoch, c.train.loss,
                c.train.images_per_s);
        json_number_or_null(f, "eta_s", c.phase == PHASE_TRAIN ? c.train.eta_s : 0.0);
        fputc('}', f);
    }
    if (c.search.generations > 0) {
        fprintf(f, ",\n \"search\": {\"generation\": %d, \"generations\": %d, \"candidate\": %d, "
                "\"population\": %d, \"scored\": %ld, ", c.search.generation,
                c.search.generations, c.search.candidate, c.search.candidates, c.search.scored);
        json_number_or_null(f, "eta_s", c.search.eta_s);
        fputc('}', f);
    }
    if (c.have_best)
        fprintf(f, ",\n \"best\": {\"score\": %.6f, \"macs\": %.0f, \"params\": %.0f, "
                "\"hash\": \"%016llx\"}", c.best.score,
                c.best.macs, c.best.params, (unsigned long long)c.best.hash);
    fprintf(f, "}\n");
    return ckpt_writer_commit(w, err);
}
