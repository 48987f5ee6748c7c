/* SPDX-License-Identifier: MIT */
/*
 * authsock.h - mailgated's Dovecot auth-client protocol server (private
 * to src/mailgated). authsock.c owns listeners and connection I/O,
 * authsock_cmd.c parses lines, authsock_req.c runs mechanisms, verifies
 * and answers.
 */
#ifndef MAILGATED_AUTHSOCK_H
#define MAILGATED_AUTHSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailgate/db.h"
#include "mailgate/limits.h"
#include "mailgate/secret.h"
#include "mailgate/token.h"

#include "daemon.h"
#include "evloop.h"
#include "penalty.h"

/* Requests one connection may have in flight (Postfix uses one). */
#define AUTHSOCK_CONN_REQUESTS_MAX  32
/* Unsent replies: stop reading past PAUSE, drop the client past MAX. */
#define AUTHSOCK_OUT_PAUSE          ((size_t)16 * 1024)
#define AUTHSOCK_OUT_MAX            ((size_t)64 * 1024)
/* Dovecot drops an abandoned request after 150 s; so do we. */
#define AUTHSOCK_REQUEST_TIMEOUT_MS ((uint64_t)150 * 1000)
/*
 * Postfix waits 10 s for each reply, mailgate-checkpassword 5 s by
 * default (CHECKPW_TIMEOUT_DEFAULT). The database gets DEADLINE; failure
 * delays are cut so that a FAIL leaves within BUDGET of its request, or
 * at once after a slow database: a wrong password must reach the helper
 * as a FAIL, not as its timeout (a temporary failure that mail clients
 * retry).
 */
#define AUTHSOCK_DB_DEADLINE_MS     6000
#define AUTHSOCK_REPLY_BUDGET_MS    4000
/* Clients send VERSION and CPID at once; idle ones are closed after. */
#define AUTHSOCK_HELLO_TIMEOUT_MS   ((uint64_t)10 * 1000)
/*
 * Successful uses are written in batches, one entry per token (its
 * latest use), every INTERVAL or as soon as MAX tokens are waiting. One
 * batch at a time is written; uses of further tokens while MAX wait and
 * a batch is being written are dropped (counted and logged).
 */
#define AUTHSOCK_TOUCH_INTERVAL_MS  5000
#define AUTHSOCK_TOUCH_MAX          1024
#define AUTHSOCK_TOUCH_SLOTS        2048
_Static_assert((AUTHSOCK_TOUCH_SLOTS & (AUTHSOCK_TOUCH_SLOTS - 1)) == 0 &&
	AUTHSOCK_TOUCH_SLOTS >= 2 * AUTHSOCK_TOUCH_MAX,
    "the use table is a power of 2, at most half full");
/*
 * Failure counters go to the database and come back (with other
 * instances' locks) in one background batch this often.
 */
#define AUTHSOCK_SHARE_INTERVAL_MS 1000
/* Longest service= name we keep (token_use.service). */
#define AUTHSOCK_SERVICE_MAX       15

#define AUTHSOCK_MSG_FAILED "Authentication failed"
#define AUTHSOCK_MSG_TEMP   "Temporary authentication failure"

enum authsock_conn_state {
	AUTHSOCK_CONN_WANT_VERSION,
	AUTHSOCK_CONN_WANT_CPID,
	AUTHSOCK_CONN_READY,
};

enum authsock_mech {
	AUTHSOCK_MECH_PLAIN,
	AUTHSOCK_MECH_LOGIN,
};

enum authsock_req_state {
	AUTHSOCK_REQ_WANT_PLAIN, /* CONT sent, waiting for the blob */
	AUTHSOCK_REQ_WANT_USER,  /* LOGIN: "Username:" sent */
	AUTHSOCK_REQ_WANT_PASS,  /* LOGIN: "Password:" sent */
	AUTHSOCK_REQ_VERIFYING,  /* database fetch in flight */
	AUTHSOCK_REQ_DELAYING,   /* FAIL decided, waiting its delay */
};

enum authsock_result {
	AUTHSOCK_RESULT_OK,
	AUTHSOCK_RESULT_FAIL,
	AUTHSOCK_RESULT_TEMPFAIL,
	AUTHSOCK_RESULT_LOCKED,
};

struct authsock;
struct authsock_fetch;

