/* SPDX-License-Identifier: MIT */
/*
 * db_failures.c - failed-login counters shared through PostgreSQL. Each
 * mailgated sends what it counted since its last batch, about once a
 * second, and learns the totals and the locks that other instances set.
 * Input: keys are client addresses and user names from hostile clients,
 * passed only as parameters and bounded by the table's CHECK.
 */
#include "db_private.h"

#include <stdlib.h>
#include <string.h>

#include "mailgate/parse.h"
#include "mailgate/xmalloc.h"

/* Counts stop here (an int column, and int[] parameters). */
#define DB_FAILURES_MAX       1000000
#define DB_FAILURES_MAX_COUNT "1000000"
#define DB_FAILURES_LIFE      "$5::bigint * interval '1 millisecond'"
/* A counter's failures unless they are older than a lockout. */
#define DB_FAILURES_FRESH                                                      \
	"(CASE WHEN f.last_failed_at >= now() - " DB_FAILURES_LIFE             \
	" OR f.locked_until > now() THEN f.failures ELSE 0 END)"
#define DB_FAILURES_NEW                                                        \
	"least(" DB_FAILURES_FRESH                                             \
	" + excluded.failures, " DB_FAILURES_MAX_COUNT ")"
#define DB_FAILURES_LOCKS "$4::int > 0 AND " DB_FAILURES_NEW " >= $4::int"
#define DB_FAILURES_LEFT                                                       \
	"coalesce(greatest(0, ceil(extract(epoch FROM "                        \
	"f.locked_until - now()) * 1000)), 0)::bigint"

static const char *const db_failure_kinds[] = {
	[FAILURE_ADDRESS] = "address",
	[FAILURE_MAILBOX] = "mailbox",
};

static const struct db_stmt db_failures_now = {
	"failures_now",
	"SELECT now()",
	0,
};

/*
 * A success forgets a counter, never a lock. A row another batch holds
 * is skipped: its count then simply expires.
 */
static const struct db_stmt db_failures_clear = {
	"failures_clear",
	"DELETE FROM auth_failures WHERE (kind, key) IN ("
	"SELECT f.kind, f.key FROM auth_failures f "
	"JOIN unnest($1::text[], $2::text[]) AS u(kind, key) "
	"ON f.kind = u.kind AND f.key = u.key "
	"WHERE f.locked_until IS NULL OR f.locked_until <= now() "
	"ORDER BY f.kind, f.key FOR UPDATE OF f SKIP LOCKED)",
	2,
};

/*
 * Rows are taken in key order, so two instances' batches cannot
 * deadlock. A lock in force is kept as it is: failures counted during
 * it do not lengthen it.
 */
static const struct db_stmt db_failures_add = {
	"failures_add",
	"INSERT INTO auth_failures AS f "
	"(kind, key, failures, last_failed_at, locked_until, locked_at) "
	"SELECT u.kind, u.key, u.n, now(), "
	"CASE WHEN $4::int > 0 AND u.n >= $4::int "
	"THEN now() + " DB_FAILURES_LIFE " END, "
	"CASE WHEN $4::int > 0 AND u.n >= $4::int THEN now() END "
	"FROM (SELECT kind, key, least(sum(n), " DB_FAILURES_MAX_COUNT
	")::int AS n FROM unnest($1::text[], $2::text[], $3::int[]) "
	"AS x(kind, key, n) GROUP BY kind, key ORDER BY kind, key) u "
	"ON CONFLICT (kind, key) DO UPDATE SET "
	"failures = " DB_FAILURES_NEW ", "
	"last_failed_at = now(), "
	"locked_until = CASE WHEN f.locked_until > now() THEN f.locked_until "
	"WHEN " DB_FAILURES_LOCKS " THEN now() + " DB_FAILURES_LIFE
	" ELSE f.locked_until END, "
	"locked_at = CASE WHEN f.locked_until > now() THEN f.locked_at "
	"WHEN " DB_FAILURES_LOCKS " THEN now() ELSE f.locked_at END "
	"RETURNING f.kind, f.key, f.failures, " DB_FAILURES_LEFT,
	5,
};

/*
 * Locks set or lifted (failures 0) since the last sync, by anyone. The
 * window reaches back 10 s before it, for batches that began earlier but
 * committed later.
 */
static const struct db_stmt db_failures_locks = {
	"failures_locks",
	"SELECT f.kind, f.key, f.failures, " DB_FAILURES_LEFT
	" FROM auth_failures f WHERE "
	"(f.locked_until > now() OR f.failures = 0) AND "
	"f.locked_at > coalesce(nullif($1, '')::timestamptz, '-infinity') "
	"- interval '10 seconds' ORDER BY f.locked_at DESC LIMIT 4096",
	1,
};

static const struct db_stmt db_failures_expire = {
	"failures_expire",
	"DELETE FROM auth_failures WHERE last_failed_at < now() - "
	"$1::bigint * interval '1 millisecond' AND "
	"(locked_until IS NULL OR locked_until <= now())",
	1,
};

void
failure_states_free(struct failure_state *states, size_t n)
{
	size_t i;

	if (states == NULL)
		return;
	for (i = 0; i < n; i++)
		free(states[i].key);
	free(states);
}

/* Counters read back, growing. */
struct db_failures_out {
	struct failure_state *states;
	size_t n, cap;
};

