/* SPDX-License-Identifier: MIT */
/*
 * db.c - one PostgreSQL connection: open it from [database] url, check
 * the schema, run our prepared statements and transactions.
 * Input: the configuration (trusted) and result rows (trusted server).
 * Never prints the URL or the password: libpq's messages are cut to their
 * first line and scrubbed of the password before anyone sees them.
 */
#include "db_private.h"

#include <stdio.h>
#include <string.h>

#include "mailgate/log.h"
#include "mailgate/migrations.h"
#include "mailgate/secret.h"
#include "mailgate/xmalloc.h"

/* A statement that runs away is a bug or an outage, never work to wait
 * for; lock waits this long mean a stuck migration or admin session. */
#define DB_SESSION_SETTINGS                                                    \
	"SET statement_timeout = '30s'; SET lock_timeout = '10s'; "            \
	"SET idle_in_transaction_session_timeout = '60s'"

/* The part of a libpq message worth showing: its first line. */
#define DB_MSG_MAX 300

static void
db_notice_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* "relation already exists, skipping" and the like */
}

/*
 * Copy msg's first line into out, dropping libpq's "FATAL:  " style
 * prefix. If the password appears anywhere, the detail is withheld.
 */
static void
db_clean_message(
    const char *msg, const struct secret *password, char *out, size_t size)
{
	size_t n;

	if (msg == NULL)
		msg = "";
	if (strncmp(msg, "FATAL:  ", 8) == 0 ||
	    strncmp(msg, "ERROR:  ", 8) == 0)
		msg += 8;
	n = strcspn(msg, "\r\n");
	if (n >= size)
		n = size - 1;
	memcpy(out, msg, n);
	out[n] = '\0';
	if (n == 0)
		(void)snprintf(out, size, "no detail from libpq");
	if (password != NULL && password->len > 0 &&
	    strstr(out, (const char *)password->buf) != NULL)
		(void)snprintf(
		    out, size, "(detail withheld: it named a secret)");
}

char *
db_error(struct db *db, const PGresult *res, const char *what)
{
	char line[DB_MSG_MAX];
	const char *m = NULL;

	if (res != NULL)
		m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (m == NULL)
		m = PQerrorMessage(db->conn);
	db_clean_message(m, NULL, line, sizeof(line));
	return xasprintf("%s: %s", what, line);
}

/* The password of the URL, if it has one, as a secret; NULL if none. */
static struct secret *
db_url_password(PQconninfoOption *opts)
{
	struct secret *pw = NULL;
	PQconninfoOption *o;

	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "password") == 0 && o->val[0] != '\0')
			pw = secret_from(o->val, strlen(o->val));
		secret_wipe(o->val, strlen(o->val));
	}
	return pw;
}

static enum mg_result
db_connect(const struct config *cfg, PGconn **conn_r, enum db_open_error *why_r,
    char **errstr_r)
{
	const char *keys[5], *vals[5];
	char timeout[24], line[DB_MSG_MAX];
	struct secret *password;
	PQconninfoOption *opts;
	PGconn *conn;
	char *perr = NULL;

	if (cfg->database.url == NULL || cfg->database.url->len == 0) {
		*why_r = DB_OPEN_BAD_URL;
		*errstr_r = xstrdup("[database] url is not set");
		return MG_PERMFAIL;
	}
	opts = PQconninfoParse((const char *)cfg->database.url->buf, &perr);
	if (opts == NULL) {
		/* libpq's text may quote part of the URL: never show it. */
		PQfreemem(perr);
		*why_r = DB_OPEN_BAD_URL;
		*errstr_r = xstrdup("[database] url is not a valid libpq "
				    "connection string or URI");
		return MG_PERMFAIL;
	}
	password = db_url_password(opts);
	PQconninfoFree(opts);

	(void)snprintf(timeout, sizeof(timeout), "%lld",
	    (long long)(cfg->database.connect_timeout > 0 ?
		    cfg->database.connect_timeout :
		    5));
	keys[0] = "application_name", vals[0] = "mailgate";
	keys[1] = "dbname", vals[1] = (const char *)cfg->database.url->buf;
	keys[2] = "connect_timeout", vals[2] = timeout;
	keys[3] = "client_encoding", vals[3] = "UTF8";
	keys[4] = NULL, vals[4] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL)
		MG_BUG("libpq could not allocate a connection");

	if (PQstatus(conn) != CONNECTION_OK) {
		bool refused = PQconnectionUsedPassword(conn) ||
		    PQconnectionNeedsPassword(conn);

		db_clean_message(
		    PQerrorMessage(conn), password, line, sizeof(line));
		*why_r = refused ? DB_OPEN_LOGIN_REFUSED : DB_OPEN_UNREACHABLE;
		*errstr_r = xasprintf("%s: %s",
		    refused ? "database refused the login" :
			      "database unreachable",
		    line);
		PQfinish(conn);
		secret_free(&password);
		return MG_TEMPFAIL;
	}
	secret_free(&password);
	(void)PQsetNoticeProcessor(conn, db_notice_quiet, NULL);
	*conn_r = conn;
	return MG_OK;
}

