/*
 * memstat.h - the process's own memory use, as the kernel counts it.
 */
#ifndef MUTATORD_MEMSTAT_H
#define MUTATORD_MEMSTAT_H

/* The peak resident set size of this process so far (VmHWM), in KiB; -1
 * where /proc does not tell. */
long peak_rss_kib(void);

#endif
