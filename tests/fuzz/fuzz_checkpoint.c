/*
 * fuzz_checkpoint.c - libFuzzer harness: search checkpoints. The input is
 * taken two ways: as a whole file (the container's checks: magic, version,
 * checksum), and as a payload wrapped in a valid container (magic, version
 * and a correct CRC), so that the payload parser itself is exercised, not
 * only the checksum. Either way the search resumes from it or refuses it.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ckpt_series.h"
#include "fuzz_common.h"
#include "log.h"
#include "search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum mtd_status constant_score(void *ctx, const struct subnet *s, double *score,
                                      struct mtd_error *err)
{
    (void)ctx;
    (void)s;
    (void)err;
    *score = 0.5;
    return MTD_OK;
}

static void resume_from(const char *dir, const uint8_t *file, size_t size)
{
    struct mtd_error err = {0};
    char path[512];
    ckpt_series_path(dir, "search", 1, path, sizeof path);
    fuzz_write_file(path, file, size);
    struct search *s;
    int resumed;
    if (search_create(&s, fuzz_space(), fuzz_search_config(), constant_score, NULL, dir, &err) != MTD_OK)
        abort();
    if (search_resume(s, &resumed, &err) == MTD_OK && resumed) {
        /* What loads is a state the search can go on from. */
        search_run(s, NULL, 3, &err);
    }
    search_free(s);
    /* Whatever it wrote (checkpoints, outputs) goes: the next input starts
     * from an empty directory. */
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0) {   /* best/ */
            char sub[600];
            snprintf(sub, sizeof sub, "rm -rf '%s'", path);
            if (system(sub) != 0)
                abort();
        }
    }
    if (d != NULL)
        closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[256];
    log_set_stderr_level(LOG_ERROR + 1);
    if (dir[0] == '\0') {
        snprintf(dir, sizeof dir, "%s/mutatord-fuzz-ckpt-%ld",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
        mkdir(dir, 0700);
    }
    resume_from(dir, data, size);
    /* The payload in a valid container. */
    uint8_t *file = malloc(size + 16);
    if (file == NULL)
        return 0;
    /* The search checkpoint's magic and format version (search_ckpt.c). */
    static const uint8_t head[12] = {'M', 'T', 'D', 'S', 'R', 'C', 'H', '1', 2, 0, 0, 0};
    memcpy(file, head, 12);
    if (size > 0)
        memcpy(file + 12, data, size);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), file, (uInt)(12 + size));
    memcpy(file + 12 + size, &crc, 4);
    resume_from(dir, file, size + 16);
    free(file);
    return 0;
}
