/* SPDX-License-Identifier: MIT */
/*
 * web_store.c - login states and web sessions in PostgreSQL.
 * Input: hashes and checked values from the web service; rows from our
 * own server. Never sees a state, a session id or a cookie: only their
 * SHA-256, sent as bytea in hex form. Never logs.
 */
#include "mailgate/web_store.h"

#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "db_private.h"
#include "mailgate/xmalloc.h"

/* "\x" plus two hex digits a byte: bytea's text input form. */
#define WEB_STORE_HEX_LEN (2 + 2 * WEB_STORE_HASH_LEN + 1)

/*
 * Inserts nothing when the client address has $7 live states already:
 * the count reads at most $7 index entries, so it stays cheap. Two
 * inserts racing may both pass; the bound is then exceeded by at most
 * the number of concurrent requests, never without limit.
 */
static const struct db_stmt web_store_login_insert = {
	"web_login_put",
	"INSERT INTO web_login_states (state_hash, nonce, code_verifier, "
	"return_to, created_ip, expires_at) SELECT $1::bytea, $2, $3, $4, "
	"$6::inet, now() + make_interval(secs => $5::int8) "
	"WHERE $6::inet IS NULL OR $7::int8 = 0 OR (SELECT count(*) FROM "
	"(SELECT 1 FROM web_login_states WHERE created_ip = $6::inet "
	"AND expires_at > now() LIMIT $7::int8) s) < $7::int8",
	7,
};

/* One statement: a state is used at most once, whoever asks first. */
static const struct db_stmt web_store_login_delete = {
	"web_login_take",
	"DELETE FROM web_login_states WHERE state_hash = $1::bytea "
	"RETURNING nonce, code_verifier, coalesce(return_to, ''), "
	"expires_at > now()",
	1,
};

static const struct db_stmt web_store_session_insert = {
	"web_session_create",
	"INSERT INTO web_sessions (id_hash, mailbox_id, identity_id, mfa, "
	"notice, expires_at, created_ip) VALUES ($1::bytea, $2::int8, "
	"(SELECT id FROM identities WHERE issuer = $3 AND subject = $8), "
	"$4::bool, $5, now() + make_interval(secs => $6::int8), $7::inet)",
	8,
};

static const struct db_stmt web_store_session_update = {
	"web_session_touch",
	"UPDATE web_sessions s SET last_seen_at = now() FROM mailboxes m "
	"WHERE s.id_hash = $1::bytea AND m.id = s.mailbox_id "
	"AND s.expires_at > now() "
	"AND s.last_seen_at > now() - make_interval(secs => $2::int8) "
	"RETURNING s.mailbox_id, m.address, m.enabled, s.mfa, "
	"coalesce(s.notice, ''), extract(epoch FROM s.created_at)::int8, "
	"extract(epoch FROM s.expires_at)::int8",
	2,
};

static const struct db_stmt web_store_session_remove = {
	"web_session_delete",
	"DELETE FROM web_sessions WHERE id_hash = $1::bytea",
	1,
};

static const struct db_stmt web_store_purge_states = {
	"web_purge_states",
	"DELETE FROM web_login_states WHERE expires_at <= now()",
	0,
};

static const struct db_stmt web_store_purge_sessions = {
	"web_purge_sessions",
	"DELETE FROM web_sessions WHERE expires_at <= now() "
	"OR last_seen_at <= now() - make_interval(secs => $1::int8)",
	1,
};

static const struct db_stmt web_store_select_one = {
	"web_ping",
	"SELECT 1",
	0,
};

void
web_store_hash(
    const void *p, size_t len, unsigned char hash_r[WEB_STORE_HASH_LEN])
{
	(void)SHA256(p, len, hash_r);
}

static void
web_store_hex(
    const unsigned char hash[WEB_STORE_HASH_LEN], char out[WEB_STORE_HEX_LEN])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	out[0] = '\\';
	out[1] = 'x';
	for (i = 0; i < WEB_STORE_HASH_LEN; i++) {
		out[2 + 2 * i] = digits[hash[i] >> 4];
		out[3 + 2 * i] = digits[hash[i] & 0x0f];
	}
	out[WEB_STORE_HEX_LEN - 1] = '\0';
}

