/* SPDX-License-Identifier: MIT */
/* test_log.c - log_safe() must neutralise whatever a peer sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mailgate/log.h"

static const struct {
	const char *name;
	const char *in;
	size_t max;
	const char *want;
} cases[] = {
	{ "plain stays", "alice@example.org", 64, "alice@example.org" },
	{ "space quotes", "a b", 64, "\"a b\"" },
	{ "empty quotes", "", 64, "\"\"" },
	{ "newline escaped", "a\nresult=ok", 64, "a\\x0aresult\\x3dok" },
	{ "tab escaped", "a\tb", 64, "a\\x09b" },
	{ "quote escaped", "a\"b", 64, "a\\x22b" },
	{ "backslash escaped", "a\\b", 64, "a\\x5cb" },
	{ "high byte escaped", "\xc3\xa9", 64, "\\xc3\\xa9" },
	{ "truncated", "abcdef", 3, "abc..." },
	{ "control at end", "x\x7f", 64, "x\\x7f" },
};

static void
log_safe_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = log_safe(cases[i].in, cases[i].max);

		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s: got %s want %s", cases[i].name, got,
			    cases[i].want);
	}
	assert_string_equal(log_safe(NULL, 10), "-");
}

static void
log_safe_rotates_buffers(void **state)
{
	const char *a = log_safe("one", 10);
	const char *b = log_safe("two", 10);

	(void)state;
	assert_string_equal(a, "one");
	assert_string_equal(b, "two");
}

static void
log_level_parse_rejects_unknown(void **state)
{
	enum log_level l;

	(void)state;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("WARN", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("verbose", &l), -1);
	assert_int_equal(log_level_parse("", &l), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(log_safe_cases),
		cmocka_unit_test(log_safe_rotates_buffers),
		cmocka_unit_test(log_level_parse_rejects_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
