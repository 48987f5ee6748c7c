/* SPDX-License-Identifier: MIT */
/*
 * parse.c - numbers, durations, points in time and mail addresses as
 * people type them (configuration, command line, web forms).
 * Input: NUL-terminated strings, possibly hostile. Every parser reads its
 * whole input, checks ranges before arithmetic, and writes its output
 * only on success. Never allocates.
 */
#include "mailgate/parse.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mailgate/result.h"

#define PARSE_DAY          INT64_C(86400)
#define PARSE_YEAR         (365 * PARSE_DAY)
#define PARSE_DURATION_MAX (100 * PARSE_YEAR)
/* Dates people type are between these years; the arithmetic never wraps. */
#define PARSE_YEAR_MIN     1970
#define PARSE_YEAR_MAX     9999

static bool
parse_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
parse_uint64(const char *s, uint64_t max, uint64_t *val_r)
{
	uint64_t v = 0, d;

	if (*s == '\0')
		return -1;

	for (; *s != '\0'; s++) {
		if (!parse_is_digit(*s))
			return -1;
		d = (uint64_t)(*s - '0');
		if (d > max || v > (max - d) / 10) /* check before it wraps */
			return -1;
		v = v * 10 + d;
	}

	*val_r = v;
	return 0;
}

int
parse_uint(const char *s, unsigned int max, unsigned int *val_r)
{
	uint64_t v;

	if (parse_uint64(s, max, &v) < 0)
		return -1;
	*val_r = (unsigned int)v;
	return 0;
}

/* Read 1..maxdigits digits at *sp, advance past them. */
static int
parse_digits(const char **sp, unsigned int maxdigits, uint64_t *val_r)
{
	const char *s = *sp;
	uint64_t v = 0;
	unsigned int n = 0;

	while (parse_is_digit(*s) && n < maxdigits) {
		v = v * 10 + (uint64_t)(*s - '0');
		s++;
		n++;
	}
	if (n == 0 || parse_is_digit(*s))
		return -1;

	*sp = s;
	*val_r = v;
	return 0;
}

/* Seconds per unit; the units must come in this order, each at most once. */
static const struct {
	char unit;
	int64_t secs;
} parse_units[] = {
	{ 'y', PARSE_YEAR },
	{ 'w', 7 * PARSE_DAY },
	{ 'd', PARSE_DAY },
	{ 'h', 3600 },
	{ 'm', 60 },
	{ 's', 1 },
};

static int
parse_duration_unit(char c, size_t *next, int64_t *secs_r)
{
	size_t i;

	for (i = *next; i < MG_N_ELEMENTS(parse_units); i++) {
		if (parse_units[i].unit == c) {
			*next = i + 1;
			*secs_r = parse_units[i].secs;
			return 0;
		}
	}
	return -1;
}

int
parse_duration(const char *s, int64_t *secs_r, const char **errstr_r)
{
	int64_t total = 0, unit;
	uint64_t n;
	size_t next = 0;

	*errstr_r = "is not a duration (like 90s, 30m, 12h, 180d, 1d12h)";
	if (parse_uint64(s, (uint64_t)PARSE_DURATION_MAX, &n) == 0) {
		total = (int64_t)n; /* bare seconds */
		goto check;
	}

	while (*s != '\0') {
		/* 10 digits hold 100 years of seconds; more cannot fit. */
		if (parse_digits(&s, 10, &n) < 0)
			return -1;
		if (parse_duration_unit(*s, &next, &unit) < 0)
			return -1;
		s++;
		if (n > (uint64_t)(PARSE_DURATION_MAX / unit) ||
		    (int64_t)n * unit > PARSE_DURATION_MAX - total)
			goto toolong;
		total += (int64_t)n * unit;
	}

check:
	if (total > PARSE_DURATION_MAX)
		goto toolong;
	if (total <= 0) {
		*errstr_r = "must be longer than zero";
		return -1;
	}
	*secs_r = total;
	return 0;
toolong:
	*errstr_r = "is longer than 100 years";
	return -1;
}

