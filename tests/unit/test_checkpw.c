/* SPDX-License-Identifier: MIT */
/*
 * test_checkpw.c - mailgate-checkpassword's parsers: the fd 3 request,
 * the environment, the AUTH line, mailgated's reply lines and the
 * --socket/--tcp targets. The sources are compiled in directly: the
 * helper is a program, not a library.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "checkpassword/checkpw.h"

#define LEN(s) (sizeof(s) - 1)

static const struct {
	const char *name;
	const char *buf;
	size_t len;
	enum mg_result want;
	const char *user;
	const char *pass;
} req_cases[] = {
	{ "dovecot request", "alice@example.org\0tok\0\0",
	    LEN("alice@example.org\0tok\0\0"), MG_OK, "alice@example.org",
	    "tok" },
	{ "no timestamp field", "alice\0tok\0", LEN("alice\0tok\0"), MG_OK,
	    "alice", "tok" },
	{ "timestamp and more data ignored",
	    "a\0p\0"
	    "123\0junk",
	    LEN("a\0p\0"
		"123\0junk"),
	    MG_OK, "a", "p" },
	{ "empty password (lookup)", "alice\0\0\0", LEN("alice\0\0\0"), MG_OK,
	    "alice", "" },
	{ "empty", "", 0, MG_TEMPFAIL, NULL, NULL },
	{ "no NUL", "alice@example.org", LEN("alice@example.org"), MG_TEMPFAIL,
	    NULL, NULL },
	{ "one NUL", "alice\0tok", LEN("alice\0tok"), MG_TEMPFAIL, NULL, NULL },
	{ "only a NUL", "\0", 1, MG_TEMPFAIL, NULL, NULL },
	{ "empty user", "\0tok\0\0", LEN("\0tok\0\0"), MG_TEMPFAIL, NULL,
	    NULL },
	{ "user with SOH", "al\001ice\0tok\0\0", LEN("al\001ice\0tok\0\0"),
	    MG_PERMFAIL, NULL, NULL },
	{ "user with space", "al ice\0tok\0\0", LEN("al ice\0tok\0\0"),
	    MG_PERMFAIL, NULL, NULL },
	{ "user with TAB", "al\tice\0tok\0\0", LEN("al\tice\0tok\0\0"),
	    MG_PERMFAIL, NULL, NULL },
	{ "user with DEL", "al\177ice\0tok\0\0", LEN("al\177ice\0tok\0\0"),
	    MG_PERMFAIL, NULL, NULL },
	{ "user with LF", "al\nice\0tok\0\0", LEN("al\nice\0tok\0\0"),
	    MG_PERMFAIL, NULL, NULL },
	{ "password with TAB", "alice\0t\tok\0\0", LEN("alice\0t\tok\0\0"),
	    MG_PERMFAIL, NULL, NULL },
	{ "password with LF", "alice\0t\nok\0\0", LEN("alice\0t\nok\0\0"),
	    MG_PERMFAIL, NULL, NULL },
	{ "password with SOH", "alice\0t\001k\0\0", LEN("alice\0t\001k\0\0"),
	    MG_PERMFAIL, NULL, NULL },
	{ "password with DEL", "alice\0t\177k\0\0", LEN("alice\0t\177k\0\0"),
	    MG_PERMFAIL, NULL, NULL },
};

static void
test_request_parse(void **state)
{
	struct checkpw_creds creds;
	const char *errstr;
	enum mg_result res;
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(req_cases); i++) {
		memset(&creds, 0, sizeof(creds));
		errstr = NULL;
		res = checkpw_request_parse(
		    (const unsigned char *)req_cases[i].buf, req_cases[i].len,
		    &creds, &errstr);
		if (res != req_cases[i].want)
			fail_msg("%s: got %d", req_cases[i].name, (int)res);
		if (res != MG_OK) {
			assert_non_null(errstr);
			assert_null(creds.pass);
			continue;
		}
		assert_string_equal(creds.user, req_cases[i].user);
		assert_int_equal(creds.pass->len, strlen(req_cases[i].pass));
		assert_memory_equal(
		    creds.pass->buf, req_cases[i].pass, creds.pass->len);
		checkpw_creds_deinit(&creds);
		assert_null(creds.pass);
	}
}

/* Lengths at and around the limits. */
static void
test_request_limits(void **state)
{
	unsigned char buf[CHECKPW_REQUEST_MAX + 2];
	struct checkpw_creds creds = { 0 };
	const char *errstr;

	(void)state;
	/* 512 bytes: user 254, password 255, three NULs. */
	memset(buf, 'a', sizeof(buf));
	buf[ADDRESS_MAX] = '\0';
	buf[CHECKPW_REQUEST_MAX - 2] = '\0';
	buf[CHECKPW_REQUEST_MAX - 1] = '\0';
	assert_int_equal(
	    checkpw_request_parse(buf, CHECKPW_REQUEST_MAX, &creds, &errstr),
	    MG_OK);
	assert_int_equal(strlen(creds.user), ADDRESS_MAX);
	checkpw_creds_deinit(&creds);

	/* 513 bytes: never from Dovecot. */
	assert_int_equal(checkpw_request_parse(
			     buf, CHECKPW_REQUEST_MAX + 1, &creds, &errstr),
	    MG_TEMPFAIL);

	/* A user of 255 bytes cannot be a mailbox. */
	memset(buf, 'a', sizeof(buf));
	buf[ADDRESS_MAX + 1] = '\0';
	buf[ADDRESS_MAX + 5] = '\0';
	assert_int_equal(
	    checkpw_request_parse(buf, ADDRESS_MAX + 6, &creds, &errstr),
	    MG_PERMFAIL);
}