struct authsock_req {
	struct authsock_conn *conn;
	struct authsock_req *next;
	unsigned int id;
	enum authsock_mech mech;
	enum authsock_req_state state;
	char service[AUTHSOCK_SERVICE_MAX + 1];
	bool service_bad; /* too long or has control bytes */
	char rip[46];     /* a parsed address, or "" */
	bool nologin;     /* Postfix sends it on every AUTH */
	char user[ADDRESS_MAX + 1];
	bool user_set;
	struct secret *pass;
	char token_id[TOKEN_ID_LEN + 1];
	uint64_t started_ms;
	struct evloop_timer timer; /* expiry, DB deadline or FAIL delay */
	struct authsock_fetch *fetch;
	char *reply; /* the delayed FAIL line */
};

struct authsock_conn {
	struct authsock *as;
	struct evloop_io io;
	struct authsock_conn *prev, *next;
	unsigned int cuid;
	enum authsock_conn_state state;
	unsigned int minor; /* client's VERSION minor */
	char *in;           /* partial line, NULL when none */
	size_t in_len;
	char *out; /* unsent reply bytes, NULL when none */
	size_t out_len, out_off;
	struct authsock_req *reqs;
	unsigned int nreqs;
	struct evloop_timer handshake_timer; /* ignored once READY */
	bool dead;
};

struct authsock {
	struct daemon *d;
	struct evloop_io unix_io, tcp_io;
	char *unix_path;                  /* set once we own the socket file */
	struct evloop_timer accept_timer; /* pause after EMFILE */
	struct authsock_conn *conns;
	unsigned int nconns, max_conns;
	unsigned int cuid_next;
	struct penalty *penalty;
	unsigned int busy; /* requests verifying or delaying */
	bool stopping;

	struct token_use *uses; /* AUTHSOCK_TOUCH_MAX, nuses used */
	size_t nuses;
	unsigned int *use_slots; /* hash of uses: index + 1, 0 = free */
	uint64_t uses_dropped;   /* since the last warning */
	struct evloop_timer touch_timer;
	unsigned int touch_inflight; /* 0 or 1 */
	uint64_t db_warn_ms;         /* rate limit for database warnings */

	struct evloop_timer share_timer;
	unsigned int share_inflight; /* 0 or 1 */
	char share_since[48];        /* failure_sync.since */
	uint64_t share_warn_ms;      /* rate limit for its warnings */
};

/* authsock.c */
void authsock_conn_send(
    struct authsock_conn *conn, const char *line, size_t len);
void authsock_conn_close(struct authsock_conn *conn, const char *why);

/* The penalty settings from the live (reloadable) configuration. */
void authsock_settings(
    const struct authsock *as, struct penalty_settings *set_r);

/* authsock_cmd.c: one line, LF removed, NUL-terminated, writable. */
void authsock_cmd_line(struct authsock_conn *conn, char *line, size_t len);

/* authsock_req.c */
struct authsock_req *authsock_req_new(
    struct authsock_conn *conn, unsigned int id);
struct authsock_req *authsock_req_find(
    struct authsock_conn *conn, unsigned int id);
/* Unlink and free; a pending fetch is detached, a delay cancelled. */
void authsock_req_free(struct authsock_req *req);
/* Initial response: data NULL = none. */
void authsock_req_begin(
    struct authsock_req *req, const unsigned char *data, size_t len);
void authsock_req_continue(
    struct authsock_req *req, const unsigned char *data, size_t len);
/* Answer "fail" now, logged with reason (a protocol error). */
void authsock_req_fail_now(
    struct authsock_req *req, const char *reason, const char *line_extra);
/* Send every delayed FAIL now (shutdown). */
void authsock_req_flush_delays(struct authsock_conn *conn);
/* Write the waiting uses as a background job, unless one is running. */
void authsock_touch_flush(struct authsock *as);
/*
 * The start of a database job's run(): forget the error of a first try
 * on a broken connection. Without a connection (db NULL), set *res_r to
 * MG_TEMPFAIL and *errstr_r, and return false.
 */
bool authsock_job_ready(
    const struct db *db, enum mg_result *res_r, char **errstr_r);

/* authsock_share.c */
/*
 * Send the penalty journal and fetch shared counters and locks, as a
 * background job, unless one is running.
 */
void authsock_share_flush(struct authsock *as);

#endif
