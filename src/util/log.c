/*
 * log.c - log lines and progress bars (log.h).
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log_syslog.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file;
static FILE *opened_file;          /* log_file when log_open opened it */
static char opened_path[PATH_MAX];
static int to_syslog;
static enum log_level stderr_level = LOG_INFO;
static int bar_open;   /* a progress bar occupies the terminal's last line */

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_file(FILE *f)
{
    pthread_mutex_lock(&log_lock);
    log_file = f;
    pthread_mutex_unlock(&log_lock);
}

int log_open(const char *path)
{
    /* 0600 like the rest of a run directory; never through a symlink. */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "a");
    if (f == NULL) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    pthread_mutex_lock(&log_lock);
    FILE *old = opened_file;
    snprintf(opened_path, sizeof opened_path, "%s", path);
    opened_file = log_file = f;
    pthread_mutex_unlock(&log_lock);
    if (old != NULL)
        fclose(old);
    return 0;
}

int log_reopen(void)
{
    char path[PATH_MAX];
    pthread_mutex_lock(&log_lock);
    snprintf(path, sizeof path, "%s", opened_path);
    pthread_mutex_unlock(&log_lock);
    if (path[0] == '\0') {
        errno = ENOENT;
        return -1;
    }
    return log_open(path);
}

void log_close(void)
{
    pthread_mutex_lock(&log_lock);
    if (log_file == opened_file)
        log_file = NULL;
    FILE *old = opened_file;
    opened_file = NULL;
    opened_path[0] = '\0';
    pthread_mutex_unlock(&log_lock);
    if (old != NULL)
        fclose(old);
}

void log_use_syslog(const char *ident)
{
    log_syslog_open(ident);
    to_syslog = 1;
}

void log_set_stderr_level(enum log_level level)
{
    stderr_level = level;
}

int log_stderr_is_tty(void)
{
    return isatty(STDERR_FILENO);
}

double monotonic_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char stamp[32], line[1024];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    if (level >= stderr_level) {
        if (bar_open) {
            fputs("\r\033[K", stderr);
            bar_open = 0;
        }
        fprintf(stderr, "%s %s: %s\n", stamp, level_names[level], line);
    }
    if (log_file != NULL && level >= LOG_INFO) {
        fprintf(log_file, "%s %s: %s\n", stamp, level_names[level], line);
        fflush(log_file);
    }
    if (to_syslog && level >= LOG_INFO)
        log_syslog_write((int)level - (int)LOG_INFO, line);
    pthread_mutex_unlock(&log_lock);
}

static void format_eta(double s, char *buf, size_t size)
{
    if (!(s >= 0.0) || s > 1e7) {
        snprintf(buf, size, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%02ld:%02ld", t / 60, t % 60);
}

void progress_begin(struct progress *p, const char *label, long total, long every)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->every = every > 0 ? every : 1;
}

void progress_update(struct progress *p, long done, double eta_s, const char *extra)
{
    char eta[32];
    format_eta(eta_s, eta, sizeof eta);
    if (!log_stderr_is_tty() || stderr_level > LOG_INFO) {
        if (done % p->every == 0 || done == p->total)
            log_msg(LOG_INFO, "%s %ld/%ld %s eta %s", p->label, done, p->total, extra, eta);
        return;
    }
    double t = monotonic_seconds();
    if (done != p->total && p->drawn && t - p->last_draw < 0.2)
        return;
    p->last_draw = t;
    p->drawn = 1;
    enum { WIDTH = 24 };
    int fill = p->total > 0 ? (int)((double)WIDTH * (double)done / (double)p->total) : WIDTH;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\r\033[K%s [%s] %ld/%ld %s eta %s", p->label, bar, done, p->total, extra, eta);
    fflush(stderr);
    bar_open = 1;
    if (log_file != NULL && (done % p->every == 0 || done == p->total)) {
        fprintf(log_file, "%s %ld/%ld %s eta %s\n", p->label, done, p->total, extra, eta);
        fflush(log_file);
    }
}

void progress_end(struct progress *p)
{
    (void)p;
    if (bar_open) {
        fputc('\n', stderr);
        bar_open = 0;
    }
}