static enum mg_result
db_check_schema(struct db *db, enum db_open_error *why_r, char **errstr_r)
{
	int have, known = db_schema_known();

	if (db_schema_version(db, &have, errstr_r) != MG_OK) {
		*why_r = DB_OPEN_FAILED;
		return MG_TEMPFAIL;
	}
	if (have > known) {
		*why_r = DB_OPEN_SCHEMA_NEWER;
		*errstr_r = xasprintf("database schema is version %d, this "
				      "mailgate knows up to %d: upgrade "
				      "mailgate",
		    have, known);
		return MG_PERMFAIL;
	}
	if (have < known) {
		*why_r = DB_OPEN_SCHEMA_OLDER;
		*errstr_r = xasprintf("database schema is version %d, this "
				      "mailgate needs %d: run \"mailgate db "
				      "migrate\"",
		    have, known);
		return MG_PERMFAIL;
	}
	return MG_OK;
}

enum mg_result
db_open_ex(const struct config *cfg, unsigned int flags, struct db **db_r,
    enum db_open_error *why_r, char **errstr_r)
{
	enum db_open_error why = DB_OPEN_OK;
	enum mg_result ret;
	struct db *db;
	PGconn *conn = NULL;

	ret = db_connect(cfg, &conn, &why, errstr_r);
	if (ret != MG_OK)
		goto out;

	db = xcalloc(1, sizeof(*db));
	db->conn = conn;
	if (db_exec_simple(db, DB_SESSION_SETTINGS, errstr_r) < 0) {
		why = DB_OPEN_FAILED;
		ret = MG_TEMPFAIL;
		db_close(&db);
		goto out;
	}
	if ((flags & DB_OPEN_ANY_SCHEMA) == 0) {
		ret = db_check_schema(db, &why, errstr_r);
		if (ret != MG_OK) {
			db_close(&db);
			goto out;
		}
	}
	*db_r = db;
out:
	if (why_r != NULL)
		*why_r = why;
	return ret;
}

enum mg_result
db_open(const struct config *cfg, unsigned int flags, struct db **db_r,
    char **errstr_r)
{
	return db_open_ex(cfg, flags, db_r, NULL, errstr_r);
}

void
db_close(struct db **dbp)
{
	struct db *db;

	if (dbp == NULL || *dbp == NULL)
		return;
	db = *dbp;
	if (db->conn != NULL)
		PQfinish(db->conn);
	free(db);
	*dbp = NULL;
}

PGconn *
db_pgconn(struct db *db)
{
	return db->conn;
}

int
db_set_statement_timeout(struct db *db, unsigned int ms, char **errstr_r)
{
	char sql[64];

	db->statement_timeout_ms = ms;
	if (ms == 0)
		return 0;
	(void)snprintf(sql, sizeof(sql), "SET statement_timeout = %u", ms);
	return db_exec_simple(db, sql, errstr_r);
}

int
db_schema_known(void)
{
	if (migrations_count == 0)
		return 0;
	return migrations[migrations_count - 1].version;
}

/* After a lost connection, outside a transaction: reconnect once. */
static bool
db_try_reset(struct db *db)
{
	char *err = NULL;

	if (db->in_tx || PQstatus(db->conn) != CONNECTION_BAD)
		return false;
	PQreset(db->conn);
	if (PQstatus(db->conn) != CONNECTION_OK)
		return false;
	db->nprepared = 0; /* the server forgot them */
	if (db_exec_simple(db, DB_SESSION_SETTINGS, &err) < 0 ||
	    db_set_statement_timeout(db, db->statement_timeout_ms, &err) < 0) {
		free(err);
		return false;
	}
	log_info("db: reconnected after a lost connection");
	return true;
}

static int
db_prepare(struct db *db, const struct db_stmt *stmt, char **errstr_r)
{
	PGresult *res;
	unsigned int i;

	for (i = 0; i < db->nprepared; i++) {
		if (db->prepared[i] == stmt)
			return 0;
	}
	MG_ASSERT(db->nprepared < DB_STMT_MAX);
	res = PQprepare(db->conn, stmt->name, stmt->sql, stmt->nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		*errstr_r = db_error(db, res, "database error");
		PQclear(res);
		return -1;
	}
	PQclear(res);
	db->prepared[db->nprepared++] = stmt;
	return 0;
}

