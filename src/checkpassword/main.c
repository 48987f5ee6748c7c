/* SPDX-License-Identifier: MIT */
/*
 * main.c - mailgate-checkpassword: Dovecot 2.3's checkpassword passdb
 * asks mailgated whether an app token opens a mailbox.
 * Input: fd 3 and the environment from Dovecot's auth process (user
 * and password typed by anyone), argv from Dovecot's configuration.
 * Runs as the dovecot user, once per login: reads no configuration
 * file, holds no database credentials, never prints the password.
 *
 * Exit: 1 wrong credentials, 111 no answer (mailgated down, slow, or
 * a malformed request), otherwise the reply program's status.
 */
#include "checkpw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECKPW_FD     3
#define CHECKPW_PROG   "mailgate-checkpassword"
#define CHECKPW_ID_MAX 10 /* digits of a uid or gid */

struct checkpw_opts {
	struct checkpw_target target;
	int timeout_s;
	const char *uid; /* userdb_uid for prefetch, or NULL */
	const char *gid;
	char **reply_argv; /* the program Dovecot appended, and its args */
};

static void checkpw_main_die(int status, const char *msg, const char *detail)
    __attribute__((noreturn));

/* One line on stderr: Dovecot logs it as "auth: Error: ...". */
static void
checkpw_main_die(int status, const char *msg, const char *detail)
{
	(void)fprintf(stderr, "%s: %s%s%s\n", CHECKPW_PROG, msg,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	exit(status);
}

static bool
checkpw_main_digits(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= max || s[i] < '0' || s[i] > '9')
			return false;
	}
	return i > 0;
}

static int
checkpw_main_timeout(const char *s)
{
	int v = 0;

	if (!checkpw_main_digits(s, 2))
		return -1;
	for (; *s != '\0'; s++)
		v = v * 10 + (*s - '0');
	return v >= 1 && v <= CHECKPW_TIMEOUT_MAX ? v : -1;
}

static void
checkpw_main_opt(struct checkpw_opts *o, const char *name, const char *val)
{
	if (strcmp(name, "--socket") == 0) {
		if (checkpw_target_unix(val, &o->target) < 0)
			checkpw_main_die(CHECKPW_EXIT_TEMPFAIL,
			    "--socket needs an absolute path under 108 bytes",
			    NULL);
	} else if (strcmp(name, "--tcp") == 0) {
		if (checkpw_target_tcp(val, &o->target) < 0)
			checkpw_main_die(CHECKPW_EXIT_TEMPFAIL,
			    "--tcp needs IP:PORT or [IPv6]:PORT", NULL);
	} else if (strcmp(name, "--timeout") == 0) {
		o->timeout_s = checkpw_main_timeout(val);
		if (o->timeout_s < 0)
			checkpw_main_die(CHECKPW_EXIT_TEMPFAIL,
			    "--timeout needs whole seconds, 1 to 60", NULL);
	} else if (strcmp(name, "--uid") == 0 || strcmp(name, "--gid") == 0) {
		if (!checkpw_main_digits(val, CHECKPW_ID_MAX))
			checkpw_main_die(CHECKPW_EXIT_TEMPFAIL,
			    "--uid and --gid need a number", NULL);
		if (name[2] == 'u')
			o->uid = val;
		else
			o->gid = val;
	} else {
		checkpw_main_die(CHECKPW_EXIT_TEMPFAIL, "unknown option", name);
	}
}

static void
checkpw_main_args(int argc, char **argv, struct checkpw_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->timeout_s = CHECKPW_TIMEOUT_DEFAULT;
	if (checkpw_target_unix(CHECKPW_DEFAULT_SOCKET, &o->target) < 0)
		MG_BUG("default socket path");

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (i + 1 >= argc)
			checkpw_main_die(CHECKPW_EXIT_TEMPFAIL,
			    "option needs a value", argv[i]);
		checkpw_main_opt(o, argv[i], argv[i + 1]);
	}
	if ((o->uid == NULL) != (o->gid == NULL))
		checkpw_main_die(
		    CHECKPW_EXIT_TEMPFAIL, "--uid and --gid go together", NULL);
	/* No PATH here: the reply program must be named absolutely. */
	if (i >= argc || argv[i][0] != '/')
		checkpw_main_die(CHECKPW_EXIT_TEMPFAIL,
		    "no absolute reply program after the options "
		    "(Dovecot appends checkpassword-reply)",
		    NULL);
	o->reply_argv = argv + i;
}

