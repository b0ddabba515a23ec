/*
 * mutatord.c - the search daemon: reads the config, takes the run
 * directory (mutatord.pid, locked), then in a worker thread trains the
 * supernet and runs the evolutionary search on it, each phase resuming
 * from its newest checkpoint. The main thread owns the signals (redis's
 * way: it waits for them with sigtimedwait; a handler only forwards one
 * that reached another thread) and status.json.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "cli.h"
#include "conf.h"
#include "daemon/status_board.h"
#include "data.h"
#include "dirs.h"
#include "log.h"
#include "parallel.h"
#include "pidfile.h"
#include "run_config.h"
#include "search.h"
#include "search_space.h"
#include "space_report.h"
#include "train.h"

static const struct cli_program program = {
    .name = "mutatord",
    .accepts = CLI_CHECK | CLI_RUN_DIR | CLI_THREADS | CLI_DAEMON,
    .usage =
        "Usage: mutatord -c FILE [OPTION]...\n"
        "Neural architecture search daemon: trains a supernet and searches it\n"
        "for the best subnets under resource constraints.\n"
        "\n"
        "  -c, --config=FILE   search configuration (libconfig; search.conf(5) and\n"
        "                      conf/search.conf document every key)\n"
        "      --check         validate the configuration, print the search space\n"
        "                      (groups and choices, subnet count, smallest and\n"
        "                      largest MACs and params) and exit\n"
        "  -r, --run-dir=DIR   run directory (overrides the config's run_dir)\n"
        "  -j, --threads=N     threads (overrides the config's threads)\n"
        "  -d, --daemonize     detach from the terminal and run in the background\n"
        "      --syslog        also log to syslog (facility daemon)\n"
        "      --fresh         start over: the run directory's old content is moved\n"
        "                      aside to DIR.old-YYYYMMDD-HHMMSS, never deleted\n"
        "  -h, --help          show this help and exit\n"
        "  -V, --version       show the version and exit\n"
        "\n"
        "The same command again continues from the newest checkpoint of the run\n"
        "directory. Signals: SIGTERM or SIGINT checkpoint and stop (a second SIGINT\n"
        "stops at once), SIGHUP reopens the log file, SIGUSR1 writes status.json.\n"
        "\n"
        "Exit status: 0 on success (also when stopped by a signal), 64 usage error,\n"
        "65 bad data, 66 missing input file, 74 I/O error, 75 run directory in use,\n"
        "78 configuration error (file:line named).\n",
};

/* Set by the main thread, read by the worker between batches. */
static volatile sig_atomic_t stop_requested;

struct job {
    struct run_config rc;
    struct data data;
    struct trainer *trainer;
    struct search *search;
    struct status_board board;
    char status_path[PATH_MAX + 16];

    /* the worker's outcome */
    enum mtd_status status;
    struct mtd_error err;
    volatile sig_atomic_t finished;
};

/* --fresh: the run directory's content moves to DIR.old-<time>, whole. */
static enum mtd_status move_aside(const char *dir, struct mtd_error *err)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return MTD_OK;  /* nothing to move */
    /* Not from under a running daemon. */
    struct pidfile pf;
    enum mtd_status st = pidfile_acquire(&pf, dir, err);
    if (st != MTD_OK)
        return st;
    char stamp[32], aside[PATH_MAX + 48];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(aside, sizeof aside, "%s.old-%s", dir, stamp);
    for (int i = 1; access(aside, F_OK) == 0; i++)
        snprintf(aside, sizeof aside, "%s.old-%s-%d", dir, stamp, i);
    pidfile_release(&pf);
    if (rename(dir, aside) != 0)
        return mtd_error_set(err, MTD_ERR_IO, "%s: cannot move aside to %s: %s", dir, aside,
                             strerror(errno));
    fprintf(stderr, "mutatord: --fresh: the previous run is kept in %s\n", aside);
    return MTD_OK;
}

/* fork, setsid, fork, standard streams to /dev/null. The pidfile lock is
 * inherited and the daemon writes its own pid; the original process exits
 * only then (0), or when the daemon could not get that far (EX_OSERR), so
 * that when `mutatord -d` returns the pidfile names the daemon, never the
 * process that has just exited. */