void
web_login_state_deinit(struct web_login_state *st)
{
	secret_free(&st->verifier);
	secret_wipe(st->nonce, sizeof(st->nonce));
}

enum mg_result
web_store_login_put(struct db *db,
    const unsigned char state_hash[WEB_STORE_HASH_LEN],
    const struct web_login_new *ln, char **errstr_r)
{
	const char *rt = ln->return_to;
	char hex[WEB_STORE_HEX_LEN], ttls[24], maxs[24];
	const char *params[7];
	PGresult *res;
	bool stored;

	MG_ASSERT(rt == NULL || rt[0] == '/');
	web_store_hex(state_hash, hex);
	params[0] = hex;
	params[1] = ln->nonce;
	params[2] = (const char *)ln->verifier->buf;
	params[3] = rt != NULL && rt[0] != '\0' ? rt : NULL;
	params[4] = db_fmt_int64(ln->ttl, ttls, sizeof(ttls));
	params[5] = ln->ip != NULL && ln->ip[0] != '\0' ? ln->ip : NULL;
	params[6] = db_fmt_int64(ln->max_per_ip, maxs, sizeof(maxs));
	res = db_exec(db, &web_store_login_insert, params, NULL, errstr_r);
	if (res == NULL)
		return MG_TEMPFAIL;
	stored = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	if (!stored) {
		*errstr_r = xasprintf("%u sign-ins in progress from this "
				      "address already",
		    ln->max_per_ip);
		return MG_PERMFAIL;
	}
	return MG_OK;
}

enum mg_result
web_store_login_take(struct db *db,
    const unsigned char state_hash[WEB_STORE_HASH_LEN],
    struct web_login_state *st_r, enum web_login_miss *miss_r, char **errstr_r)
{
	char hex[WEB_STORE_HEX_LEN];
	const char *params[1];
	const char *v;
	PGresult *res;

	web_store_hex(state_hash, hex);
	params[0] = hex;
	res = db_exec(db, &web_store_login_delete, params, NULL, errstr_r);
	if (res == NULL)
		return MG_TEMPFAIL;
	if (PQntuples(res) != 1) {
		*miss_r = WEB_LOGIN_MISS_UNKNOWN;
		PQclear(res);
		return MG_PERMFAIL;
	}
	if (!db_col_bool(res, 0, 3)) {
		*miss_r = WEB_LOGIN_MISS_EXPIRED;
		PQclear(res);
		return MG_PERMFAIL;
	}

	memset(st_r, 0, sizeof(*st_r));
	db_col_str(res, 0, 0, st_r->nonce, sizeof(st_r->nonce));
	v = PQgetvalue(res, 0, 1);
	st_r->verifier = secret_from(v, strlen(v));
	db_col_str(res, 0, 2, st_r->return_to, sizeof(st_r->return_to));
	secret_wipe(PQgetvalue(res, 0, 1), strlen(v));
	PQclear(res);
	*miss_r = WEB_LOGIN_MISS_NONE;
	return MG_OK;
}

enum mg_result
web_store_session_create(struct db *db,
    const unsigned char id_hash[WEB_STORE_HASH_LEN],
    const struct web_session_new *sn, char **errstr_r)
{
	char hex[WEB_STORE_HEX_LEN], mbox[24], age[24];
	char notice[WEB_NOTICE_MAX + 1];
	const char *params[8];
	PGresult *res;

	web_store_hex(id_hash, hex);
	params[0] = hex;
	params[1] = db_fmt_int64(sn->mailbox_id, mbox, sizeof(mbox));
	params[2] = sn->issuer;
	params[3] = sn->mfa ? "true" : "false";
	params[4] = NULL;
	if (sn->notice != NULL && sn->notice[0] != '\0') {
		(void)snprintf(notice, sizeof(notice), "%s", sn->notice);
		params[4] = notice;
	}
	params[5] = db_fmt_int64(sn->max_age, age, sizeof(age));
	params[6] = sn->ip != NULL && sn->ip[0] != '\0' ? sn->ip : NULL;
	params[7] = sn->subject;
	res = db_exec(db, &web_store_session_insert, params, NULL, errstr_r);
	if (res == NULL)
		return MG_TEMPFAIL;
	PQclear(res);
	return MG_OK;
}