/* Read fd 3 to EOF; one byte over the limit is enough to refuse. */
static size_t
checkpw_main_read_fd3(unsigned char *buf, size_t size)
{
	size_t used = 0;
	ssize_t n;

	while (used < size) {
		n = read(CHECKPW_FD, buf + used, size - used);
		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			checkpw_main_die(CHECKPW_EXIT_TEMPFAIL,
			    "cannot read the request on fd 3 (not run by "
			    "Dovecot?)",
			    strerror(errno));
		used += (size_t)n;
	}
	(void)close(CHECKPW_FD);
	return used;
}

static const char *
checkpw_main_getenv(const char *name)
{
	return getenv(name);
}

/* Ask mailgated. Returns its canonical user name on success. */
static void
checkpw_main_ask(const struct checkpw_opts *o, struct checkpw_creds *creds,
    const struct checkpw_env *env, struct checkpw_reply *reply)
{
	char req[CHECKPW_REPLY_LINE_MAX];
	const char *errstr = NULL;
	enum mg_result res;
	size_t len;

	len = checkpw_request_build(
	    creds, env, (unsigned long)getpid(), req, sizeof(req));
	checkpw_creds_deinit(creds); /* the password lives only in req now */
	MG_ASSERT(len > 0);

	checkpw_reply_init(reply);
	res = checkpw_client_run(
	    &o->target, o->timeout_s * 1000, req, len, reply, &errstr);
	secret_wipe(req, sizeof(req));
	if (res != MG_OK)
		checkpw_main_die(CHECKPW_EXIT_TEMPFAIL, errstr, NULL);
	if (reply->result == MG_TEMPFAIL)
		checkpw_main_die(CHECKPW_EXIT_TEMPFAIL,
		    "mailgated reported a temporary failure", NULL);
	if (reply->result != MG_OK)
		exit(CHECKPW_EXIT_PERMFAIL); /* mailgated logged why */
}

static void checkpw_main_exec(const struct checkpw_opts *o, const char *user)
    __attribute__((noreturn));

/* Hand over to checkpassword-reply with what it should report. */
static void
checkpw_main_exec(const struct checkpw_opts *o, const char *user)
{
	/* Only what we define reaches the reply program's answer. */
	if (setenv("USER", user, 1) < 0 || unsetenv("HOME") < 0 ||
	    unsetenv("EXTRA") < 0 || unsetenv("INSECURE_SETUID") < 0)
		checkpw_main_die(CHECKPW_EXIT_TEMPFAIL, "setenv", NULL);
	if (o->uid != NULL &&
	    (setenv("USERDB_UID", o->uid, 1) < 0 ||
		setenv("USERDB_GID", o->gid, 1) < 0 ||
		setenv("EXTRA", "USERDB_UID USERDB_GID", 1) < 0))
		checkpw_main_die(CHECKPW_EXIT_TEMPFAIL, "setenv", NULL);

	alarm(0);
	execv(o->reply_argv[0], o->reply_argv);
	checkpw_main_die(CHECKPW_EXIT_TEMPFAIL, "cannot run the reply program",
	    strerror(errno));
}

int
main(int argc, char **argv)
{
	unsigned char raw[CHECKPW_REQUEST_MAX + 1];
	struct checkpw_opts opts;
	struct checkpw_creds creds;
	struct checkpw_env env;
	struct checkpw_reply reply;
	const char *errstr = NULL;
	enum mg_result res;
	size_t len;

	checkpw_main_args(argc, argv, &opts);
	/* Backstop for a writer that never closes fd 3: die by signal,
	 * which Dovecot reports as an internal failure. */
	alarm((unsigned int)opts.timeout_s + 1);

	len = checkpw_main_read_fd3(raw, sizeof(raw));
	res = checkpw_request_parse(raw, len, &creds, &errstr);
	secret_wipe(raw, sizeof(raw));
	if (res != MG_OK)
		checkpw_main_die(res == MG_PERMFAIL ? CHECKPW_EXIT_PERMFAIL :
						      CHECKPW_EXIT_TEMPFAIL,
		    errstr, NULL);

	if (checkpw_env_read(checkpw_main_getenv, &env, &errstr) != MG_OK) {
		checkpw_creds_deinit(&creds);
		checkpw_main_die(
		    CHECKPW_EXIT_PERMFAIL, errstr, getenv("SERVICE"));
	}
	if (env.lookup) {
		checkpw_creds_deinit(&creds);
		checkpw_main_die(CHECKPW_EXIT_TEMPFAIL,
		    "refusing a userdb or credentials lookup: app tokens "
		    "cannot be looked up (configure a static or prefetch "
		    "userdb)",
		    NULL);
	}
	if (creds.pass->len == 0) {
		checkpw_creds_deinit(&creds);
		exit(CHECKPW_EXIT_PERMFAIL); /* no token is empty */
	}

	checkpw_main_ask(&opts, &creds, &env, &reply);
	checkpw_main_exec(&opts, reply.user);
}
