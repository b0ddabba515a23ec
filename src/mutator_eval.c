/*
 * mutator_eval.c - offline evaluation of subnets. At this stage it parses
 * its command line; evaluation arrives with later layers.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: mutator-eval [OPTION]...\n"
            "Evaluates subnets found by mutatord: accuracy, MACs, params, latency.\n"
            "\n"
            "  -c, --config=FILE   search configuration (libconfig)\n"
            "  -h, --help          show this help and exit\n"
            "  -V, --version       show the version and exit\n"
            "\n"
            "Exit status: 0 on success, 64 on a usage error.\n");
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:hV", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config = optarg;
            break;
        case 'h':
            usage(stdout);
            return EX_OK;
        case 'V':
            printf("mutator-eval %s\n", PACKAGE_VERSION);
            return EX_OK;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mutator-eval: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return EX_USAGE;
    }
    if (config == NULL) {
        fprintf(stderr, "mutator-eval: no configuration given (use -c FILE)\n");
        return EX_USAGE;
    }
    fprintf(stderr, "mutator-eval: %s: evaluation is not implemented in this version\n", config);
    return EX_SOFTWARE;
}