static PGresult *
db_exec_once(struct db *db, const struct db_stmt *stmt,
    const char *const *params, char sqlstate_r[6], char **errstr_r)
{
	ExecStatusType st;
	const char *state;
	PGresult *res;

	sqlstate_r[0] = '\0';
	if (db_prepare(db, stmt, errstr_r) < 0)
		return NULL;
	res = PQexecPrepared(
	    db->conn, stmt->name, stmt->nparams, params, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;

	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state != NULL)
		(void)snprintf(sqlstate_r, 6, "%s", state);
	*errstr_r = db_error(db, res, "database error");
	PQclear(res);
	return NULL;
}

PGresult *
db_exec(struct db *db, const struct db_stmt *stmt, const char *const *params,
    char sqlstate_r[6], char **errstr_r)
{
	char state[6];
	PGresult *res;

	if (sqlstate_r == NULL)
		sqlstate_r = state;
	res = db_exec_once(db, stmt, params, sqlstate_r, errstr_r);
	if (res == NULL && db_try_reset(db)) {
		free(*errstr_r);
		*errstr_r = NULL;
		res = db_exec_once(db, stmt, params, sqlstate_r, errstr_r);
	}
	return res;
}

int
db_exec_simple(struct db *db, const char *sql, char **errstr_r)
{
	PGresult *res;
	int ret = 0;

	res = PQexec(db->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		*errstr_r = db_error(db, res, "database error");
		ret = -1;
	}
	PQclear(res);
	return ret;
}

int
db_begin(struct db *db, char **errstr_r)
{
	MG_ASSERT(!db->in_tx);
	if (db_exec_simple(db, "BEGIN", errstr_r) < 0) {
		if (!db_try_reset(db))
			return -1;
		free(*errstr_r);
		*errstr_r = NULL;
		if (db_exec_simple(db, "BEGIN", errstr_r) < 0)
			return -1;
	}
	db->in_tx = true;
	return 0;
}

int
db_commit(struct db *db, char **errstr_r)
{
	MG_ASSERT(db->in_tx);
	db->in_tx = false;
	return db_exec_simple(db, "COMMIT", errstr_r);
}

void
db_rollback(struct db *db)
{
	PGresult *res;

	if (!db->in_tx)
		return;
	db->in_tx = false;
	res = PQexec(db->conn, "ROLLBACK");
	PQclear(res);
}

void
db_col_str(const PGresult *res, int row, int col, char *buf, size_t size)
{
	const char *v = PQgetvalue(res, row, col);
	size_t n = strlen(v);

	if (n >= size)
		n = size - 1;
	memcpy(buf, v, n);
	buf[n] = '\0';
}

char *
db_col_strdup(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return xstrdup(PQgetvalue(res, row, col));
}

int
db_col_int64(const PGresult *res, int row, int col, int64_t *val_r)
{
	const char *s = PQgetvalue(res, row, col);
	bool neg = false;
	uint64_t v = 0;

	if (PQgetisnull(res, row, col)) {
		*val_r = 0;
		return 0;
	}
	if (*s == '-') {
		neg = true;
		s++;
	}
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > (uint64_t)INT64_MAX / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return -1;
	*val_r = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

bool
db_col_bool(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) &&
	    strcmp(PQgetvalue(res, row, col), "t") == 0;
}

char *
db_fmt_int64(int64_t v, char *buf, size_t size)
{
	(void)snprintf(buf, size, "%lld", (long long)v);
	return buf;
}

void
db_array_add(struct db_array *a, const char *s)
{
	size_t need = a->len + 2 * strlen(s) + 4; /* sep, quotes, NUL */
	char sep = a->len == 0 ? '{' : ',';

	if (a->buf == NULL || need > a->cap) {
		a->cap = need * 2;
		a->buf = xrealloc(a->buf, a->cap);
	}
	a->buf[a->len++] = sep;
	a->buf[a->len++] = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			a->buf[a->len++] = '\\';
		a->buf[a->len++] = *s;
	}
	a->buf[a->len++] = '"';
	a->buf[a->len] = '\0';
}

const char *
db_array_end(struct db_array *a)
{
	a->buf = xrealloc(a->buf, a->len + 3);
	memcpy(a->buf + a->len, a->len == 0 ? "{}" : "}", a->len == 0 ? 3 : 2);
	return a->buf;
}
