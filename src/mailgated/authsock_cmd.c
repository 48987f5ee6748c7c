/* SPDX-License-Identifier: MIT */
/*
 * authsock_cmd.c - one protocol line at a time: the client handshake
 * (VERSION, CPID), then AUTH, CONT and CANCEL. Input: a hostile line of
 * less than AUTHSOCK_LINE_MAX bytes. What Dovecot's server treats as a
 * client bug (unknown command, broken arguments, duplicate id) ends that
 * one connection; what it answers with FAIL, we answer with FAIL.
 */
#include "authsock.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mailgate/log.h"
#include "mailgate/parse.h"

/* Split points of one line: fields[0] is the command. */
#define AUTHSOCK_CMD_FIELDS_MAX 64

/* Decimal, no sign, no blanks, at most max. 0 or -1. */
static int
authsock_cmd_uint(const char *s, unsigned int max, unsigned int *val_r)
{
	unsigned int v = 0, d;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned int)(*s - '0');
		if (v > (max - d) / 10) /* check before it wraps */
			return -1;
		v = v * 10 + d;
	}
	*val_r = v;
	return 0;
}

/*
 * Undo Dovecot's tab escaping in place: ^A1 ^At ^Ar ^An (and the older
 * ^Al) and ^A0; ^A before anything else stands for that byte. Returns
 * the new length; a NUL in the result is later seen as a control byte.
 */
static size_t
authsock_cmd_unescape(char *s)
{
	char *r = s, *w = s;

	while (*r != '\0') {
		if (*r != '\001') {
			*w++ = *r++;
			continue;
		}
		r++;
		switch (*r) {
		case '\0':
			continue;
		case '1':
			*w++ = '\001';
			break;
		case 't':
			*w++ = '\t';
			break;
		case 'r':
			*w++ = '\r';
			break;
		case 'n':
		case 'l':
			*w++ = '\n';
			break;
		case '0':
			*w++ = '\0';
			break;
		default:
			*w++ = *r;
			break;
		}
		r++;
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* Split on TAB in place; returns the count or -1 if too many. */
static int
authsock_cmd_split(char *line, char **fields)
{
	int n = 0;
	char *p = line, *tab;

	for (;;) {
		if (n == AUTHSOCK_CMD_FIELDS_MAX)
			return -1;
		fields[n++] = p;
		tab = strchr(p, '\t');
		if (tab == NULL)
			return n;
		*tab = '\0';
		p = tab + 1;
	}
}

static bool
authsock_cmd_printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	}
	return true;
}

static void
authsock_cmd_bug(struct authsock_conn *conn, const char *what)
{
	log_warn("authsock: cuid=%u client bug: %s; disconnecting", conn->cuid,
	    what);
	authsock_conn_close(conn, NULL);
}

static void
authsock_cmd_param(struct authsock_req *req, char *field)
{
	size_t len = authsock_cmd_unescape(field);
	unsigned char addr[16];
	char *value;

	if (strcmp(field, "nologin") == 0) {
		req->nologin = true;
		return;
	}
	value = strchr(field, '=');
	if (value == NULL)
		return; /* unknown flags are ignored */
	*value++ = '\0';
	len -= (size_t)(value - field);
	if (strcmp(field, "service") == 0) {
		req->service_bad = len == 0 || len > AUTHSOCK_SERVICE_MAX ||
		    !authsock_cmd_printable(value, len);
		if (!req->service_bad)
			memcpy(req->service, value, len + 1);
	} else if (strcmp(field, "rip") == 0 &&
	    strlen(value) < sizeof(req->rip) &&
	    (inet_pton(AF_INET, value, addr) == 1 ||
		inet_pton(AF_INET6, value, addr) == 1)) {
		memcpy(req->rip, value, strlen(value) + 1);
	}
}

/*
 * Decode a base64 field strictly into a fresh secret: "=" is empty data,
 * as in Dovecot. NULL when it is not canonical base64.
 */
static struct secret *
authsock_cmd_base64(const char *s)
{
	size_t len = strlen(s), out_len = 0;
	struct secret *data;

	if (strcmp(s, "=") == 0)
		return secret_new(0);
	data = secret_new(len / 4 * 3 + 3);
	if (base64_decode(s, len, data->buf, data->len, &out_len) < 0) {
		secret_free(&data);
		return NULL;
	}
	data->len = out_len;
	data->buf[out_len] = '\0';
	return data;
}

static void
authsock_cmd_auth_resp(struct authsock_req *req, const char *resp)
{
	struct secret *data;

	/* Before minor 2, "resp=" means no initial response (Postfix). */
	if (resp == NULL || (*resp == '\0' && req->conn->minor < 2)) {
		authsock_req_begin(req, NULL, 0);
		return;
	}
	data = authsock_cmd_base64(resp);
	if (data == NULL) {
		authsock_req_fail_now(req, "invalid_base64",
		    "code=invalid_base64\treason=Invalid base64 data in "
		    "initial response");
		return;
	}
	authsock_req_begin(req, data->buf, data->len);
	secret_free(&data);
}

