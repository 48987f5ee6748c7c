/* SPDX-License-Identifier: MIT */
/*
 * store_token.c - app tokens as administered: issue, list, revoke.
 * Input: requests from the CLI or the web pages, already validated; the
 * checks here repeat the ones that protect the database's meaning.
 * The new token exists in memory only until the caller has shown it; the
 * database gets its HMAC, the audit log its public id and label.
 */
#include "store_private.h"

#include <string.h>
#include <time.h>

#include "mailgate/parse.h"
#include "mailgate/xmalloc.h"

/* Rerolls of a fresh public id that collided (36^12 ids: never twice). */
#define STORE_TOKEN_ATTEMPTS 3

/* NULL times read as 0 (db_col_int64). */
#define STORE_TOKEN_COLS                                                       \
	"SELECT t.public_id, m.address, t.label, t.key_id, t.scopes, "         \
	"extract(epoch FROM t.created_at)::bigint, t.created_by, "             \
	"extract(epoch FROM t.expires_at)::bigint, "                           \
	"extract(epoch FROM t.revoked_at)::bigint, "                           \
	"coalesce(t.revoked_by, ''), coalesce(t.revoke_reason, ''), "          \
	"extract(epoch FROM t.last_used_at)::bigint, "                         \
	"coalesce(host(t.last_used_ip), ''), "                                 \
	"coalesce(t.last_used_service, ''), "                                  \
	"coalesce(t.expires_at <= now(), false) "                              \
	"FROM app_tokens t JOIN mailboxes m ON m.id = t.mailbox_id "

static const struct db_stmt store_token_mailbox = {
	"token_mailbox",
	"SELECT id, enabled FROM mailboxes WHERE address = $1 FOR SHARE",
	1,
};

static const struct db_stmt store_token_insert = {
	"token_insert",
	"INSERT INTO app_tokens (public_id, mailbox_id, key_id, hash, scopes, "
	"label, created_by, expires_at) VALUES ($1, $2::bigint, $3, "
	"decode($4, 'hex'), $5::int, $6, $7, CASE WHEN $8::bigint = 0 "
	"THEN NULL ELSE to_timestamp($8::bigint) END)",
	8,
};

static const struct db_stmt store_token_select = {
	"token_select",
	STORE_TOKEN_COLS "WHERE ($1::text IS NULL OR m.address = $1) "
			 "AND ($2::boolean OR (t.revoked_at IS NULL AND "
			 "(t.expires_at IS NULL OR t.expires_at > now()))) "
			 "ORDER BY t.created_at DESC, t.id DESC",
	2,
};

static const struct db_stmt store_token_select_one = {
	"token_select_one",
	STORE_TOKEN_COLS "WHERE t.public_id = $1 "
			 "AND ($2::text IS NULL OR m.address = $2)",
	2,
};

static const struct db_stmt store_token_update_revoke = {
	"token_revoke",
	"UPDATE app_tokens t SET revoked_at = now(), revoked_by = $2, "
	"revoke_reason = $3 FROM mailboxes m WHERE m.id = t.mailbox_id "
	"AND t.public_id = $1 AND ($4::text IS NULL OR m.address = $4) "
	"AND t.revoked_at IS NULL RETURNING m.address",
	4,
};

/* The audit rows come from the same statement: one per token revoked. */
static const struct db_stmt store_token_update_revoke_all = {
	"token_revoke_all",
	"WITH r AS (UPDATE app_tokens t SET revoked_at = now(), "
	"revoked_by = $1, revoke_reason = $3 FROM mailboxes m "
	"WHERE m.id = t.mailbox_id AND m.address = $2 "
	"AND t.revoked_at IS NULL RETURNING t.public_id) "
	"INSERT INTO audit_log (actor, action, mailbox, target, detail) "
	"SELECT $1, 'token.revoke', $2, r.public_id, "
	"jsonb_strip_nulls(jsonb_build_object('reason', $3::text, "
	"'all', true)) FROM r",
	3,
};

static bool
store_token_text_ok(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n > max)
		return false;
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	}
	return true;
}

static enum store_result
store_token_check_request(
    const struct store_token_request *req, char **errstr_r)
{
	if (req->scopes == 0 || (req->scopes & ~(unsigned)TOKEN_SCOPE_ALL)) {
		*errstr_r = xstrdup("token scopes out of range");
		return STORE_INVALID;
	}
	if (req->label == NULL ||
	    !store_token_text_ok(req->label, TOKEN_LABEL_MAX)) {
		*errstr_r = xstrdup("token label is too long or holds "
				    "control characters");
		return STORE_INVALID;
	}
	if (req->expires_at != 0 && req->expires_at <= (int64_t)time(NULL)) {
		*errstr_r = xstrdup("token expiry is in the past");
		return STORE_INVALID;
	}
	return STORE_OK;
}

