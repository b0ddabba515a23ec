/*
 * log.h - the log: time-stamped lines on stderr and, once a log file is
 * opened, in it too (and in syslog when asked). Lines may come from any
 * thread: each is written whole. Progress bars belong to one thread.
 */
#ifndef MUTATORD_LOG_H
#define MUTATORD_LOG_H

#include <stdio.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Also write to f (not closed here); NULL stops. */
void log_set_file(FILE *f);

/* Opens path for appending and logs to it (closing a file opened here
 * before); log_reopen opens the same path again (after a rotation: the
 * daemon's SIGHUP). -1 with errno when it cannot be opened (the old file
 * stays in use). */
int log_open(const char *path);
int log_reopen(void);
void log_close(void);

/* Also send INFO and up to syslog (facility daemon), under ident. */
void log_use_syslog(const char *ident);
/* Lines below `level` are dropped on stderr (the file gets INFO and up). */
void log_set_stderr_level(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Seconds on the monotonic clock: for rates and ETAs. */
double monotonic_seconds(void);

/* Whether stderr shows a terminal that a progress bar may redraw. */
int log_stderr_is_tty(void);

/* Progress of long work: on a terminal a bar redrawn in place (at most a
 * few times a second), otherwise an INFO line every `every` steps and at
 * the end. `extra` is appended (loss, rate, ...). */
struct progress {
    const char *label;
    long total, every;
    double last_draw;
    int drawn;
};
void progress_begin(struct progress *p, const char *label, long total, long every);
void progress_update(struct progress *p, long done, double eta_s, const char *extra);
/* Ends the bar's line (a terminal) so that logs go on below it. */
void progress_end(struct progress *p);

#endif