/* A fake environment: NULL-terminated name, value pairs. */
static const char *const *test_env;

static const char *
test_getenv(const char *name)
{
	size_t i;

	for (i = 0; test_env[i] != NULL; i += 2) {
		if (strcmp(test_env[i], name) == 0)
			return test_env[i + 1];
	}
	return NULL;
}

static const char long_value[] =
    "1111111111111111111111111111111111111111111111111111111111111111111";

/* A table read once: its padding does not matter. */
static const struct { /* NOLINT(clang-analyzer-optin.performance.Padding) */
	const char *name;
	const char *env[12];
	enum mg_result want;
	const char *service, *rip, *lip, *session;
	bool secured, lookup;
} env_cases[] = {
	{ "empty environment", { NULL }, MG_OK, "imap", "", "", "", false,
	    false },
	{ "imap login",
	    { "SERVICE", "imap", "TCPREMOTEIP", "192.0.2.7", "TCPLOCALIP",
		"127.0.0.1", "AUTH_SECURED", "secured", "AUTH_SESSION",
		"Ab+/c1", NULL },
	    MG_OK, "imap", "192.0.2.7", "127.0.0.1", "Ab+/c1", true, false },
	{ "pop3, IPv6",
	    { "SERVICE", "pop3", "TCPREMOTEIP", "2001:DB8::1", NULL }, MG_OK,
	    "pop3", "2001:db8::1", "", "", false, false },
	{ "unknown service", { "SERVICE", "doveadm", NULL }, MG_PERMFAIL, NULL,
	    NULL, NULL, NULL, false, false },
	{ "service in upper case", { "SERVICE", "IMAP", NULL }, MG_PERMFAIL,
	    NULL, NULL, NULL, NULL, false, false },
	{ "service with LF", { "SERVICE", "imap\n", NULL }, MG_PERMFAIL, NULL,
	    NULL, NULL, NULL, false, false },
	{ "service with TAB field", { "SERVICE", "imap\trip=1.2.3.4", NULL },
	    MG_PERMFAIL, NULL, NULL, NULL, NULL, false, false },
	{ "bad remote IP dropped", { "TCPREMOTEIP", "999.1.1.1", NULL }, MG_OK,
	    "imap", "", "", "", false, false },
	{ "remote IP with a field", { "TCPREMOTEIP", "1.2.3.4\tsecured", NULL },
	    MG_OK, "imap", "", "", "", false, false },
	{ "remote IP too long", { "TCPREMOTEIP", long_value, NULL }, MG_OK,
	    "imap", "", "", "", false, false },
	{ "local IP hostname dropped", { "TCPLOCALIP", "localhost", NULL },
	    MG_OK, "imap", "", "", "", false, false },
	{ "session with TAB dropped", { "AUTH_SESSION", "ab\tcd", NULL }, MG_OK,
	    "imap", "", "", "", false, false },
	{ "session too long dropped", { "AUTH_SESSION", long_value, NULL },
	    MG_OK, "imap", "", "", "", false, false },
	{ "secured only when said", { "AUTH_SECURED", "yes", NULL }, MG_OK,
	    "imap", "", "", "", false, false },
	{ "userdb lookup", { "AUTHORIZED", "1", NULL }, MG_OK, "imap", "", "",
	    "", false, true },
	{ "credentials lookup", { "CREDENTIALS_LOOKUP", "1", NULL }, MG_OK,
	    "imap", "", "", "", false, true },
	{ "empty AUTHORIZED", { "AUTHORIZED", "", NULL }, MG_OK, "imap", "", "",
	    "", false, false },
};

