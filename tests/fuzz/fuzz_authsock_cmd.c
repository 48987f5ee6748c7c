/* SPDX-License-Identifier: MIT */
/*
 * fuzz_authsock_cmd.c - libFuzzer target for mailgated's auth-socket
 * line parser, authsock_cmd_line(): the input is what a client writes,
 * cut into lines at LF as authsock.c does, each handed over in a buffer
 * of exactly its size. The connection starts before VERSION; a second
 * run starts past the handshake, so AUTH, CONT and CANCEL are reached
 * without the fuzzer having to find "VERSION\t1\t2\nCPID\t1\n" first.
 *
 * Only authsock_cmd.c is under test. The calls it makes into
 * authsock.c and authsock_req.c (send, close, the request table and
 * the mechanism steps) are small fakes here that keep the request
 * table and check what the parser hands them: no event loop, database
 * or token check is involved.
 *
 * smoke runs: 300000
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailgated/authsock.h"
#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void
authsock_conn_send(struct authsock_conn *conn, const char *line, size_t len)
{
	/* One reply line, LF-terminated, nothing after it. */
	if (conn->dead || len == 0 || line[len - 1] != '\n' ||
	    memchr(line, '\n', len - 1) != NULL)
		abort();
}

void
authsock_conn_close(struct authsock_conn *conn, const char *why)
{
	(void)why;
	conn->dead = true;
}

struct authsock_req *
authsock_req_new(struct authsock_conn *conn, unsigned int id)
{
	struct authsock_req *req = xcalloc(1, sizeof(*req));

	if (id == 0 || authsock_req_find(conn, id) != NULL ||
	    conn->nreqs >= AUTHSOCK_CONN_REQUESTS_MAX)
		abort();
	req->conn = conn;
	req->id = id;
	req->next = conn->reqs;
	conn->reqs = req;
	conn->nreqs++;
	return req;
}

struct authsock_req *
authsock_req_find(struct authsock_conn *conn, unsigned int id)
{
	struct authsock_req *req;

	for (req = conn->reqs; req != NULL; req = req->next) {
		if (req->id == id)
			return req;
	}
	return NULL;
}

void
authsock_req_free(struct authsock_req *req)
{
	struct authsock_conn *conn = req->conn;
	struct authsock_req **pp = &conn->reqs;

	while (*pp != req) {
		if (*pp == NULL)
			abort();
		pp = &(*pp)->next;
	}
	*pp = req->next;
	conn->nreqs--;
	secret_free(&req->pass);
	free(req);
}

/* What the parser must have checked before a request gets this far. */
static void
fuzz_req_check(const struct authsock_req *req)
{
	size_t len = strlen(req->service);

	if (!req->service_bad && (len == 0 || len > AUTHSOCK_SERVICE_MAX))
		abort();
	if (strlen(req->rip) >= sizeof(req->rip))
		abort();
}

void
authsock_req_begin(
    struct authsock_req *req, const unsigned char *data, size_t len)
{
	fuzz_req_check(req);
	if (data == NULL && len != 0)
		abort();
	if (data == NULL || (req->mech == AUTHSOCK_MECH_LOGIN && len == 0))
		req->state = req->mech == AUTHSOCK_MECH_PLAIN ?
		    AUTHSOCK_REQ_WANT_PLAIN :
		    AUTHSOCK_REQ_WANT_USER;
	else if (req->mech == AUTHSOCK_MECH_LOGIN)
		req->state = AUTHSOCK_REQ_WANT_PASS;
	else
		req->state = AUTHSOCK_REQ_VERIFYING;
}

void
authsock_req_continue(
    struct authsock_req *req, const unsigned char *data, size_t len)
{
	if (data == NULL && len != 0)
		abort();
	switch (req->state) {
	case AUTHSOCK_REQ_WANT_USER:
		req->state = AUTHSOCK_REQ_WANT_PASS;
		break;
	case AUTHSOCK_REQ_WANT_PLAIN:
	case AUTHSOCK_REQ_WANT_PASS:
		req->state = AUTHSOCK_REQ_VERIFYING;
		break;
	case AUTHSOCK_REQ_VERIFYING:
	case AUTHSOCK_REQ_DELAYING:
		abort(); /* the parser must refuse a busy request */
	}
}

void
authsock_req_fail_now(
    struct authsock_req *req, const char *reason, const char *line_extra)
{
	if (reason == NULL || line_extra == NULL ||
	    strchr(line_extra, '\n') != NULL)
		abort();
	req->state = AUTHSOCK_REQ_DELAYING;
}

static void
fuzz_conn_run(enum authsock_conn_state state, const uint8_t *p, size_t size)
{
	struct authsock_req *req, *next;
	struct authsock_conn conn;
	const uint8_t *end = p + size, *nl;
	char *line;
	size_t len;

	memset(&conn, 0, sizeof(conn));
	conn.state = state;
	conn.minor = 2;
	while (p < end && !conn.dead) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((nl != NULL ? nl : end) - p);
		if (len >= AUTHSOCK_LINE_MAX)
			break; /* authsock.c closes the connection */
		line = xmalloc(len + 1);
		memcpy(line, p, len);
		line[len] = '\0';
		authsock_cmd_line(&conn, line, len);
		free(line);
		p += len + 1;
	}
	for (req = conn.reqs; req != NULL; req = next) {
		next = req->next;
		authsock_req_free(req);
	}
	if (conn.nreqs != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool logged;

	if (!logged) {
		log_init("fuzz", LOG_LEVEL_ERR, false);
		logged = true;
	}
	fuzz_conn_run(AUTHSOCK_CONN_WANT_VERSION, data, size);
	fuzz_conn_run(AUTHSOCK_CONN_READY, data, size);
	return 0;
}
