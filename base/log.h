/* Log lines the way runc writes them, because conmon and the containerd shim
 * parse runc's `--log FILE --log-format json` output to show users why a
 * container failed:
 *   text: time="2026-01-02T03:04:05Z" level=error msg="container does not exist"
 *   json: {"level":"error","msg":"container does not exist","time":"..."}
 */
#ifndef HUSK_BASE_LOG_H
#define HUSK_BASE_LOG_H

#include <stdbool.h>
#include <time.h>

#include "base/error.h"

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };
enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Parses "text" or "json" (runc's only two); -1 on anything else. */
int log_format_parse(const char *name, enum log_format *out);

/* Directs log lines to PATH (NULL: stderr), created 0644 and appended to. */
int log_open(const char *path, enum log_format format, bool debug, husk_error_t *err);
void log_close(void);

/* True when log lines already go to stderr, so main() need not repeat an
 * error there (runc prints the bare message to stderr only when --log names
 * another file). */
bool log_is_stderr(void);

/* The descriptor log lines go to (a child that keeps logging keeps it). */
int log_fileno(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

/* One formatted line including its '\n', malloc'd; NULL when out of memory.
 * Exposed for the unit tests. */
char *log_format_line(enum log_format format, enum log_level level, time_t when, const char *msg);

#endif
