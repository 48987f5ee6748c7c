/* SPDX-License-Identifier: MIT */
/*
 * test_db_failures.c - db_failures_sync() and the lockout store calls
 * against a real PostgreSQL: counts add up across connections (no lost
 * update when two instances send at once), locks are set at the limit
 * and survive a success, stale counts start over, hostile keys round
 * trip, and a lifted lock reaches every instance. MG_TEST_DB_URL, or
 * else MG_PG_URL (tests/run's own database), names a database we may
 * migrate and whose auth_failures table we may empty; without either
 * every test is skipped.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_db.h"

#include "mailgate/db.h"
#include "mailgate/store.h"
#include "mailgate/xmalloc.h"

#define LOCK_MS  600000 /* 10 minutes */
#define THREADS  2
#define PER_TURN 100

struct fixture {
	struct config cfg;
	struct db *db;
	struct db *db2; /* a second instance's connection */
};

static int
setup(void **state)
{
	struct fixture *f;

	f = xcalloc(1, sizeof(*f));
	if (!unit_db_config(&f->cfg)) {
		free(f);
		return 0;
	}
	f->db = unit_db_open(&f->cfg);
	f->db2 = unit_db_open(&f->cfg);
	unit_sql(f->db, "DELETE FROM auth_failures");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	unit_db_done(&f->cfg, &f->db, &f->db2);
	free(f);
	return 0;
}

/* One batch of a single change; returns what came back for key. */
struct answer {
	size_t n;   /* rows returned */
	bool found; /* one of them is key's */
	unsigned int failures;
	uint64_t locked_ms;
};

static void
sync_one(struct db *db, struct failure_sync *s, const struct failure_change *c,
    const char *key, struct answer *a)
{
	struct failure_state *st = NULL;
	char *err = NULL;
	size_t n = 0, i;

	s->changes = c;
	s->nchanges = c != NULL ? 1 : 0;
	if (db_failures_sync(db, s, &st, &n, &err) != MG_OK)
		fail_msg("db_failures_sync: %s", err);
	memset(a, 0, sizeof(*a));
	a->n = n;
	for (i = 0; i < n; i++) {
		if (strcmp(st[i].key, key) != 0)
			continue;
		a->found = true;
		a->failures = st[i].failures;
		a->locked_ms = st[i].locked_ms;
	}
	failure_states_free(st, n);
}

static void
counts_lock_at_the_limit(void **state)
{
	struct fixture *f = *state;
	struct failure_sync s = { .lockout_failures = 4,
		.lockout_ms = LOCK_MS };
	char key[] = "192.0.2.1";
	struct failure_change c = { FAILURE_ADDRESS, key, 3, false };
	struct answer a;

	UNIT_NEED_DB(f);
	sync_one(f->db, &s, &c, key, &a);
	assert_true(a.found);
	assert_int_equal(a.failures, 3);
	assert_int_equal(a.locked_ms, 0);
	assert_true(s.since[0] != '\0');
	c.failures = 1;
	sync_one(f->db, &s, &c, key, &a);
	assert_int_equal(a.failures, 4);
	assert_true(a.locked_ms > LOCK_MS - 5000 && a.locked_ms <= LOCK_MS);
	/* A success never lifts a lock. */
	c.failures = 0;
	c.clear = true;
	sync_one(f->db, &s, &c, key, &a);
	assert_int_equal(unit_sql_int(f->db,
			     "SELECT count(*) FROM auth_failures WHERE key = "
			     "'192.0.2.1' AND locked_until > now()"),
	    1);
	/* Failures during a lock do not lengthen it. */
	unit_sql(f->db,
	    "UPDATE auth_failures SET locked_until = now() + interval '1 "
	    "minute' WHERE key = '192.0.2.1'");
	c.failures = 5;
	c.clear = false;
	sync_one(f->db, &s, &c, key, &a);
	assert_true(a.locked_ms <= 60000);
	assert_int_equal(a.failures, 9);
}

