/* SPDX-License-Identifier: MIT */
/*
 * log.c - one event per line to stderr or syslog. Callers pass only
 * public data; log_safe() makes strings from outside harmless (no
 * control bytes, no forged key=value pairs, bounded length).
 */
#include "mailgate/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#define LOG_LINE_MAX  2048
#define LOG_SAFE_BUFS 4
#define LOG_SAFE_MAX  512

static const char *log_ident = "mailgate";
static enum log_level log_min = LOG_LEVEL_INFO;
static bool log_syslog;

static const struct {
	const char *name;
	int prio;
} log_levels[] = {
	[LOG_LEVEL_DEBUG] = { "debug", LOG_DEBUG },
	[LOG_LEVEL_INFO] = { "info", LOG_INFO },
	[LOG_LEVEL_WARN] = { "warn", LOG_WARNING },
	[LOG_LEVEL_ERR] = { "err", LOG_ERR },
};

void
log_init(const char *ident, enum log_level min, bool use_syslog)
{
	log_ident = ident;
	log_min = min;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_level(enum log_level min)
{
	log_min = min;
}

int
log_level_parse(const char *s, enum log_level *level_r)
{
	size_t i;

	for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
		if (strcasecmp(s, log_levels[i].name) == 0) {
			*level_r = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void log_vwrite(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX], stamp[32];
	struct timespec ts;
	struct tm tm;

	if (level < log_min)
		return;
	(void)vsnprintf(line, sizeof(line), fmt, ap);

	if (log_syslog) {
		syslog(log_levels[level].prio, "%s", line);
		return;
	}
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)gmtime_r(&ts.tv_sec, &tm);
	(void)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	(void)fprintf(stderr, "%s.%03ldZ %s[%s]: %s\n", stamp,
	    ts.tv_nsec / 1000000, log_ident, log_levels[level].name, line);
}

#define LOG_DEFINE(fn, level)                                                  \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vwrite(level, fmt, ap);                                    \
		va_end(ap);                                                    \
	}

LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG)
LOG_DEFINE(log_info, LOG_LEVEL_INFO)
LOG_DEFINE(log_warn, LOG_LEVEL_WARN)
LOG_DEFINE(log_err, LOG_LEVEL_ERR)

void
fatal(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERR, fmt, ap);
	va_end(ap);
	exit(status);
}

static bool
log_safe_plain(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

const char *
log_safe(const char *s, size_t max)
{
	static _Thread_local char bufs[LOG_SAFE_BUFS][LOG_SAFE_MAX * 4 + 8];
	static _Thread_local unsigned int next;
	static const char hex[] = "0123456789abcdef";
	char *out = bufs[next++ % LOG_SAFE_BUFS];
	size_t i, o = 1;
	bool quote = false;

	if (s == NULL)
		return "-";
	if (max > LOG_SAFE_MAX)
		max = LOG_SAFE_MAX;

	for (i = 0; i < max && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (log_safe_plain(c) || c == ' ') {
			quote |= c == ' ';
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	if (s[i] != '\0') {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	if (o == 1) /* empty values still show as a value */
		quote = true;
	if (!quote) {
		out[o] = '\0';
		return out + 1;
	}
	out[0] = '"';
	out[o++] = '"';
	out[o] = '\0';
	return out;
}
