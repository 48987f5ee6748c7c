/* SPDX-License-Identifier: MIT */
/*
 * store_lockout.c - the administrator's view of the failed-login
 * counters that mailgated instances share (db_failures.c): list them,
 * and lift a lock. Input: a key typed by the admin, already checked for
 * length and control bytes and lower-cased by the caller.
 */
#include "store_private.h"

#include <stdio.h>
#include <string.h>

#include "mailgate/xmalloc.h"

static const struct db_stmt store_lockout_select = {
	"lockout_select",
	"SELECT kind, key, failures, "
	"extract(epoch FROM last_failed_at)::bigint, "
	"CASE WHEN locked_until > now() THEN "
	"extract(epoch FROM locked_until)::bigint ELSE 0 END "
	"FROM auth_failures WHERE failures > 0 AND (locked_until > now() OR "
	"($1::bigint > 0 AND "
	"last_failed_at >= now() - $1::bigint * interval '1 second')) "
	"ORDER BY coalesce(locked_until > now(), false) DESC, "
	"last_failed_at DESC, kind, key",
	1,
};

/* failures 0 and locked_at now: mailgated reads that as "lifted". */
static const struct db_stmt store_lockout_lift = {
	"lockout_lift",
	"UPDATE auth_failures SET failures = 0, locked_until = NULL, "
	"locked_at = now(), last_failed_at = now() "
	"WHERE key = $1 AND failures > 0 RETURNING kind",
	1,
};

static void
store_lockout_from_row(const PGresult *res, int row, struct store_lockout *l)
{
	int64_t failures = 0;

	memset(l, 0, sizeof(*l));
	db_col_str(res, row, 0, l->kind, sizeof(l->kind));
	db_col_str(res, row, 1, l->key, sizeof(l->key));
	if (db_col_int64(res, row, 2, &failures) < 0 || failures < 0 ||
	    failures > UINT32_MAX)
		failures = 0;
	l->failures = (unsigned int)failures;
	(void)db_col_int64(res, row, 3, &l->last_failed_at);
	(void)db_col_int64(res, row, 4, &l->locked_until);
}

enum store_result
store_lockout_list(struct db *db, int64_t window_s,
    struct store_lockout **list_r, size_t *count_r, char **errstr_r)
{
	char num[24];
	const char *params[1] = { db_fmt_int64(window_s, num, sizeof(num)) };
	struct store_lockout *list;
	enum store_result ret;
	PGresult *res = NULL;
	int i, n;

	ret = store_exec(db, &store_lockout_select, params, &res, errstr_r);
	if (ret != STORE_OK)
		return ret;
	n = PQntuples(res);
	list = xcalloc((size_t)n, sizeof(*list));
	for (i = 0; i < n; i++)
		store_lockout_from_row(res, i, &list[i]);
	PQclear(res);
	*list_r = list;
	*count_r = (size_t)n;
	return STORE_OK;
}

enum store_result
store_lockout_clear(
    struct db *db, const char *actor, const char *key, char **errstr_r)
{
	const char *params[1] = { key };
	bool mailbox = false;
	enum store_result ret;
	PGresult *res = NULL;
	int n;

	if (db_begin(db, errstr_r) < 0)
		return STORE_TEMPFAIL;
	ret = store_exec(db, &store_lockout_lift, params, &res, errstr_r);
	if (ret != STORE_OK)
		return store_fail(db, ret);
	n = PQntuples(res);
	if (n > 0)
		mailbox = strcmp(PQgetvalue(res, 0, 0), "mailbox") == 0;
	PQclear(res);
	if (n == 0) {
		*errstr_r = xasprintf("no failed logins counted for %s", key);
		return store_fail(db, STORE_NOT_FOUND);
	}
	ret = store_audit_write(db,
	    &(const struct store_audit_event){ .actor = actor,
		.action = "lockout.clear",
		.mailbox = mailbox ? key : NULL,
		.target = mailbox ? NULL : key },
	    NULL, errstr_r);
	return store_end(db, ret, errstr_r);
}
