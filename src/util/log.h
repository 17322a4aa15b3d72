/* Leveled logging to stderr or a file (--log-spec, --log-dir, --log-file).
 * The spec is a level word (error|warn|info|debug|trace|off); when no spec is
 * given, $ALIOTH_LOG, then $RUST_LOG (Alioth's variable), then "warn". */
#ifndef ALIOTH_UTIL_LOG_H
#define ALIOTH_UTIL_LOG_H

#include <stdbool.h>

enum log_level { LOG_OFF = -1, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

/* Parses a spec; returns false (and leaves *out untouched) if it is invalid. */
bool log_parse_spec(const char *spec, enum log_level *out);
/* Sets level and destination. dir may be NULL (stderr); file may be NULL
 * (a default name inside dir). Returns 0, or -1 after printing why. */
int log_init(enum log_level level, const char *dir, const char *file);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...) log_msg(LOG_TRACE, __VA_ARGS__)

#endif
