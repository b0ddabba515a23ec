/*
 * make_checkpoint_seed.c - seeds for fuzz_checkpoint: real search
 * checkpoints of the harness's space and settings, written by a search
 * stopped at a few points, each also stripped to its payload (what the
 * harness wraps in a valid container).
 *   usage: make_checkpoint_seed OUTDIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "ckpt_series.h"
#include "fuzz_common.h"
#include "search.h"

static enum mtd_status score(void *ctx, const struct subnet *s, double *out,
                             struct mtd_error *err)
{
    (void)ctx;
    (void)err;
    *out = (double)(subnet_hash(s) % 1000) / 1000.0;
    return MTD_OK;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 64;
    char dir[512], path[600], seed[700];
    snprintf(dir, sizeof dir, "%s/run", argv[1]);
    mkdir(dir, 0700);
    struct search *s;
    struct mtd_error err = {0};
    if (search_create(&s, fuzz_space(), fuzz_search_config(), score, NULL, dir, &err) != MTD_OK ||
        search_run(s, NULL, 5, &err) != MTD_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    search_free(s);
    long counters[8];
    int n = ckpt_series_list(dir, "search", counters, 8);
    for (int i = 0; i < n; i++) {
        ckpt_series_path(dir, "search", counters[i], path, sizeof path);
        FILE *f = fopen(path, "rb");
        static unsigned char buf[1 << 20];
        size_t size = fread(buf, 1, sizeof buf, f);
        fclose(f);
        for (int payload = 0; payload < 2; payload++) {
            snprintf(seed, sizeof seed, "%s/seed-%d-%s", argv[1], i, payload ? "payload" : "file");
            f = fopen(seed, "wb");
            if (payload)
                fwrite(buf + 12, 1, size - 16, f);
            else
                fwrite(buf, 1, size, f);
            fclose(f);
        }
    }
    return n > 0 ? 0 : 1;
}
