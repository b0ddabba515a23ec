/*
 * mutator_eval.c - offline evaluation of subnets. At this stage it parses
 * its command line; evaluation arrives with later layers.
 */
#include <stdio.h>
#include <sysexits.h>

#include "cli.h"

static const struct cli_program program = {
    .name = "mutator-eval",
    .usage =
        "Usage: mutator-eval -c FILE [OPTION]...\n"
        "Evaluates subnets found by mutatord: accuracy, MACs, params, latency.\n"
        "\n"
        "  -c, --config=FILE   search configuration (libconfig)\n"
        "  -h, --help          show this help and exit\n"
        "  -V, --version       show the version and exit\n"
        "\n"
        "Exit status: 0 on success, 64 on a usage error.\n",
};

int main(int argc, char **argv)
{
    struct cli_args args;
    int code = cli_parse(&program, argc, argv, &args);
    if (code >= 0)
        return code;
    fprintf(stderr, "mutator-eval: %s: evaluation is not implemented in this version\n",
            args.config);
    return EX_SOFTWARE;
}
