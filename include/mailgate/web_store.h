/* SPDX-License-Identifier: MIT */
/*
 * web_store.h - the database side of the web sign-in: login states of
 * flows in progress and sessions of signed-in browsers (sql/0002_web.sql).
 *
 * Neither a state nor a session id is ever stored: callers pass the
 * SHA-256 of the value (web_store_hash()). Every function may be called
 * by any mailgated sharing the database; a flow begun on one instance can
 * be finished on another. Database trouble is MG_TEMPFAIL with an owned
 * *errstr_r; MG_PERMFAIL means "no such (live) row".
 */
#ifndef MAILGATE_WEB_STORE_H
#define MAILGATE_WEB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailgate/db.h"
#include "mailgate/limits.h"
#include "mailgate/result.h"
#include "mailgate/secret.h"

#define WEB_STORE_HASH_LEN 32 /* SHA-256 */

/* SHA-256 of len bytes of p, the key of both tables. */
void web_store_hash(
    const void *p, size_t len, unsigned char hash_r[WEB_STORE_HASH_LEN]);

/* What /callback needs of the flow /login began. */
struct web_login_state {
	char nonce[WEB_NONCE_MAX + 1];
	struct secret *verifier; /* owned: web_login_state_deinit() */
	char return_to[WEB_RETURN_TO_MAX + 1]; /* "" when none */
};

void web_login_state_deinit(struct web_login_state *st);

/* What web_store_login_put() records; everything borrowed. */
struct web_login_new {
	const char *nonce;
	const struct secret *verifier;
	const char *return_to;   /* NULL, or a path the caller checked */
	int64_t ttl;             /* seconds the state lives */
	const char *ip;          /* the client address, or NULL */
	unsigned int max_per_ip; /* live states an address may have; 0: any */
};

/*
 * Store a new login state. MG_PERMFAIL (nothing stored) when ip has
 * max_per_ip live states already; MG_TEMPFAIL on database trouble.
 */
enum mg_result web_store_login_put(struct db *db,
    const unsigned char state_hash[WEB_STORE_HASH_LEN],
    const struct web_login_new *ln, char **errstr_r);

/* Why web_store_login_take() said no. */
enum web_login_miss {
	WEB_LOGIN_MISS_NONE = 0,
	WEB_LOGIN_MISS_UNKNOWN, /* never issued, or already used */
	WEB_LOGIN_MISS_EXPIRED, /* issued, but older than its ttl */
};

/*
 * Read and delete the state in one statement, so that it can be used
 * once only, even by two instances racing. MG_PERMFAIL with *miss_r set
 * when there is no such state or it expired (an expired row is deleted
 * too). st_r is filled on MG_OK only.
 */
enum mg_result web_store_login_take(struct db *db,
    const unsigned char state_hash[WEB_STORE_HASH_LEN],
    struct web_login_state *st_r, enum web_login_miss *miss_r, char **errstr_r);

/* A live session, as every page needs it. */
struct web_session {
	int64_t mailbox_id;
	char mailbox[ADDRESS_MAX + 1];
	bool mailbox_enabled;
	bool mfa;
	char notice[WEB_NOTICE_MAX + 1]; /* "" when none */
	int64_t created_at;              /* unix seconds */
	int64_t expires_at;              /* absolute end */
};

/* What web_store_session_create() records. */
struct web_session_new {
	int64_t mailbox_id;
	/* The identity link that opened the session, or NULL: removing
	 * the link (mailgate link remove) then ends the session. */
	const char *issuer;
	const char *subject;
	bool mfa;
	const char *notice; /* NULL = none; cut to WEB_NOTICE_MAX */
	int64_t max_age;    /* seconds until the absolute end */
	const char *ip;     /* textual address, or NULL */
};

enum mg_result web_store_session_create(struct db *db,
    const unsigned char id_hash[WEB_STORE_HASH_LEN],
    const struct web_session_new *sn, char **errstr_r);

/*
 * Find a live session and mark it used now. Live means: not past its
 * absolute end, and used within the last idle seconds. A dead session is
 * deleted and reported as MG_PERMFAIL. s_r is filled on MG_OK only; the
 * mailbox may be disabled (the caller decides what that means).
 */
enum mg_result web_store_session_touch(struct db *db,
    const unsigned char id_hash[WEB_STORE_HASH_LEN], int64_t idle,
    struct web_session *s_r, char **errstr_r);

/* Sign-out: MG_OK whether or not the session existed. */
enum mg_result web_store_session_delete(struct db *db,
    const unsigned char id_hash[WEB_STORE_HASH_LEN], char **errstr_r);

/*
 * Delete expired login states and sessions idle longer than idle
 * seconds or past their end. *states_r and *sessions_r (may be NULL) get
 * the counts.
 */
enum mg_result web_store_purge(struct db *db, int64_t idle,
    unsigned int *states_r, unsigned int *sessions_r, char **errstr_r);

/* SELECT 1, for /readyz. */
enum mg_result web_store_ping(struct db *db, char **errstr_r);

#endif