static void
success_clears_and_stale_counts_restart(void **state)
{
	struct fixture *f = *state;
	struct failure_sync s = { .lockout_failures = 10, .lockout_ms = 1000 };
	char key[] = "c@example.org";
	struct failure_change c = { FAILURE_MAILBOX, key, 2, false };
	struct answer a;

	UNIT_NEED_DB(f);
	sync_one(f->db, &s, &c, key, &a);
	assert_int_equal(a.failures, 2);
	c.failures = 0;
	c.clear = true;
	sync_one(f->db, &s, &c, key, &a);
	assert_int_equal(unit_sql_int(f->db,
			     "SELECT count(*) FROM auth_failures WHERE key = "
			     "'c@example.org'"),
	    0);
	/* Clear then count, in one batch: the count starts from nothing. */
	c.failures = 1;
	sync_one(f->db, &s, &c, key, &a);
	assert_int_equal(a.failures, 1);
	/* Older than a lockout (1 s here): starts over, and is expired. */
	unit_sql(f->db,
	    "UPDATE auth_failures SET failures = 7, last_failed_at = now() - "
	    "interval '1 hour' WHERE key = 'c@example.org'");
	c.clear = false;
	sync_one(f->db, &s, &c, key, &a);
	assert_int_equal(a.failures, 1);
	unit_sql(f->db,
	    "INSERT INTO auth_failures (kind, key, failures, last_failed_at) "
	    "VALUES ('address', '203.0.113.1', 3, now() - interval '1 hour')");
	sync_one(f->db, &s, &c, key, &a);
	assert_int_equal(unit_sql_int(f->db,
			     "SELECT count(*) FROM auth_failures WHERE key = "
			     "'203.0.113.1'"),
	    0);
}

static void
hostile_keys_round_trip(void **state)
{
	struct fixture *f = *state;
	struct failure_sync s = { .lockout_failures = 0,
		.lockout_ms = LOCK_MS };
	char k1[] = "a\"b\\c,{d}@example.org", k2[] = "NULL", k3[] = "{}";
	struct failure_change c[3] = {
		{ FAILURE_MAILBOX, k1, 1, false },
		{ FAILURE_MAILBOX, k2, 2, false },
		{ FAILURE_MAILBOX, k3, 3, false },
	};
	struct failure_state *st = NULL;
	char *err = NULL;
	size_t n = 0, i;
	unsigned int seen = 0;

	UNIT_NEED_DB(f);
	s.changes = c;
	s.nchanges = 3;
	if (db_failures_sync(f->db, &s, &st, &n, &err) != MG_OK)
		fail_msg("db_failures_sync: %s", err);
	for (i = 0; i < n; i++) {
		if (strcmp(st[i].key, k1) == 0 && st[i].failures == 1)
			seen |= 1;
		if (strcmp(st[i].key, k2) == 0 && st[i].failures == 2)
			seen |= 2;
		if (strcmp(st[i].key, k3) == 0 && st[i].failures == 3)
			seen |= 4;
		assert_int_equal(st[i].locked_ms, 0); /* lockouts off */
	}
	failure_states_free(st, n);
	assert_int_equal(seen, 7);
}

static void
huge_counts_are_capped(void **state)
{
	struct fixture *f = *state;
	struct failure_sync s = { .lockout_failures = 0,
		.lockout_ms = LOCK_MS };
	char key[] = "192.0.2.99";
	struct failure_change c = { FAILURE_ADDRESS, key, UINT32_MAX, false };
	struct answer a;

	UNIT_NEED_DB(f);
	sync_one(f->db, &s, &c, key, &a);
	assert_int_equal(a.failures, 1000000);
	sync_one(f->db, &s, &c, key, &a); /* and the sum stays there */
	assert_int_equal(a.failures, 1000000);
}

struct worker {
	struct config *cfg;
	int failed;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct failure_sync s = { .lockout_failures = 0,
		.lockout_ms = LOCK_MS };
	char k1[] = "198.51.100.1", k2[] = "race@example.org";
	struct failure_change c[2] = {
		{ FAILURE_ADDRESS, k1, 1, false },
		{ FAILURE_MAILBOX, k2, 1, false },
	};
	struct failure_state *st;
	struct db *db = NULL;
	char *err = NULL;
	size_t n;
	int i;

