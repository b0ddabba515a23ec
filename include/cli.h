/*
 * cli.h - the command-line conventions the programs share: GNU-style long
 * options, --help on stdout with exit 0, --version, usage errors on stderr
 * with exit 64 (EX_USAGE).
 */
#ifndef MUTATORD_CLI_H
#define MUTATORD_CLI_H

struct cli_program {
    const char *name;   /* as printed in messages, e.g. "mutatord" */
    const char *usage;  /* the whole --help text */
};

/* Parses the options both programs have today: -c/--config FILE, -h/--help,
 * -V/--version, and --check when check is not NULL (*check set to 1 when
 * given). Returns -1 when the program should go on with *config set, or the
 * exit code it should return now (help, version, usage error: the message
 * is printed). */
int cli_parse_basic(const struct cli_program *prog, int argc, char **argv,
                    const char **config, int *check);

#endif
