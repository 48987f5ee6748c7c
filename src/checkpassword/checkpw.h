/* SPDX-License-Identifier: MIT */
/*
 * checkpw.h - the parts of mailgate-checkpassword, private to it.
 * Input: what Dovecot writes on fd 3 and puts in the environment, and
 * the auth-client lines mailgated answers with. The helper holds no
 * database credentials and reads no configuration file.
 */
#ifndef MAILGATE_CHECKPW_H
#define MAILGATE_CHECKPW_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "mailgate/limits.h"
#include "mailgate/result.h"
#include "mailgate/secret.h"

/* The exit codes Dovecot 2.3 gives a meaning to (auth mode). */
#define CHECKPW_EXIT_PERMFAIL 1   /* wrong credentials */
#define CHECKPW_EXIT_TEMPFAIL 111 /* no answer could be had */

#define CHECKPW_TIMEOUT_DEFAULT 5  /* seconds, whole exchange */
#define CHECKPW_TIMEOUT_MAX     60 /* Dovecot itself never kills us */
#define CHECKPW_SESSION_MAX     64 /* Dovecot session ids are ~22 chars */
#define CHECKPW_IP_MAX          46 /* INET6_ADDRSTRLEN */
#define CHECKPW_DEFAULT_SOCKET  "/run/mailgate/auth"

/* What fd 3 carried. Owned by the caller; release with _deinit. */
struct checkpw_creds {
	char user[ADDRESS_MAX + 1];
	struct secret *pass; /* owned; may be empty (lookups) */
};

/*
 * Split the fd 3 request "user\0password\0[timestamp\0...]" of len
 * bytes. MG_TEMPFAIL: the bytes cannot have come from Dovecot (empty,
 * over CHECKPW_REQUEST_MAX, missing NULs, empty user): an internal
 * error. MG_PERMFAIL: a user or password that no mailbox can have
 * (control bytes, user over ADDRESS_MAX). *errstr_r is static text.
 */
enum mg_result checkpw_request_parse(const unsigned char *buf, size_t len,
    struct checkpw_creds *creds_r, const char **errstr_r);
void checkpw_creds_deinit(struct checkpw_creds *creds);

/* What the environment Dovecot built tells us, checked. */
struct checkpw_env {
	const char *service;      /* one of the known names */
	char rip[CHECKPW_IP_MAX]; /* "" when absent or invalid */
	char lip[CHECKPW_IP_MAX];
	char session[CHECKPW_SESSION_MAX + 1];
	bool secured;
	bool lookup; /* AUTHORIZED or CREDENTIALS_LOOKUP: not a login */
};

/*
 * Read the environment through get (getenv, or a table in tests).
 * Values that fail to parse are dropped, never forwarded. An unknown
 * SERVICE is MG_PERMFAIL: no token scope covers it.
 */
enum mg_result checkpw_env_read(const char *(*get)(const char *name),
    struct checkpw_env *env_r, const char **errstr_r);

/*
 * Write the client side of the handshake and one PLAIN AUTH line into
 * buf. Returns the length, or 0 when it does not fit. buf then holds
 * the password in base64: wipe it after use.
 */
size_t checkpw_request_build(const struct checkpw_creds *creds,
    const struct checkpw_env *env, unsigned long pid, char *buf, size_t size);

/* Reading mailgated's answer, one line at a time. */
enum checkpw_reply_state {
	CHECKPW_REPLY_VERSION = 0, /* waiting for VERSION */
	CHECKPW_REPLY_HANDSHAKE,   /* MECH ... DONE */
	CHECKPW_REPLY_RESULT,      /* waiting for OK/FAIL of id 1 */
};

struct checkpw_reply {
	enum checkpw_reply_state state;
	bool have_plain;
	enum mg_result result;      /* valid once feed returned 1 */
	char user[ADDRESS_MAX + 1]; /* canonical user= of an OK */
	const char *errstr;         /* static text after -1 */
};

void checkpw_reply_init(struct checkpw_reply *r);
/*
 * Feed one line (without its LF; len bytes, no NUL needed). Returns 1
 * when the result is known, 0 when more lines are needed, -1 on a
 * protocol violation (r->errstr set): the caller treats that as a
 * temporary failure.
 */
int checkpw_reply_feed(struct checkpw_reply *r, const char *line, size_t len);

/* Where mailgated listens. */
struct checkpw_target {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
};

/* "/run/mailgate/auth": an absolute path that fits sun_path. */
int checkpw_target_unix(const char *path, struct checkpw_target *t_r);
/* "127.0.0.1:9143" or "[::1]:9143": numeric only, no name lookups. */
int checkpw_target_tcp(const char *hostport, struct checkpw_target *t_r);

/*
 * Connect, send req, and read until r has a result, all within
 * timeout_ms. MG_OK means r->result holds mailgated's answer; any
 * MG_TEMPFAIL sets *errstr_r (static or a static buffer).
 */
enum mg_result checkpw_client_run(const struct checkpw_target *t,
    int timeout_ms, const char *req, size_t req_len, struct checkpw_reply *r,
    const char **errstr_r);

#endif
