/* SPDX-License-Identifier: MIT */
/*
 * db_migrate.c - bring the schema up to the version compiled into this
 * binary, and report where it stands.
 * Input: the SQL files of sql/ embedded at build time (ours, trusted).
 * This is the one place that runs multi-statement SQL text, and that text
 * never comes from outside the binary. Everything happens in a single
 * transaction under an advisory lock: all of it, or nothing, once.
 */
#include "db_private.h"

#include <stdio.h>
#include <string.h>

#include "mailgate/migrations.h"
#include "mailgate/xmalloc.h"

/* pg_advisory_xact_lock key: "mailgate" in ASCII as a big-endian int8. */
#define DB_MIGRATE_LOCK "7881696737186903141"

static const struct db_stmt db_migrate_has_table = {
	"schema_has_table",
	"SELECT to_regclass('mailgate_schema_migrations') IS NOT NULL",
	0,
};

static const struct db_stmt db_migrate_max = {
	"schema_max",
	"SELECT coalesce(max(version), 0), count(*) "
	"FROM mailgate_schema_migrations",
	0,
};

static const struct db_stmt db_migrate_history = {
	"schema_history",
	"SELECT version, name, extract(epoch FROM applied_at)::bigint "
	"FROM mailgate_schema_migrations ORDER BY version",
	0,
};

static const struct db_stmt db_migrate_record = {
	"schema_record",
	"INSERT INTO mailgate_schema_migrations (version, name) "
	"VALUES ($1::int, $2)",
	2,
};

static const char db_migrate_prologue[] =
    "SET LOCAL statement_timeout = 0; "
    "SET LOCAL lock_timeout = '60s'; "
    "SELECT pg_advisory_xact_lock(" DB_MIGRATE_LOCK "); "
    "CREATE TABLE IF NOT EXISTS mailgate_schema_migrations ("
    " version int PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

static enum mg_result
db_migrate_has(struct db *db, bool *has_r, char **errstr_r)
{
	PGresult *res;

	res = db_exec(db, &db_migrate_has_table, NULL, NULL, errstr_r);
	if (res == NULL)
		return MG_TEMPFAIL;
	*has_r = db_col_bool(res, 0, 0);
	PQclear(res);
	return MG_OK;
}

/*
 * The highest version. Below what this binary knows, the rows must be
 * exactly 1..max (a gap is damage); above it, rows of a newer mailgate
 * are its business and only "newer" matters.
 */
static enum mg_result
db_migrate_current(struct db *db, int *version_r, char **errstr_r)
{
	int64_t max, count;
	PGresult *res;

	res = db_exec(db, &db_migrate_max, NULL, NULL, errstr_r);
	if (res == NULL)
		return MG_TEMPFAIL;
	if (db_col_int64(res, 0, 0, &max) < 0 ||
	    db_col_int64(res, 0, 1, &count) < 0 || max < 0 || max > INT32_MAX ||
	    (max <= db_schema_known() && max != count)) {
		PQclear(res);
		*errstr_r = xstrdup("mailgate_schema_migrations is damaged: "
				    "versions are not 1, 2, 3, ...");
		return MG_TEMPFAIL;
	}
	PQclear(res);
	*version_r = (int)max;
	return MG_OK;
}

enum mg_result
db_schema_version(struct db *db, int *version_r, char **errstr_r)
{
	enum mg_result ret;
	bool has;

	ret = db_migrate_has(db, &has, errstr_r);
	if (ret != MG_OK)
		return ret;
	if (!has) {
		*version_r = 0;
		return MG_OK;
	}
	return db_migrate_current(db, version_r, errstr_r);
}

enum mg_result
db_schema_history(struct db *db, struct db_applied **list_r,
    unsigned int *count_r, char **errstr_r)
{
	struct db_applied *list;
	enum mg_result ret;
	PGresult *res;
	int64_t v;
	bool has;
	int i, n;

	ret = db_migrate_has(db, &has, errstr_r);
	if (ret != MG_OK)
		return ret;
	if (!has) {
		*list_r = NULL;
		*count_r = 0;
		return MG_OK;
	}
	res = db_exec(db, &db_migrate_history, NULL, NULL, errstr_r);
	if (res == NULL)
		return MG_TEMPFAIL;
	n = PQntuples(res);
	list = xcalloc((size_t)n, sizeof(*list));
	for (i = 0; i < n; i++) {
		(void)db_col_int64(res, i, 0, &v);
		list[i].version = (int)v;
		db_col_str(res, i, 1, list[i].name, sizeof(list[i].name));
		(void)db_col_int64(res, i, 2, &list[i].applied_at);
	}
	PQclear(res);
	*list_r = list;
	*count_r = (unsigned int)n;
	return MG_OK;
}

static enum mg_result
db_migrate_apply(struct db *db, const struct migration *m, char **errstr_r)
{
	char ver[24], *err = NULL;
	const char *params[2];
	PGresult *res;

	if (db_exec_simple(db, m->sql, &err) < 0) {
		*errstr_r = xasprintf(
		    "migration %04d_%s failed: %s", m->version, m->name, err);
		free(err);
		return MG_TEMPFAIL;
	}
	params[0] = db_fmt_int64(m->version, ver, sizeof(ver));
	params[1] = m->name;
	res = db_exec(db, &db_migrate_record, params, NULL, errstr_r);
	if (res == NULL)
		return MG_TEMPFAIL;
	PQclear(res);
	return MG_OK;
}

enum mg_result
db_migrate(struct db *db, int *from_r, int *to_r, char **errstr_r)
{
	int have, known = db_schema_known();
	enum mg_result ret;
	unsigned int i;

	if (db_begin(db, errstr_r) < 0)
		return MG_TEMPFAIL;
	if (db_exec_simple(db, db_migrate_prologue, errstr_r) < 0) {
		ret = MG_TEMPFAIL;
		goto fail;
	}
	ret = db_migrate_current(db, &have, errstr_r);
	if (ret != MG_OK)
		goto fail;
	if (have > known) {
		*errstr_r = xasprintf("database schema is version %d, this "
				      "mailgate knows up to %d: upgrade "
				      "mailgate",
		    have, known);
		ret = MG_PERMFAIL;
		goto fail;
	}

	for (i = 0; i < migrations_count; i++) {
		if (migrations[i].version <= have)
			continue;
		ret = db_migrate_apply(db, &migrations[i], errstr_r);
		if (ret != MG_OK)
			goto fail;
	}
	if (db_commit(db, errstr_r) < 0)
		return MG_TEMPFAIL;
	*from_r = have;
	*to_r = known;
	return MG_OK;
fail:
	db_rollback(db);
	return ret;
}
