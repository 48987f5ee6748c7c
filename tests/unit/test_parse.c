/* SPDX-License-Identifier: MIT */
/*
 * test_parse.c - the bounded parsers of parse.h must take exactly the
 * documented forms and refuse everything else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mailgate/parse.h"

#define HOUR INT64_C(3600)
#define DAY  INT64_C(86400)
#define YEAR (365 * DAY)

static const struct {
	const char *name;
	const char *in;
	uint64_t max;
	int want;
	uint64_t val;
} uint_cases[] = {
	{ "zero", "0", 10, 0, 0 },
	{ "max exactly", "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
	{ "leading zeros", "007", 10, 0, 7 },
	{ "at limit", "10", 10, 0, 10 },
	{ "empty", "", 10, -1, 0 },
	{ "over limit", "11", 10, -1, 0 },
	{ "wraps uint64", "18446744073709551616", UINT64_MAX, -1, 0 },
	{ "far too long", "99999999999999999999999", UINT64_MAX, -1, 0 },
	{ "plus sign", "+1", 10, -1, 0 },
	{ "minus sign", "-1", 10, -1, 0 },
	{ "leading blank", " 1", 10, -1, 0 },
	{ "trailing blank", "1 ", 10, -1, 0 },
	{ "hex", "0x1", 10, -1, 0 },
	{ "letter", "1a", 10, -1, 0 },
	{ "decimal point", "1.0", 10, -1, 0 },
};

static void
parse_uint64_cases(void **state)
{
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(uint_cases) / sizeof(uint_cases[0]); i++) {
		v = 12345;
		if (parse_uint64(uint_cases[i].in, uint_cases[i].max, &v) !=
		    uint_cases[i].want)
			fail_msg("%s: wrong result", uint_cases[i].name);
		if (uint_cases[i].want == 0 && v != uint_cases[i].val)
			fail_msg("%s: value %llu", uint_cases[i].name,
			    (unsigned long long)v);
		if (uint_cases[i].want < 0 && v != 12345)
			fail_msg(
			    "%s: output written on error", uint_cases[i].name);
	}
}

static void
parse_uint_limits(void **state)
{
	unsigned int v = 0;

	(void)state;
	assert_int_equal(parse_uint("4294967295", UINT32_MAX, &v), 0);
	assert_true(v == UINT32_MAX);
	assert_int_equal(parse_uint("4294967296", UINT32_MAX, &v), -1);
	assert_int_equal(parse_uint("65536", 65535, &v), -1);
	assert_int_equal(parse_uint("", 65535, &v), -1);
}

static const struct {
	const char *name;
	const char *in;
	int want;
	int64_t secs;
} duration_cases[] = {
	{ "bare seconds", "90", 0, 90 },
	{ "seconds", "90s", 0, 90 },
	{ "minutes", "30m", 0, 1800 },
	{ "hours", "12h", 0, 12 * HOUR },
	{ "days", "180d", 0, 180 * DAY },
	{ "weeks", "2w", 0, 14 * DAY },
	{ "year is 365 days", "1y", 0, YEAR },
	{ "combined", "1d12h", 0, DAY + 12 * HOUR },
	{ "all units", "1y1w1d1h1m1s", 0, YEAR + 8 * DAY + 3661 },
	{ "zero part", "1h0m", 0, 3600 },
	{ "hundred years", "100y", 0, 100 * YEAR },
	{ "empty", "", -1, 0 },
	{ "zero", "0", -1, 0 },
	{ "zero with unit", "0s", -1, 0 },
	{ "zero parts", "0d0h", -1, 0 },
	{ "negative", "-1d", -1, 0 },
	{ "unit only", "d", -1, 0 },
	{ "unknown unit", "5x", -1, 0 },
	{ "upper-case unit", "5D", -1, 0 },
	{ "ms not here", "500ms", -1, 0 },
	{ "blank inside", "1d 12h", -1, 0 },
	{ "leading blank", " 1d", -1, 0 },
	{ "trailing blank", "1d ", -1, 0 },
	{ "unit repeated", "1d1d", -1, 0 },
	{ "units out of order", "12h1d", -1, 0 },
	{ "trailing bare number", "1h30", -1, 0 },
	{ "over 100 years", "101y", -1, 0 },
	{ "over 100 years combined", "100y1s", -1, 0 },
	{ "bare over 100 years", "3153600001", -1, 0 },
	{ "huge count", "99999999999999999999d", -1, 0 },
	{ "overflowing weeks", "9999999999w", -1, 0 },
	{ "decimal", "1.5h", -1, 0 },
	{ "sign", "+1h", -1, 0 },
};

static void
parse_duration_cases(void **state)
{
	const char *why = NULL;
	int64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(duration_cases) / sizeof(duration_cases[0]);
	     i++) {
		v = -7;
		if (parse_duration(duration_cases[i].in, &v, &why) !=
		    duration_cases[i].want)
			fail_msg("%s: wrong result", duration_cases[i].name);
		if (duration_cases[i].want == 0 && v != duration_cases[i].secs)
			fail_msg("%s: got %lld", duration_cases[i].name,
			    (long long)v);
		if (duration_cases[i].want < 0 && (v != -7 || why == NULL))
			fail_msg("%s: output or message wrong",
			    duration_cases[i].name);
	}
}

#define NOW 1767225600 /* 2026-01-01T00:00:00Z */