/* Lock the mailbox against a concurrent disable; its id into id_r. */
static enum store_result
store_token_lock_mailbox(struct db *db, const char *address, char *id_r,
    size_t size, char **errstr_r)
{
	const char *params[1] = { address };
	enum store_result ret;
	PGresult *res = NULL;

	ret = store_exec(db, &store_token_mailbox, params, &res, errstr_r);
	if (ret != STORE_OK)
		return ret;
	if (PQntuples(res) != 1) {
		PQclear(res);
		*errstr_r = xasprintf("no mailbox %s", address);
		return STORE_NOT_FOUND;
	}
	if (!db_col_bool(res, 0, 1)) {
		PQclear(res);
		*errstr_r = xasprintf("mailbox %s is disabled", address);
		return STORE_INVALID;
	}
	db_col_str(res, 0, 0, id_r, size);
	PQclear(res);
	return STORE_OK;
}

static void
store_token_hex(const unsigned char *p, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * len] = '\0';
}

/* The stored columns of a new token that its request does not give. */
struct store_token_row {
	const char *id;
	const char *hash_hex;
	const char *mailbox_id;
	const char *key_id;
};

static enum store_result
store_token_insert_audit(struct db *db, const char *actor,
    const struct store_token_request *req, const struct store_token_row *row,
    char **errstr_r)
{
	char scopes[24], scopes_txt[64], expires[24], expires_txt[32];
	struct store_audit_detail d = { 0 };
	const char *params[8];
	enum store_result ret;

	params[0] = row->id;
	params[1] = row->mailbox_id;
	params[2] = row->key_id;
	params[3] = row->hash_hex;
	params[4] = db_fmt_int64(req->scopes, scopes, sizeof(scopes));
	params[5] = req->label;
	params[6] = actor;
	params[7] = db_fmt_int64(req->expires_at, expires, sizeof(expires));
	ret = store_exec(db, &store_token_insert, params, NULL, errstr_r);
	if (ret != STORE_OK)
		return ret;

	(void)token_scopes_format(req->scopes, scopes_txt, sizeof(scopes_txt));
	if (req->expires_at == 0)
		memcpy(expires_txt, "never", sizeof("never"));
	else
		format_time(req->expires_at, expires_txt, sizeof(expires_txt));
	d.label = req->label;
	d.scopes = scopes_txt;
	d.expires_at = expires_txt;
	return store_audit_write(db,
	    &(const struct store_audit_event){ .actor = actor,
		.action = "token.issue",
		.mailbox = req->address,
		.target = row->id },
	    &d, errstr_r);
}

static enum store_result
store_token_issue_once(struct db *db, const struct token_keyring *kr,
    const char *actor, const struct store_token_request *req,
    struct store_token_issued *out_r, char **errstr_r)
{
	unsigned char hash[TOKEN_HASH_LEN];
	char hash_hex[2 * TOKEN_HASH_LEN + 1], mailbox_id[24];
	char id[TOKEN_ID_LEN + 1];
	struct store_token_row row = { .id = id,
		.hash_hex = hash_hex,
		.mailbox_id = mailbox_id,
		.key_id = token_keyring_current_id(kr) };
	struct secret *tok = NULL;
	enum store_result ret;

	if (db_begin(db, errstr_r) < 0)
		return STORE_TEMPFAIL;
	ret = store_token_lock_mailbox(
	    db, req->address, mailbox_id, sizeof(mailbox_id), errstr_r);
	if (ret != STORE_OK)
		return store_fail(db, ret);

	tok = token_generate(id);
	if (token_hash(kr, NULL, tok->buf, tok->len, hash) < 0)
		MG_BUG("the current key is always in the keyring");
	store_token_hex(hash, sizeof(hash), hash_hex);
	ret = store_token_insert_audit(db, actor, req, &row, errstr_r);
	if (ret == STORE_OK && db_commit(db, errstr_r) < 0)
		ret = STORE_TEMPFAIL;
	if (ret != STORE_OK) {
		secret_free(&tok);
		return store_fail(db, ret);
	}
	out_r->token = tok;
	memcpy(out_r->id, id, sizeof(id));
	return STORE_OK;
}

enum store_result
store_token_create(struct db *db, const struct token_keyring *kr,
    const char *actor, const struct store_token_request *req,
    struct store_token_issued *out_r, char **errstr_r)
{
	enum store_result ret;
	int attempt;

	ret = store_token_check_request(req, errstr_r);
	if (ret != STORE_OK)
		return ret;
	for (attempt = 0; attempt < STORE_TOKEN_ATTEMPTS; attempt++) {
		ret =
		    store_token_issue_once(db, kr, actor, req, out_r, errstr_r);
		if (ret != STORE_EXISTS)
			break;
		free(*errstr_r); /* a public id collided: roll again */
		*errstr_r = xstrdup("could not find a free token id");
	}
	if (ret == STORE_EXISTS)
		ret = STORE_TEMPFAIL;
	return ret;
}

