/* SPDX-License-Identifier: MIT */
/*
 * unit_db.c - the PostgreSQL fixture of the unit tests (unit_db.h).
 */
#include "unit_db.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailgate/parse.h"
#include "mailgate/secret.h"

bool
unit_db_config(struct config *cfg)
{
	const char *url = getenv("MG_TEST_DB_URL");
	struct db *mig = NULL;
	char *err = NULL;
	int from, to;

	if (url == NULL || url[0] == '\0')
		url = getenv("MG_PG_URL");
	if (url == NULL || url[0] == '\0')
		return false;
	cfg->database.url = secret_from(url, strlen(url));
	cfg->database.connect_timeout = 5;
	if (db_open(cfg, DB_OPEN_ANY_SCHEMA, &mig, &err) != MG_OK ||
	    db_migrate(mig, &from, &to, &err) != MG_OK)
		fail_msg("migrate: %s", err);
	db_close(&mig);
	return true;
}

void
unit_db_done(struct config *cfg, struct db **a, struct db **b)
{
	db_close(a);
	db_close(b);
	secret_free(&cfg->database.url);
}

struct db *
unit_db_open(struct config *cfg)
{
	struct db *db = NULL;
	char *err = NULL;

	if (db_open(cfg, 0, &db, &err) != MG_OK)
		fail_msg("db_open: %s", err);
	return db;
}

void
unit_sql(struct db *db, const char *q)
{
	PGresult *res = PQexec(db_pgconn(db), q);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", q, PQerrorMessage(db_pgconn(db)));
	PQclear(res);
}

int64_t
unit_sql_int(struct db *db, const char *q)
{
	PGresult *res = PQexec(db_pgconn(db), q);
	uint64_t v = 0; /* fail_msg() does not return, clang cannot tell */

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    parse_uint64(PQgetvalue(res, 0, 0), INT64_MAX, &v) < 0)
		fail_msg("%s: %s", q, PQerrorMessage(db_pgconn(db)));
	PQclear(res);
	return (int64_t)v;
}
