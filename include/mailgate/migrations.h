/* SPDX-License-Identifier: MIT */
/*
 * migrations.h - the SQL files of sql/, compiled in by
 * cmake/embed_sql.cmake. migrations[i].version == i + 1.
 */
#ifndef MAILGATE_MIGRATIONS_H
#define MAILGATE_MIGRATIONS_H

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const unsigned int migrations_count;

#endif
