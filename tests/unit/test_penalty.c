/* SPDX-License-Identifier: MIT */
/*
 * test_penalty.c - the failure counters of src/mailgated/penalty.c: the
 * local decisions, the journal of changes sent to the database, and the
 * merging of what comes back (db_failures_sync).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailgated/penalty.h"

#define LOCK_MS 60000

static const struct penalty_settings settings = {
	.delay_ms = 100,
	.lockout_failures = 3,
	.lockout_ms = LOCK_MS,
};

/* The journal, taken and freed; returns the entry for (kind, key). */
struct taken {
	struct failure_change *c;
	size_t n;
	uint64_t dropped;
};

static void
take(struct penalty *p, struct taken *t)
{
	t->c = penalty_take(p, &t->n, &t->dropped);
}

static const struct failure_change *
find(const struct taken *t, enum failure_kind kind, const char *key)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (t->c[i].kind == kind && strcmp(t->c[i].key, key) == 0)
			return &t->c[i];
	}
	return NULL;
}

/* find(), failing the test when there is none. */
static const struct failure_change *
must_find(const struct taken *t, enum failure_kind kind, const char *key)
{
	static const struct failure_change none;
	const struct failure_change *c = find(t, kind, key);

	if (c == NULL) {
		fail_msg("no journal entry for %s", key);
		return &none; /* fail_msg() does not return */
	}
	return c;
}

static void
drop(struct taken *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->c[i].key);
	free(t->c);
	memset(t, 0, sizeof(*t));
}

static void
local_lockout_and_delay(void **state)
{
	struct penalty *p = penalty_new(&settings);

	(void)state;
	assert_int_equal(penalty_fail(p, "192.0.2.1", "a@example.org", 0), 100);
	assert_int_equal(penalty_fail(p, "192.0.2.1", "a@example.org", 1), 200);
	assert_false(penalty_locked(p, "192.0.2.1", NULL, 2));
	assert_int_equal(penalty_fail(p, "192.0.2.9", "A@EXAMPLE.org", 2), 400);
	/* The mailbox reached 3 (any case), the first address only 2. */
	assert_true(penalty_locked(p, "198.51.100.1", "a@example.org", 3));
	assert_false(penalty_locked(p, "192.0.2.1", "b@example.org", 3));
	assert_false(penalty_locked(p, "", "a@example.org", 3 + LOCK_MS));
	penalty_free(&p);
	assert_null(p);
}

static void
journal_counts_and_canonical_keys(void **state)
{
	struct penalty *p = penalty_new(&settings);
	const struct failure_change *c;
	struct taken t;

	(void)state;
	(void)penalty_fail(p, "2001:DB8::1", "Bob@Example.ORG", 0);
	(void)penalty_fail(p, "2001:db8::1", "bob@example.org", 1);
	(void)penalty_fail(p, "", "not an address", 2);
	(void)penalty_fail(p, "192.0.2.7", NULL, 3);
	take(p, &t);
	assert_int_equal(t.n, 3);
	assert_int_equal(t.dropped, 0);
	c = must_find(&t, FAILURE_ADDRESS, "2001:db8::1");
	assert_int_equal(c->failures, 2);
	assert_false(c->clear);
	c = must_find(&t, FAILURE_MAILBOX, "bob@example.org");
	assert_int_equal(c->failures, 2);
	assert_non_null(find(&t, FAILURE_ADDRESS, "192.0.2.7"));
	/* Not a mail address: counted here, never shared. */
	assert_null(find(&t, FAILURE_MAILBOX, "not an address"));
	drop(&t);
	/* Taking empties the journal. */
	take(p, &t);
	assert_int_equal(t.n, 0);
	drop(&t);
	penalty_free(&p);
}

static void
journal_success_clears_only_known_counts(void **state)
{
	struct penalty *p = penalty_new(&settings);
	const struct failure_change *c;
	struct taken t;

	(void)state;
	(void)penalty_fail(p, "192.0.2.1", "a@example.org", 0);
	penalty_success(p, "192.0.2.1", "a@example.org", 1);
	/* Nothing counted for these: a success journals nothing. */
	penalty_success(p, "192.0.2.2", "z@example.org", 1);
	take(p, &t);
	assert_int_equal(t.n, 2);
	c = must_find(&t, FAILURE_MAILBOX, "a@example.org");
	assert_true(c->clear);
	assert_int_equal(c->failures, 0);
	assert_null(find(&t, FAILURE_MAILBOX, "z@example.org"));
	drop(&t);
	penalty_free(&p);
}

