/* SPDX-License-Identifier: MIT */
/*
 * store_audit.c - the append-only audit log: one row per change, written
 * in the transaction of the change, and read back newest first.
 * Input: actors, addresses and details from our callers; the details are
 * assembled by the server (jsonb_build_object), never by string pasting.
 * Never receives a secret: callers pass labels, scopes, reasons, ids.
 */
#include "store_private.h"

#include <stdio.h>
#include <string.h>

#include "mailgate/xmalloc.h"

static const struct db_stmt store_audit_insert = {
	"audit_insert",
	"INSERT INTO audit_log (actor, action, mailbox, target, detail) "
	"VALUES ($1, $2, $3, $4, NULLIF(jsonb_strip_nulls(jsonb_build_object("
	"'label', $5::text, 'scopes', $6::text, 'expires_at', $7::text, "
	"'reason', $8::text, 'issuer', $9::text, 'subject', $10::text)), "
	"'{}'::jsonb))",
	10,
};

static const struct db_stmt store_audit_insert_json = {
	"audit_insert_json",
	"INSERT INTO audit_log (actor, action, mailbox, target, detail) "
	"VALUES ($1, $2, $3, $4, $5::jsonb)",
	5,
};

static const struct db_stmt store_audit_select = {
	"audit_select",
	"SELECT id, extract(epoch FROM at)::bigint, actor, action, "
	"coalesce(mailbox, ''), target, detail::text FROM audit_log "
	"WHERE ($1::text IS NULL OR mailbox = $1) "
	"AND ($2::bigint IS NULL OR at >= to_timestamp($2::bigint)) "
	"ORDER BY id DESC LIMIT $3::bigint",
	3,
};

enum store_result
store_audit_write(struct db *db, const struct store_audit_event *ev,
    const struct store_audit_detail *d, char **errstr_r)
{
	static const struct store_audit_detail none;
	const char *params[10];

	if (d == NULL)
		d = &none;
	params[0] = ev->actor;
	params[1] = ev->action;
	params[2] = ev->mailbox;
	params[3] = ev->target;
	params[4] = d->label;
	params[5] = d->scopes;
	params[6] = d->expires_at;
	params[7] = d->reason;
	params[8] = d->issuer;
	params[9] = d->subject;
	return store_exec(db, &store_audit_insert, params, NULL, errstr_r);
}

enum store_result
store_audit_append(struct db *db, const struct store_audit_event *ev,
    const char *detail_json, char **errstr_r)
{
	const char *params[5] = { ev->actor, ev->action, ev->mailbox,
		ev->target, detail_json };

	return store_exec(db, &store_audit_insert_json, params, NULL, errstr_r);
}

static void
store_audit_from_row(const PGresult *res, int i, struct store_audit *a)
{
	(void)db_col_int64(res, i, 0, &a->id);
	(void)db_col_int64(res, i, 1, &a->at);
	db_col_str(res, i, 2, a->actor, sizeof(a->actor));
	db_col_str(res, i, 3, a->action, sizeof(a->action));
	db_col_str(res, i, 4, a->mailbox, sizeof(a->mailbox));
	a->target = db_col_strdup(res, i, 5);
	a->detail = db_col_strdup(res, i, 6);
}

enum store_result
store_audit_query(struct db *db, const struct store_audit_filter *f,
    struct store_audit **list_r, size_t *count_r, char **errstr_r)
{
	char since_s[24], limit_s[24];
	const char *params[3];
	struct store_audit *list;
	enum store_result ret;
	PGresult *res = NULL;
	int i, n;

	params[0] = f->address;
	params[1] = f->since != 0 ?
	    db_fmt_int64(f->since, since_s, sizeof(since_s)) :
	    NULL;
	params[2] = f->limit != 0 ?
	    db_fmt_int64((int64_t)f->limit, limit_s, sizeof(limit_s)) :
	    NULL;
	ret = store_exec(db, &store_audit_select, params, &res, errstr_r);
	if (ret != STORE_OK)
		return ret == STORE_INVALID ? STORE_INVALID : STORE_TEMPFAIL;

	n = PQntuples(res);
	list = xcalloc((size_t)n, sizeof(*list));
	for (i = 0; i < n; i++)
		store_audit_from_row(res, i, &list[i]);
	PQclear(res);
	*list_r = list;
	*count_r = (size_t)n;
	return STORE_OK;
}

void
store_audit_list_free(struct store_audit **listp, size_t count)
{
	size_t i;

	if (listp == NULL || *listp == NULL)
		return;
	for (i = 0; i < count; i++) {
		free((*listp)[i].target);
		free((*listp)[i].detail);
	}
	free(*listp);
	*listp = NULL;
}
