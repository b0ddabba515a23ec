/*
 * fuzz_subnet.c - libFuzzer harness: any text as a subnet file of a fixed
 * search space; a loaded subnet must map to an arch the supernet accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "subnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct search_space *ss = fuzz_space();
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct subnet s;
    struct subnet_metrics m;
    struct mtd_error err = {0};
    if (subnet_load_string(ss, text, "fuzz.subnet", &s, &m, &err) == MTD_OK) {
        struct arch arch;
        search_space_to_arch(ss, s.choice, &arch);
        if (supernet_arch_check(search_space_supernet(ss), &arch, &err) != MTD_OK)
            abort();   /* a subnet file that loads is a valid subnet */
    }
    free(text);
    return 0;
}
