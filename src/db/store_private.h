/* SPDX-License-Identifier: MIT */
/*
 * store_private.h - what the store_*.c files share: running a statement
 * with its failure mapped to a store_result, and the audit row that every
 * change writes inside its own transaction. Not for use outside src/db.
 */
#ifndef MAILGATE_STORE_PRIVATE_H
#define MAILGATE_STORE_PRIVATE_H

#include "db_private.h"
#include "mailgate/store.h"

/*
 * Run stmt. On success *res_r is the result (owned; may be NULL when the
 * caller passes res_r NULL, the result is then cleared). On failure the
 * SQLSTATE decides: unique -> EXISTS, check/bad value -> INVALID, foreign
 * key -> NOT_FOUND, anything else -> TEMPFAIL.
 */
enum store_result store_exec(struct db *db, const struct db_stmt *stmt,
    const char *const *params, PGresult **res_r, char **errstr_r);

/* Details of an audit row; NULL fields are left out of the JSON. */
struct store_audit_detail {
	const char *label;
	const char *scopes;
	const char *expires_at;
	const char *reason;
	const char *issuer;
	const char *subject;
};

/* One audit row, in the caller's transaction. d may be NULL. */
enum store_result store_audit_write(struct db *db,
    const struct store_audit_event *ev, const struct store_audit_detail *d,
    char **errstr_r);

/* NOT_FOUND (with a message) unless the mailbox exists. */
enum store_result store_mailbox_check(
    struct db *db, const char *address, char **errstr_r);

/* Roll back, keep ret: for "goto fail" paths. */
enum store_result store_fail(struct db *db, enum store_result ret);

/*
 * End the transaction: commit when ret is STORE_OK (TEMPFAIL if the
 * commit fails), else roll back and keep ret.
 */
enum store_result store_end(
    struct db *db, enum store_result ret, char **errstr_r);

#endif
