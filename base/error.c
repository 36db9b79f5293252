#include "base/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An allocation failure while reporting an error must still leave a message
 * main() can print, so fall back to a static object instead of losing it. */
static struct husk_error oom_error = { ENOMEM, 1, "out of memory" };

static int error_vset(husk_error_t *err, int exit_status, int errnum, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (msg && errnum) {
		char *with_cause = NULL;

		/* Lower case, as Go's (and so runc's) errors read: clients
		 * match on "no such file or directory". */
		char cause[128];
		snprintf(cause, sizeof(cause), "%s", strerror(errnum));
		cause[0] = (char)tolower((unsigned char)cause[0]);
		if (asprintf(&with_cause, "%s: %s", msg, cause) < 0)
			with_cause = NULL;
		free(msg);
		msg = with_cause;
	}
	struct husk_error *e = msg ? malloc(sizeof(*e)) : NULL;
	if (!e) {
		free(msg);
		*err = &oom_error;
		return -1;
	}
	e->errnum = errnum;
	e->exit_status = exit_status;
	e->msg = msg;
	*err = e;
	return -1;
}

int husk_error_set(husk_error_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, 1, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int husk_error_set_status(husk_error_t *err, int exit_status, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, exit_status, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int husk_error_wrap(husk_error_t *err, const char *fmt, ...)
{
	char *context = NULL, *msg = NULL;
	va_list ap;

	if (!*err || *err == &oom_error)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&context, fmt, ap) < 0)
		context = NULL;
	va_end(ap);
	if (context && asprintf(&msg, "%s: %s", context, (*err)->msg) >= 0) {
		free((*err)->msg);
		(*err)->msg = msg;
	}
	free(context);
	return -1;
}

void husk_error_release(husk_error_t *err)
{
	if (*err && *err != &oom_error) {
		free((*err)->msg);
		free(*err);
	}
	*err = NULL;
}