static int
web_store_session_row(const PGresult *res, struct web_session *s)
{
	memset(s, 0, sizeof(*s));
	if (db_col_int64(res, 0, 0, &s->mailbox_id) < 0 ||
	    db_col_int64(res, 0, 5, &s->created_at) < 0 ||
	    db_col_int64(res, 0, 6, &s->expires_at) < 0)
		return -1;
	db_col_str(res, 0, 1, s->mailbox, sizeof(s->mailbox));
	s->mailbox_enabled = db_col_bool(res, 0, 2);
	s->mfa = db_col_bool(res, 0, 3);
	db_col_str(res, 0, 4, s->notice, sizeof(s->notice));
	return 0;
}

enum mg_result
web_store_session_touch(struct db *db,
    const unsigned char id_hash[WEB_STORE_HASH_LEN], int64_t idle,
    struct web_session *s_r, char **errstr_r)
{
	char hex[WEB_STORE_HEX_LEN], idles[24];
	struct web_session s;
	const char *params[2];
	enum mg_result ret;
	PGresult *res;

	web_store_hex(id_hash, hex);
	params[0] = hex;
	params[1] = db_fmt_int64(idle, idles, sizeof(idles));
	res = db_exec(db, &web_store_session_update, params, NULL, errstr_r);
	if (res == NULL)
		return MG_TEMPFAIL;
	if (PQntuples(res) != 1) {
		PQclear(res);
		/* Dead or unknown: make sure a dead one is gone for good. */
		ret = web_store_session_delete(db, id_hash, errstr_r);
		return ret == MG_OK ? MG_PERMFAIL : ret;
	}
	if (web_store_session_row(res, &s) < 0) {
		PQclear(res);
		*errstr_r = xstrdup("web session: bad row from the database");
		return MG_TEMPFAIL;
	}
	PQclear(res);
	*s_r = s;
	return MG_OK;
}

enum mg_result
web_store_session_delete(struct db *db,
    const unsigned char id_hash[WEB_STORE_HASH_LEN], char **errstr_r)
{
	char hex[WEB_STORE_HEX_LEN];
	const char *params[1];
	PGresult *res;

	web_store_hex(id_hash, hex);
	params[0] = hex;
	res = db_exec(db, &web_store_session_remove, params, NULL, errstr_r);
	if (res == NULL)
		return MG_TEMPFAIL;
	PQclear(res);
	return MG_OK;
}

static unsigned int
web_store_affected(PGresult *res)
{
	uint64_t n = 0;
	const char *s = PQcmdTuples(res);

	for (; *s >= '0' && *s <= '9' && n < UINT32_MAX; s++)
		n = n * 10 + (uint64_t)(*s - '0');
	return n > UINT32_MAX ? UINT32_MAX : (unsigned int)n;
}

enum mg_result
web_store_purge(struct db *db, int64_t idle, unsigned int *states_r,
    unsigned int *sessions_r, char **errstr_r)
{
	char idles[24];
	const char *params[1];
	PGresult *res;
	unsigned int states;

	res = db_exec(db, &web_store_purge_states, NULL, NULL, errstr_r);
	if (res == NULL)
		return MG_TEMPFAIL;
	states = web_store_affected(res);
	PQclear(res);

	params[0] = db_fmt_int64(idle, idles, sizeof(idles));
	res = db_exec(db, &web_store_purge_sessions, params, NULL, errstr_r);
	if (res == NULL)
		return MG_TEMPFAIL;
	if (sessions_r != NULL)
		*sessions_r = web_store_affected(res);
	if (states_r != NULL)
		*states_r = states;
	PQclear(res);
	return MG_OK;
}

enum mg_result
web_store_ping(struct db *db, char **errstr_r)
{
	PGresult *res;

	res = db_exec(db, &web_store_select_one, NULL, NULL, errstr_r);
	if (res == NULL)
		return MG_TEMPFAIL;
	PQclear(res);
	return MG_OK;
}
