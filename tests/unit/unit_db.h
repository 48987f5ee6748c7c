/* SPDX-License-Identifier: MIT */
/*
 * unit_db.h - what the unit tests that need PostgreSQL share: the
 * database named by MG_TEST_DB_URL, or else MG_PG_URL (tests/run's own),
 * migrated to this binary's schema, and a few ways to query it. Any
 * failure fails the test that asked.
 */
#ifndef MAILGATE_UNIT_DB_H
#define MAILGATE_UNIT_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "mailgate/config.h"
#include "mailgate/db.h"

/*
 * Point cfg (zeroed by the caller) at the test database and migrate it.
 * False when no database is named: the tests then skip.
 */
bool unit_db_config(struct config *cfg);
/* Close both connections (either may be NULL) and release cfg. */
void unit_db_done(struct config *cfg, struct db **a, struct db **b);
/* A connection of its own, as another instance would have. */
struct db *unit_db_open(struct config *cfg);
/* Run q; it must succeed. */
void unit_sql(struct db *db, const char *q);
/* Run q; it must answer one non-negative integer. */
int64_t unit_sql_int(struct db *db, const char *q);

/* In a test whose fixture f is NULL when no database is named: skip. */
#define UNIT_NEED_DB(f)                                                        \
	do {                                                                   \
		if ((f) == NULL)                                               \
			skip();                                                \
	} while (0)

#endif