static void
test_env_read(void **state)
{
	struct checkpw_env env;
	const char *errstr;
	enum mg_result res;
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(env_cases); i++) {
		test_env = env_cases[i].env;
		errstr = NULL;
		res = checkpw_env_read(test_getenv, &env, &errstr);
		if (res != env_cases[i].want)
			fail_msg("%s: got %d", env_cases[i].name, (int)res);
		if (res != MG_OK) {
			assert_non_null(errstr);
			continue;
		}
		assert_string_equal(env.service, env_cases[i].service);
		assert_string_equal(env.rip, env_cases[i].rip);
		assert_string_equal(env.lip, env_cases[i].lip);
		assert_string_equal(env.session, env_cases[i].session);
		if (env.secured != env_cases[i].secured ||
		    env.lookup != env_cases[i].lookup)
			fail_msg("%s: flags", env_cases[i].name);
	}
}

static void
test_request_build(void **state)
{
	struct checkpw_creds creds = { .user = "alice@example.org" };
	struct checkpw_env env = {
		.service = "imap", .rip = "192.0.2.7", .secured = true
	};
	char buf[1024];
	size_t n;

	(void)state;
	creds.pass = secret_from("tok", 3);
	n = checkpw_request_build(&creds, &env, 42, buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	/* b64("\0alice@example.org\0tok") */
	assert_string_equal(buf,
	    "VERSION\t1\t2\nCPID\t42\n"
	    "AUTH\t1\tPLAIN\tservice=imap\trip=192.0.2.7\tsecured\t"
	    "resp=AGFsaWNlQGV4YW1wbGUub3JnAHRvaw==\n");

	/* Too small: nothing, and nothing left behind. */
	n = checkpw_request_build(&creds, &env, 42, buf, 40);
	assert_int_equal(n, 0);
	assert_int_equal(buf[0], '\0');
	secret_free(&creds.pass);
}

#define A16 "aaaaaaaaaaaaaaaa"
#define A64 A16 A16 A16 A16
#define HS                                                                     \
	"VERSION\t1\t2", "MECH\tPLAIN\tplaintext", "MECH\tLOGIN", "SPID\t7",   \
	    "CUID\t1", "COOKIE\t0123456789abcdef0123456789abcdef", "DONE"

static const struct {
	const char *name;
	const char *lines[12];
	int want; /* return of the last feed */
	enum mg_result result;
	const char *user;
} reply_cases[] = {
	{ "ok", { HS, "OK\t1\tuser=alice@example.org", NULL }, 1, MG_OK,
	    "alice@example.org" },
	{ "ok with extra fields", { HS, "OK\t1\tuser=a@b.c\tnologin", NULL }, 1,
	    MG_OK, "a@b.c" },
	{ "other id skipped",
	    { HS, "OK\t2\tuser=x@y.z", "OK\t1\tuser=a@b.c", NULL }, 1, MG_OK,
	    "a@b.c" },
	{ "fail", { HS, "FAIL\t1\tuser=alice@example.org", NULL }, 1,
	    MG_PERMFAIL, NULL },
	{ "bare fail", { HS, "FAIL\t1", NULL }, 1, MG_PERMFAIL, NULL },
	{ "fail temp_fail", { HS, "FAIL\t1\tcode=temp_fail", NULL }, 1,
	    MG_TEMPFAIL, NULL },
	{ "fail old temp code", { HS, "FAIL\t1\tcode=temp", NULL }, 1,
	    MG_TEMPFAIL, NULL },
	{ "fail other code", { HS, "FAIL\t1\tcode=temp_failure", NULL }, 1,
	    MG_PERMFAIL, NULL },
	{ "fail user_disabled", { HS, "FAIL\t1\tcode=user_disabled", NULL }, 1,
	    MG_PERMFAIL, NULL },
	{ "mech in lower case",
	    { "VERSION\t1\t2", "MECH\tplain", "DONE", "OK\t1\tuser=a@b.c",
		NULL },
	    1, MG_OK, "a@b.c" },
	{ "reply id 10 is not ours", { HS, "OK\t10\tuser=a@b.c", NULL }, 0,
	    MG_TEMPFAIL, NULL },
	{ "reply id 1x is not ours", { HS, "OK\t1x\tuser=a@b.c", NULL }, 0,
	    MG_TEMPFAIL, NULL },
	{ "ok before DONE ignored",
	    { "VERSION\t1\t2", "MECH\tPLAIN", "OK\t1\tuser=a@b.c", NULL }, 0,
	    MG_TEMPFAIL, NULL },
	{ "ok without user", { HS, "OK\t1", NULL }, -1, MG_TEMPFAIL, NULL },
	{ "ok with empty user", { HS, "OK\t1\tuser=", NULL }, -1, MG_TEMPFAIL,
	    NULL },
	{ "ok user with space", { HS, "OK\t1\tuser=a b", NULL }, -1,
	    MG_TEMPFAIL, NULL },
	{ "ok user with SOH", { HS, "OK\t1\tuser=a\001tb", NULL }, -1,
	    MG_TEMPFAIL, NULL },
	{ "ok user with CR", { HS, "OK\t1\tuser=a@b.c\r", NULL }, -1,
	    MG_TEMPFAIL, NULL },
	{ "ok user over 254", { HS, "OK\t1\tuser=" A64 A64 A64 A64, NULL }, -1,
	    MG_TEMPFAIL, NULL },
	{ "cont", { HS, "CONT\t1\t", NULL }, -1, MG_TEMPFAIL, NULL },
	{ "unknown reply", { HS, "BOGUS\t1", NULL }, -1, MG_TEMPFAIL, NULL },
	{ "no VERSION first", { "MECH\tPLAIN", NULL }, -1, MG_TEMPFAIL, NULL },
	{ "VERSION 2", { "VERSION\t2\t0", NULL }, -1, MG_TEMPFAIL, NULL },
	{ "VERSION minor not a number", { "VERSION\t1\tx", NULL }, -1,
	    MG_TEMPFAIL, NULL },
	{ "VERSION without minor", { "VERSION\t1\t", NULL }, -1, MG_TEMPFAIL,
	    NULL },
	{ "no PLAIN offered", { "VERSION\t1\t2", "MECH\tLOGIN", "DONE", NULL },
	    -1, MG_TEMPFAIL, NULL },
	{ "PLAINX is not PLAIN",
	    { "VERSION\t1\t2", "MECH\tPLAINX", "DONE", NULL }, -1, MG_TEMPFAIL,
	    NULL },
	{ "OKAY is not OK", { HS, "OKAY\t1\tuser=a@b.c", NULL }, -1,
	    MG_TEMPFAIL, NULL },
};

static void
test_reply_feed(void **state)
{
	struct checkpw_reply r;
	const char *line;
	size_t i, j;
	int ret;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(reply_cases); i++) {
		checkpw_reply_init(&r);
		ret = 0;
		for (j = 0; reply_cases[i].lines[j] != NULL; j++) {
			line = reply_cases[i].lines[j];
			ret = checkpw_reply_feed(&r, line, strlen(line));
			if (ret != 0)
				break;
		}
		/* Decided exactly at the last line, or not at all. */
		if (ret != reply_cases[i].want ||
		    (ret != 0 && reply_cases[i].lines[j + 1] != NULL))
			fail_msg("%s: got %d at line %zu", reply_cases[i].name,
			    ret, j);
		if (ret < 0)
			assert_non_null(r.errstr);
		if (ret != 1)
			continue;
		if (r.result != reply_cases[i].result)
			fail_msg("%s: result %d", reply_cases[i].name,
			    (int)r.result);
		if (reply_cases[i].user != NULL)
			assert_string_equal(r.user, reply_cases[i].user);
	}
}

