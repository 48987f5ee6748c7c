/* SPDX-License-Identifier: MIT */
/*
 * db.h - the PostgreSQL connection and what every program asks of it.
 * Only prepared or parameterised statements; no SQL is built from input.
 * A failure to reach or use the database is MG_TEMPFAIL, never a "no".
 *
 * A struct db is one connection: use it from one thread at a time.
 */
#ifndef MAILGATE_DB_H
#define MAILGATE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "mailgate/config.h"
#include "mailgate/result.h"
#include "mailgate/token.h"

struct db;

enum db_open_flags {
	/* Skip the schema check: only "mailgate db migrate/status" use it. */
	DB_OPEN_ANY_SCHEMA = 1 << 0,
};

/*
 * Connect with [database] url and connect_timeout. Unless
 * DB_OPEN_ANY_SCHEMA, the schema must be exactly the version this binary
 * was built with: newer or older is MG_PERMFAIL with a message that says
 * what to do. Unreachable is MG_TEMPFAIL. *errstr_r is owned (free()).
 */
enum mg_result db_open(const struct config *cfg, unsigned int flags,
    struct db **db_r, char **errstr_r);
void db_close(struct db **dbp);
/* Why db_open_ex() failed, for programs that map it to exit codes. */
enum db_open_error {
	DB_OPEN_OK = 0,
	DB_OPEN_UNREACHABLE,   /* MG_TEMPFAIL: server down, timeout */
	DB_OPEN_LOGIN_REFUSED, /* MG_TEMPFAIL: password, role, database */
	DB_OPEN_BAD_URL,       /* MG_PERMFAIL: [database] url does not parse */
	DB_OPEN_SCHEMA_NEWER,  /* MG_PERMFAIL: upgrade mailgate */
	DB_OPEN_SCHEMA_OLDER,  /* MG_PERMFAIL: run "mailgate db migrate" */
	DB_OPEN_FAILED,        /* MG_TEMPFAIL: a query of the check failed */
};

/* db_open() that also says why it failed (why_r may be NULL). */
enum mg_result db_open_ex(const struct config *cfg, unsigned int flags,
    struct db **db_r, enum db_open_error *why_r, char **errstr_r);

/* The newest schema version this binary knows (the last migration). */
int db_schema_known(void);

/*
 * The highest applied version: 0 when nothing is applied yet (no
 * mailgate_schema_migrations table). MG_TEMPFAIL on a database error.
 */
enum mg_result db_schema_version(
    struct db *db, int *version_r, char **errstr_r);

/* One row of mailgate_schema_migrations. */
struct db_applied {
	int version;
	char name[64];
	int64_t applied_at; /* unix seconds */
};

/* Owned array (free()), oldest first; empty when never migrated. */
enum mg_result db_schema_history(struct db *db, struct db_applied **list_r,
    unsigned int *count_r, char **errstr_r);

/*
 * Apply every pending migration in one transaction under an advisory
 * lock, so concurrent runs apply each migration once and all succeed.
 * *from_r and *to_r get the versions before and after. MG_PERMFAIL: the
 * database is newer than this binary (nothing changed). MG_TEMPFAIL: a
 * database error; the transaction was rolled back, nothing changed.
 */
enum mg_result db_migrate(
    struct db *db, int *from_r, int *to_r, char **errstr_r);

/* Borrowed: for modules that run their own statements. */
PGconn *db_pgconn(struct db *db);

/*
 * Bound every later statement of this connection to ms milliseconds
 * (0: keep the session default of 30 s), also after a reconnect. 0 or
 * -1 with *errstr_r (owned).
 */
int db_set_statement_timeout(struct db *db, unsigned int ms, char **errstr_r);

/*
 * The one verification every login path uses: check the token's shape
 * and checksum (no database round trip for a typo), fetch its record,
 * then token_check_attempt(). MG_OK and MG_PERMFAIL set *reason_r;
 * MG_TEMPFAIL sets *errstr_r (owned) and means "could not decide".
 * rec_r is filled on MG_OK and on MG_PERMFAIL after a successful fetch.
 */
enum mg_result db_token_verify_attempt(struct db *db,
    const struct token_keyring *kr, const struct token_attempt *a,
    struct token_record *rec_r, enum token_reason *reason_r, char **errstr_r);

/* One record by public id: MG_PERMFAIL when there is none. */
enum mg_result db_token_fetch(struct db *db, const char *public_id,
    struct token_record *rec_r, char **errstr_r);

/* A successful login, remembered and written later in batches. */
struct token_use {
	char id[TOKEN_ID_LEN + 1];
	int64_t at;       /* unix seconds */
	char ip[46];      /* textual address, or "" when unknown */
	char service[16]; /* imap, smtp, ... */
};

/*
 * Record many uses in one statement (latest per token wins). Never waits
 * for a row lock: a token row that another transaction holds is skipped.
 * *written_r gets the number of rows written (skipped, unknown and older
 * uses are not counted).
 */
enum mg_result db_token_touch(struct db *db, const struct token_use *uses,
    size_t count, size_t *written_r, char **errstr_r);

/*
 * Failed logins shared by every instance (sql/0004_auth_failures.sql).
 * Counters are kept per client address and per mailbox.
 */
enum failure_kind {
	FAILURE_ADDRESS,
	FAILURE_MAILBOX,
};

/* Longest key (the table's CHECK): addresses and mailboxes fit. */
#define FAILURE_KEY_MAX 320

/* A change to one counter, sent in a batch. */
struct failure_change {
	enum failure_kind kind;
	char *key;             /* lower case, 1..FAILURE_KEY_MAX; owned */
	unsigned int failures; /* to add (0: none) */
	bool clear;            /* a success came first: forget the count */
};

/*
 * A counter as the database has it after a batch. failures 0: an admin
 * lifted its lock and cleared it ("mailgate lockout clear").
 */
struct failure_state {
	enum failure_kind kind;
	char *key; /* owned */
	unsigned int failures;
	uint64_t locked_ms; /* lock time left; 0 when not locked */
};

struct failure_sync {
	unsigned int lockout_failures; /* 0 = never lock */
	uint64_t lockout_ms;           /* lock length, counter lifetime */
	const struct failure_change *changes;
	size_t nchanges;
	/* In and out: the database clock at the last sync ("" at first). */
	char since[48];
};

/*
 * One transaction: apply the changes (clears first; a lock is never
 * cleared), set locks where a count reaches lockout_failures, drop
 * counters older than a lockout, and return the changed counters plus
 * every lock set or lifted since s->since (by any instance). *states_r is
 * owned: free with failure_states_free().
 */
enum mg_result db_failures_sync(struct db *db, struct failure_sync *s,
    struct failure_state **states_r, size_t *nstates_r, char **errstr_r);
void failure_states_free(struct failure_state *states, size_t n);

#endif
