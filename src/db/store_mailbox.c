/* SPDX-License-Identifier: MIT */
/*
 * store_mailbox.c - mailboxes: add, look up, list, enable and disable.
 * Input: canonical addresses from callers that ran address_normalize().
 * Mailboxes are never deleted: tokens and audit rows keep their meaning.
 */
#include "store_private.h"

#include <string.h>

#include "mailgate/xmalloc.h"

/* NULL times read as 0 (db_col_int64). */
#define STORE_MAILBOX_COLS                                                     \
	"SELECT m.id, m.address, m.enabled, "                                  \
	"extract(epoch FROM m.created_at)::bigint, m.created_by, "             \
	"extract(epoch FROM m.updated_at)::bigint, "                           \
	"(SELECT count(*) FROM app_tokens t WHERE t.mailbox_id = m.id "        \
	"AND t.revoked_at IS NULL AND (t.expires_at IS NULL "                  \
	"OR t.expires_at > now())), "                                          \
	"(SELECT count(*) FROM identities i WHERE i.mailbox_id = m.id) "       \
	"FROM mailboxes m "

static const struct db_stmt store_mailbox_insert = {
	"mailbox_insert",
	"INSERT INTO mailboxes (address, created_by) VALUES ($1, $2)",
	2,
};

static const struct db_stmt store_mailbox_select = {
	"mailbox_select",
	STORE_MAILBOX_COLS "WHERE m.address = $1",
	1,
};

static const struct db_stmt store_mailbox_select_all = {
	"mailbox_select_all",
	STORE_MAILBOX_COLS "ORDER BY m.address",
	0,
};

static const struct db_stmt store_mailbox_update = {
	"mailbox_set_enabled",
	"UPDATE mailboxes SET enabled = $2::boolean, updated_at = now() "
	"WHERE address = $1 AND enabled <> $2::boolean RETURNING id",
	2,
};

static const struct db_stmt store_mailbox_exists = {
	"mailbox_exists",
	"SELECT 1 FROM mailboxes WHERE address = $1",
	1,
};

enum store_result
store_mailbox_add(
    struct db *db, const char *actor, const char *address, char **errstr_r)
{
	const char *params[2] = { address, actor };
	enum store_result ret;

	if (db_begin(db, errstr_r) < 0)
		return STORE_TEMPFAIL;
	ret = store_exec(db, &store_mailbox_insert, params, NULL, errstr_r);
	if (ret == STORE_EXISTS) {
		free(*errstr_r);
		*errstr_r = xasprintf("mailbox %s exists already", address);
	}
	if (ret != STORE_OK)
		return store_fail(db, ret);
	ret = store_audit_write(db,
	    &(const struct store_audit_event){
		.actor = actor, .action = "mailbox.add", .mailbox = address },
	    NULL, errstr_r);
	return store_end(db, ret, errstr_r);
}

static void
store_mailbox_from_row(const PGresult *res, int i, struct store_mailbox *mb)
{
	int64_t n;

	memset(mb, 0, sizeof(*mb));
	(void)db_col_int64(res, i, 0, &mb->id);
	db_col_str(res, i, 1, mb->address, sizeof(mb->address));
	mb->enabled = db_col_bool(res, i, 2);
	(void)db_col_int64(res, i, 3, &mb->created_at);
	db_col_str(res, i, 4, mb->created_by, sizeof(mb->created_by));
	(void)db_col_int64(res, i, 5, &mb->updated_at);
	(void)db_col_int64(res, i, 6, &n);
	mb->active_tokens = (unsigned int)n;
	(void)db_col_int64(res, i, 7, &n);
	mb->identities = (unsigned int)n;
}

enum store_result
store_mailbox_get(struct db *db, const char *address,
    struct store_mailbox *mb_r, char **errstr_r)
{
	const char *params[1] = { address };
	enum store_result ret;
	PGresult *res = NULL;

	ret = store_exec(db, &store_mailbox_select, params, &res, errstr_r);
	if (ret != STORE_OK)
		return ret;
	if (PQntuples(res) != 1) {
		PQclear(res);
		*errstr_r = xasprintf("no mailbox %s", address);
		return STORE_NOT_FOUND;
	}
	store_mailbox_from_row(res, 0, mb_r);
	PQclear(res);
	return STORE_OK;
}

enum store_result
store_mailbox_list(struct db *db, struct store_mailbox **list_r,
    size_t *count_r, char **errstr_r)
{
	struct store_mailbox *list;
	enum store_result ret;
	PGresult *res = NULL;
	int i, n;

	ret = store_exec(db, &store_mailbox_select_all, NULL, &res, errstr_r);
	if (ret != STORE_OK)
		return ret;
	n = PQntuples(res);
	list = xcalloc((size_t)n, sizeof(*list));
	for (i = 0; i < n; i++)
		store_mailbox_from_row(res, i, &list[i]);
	PQclear(res);
	*list_r = list;
	*count_r = (size_t)n;
	return STORE_OK;
}

enum store_result
store_mailbox_check(struct db *db, const char *address, char **errstr_r)
{
	const char *params[1] = { address };
	enum store_result ret;
	PGresult *res = NULL;
	int n;

	ret = store_exec(db, &store_mailbox_exists, params, &res, errstr_r);
	if (ret != STORE_OK)
		return ret;
	n = PQntuples(res);
	PQclear(res);
	if (n == 0) {
		*errstr_r = xasprintf("no mailbox %s", address);
		return STORE_NOT_FOUND;
	}
	return STORE_OK;
}

enum store_result
store_mailbox_set_enabled(struct db *db, const char *actor, const char *address,
    bool enabled, bool *changed_r, char **errstr_r)
{
	const char *params[2] = { address, enabled ? "true" : "false" };
	enum store_result ret;
	PGresult *res = NULL;
	int n;

	if (db_begin(db, errstr_r) < 0)
		return STORE_TEMPFAIL;
	ret = store_exec(db, &store_mailbox_update, params, &res, errstr_r);
	if (ret != STORE_OK)
		return store_fail(db, ret);
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		ret = store_mailbox_check(db, address, errstr_r);
	else
		ret = store_audit_write(db,
		    &(const struct store_audit_event){ .actor = actor,
			.action =
			    enabled ? "mailbox.enable" : "mailbox.disable",
			.mailbox = address },
		    NULL, errstr_r);
	if (ret != STORE_OK)
		return store_fail(db, ret);
	if (db_commit(db, errstr_r) < 0)
		return STORE_TEMPFAIL;
	if (changed_r != NULL)
		*changed_r = n > 0;
	return STORE_OK;
}
