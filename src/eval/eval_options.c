/*
 * eval_options.c - mutator-eval's command line (eval_options.h).
 */
#include "config.h"
#include "eval_options.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static const char usage[] =
    "Usage: mutator-eval -c FILE [WHAT] [OPTION]...\n"
    "       mutator-eval --model DIR [-c FILE] [OPTION]...\n"
    "Evaluates subnets of a search run without the daemon: test accuracy with\n"
    "the supernet's weights (BN recalibrated), MACs, params, latency and\n"
    "throughput; finetunes, ranks and exports them.\n"
    "\n"
    "What to evaluate (any together):\n"
    "      --subnet=FILE     a subnet file (repeatable), e.g. RUN/best/subnet-00.conf\n"
    "      --best            the run's best/ subnets, best first\n"
    "      --sample=N        N random subnets within the search constraints\n"
    "      --seed=S          of --sample and --rank [1]\n"
    "      --model=DIR       an exported model (--export), without the supernet\n"
    "How:\n"
    "      --split=test|val  the images scored [test]\n"
    "      --calib=N         BN calibration images [the config's calib_images]\n"
    "      --repeats=N       runs of the batch-1 latency median [50]\n"
    "      --no-timing       skip latency and throughput\n"
    "      --csv=FILE        also write the table as CSV\n"
    "      --finetune=EPOCHS train each subnet EPOCHS epochs (config: finetune\n"
    "                        section) from the supernet's weights, then score it\n"
    "      --from-scratch    finetune from freshly initialised weights instead\n"
    "Other jobs:\n"
    "      --rank=N          Kendall's tau between N random subnets' scores with\n"
    "                        inherited weights and after a short finetune\n"
    "      --rank-epochs=E   the finetune of --rank [1]\n"
    "      --export=DIR      write the (first) subnet standalone: model.conf,\n"
    "                        weights.bin (mutator-eval --model) and model.onnx\n"
    "      --latency-table=FILE  measure every op choice at its shapes on this\n"
    "                        CPU and write the table search.constraints.latency uses\n"
    "Common:\n"
    "  -c, --config=FILE     the search configuration (as given to mutatord)\n"
    "  -r, --run-dir=DIR     run directory (overrides the config's run_dir)\n"
    "  -j, --threads=N       threads (overrides the config's threads)\n"
    "  -h, --help            show this help and exit\n"
    "  -V, --version         show the version and exit\n"
    "\n"
    "Finetunes checkpoint into RUN/finetune/ and resume when run again.\n"
    "Exit status: 0 on success, 64 usage error, 65 bad data, 66 missing input,\n"
    "74 I/O error, 78 configuration error, 130 stopped by SIGINT or SIGTERM.\n";

enum {
    OPT_SUBNET = 256, OPT_BEST, OPT_SAMPLE, OPT_SEED, OPT_SPLIT, OPT_CALIB, OPT_CSV,
    OPT_FINETUNE, OPT_SCRATCH, OPT_RANK, OPT_RANK_EPOCHS, OPT_EXPORT, OPT_MODEL,
    OPT_LATENCY_TABLE, OPT_REPEATS, OPT_NO_TIMING
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mutator-eval: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'mutator-eval --help'.\n", stderr);
    return EX_USAGE;
}

