/*
 * mutatord.c - the search daemon's entry point: reads the config, trains
 * the supernet in the run directory, then runs the evolutionary search on
 * it; each phase resumes from its newest checkpoint.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "data.h"
#include "log.h"
#include "parallel.h"
#include "search.h"
#include "search_space.h"
#include "space_report.h"
#include "train.h"

static const struct cli_program program = {
    .name = "mutatord",
    .accepts = CLI_CHECK | CLI_RUN_DIR | CLI_THREADS,
    .usage =
        "Usage: mutatord -c FILE [OPTION]...\n"
        "Neural architecture search daemon: trains a supernet and searches it\n"
        "for the best subnets under resource constraints.\n"
        "\n"
        "  -c, --config=FILE   search configuration (libconfig; conf/search.conf\n"
        "                      documents every key)\n"
        "      --check         validate the configuration, print the search space\n"
        "                      (groups and choices, subnet count, smallest and\n"
        "                      largest MACs and params) and exit\n"
        "  -r, --run-dir=DIR   run directory (overrides the config's run_dir)\n"
        "  -j, --threads=N     threads (overrides the config's threads)\n"
        "  -h, --help          show this help and exit\n"
        "  -V, --version       show the version and exit\n"
        "\n"
        "The same command again continues from the newest checkpoint of the run\n"
        "directory. SIGINT or SIGTERM: checkpoint and stop.\n"
        "\n"
        "Exit status: 0 on success (also when stopped by a signal), 64 usage error,\n"
        "65 bad data, 74 I/O error, 78 configuration error (file:line named).\n",
};

/* The sections of a config this version reads. */
static const char *const top_keys[] = {"plugins", "supernet", "mutators", "data", "train",
                                       "search", "run_dir", "threads", NULL};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    /* A second SIGINT means now. */
    if (sig == SIGINT && stop_requested)
        _exit(130);
    stop_requested = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* mkdir -p, each new directory 0700. */
