/* SPDX-License-Identifier: MIT */
/*
 * store.c - shared plumbing of the store layer: the mapping from
 * PostgreSQL errors to store results, and its names.
 * Input: results from our own server. Messages carry the server's primary
 * line only, which names constraints, never row values.
 */
#include "store_private.h"

#include <string.h>

#include "mailgate/xmalloc.h"

enum store_result
store_exec(struct db *db, const struct db_stmt *stmt, const char *const *params,
    PGresult **res_r, char **errstr_r)
{
	char state[6];
	PGresult *res;

	res = db_exec(db, stmt, params, state, errstr_r);
	if (res != NULL) {
		if (res_r != NULL)
			*res_r = res;
		else
			PQclear(res);
		return STORE_OK;
	}
	if (strcmp(state, DB_SQLSTATE_UNIQUE) == 0)
		return STORE_EXISTS;
	if (strcmp(state, DB_SQLSTATE_FK) == 0)
		return STORE_NOT_FOUND;
	/* Class 22 is "data exception": a value the column refuses. */
	if (strcmp(state, DB_SQLSTATE_CHECK) == 0 ||
	    strcmp(state, DB_SQLSTATE_NOT_NULL) == 0 ||
	    strncmp(state, "22", 2) == 0)
		return STORE_INVALID;
	return STORE_TEMPFAIL;
}

enum store_result
store_fail(struct db *db, enum store_result ret)
{
	db_rollback(db);
	return ret;
}

enum store_result
store_end(struct db *db, enum store_result ret, char **errstr_r)
{
	if (ret != STORE_OK)
		return store_fail(db, ret);
	if (db_commit(db, errstr_r) < 0)
		return STORE_TEMPFAIL;
	return STORE_OK;
}

const char *
store_result_str(enum store_result r)
{
	switch (r) {
	case STORE_OK:
		return "ok";
	case STORE_NOT_FOUND:
		return "not found";
	case STORE_EXISTS:
		return "exists";
	case STORE_INVALID:
		return "invalid";
	case STORE_TEMPFAIL:
		return "temporary failure";
	}
	return "?";
}