	if (db_open(w->cfg, 0, &db, &err) != MG_OK) {
		free(err);
		w->failed = 1;
		return NULL;
	}
	for (i = 0; i < PER_TURN; i++) {
		/* The two orders: rows are still taken in key order. */
		c[0].kind = i % 2 == 0 ? FAILURE_ADDRESS : FAILURE_MAILBOX;
		c[0].key = i % 2 == 0 ? k1 : k2;
		c[1].kind = i % 2 == 0 ? FAILURE_MAILBOX : FAILURE_ADDRESS;
		c[1].key = i % 2 == 0 ? k2 : k1;
		s.changes = c;
		s.nchanges = 2;
		if (db_failures_sync(db, &s, &st, &n, &err) != MG_OK) {
			free(err);
			err = NULL;
			w->failed++;
			continue;
		}
		failure_states_free(st, n);
	}
	db_close(&db);
	return NULL;
}

static void
concurrent_batches_lose_nothing(void **state)
{
	struct fixture *f = *state;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	int i;

	UNIT_NEED_DB(f);
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ &f->cfg, 0 };
		assert_int_equal(
		    pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failed, 0);
	}
	assert_int_equal(unit_sql_int(f->db,
			     "SELECT failures FROM auth_failures WHERE key = "
			     "'198.51.100.1'"),
	    THREADS * PER_TURN);
	assert_int_equal(unit_sql_int(f->db,
			     "SELECT failures FROM auth_failures WHERE key = "
			     "'race@example.org'"),
	    THREADS * PER_TURN);
}

static void
locks_and_lifts_reach_other_instances(void **state)
{
	struct fixture *f = *state;
	struct failure_sync s1 = { .lockout_failures = 2,
		.lockout_ms = LOCK_MS };
	struct failure_sync s2 = s1;
	char key[] = "victim@example.org";
	struct failure_change c = { FAILURE_MAILBOX, key, 2, false };
	struct store_lockout *list = NULL;
	char *err = NULL;
	struct answer a;
	size_t n = 0;

	int64_t audits;

	UNIT_NEED_DB(f);
	audits = unit_sql_int(f->db,
	    "SELECT count(*) FROM audit_log WHERE action = 'lockout.clear'");
	sync_one(f->db2, &s2, NULL, key, &a); /* instance 2 starts */
	assert_false(a.found);
	sync_one(f->db, &s1, &c, key, &a); /* instance 1 locks */
	assert_true(a.locked_ms > 0);
	sync_one(f->db2, &s2, NULL, key, &a); /* instance 2 learns it */
	assert_true(a.found);
	assert_true(a.locked_ms > 0);
	assert_int_equal(
	    store_lockout_list(f->db, 0, &list, &n, &err), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].key, key);
	assert_string_equal(list[0].kind, "mailbox");
	assert_true(list[0].locked_until > 0);
	free(list);
	assert_int_equal(
	    store_lockout_clear(f->db, "test", key, &err), STORE_OK);
	sync_one(f->db2, &s2, NULL, key, &a); /* ... and that it was lifted */
	assert_true(a.found);
	assert_int_equal(a.failures, 0);
	assert_int_equal(a.locked_ms, 0);
	assert_int_equal(
	    store_lockout_clear(f->db, "test", key, &err), STORE_NOT_FOUND);
	free(err);
	assert_int_equal(unit_sql_int(f->db,
			     "SELECT count(*) FROM audit_log WHERE action = "
			     "'lockout.clear'"),
	    audits + 1);
	/* A new failure counts from nothing, and is no longer "lifted". */
	c.failures = 1;
	sync_one(f->db, &s1, &c, key, &a);
	assert_int_equal(a.failures, 1);
	assert_int_equal(a.locked_ms, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    counts_lock_at_the_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    success_clears_and_stale_counts_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    hostile_keys_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    huge_counts_are_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    concurrent_batches_lose_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    locks_and_lifts_reach_other_instances, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
