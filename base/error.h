/* The error contract (see base/README.md):
 *
 *   - a function that can fail returns a negative value and fills
 *     `husk_error_t *err` with a message (and the errno that caused it);
 *   - callers that add meaning wrap it: husk_error_wrap(err, "create %s", id);
 *   - only main() prints it (through log.h) and turns it into an exit status.
 *
 * Nothing below main() writes to stderr on its own account. */
#ifndef HUSK_BASE_ERROR_H
#define HUSK_BASE_ERROR_H

#include <stdarg.h>

struct husk_error {
	int errnum;	 /* errno of the root cause, 0 when there is none */
	int exit_status; /* what main() exits with; 1 unless set otherwise */
	char *msg;
};
typedef struct husk_error *husk_error_t;

/* Sets *err (which must be NULL) and returns -1. With errnum != 0 the message
 * ends in ": strerror(errnum)", the way Go's os errors read in runc. */
int husk_error_set(husk_error_t *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same, for failures that must end the process with a given status (runc's
 * 126/127 for a process that cannot be run, for instance). */
int husk_error_set_status(husk_error_t *err, int exit_status, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prefixes the message with context: "context: previous message". Returns -1
 * so that `return husk_error_wrap(err, ...)` reads naturally. */
int husk_error_wrap(husk_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void husk_error_release(husk_error_t *err);

#define cleanup_error __attribute__((cleanup(husk_error_release)))

#endif