static enum mtd_status daemonize(struct pidfile *pf, struct mtd_error *err)
{
    int ready[2];
    if (pipe(ready) != 0)
        return mtd_error_set(err, MTD_ERR_IO, "pipe failed: %s", strerror(errno));
    fflush(NULL);
    for (int round = 0; round < 2; round++) {
        pid_t pid = fork();
        if (pid < 0)
            return mtd_error_set(err, MTD_ERR_IO, "fork failed: %s", strerror(errno));
        if (pid > 0 && round == 1)
            _exit(0);
        if (pid > 0) {
            char byte;
            close(ready[1]);
            ssize_t n;
            while ((n = read(ready[0], &byte, 1)) < 0 && errno == EINTR)
                ;
            if (n == 1)
                _exit(0);
            fprintf(stderr, "mutatord: the daemon stopped before it wrote its pid to %s "
                    "(run without -d to see why)\n", pf->path);
            _exit(EX_OSERR);
        }
        if (round == 0) {
            close(ready[0]);
            if (setsid() < 0)
                return mtd_error_set(err, MTD_ERR_IO, "setsid failed: %s", strerror(errno));
        }
    }
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return mtd_error_set(err, MTD_ERR_IO, "/dev/null: %s", strerror(errno));
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
    enum mtd_status st = pidfile_update(pf, err);
    if (st == MTD_OK && write(ready[1], "", 1) != 1)
        st = mtd_error_set(err, MTD_ERR_IO, "cannot tell the starting process: %s",
                           strerror(errno));
    close(ready[1]);
    return st;
}

static enum mtd_status train(struct job *j, struct mtd_error *err)
{
    const struct space_def *def = supernet_space(search_space_supernet(j->rc.ss));
    enum mtd_status st;
    if ((st = data_load(&j->data, &j->rc.data, def->classes, def->in_h, def->in_w, 0, err)) != MTD_OK)
        return st;
    if (def->in_c != 1)
        return mtd_error_set(err, MTD_ERR_CONFIG, "the data has 1 channel, the supernet's input %d",
                             def->in_c);
    log_msg(LOG_INFO, "data %s: %d training, %d validation, %d calibration images",
            j->rc.data.dir, j->rc.data.train_images, j->rc.data.val_images,
            j->rc.data.calib_images);
    if ((st = trainer_create(&j->trainer, j->rc.ss, &j->data, &j->rc.train, j->rc.run_dir, err)) != MTD_OK)
        return st;
    trainer_set_hook(j->trainer, board_train_hook, &j->board);
    int resumed;
    if ((st = trainer_resume(j->trainer, &resumed, err)) != MTD_OK)
        return st;
    if ((st = trainer_run(j->trainer, &stop_requested, -1, err)) != MTD_OK)
        return st;
    if (!trainer_done(j->trainer))
        log_msg(LOG_INFO, "stopped at global step %ld; the same command continues from there",
                trainer_global_step(j->trainer));
    return MTD_OK;
}

static enum mtd_status search(struct job *j, struct mtd_error *err)
{
    struct data_split calib = data_split(&j->data, SPLIT_CALIB);
    struct data_split val = data_split(&j->data, SPLIT_VAL);
    struct search_eval_ctx ctx = {.ss = j->rc.ss, .d = &j->data, .calib = &calib, .val = &val,
                                  .batch = j->rc.search.batch_size, .stop = &stop_requested};
    enum mtd_status st = search_create(&j->search, j->rc.ss, &j->rc.search, search_score_accuracy,
                                       &ctx, j->rc.run_dir, err);
    int resumed;
    if (st == MTD_OK) {
        search_set_group_scorer(j->search, search_score_accuracy_group);
        search_set_hook(j->search, board_search_hook, &j->board);
        st = search_resume(j->search, &resumed, err);
    }
    if (st == MTD_OK)
        st = search_run(j->search, &stop_requested, -1, err);
    if (st == MTD_OK && !search_done(j->search)) {
        struct search_progress p;
        search_get_progress(j->search, &p);
        log_msg(LOG_INFO, "stopped in generation %d/%d at candidate %d; the same command "
                "continues from there", p.generation + 1, p.generations, p.candidate);
    } else if (st == MTD_OK) {
        log_msg(LOG_INFO, "results in %s: best/, history.csv, pareto.svg, status.json",
                j->rc.run_dir);
    }
    return st;
}

/* The worker thread: the phases, one after the other. */
static void *work(void *arg)
{
    struct job *j = arg;
    enum mtd_status st = train(j, &j->err);
    int searched = 0;
    if (st == MTD_OK && trainer_done(j->trainer) && !stop_requested) {
        searched = 1;
        st = search(j, &j->err);
    }
    if (st != MTD_OK)
        board_set_phase(&j->board, PHASE_FAILED, j->err.msg);
    else if (searched && search_done(j->search))
        board_set_phase(&j->board, PHASE_DONE, NULL);
    else
        board_set_phase(&j->board, PHASE_STOPPED, NULL);
    j->status = st;
    j->finished = 1;
    return NULL;
}

static void write_status(struct job *j)
{
    struct mtd_error err = {0};
    if (board_write(&j->board, j->status_path, &err) != MTD_OK)
        log_msg(LOG_WARN, "%s", err.msg);
}

/* The signals the main thread takes, with sigtimedwait. */
static void daemon_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
}

static pthread_t supervisor;

/* A signal sent to the process goes to any thread that does not block it,
 * and threads started before main (OpenBLAS's pool) did not inherit our
 * mask: with the default action there, a SIGUSR1 or SIGHUP arriving while
 * the main thread is not waiting killed the daemon. On such a thread this
 * hands the signal to the main thread, where sigtimedwait takes it (the
 * main thread blocks these signals, so this never runs there). */