static bool
parse_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
parse_month_days(int64_t y, int64_t m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };

	if (m == 2 && parse_is_leap(y))
		return 29;
	return days[m - 1];
}

/* Days since 1970-01-01 of a valid proleptic Gregorian date. */
static int64_t
parse_days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400; /* y >= 1969 here, so no negative division */
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Expect the character c at *sp and step over it. */
static int
parse_expect(const char **sp, char c)
{
	if (**sp != c)
		return -1;
	(*sp)++;
	return 0;
}

/* Read a number of exactly ndigits digits, at most max. */
static int
parse_fixed(
    const char **sp, unsigned int ndigits, uint64_t max, uint64_t *val_r)
{
	const char *s = *sp;
	unsigned int i;

	for (i = 0; i < ndigits; i++) {
		if (!parse_is_digit(s[i]))
			return -1;
	}
	if (parse_digits(sp, ndigits, val_r) < 0 || *val_r > max)
		return -1;
	return 0;
}

/* "YYYY-MM-DD" into days since the epoch. */
static int
parse_date(const char **sp, int64_t *days_r)
{
	uint64_t y, m, d;

	if (parse_fixed(sp, 4, PARSE_YEAR_MAX, &y) < 0 || y < PARSE_YEAR_MIN ||
	    parse_expect(sp, '-') < 0 || parse_fixed(sp, 2, 12, &m) < 0 ||
	    m < 1 || parse_expect(sp, '-') < 0 ||
	    parse_fixed(sp, 2, 31, &d) < 0 || d < 1)
		return -1;
	if ((int)d > parse_month_days((int64_t)y, (int64_t)m))
		return -1;

	*days_r = parse_days_from_civil((int64_t)y, (int64_t)m, (int64_t)d);
	return 0;
}

/* "HH:MM" or "HH:MM:SS" into seconds since midnight. */
static int
parse_clock(const char **sp, int64_t *secs_r)
{
	uint64_t h, m, s = 0;

	if (parse_fixed(sp, 2, 23, &h) < 0 || parse_expect(sp, ':') < 0 ||
	    parse_fixed(sp, 2, 59, &m) < 0)
		return -1;
	if (**sp == ':' &&
	    (parse_expect(sp, ':') < 0 || parse_fixed(sp, 2, 59, &s) < 0))
		return -1;

	*secs_r = (int64_t)(h * 3600 + m * 60 + s);
	return 0;
}

/* "", "Z", "+HH:MM" or "-HH:MM" into seconds east of UTC. */
static int
parse_zone(const char *s, int64_t *off_r)
{
	uint64_t h, m;
	int sign;

	if (*s == '\0' || strcmp(s, "Z") == 0) {
		*off_r = 0;
		return 0;
	}
	if (*s != '+' && *s != '-')
		return -1;
	sign = *s == '-' ? -1 : 1;
	s++;
	if (parse_fixed(&s, 2, 23, &h) < 0 || parse_expect(&s, ':') < 0 ||
	    parse_fixed(&s, 2, 59, &m) < 0 || *s != '\0')
		return -1;

	*off_r = sign * (int64_t)(h * 3600 + m * 60);
	return 0;
}

static int
parse_datetime(const char *s, int64_t *t_r)
{
	int64_t days, secs = 0, off = 0;

	if (parse_date(&s, &days) < 0)
		return -1;
	if (*s == 'T' || *s == ' ') {
		s++;
		if (parse_clock(&s, &secs) < 0 || parse_zone(s, &off) < 0)
			return -1;
	} else if (*s != '\0') {
		return -1;
	}

	*t_r = days * PARSE_DAY + secs - off;
	return 0;
}