/* AUTH <id> <mech> [params] [resp=<base64>] */
static void
authsock_cmd_auth(struct authsock_conn *conn, char **f, int n)
{
	struct authsock_req *req;
	enum authsock_mech mech;
	const char *resp = NULL;
	unsigned int id;
	int i;

	if (n < 3 || authsock_cmd_uint(f[1], UINT32_MAX, &id) < 0 || id == 0) {
		authsock_cmd_bug(conn, "broken AUTH request");
		return;
	}
	if (authsock_req_find(conn, id) != NULL) {
		authsock_cmd_bug(conn, "duplicate request id");
		return;
	}
	if (strcasecmp(f[2], "PLAIN") == 0)
		mech = AUTHSOCK_MECH_PLAIN;
	else if (strcasecmp(f[2], "LOGIN") == 0)
		mech = AUTHSOCK_MECH_LOGIN;
	else {
		authsock_cmd_bug(conn, "unsupported mechanism");
		return;
	}
	if (conn->nreqs >= AUTHSOCK_CONN_REQUESTS_MAX) {
		authsock_cmd_bug(conn, "too many requests in flight");
		return;
	}

	req = authsock_req_new(conn, id);
	req->mech = mech;
	for (i = 3; i < n; i++) {
		if (resp != NULL) {
			authsock_req_free(req);
			{
				authsock_cmd_bug(conn, "parameters after resp");
				return;
			}
		}
		if (strncmp(f[i], "resp=", 5) == 0)
			resp = f[i] + 5;
		else
			authsock_cmd_param(req, f[i]);
	}
	if (req->service[0] == '\0' && !req->service_bad) {
		authsock_req_free(req);
		{
			authsock_cmd_bug(conn, "AUTH without service");
			return;
		}
	}
	authsock_cmd_auth_resp(req, resp);
}

/* CONT <id> <base64> */
static void
authsock_cmd_cont(struct authsock_conn *conn, char **f, int n)
{
	struct authsock_req *req;
	struct secret *data;
	unsigned int id;
	char line[96];
	int len;

	if (n < 3 || authsock_cmd_uint(f[1], UINT32_MAX, &id) < 0 || id == 0) {
		authsock_cmd_bug(conn, "broken CONT request");
		return;
	}
	req = authsock_req_find(conn, id);
	if (req == NULL) {
		len = snprintf(line, sizeof(line),
		    "FAIL\t%u\treason=Authentication request timed out\n", id);
		authsock_conn_send(conn, line, (size_t)len);
		return;
	}
	/* Verifying or delaying: no CONT was asked for. */
	if (req->state != AUTHSOCK_REQ_WANT_PLAIN &&
	    req->state != AUTHSOCK_REQ_WANT_USER &&
	    req->state != AUTHSOCK_REQ_WANT_PASS) {
		authsock_cmd_bug(conn,
		    "continuation for a request that did "
		    "not ask for one");
		return;
	}
	/* A TAB inside the data is bad base64, not another field. */
	data = n == 3 ? authsock_cmd_base64(f[2]) : NULL;
	if (data == NULL) {
		authsock_req_fail_now(req, "invalid_base64",
		    "code=invalid_base64\treason=Invalid base64 data in "
		    "continued response");
		return;
	}
	authsock_req_continue(req, data->buf, data->len);
	secret_free(&data);
}

/* CANCEL <id>: forget it, answer nothing. */
static void
authsock_cmd_cancel(struct authsock_conn *conn, char **f, int n)
{
	struct authsock_req *req;
	unsigned int id;

	if (n != 2 || authsock_cmd_uint(f[1], UINT32_MAX, &id) < 0 || id == 0) {
		authsock_cmd_bug(conn, "broken CANCEL request");
		return;
	}
	req = authsock_req_find(conn, id);
	if (req != NULL)
		authsock_req_free(req);
}

static void
authsock_cmd_handshake(struct authsock_conn *conn, char **f, int n)
{
	unsigned int major, minor, pid;

	if (conn->state == AUTHSOCK_CONN_WANT_VERSION) {
		if (n < 3 || strcmp(f[0], "VERSION") != 0 ||
		    authsock_cmd_uint(f[1], UINT32_MAX, &major) < 0 ||
		    authsock_cmd_uint(f[2], UINT32_MAX, &minor) < 0 ||
		    major != 1) {
			authsock_cmd_bug(conn, "not a compatible VERSION line");
			return;
		}
		conn->minor = minor;
		conn->state = AUTHSOCK_CONN_WANT_CPID;
		return;
	}
	if (n != 2 || strcmp(f[0], "CPID") != 0 ||
	    authsock_cmd_uint(f[1], UINT32_MAX, &pid) < 0 || pid == 0) {
		authsock_cmd_bug(conn, "unknown handshake command");
		return;
	}
	conn->state = AUTHSOCK_CONN_READY;
}

void
authsock_cmd_line(struct authsock_conn *conn, char *line, size_t len)
{
	char *f[AUTHSOCK_CMD_FIELDS_MAX];
	int n;

	(void)len;
	n = authsock_cmd_split(line, f);
	if (n < 0) {
		authsock_cmd_bug(conn, "too many fields");
		return;
	}
	if (conn->state != AUTHSOCK_CONN_READY) {
		authsock_cmd_handshake(conn, f, n);
		return;
	}
	if (strcmp(f[0], "AUTH") == 0)
		authsock_cmd_auth(conn, f, n);
	else if (strcmp(f[0], "CONT") == 0)
		authsock_cmd_cont(conn, f, n);
	else if (strcmp(f[0], "CANCEL") == 0)
		authsock_cmd_cancel(conn, f, n);
	else
		authsock_cmd_bug(conn, "unknown command");
}
