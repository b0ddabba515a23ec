/*
 * log_syslog.c - the log's syslog sink (log_syslog.h).
 */
#include "log_syslog.h"

#include <syslog.h>

void log_syslog_open(const char *ident)
{
    openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_syslog_write(int severity, const char *line)
{
    static const int priority[] = {LOG_INFO, LOG_WARNING, LOG_ERR};
    syslog(priority[severity < 0 ? 0 : severity > 2 ? 2 : severity], "%s", line);
}