int
parse_time(const char *s, int64_t now, int64_t *t_r, const char **errstr_r)
{
	const char *why;
	uint64_t u;
	int64_t d;

	*errstr_r = "is not a time (like 2026-01-01, 2026-01-01T12:30:00Z, "
		    "@1767225600, now or 7d)";
	if (strcmp(s, "now") == 0) {
		*t_r = now;
		return 0;
	}
	if (*s == '@') {
		if (parse_uint64(s + 1, (uint64_t)PARSE_DURATION_MAX * 3, &u) <
		    0)
			return -1;
		*t_r = (int64_t)u;
		return 0;
	}
	if (parse_datetime(s, t_r) == 0)
		return 0;

	/* A duration ago, with or without a leading '-'. */
	if (*s == '-')
		s++;
	if (parse_duration(s, &d, &why) < 0)
		return -1;
	*t_r = now - d;
	return 0;
}

void
format_time(int64_t t, char *buf, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	MG_ASSERT(size >= 21);
	if (gmtime_r(&tt, &tm) == NULL) {
		(void)snprintf(buf, size, "@%lld", (long long)t);
		return;
	}
	(void)snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
}

/* RFC 5322 atext: what a dot-atom local part may hold besides dots. */
static bool
parse_is_atext(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    parse_is_digit(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int
parse_local_part(const char *s, size_t len, const char **errstr_r)
{
	size_t i;

	if (len == 0 || len > ADDRESS_LOCAL_MAX) {
		*errstr_r = "local part must be 1 to 64 bytes";
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (s[i] == '.' &&
		    (i == 0 || i == len - 1 || s[i - 1] == '.')) {
			*errstr_r = "misplaced dot in the local part";
			return -1;
		}
		if (s[i] != '.' && !parse_is_atext(s[i])) {
			*errstr_r = "local part holds a character that needs "
				    "quoting";
			return -1;
		}
	}
	return 0;
}

static bool
parse_is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    parse_is_digit(c) || c == '-';
}

/* One domain label of len bytes at s; sets *numeric when all digits. */
static int
parse_label(const char *s, size_t len, bool *numeric, const char **errstr_r)
{
	size_t i;

	*errstr_r = "domain label must be 1 to 63 letters, digits or '-', "
		    "not starting or ending with '-'";
	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return -1;
	*numeric = true;
	for (i = 0; i < len; i++) {
		if (!parse_is_ldh(s[i]))
			return -1;
		if (!parse_is_digit(s[i]))
			*numeric = false;
	}
	return 0;
}

/* ASCII lower case; other bytes (UTF-8 too) pass unchanged. */
static char
parse_lower(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	return c;
}

static int
parse_domain(const char *s, const char **errstr_r)
{
	const char *dot;
	size_t len;
	bool numeric = false;
	unsigned int labels = 0;

	for (;;) {
		dot = strchr(s, '.');
		len = dot != NULL ? (size_t)(dot - s) : strlen(s);
		if (parse_label(s, len, &numeric, errstr_r) < 0)
			return -1;
		labels++;
		if (dot == NULL)
			break;
		s = dot + 1;
	}
	if (labels < 2) {
		*errstr_r = "domain must have at least two labels";
		return -1;
	}
	if (numeric) { /* 1.2.3.4 is an address, not a domain */
		*errstr_r = "top-level domain is all digits";
		return -1;
	}
	return 0;
}

int
address_normalize(
    const char *in, char out[ADDRESS_MAX + 1], const char **errstr_r)
{
	const char *at;
	size_t len, i;

	len = strnlen(in, ADDRESS_MAX + 1);
	if (len > ADDRESS_MAX) {
		*errstr_r = "address is longer than 254 bytes";
		return -1;
	}
	at = strchr(in, '@');
	if (at == NULL || strchr(at + 1, '@') != NULL) {
		*errstr_r = "address must hold exactly one '@'";
		return -1;
	}
	if (parse_local_part(in, (size_t)(at - in), errstr_r) < 0 ||
	    parse_domain(at + 1, errstr_r) < 0)
		return -1;

	for (i = 0; i <= len; i++)
		out[i] = parse_lower(in[i]);
	return 0;
}
