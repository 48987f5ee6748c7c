/* SPDX-License-Identifier: MIT */
/*
 * test_web_store.c - login states and web sessions against a real
 * PostgreSQL. MG_TEST_DB_URL, or else MG_PG_URL (tests/run's own
 * database), names a database we may migrate and whose web tables we
 * may empty; without either every test is skipped.
 */
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
#include "mailgate/secret.h"
#include "mailgate/web_store.h"
#include "mailgate/xmalloc.h"

struct fixture {
	struct config cfg;
	struct db *db;
	struct db *db2; /* a second instance's connection */
	int64_t mailbox_id;
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
	unit_sql(f->db, "DELETE FROM web_sessions");
	unit_sql(f->db, "DELETE FROM web_login_states");
	unit_sql(f->db,
	    "INSERT INTO mailboxes (address, created_by) VALUES "
	    "('webstore@example.org', 'test') ON CONFLICT DO NOTHING");
	f->mailbox_id = unit_sql_int(f->db,
	    "SELECT id FROM mailboxes WHERE "
	    "address = 'webstore@example.org'");
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

static void
put_state(
    struct fixture *f, const char *state, const char *return_to, int64_t ttl)
{
	unsigned char h[WEB_STORE_HASH_LEN];
	struct secret *v = secret_from("verifier-0123456789-0123456789-"
				       "0123456789-0123456789",
	    52);
	struct web_login_new ln = { "nonce-0123456789abcdef", v, return_to, ttl,
		NULL, 0 };
	char *err = NULL;

	web_store_hash(state, strlen(state), h);
	assert_int_equal(web_store_login_put(f->db, h, &ln, &err), MG_OK);
	secret_free(&v);
}

static enum mg_result
take_state(struct db *db, const char *state, struct web_login_state *st,
    enum web_login_miss *miss)
{
	unsigned char h[WEB_STORE_HASH_LEN];
	char *err = NULL;
	enum mg_result r;