static const struct {
	const char *name;
	const char *in;
	int want;
	int64_t t;
} time_cases[] = {
	{ "date", "2026-01-01", 0, NOW },
	{ "epoch", "1970-01-01", 0, 0 },
	{ "date and minutes", "2026-01-01 12:30", 0, NOW + 45000 },
	{ "T and Z", "2026-01-01T12:30:00Z", 0, NOW + 45000 },
	{ "T without zone", "2026-01-01T12:30:05", 0, NOW + 45005 },
	{ "positive offset", "2026-01-01T12:30:00+02:00", 0, NOW + 37800 },
	{ "negative offset", "2026-01-01T00:00:00-01:30", 0, NOW + 5400 },
	{ "leap day 2024", "2024-02-29", 0, 1709164800 },
	{ "leap day 2000", "2000-02-29", 0, 951782400 },
	{ "end of year", "2025-12-31T23:59:59Z", 0, NOW - 1 },
	{ "unix seconds", "@1767225600", 0, NOW },
	{ "unix zero", "@0", 0, 0 },
	{ "now", "now", 0, NOW },
	{ "days ago", "7d", 0, NOW - 7 * DAY },
	{ "minus days ago", "-7d", 0, NOW - 7 * DAY },
	{ "empty", "", -1, 0 },
	{ "no leap day 2025", "2025-02-29", -1, 0 },
	{ "no leap day 1900", "1900-02-29", -1, 0 },
	{ "no leap day 2100", "2100-02-29", -1, 0 },
	{ "april 31", "2026-04-31", -1, 0 },
	{ "month 13", "2026-13-01", -1, 0 },
	{ "month 0", "2026-00-10", -1, 0 },
	{ "day 0", "2026-01-00", -1, 0 },
	{ "day 32", "2026-01-32", -1, 0 },
	{ "before 1970", "1969-12-31", -1, 0 },
	{ "five-digit year", "12026-01-01", -1, 0 },
	{ "short month", "2026-1-01", -1, 0 },
	{ "short day", "2026-01-1", -1, 0 },
	{ "slashes", "2026/01/01", -1, 0 },
	{ "hour 24", "2026-01-01T24:00:00Z", -1, 0 },
	{ "minute 60", "2026-01-01T12:60", -1, 0 },
	{ "leap second", "2026-01-01T23:59:60Z", -1, 0 },
	{ "hour only", "2026-01-01T12", -1, 0 },
	{ "T and nothing", "2026-01-01T", -1, 0 },
	{ "lower-case z", "2026-01-01T12:30:00z", -1, 0 },
	{ "offset without colon", "2026-01-01T12:30:00+0200", -1, 0 },
	{ "offset hour 24", "2026-01-01T12:30:00+24:00", -1, 0 },
	{ "offset minute 60", "2026-01-01T12:30:00+01:60", -1, 0 },
	{ "text after zone", "2026-01-01T12:30:00Zx", -1, 0 },
	{ "trailing blank", "2026-01-01 ", -1, 0 },
	{ "leading blank", " 2026-01-01", -1, 0 },
	{ "at with sign", "@-1", -1, 0 },
	{ "at empty", "@", -1, 0 },
	{ "at huge", "@99999999999999999999", -1, 0 },
	{ "upper-case now", "NOW", -1, 0 },
	{ "double minus", "--7d", -1, 0 },
	{ "zero duration ago", "0d", -1, 0 },
	{ "words", "yesterday", -1, 0 },
};

