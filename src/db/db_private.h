/* SPDX-License-Identifier: MIT */
/*
 * db_private.h - what the files of src/db share: the connection, the
 * statement table that is prepared once per connection, transactions and
 * the reading of result columns. Not for use outside src/db.
 */
#ifndef MAILGATE_DB_PRIVATE_H
#define MAILGATE_DB_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "mailgate/db.h"
#include "mailgate/result.h"

/* SQLSTATEs the store layer tells apart. */
#define DB_SQLSTATE_UNIQUE    "23505"
#define DB_SQLSTATE_CHECK     "23514"
#define DB_SQLSTATE_FK        "23503"
#define DB_SQLSTATE_NOT_NULL  "23502"
#define DB_SQLSTATE_UNDEF_TAB "42P01"

/* How many distinct statements one connection may prepare. */
#define DB_STMT_MAX 64

/* A statement of our own, prepared on first use under its name. */
struct db_stmt {
	const char *name;
	const char *sql;
	int nparams;
};

struct db {
	PGconn *conn;
	const struct db_stmt *prepared[DB_STMT_MAX];
	unsigned int nprepared;
	bool in_tx;
	unsigned int statement_timeout_ms; /* 0: the session default */
};

/*
 * Run a statement with text parameters (NULL = SQL NULL). Returns the
 * result (owned: PQclear) when its status is COMMAND_OK or TUPLES_OK;
 * otherwise NULL, with *errstr_r (owned) and *sqlstate_r (5 chars, or ""
 * when the connection failed) set. sqlstate_r may be NULL.
 */
PGresult *db_exec(struct db *db, const struct db_stmt *stmt,
    const char *const *params, char sqlstate_r[6], char **errstr_r);

/* A constant statement without parameters (BEGIN, SET ...): 0 or -1. */
int db_exec_simple(struct db *db, const char *sql, char **errstr_r);

/* BEGIN / COMMIT / ROLLBACK. Rollback is quiet and may be called twice. */
int db_begin(struct db *db, char **errstr_r);
int db_commit(struct db *db, char **errstr_r);
void db_rollback(struct db *db);

/* Owned message: what, then the server's first line, never the URL. */
char *db_error(struct db *db, const PGresult *res, const char *what);

/* Copy a text column into buf (truncated to size - 1; NULL gives ""). */
void db_col_str(const PGresult *res, int row, int col, char *buf, size_t size);
/* Owned copy of a text column; NULL stays NULL. */
char *db_col_strdup(const PGresult *res, int row, int col);
/* An int8/int4 column (NULL gives 0); -1 when it is not a number. */
int db_col_int64(const PGresult *res, int row, int col, int64_t *val_r);
bool db_col_bool(const PGresult *res, int row, int col);

/* Decimal text of v into buf (>= 24 bytes); returns buf. */
char *db_fmt_int64(int64_t v, char *buf, size_t size);

/* A PostgreSQL array literal being built: "{" elements "}". */
struct db_array {
	char *buf;
	size_t len, cap;
};

/* Append s as a quoted element. */
void db_array_add(struct db_array *a, const char *s);
/* Close the literal; returns its text (owned by a: free(a->buf)). */
const char *db_array_end(struct db_array *a);

#endif