	web_store_hash(state, strlen(state), h);
	r = web_store_login_take(db, h, st, miss, &err);
	if (r == MG_TEMPFAIL)
		fail_msg("take: %s", err);
	return r;
}

static void
login_state_round_trip(void **state)
{
	struct fixture *f = *state;
	struct web_login_state st;
	enum web_login_miss miss;

	UNIT_NEED_DB(f);
	put_state(f, "state-round-trip", "/inbox?x=1", 600);
	assert_int_equal(
	    take_state(f->db, "state-round-trip", &st, &miss), MG_OK);
	assert_string_equal(st.nonce, "nonce-0123456789abcdef");
	assert_int_equal(st.verifier->len, 52);
	assert_memory_equal(st.verifier->buf, "verifier-0123456789", 19);
	assert_string_equal(st.return_to, "/inbox?x=1");
	web_login_state_deinit(&st);
	assert_null(st.verifier);
}

/* An address may have max_per_ip live states; others are not held up. */
static void
login_state_bound_per_address(void **state)
{
	struct fixture *f = *state;
	struct secret *v = secret_from("verifier-0123456789-0123456789-"
				       "0123456789-0123456789",
	    52);
	struct web_login_new ln = { "nonce-0123456789abcdef", v, NULL, 600,
		"192.0.2.7", 3 };
	unsigned char h[WEB_STORE_HASH_LEN];
	char name[32], *err = NULL;
	int i;

	UNIT_NEED_DB(f);
	for (i = 0; i < 4; i++) {
		(void)snprintf(name, sizeof(name), "state-bound-%d", i);
		web_store_hash(name, strlen(name), h);
		assert_int_equal(web_store_login_put(f->db, h, &ln, &err),
		    i < 3 ? MG_OK : MG_PERMFAIL);
	}
	assert_non_null(strstr(err, "in progress"));
	free(err);
	err = NULL;
	ln.ip = "192.0.2.8";
	web_store_hash("state-bound-other", 17, h);
	assert_int_equal(web_store_login_put(f->db, h, &ln, &err), MG_OK);
	secret_free(&v);
}

/* Negative cases: each must say no, and say why. */
static void
login_state_refusals(void **state)
{
	struct fixture *f = *state;
	struct web_login_state st;
	enum web_login_miss miss;

	UNIT_NEED_DB(f);
	/* Never issued. */
	assert_int_equal(
	    take_state(f->db, "never-issued", &st, &miss), MG_PERMFAIL);
	assert_int_equal(miss, WEB_LOGIN_MISS_UNKNOWN);

	/* Used twice: the second use finds nothing, on another instance. */
	put_state(f, "state-replayed", NULL, 600);
	assert_int_equal(
	    take_state(f->db2, "state-replayed", &st, &miss), MG_OK);
	assert_string_equal(st.return_to, "");
	web_login_state_deinit(&st);
	assert_int_equal(
	    take_state(f->db, "state-replayed", &st, &miss), MG_PERMFAIL);
	assert_int_equal(miss, WEB_LOGIN_MISS_UNKNOWN);

	/* Expired: refused, and gone afterwards. */
	put_state(f, "state-expired", NULL, 600);
	unit_sql(f->db,
	    "UPDATE web_login_states SET created_at = now() - "
	    "interval '20 min', expires_at = now() - interval '10 min'");
	assert_int_equal(
	    take_state(f->db, "state-expired", &st, &miss), MG_PERMFAIL);
	assert_int_equal(miss, WEB_LOGIN_MISS_EXPIRED);
	assert_int_equal(
	    take_state(f->db, "state-expired", &st, &miss), MG_PERMFAIL);
	assert_int_equal(miss, WEB_LOGIN_MISS_UNKNOWN);

	/* A state's prefix or a near miss is a different state. */
	put_state(f, "state-near", NULL, 600);
	assert_int_equal(
	    take_state(f->db, "state-nea", &st, &miss), MG_PERMFAIL);
	assert_int_equal(
	    take_state(f->db, "state-near ", &st, &miss), MG_PERMFAIL);
	assert_int_equal(
	    take_state(f->db, "State-near", &st, &miss), MG_PERMFAIL);
}

static void
login_state_never_stored_in_clear(void **state)
{
	struct fixture *f = *state;

	UNIT_NEED_DB(f);
	put_state(f, "state-look-for-me", NULL, 600);
	assert_int_equal(unit_sql_int(f->db,
			     "SELECT count(*) FROM web_login_states "
			     "WHERE position('state-look-for-me' IN "
			     "encode(state_hash, 'escape') || nonce "
			     "|| code_verifier) > 0"),
	    0);
	assert_int_equal(unit_sql_int(f->db,
			     "SELECT count(*) FROM web_login_states "
			     "WHERE state_hash = sha256("
			     "'state-look-for-me'::bytea)"),
	    1);
}

static void
login_state_rejects_bad_return_to(void **state)
{
	struct fixture *f = *state;
	PGresult *res;

	UNIT_NEED_DB(f);
	/* The table refuses what the web code must never store. */
	res = PQexec(db_pgconn(f->db),
	    "INSERT INTO web_login_states (state_hash, nonce, code_verifier, "
	    "return_to, expires_at) VALUES (sha256('x'::bytea), "
	    "'nonce-0123456789abcdef', repeat('v', 43), '//evil.example', "
	    "now() + interval '1 min')");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
}

static void
new_session(struct fixture *f, const char *id, bool mfa, const char *notice)
{
	unsigned char h[WEB_STORE_HASH_LEN];
	struct web_session_new sn = { 0 };
	char *err = NULL;

	sn.mailbox_id = f->mailbox_id;
	sn.mfa = mfa;
	sn.notice = notice;
	sn.max_age = 3600;
	sn.ip = "192.0.2.7";
	web_store_hash(id, strlen(id), h);
	if (web_store_session_create(f->db, h, &sn, &err) != MG_OK)
		fail_msg("create: %s", err);
}

static enum mg_result
touch(struct db *db, const char *id, int64_t idle, struct web_session *s)
{
	unsigned char h[WEB_STORE_HASH_LEN];
	char *err = NULL;
	enum mg_result r;

	web_store_hash(id, strlen(id), h);
	r = web_store_session_touch(db, h, idle, s, &err);
	if (r == MG_TEMPFAIL)
		fail_msg("touch: %s", err);
	return r;
}

static void
session_round_trip(void **state)
{
	struct fixture *f = *state;
	unsigned char h[WEB_STORE_HASH_LEN];
	struct web_session s;
	char *err = NULL;

	UNIT_NEED_DB(f);
	new_session(f, "session-one", true, "your provider now says x");
	assert_int_equal(touch(f->db2, "session-one", 1800, &s), MG_OK);
	assert_string_equal(s.mailbox, "webstore@example.org");
	assert_int_equal(s.mailbox_id, f->mailbox_id);
	assert_true(s.mailbox_enabled);
	assert_true(s.mfa);
	assert_string_equal(s.notice, "your provider now says x");
	assert_true(s.expires_at > s.created_at);

	web_store_hash("session-one", 11, h);
	assert_int_equal(web_store_session_delete(f->db, h, &err), MG_OK);
	assert_int_equal(touch(f->db, "session-one", 1800, &s), MG_PERMFAIL);
	/* Deleting twice is fine: sign-out is idempotent. */
	assert_int_equal(web_store_session_delete(f->db, h, &err), MG_OK);
}

static void
session_refusals(void **state)
{
	struct fixture *f = *state;
	struct web_session s;

	UNIT_NEED_DB(f);
	assert_int_equal(
	    touch(f->db, "no-such-session", 1800, &s), MG_PERMFAIL);

	/* Idle too long: refused and deleted. */
	new_session(f, "session-idle", false, NULL);
	unit_sql(f->db,
	    "UPDATE web_sessions SET last_seen_at = now() - "
	    "interval '31 min' WHERE id_hash = sha256('session-idle')");
	assert_int_equal(touch(f->db, "session-idle", 1800, &s), MG_PERMFAIL);
	assert_int_equal(unit_sql_int(f->db,
			     "SELECT count(*) FROM web_sessions "
			     "WHERE id_hash = sha256('session-idle')"),
	    0);

	/* Past its absolute end, however busy. */
	new_session(f, "session-old", false, NULL);
	unit_sql(f->db,
	    "UPDATE web_sessions SET created_at = now() - "
	    "interval '13 h', expires_at = now() - interval '1 h' "
	    "WHERE id_hash = sha256('session-old')");
	assert_int_equal(touch(f->db, "session-old", 1800, &s), MG_PERMFAIL);

	/* A disabled mailbox is reported, for the caller to refuse. */
	new_session(f, "session-disabled", false, NULL);
	unit_sql(f->db,
	    "UPDATE mailboxes SET enabled = false WHERE "
	    "address = 'webstore@example.org'");
	assert_int_equal(touch(f->db, "session-disabled", 1800, &s), MG_OK);
	assert_false(s.mailbox_enabled);
	assert_false(s.mfa);
	assert_string_equal(s.notice, "");
	unit_sql(f->db,
	    "UPDATE mailboxes SET enabled = true WHERE "
	    "address = 'webstore@example.org'");
}

/* A session opened through an identity link ends when the link goes. */
static void
session_ends_with_its_identity_link(void **state)
{
	struct fixture *f = *state;
	unsigned char h[WEB_STORE_HASH_LEN];
	struct web_session_new sn = { 0 };
	struct web_session s;
	char *err = NULL;

	UNIT_NEED_DB(f);
	unit_sql(f->db,
	    "INSERT INTO identities (issuer, subject, mailbox_id, created_by) "
	    "SELECT 'https://idp.example/', 'sub-linked', id, 'test' FROM "
	    "mailboxes WHERE address = 'webstore@example.org' "
	    "ON CONFLICT DO NOTHING");
	sn.mailbox_id = f->mailbox_id;
	sn.issuer = "https://idp.example/";
	sn.subject = "sub-linked";
	sn.max_age = 3600;
	web_store_hash("session-linked", 14, h);
	assert_int_equal(web_store_session_create(f->db, h, &sn, &err), MG_OK);
	new_session(f, "session-unlinked", false, NULL);
	assert_int_equal(unit_sql_int(f->db,
			     "SELECT count(*) FROM web_sessions s JOIN "
			     "identities i ON i.id = s.identity_id WHERE "
			     "s.id_hash = sha256('session-linked')"),
	    1);
	assert_int_equal(touch(f->db, "session-linked", 1800, &s), MG_OK);

	unit_sql(f->db, "DELETE FROM identities WHERE subject = 'sub-linked'");
	assert_int_equal(touch(f->db, "session-linked", 1800, &s), MG_PERMFAIL);
	assert_int_equal(touch(f->db, "session-unlinked", 1800, &s), MG_OK);
}

static void
purge_removes_only_dead_rows(void **state)
{
	struct fixture *f = *state;
	unsigned int states = 99, sessions = 99;
	char *err = NULL;

	UNIT_NEED_DB(f);
	unit_sql(f->db, "DELETE FROM web_sessions");
	unit_sql(f->db, "DELETE FROM web_login_states");
	put_state(f, "purge-live", NULL, 600);
	put_state(f, "purge-dead", NULL, 600);
	unit_sql(f->db,
	    "UPDATE web_login_states SET created_at = now() - "
	    "interval '1 h', expires_at = now() - interval '1 min' "
	    "WHERE state_hash = sha256('purge-dead')");
	new_session(f, "purge-live", false, NULL);
	new_session(f, "purge-idle", false, NULL);
	unit_sql(f->db,
	    "UPDATE web_sessions SET last_seen_at = now() - "
	    "interval '2 h' WHERE id_hash = sha256('purge-idle')");
	assert_int_equal(
	    web_store_purge(f->db, 1800, &states, &sessions, &err), MG_OK);
	assert_int_equal(states, 1);
	assert_int_equal(sessions, 1);
	assert_int_equal(
	    unit_sql_int(f->db, "SELECT count(*) FROM web_sessions"), 1);
	assert_int_equal(web_store_ping(f->db, &err), MG_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(login_state_round_trip),
		cmocka_unit_test(login_state_bound_per_address),
		cmocka_unit_test(login_state_refusals),
		cmocka_unit_test(login_state_never_stored_in_clear),
		cmocka_unit_test(login_state_rejects_bad_return_to),
		cmocka_unit_test(session_round_trip),
		cmocka_unit_test(session_refusals),
		cmocka_unit_test(session_ends_with_its_identity_link),
		cmocka_unit_test(purge_removes_only_dead_rows),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
