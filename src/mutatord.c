/*
 * mutatord.c - the search daemon's entry point. At this stage it parses its
 * command line; training and searching arrive with later layers.
 */
#include <stdio.h>
#include <sysexits.h>

#include "cli.h"

static const struct cli_program program = {
    .name = "mutatord",
    .usage =
        "Usage: mutatord -c FILE [OPTION]...\n"
        "Neural architecture search daemon: trains a supernet and searches it\n"
        "for the best subnets under resource constraints.\n"
        "\n"
        "  -c, --config=FILE   search configuration (libconfig)\n"
        "  -h, --help          show this help and exit\n"
        "  -V, --version       show the version and exit\n"
        "\n"
        "Exit status: 0 on success, 64 on a usage error.\n",
};

int main(int argc, char **argv)
{
    const char *config;
    int code = cli_parse_basic(&program, argc, argv, &config);
    if (code >= 0)
        return code;
    fprintf(stderr, "mutatord: %s: searching is not implemented in this version\n", config);
    return EX_SOFTWARE;
}
