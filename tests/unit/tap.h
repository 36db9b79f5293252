/* A minimal TAP producer for the C unit tests. Each TEST() registers itself
 * at load time; tap_main() runs them all and prints one "ok"/"not ok" line
 * per test, which hack/run-tests.sh counts along with the bats output.
 * A test that needs what the host lacks calls SKIP("reason"). */
#ifndef HUSK_TAP_H
#define HUSK_TAP_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct tap_test {
	const char *name;
	void (*fn)(void);
	struct tap_test *next;
};

void tap_register(struct tap_test *t);
void tap_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tap_skip(const char *reason);
bool tap_failed(void);

#define TEST(fn_name)                                                   \
	static void fn_name(void);                                      \
	__attribute__((constructor)) static void reg_##fn_name(void)    \
	{                                                               \
		static struct tap_test t = { #fn_name, fn_name, NULL }; \
		tap_register(&t);                                       \
	}                                                               \
	static void fn_name(void)

/* Checks return from the test on failure, so later steps never run on a
 * state the failed check already showed to be wrong. */
#define CHECK(cond)                                                \
	do {                                                       \
		if (!(cond)) {                                     \
			tap_fail(__FILE__, __LINE__, "%s", #cond); \
			return;                                    \
		}                                                  \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long va_ = (long long)(a), vb_ = (long long)(b);                              \
		if (va_ != vb_) {                                                                  \
			tap_fail(__FILE__, __LINE__, "%s == %s (%lld != %lld)", #a, #b, va_, vb_); \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                     \
	do {                                                                                \
		const char *sa_ = (a), *sb_ = (b);                                          \
		if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                \
			tap_fail(__FILE__, __LINE__, "%s == %s (\"%s\" != \"%s\")", #a, #b, \
				 sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");               \
			return;                                                             \
		}                                                                           \
	} while (0)

#define SKIP(reason)              \
	do {                      \
		tap_skip(reason); \
		return;           \
	} while (0)

#endif
