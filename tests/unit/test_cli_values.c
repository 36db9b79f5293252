/* Repeated value flags (cli_values()), as `husk debug boot --share` uses
 * them: every occurrence in order, cli_value() still the last. */
#include <fcntl.h>
#include <unistd.h>

#include "runtime/cli.h"
#include "tests/unit/tap.h"

static const struct cli_flag flags[] = {
	{ "share", 0, true, "" },
	{ "env", 'e', true, "" },
	{ "detach", 'd', false, "" },
	{ NULL },
};
static const struct cli_command cmd = {
	.name = "t",
	.summary = "",
	.min_args = 0,
	.max_args = 1,
	.flags = flags,
};

TEST(cli_values_keeps_every_occurrence)
{
	char *argv[] = { "t",	 "--share", "a=/x", "-e", "A=1", "--share=b=/y:ro", "-d", "-share",
			 "c=/z", "-e",	    "B=2",  "id", NULL };
	struct cli_args a;
	const char *v[4];
	husk_error_t err cleanup_error = NULL;

	CHECK_INT(cli_parse(&cmd, 12, argv, &a, &err), 0);
	CHECK_INT(cli_values(&cmd, &a, "share", v, 4), 3);
	CHECK_STR(v[0], "a=/x");
	CHECK_STR(v[1], "b=/y:ro");
	CHECK_STR(v[2], "c=/z");
	CHECK_STR(cli_value(&cmd, &a, "share"), "c=/z"); /* the last, as before */
	CHECK_INT(cli_values(&cmd, &a, "env", v, 1), 2); /* counts past MAX */
	CHECK_STR(v[0], "A=1");
	CHECK_INT(cli_values(&cmd, &a, "detach", v, 4), 0); /* switches have no values */
	CHECK(cli_switch(&cmd, &a, "detach"));
	CHECK_INT(a.argc, 1);
}

TEST(cli_values_too_many_is_a_usage_error)
{
	char *argv[2 * CLI_MAX_VALUES + 4] = { "t" };
	struct cli_args a;
	husk_error_t err cleanup_error = NULL;
	int n = 1;

	for (int i = 0; i <= CLI_MAX_VALUES; i++) {
		argv[n++] = "--env";
		argv[n++] = "X=1";
	}
	int saved = dup(2), devnull = open("/dev/null", 1);
	dup2(devnull, 2); /* the usage text goes to stderr */
	int r = cli_parse(&cmd, n, argv, &a, &err);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	CHECK_INT(r, -1);
	CHECK(strstr(err->msg, "too many options") != NULL);
}

TEST(cli_parse_ulong_takes_whole_numbers_in_range_only)
{
	unsigned long v = 7;

	CHECK(cli_parse_ulong("0", 0, 10, &v) && v == 0);
	CHECK(cli_parse_ulong("10", 0, 10, &v) && v == 10);
	CHECK(cli_parse_ulong("4294967294", 0, 0xfffffffeul, &v) && v == 0xfffffffeul);
	v = 7;
	/* Each refusal leaves *OUT alone, so a caller's default survives. */
	const char *bad[] = { NULL,	   "",	 "-1", "-0", "+",    "+1",
			      "11",	   "1x", " 1", "1 ", "0x10", "99999999999999999999999",
			      "4294967295" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned long max = i + 1 == sizeof(bad) / sizeof(bad[0]) ? 0xfffffffeul : 10;
		CHECK(!cli_parse_ulong(bad[i], 0, max, &v));
	}
	CHECK(!cli_parse_ulong("1", 2, 10, &v)); /* below MIN */
	CHECK_INT((int)v, 7);
}
