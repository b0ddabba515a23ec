/*
 * cli.c - shared command-line handling of the programs.
 */
#include "config.h"
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static int usage_error(const struct cli_program *prog)
{
    fputs(prog->usage, stderr);
    return EX_USAGE;
}

int cli_parse(const struct cli_program *prog, int argc, char **argv, struct cli_args *args)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"check", no_argument, NULL, 'k'},
        {"run-dir", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 'j'},
        {"daemonize", no_argument, NULL, 'd'},
        {"syslog", no_argument, NULL, 's'},
        {"fresh", no_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    memset(args, 0, sizeof *args);
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:hVr:j:d", options, NULL)) != -1) {
        int bit = opt == 'k' ? CLI_CHECK : opt == 'r' ? CLI_RUN_DIR : opt == 'j' ? CLI_THREADS
                  : opt == 'd' || opt == 's' || opt == 'f' ? CLI_DAEMON : 0;
        if (bit && !(prog->accepts & bit)) {
            fprintf(stderr, "%s: unrecognized option '%s'\n", prog->name, argv[optind - 1]);
            return usage_error(prog);
        }
        switch (opt) {
        case 'c': args->config = optarg; break;
        case 'k': args->check = 1; break;
        case 'r': args->run_dir = optarg; break;
        case 'd': args->daemonize = 1; break;
        case 's': args->syslog = 1; break;
        case 'f': args->fresh = 1; break;
        case 'j': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || n < 1 || n > 1024) {
                fprintf(stderr, "%s: --threads: expected a number from 1 to 1024, got '%s'\n",
                        prog->name, optarg);
                return EX_USAGE;
            }
            args->threads = (int)n;
            break;
        }
        case 'h':
            fputs(prog->usage, stdout);
            return EX_OK;
        case 'V':
            printf("%s %s\n", prog->name, PACKAGE_VERSION);
            return EX_OK;
        default:
            return usage_error(prog);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog->name, argv[optind]);
        return EX_USAGE;
    }
    if (args->config == NULL) {
        fprintf(stderr, "%s: no configuration given (use -c FILE)\n", prog->name);
        return EX_USAGE;
    }
    return -1;
}
