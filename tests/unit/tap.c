#include "tests/unit/tap.h"

#include <stdarg.h>
#include <stdlib.h>

static struct tap_test *head, **tail = &head;
static bool current_failed;
static const char *current_skip;

void tap_register(struct tap_test *t)
{
	*tail = t;
	tail = &t->next;
}

void tap_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	current_failed = true;
	printf("# %s:%d: check failed: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

void tap_skip(const char *reason)
{
	current_skip = reason;
}

bool tap_failed(void)
{
	return current_failed;
}

int main(int argc, char **argv)
{
	int n = 0, i = 0, failed = 0;
	const char *only = argc > 1 ? argv[1] : NULL;

	/* Unbuffered, so a crash mid-test still shows which test it was. */
	setvbuf(stdout, NULL, _IONBF, 0);
	for (struct tap_test *t = head; t; t = t->next)
		n += !only || strstr(t->name, only);
	printf("1..%d\n", n);
	for (struct tap_test *t = head; t; t = t->next) {
		if (only && !strstr(t->name, only))
			continue;
		current_failed = false;
		current_skip = NULL;
		printf("# %s\n", t->name);
		t->fn();
		i++;
		if (current_skip)
			printf("ok %d %s # skip %s\n", i, t->name, current_skip);
		else
			printf("%sok %d %s\n", current_failed ? "not " : "", i, t->name);
		failed += current_failed;
	}
	return failed ? 1 : 0;
}
