/* SPDX-License-Identifier: MIT */
/*
 * db_token.c - the login path's view of app tokens: fetch one record,
 * verify a presented token against it, and record uses in batches.
 * Input: presented tokens (hostile) go through token_parse() before any
 * query; only the public id ever reaches the database or a message.
 */
#include "db_private.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailgate/parse.h"
#include "mailgate/xmalloc.h"

static const struct db_stmt db_token_by_id = {
	"token_by_id",
	"SELECT t.public_id, t.key_id, encode(t.hash, 'hex'), m.address, "
	"m.enabled, t.scopes, "
	"coalesce(extract(epoch FROM t.expires_at)::bigint, 0), "
	"coalesce(extract(epoch FROM t.revoked_at)::bigint, 0) "
	"FROM app_tokens t JOIN mailboxes m ON m.id = t.mailbox_id "
	"WHERE t.public_id = $1",
	1,
};

/*
 * The latest use per token wins, and an older batch arriving late never
 * moves last_used_at backwards. Rows are locked in id order, and a row
 * another transaction holds (another instance's batch, an admin's
 * revoke) is skipped rather than waited for: a batch never waits, so
 * two batches can never deadlock, and a skipped use is only a slightly
 * older last use (docs/KNOWN_ISSUES.md, "Last-use times are best
 * effort"). The columns set here fire no notification trigger.
 */
static const struct db_stmt db_token_touch_stmt = {
	"token_touch",
	"WITH u AS (SELECT DISTINCT ON (pid) pid, at, "
	"NULLIF(ip, '')::inet AS ip, svc "
	"FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) "
	"AS x(pid, at, ip, svc) ORDER BY pid, at DESC), "
	"l AS (SELECT t.id, u.at, u.ip, u.svc "
	"FROM app_tokens t JOIN u ON u.pid = t.public_id "
	"WHERE t.last_used_at IS NULL OR t.last_used_at <= to_timestamp(u.at) "
	"ORDER BY t.id FOR NO KEY UPDATE OF t SKIP LOCKED) "
	"UPDATE app_tokens t SET last_used_at = to_timestamp(l.at), "
	"last_used_ip = l.ip, last_used_service = l.svc "
	"FROM l WHERE t.id = l.id",
	4,
};

static int
db_token_unhex(const char *hex, unsigned char *out, size_t len)
{
	size_t i;
	int hi, lo;

	if (strlen(hex) != len * 2)
		return -1;
	for (i = 0; i < len; i++) {
		hi = (unsigned char)hex[2 * i];
		lo = (unsigned char)hex[2 * i + 1];
		hi = hi >= 'a' ? hi - 'a' + 10 : hi - '0';
		lo = lo >= 'a' ? lo - 'a' + 10 : lo - '0';
		if (hi < 0 || hi > 15 || lo < 0 || lo > 15)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static int
db_token_from_row(const PGresult *res, struct token_record *rec)
{
	int64_t scopes;

	memset(rec, 0, sizeof(*rec));
	db_col_str(res, 0, 0, rec->id, sizeof(rec->id));
	db_col_str(res, 0, 1, rec->key_id, sizeof(rec->key_id));
	if (db_token_unhex(
		PQgetvalue(res, 0, 2), rec->hash, sizeof(rec->hash)) < 0)
		return -1;
	db_col_str(res, 0, 3, rec->mailbox, sizeof(rec->mailbox));
	rec->mailbox_enabled = db_col_bool(res, 0, 4);
	if (db_col_int64(res, 0, 5, &scopes) < 0 || scopes < 0 ||
	    scopes > TOKEN_SCOPE_ALL)
		return -1;
	rec->scopes = (unsigned int)scopes;
	if (db_col_int64(res, 0, 6, &rec->expires_at) < 0 ||
	    db_col_int64(res, 0, 7, &rec->revoked_at) < 0)
		return -1;
	return 0;
}

enum mg_result
db_token_fetch(struct db *db, const char *public_id, struct token_record *rec_r,
    char **errstr_r)
{
	const char *params[1] = { public_id };
	struct token_record rec;
	PGresult *res;

	if (!token_id_valid(public_id)) {
		*errstr_r = xstrdup("malformed token id");
		return MG_PERMFAIL;
	}
	res = db_exec(db, &db_token_by_id, params, NULL, errstr_r);
	if (res == NULL)
		return MG_TEMPFAIL;
	if (PQntuples(res) != 1) {
		PQclear(res);
		*errstr_r = xasprintf("no token with id %s", public_id);
		return MG_PERMFAIL;
	}
	if (db_token_from_row(res, &rec) < 0) {
		PQclear(res);
		*errstr_r = xasprintf("token %s: unreadable row", public_id);
		return MG_TEMPFAIL;
	}
	PQclear(res);
	*rec_r = rec;
	return MG_OK;
}

enum mg_result
db_token_verify_attempt(struct db *db, const struct token_keyring *kr,
    const struct token_attempt *a, struct token_record *rec_r,
    enum token_reason *reason_r, char **errstr_r)
{
	char id[TOKEN_ID_LEN + 1], *err = NULL;
	struct token_record rec;
	enum mg_result ret;

	if (token_parse(a->token, a->len, id) < 0) {
		*reason_r = TOKEN_REASON_MALFORMED;
		return MG_PERMFAIL;
	}
	ret = db_token_fetch(db, id, &rec, &err);
	if (ret == MG_PERMFAIL) {
		free(err);
		*reason_r = TOKEN_REASON_UNKNOWN;
		return MG_PERMFAIL;
	}
	if (ret != MG_OK) {
		*errstr_r = err;
		return MG_TEMPFAIL;
	}
	ret = token_check_attempt(kr, &rec, a, reason_r);
	*rec_r = rec;
	return ret;
}

/* A textual IPv4 or IPv6 address; anything else is stored as unknown. */
static bool
db_token_ip_ok(const char *ip)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, ip, buf) == 1 ||
	    inet_pton(AF_INET6, ip, buf) == 1;
}

enum mg_result
db_token_touch(struct db *db, const struct token_use *uses, size_t count,
    size_t *written_r, char **errstr_r)
{
	struct db_array arr[4] = { { NULL, 0, 0 } };
	const char *params[4];
	enum mg_result ret = MG_OK;
	uint64_t written = 0;
	char num[24];
	PGresult *res;
	size_t i;
	int k;

	*written_r = 0;
	for (i = 0; i < count; i++) {
		if (!token_id_valid(uses[i].id))
			continue; /* never ours: skip rather than fail all */
		db_array_add(&arr[0], uses[i].id);
		db_array_add(
		    &arr[1], db_fmt_int64(uses[i].at, num, sizeof(num)));
		db_array_add(
		    &arr[2], db_token_ip_ok(uses[i].ip) ? uses[i].ip : "");
		db_array_add(&arr[3], uses[i].service);
	}
	if (arr[0].buf == NULL)
		return MG_OK;
	for (k = 0; k < 4; k++)
		params[k] = db_array_end(&arr[k]);

	res = db_exec(db, &db_token_touch_stmt, params, NULL, errstr_r);
	if (res == NULL)
		ret = MG_TEMPFAIL;
	else if (parse_uint64(PQcmdTuples(res), SIZE_MAX, &written) == 0)
		*written_r = (size_t)written;
	PQclear(res);
	for (k = 0; k < 4; k++)
		free(arr[k].buf);
	return ret;
}