static void
test_reply_nul(void **state)
{
	struct checkpw_reply r;

	(void)state;
	checkpw_reply_init(&r);
	assert_int_equal(checkpw_reply_feed(&r, "VERSION\t1\t2\0", 12), -1);
}

static const struct {
	const char *name;
	const char *arg;
	bool tcp;
	int want;
} target_cases[] = {
	{ "unix path", "/run/mailgate/auth", false, 0 },
	{ "ipv4", "127.0.0.1:9143", true, 0 },
	{ "ipv6", "[::1]:9143", true, 0 },
	{ "relative path", "run/mailgate/auth", false, -1 },
	{ "empty path", "", false, -1 },
	{ "path over sun_path",
	    "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    false, -1 },
	{ "host name", "localhost:9143", true, -1 },
	{ "no port", "127.0.0.1", true, -1 },
	{ "port 0", "127.0.0.1:0", true, -1 },
	{ "port 65536", "127.0.0.1:65536", true, -1 },
	{ "negative port", "127.0.0.1:-1", true, -1 },
	{ "port with letters", "127.0.0.1:91a", true, -1 },
	{ "port too long", "127.0.0.1:009143", true, -1 },
	{ "empty host", ":9143", true, -1 },
	{ "ipv6 without brackets", "::1:9143", true, -1 },
	{ "ipv6 bracket, no colon", "[::1]9143", true, -1 },
	{ "empty brackets", "[]:9143", true, -1 },
	{ "ipv4 in brackets", "[127.0.0.1]:9143", true, -1 },
};

static void
test_targets(void **state)
{
	struct checkpw_target t;
	int ret;
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(target_cases); i++) {
		ret = target_cases[i].tcp ?
		    checkpw_target_tcp(target_cases[i].arg, &t) :
		    checkpw_target_unix(target_cases[i].arg, &t);
		if (ret != target_cases[i].want)
			fail_msg("%s: got %d", target_cases[i].name, ret);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_parse),
		cmocka_unit_test(test_request_limits),
		cmocka_unit_test(test_env_read),
		cmocka_unit_test(test_request_build),
		cmocka_unit_test(test_reply_feed),
		cmocka_unit_test(test_reply_nul),
		cmocka_unit_test(test_targets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
