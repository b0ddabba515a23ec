/*
 * mutatord.c - the search daemon's entry point. Today it validates a
 * configuration and describes its search space (--check); training and
 * searching arrive with later layers.
 */
#include <stdio.h>
#include <sysexits.h>

#include "cli.h"
#include "conf.h"
#include "search_space.h"
#include "space_report.h"

static const struct cli_program program = {
    .name = "mutatord",
    .usage =
        "Usage: mutatord -c FILE [OPTION]...\n"
        "Neural architecture search daemon: trains a supernet and searches it\n"
        "for the best subnets under resource constraints.\n"
        "\n"
        "  -c, --config=FILE   search configuration (libconfig)\n"
        "      --check         validate the configuration, print the search space\n"
        "                      (groups and choices, subnet count, smallest and\n"
        "                      largest MACs and params) and exit\n"
        "  -h, --help          show this help and exit\n"
        "  -V, --version       show the version and exit\n"
        "\n"
        "Exit status: 0 on success, 64 on a usage error, 78 on a configuration\n"
        "error (reported with its file and line).\n",
};

/* The sections of a config this version reads. */
static const char *const top_keys[] = {"plugins", "supernet", "mutators", NULL};

int main(int argc, char **argv)
{
    const char *path;
    int check;
    int code = cli_parse_basic(&program, argc, argv, &path, &check);
    if (code >= 0)
        return code;
    config_t cfg;
    struct mtd_error err = {0};
    struct search_space *ss = NULL;
    enum mtd_status st = conf_read_file(&cfg, path, &err);
    if (st == MTD_OK)
        st = conf_check_keys(config_root_setting(&cfg), top_keys, &err);
    if (st == MTD_OK)
        st = search_space_create(&ss, config_root_setting(&cfg), 0, &err);
    if (st != MTD_OK) {
        fprintf(stderr, "mutatord: %s\n", err.msg);
        config_destroy(&cfg);
        return mtd_status_exit_code(st);
    }
    if (check) {
        printf("%s: configuration valid\n", path);
        space_report(ss, stdout);
    } else {
        fprintf(stderr, "mutatord: %s: searching is not implemented in this version "
                "(--check describes the search space)\n", path);
        code = EX_SOFTWARE;
    }
    search_space_free(ss);
    config_destroy(&cfg);
    return check ? EX_OK : code;
}