static void
store_token_from_row(const PGresult *res, int i, struct store_token *t)
{
	int64_t scopes;

	memset(t, 0, sizeof(*t));
	db_col_str(res, i, 0, t->id, sizeof(t->id));
	db_col_str(res, i, 1, t->mailbox, sizeof(t->mailbox));
	db_col_str(res, i, 2, t->label, sizeof(t->label));
	db_col_str(res, i, 3, t->key_id, sizeof(t->key_id));
	(void)db_col_int64(res, i, 4, &scopes);
	t->scopes = (unsigned int)scopes;
	(void)db_col_int64(res, i, 5, &t->created_at);
	db_col_str(res, i, 6, t->created_by, sizeof(t->created_by));
	(void)db_col_int64(res, i, 7, &t->expires_at);
	(void)db_col_int64(res, i, 8, &t->revoked_at);
	db_col_str(res, i, 9, t->revoked_by, sizeof(t->revoked_by));
	db_col_str(res, i, 10, t->revoke_reason, sizeof(t->revoke_reason));
	(void)db_col_int64(res, i, 11, &t->last_used_at);
	db_col_str(res, i, 12, t->last_used_ip, sizeof(t->last_used_ip));
	db_col_str(
	    res, i, 13, t->last_used_service, sizeof(t->last_used_service));
	t->expired = db_col_bool(res, i, 14);
}

enum store_result
store_token_list(struct db *db, const char *address, bool include_inactive,
    struct store_token **list_r, size_t *count_r, char **errstr_r)
{
	const char *params[2] = { address,
		include_inactive ? "true" : "false" };
	struct store_token *list;
	enum store_result ret;
	PGresult *res = NULL;
	int i, n;

	if (address != NULL) {
		ret = store_mailbox_check(db, address, errstr_r);
		if (ret != STORE_OK)
			return ret;
	}
	ret = store_exec(db, &store_token_select, params, &res, errstr_r);
	if (ret != STORE_OK)
		return ret;
	n = PQntuples(res);
	list = xcalloc((size_t)n, sizeof(*list));
	for (i = 0; i < n; i++)
		store_token_from_row(res, i, &list[i]);
	PQclear(res);
	*list_r = list;
	*count_r = (size_t)n;
	return STORE_OK;
}

static enum store_result
store_token_get_in(struct db *db, const char *public_id, const char *address,
    struct store_token *tok_r, char **errstr_r)
{
	const char *params[2] = { public_id, address };
	enum store_result ret;
	PGresult *res = NULL;

	ret = store_exec(db, &store_token_select_one, params, &res, errstr_r);
	if (ret != STORE_OK)
		return ret;
	if (PQntuples(res) != 1) {
		PQclear(res);
		*errstr_r = xasprintf("no token with id %s", public_id);
		return STORE_NOT_FOUND;
	}
	store_token_from_row(res, 0, tok_r);
	PQclear(res);
	return STORE_OK;
}

enum store_result
store_token_get(struct db *db, const char *public_id, struct store_token *tok_r,
    char **errstr_r)
{
	return store_token_get_in(db, public_id, NULL, tok_r, errstr_r);
}

enum store_result
store_token_revoke_one(struct db *db, const struct store_token_revocation *rv,
    bool *changed_r, char **errstr_r)
{
	const char *params[4] = { rv->public_id, rv->actor, rv->reason,
		rv->address };
	struct store_audit_detail d = { .reason = rv->reason };
	char mailbox[ADDRESS_MAX + 1];
	struct store_token tok;
	enum store_result ret;
	PGresult *res = NULL;
	int n;

	if (db_begin(db, errstr_r) < 0)
		return STORE_TEMPFAIL;
	ret =
	    store_exec(db, &store_token_update_revoke, params, &res, errstr_r);
	if (ret != STORE_OK)
		return store_fail(db, ret);
	n = PQntuples(res);
	if (n == 1)
		db_col_str(res, 0, 0, mailbox, sizeof(mailbox));
	PQclear(res);

	if (n == 0) /* already revoked, or not there at all */
		ret = store_token_get_in(
		    db, rv->public_id, rv->address, &tok, errstr_r);
	else
		ret = store_audit_write(db,
		    &(const struct store_audit_event){ .actor = rv->actor,
			.action = "token.revoke",
			.mailbox = mailbox,
			.target = rv->public_id },
		    &d, errstr_r);
	if (ret != STORE_OK)
		return store_fail(db, ret);
	if (db_commit(db, errstr_r) < 0)
		return STORE_TEMPFAIL;
	if (changed_r != NULL)
		*changed_r = n == 1;
	return STORE_OK;
}

enum store_result
store_token_revoke_all(struct db *db, const char *actor, const char *address,
    const char *reason, size_t *count_r, char **errstr_r)
{
	const char *params[3] = { actor, address, reason };
	enum store_result ret;
	PGresult *res = NULL;
	uint64_t n = 0;

	if (db_begin(db, errstr_r) < 0)
		return STORE_TEMPFAIL;
	ret = store_mailbox_check(db, address, errstr_r);
	if (ret != STORE_OK)
		return store_fail(db, ret);
	ret = store_exec(
	    db, &store_token_update_revoke_all, params, &res, errstr_r);
	if (ret != STORE_OK)
		return store_fail(db, ret);
	if (parse_uint64(PQcmdTuples(res), UINT32_MAX, &n) < 0)
		n = 0;
	PQclear(res);
	if (db_commit(db, errstr_r) < 0)
		return STORE_TEMPFAIL;
	*count_r = (size_t)n;
	return STORE_OK;
}