/* Append res's rows (kind, key, failures, ms left) to out. */
static int
db_failures_collect(const PGresult *res, struct db_failures_out *out)
{
	struct failure_state *st;
	int64_t failures, left;
	int row;

	for (row = 0; row < PQntuples(res); row++) {
		if (db_col_int64(res, row, 2, &failures) < 0 ||
		    db_col_int64(res, row, 3, &left) < 0 || failures < 0 ||
		    failures > UINT32_MAX || left < 0)
			return -1;
		if (out->n == out->cap) {
			out->cap = out->cap == 0 ? 16 : out->cap * 2;
			out->states = xrealloc(
			    out->states, out->cap * sizeof(*out->states));
		}
		st = &out->states[out->n++];
		st->kind = strcmp(PQgetvalue(res, row, 0), "mailbox") == 0 ?
		    FAILURE_MAILBOX :
		    FAILURE_ADDRESS;
		st->key = db_col_strdup(res, row, 1);
		st->failures = (unsigned int)failures;
		st->locked_ms = (uint64_t)left;
	}
	return 0;
}

/* Run stmt; collect its rows into out unless out is NULL. */
static enum mg_result
db_failures_run(struct db *db, const struct db_stmt *stmt,
    const char *const *params, struct db_failures_out *out, char **errstr_r)
{
	PGresult *res = db_exec(db, stmt, params, NULL, errstr_r);
	int ret;

	if (res == NULL)
		return MG_TEMPFAIL;
	ret = out == NULL ? 0 : db_failures_collect(res, out);
	PQclear(res);
	if (ret < 0) {
		*errstr_r = xasprintf("%s: unreadable row", stmt->name);
		return MG_TEMPFAIL;
	}
	return MG_OK;
}

/* The changes as arrays: [0] kind, [1] key, [2] count; want: clears? */
static size_t
db_failures_arrays(
    const struct failure_sync *s, bool clears, struct db_array arr[3])
{
	char num[24];
	size_t i, n = 0;

	for (i = 0; i < s->nchanges; i++) {
		const struct failure_change *c = &s->changes[i];
		int64_t count = c->failures;

		if (clears ? !c->clear : count == 0)
			continue;
		if (count > DB_FAILURES_MAX)
			count = DB_FAILURES_MAX;
		db_array_add(&arr[0], db_failure_kinds[c->kind]);
		db_array_add(&arr[1], c->key);
		db_array_add(&arr[2], db_fmt_int64(count, num, sizeof(num)));
		n++;
	}
	for (i = 0; i < 3; i++)
		(void)db_array_end(&arr[i]);
	return n;
}

static enum mg_result
db_failures_apply(struct db *db, const struct failure_sync *s,
    struct db_failures_out *out, char **errstr_r)
{
	struct db_array arr[3] = { { NULL, 0, 0 } };
	char lockn[24], lockms[24];
	const char *params[5];
	enum mg_result ret = MG_OK;
	int k;

	if (db_failures_arrays(s, true, arr) > 0) {
		params[0] = arr[0].buf;
		params[1] = arr[1].buf;
		ret = db_failures_run(
		    db, &db_failures_clear, params, NULL, errstr_r);
	}
	for (k = 0; k < 3; k++) {
		free(arr[k].buf);
		arr[k] = (struct db_array){ NULL, 0, 0 };
	}
	if (ret == MG_OK && db_failures_arrays(s, false, arr) > 0) {
		params[0] = arr[0].buf;
		params[1] = arr[1].buf;
		params[2] = arr[2].buf;
		params[3] =
		    db_fmt_int64(s->lockout_failures, lockn, sizeof(lockn));
		params[4] = db_fmt_int64(
		    (int64_t)s->lockout_ms, lockms, sizeof(lockms));
		ret = db_failures_run(
		    db, &db_failures_add, params, out, errstr_r);
		if (ret == MG_OK)
			ret = db_failures_run(db, &db_failures_expire,
			    &params[4], NULL, errstr_r);
	}
	for (k = 0; k < 3; k++)
		free(arr[k].buf);
	return ret;
}

enum mg_result
db_failures_sync(struct db *db, struct failure_sync *s,
    struct failure_state **states_r, size_t *nstates_r, char **errstr_r)
{
	struct db_failures_out out = { NULL, 0, 0 };
	const char *since = s->since;
	enum mg_result ret;
	PGresult *res;

	*states_r = NULL;
	*nstates_r = 0;
	if (db_begin(db, errstr_r) < 0)
		return MG_TEMPFAIL;
	res = db_exec(db, &db_failures_now, NULL, NULL, errstr_r);
	if (res == NULL) {
		ret = MG_TEMPFAIL;
		goto fail;
	}
	ret = db_failures_apply(db, s, &out, errstr_r);
	if (ret == MG_OK)
		ret = db_failures_run(
		    db, &db_failures_locks, &since, &out, errstr_r);
	if (ret != MG_OK)
		goto fail;
	if (db_commit(db, errstr_r) < 0) {
		ret = MG_TEMPFAIL;
		goto fail;
	}
	db_col_str(res, 0, 0, s->since, sizeof(s->since));
	PQclear(res);
	*states_r = out.states;
	*nstates_r = out.n;
	return MG_OK;
fail:
	PQclear(res);
	db_rollback(db);
	failure_states_free(out.states, out.n);
	return ret;
}
