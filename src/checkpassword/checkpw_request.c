/* SPDX-License-Identifier: MIT */
/*
 * checkpw_request.c - what Dovecot hands mailgate-checkpassword (fd 3
 * and the environment), checked, and the AUTH request made of it.
 * Input: Dovecot's auth process, which passes on a username and a
 * password typed by anyone. Never prints the password; the request
 * buffer holds it in base64 and the caller wipes it.
 */
#include "checkpw.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "mailgate/parse.h"

/* Service names Dovecot may put in SERVICE that a token scope covers. */
static const char *const checkpw_request_services[] = {
	"imap",
	"pop3",
	"smtp",
	"submission",
	"sieve",
	"managesieve",
};

static bool
checkpw_request_printable(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] <= ' ' || p[i] == 0x7f)
			return false;
	}
	return true;
}

static bool
checkpw_request_pass_ok(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] < ' ' || p[i] == 0x7f)
			return false;
	}
	return true;
}

enum mg_result
checkpw_request_parse(const unsigned char *buf, size_t len,
    struct checkpw_creds *creds_r, const char **errstr_r)
{
	const unsigned char *user, *pass, *nul;
	size_t user_len, pass_len;

	if (len == 0) {
		*errstr_r = "empty request on fd 3";
		return MG_TEMPFAIL;
	}
	if (len > CHECKPW_REQUEST_MAX) {
		*errstr_r = "request on fd 3 over 512 bytes";
		return MG_TEMPFAIL;
	}

	user = buf;
	nul = memchr(user, '\0', len);
	if (nul == NULL) {
		*errstr_r = "request on fd 3 has no NUL after the user";
		return MG_TEMPFAIL;
	}
	user_len = (size_t)(nul - user);
	pass = nul + 1;
	nul = memchr(pass, '\0', len - user_len - 1);
	if (nul == NULL) {
		*errstr_r = "request on fd 3 has no NUL after the password";
		return MG_TEMPFAIL;
	}
	pass_len = (size_t)(nul - pass);
	/* What follows (timestamp, more data) is ours to ignore. */

	if (user_len == 0) {
		*errstr_r = "request on fd 3 has an empty user";
		return MG_TEMPFAIL;
	}
	if (user_len > ADDRESS_MAX ||
	    !checkpw_request_printable(user, user_len)) {
		*errstr_r = "user is not a possible mailbox name";
		return MG_PERMFAIL;
	}
	if (!checkpw_request_pass_ok(pass, pass_len)) {
		*errstr_r = "password holds control bytes";
		return MG_PERMFAIL;
	}

	memcpy(creds_r->user, user, user_len);
	creds_r->user[user_len] = '\0';
	creds_r->pass = secret_from(pass, pass_len);
	return MG_OK;
}

void
checkpw_creds_deinit(struct checkpw_creds *creds)
{
	secret_free(&creds->pass);
	secret_wipe(creds->user, sizeof(creds->user));
}

static const char *
checkpw_request_service(const char *s)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return "imap";
	for (i = 0; i < MG_N_ELEMENTS(checkpw_request_services); i++) {
		if (strcmp(s, checkpw_request_services[i]) == 0)
			return checkpw_request_services[i];
	}
	return NULL;
}

/* Copy an IP in canonical form, or leave "" when s is not one. */
static void
checkpw_request_ip(const char *s, char out[CHECKPW_IP_MAX])
{
	unsigned char bin[sizeof(struct in6_addr)];
	int af;

	out[0] = '\0';
	if (s == NULL || strlen(s) >= CHECKPW_IP_MAX)
		return;
	af = strchr(s, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(af, s, bin) != 1)
		return;
	if (inet_ntop(af, bin, out, CHECKPW_IP_MAX) == NULL)
		out[0] = '\0';
}

static bool
checkpw_request_session_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '-' ||
	    c == '_' || c == ':' || c == '.';
}

static void
checkpw_request_session(const char *s, char out[CHECKPW_SESSION_MAX + 1])
{
	size_t i;

	out[0] = '\0';
	if (s == NULL)
		return;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= CHECKPW_SESSION_MAX ||
		    !checkpw_request_session_char(s[i]))
			return;
	}
	memcpy(out, s, i + 1);
}

static bool
checkpw_request_set(const char *s)
{
	return s != NULL && *s != '\0';
}

enum mg_result
checkpw_env_read(const char *(*get)(const char *name),
    struct checkpw_env *env_r, const char **errstr_r)
{
	const char *service, *secured;

	service = checkpw_request_service(get("SERVICE"));
	if (service == NULL) {
		*errstr_r = "SERVICE names no service a token can cover";
		return MG_PERMFAIL;
	}

	env_r->service = service;
	checkpw_request_ip(get("TCPREMOTEIP"), env_r->rip);
	checkpw_request_ip(get("TCPLOCALIP"), env_r->lip);
	checkpw_request_session(get("AUTH_SESSION"), env_r->session);
	/* Dovecot 2.3 expands %{secured} to "secured", or "TLS" later. */
	secured = get("AUTH_SECURED");
	env_r->secured = secured != NULL &&
	    (strcmp(secured, "secured") == 0 || strcmp(secured, "TLS") == 0);
	env_r->lookup = checkpw_request_set(get("AUTHORIZED")) ||
	    checkpw_request_set(get("CREDENTIALS_LOOKUP"));
	return MG_OK;
}

/* PLAIN: empty authzid, NUL, user, NUL, password, as base64. */
static size_t
checkpw_request_plain(const struct checkpw_creds *creds, char *out)
{
	unsigned char raw[2 + ADDRESS_MAX + CHECKPW_REQUEST_MAX];
	size_t ulen = strlen(creds->user), n;

	MG_ASSERT(creds->pass->len <= CHECKPW_REQUEST_MAX);
	raw[0] = '\0';
	memcpy(raw + 1, creds->user, ulen);
	raw[1 + ulen] = '\0';
	memcpy(raw + 2 + ulen, creds->pass->buf, creds->pass->len);
	n = base64_encode(raw, 2 + ulen + creds->pass->len, out);
	secret_wipe(raw, sizeof(raw));
	return n;
}

size_t
checkpw_request_build(const struct checkpw_creds *creds,
    const struct checkpw_env *env, unsigned long pid, char *buf, size_t size)
{
	char b64[4 * ((2 + ADDRESS_MAX + CHECKPW_REQUEST_MAX + 2) / 3) + 1];
	size_t b64_len;
	int n;

	b64_len = checkpw_request_plain(creds, b64);
	n = snprintf(buf, size,
	    "VERSION\t1\t2\nCPID\t%lu\n"
	    "AUTH\t1\tPLAIN\tservice=%s%s%s%s%s%s%s%s\tresp=%.*s\n",
	    pid, env->service, env->rip[0] != '\0' ? "\trip=" : "", env->rip,
	    env->lip[0] != '\0' ? "\tlip=" : "", env->lip,
	    env->session[0] != '\0' ? "\tsession=" : "", env->session,
	    env->secured ? "\tsecured" : "", (int)b64_len, b64);
	secret_wipe(b64, sizeof(b64));
	if (n < 0 || (size_t)n >= size) {
		secret_wipe(buf, size);
		return 0;
	}
	return (size_t)n;
}
