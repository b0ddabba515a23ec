/*
 * cli.c - shared command-line handling of the programs.
 */
#include "config.h"
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>

int cli_parse_basic(const struct cli_program *prog, int argc, char **argv,
                    const char **config, int *check)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"check", no_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    *config = NULL;
    if (check)
        *check = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:hV", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            *config = optarg;
            break;
        case 'h':
            fputs(prog->usage, stdout);
            return EX_OK;
        case 'V':
            printf("%s %s\n", prog->name, PACKAGE_VERSION);
            return EX_OK;
        case 'k':
            if (check) {
                *check = 1;
                break;
            }
            fprintf(stderr, "%s: unrecognized option '--check'\n", prog->name);
            fputs(prog->usage, stderr);
            return EX_USAGE;
        default:
            fputs(prog->usage, stderr);
            return EX_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog->name, argv[optind]);
        return EX_USAGE;
    }
    if (*config == NULL) {
        fprintf(stderr, "%s: no configuration given (use -c FILE)\n", prog->name);
        return EX_USAGE;
    }
    return -1;
}
