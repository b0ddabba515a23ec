/*
 * memstat.c - peak resident set size from /proc/self/status (Linux).
 */
#include <stdio.h>
#include <string.h>

#include "memstat.h"

long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0 && sscanf(line + 6, "%ld", &kib) != 1)
            kib = -1;
    fclose(f);
    return kib;
}