static void
parse_time_cases(void **state)
{
	const char *why = NULL;
	int64_t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(time_cases) / sizeof(time_cases[0]); i++) {
		t = -7;
		if (parse_time(time_cases[i].in, NOW, &t, &why) !=
		    time_cases[i].want)
			fail_msg("%s: wrong result", time_cases[i].name);
		if (time_cases[i].want == 0 && t != time_cases[i].t)
			fail_msg("%s: got %lld want %lld", time_cases[i].name,
			    (long long)t, (long long)time_cases[i].t);
		if (time_cases[i].want < 0 && (t != -7 || why == NULL))
			fail_msg(
			    "%s: output or message wrong", time_cases[i].name);
	}
}

/* Every day from 1970 to 2400 survives format_time -> parse_time. */
static void
parse_time_round_trips(void **state)
{
	char buf[32];
	const char *why;
	int64_t t, back;

	(void)state;
	for (t = 0; t < 13569465600; t += DAY + 3661) {
		format_time(t, buf, sizeof(buf));
		assert_int_equal(strlen(buf), 20);
		if (parse_time(buf, 0, &back, &why) != 0 || back != t)
			fail_msg(
			    "%lld -> %s did not round-trip", (long long)t, buf);
	}
}

static void
format_time_known(void **state)
{
	char buf[21];

	(void)state;
	format_time(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	format_time(NOW + 45000, buf, sizeof(buf));
	assert_string_equal(buf, "2026-01-01T12:30:00Z");
	format_time(951868799, buf, sizeof(buf));
	assert_string_equal(buf, "2000-02-29T23:59:59Z");
}

static const struct {
	const char *name;
	const char *in;
	const char *want; /* NULL: rejected */
} address_cases[] = {
	{ "plain", "alice@example.org", "alice@example.org" },
	{ "lower-cased", "Alice.Smith@Example.ORG", "alice.smith@example.org" },
	{ "plus tag", "bob+lists@mail.example.org",
	    "bob+lists@mail.example.org" },
	{ "atext symbols", "a!#$%&'*+-/=?^_`{|}~z@example.org",
	    "a!#$%&'*+-/=?^_`{|}~z@example.org" },
	{ "punycode", "x@xn--bcher-kva.example", "x@xn--bcher-kva.example" },
	{ "digits in domain", "x@1and1.de", "x@1and1.de" },
	{ "hyphen inside label", "x@my-host.example.org",
	    "x@my-host.example.org" },
	{ "empty", "", NULL },
	{ "no at", "alice.example.org", NULL },
	{ "two ats", "a@b@example.org", NULL },
	{ "empty local", "@example.org", NULL },
	{ "empty domain", "alice@", NULL },
	{ "leading dot", ".alice@example.org", NULL },
	{ "trailing dot local", "alice.@example.org", NULL },
	{ "double dot local", "al..ice@example.org", NULL },
	{ "quoted local", "\"alice\"@example.org", NULL },
	{ "quoted with space", "\"a b\"@example.org", NULL },
	{ "comment", "alice(x)@example.org", NULL },
	{ "space in local", "al ice@example.org", NULL },
	{ "space after", "alice@example.org ", NULL },
	{ "tab", "alice\t@example.org", NULL },
	{ "newline", "alice@example.org\n", NULL },
	{ "control byte", "ali\x01ze@example.org", NULL },
	{ "del byte", "ali\x7f@example.org", NULL },
	{ "non-ascii local", "j\xc3\xb6rg@example.org", NULL },
	{ "non-ascii domain",
	    "x@b\xc3\xbc"
	    "cher.example",
	    NULL },
	{ "single label", "root@localhost", NULL },
	{ "trailing dot domain", "alice@example.org.", NULL },
	{ "leading dot domain", "alice@.example.org", NULL },
	{ "double dot domain", "alice@example..org", NULL },
	{ "label starts with hyphen", "x@-bad.example.org", NULL },
	{ "label ends with hyphen", "x@bad-.example.org", NULL },
	{ "underscore in domain", "x@my_host.example.org", NULL },
	{ "ip literal", "x@[192.0.2.1]", NULL },
	{ "ipv6 literal", "x@[IPv6:2001:db8::1]", NULL },
	{ "dotted quad", "x@192.0.2.1", NULL },
	{ "angle brackets", "<x@example.org>", NULL },
	{ "display name", "Alice <x@example.org>", NULL },
	{ "comma", "x,y@example.org", NULL },
	{ "semicolon", "x;y@example.org", NULL },
	{ "backslash", "x\\y@example.org", NULL },
	{ "colon", "x:y@example.org", NULL },
	{ "percent route in domain", "x@ex%ample.org", NULL },
};

static void
address_normalize_cases(void **state)
{
	char out[ADDRESS_MAX + 1];
	const char *why;
	int ret;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(address_cases) / sizeof(address_cases[0]); i++) {
		why = NULL;
		ret = address_normalize(address_cases[i].in, out, &why);
		if (address_cases[i].want == NULL) {
			if (ret != -1 || why == NULL)
				fail_msg("%s: accepted", address_cases[i].name);
			continue;
		}
		if (ret != 0)
			fail_msg(
			    "%s: rejected: %s", address_cases[i].name, why);
		if (strcmp(out, address_cases[i].want) != 0)
			fail_msg("%s: got %s", address_cases[i].name, out);
	}
}

