/* SPDX-License-Identifier: MIT */
/*
 * log.h - one event per line, key=value, to stderr or syslog.
 * Nothing secret is ever passed here: log a token's public id, never the
 * token; strings from outside go through log_safe().
 */
#ifndef MAILGATE_LOG_H
#define MAILGATE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERR,
};

/* ident: program name for syslog and the line prefix. Borrowed. */
void log_init(const char *ident, enum log_level min, bool use_syslog);
void log_set_level(enum log_level min);
int log_level_parse(const char *s, enum log_level *level_r);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Start-up and configuration only: log, then exit(status). */
void fatal(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/*
 * Make an outside string safe for one log line: at most max bytes, every
 * byte outside printable ASCII, '"', '\\' and '=' shown as \xHH, spaces
 * kept but the whole value quoted when it has any. Borrowed: one of a few
 * per-thread rotating buffers, valid until the fourth next call.
 */
const char *log_safe(const char *s, size_t max);

#endif
