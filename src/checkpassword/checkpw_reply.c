/* SPDX-License-Identifier: MIT */
/*
 * checkpw_reply.c - the client side of mailgated's answer: handshake
 * (VERSION, MECH..., DONE) and the OK or FAIL for request 1.
 * Input: lines from mailgated, trusted to be mailgated but checked as
 * if not: anything unexpected is a protocol error, which the helper
 * reports as a temporary failure, never as a wrong password.
 */
#include "checkpw.h"

#include <string.h>
#include <strings.h>

void
checkpw_reply_init(struct checkpw_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->state = CHECKPW_REPLY_VERSION;
	r->result = MG_TEMPFAIL;
}

/* Does the line start with the field name, followed by TAB or end? */
static bool
checkpw_reply_cmd(const char *line, size_t len, const char *cmd, size_t *rest_r)
{
	size_t n = strlen(cmd);

	if (len < n || memcmp(line, cmd, n) != 0)
		return false;
	if (len == n) {
		*rest_r = n;
		return true;
	}
	if (line[n] != '\t')
		return false;
	*rest_r = n + 1;
	return true;
}

static int
checkpw_reply_version(struct checkpw_reply *r, const char *line, size_t len)
{
	size_t i;

	/* "VERSION\t1\t<minor>": major 1 is all we speak. */
	if (len < 11 || memcmp(line, "VERSION\t1\t", 10) != 0) {
		r->errstr = "peer is not a Dovecot auth server (no VERSION 1)";
		return -1;
	}
	for (i = 10; i < len; i++) {
		if (line[i] < '0' || line[i] > '9') {
			r->errstr = "peer sent a malformed VERSION line";
			return -1;
		}
	}
	r->state = CHECKPW_REPLY_HANDSHAKE;
	return 0;
}

static int
checkpw_reply_handshake(struct checkpw_reply *r, const char *line, size_t len)
{
	size_t rest;

	if (checkpw_reply_cmd(line, len, "MECH", &rest)) {
		if (len - rest >= 5 &&
		    strncasecmp(line + rest, "PLAIN", 5) == 0 &&
		    (len - rest == 5 || line[rest + 5] == '\t'))
			r->have_plain = true;
		return 0;
	}
	if (checkpw_reply_cmd(line, len, "DONE", &rest)) {
		if (!r->have_plain) {
			r->errstr = "mailgated offers no PLAIN mechanism";
			return -1;
		}
		r->state = CHECKPW_REPLY_RESULT;
		return 0;
	}
	/* SPID, CUID, COOKIE and lines a later version adds. */
	return 0;
}

/* user= of an OK: what Dovecot will log in as, so strictly checked. */
static int
checkpw_reply_user(struct checkpw_reply *r, const char *v, size_t len)
{
	size_t i;

	if (len == 0 || len > ADDRESS_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		if (v[i] <= ' ' || v[i] >= 0x7f)
			return -1;
	}
	memcpy(r->user, v, len);
	r->user[len] = '\0';
	return 0;
}

/* A FAIL field saying the failure is temporary. */
static bool
checkpw_reply_is_temp(const char *p, size_t len)
{
	return (len == 14 && memcmp(p, "code=temp_fail", 14) == 0) ||
	    (len == 9 && memcmp(p, "code=temp", 9) == 0); /* Dovecot <= 2.2 */
}

/* Walk the TAB-separated fields of an OK or FAIL after its id. */
static int
checkpw_reply_fields(
    struct checkpw_reply *r, const char *p, size_t len, bool ok)
{
	const char *end = p + len, *tab;
	bool have_user = false;
	size_t flen;

	while (p < end) {
		tab = memchr(p, '\t', (size_t)(end - p));
		flen = tab != NULL ? (size_t)(tab - p) : (size_t)(end - p);
		if (ok && flen >= 5 && memcmp(p, "user=", 5) == 0) {
			if (checkpw_reply_user(r, p + 5, flen - 5) < 0) {
				r->errstr = "mailgated sent an unusable user=";
				return -1;
			}
			have_user = true;
		} else if (!ok && checkpw_reply_is_temp(p, flen)) {
			r->result = MG_TEMPFAIL;
		}
		p += flen + 1;
	}
	if (ok && !have_user) {
		r->errstr = "mailgated sent OK without user=";
		return -1;
	}
	return 1;
}

static int
checkpw_reply_result(struct checkpw_reply *r, const char *line, size_t len)
{
	size_t rest;
	bool ok;

	if (checkpw_reply_cmd(line, len, "OK", &rest))
		ok = true;
	else if (checkpw_reply_cmd(line, len, "FAIL", &rest))
		ok = false;
	else if (checkpw_reply_cmd(line, len, "CONT", &rest)) {
		r->errstr = "mailgated asked for more PLAIN data (CONT)";
		return -1;
	} else {
		r->errstr = "mailgated sent an unknown reply";
		return -1;
	}

	/* Only our one request, id 1; another id is not ours. */
	if (len - rest < 1 || line[rest] != '1' ||
	    (len - rest > 1 && line[rest + 1] != '\t'))
		return 0;
	rest += len - rest > 1 ? 2 : 1;

	r->result = ok ? MG_OK : MG_PERMFAIL;
	return checkpw_reply_fields(r, line + rest, len - rest, ok);
}

int
checkpw_reply_feed(struct checkpw_reply *r, const char *line, size_t len)
{
	if (memchr(line, '\0', len) != NULL) {
		r->errstr = "mailgated sent a NUL byte";
		return -1;
	}
	switch (r->state) {
	case CHECKPW_REPLY_VERSION:
		return checkpw_reply_version(r, line, len);
	case CHECKPW_REPLY_HANDSHAKE:
		return checkpw_reply_handshake(r, line, len);
	case CHECKPW_REPLY_RESULT:
		return checkpw_reply_result(r, line, len);
	}
	MG_BUG("unknown reply state");
	return -1;
}