static void forward_to_supervisor(int sig)
{
    int saved = errno;
    pthread_kill(supervisor, sig);
    errno = saved;
}

/* Blocks the daemon's signals in the calling (main) thread and the threads
 * it starts, and forwards them from the threads that were already there. */
static void take_signals(void)
{
    sigset_t set;
    daemon_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    supervisor = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_to_supervisor;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(&set, sig) == 1)
            sigaction(sig, &sa, NULL);
}

/* The main thread while the worker runs: signals and status.json. */
static void supervise(struct job *j, pthread_t worker, struct pidfile *pf)
{
    sigset_t set;
    daemon_signals(&set);
    double last_status = 0.0;
    while (!j->finished) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGINT && stop_requested) {
            log_msg(LOG_WARN, "second SIGINT: exiting now, without a checkpoint");
            pidfile_release(pf);
            _exit(130);
        }
        if (sig == SIGINT || sig == SIGTERM) {
            log_msg(LOG_INFO, "%s: checkpointing and stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            stop_requested = 1;
        } else if (sig == SIGHUP) {
            if (log_reopen() != 0)
                log_msg(LOG_ERROR, "SIGHUP: cannot reopen the log: %s", strerror(errno));
            else
                log_msg(LOG_INFO, "SIGHUP: log reopened");
        }
        if (sig == SIGUSR1 || monotonic_seconds() - last_status >= 5.0) {
            write_status(j);
            last_status = monotonic_seconds();
        }
    }
    pthread_join(worker, NULL);
    write_status(j);
}

static enum mtd_status run(struct job *j, const struct cli_args *args, struct pidfile *pf,
                           struct mtd_error *err)
{
    enum mtd_status st;
    if (args->fresh && (st = move_aside(j->rc.run_dir, err)) != MTD_OK)
        return st;
    if ((st = make_dirs(j->rc.run_dir, err)) != MTD_OK ||
        (st = pidfile_acquire(pf, j->rc.run_dir, err)) != MTD_OK)
        return st;
    if (args->daemonize && (st = daemonize(pf, err)) != MTD_OK)
        return st;
    char log_path[PATH_MAX + 32];
    snprintf(log_path, sizeof log_path, "%s/mutatord.log", j->rc.run_dir);
    if (log_open(log_path) != 0)
        return mtd_error_set(err, MTD_ERR_IO, "%s: cannot open: %s", log_path, strerror(errno));
    if (args->syslog)
        log_use_syslog("mutatord");
    snprintf(j->status_path, sizeof j->status_path, "%s/status.json", j->rc.run_dir);
    parallel_init(j->rc.threads);
    log_msg(LOG_INFO, "mutatord %s, pid %ld: run directory %s, %d threads, BLAS kernels for %s",
            PACKAGE_VERSION, (long)getpid(), j->rc.run_dir, parallel_threads(),
            parallel_blas_core());
    for (int i = 0; i < search_space_nplugins(j->rc.ss); i++)
        log_msg(LOG_INFO, "plugin %s loaded", search_space_plugin(j->rc.ss, i));

    /* Signals go to the main thread only: the worker (and the OpenMP
     * threads it starts) inherit its mask. */
    take_signals();
    board_init(&j->board);
    pthread_t worker;
    int rc = pthread_create(&worker, NULL, work, j);
    if (rc != 0) {
        board_destroy(&j->board);
        return mtd_error_set(err, MTD_ERR_NOMEM, "cannot start the worker thread: %s",
                             strerror(rc));
    }
    supervise(j, worker, pf);
    board_destroy(&j->board);
    if (j->status != MTD_OK)
        *err = j->err;
    return j->status;
}

int main(int argc, char **argv)
{
    struct cli_args args;
    int code = cli_parse(&program, argc, argv, &args);
    if (code >= 0)
        return code;
    struct job j;
    memset(&j, 0, sizeof j);
    struct pidfile pf = {.fd = -1};
    struct mtd_error err = {0};
    enum mtd_status st = run_config_read(&j.rc, args.config, args.run_dir, args.threads, &err);
    if (st == MTD_OK && args.check) {
        printf("%s: configuration valid\n", args.config);
        space_report(j.rc.ss, stdout);
        memory_report(search_space_supernet(j.rc.ss), j.rc.train.batch_size,
                      j.rc.search.batch_size, stdout);
    } else if (st == MTD_OK) {
        st = run(&j, &args, &pf, &err);
    }
    if (st != MTD_OK) {
        if (j.status_path[0] != '\0')   /* the log is open */
            log_msg(LOG_ERROR, "%s", err.msg);
        else
            fprintf(stderr, "mutatord: %s\n", err.msg);
    }
    search_free(j.search);
    trainer_free(j.trainer);
    data_free(&j.data);
    run_config_free(&j.rc);
    pidfile_release(&pf);
    log_close();
    return st == MTD_OK ? EX_OK : mtd_status_exit_code(st);
}