static void
journal_full_drops_and_counts(void **state)
{
	struct penalty *p = penalty_new(&settings);
	char rip[32];
	struct taken t;
	unsigned int i;

	(void)state;
	for (i = 0; i < PENALTY_JOURNAL_MAX + 5; i++) {
		(void)snprintf(
		    rip, sizeof(rip), "10.%u.%u.1", i / 256, i % 256);
		(void)penalty_fail(p, rip, NULL, i);
	}
	take(p, &t);
	assert_int_equal(t.n, PENALTY_JOURNAL_MAX);
	assert_int_equal(t.dropped, 5);
	drop(&t);
	take(p, &t);
	assert_int_equal(t.dropped, 0);
	drop(&t);
	penalty_free(&p);
}

static void
merge_locks_and_counts(void **state)
{
	struct penalty *p = penalty_new(&settings);
	char rip[] = "192.0.2.1", box[] = "a@example.org";
	struct failure_state st[2] = {
		{ FAILURE_ADDRESS, rip, 9, 5000 },
		{ FAILURE_MAILBOX, box, 2, 0 },
	};

	(void)state;
	penalty_merge(p, st, 2, 1000);
	assert_true(penalty_locked(p, "192.0.2.1", NULL, 1000));
	assert_true(penalty_locked(p, "192.0.2.1", NULL, 5999));
	assert_false(penalty_locked(p, "192.0.2.1", NULL, 6000));
	/* The merged count drives the delay: 2 known, this is the 3rd. */
	assert_int_equal(penalty_delay(p, "", "a@example.org", 1001), 200);
	assert_int_equal(penalty_fail(p, "", "a@example.org", 1002), 400);
	assert_true(penalty_locked(p, "", "a@example.org", 1003));
	/* A shorter lock from the database never shortens a local one. */
	st[1].locked_ms = 10;
	penalty_merge(p, &st[1], 1, 1004);
	assert_true(penalty_locked(p, "", "a@example.org", 2000));
	penalty_free(&p);
}

static void
merge_lifted_forgets_lock(void **state)
{
	struct penalty *p = penalty_new(&settings);
	char box[] = "a@example.org";
	struct failure_state lifted = { FAILURE_MAILBOX, box, 0, 0 };
	unsigned int i;

	(void)state;
	for (i = 0; i < 3; i++)
		(void)penalty_fail(p, "", "a@example.org", i);
	assert_true(penalty_locked(p, "", "a@example.org", 3));
	penalty_merge(p, &lifted, 1, 4);
	assert_false(penalty_locked(p, "", "a@example.org", 5));
	/* Counting starts again from nothing. */
	assert_int_equal(penalty_fail(p, "", "a@example.org", 6), 100);
	penalty_free(&p);
}

static void
merge_skips_count_cleared_meanwhile(void **state)
{
	struct penalty *p = penalty_new(&settings);
	char box[] = "a@example.org";
	struct failure_state st = { FAILURE_MAILBOX, box, 2, 0 };
	struct taken t;

	(void)state;
	(void)penalty_fail(p, "", "a@example.org", 0);
	take(p, &t); /* the batch that will answer "2" */
	drop(&t);
	penalty_success(p, "", "a@example.org", 1); /* journals a clear */
	penalty_merge(p, &st, 1, 2);
	assert_int_equal(penalty_delay(p, "", "a@example.org", 3), 100);
	/* A lock still applies. */
	st.locked_ms = 1000;
	penalty_merge(p, &st, 1, 4);
	assert_true(penalty_locked(p, "", "a@example.org", 5));
	penalty_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(local_lockout_and_delay),
		cmocka_unit_test(journal_counts_and_canonical_keys),
		cmocka_unit_test(journal_success_clears_only_known_counts),
		cmocka_unit_test(journal_full_drops_and_counts),
		cmocka_unit_test(merge_locks_and_counts),
		cmocka_unit_test(merge_lifted_forgets_lock),
		cmocka_unit_test(merge_skips_count_cleared_meanwhile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