/* A whole decimal number in [min, max], or a usage error. */
static int number(const char *opt, const char *text, long long min, long long max,
                  long long *out)
{
    char *end;
    long long v = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "mutator-eval: %s: expected a number from %lld to %lld, got '%s'\n", opt,
                min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

static int check(const struct eval_options *o)
{
    int what = o->nsubnet > 0 || o->best || o->sample > 0;
    if (o->config == NULL && o->model == NULL)
        return usage_error("no configuration given (use -c FILE)");
    if (o->model != NULL && (what || o->rank || o->export_dir || o->latency_table || o->finetune))
        return usage_error("--model evaluates an exported model alone; it takes no --subnet, "
                           "--best, --sample, --finetune, --rank, --export or --latency-table");
    if (!what && !o->rank && !o->latency_table && o->model == NULL)
        return usage_error("nothing to do: give --subnet FILE, --best, --sample N, --rank N, "
                           "--model DIR or --latency-table FILE");
    if (o->from_scratch && !o->finetune)
        return usage_error("--from-scratch goes with --finetune");
    if (o->export_dir && !what)
        return usage_error("--export needs a subnet (--subnet, --best or --sample)");
    return -1;
}

int eval_options_parse(int argc, char **argv, struct eval_options *o)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"run-dir", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"subnet", required_argument, NULL, OPT_SUBNET},
        {"best", no_argument, NULL, OPT_BEST},
        {"sample", required_argument, NULL, OPT_SAMPLE},
        {"seed", required_argument, NULL, OPT_SEED},
        {"split", required_argument, NULL, OPT_SPLIT},
        {"calib", required_argument, NULL, OPT_CALIB},
        {"csv", required_argument, NULL, OPT_CSV},
        {"finetune", required_argument, NULL, OPT_FINETUNE},
        {"from-scratch", no_argument, NULL, OPT_SCRATCH},
        {"rank", required_argument, NULL, OPT_RANK},
        {"rank-epochs", required_argument, NULL, OPT_RANK_EPOCHS},
        {"export", required_argument, NULL, OPT_EXPORT},
        {"model", required_argument, NULL, OPT_MODEL},
        {"latency-table", required_argument, NULL, OPT_LATENCY_TABLE},
        {"repeats", required_argument, NULL, OPT_REPEATS},
        {"no-timing", no_argument, NULL, OPT_NO_TIMING},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->split = SPLIT_TEST;
    o->calib = -1;
    o->rank_epochs = 1;
    o->repeats = 50;
    optind = 1;
    int opt;
    long long v;
    while ((opt = getopt_long(argc, argv, "c:r:j:hV", options, NULL)) != -1) {
        switch (opt) {
        case 'c': o->config = optarg; break;
        case 'r': o->run_dir = optarg; break;
        case 'j':
            if (number("--threads", optarg, 1, 1024, &v))
                return EX_USAGE;
            o->threads = (int)v;
            break;
        case 'h': fputs(usage, stdout); return EX_OK;
        case 'V': printf("mutator-eval %s\n", PACKAGE_VERSION); return EX_OK;
        case OPT_SUBNET:
            if (o->nsubnet == EVAL_MAX_SUBNET_FILES)
                return usage_error("--subnet: at most %d files", EVAL_MAX_SUBNET_FILES);
            o->subnet[o->nsubnet++] = optarg;
            break;
        case OPT_BEST: o->best = 1; break;
        case OPT_SAMPLE:
            if (number("--sample", optarg, 1, 100000, &v))
                return EX_USAGE;
            o->sample = (int)v;
            break;
        case OPT_SEED:
            if (number("--seed", optarg, 0, INT64_MAX, &v))
                return EX_USAGE;
            o->seed = (uint64_t)v;
            break;
        case OPT_SPLIT:
            if (strcmp(optarg, "test") == 0)
                o->split = SPLIT_TEST;
            else if (strcmp(optarg, "val") == 0)
                o->split = SPLIT_VAL;
            else
                return usage_error("--split: expected test or val, got '%s'", optarg);
            break;
        case OPT_CALIB:
            if (number("--calib", optarg, 1, 1000000, &v))
                return EX_USAGE;
            o->calib = (int)v;
            break;
        case OPT_CSV: o->csv = optarg; break;
        case OPT_FINETUNE:
            if (number("--finetune", optarg, 1, 100000, &v))
                return EX_USAGE;
            o->finetune = (int)v;
            break;
        case OPT_SCRATCH: o->from_scratch = 1; break;
        case OPT_RANK:
            if (number("--rank", optarg, 2, 10000, &v))
                return EX_USAGE;
            o->rank = (int)v;
            break;
        case OPT_RANK_EPOCHS:
            if (number("--rank-epochs", optarg, 1, 100000, &v))
                return EX_USAGE;
            o->rank_epochs = (int)v;
            break;
        case OPT_EXPORT: o->export_dir = optarg; break;
        case OPT_MODEL: o->model = optarg; break;
        case OPT_LATENCY_TABLE: o->latency_table = optarg; break;
        case OPT_REPEATS:
            if (number("--repeats", optarg, 1, 100000, &v))
                return EX_USAGE;
            o->repeats = (int)v;
            break;
        case OPT_NO_TIMING: o->no_timing = 1; break;
        default:
            fputs("Try 'mutator-eval --help'.\n", stderr);
            return EX_USAGE;
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return check(o);
}
