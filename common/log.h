/* Logging to stderr: "2026-11-23T04:00:00Z vigil-agent[123] warn: msg".
 * Messages should be key=value where an operator will grep for them and
 * must name the check or call that failed. */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERR };

void log_init(const char *prog, enum log_level min);
/* Parses "debug", "info", "warn", "error"; returns VIGIL_EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *out);
void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)

#endif