/* Build "<local>@<label>.<label>...example" with the given sizes. */
static void
address_build(
    char *buf, size_t size, size_t local, size_t label, unsigned int labels)
{
	size_t n = 0;
	unsigned int i;

	memset(buf, 'a', local);
	n = local;
	buf[n++] = '@';
	for (i = 0; i < labels; i++) {
		memset(buf + n, 'b', label);
		n += label;
		buf[n++] = '.';
	}
	assert_true(n + 4 < size);
	memcpy(buf + n, "org", 4);
}

static void
address_normalize_lengths(void **state)
{
	char in[600], out[ADDRESS_MAX + 1];
	const char *why;

	(void)state;
	address_build(in, sizeof(in), 64, 63, 1);
	assert_int_equal(address_normalize(in, out, &why), 0);
	address_build(in, sizeof(in), 65, 10, 1);
	assert_int_equal(address_normalize(in, out, &why), -1);
	address_build(in, sizeof(in), 10, 64, 1);
	assert_int_equal(address_normalize(in, out, &why), -1);
	/* 64 + 1 + 3 * (61 + 1) + 3 = 254: exactly the limit. */
	address_build(in, sizeof(in), 64, 61, 3);
	assert_int_equal(strlen(in), 254);
	assert_int_equal(address_normalize(in, out, &why), 0);
	memcpy(in + 254, "g", 2);
	assert_int_equal(address_normalize(in, out, &why), -1);
}

/* RFC 4648 section 10. */
static const struct {
	const char *plain;
	const char *b64;
} b64_vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
base64_rfc4648_vectors(void **state)
{
	unsigned char out[16];
	char enc[16];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(b64_vectors) / sizeof(b64_vectors[0]); i++) {
		len = strlen(b64_vectors[i].plain);
		assert_int_equal(base64_encode(b64_vectors[i].plain, len, enc),
		    strlen(b64_vectors[i].b64));
		assert_string_equal(enc, b64_vectors[i].b64);
		assert_int_equal(
		    base64_decode(b64_vectors[i].b64,
			strlen(b64_vectors[i].b64), out, sizeof(out), &len),
		    0);
		assert_int_equal(len, strlen(b64_vectors[i].plain));
		assert_memory_equal(out, b64_vectors[i].plain, len);
	}
}

