/*
 * cli.h - the command-line conventions the programs share: GNU-style long
 * options, --help on stdout with exit 0, --version, usage errors on stderr
 * with exit 64 (EX_USAGE).
 */
#ifndef MUTATORD_CLI_H
#define MUTATORD_CLI_H

/* Options a program may accept besides -c, --help and --version. */
enum cli_option {
    CLI_CHECK = 1 << 0,     /* --check */
    CLI_RUN_DIR = 1 << 1,   /* -r, --run-dir DIR */
    CLI_THREADS = 1 << 2,   /* -j, --threads N */
    CLI_DAEMON = 1 << 3,    /* -d, --daemonize; --syslog; --fresh */
};

struct cli_program {
    const char *name;   /* as printed in messages, e.g. "mutatord" */
    const char *usage;  /* the whole --help text */
    int accepts;        /* enum cli_option bits */
};

struct cli_args {
    const char *config;   /* -c FILE, required */
    int check;            /* --check given */
    const char *run_dir;  /* NULL unless given */
    int threads;          /* 0 unless given */
    int daemonize;        /* -d given */
    int syslog;           /* --syslog given */
    int fresh;            /* --fresh given */
};

/* Parses argv. Returns -1 when the program should go on with *args set,
 * or the exit code it should return now (help, version, usage error: the
 * message is printed). */
int cli_parse(const struct cli_program *prog, int argc, char **argv, struct cli_args *args);

#endif
