/* SPDX-License-Identifier: MIT */
/*
 * store_identity.c - links from an OpenID identity (issuer, subject) to
 * a mailbox: list, link, unlink, and the lookup a web login makes.
 * Input: issuer and subject from an admin or a verified ID token; the
 * table's checks bound their lengths. Never keyed by e-mail address.
 */
#include "store_private.h"

#include <string.h>

#include "mailgate/xmalloc.h"

static const struct db_stmt store_identity_select = {
	"identity_select",
	"SELECT i.issuer, i.subject, m.address, "
	"extract(epoch FROM i.created_at)::bigint, i.created_by, "
	"extract(epoch FROM i.last_login_at)::bigint "
	"FROM identities i JOIN mailboxes m ON m.id = i.mailbox_id "
	"WHERE ($1::text IS NULL OR m.address = $1) "
	"ORDER BY m.address, i.issuer, i.subject",
	1,
};

static const struct db_stmt store_identity_insert = {
	"identity_insert",
	"INSERT INTO identities (issuer, subject, mailbox_id, created_by) "
	"SELECT $1, $2, m.id, $4 FROM mailboxes m WHERE m.address = $3 "
	"RETURNING id",
	4,
};

/*
 * The automatic link of a first web sign-in: the mailbox row is locked
 * first (a separate statement, so that the check below takes its
 * snapshot after any competing link has committed), then the link is
 * made only when no other identity is linked to that mailbox.
 */
static const struct db_stmt store_identity_lock_mailbox = {
	"identity_lock_mailbox",
	"SELECT m.id FROM mailboxes m WHERE m.address = $1 FOR UPDATE",
	1,
};

static const struct db_stmt store_identity_insert_first = {
	"identity_insert_first",
	"INSERT INTO identities (issuer, subject, mailbox_id, created_by) "
	"SELECT $1, $2, m.id, $4 FROM mailboxes m WHERE m.address = $3 "
	"AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.mailbox_id = m.id "
	"AND NOT (i.issuer = $1 AND i.subject = $2)) "
	"RETURNING id",
	4,
};

static const struct db_stmt store_identity_delete = {
	"identity_delete",
	"DELETE FROM identities i USING mailboxes m "
	"WHERE m.id = i.mailbox_id AND i.issuer = $1 AND i.subject = $2 "
	"AND ($3::text IS NULL OR m.address = $3) RETURNING m.address",
	3,
};

static const struct db_stmt store_identity_touch = {
	"identity_login",
	"UPDATE identities i SET last_login_at = now() FROM mailboxes m "
	"WHERE m.id = i.mailbox_id AND i.issuer = $1 AND i.subject = $2 "
	"RETURNING m.address, m.enabled",
	2,
};

enum store_result
store_identity_list(struct db *db, const char *address,
    struct store_identity **list_r, size_t *count_r, char **errstr_r)
{
	const char *params[1] = { address };
	struct store_identity *list;
	enum store_result ret;
	PGresult *res = NULL;
	int i, n;

	if (address != NULL) {
		ret = store_mailbox_check(db, address, errstr_r);
		if (ret != STORE_OK)
			return ret;
	}
	ret = store_exec(db, &store_identity_select, params, &res, errstr_r);
	if (ret != STORE_OK)
		return ret;
	n = PQntuples(res);
	list = xcalloc((size_t)n, sizeof(*list));
	for (i = 0; i < n; i++) {
		db_col_str(res, i, 0, list[i].issuer, sizeof(list[i].issuer));
		db_col_str(res, i, 1, list[i].subject, sizeof(list[i].subject));
		db_col_str(res, i, 2, list[i].mailbox, sizeof(list[i].mailbox));
		(void)db_col_int64(res, i, 3, &list[i].created_at);
		db_col_str(
		    res, i, 4, list[i].created_by, sizeof(list[i].created_by));
		(void)db_col_int64(res, i, 5, &list[i].last_login_at);
	}
	PQclear(res);
	*list_r = list;
	*count_r = (size_t)n;
	return STORE_OK;
}

/* "issuer subject": the audit target naming one identity. */
static char *
store_identity_target(const char *issuer, const char *subject)
{
	return xasprintf("%s %s", issuer, subject);
}

