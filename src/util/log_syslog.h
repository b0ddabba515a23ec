/*
 * log_syslog.h - the log's syslog sink, apart from log.c because
 * <syslog.h> defines LOG_INFO and friends as macros, which log.h uses as
 * enum names.
 */
#ifndef MUTATORD_LOG_SYSLOG_H
#define MUTATORD_LOG_SYSLOG_H

void log_syslog_open(const char *ident);

/* severity: 0 info, 1 warning, 2 error. */
void log_syslog_write(int severity, const char *line);

#endif
