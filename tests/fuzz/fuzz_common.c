/*
 * fuzz_common.c - shared setup of the fuzz harnesses (fuzz_common.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz_common.h"
#include "log.h"
#include "search.h"
#include "search_space.h"

void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

const char *fuzz_scratch_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[256];
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/mutatord-fuzz-%ld-%s", base, (long)getpid(), name);
    fuzz_write_file(path, data, size);
    return path;
}

static const char space_text[] =
    "supernet = { input = { channels = 1; height = 8; width = 8; }; classes = 3;\n"
    "  stem = { channels = 4; kernel = 3; stride = 1; };\n"
    "  stages = (\n"
    "    { blocks = 2; channels = 8; stride = 2;\n"
    "      ops = [\"shuffle_3x3\", \"shuffle_xception\"]; },\n"
    "    { blocks = 1; channels = 8; stride = 1; ops = [\"mb_k3_e3\", \"identity\"]; } );\n"
    "  last = { channels = 16; }; };\n"
    "mutators = ( { type = \"OneShotModuleMutator\"; },\n"
    "             { type = \"OneShotChannelMutator\"; candidates = [0.5, 1.0];\n"
    "               units = [\"last\", \"stage2.block0.mid\"]; } );\n";

struct search_space *fuzz_space(void)
{
    static config_t cfg;
    static struct search_space *ss;
    if (ss == NULL) {
        struct mtd_error err = {0};
        log_set_stderr_level(LOG_ERROR + 1);
        if (conf_read_string(&cfg, space_text, "fuzz.conf", &err) != MTD_OK ||
            search_space_create(&ss, config_root_setting(&cfg), 1, &err) != MTD_OK) {
            fprintf(stderr, "fuzz space: %s\n", err.msg);
            abort();
        }
    }
    return ss;
}

const struct search_config *fuzz_search_config(void)
{
    static struct search_config cfg;
    static int configured;
    if (!configured) {
        struct mtd_error err = {0};
        search_config_parse(NULL, &cfg, &err);
        cfg.generations = 2;
        cfg.population = 6;
        cfg.top_k = 3;
        cfg.num_mutation = 2;
        cfg.num_crossover = 2;
        cfg.checkpoint_every = 2;
        configured = 1;
    }
    return &cfg;
}