static enum mtd_status make_dirs(const char *path, struct mtd_error *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return mtd_error_set(err, MTD_ERR_IO, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return mtd_error_set(err, MTD_ERR_IO, "%s: cannot create the directory: %s", buf,
                                 strerror(errno));
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return mtd_error_set(err, MTD_ERR_IO, "%s: not a directory", path);
    return MTD_OK;
}

struct job {
    config_t cfg;
    struct data_config data_cfg;
    struct train_config train_cfg;
    struct search_config search_cfg;
    const char *run_dir;
    int threads;
    struct search_space *ss;
    struct data data;
    struct trainer *trainer;
    struct search *search;
    FILE *log;
};

static enum mtd_status read_config(struct job *j, const struct cli_args *args,
                                   struct mtd_error *err)
{
    const config_setting_t *root, *data = NULL, *train = NULL, *search = NULL;
    long long threads = 0;
    j->run_dir = "run";
    enum mtd_status st;
    if ((st = conf_read_file(&j->cfg, args->config, err)) != MTD_OK)
        return st;
    root = config_root_setting(&j->cfg);
    if ((st = conf_check_keys(root, top_keys, err)) != MTD_OK ||
        (st = conf_get_string(root, "run_dir", 0, &j->run_dir, err)) != MTD_OK ||
        (st = conf_get_int(root, "threads", 0, 0, 1024, &threads, err)) != MTD_OK ||
        (st = conf_get_group(root, "data", 0, &data, err)) != MTD_OK ||
        (st = conf_get_group(root, "train", 0, &train, err)) != MTD_OK ||
        (st = conf_get_group(root, "search", 0, &search, err)) != MTD_OK ||
        (st = search_config_parse(search, &j->search_cfg, err)) != MTD_OK ||
        (st = data_config_parse(data, &j->data_cfg, err)) != MTD_OK ||
        (st = train_config_parse(train, &j->train_cfg, err)) != MTD_OK)
        return st;
    if (args->run_dir != NULL)
        j->run_dir = args->run_dir;
    j->threads = args->threads > 0 ? args->threads : (int)threads;
    return search_space_create(&j->ss, root, j->train_cfg.seed, err);
}

static enum mtd_status train(struct job *j, struct mtd_error *err)
{
    enum mtd_status st = make_dirs(j->run_dir, err);
    if (st != MTD_OK)
        return st;
    char log_path[PATH_MAX + 32];
    snprintf(log_path, sizeof log_path, "%s/mutatord.log", j->run_dir);
    j->log = fopen(log_path, "a");
    if (j->log == NULL)
        return mtd_error_set(err, MTD_ERR_IO, "%s: cannot open: %s", log_path, strerror(errno));
    log_set_file(j->log);
    const struct space_def *def = supernet_space(search_space_supernet(j->ss));
    log_msg(LOG_INFO, "run directory %s, %d threads", j->run_dir, parallel_threads());
    if ((st = data_load(&j->data, &j->data_cfg, def->classes, def->in_h, def->in_w, 0, err)) != MTD_OK)
        return st;
    if (def->in_c != 1)
        return mtd_error_set(err, MTD_ERR_CONFIG, "the data has 1 channel, the supernet's input %d",
                             def->in_c);
    log_msg(LOG_INFO, "data %s: %d training, %d validation, %d calibration images",
            j->data_cfg.dir, j->data_cfg.train_images, j->data_cfg.val_images,
            j->data_cfg.calib_images);
    if ((st = trainer_create(&j->trainer, j->ss, &j->data, &j->train_cfg, j->run_dir, err)) != MTD_OK)
        return st;
    int resumed;
    if ((st = trainer_resume(j->trainer, &resumed, err)) != MTD_OK)
        return st;
    install_signals();
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
    struct search_eval_ctx ctx = {.ss = j->ss, .d = &j->data, .calib = &calib, .val = &val,
                                  .batch = j->search_cfg.batch_size};
    enum mtd_status st = search_create(&j->search, j->ss, &j->search_cfg, search_score_accuracy,
                                       &ctx, j->run_dir, err);
    int resumed;
    if (st == MTD_OK)
        st = search_resume(j->search, &resumed, err);
    if (st == MTD_OK)
        st = search_run(j->search, &stop_requested, -1, err);
    if (st == MTD_OK && !search_done(j->search)) {
        struct search_progress p;
        search_get_progress(j->search, &p);
        log_msg(LOG_INFO, "stopped in generation %d/%d at candidate %d; the same command "
                "continues from there", p.generation + 1, p.generations, p.candidate);
    } else if (st == MTD_OK) {
        log_msg(LOG_INFO, "results in %s: best/, history.csv, pareto.svg, status.json",
                j->run_dir);
    }
    return st;
}

int main(int argc, char **argv)
{
    struct cli_args args;
    int code = cli_parse(&program, argc, argv, &args);
    if (code >= 0)
        return code;
    struct job j;
    memset(&j, 0, sizeof j);
    struct mtd_error err = {0};
    enum mtd_status st = read_config(&j, &args, &err);
    if (st == MTD_OK && args.check) {
        printf("%s: configuration valid\n", args.config);
        space_report(j.ss, stdout);
    } else if (st == MTD_OK) {
        parallel_init(j.threads);
        st = train(&j, &err);
        if (st == MTD_OK && trainer_done(j.trainer) && !stop_requested)
            st = search(&j, &err);
    }
    if (st != MTD_OK) {
        if (j.log != NULL)
            log_msg(LOG_ERROR, "%s", err.msg);
        else
            fprintf(stderr, "mutatord: %s\n", err.msg);
    }
    search_free(j.search);
    trainer_free(j.trainer);
    data_free(&j.data);
    search_space_free(j.ss);
    config_destroy(&j.cfg);
    if (j.log != NULL)
        fclose(j.log);
    return st == MTD_OK ? EX_OK : mtd_status_exit_code(st);
}