/* Lock the mailbox row until the end of the transaction; NOT_FOUND. */
static enum store_result
store_identity_lock(struct db *db, const char *address, char **errstr_r)
{
	const char *params[1] = { address };
	enum store_result ret;
	PGresult *res = NULL;
	int n;

	ret = store_exec(
	    db, &store_identity_lock_mailbox, params, &res, errstr_r);
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

/*
 * p: issuer, subject, address, actor. first: the automatic link of a
 * first sign-in (see store_identity_link_first()).
 */
static enum store_result
store_identity_link_do(
    struct db *db, const char *const p[4], bool first, char **errstr_r)
{
	struct store_audit_detail d = { .issuer = p[0], .subject = p[1] };
	enum store_result ret;
	PGresult *res = NULL;
	char *target;
	int n;

	if (db_begin(db, errstr_r) < 0)
		return STORE_TEMPFAIL;
	if (first) {
		ret = store_identity_lock(db, p[2], errstr_r);
		if (ret != STORE_OK)
			return store_fail(db, ret);
	}
	ret = store_exec(db,
	    first ? &store_identity_insert_first : &store_identity_insert, p,
	    &res, errstr_r);
	if (ret == STORE_EXISTS && first) { /* linked meanwhile: it decides */
		free(*errstr_r);
		*errstr_r = NULL;
		db_rollback(db);
		return STORE_OK;
	}
	if (ret == STORE_EXISTS) {
		free(*errstr_r);
		*errstr_r = xstrdup("this issuer and subject are linked "
				    "already");
	}
	if (ret != STORE_OK)
		return store_fail(db, ret);
	n = PQntuples(res);
	PQclear(res);
	if (n == 0 && first) {
		*errstr_r = xasprintf(
		    "another identity is linked to the mailbox %s", p[2]);
		return store_fail(db, STORE_EXISTS);
	}
	if (n == 0) {
		*errstr_r = xasprintf("no mailbox %s", p[2]);
		return store_fail(db, STORE_NOT_FOUND);
	}

	target = store_identity_target(p[0], p[1]);
	ret = store_audit_write(db,
	    &(const struct store_audit_event){ .actor = p[3],
		.action = "identity.link",
		.mailbox = p[2],
		.target = target },
	    &d, errstr_r);
	free(target);
	return store_end(db, ret, errstr_r);
}

enum store_result
store_identity_link(struct db *db, const char *actor, const char *issuer,
    const char *subject, const char *address, char **errstr_r)
{
	const char *const p[4] = { issuer, subject, address, actor };

	return store_identity_link_do(db, p, false, errstr_r);
}

enum store_result
store_identity_link_first(struct db *db, const char *actor, const char *issuer,
    const char *subject, const char *address, char **errstr_r)
{
	const char *const p[4] = { issuer, subject, address, actor };

	return store_identity_link_do(db, p, true, errstr_r);
}

enum store_result
store_identity_unlink(struct db *db, const char *actor, const char *issuer,
    const char *subject, const char *address, char **errstr_r)
{
	const char *params[3] = { issuer, subject, address };
	struct store_audit_detail d = { .issuer = issuer, .subject = subject };
	char mailbox[ADDRESS_MAX + 1], *target;
	enum store_result ret;
	PGresult *res = NULL;

	if (db_begin(db, errstr_r) < 0)
		return STORE_TEMPFAIL;
	ret = store_exec(db, &store_identity_delete, params, &res, errstr_r);
	if (ret != STORE_OK)
		return store_fail(db, ret);
	if (PQntuples(res) != 1) {
		PQclear(res);
		*errstr_r = xstrdup("no such link");
		return store_fail(db, STORE_NOT_FOUND);
	}
	db_col_str(res, 0, 0, mailbox, sizeof(mailbox));
	PQclear(res);

	target = store_identity_target(issuer, subject);
	ret = store_audit_write(db,
	    &(const struct store_audit_event){ .actor = actor,
		.action = "identity.unlink",
		.mailbox = mailbox,
		.target = target },
	    &d, errstr_r);
	free(target);
	return store_end(db, ret, errstr_r);
}

enum store_result
store_identity_login(struct db *db, const char *issuer, const char *subject,
    char addr_r[ADDRESS_MAX + 1], bool *enabled_r, char **errstr_r)
{
	const char *params[2] = { issuer, subject };
	enum store_result ret;
	PGresult *res = NULL;

	ret = store_exec(db, &store_identity_touch, params, &res, errstr_r);
	if (ret != STORE_OK)
		return ret;
	if (PQntuples(res) != 1) {
		PQclear(res);
		*errstr_r = xstrdup("no mailbox is linked to this identity");
		return STORE_NOT_FOUND;
	}
	db_col_str(res, 0, 0, addr_r, ADDRESS_MAX + 1);
	*enabled_r = db_col_bool(res, 0, 1);
	PQclear(res);
	return STORE_OK;
}