static const struct {
	const char *name;
	const char *in;
	size_t out_size;
} b64_bad[] = {
	{ "length 1", "Z", 16 },
	{ "length 2 unpadded", "Zg", 16 },
	{ "length 3 unpadded", "Zm8", 16 },
	{ "length 5", "Zm9vY", 16 },
	{ "three pads", "Z===", 16 },
	{ "four pads", "====", 16 },
	{ "pad in the middle", "Zg==Zm9v", 16 },
	{ "pad inside group", "Zm=v", 16 },
	{ "non-canonical one pad", "Zm9=", 16 },
	{ "non-canonical two pads", "Zh==", 16 },
	{ "space", "Zm9 v", 16 },
	{ "newline", "Zm9v\nYmFy", 16 },
	{ "trailing newline", "Zm9v\n", 16 },
	{ "url alphabet minus", "-_-_", 16 },
	{ "bad byte", "Zm9\x80", 16 },
	{ "nul byte", "Zm\0v", 16 },
	{ "too small for 6", "Zm9vYmFy", 5 },
	{ "too small for 1", "Zg==", 0 },
};

static void
base64_decode_rejects(void **state)
{
	unsigned char out[16];
	size_t i, len, n;

	(void)state;
	for (i = 0; i < sizeof(b64_bad) / sizeof(b64_bad[0]); i++) {
		n = strlen(b64_bad[i].in);
		if (strcmp(b64_bad[i].name, "nul byte") == 0)
			n = 4;
		len = 999;
		if (base64_decode(b64_bad[i].in, n, out, b64_bad[i].out_size,
			&len) != -1 ||
		    len != 999)
			fail_msg("%s: accepted", b64_bad[i].name);
	}
}

static void
base64_decode_exact_fit(void **state)
{
	unsigned char out[6];
	size_t len;

	(void)state;
	assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 6, &len), 0);
	assert_int_equal(len, 6);
	assert_int_equal(base64_decode("Zm9vYmE=", 8, out, 5, &len), 0);
	assert_int_equal(len, 5);
}

static void
base64_all_bytes_round_trip(void **state)
{
	unsigned char in[256], out[256];
	char enc[4 * ((256 + 2) / 3) + 1];
	size_t i, n, len;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	for (n = 0; n <= sizeof(in); n += 1 + n / 7) {
		len = base64_encode(in, n, enc);
		assert_int_equal(len, 4 * ((n + 2) / 3));
		assert_int_equal(base64_decode(enc, len, out, n, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(in, out, n);
	}
}

static void
base64url_no_padding(void **state)
{
	static const unsigned char bytes[] = { 0xfb, 0xff, 0xfe };
	char out[16];

	(void)state;
	assert_int_equal(base64url_encode(bytes, 3, out), 4);
	assert_string_equal(out, "-__-");
	assert_int_equal(base64url_encode("f", 1, out), 2);
	assert_string_equal(out, "Zg");
	assert_int_equal(base64url_encode("fo", 2, out), 3);
	assert_string_equal(out, "Zm8");
	assert_int_equal(base64_encode(bytes, 3, out), 4);
	assert_string_equal(out, "+//+");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_uint64_cases),
		cmocka_unit_test(parse_uint_limits),
		cmocka_unit_test(parse_duration_cases),
		cmocka_unit_test(parse_time_cases),
		cmocka_unit_test(parse_time_round_trips),
		cmocka_unit_test(format_time_known),
		cmocka_unit_test(address_normalize_cases),
		cmocka_unit_test(address_normalize_lengths),
		cmocka_unit_test(base64_rfc4648_vectors),
		cmocka_unit_test(base64_decode_rejects),
		cmocka_unit_test(base64_decode_exact_fit),
		cmocka_unit_test(base64_all_bytes_round_trip),
		cmocka_unit_test(base64url_no_padding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
