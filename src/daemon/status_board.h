/*
 * status_board.h - what the daemon is doing, as the worker thread reports
 * it and status.json shows it. The worker publishes progress through the
 * trainer's and the search's hooks; the main thread writes the file (every
 * few seconds, on SIGUSR1, and at the end). A mutex keeps the two apart.
 */
#ifndef MUTATORD_STATUS_BOARD_H
#define MUTATORD_STATUS_BOARD_H

#include <pthread.h>

#include "search.h"
#include "train.h"

enum board_phase { PHASE_STARTING, PHASE_TRAIN, PHASE_SEARCH, PHASE_DONE, PHASE_STOPPED,
                   PHASE_FAILED, PHASE_COUNT };

/* What status.json shows. */
struct board_view {
    enum board_phase phase;
    struct train_progress train;
    struct search_progress search;
    int have_best;
    struct search_entry best;
    char message[256];            /* the error of PHASE_FAILED */
};

struct status_board {
    pthread_mutex_t lock;
    struct board_view v;          /* under lock */
};

void board_init(struct status_board *b);
void board_destroy(struct status_board *b);
void board_set_phase(struct status_board *b, enum board_phase phase, const char *message);

/* Hooks for trainer_set_hook and search_set_hook (ctx: the board). */
void board_train_hook(void *ctx, const struct train_progress *p);
void board_search_hook(void *ctx, const struct search_progress *p,
                       const struct search_entry *best);

/* Replaces path atomically with the board as JSON. */
enum mtd_status board_write(struct status_board *b, const char *path, struct mtd_error *err);

#endif
