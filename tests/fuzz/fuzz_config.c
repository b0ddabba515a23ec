/*
 * fuzz_config.c - libFuzzer harness: any text as a whole config file
 * (run_config.h: every section, the search space built and freed).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "log.h"
#include "run_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_stderr_level(LOG_ERROR + 1);
    const char *path = fuzz_scratch_file("config.conf", data, size);
    struct run_config rc;
    struct mtd_error err = {0};
    run_config_read(&rc, path, NULL, 0, &err);
    run_config_free(&rc);
    return 0;
}
