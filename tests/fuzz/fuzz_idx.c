/*
 * fuzz_idx.c - libFuzzer harness: any bytes as an IDX file (plain; the
 * reader goes through zlib's gzread, which passes plain files through).
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_file("data.idx", data, size);
    struct mtd_error err = {0};
    for (int ndims = 1; ndims <= 3; ndims++) {
        struct idx_array a;
        if (idx_load(path, ndims, &a, &err) == MTD_OK) {
            size_t product = 1;
            for (int d = 0; d < a.ndims; d++)
                product *= (size_t)a.dims[d];
            if (product != a.size)
                abort();
            idx_free(&a);
        }
    }
    return 0;
}
