/* SPDX-License-Identifier: MIT */
/*
 * test_config.c - config_load() against real files under /tmp and a
 * private environment: every type, every error (which must name the file
 * and line or the variable, and the key), precedence, *_file secrets,
 * and no secret in any message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mailgate/config.h"
#include "mailgate/limits.h"

/* Every secret in these tests holds this; no message may. */
#define SENTINEL "SENTINEL-5e3cret"

/* Files the cases name as {secret}, {big}, {empty}, {ctl}, {nl2}. */
static char path_secret[] = "/tmp/mg-cfg-secret-XXXXXX";
static char path_big[] = "/tmp/mg-cfg-big-XXXXXX";
static char path_empty[] = "/tmp/mg-cfg-empty-XXXXXX";
static char path_ctl[] = "/tmp/mg-cfg-ctl-XXXXXX";
static char path_nl2[] = "/tmp/mg-cfg-nl2-XXXXXX";

static void
write_all(int fd, const void *p, size_t len)
{
	const char *b = p;
	ssize_t n;

	while (len > 0) {
		n = write(fd, b, len);
		assert_true(n > 0);
		b += n;
		len -= (size_t)n;
	}
}

/* Create a temporary file from tmpl holding len bytes of p. */
static void
make_file(char *tmpl, const void *p, size_t len)
{
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	write_all(fd, p, len);
	assert_int_equal(close(fd), 0);
}

static int
setup_files(void **state)
{
	char big[SECRET_FILE_MAX + 2];

	(void)state;
	memset(big, 'x', sizeof(big));
	make_file(path_secret, SENTINEL "\n", strlen(SENTINEL) + 1);
	make_file(path_big, big, sizeof(big));
	make_file(path_empty, "", 0);
	make_file(path_ctl, SENTINEL "\001x", strlen(SENTINEL) + 2);
	make_file(path_nl2, SENTINEL "\n\n", strlen(SENTINEL) + 2);
	return 0;
}

static int
teardown_files(void **state)
{
	(void)state;
	(void)unlink(path_secret);
	(void)unlink(path_big);
	(void)unlink(path_empty);
	(void)unlink(path_ctl);
	(void)unlink(path_nl2);
	return 0;
}

/* Replace {path}, {secret}, ... in s; owned result. */
static char *
expand(const char *s, const char *path)
{
	const struct {
		const char *name;
		const char *value;
	} vars[] = {
		{ "{path}", path },
		{ "{secret}", path_secret },
		{ "{big}", path_big },
		{ "{empty}", path_empty },
		{ "{ctl}", path_ctl },
		{ "{nl2}", path_nl2 },
		{ "{missing}", "/tmp/mg-cfg-no-such-file" },
		{ "{dir}", "/tmp" },
	};
	char *out = malloc(strlen(s) * 4 + 1024);
	size_t n = 0, i;

	assert_non_null(out);
	while (*s != '\0') {
		for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
			if (strncmp(s, vars[i].name, strlen(vars[i].name)) == 0)
				break;
		}
		if (i == sizeof(vars) / sizeof(vars[0])) {
			out[n++] = *s++;
			continue;
		}
		memcpy(out + n, vars[i].value, strlen(vars[i].value));
		n += strlen(vars[i].value);
		s += strlen(vars[i].name);
	}
	out[n] = '\0';
	return out;
}

#define ENV_MAX 4

struct env {
	char *v[ENV_MAX + 1];
};

static void
env_build(struct env *e, const char *const *src, const char *path)
{
	size_t i;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < ENV_MAX && src[i] != NULL; i++)
		e->v[i] = expand(src[i], path);
}

static void
env_free(struct env *e)
{
	size_t i;

	for (i = 0; i < ENV_MAX; i++)
		free(e->v[i]);
}

/*
 * Write text (len bytes, or strlen when 0) to a new file, load it with
 * the environment env, and remove the file. The path is left in path.
 */
static int
load(const char *text, size_t len, const char *const *env,
    struct config **cfg_r, char **err_r, char path[64])
{
	static const char tmpl[] = "/tmp/mg-cfg-test-XXXXXX";
	struct env e;
	char *body;
	int ret;

	/* Cases with an explicit length hold raw bytes (a NUL): no {vars}. */
	memcpy(path, tmpl, sizeof(tmpl));
	body = len != 0 ? NULL : expand(text, "");
	if (body != NULL)
		make_file(path, body, strlen(body));
	else
		make_file(path, text, len);
	free(body);

	env_build(&e, env, path);
	*err_r = NULL;
	ret = config_load(path, e.v, cfg_r, err_r);
	env_free(&e);
	(void)unlink(path);
	return ret;
}

/*
 * What a good case checks: a field, shown as text the way a reader of
 * the docs would write it.
 */
enum show_kind {
	SHOW_STR,
	SHOW_SECRET,
	SHOW_UINT,
	SHOW_OCT,
	SHOW_I64,
	SHOW_BOOL,
	SHOW_LIST,
};

#define FIELD(name, member, kind)                                              \
	{                                                                      \
		name, offsetof(struct config, member), kind                    \
	}

static const struct {
	const char *name;
	size_t offset;
	enum show_kind kind;
} fields[] = {
	FIELD("database.url", database.url, SHOW_SECRET),
	FIELD("database.connect_timeout", database.connect_timeout, SHOW_I64),
	FIELD("tokens.key_file", tokens.key_file, SHOW_STR),
	FIELD(
	    "tokens.previous_key_files", tokens.previous_key_files, SHOW_LIST),
	FIELD("tokens.default_expiry", tokens.default_expiry, SHOW_I64),
	FIELD("tokens.max_expiry", tokens.max_expiry, SHOW_I64),
	FIELD("auth.socket", auth.socket, SHOW_STR),
	FIELD("auth.socket_user", auth.socket_user, SHOW_STR),
	FIELD("auth.socket_group", auth.socket_group, SHOW_STR),
	FIELD("auth.socket_mode", auth.socket_mode, SHOW_OCT),
	FIELD("auth.tcp_listen", auth.tcp_listen, SHOW_STR),
	FIELD("auth.max_connections", auth.max_connections, SHOW_UINT),
	FIELD("auth.cache_ttl", auth.cache_ttl, SHOW_I64),
	FIELD("auth.failure_delay", auth.failure_delay, SHOW_I64),
	FIELD("auth.lockout_failures", auth.lockout_failures, SHOW_UINT),
	FIELD("auth.lockout_time", auth.lockout_time, SHOW_I64),
	FIELD("http.listen", http.listen, SHOW_STR),
	FIELD("http.public_url", http.public_url, SHOW_STR),
	FIELD("http.trusted_proxies", http.trusted_proxies, SHOW_LIST),
	FIELD("http.max_connections", http.max_connections, SHOW_UINT),
	FIELD("http.session_idle", http.session_idle, SHOW_I64),
	FIELD("http.session_max", http.session_max, SHOW_I64),
	FIELD("oidc.issuer", oidc.issuer, SHOW_STR),
	FIELD("oidc.client_id", oidc.client_id, SHOW_STR),
	FIELD("oidc.client_secret", oidc.client_secret, SHOW_SECRET),
	FIELD("oidc.scopes", oidc.scopes, SHOW_STR),
	FIELD("oidc.ca_file", oidc.ca_file, SHOW_STR),
	FIELD("oidc.token_auth_method", oidc.token_auth_method, SHOW_STR),
	FIELD("oidc.allowed_algs", oidc.allowed_algs, SHOW_LIST),
	FIELD("oidc.clock_skew", oidc.clock_skew, SHOW_I64),
	FIELD("oidc.http_timeout", oidc.http_timeout, SHOW_I64),
	FIELD("mapping.address_claim", mapping.address_claim, SHOW_STR),
	FIELD("mapping.address_template", mapping.address_template, SHOW_STR),
	FIELD("mapping.allowed_domains", mapping.allowed_domains, SHOW_LIST),
	FIELD("mapping.required_groups", mapping.required_groups, SHOW_LIST),
	FIELD("mapping.groups_claim", mapping.groups_claim, SHOW_STR),
	FIELD("mapping.require_email_verified", mapping.require_email_verified,
	    SHOW_BOOL),
	FIELD("mapping.require_mfa", mapping.require_mfa, SHOW_BOOL),
	FIELD("mapping.create_mailboxes", mapping.create_mailboxes, SHOW_BOOL),
	FIELD("log.level", log.level, SHOW_STR),
	FIELD("log.syslog", log.syslog, SHOW_BOOL),
};

static void
show_list(const struct config_list *l, char *buf, size_t size)
{
	size_t n = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < l->count; i++) {
		n += (size_t)snprintf(
		    buf + n, size - n, "%s%s", i > 0 ? "|" : "", l->items[i]);
		assert_true(n < size);
	}
}

static size_t
field_index(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(fields[i].name, name) == 0)
			return i;
	}
	fail_msg("test bug: no field %s", name);
	return 0;
}

static void
show(const struct config *cfg, const char *name, char *buf, size_t size)
{
	const struct secret *sec;
	const void *p;
	size_t i;

	i = field_index(name);
	/* Through void: the field's own alignment holds at its offset. */
	p = (const char *)cfg + fields[i].offset;

	switch (fields[i].kind) {
	case SHOW_STR:
		(void)snprintf(buf, size, "%s",
		    *(char *const *)p != NULL ? *(char *const *)p : "(null)");
		break;
	case SHOW_SECRET:
		sec = *(struct secret *const *)p;
		(void)snprintf(buf, size, "%s",
		    sec != NULL ? (const char *)sec->buf : "(null)");
		break;
	case SHOW_UINT:
		(void)snprintf(buf, size, "%u", *(const unsigned int *)p);
		break;
	case SHOW_OCT:
		(void)snprintf(buf, size, "%o", *(const unsigned int *)p);
		break;
	case SHOW_I64:
		(void)snprintf(
		    buf, size, "%lld", (long long)*(const int64_t *)p);
		break;
	case SHOW_BOOL:
		(void)snprintf(
		    buf, size, "%s", *(const bool *)p ? "true" : "false");
		break;
	case SHOW_LIST:
		show_list((const struct config_list *)p, buf, size);
		break;
	}
}

static const struct {
	const char *field;
	const char *want;
} defaults[] = {
	{ "database.url", "(null)" },
	{ "database.connect_timeout", "5" },
	{ "tokens.key_file", "(null)" },
	{ "tokens.previous_key_files", "" },
	{ "tokens.default_expiry", "31536000" },
	{ "tokens.max_expiry", "0" },
	{ "auth.socket", "/run/mailgate/auth" },
	{ "auth.socket_user", "(null)" },
	{ "auth.socket_group", "(null)" },
	{ "auth.socket_mode", "660" },
	{ "auth.tcp_listen", "(null)" },
	{ "auth.max_connections", "4096" },
	{ "auth.cache_ttl", "300" },
	{ "auth.failure_delay", "1000" },
	{ "auth.lockout_failures", "10" },
	{ "auth.lockout_time", "900" },
	{ "http.listen", "127.0.0.1:8080" },
	{ "http.public_url", "(null)" },
	{ "http.trusted_proxies", "" },
	{ "http.max_connections", "256" },
	{ "http.session_idle", "1800" },
	{ "http.session_max", "43200" },
	{ "oidc.issuer", "(null)" },
	{ "oidc.client_id", "(null)" },
	{ "oidc.client_secret", "(null)" },
	{ "oidc.scopes", "openid email profile" },
	{ "oidc.ca_file", "(null)" },
	{ "oidc.token_auth_method", "client_secret_basic" },
	{ "oidc.allowed_algs", "RS256|ES256|HS256" },
	{ "oidc.clock_skew", "60" },
	{ "oidc.http_timeout", "10" },
	{ "mapping.address_claim", "email" },
	{ "mapping.address_template", "(null)" },
	{ "mapping.allowed_domains", "" },
	{ "mapping.required_groups", "" },
	{ "mapping.groups_claim", "groups" },
	{ "mapping.require_email_verified", "false" },
	{ "mapping.require_mfa", "false" },
	{ "mapping.create_mailboxes", "false" },
	{ "log.level", "info" },
	{ "log.syslog", "false" },
};

static void
config_defaults_fill_every_field(void **state)
{
	const char *const env[] = { NULL };
	struct config *cfg = NULL;
	char path[64], *err, buf[256];
	size_t i;

	(void)state;
	assert_int_equal(sizeof(defaults) / sizeof(defaults[0]),
	    sizeof(fields) / sizeof(fields[0]));
	assert_int_equal(load("# nothing\n", 0, env, &cfg, &err, path), 0);
	assert_string_equal(cfg->path, path);
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		show(cfg, defaults[i].field, buf, sizeof(buf));
		if (strcmp(buf, defaults[i].want) != 0)
			fail_msg("%s: got \"%s\" want \"%s\"",
			    defaults[i].field, buf, defaults[i].want);
	}
	config_free(&cfg);
	assert_null(cfg);
}

static const struct {
	const char *name;
	const char *file;
	const char *env[ENV_MAX];
	const char *field;
	const char *want;
} good[] = {
	{ "octal mode", "[auth]\nsocket_mode = 0600\n", { NULL },
	    "auth.socket_mode", "600" },
	{ "octal mode without 0", "[auth]\nsocket_mode = 640\n", { NULL },
	    "auth.socket_mode", "640" },
	{ "mode zero", "[auth]\nsocket_mode = 0\n", { NULL },
	    "auth.socket_mode", "0" },
	{ "bool yes", "[log]\nsyslog = yes\n", { NULL }, "log.syslog", "true" },
	{ "bool on", "[log]\nsyslog = on\n", { NULL }, "log.syslog", "true" },
	{ "bool 1", "[log]\nsyslog = 1\n", { NULL }, "log.syslog", "true" },
	{ "bool TRUE", "[log]\nsyslog = TRUE\n", { NULL }, "log.syslog",
	    "true" },
	{ "bool off", "[mapping]\nrequire_mfa = off\n", { NULL },
	    "mapping.require_mfa", "false" },
	{ "bool 0", "[mapping]\ncreate_mailboxes = 0\n", { NULL },
	    "mapping.create_mailboxes", "false" },
	{ "uint low", "[auth]\nmax_connections = 1\n", { NULL },
	    "auth.max_connections", "1" },
	{ "uint high", "[auth]\nmax_connections = 1000000\n", { NULL },
	    "auth.max_connections", "1000000" },
	{ "uint zero lockout", "[auth]\nlockout_failures = 0\n", { NULL },
	    "auth.lockout_failures", "0" },
	{ "duration bare", "[database]\nconnect_timeout = 30\n", { NULL },
	    "database.connect_timeout", "30" },
	{ "duration combined", "[tokens]\ndefault_expiry = 1d12h\n", { NULL },
	    "tokens.default_expiry", "129600" },
	{ "duration never", "[tokens]\ndefault_expiry = 0\n", { NULL },
	    "tokens.default_expiry", "0" },
	{ "delay ms", "[auth]\nfailure_delay = 500ms\n", { NULL },
	    "auth.failure_delay", "500" },
	{ "delay seconds", "[auth]\nfailure_delay = 2s\n", { NULL },
	    "auth.failure_delay", "2000" },
	{ "delay off", "[auth]\nfailure_delay = 0\n", { NULL },
	    "auth.failure_delay", "0" },
	{ "skew at limit", "[oidc]\nclock_skew = 5m\n", { NULL },
	    "oidc.clock_skew", "300" },
	{ "max expiry pulls default down", "[tokens]\nmax_expiry = 30d\n",
	    { NULL }, "tokens.default_expiry", "2592000" },
	{ "default under max", "[tokens]\nmax_expiry=30d\ndefault_expiry=7d\n",
	    { NULL }, "tokens.default_expiry", "604800" },
	{ "quoted keeps blanks", "[oidc]\nclient_id = \"  a b  \"\n", { NULL },
	    "oidc.client_id", "  a b  " },
	{ "quoted escapes", "[oidc]\nclient_id = \"a\\\"b\\\\c\"\n", { NULL },
	    "oidc.client_id", "a\"b\\c" },
	{ "quoted then blanks", "[oidc]\nclient_id = \"x\"  \t\n", { NULL },
	    "oidc.client_id", "x" },
	{ "bare value trimmed", "[oidc]\nclient_id =   abc  \t\n", { NULL },
	    "oidc.client_id", "abc" },
	{ "tabs around", "\t[oidc]\t\n\tclient_id\t=\tabc\n", { NULL },
	    "oidc.client_id", "abc" },
	{ "no blanks", "[oidc]\nclient_id=abc\n", { NULL }, "oidc.client_id",
	    "abc" },
	{ "hash and = inside value", "[oidc]\nclient_id = a=b # c ;d\n",
	    { NULL }, "oidc.client_id", "a=b # c ;d" },
	{ "comments and blanks", "# a\n  ; b\n\n\t# c\n[oidc]\nclient_id = x\n",
	    { NULL }, "oidc.client_id", "x" },
	{ "crlf line ends", "[oidc]\r\nclient_id = abc\r\n", { NULL },
	    "oidc.client_id", "abc" },
	{ "byte order mark", "\xef\xbb\xbf[oidc]\nclient_id = abc\n", { NULL },
	    "oidc.client_id", "abc" },
	{ "session max lowers idle", "[http]\nsession_max = 10m\n", { NULL },
	    "http.session_idle", "600" },
	{ "env empties template",
	    "[mapping]\naddress_template = {sub}@example.org\n",
	    { "MAILGATE_MAPPING_ADDRESS_TEMPLATE=", NULL },
	    "mapping.address_claim", "email" },
	{ "no final newline", "[oidc]\nclient_id = abc", { NULL },
	    "oidc.client_id", "abc" },
	{ "utf-8 value",
	    "[mapping]\nrequired_groups = mail, \xc3\x9cml\xc3\xa4ut\n",
	    { NULL }, "mapping.required_groups", "mail|\xc3\x9cml\xc3\xa4ut" },
	{ "empty unsets", "[auth]\ntcp_listen =\n", { NULL }, "auth.tcp_listen",
	    "(null)" },
	{ "empty quoted unsets", "[auth]\nsocket_user = \"\"\n", { NULL },
	    "auth.socket_user", "(null)" },
	{ "listen empty is no http", "[http]\nlisten =\n", { NULL },
	    "http.listen", "" },
	{ "listen v6", "[http]\nlisten = [::]:443\n", { NULL }, "http.listen",
	    "[::]:443" },
	{ "listen any", "[http]\nlisten = 0.0.0.0:80\n", { NULL },
	    "http.listen", "0.0.0.0:80" },
	{ "listen name", "[http]\nlisten = localhost:8080\n", { NULL },
	    "http.listen", "localhost:8080" },
	{ "tcp 127/8", "[auth]\ntcp_listen = 127.0.0.2:9143\n", { NULL },
	    "auth.tcp_listen", "127.0.0.2:9143" },
	{ "tcp ::1", "[auth]\ntcp_listen = [::1]:9143\n", { NULL },
	    "auth.tcp_listen", "[::1]:9143" },
	{ "tcp localhost", "[auth]\ntcp_listen = localhost:9143\n", { NULL },
	    "auth.tcp_listen", "localhost:9143" },
	{ "public url slash dropped",
	    "[http]\npublic_url = https://mail.example.org/\n", { NULL },
	    "http.public_url", "https://mail.example.org" },
	{ "public url path kept",
	    "[http]\npublic_url = https://example.org/auth//\n", { NULL },
	    "http.public_url", "https://example.org/auth" },
	{ "public url http port",
	    "[http]\npublic_url = http://127.0.0.1:8080\n", { NULL },
	    "http.public_url", "http://127.0.0.1:8080" },
	{ "issuer kept byte for byte",
	    "[oidc]\nissuer = https://id.example.org/realms/m/\n", { NULL },
	    "oidc.issuer", "https://id.example.org/realms/m/" },
	{ "algs list", "[oidc]\nallowed_algs = RS256, ES256 PS256,,HS256\n",
	    { NULL }, "oidc.allowed_algs", "RS256|ES256|PS256|HS256" },
	{ "domains lower-cased",
	    "[mapping]\nallowed_domains = Example.ORG sub.example.org\n",
	    { NULL }, "mapping.allowed_domains",
	    "example.org|sub.example.org" },
	{ "proxies", "[http]\ntrusted_proxies = 10.0.0.0/8, ::1 192.0.2.1/32\n",
	    { NULL }, "http.trusted_proxies", "10.0.0.0/8|::1|192.0.2.1/32" },
	{ "template drops default claim",
	    "[mapping]\naddress_template = {preferred_username}@example.org\n",
	    { NULL }, "mapping.address_claim", "(null)" },
	{ "template kept",
	    "[mapping]\naddress_template = {given}.{family}@example.org\n",
	    { NULL }, "mapping.address_template",
	    "{given}.{family}@example.org" },
	{ "log level folded", "[log]\nlevel = DEBUG\n", { NULL }, "log.level",
	    "debug" },
	{ "secret inline", "[database]\nurl = " SENTINEL "\n", { NULL },
	    "database.url", SENTINEL },
	{ "secret file trims newline",
	    "[oidc]\nclient_secret_file = {secret}\n", { NULL },
	    "oidc.client_secret", SENTINEL },
	{ "section repeated",
	    "[auth]\nsocket_mode=0600\n[log]\n[auth]\n"
	    "max_connections=5\n",
	    { NULL }, "auth.socket_mode", "600" },
	{ "env overrides file", "[auth]\nsocket_mode = 0600\n",
	    { "MAILGATE_AUTH_SOCKET_MODE=0640", NULL }, "auth.socket_mode",
	    "640" },
	{ "env without file key", "",
	    { "MAILGATE_OIDC_CLIENT_ID=from-env", NULL }, "oidc.client_id",
	    "from-env" },
	{ "env empty unsets", "[auth]\ntcp_listen = 127.0.0.1:9143\n",
	    { "MAILGATE_AUTH_TCP_LISTEN=", NULL }, "auth.tcp_listen",
	    "(null)" },
	{ "env value taken literally", "",
	    { "MAILGATE_OIDC_CLIENT_ID= \"x\" ", NULL }, "oidc.client_id",
	    " \"x\" " },
	{ "env file form beats file value", "[database]\nurl = file-value\n",
	    { "MAILGATE_DATABASE_URL_FILE={secret}", NULL }, "database.url",
	    SENTINEL },
	{ "env value beats file form", "[database]\nurl_file = {missing}\n",
	    { "MAILGATE_DATABASE_URL=" SENTINEL, NULL }, "database.url",
	    SENTINEL },
	{ "MAILGATE_CONFIG is not a key", "[oidc]\nclient_id = x\n",
	    { "MAILGATE_CONFIG=/elsewhere", NULL }, "oidc.client_id", "x" },
	{ "other variables ignored", "[oidc]\nclient_id = x\n",
	    { "PATH=/bin", "MAILGATEWAY=1", "mailgate_oidc_client_id=y", NULL },
	    "oidc.client_id", "x" },
};

static void
config_good_cases(void **state)
{
	struct config *cfg;
	char path[64], *err, buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cfg = NULL;
		if (load(good[i].file, 0, good[i].env, &cfg, &err, path) != 0)
			fail_msg("%s: %s", good[i].name, err);
		show(cfg, good[i].field, buf, sizeof(buf));
		if (strcmp(buf, good[i].want) != 0)
			fail_msg("%s: got \"%s\" want \"%s\"", good[i].name,
			    buf, good[i].want);
		config_free(&cfg);
	}
}

static const struct {
	const char *name;
	const char *file;
	size_t len; /* 0: strlen(file) */
	const char *env[ENV_MAX];
	const char *want; /* a part of the message; {path} expanded */
} bad[] = {
	/* Syntax. */
	{ "key before section", "url = x\n", 0, { NULL },
	    "{path}:1: url: key before any [section]" },
	{ "unknown section", "[auth]\n[nope]\n", 0, { NULL },
	    "{path}:2: [nope]: unknown section" },
	{ "unknown key", "[auth]\nsockets = /x\n", 0, { NULL },
	    "{path}:2: [auth] sockets: unknown key" },
	{ "key in wrong section", "[http]\nsocket = /x\n", 0, { NULL },
	    "{path}:2: [http] socket: unknown key" },
	{ "_file on a plain key", "[auth]\nsocket_file = /x\n", 0, { NULL },
	    "{path}:2: [auth] socket_file: unknown key" },
	{ "duplicate key", "[auth]\nsocket = /a\nsocket = /b\n", 0, { NULL },
	    "{path}:3: [auth] socket: set twice (first on line 2)" },
	{ "duplicate across sections",
	    "[auth]\nsocket = /a\n[log]\n[auth]\nsocket = /b\n", 0, { NULL },
	    "{path}:5: [auth] socket: set twice (first on line 2)" },
	{ "missing bracket", "[auth\n", 0, { NULL }, "{path}:1: missing ']'" },
	{ "empty section", "[]\n", 0, { NULL }, "{path}:1: section names are" },
	{ "upper-case section", "[Auth]\n", 0, { NULL },
	    "{path}:1: section names are" },
	{ "blank in section", "[ auth ]\n", 0, { NULL },
	    "{path}:1: section names are" },
	{ "text after section", "[auth] x\n", 0, { NULL },
	    "{path}:1: text after the section header" },
	{ "comment after section", "[auth] # c\n", 0, { NULL },
	    "{path}:1: text after the section header" },
	{ "upper-case key", "[auth]\nSocket = /x\n", 0, { NULL },
	    "{path}:2: expected [section], key = value or a comment" },
	{ "no equals", "[auth]\nsocket /x\n", 0, { NULL },
	    "{path}:2: expected '=' after the key" },
	{ "key alone", "[auth]\nsocket\n", 0, { NULL },
	    "{path}:2: expected '=' after the key" },
	{ "dash in key", "[auth]\nsocket-mode = 1\n", 0, { NULL },
	    "{path}:2: keys are lower-case letters, digits and _" },
	{ "equals first", "[auth]\n= x\n", 0, { NULL },
	    "{path}:2: expected [section]" },
	{ "unterminated quote", "[auth]\nsocket = \"/x\n", 0, { NULL },
	    "{path}:2: missing closing '\"'" },
	{ "escape at end", "[auth]\nsocket = \"/x\\\n", 0, { NULL },
	    "{path}:2: missing closing '\"'" },
	{ "bad escape", "[auth]\nsocket = \"/x\\n\"\n", 0, { NULL },
	    "{path}:2: only \\\" and \\\\ may follow a '\\'" },
	{ "text after quote", "[auth]\nsocket = \"/x\" y\n", 0, { NULL },
	    "{path}:2: text after the closing quote" },
	{ "stray quote", "[auth]\nsocket = /x\"y\n", 0, { NULL },
	    "{path}:2: a '\"' may only open a quoted value" },
	{ "nul byte", "[auth]\nsocket = /x\0y\n", 19, { NULL },
	    "{path}:2: line holds a NUL byte" },
	{ "control byte", "[auth]\nsocket = /x\001\n", 0, { NULL },
	    "{path}:2: line holds a control byte" },
	{ "escape byte", "[auth]\n\033[2Jsocket = /x\n", 0, { NULL },
	    "{path}:2: line holds a control byte" },
	{ "del byte", "[auth]\nsocket = /x\177\n", 0, { NULL },
	    "{path}:2: line holds a control byte" },
	{ "lone cr", "[auth]\nsocket = /x\ry\n", 0, { NULL },
	    "{path}:2: line holds a control byte" },
	{ "cr cr lf", "[auth]\nsocket = /x\r\r\n", 0, { NULL },
	    "{path}:2: line holds a control byte" },
	{ "byte order mark later",
	    "[oidc]\n\xef\xbb\xbf"
	    "client_id = x\n",
	    0, { NULL }, "{path}:2: expected [section]" },
	{ "invalid utf-8", "# caf\xe9\n", 0, { NULL },
	    "{path}:1: line is not valid UTF-8" },
	{ "overlong utf-8", "# \xc0\xaf\n", 0, { NULL },
	    "{path}:1: line is not valid UTF-8" },
	{ "utf-8 surrogate", "# \xed\xa0\x80\n", 0, { NULL },
	    "{path}:1: line is not valid UTF-8" },
	{ "truncated utf-8", "# \xe2\x82", 0, { NULL },
	    "{path}:1: line is not valid UTF-8" },

	/* Values. */
	{ "mode 999", "[auth]\nsocket_mode = 999\n", 0, { NULL },
	    "{path}:2: [auth] socket_mode: \"999\" is not an octal file mode" },
	{ "mode setuid", "[auth]\nsocket_mode = 4755\n", 0, { NULL },
	    "[auth] socket_mode: \"4755\" is not an octal file mode" },
	{ "mode too long", "[auth]\nsocket_mode = 00660\n", 0, { NULL },
	    "[auth] socket_mode: \"00660\" is not an octal file mode" },
	{ "mode words", "[auth]\nsocket_mode = rw\n", 0, { NULL },
	    "[auth] socket_mode: \"rw\" is not an octal file mode" },
	{ "mode empty", "[auth]\nsocket_mode =\n", 0, { NULL },
	    "{path}:2: [auth] socket_mode: value is empty" },
	{ "bool maybe", "[log]\nsyslog = maybe\n", 0, { NULL },
	    "{path}:2: [log] syslog: \"maybe\" is not yes, no" },
	{ "bool empty", "[log]\nsyslog = \"\"\n", 0, { NULL },
	    "[log] syslog: value is empty" },
	{ "uint zero", "[auth]\nmax_connections = 0\n", 0, { NULL },
	    "[auth] max_connections: \"0\" is not a whole number from 1 to "
	    "1000000" },
	{ "uint over", "[http]\nmax_connections = 100001\n", 0, { NULL },
	    "[http] max_connections: \"100001\" is not a whole number" },
	{ "uint negative", "[auth]\nlockout_failures = -1\n", 0, { NULL },
	    "[auth] lockout_failures: \"-1\" is not a whole number" },
	{ "uint exponent", "[auth]\nmax_connections = 1e3\n", 0, { NULL },
	    "[auth] max_connections: \"1e3\" is not a whole number" },
	{ "duration unit", "[database]\nconnect_timeout = 5x\n", 0, { NULL },
	    "[database] connect_timeout: \"5x\" is not a duration" },
	{ "duration zero", "[database]\nconnect_timeout = 0\n", 0, { NULL },
	    "[database] connect_timeout: \"0\" must be longer than zero" },
	{ "duration over max", "[database]\nconnect_timeout = 301s\n", 0,
	    { NULL },
	    "[database] connect_timeout: \"301s\" is more than 300s" },
	{ "skew over 300", "[oidc]\nclock_skew = 301\n", 0, { NULL },
	    "[oidc] clock_skew: \"301\" is more than 300s" },
	{ "delay over 30s", "[auth]\nfailure_delay = 31s\n", 0, { NULL },
	    "[auth] failure_delay: \"31s\" is more than 30000ms" },
	{ "delay 0ms", "[auth]\nfailure_delay = 0ms\n", 0, { NULL },
	    "[auth] failure_delay: \"0ms\" is not a duration" },
	{ "delay ms only", "[auth]\nfailure_delay = ms\n", 0, { NULL },
	    "[auth] failure_delay: \"ms\" is not a duration" },
	{ "ms on a seconds key", "[auth]\nlockout_time = 500ms\n", 0, { NULL },
	    "[auth] lockout_time: \"500ms\" is not a duration" },
	{ "log level", "[log]\nlevel = verbose\n", 0, { NULL },
	    "[log] level: \"verbose\" is not debug, info, warn or err" },
	{ "listen port only", "[http]\nlisten = 8080\n", 0, { NULL },
	    "[http] listen: \"8080\" is not host:port" },
	{ "listen no host", "[http]\nlisten = :8080\n", 0, { NULL },
	    "[http] listen: \":8080\" is not host:port" },
	{ "listen port 0", "[http]\nlisten = example.org:0\n", 0, { NULL },
	    "[http] listen: \"example.org:0\" is not host:port" },
	{ "listen port big", "[http]\nlisten = example.org:65536\n", 0,
	    { NULL }, "[http] listen: \"example.org:65536\" is not" },
	{ "listen bad v6", "[http]\nlisten = [zz]:80\n", 0, { NULL },
	    "[http] listen: \"[zz]:80\" is not host:port" },
	{ "listen v6 unclosed", "[http]\nlisten = [::1:80\n", 0, { NULL },
	    "[http] listen: \"[::1:80\" is not" },
	{ "listen v6 unbracketed", "[http]\nlisten = ::1:80\n", 0, { NULL },
	    "[http] listen: \"::1:80\" is not" },
	{ "tcp any", "[auth]\ntcp_listen = 0.0.0.0:9143\n", 0, { NULL },
	    "[auth] tcp_listen: \"0.0.0.0:9143\" is not on loopback" },
	{ "tcp v6 any", "[auth]\ntcp_listen = [::]:9143\n", 0, { NULL },
	    "[auth] tcp_listen: \"[::]:9143\" is not on loopback" },
	{ "tcp public name", "[auth]\ntcp_listen = mail.example.org:9143\n", 0,
	    { NULL },
	    "[auth] tcp_listen: \"mail.example.org:9143\" is not "
	    "on loopback" },
	{ "tcp lan", "[auth]\ntcp_listen = 192.168.1.1:9143\n", 0, { NULL },
	    "is not on loopback" },
	{ "url ftp", "[http]\npublic_url = ftp://example.org\n", 0, { NULL },
	    "[http] public_url: \"ftp://example.org\" is not an http:// or "
	    "https:// URL" },
	{ "url query", "[http]\npublic_url = https://x.org/?a=b\n", 0, { NULL },
	    "[http] public_url: \"https://x.org/?a=b\" is not" },
	{ "url fragment", "[http]\npublic_url = https://x.org/#f\n", 0,
	    { NULL }, "[http] public_url: \"https://x.org/#f\" is not" },
	{ "url userinfo", "[http]\npublic_url = https://u:p@x.org/\n", 0,
	    { NULL }, "[http] public_url: " },
	{ "url no host", "[http]\npublic_url = https:///x\n", 0, { NULL },
	    "[http] public_url: \"https:///x\" is not" },
	{ "url scheme only", "[http]\npublic_url = https://\n", 0, { NULL },
	    "[http] public_url: \"https://\" is not" },
	{ "url upper scheme", "[http]\npublic_url = HTTPS://x.org\n", 0,
	    { NULL }, "[http] public_url: \"HTTPS://x.org\" is not" },
	{ "url blank", "[http]\npublic_url = https://x.org/a b\n", 0, { NULL },
	    "[http] public_url: \"https://x.org/a b\" is not" },
	{ "issuer bare host", "[oidc]\nissuer = id.example.org\n", 0, { NULL },
	    "[oidc] issuer: \"id.example.org\" is not an http" },
	{ "issuer query", "[oidc]\nissuer = https://id.example.org/?x\n", 0,
	    { NULL }, "[oidc] issuer: " },
	{ "issuer empty", "[oidc]\nissuer =\n", 0, { NULL },
	    "{path}:2: [oidc] issuer: value is empty" },
	{ "auth method", "[oidc]\ntoken_auth_method = private_key_jwt\n", 0,
	    { NULL },
	    "[oidc] token_auth_method: \"private_key_jwt\" is not "
	    "client_secret_basic or client_secret_post" },
	{ "alg none", "[oidc]\nallowed_algs = none\n", 0, { NULL },
	    "[oidc] allowed_algs: \"none\" is not one of" },
	{ "alg none in list", "[oidc]\nallowed_algs = RS256, none\n", 0,
	    { NULL }, "[oidc] allowed_algs: \"none\" is not one of" },
	{ "alg lower-case", "[oidc]\nallowed_algs = rs256\n", 0, { NULL },
	    "[oidc] allowed_algs: \"rs256\" is not one of" },
	{ "alg unknown", "[oidc]\nallowed_algs = EdDSA\n", 0, { NULL },
	    "[oidc] allowed_algs: \"EdDSA\" is not one of" },
	{ "algs empty", "[oidc]\nallowed_algs =\n", 0, { NULL },
	    "[oidc] allowed_algs: value is empty" },
	{ "algs only commas", "[oidc]\nallowed_algs = , ,\n", 0, { NULL },
	    "[oidc] allowed_algs: \", ,\" is an empty list" },
	{ "scopes without openid", "[oidc]\nscopes = email profile\n", 0,
	    { NULL },
	    "[oidc] scopes: \"email profile\" must include the "
	    "scope openid" },
	{ "scopes openid prefix", "[oidc]\nscopes = openidx\n", 0, { NULL },
	    "must include the scope openid" },
	{ "proxy prefix 33", "[http]\ntrusted_proxies = 10.0.0.0/33\n", 0,
	    { NULL },
	    "[http] trusted_proxies: \"10.0.0.0/33\" is not an "
	    "address or CIDR" },
	{ "proxy short v4", "[http]\ntrusted_proxies = 10.0.0/8\n", 0, { NULL },
	    "[http] trusted_proxies: \"10.0.0/8\" is not" },
	{ "proxy v6 129", "[http]\ntrusted_proxies = ::1/129\n", 0, { NULL },
	    "[http] trusted_proxies: \"::1/129\" is not" },
	{ "proxy empty prefix", "[http]\ntrusted_proxies = 10.0.0.0/\n", 0,
	    { NULL }, "[http] trusted_proxies: \"10.0.0.0/\" is not" },
	{ "proxy name", "[http]\ntrusted_proxies = proxy.example.org\n", 0,
	    { NULL }, "[http] trusted_proxies: \"proxy.example.org\" is not" },
	{ "domain single label", "[mapping]\nallowed_domains = example\n", 0,
	    { NULL },
	    "[mapping] allowed_domains: \"example\" is not a mail "
	    "domain" },
	{ "domain with at", "[mapping]\nallowed_domains = a@example.org\n", 0,
	    { NULL }, "[mapping] allowed_domains: \"a@example.org\" is not" },
	{ "template no at",
	    "[mapping]\naddress_template = {preferred_username}\n", 0, { NULL },
	    "[mapping] address_template: \"{preferred_username}\" "
	    "needs an '@'" },
	{ "template no claim", "[mapping]\naddress_template = a@example.org\n",
	    0, { NULL },
	    "[mapping] address_template: \"a@example.org\" needs" },
	{ "template empty braces",
	    "[mapping]\naddress_template = {}@example.org\n", 0, { NULL },
	    "[mapping] address_template: \"{}@example.org\" needs" },
	{ "template unclosed", "[mapping]\naddress_template = {a@example.org\n",
	    0, { NULL }, "[mapping] address_template: \"{a@example.org\"" },
	{ "template stray close",
	    "[mapping]\naddress_template = a}@example.org\n", 0, { NULL },
	    "[mapping] address_template: \"a}@example.org\"" },
	{ "template nested", "[mapping]\naddress_template = {{a}}@x.org\n", 0,
	    { NULL }, "[mapping] address_template: \"{{a}}@x.org\"" },
	{ "template and claim",
	    "[mapping]\naddress_claim = email\naddress_template = "
	    "{sub}@example.org\n",
	    0, { NULL },
	    "{path}:3: [mapping] address_template: cannot be set together "
	    "with [mapping] address_claim ({path}:2)" },
	{ "claim empty", "[mapping]\naddress_claim =\n", 0, { NULL },
	    "[mapping] address_claim: value is empty" },
	{ "claim blank", "[mapping]\ngroups_claim = my groups\n", 0, { NULL },
	    "[mapping] groups_claim: \"my groups\" is not a claim name" },
	{ "default over max",
	    "[tokens]\nmax_expiry = 30d\ndefault_expiry = 60d\n", 0, { NULL },
	    "{path}:3: [tokens] default_expiry: must be at most [tokens] "
	    "max_expiry ({path}:2)" },
	{ "never with max", "[tokens]\ndefault_expiry = 0\nmax_expiry = 1y\n",
	    0, { NULL },
	    "{path}:2: [tokens] default_expiry: cannot be 0 (never) together "
	    "with [tokens] max_expiry ({path}:3)" },
	{ "idle over max", "[http]\nsession_idle = 2h\nsession_max = 1h\n", 0,
	    { NULL },
	    "{path}:2: [http] session_idle: must be at most [http] "
	    "session_max ({path}:3)" },
	{ "idle over default max", "[http]\nsession_idle = 13h\n", 0, { NULL },
	    "{path}:2: [http] session_idle: must be at most [http] "
	    "session_max" },
	{ "socket relative", "[auth]\nsocket = run/auth\n", 0, { NULL },
	    "[auth] socket: \"run/auth\" is not an absolute path" },
	{ "socket too long",
	    "[auth]\nsocket = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    0, { NULL }, "[auth] socket: " },
	{ "socket user blank", "[auth]\nsocket_user = mail user\n", 0, { NULL },
	    "[auth] socket_user: \"mail user\" is not a user or group name" },
	{ "socket group dash", "[auth]\nsocket_group = -x\n", 0, { NULL },
	    "[auth] socket_group: \"-x\" is not a user or group name" },

	/* Secrets. */
	{ "secret empty", "[database]\nurl =\n", 0, { NULL },
	    "{path}:2: [database] url: secret is empty" },
	{ "secret and file",
	    "[database]\nurl = " SENTINEL "\nurl_file = "
	    "{secret}\n",
	    0, { NULL },
	    "{path}:3: [database] url_file: cannot be set together with url "
	    "(line 2)" },
	{ "file and secret",
	    "[oidc]\nclient_secret_file = {secret}\n"
	    "client_secret = " SENTINEL "\n",
	    0, { NULL },
	    "{path}:3: [oidc] client_secret: cannot be set together with "
	    "client_secret_file (line 2)" },
	{ "secret file twice",
	    "[oidc]\nclient_secret_file = {secret}\n"
	    "client_secret_file = {secret}\n",
	    0, { NULL }, "{path}:3: [oidc] client_secret_file: set twice" },
	{ "secret file missing", "[database]\nurl_file = {missing}\n", 0,
	    { NULL },
	    "{path}:2: [database] url_file: cannot read {missing}: No such "
	    "file or directory" },
	{ "secret file too large", "[database]\nurl_file = {big}\n", 0,
	    { NULL },
	    "{path}:2: [database] url_file: cannot read {big}: file is too "
	    "large" },
	{ "secret file empty", "[oidc]\nclient_secret_file = {empty}\n", 0,
	    { NULL }, "{path}:2: [oidc] client_secret_file: secret is empty" },
	{ "secret file a directory", "[oidc]\nclient_secret_file = {dir}\n", 0,
	    { NULL },
	    "[oidc] client_secret_file: cannot read /tmp: not a regular file" },
	{ "secret file control byte", "[oidc]\nclient_secret_file = {ctl}\n", 0,
	    { NULL },
	    "{path}:2: [oidc] client_secret_file: secret holds a control "
	    "byte" },
	{ "secret file two newlines", "[oidc]\nclient_secret_file = {nl2}\n", 0,
	    { NULL },
	    "[oidc] client_secret_file: secret holds a control byte" },
	{ "secret file name empty", "[oidc]\nclient_secret_file =\n", 0,
	    { NULL }, "[oidc] client_secret_file: file name is empty" },

	/* Environment. */
	{ "env unknown", "", 0, { "MAILGATE_AUTH_SOCKETT=/x", NULL },
	    "environment MAILGATE_AUTH_SOCKETT: no such setting" },
	{ "env prefix only", "", 0, { "MAILGATE_=1", NULL },
	    "environment MAILGATE_: no such setting" },
	{ "env lower-case key", "", 0, { "MAILGATE_auth_socket=/x", NULL },
	    "environment MAILGATE_auth_socket: no such setting" },
	{ "env _FILE on plain key", "", 0,
	    { "MAILGATE_AUTH_SOCKET_FILE=/x", NULL },
	    "environment MAILGATE_AUTH_SOCKET_FILE: no such setting" },
	{ "env bad value", "[auth]\nsocket_mode = 0600\n", 0,
	    { "MAILGATE_AUTH_SOCKET_MODE=999", NULL },
	    "environment MAILGATE_AUTH_SOCKET_MODE: [auth] socket_mode: "
	    "\"999\" is not an octal file mode" },
	{ "env empty mode", "", 0, { "MAILGATE_AUTH_SOCKET_MODE=", NULL },
	    "environment MAILGATE_AUTH_SOCKET_MODE: [auth] socket_mode: value "
	    "is empty" },
	{ "env both forms", "", 0,
	    { "MAILGATE_DATABASE_URL=" SENTINEL,
		"MAILGATE_DATABASE_URL_FILE={secret}", NULL },
	    "environment MAILGATE_DATABASE_URL_FILE: [database] url_file: "
	    "cannot be set together with MAILGATE_DATABASE_URL" },
	{ "env twice", "", 0,
	    { "MAILGATE_OIDC_CLIENT_ID=a", "MAILGATE_OIDC_CLIENT_ID=b", NULL },
	    "environment MAILGATE_OIDC_CLIENT_ID: [oidc] client_id: set "
	    "twice" },
	{ "env control byte", "", 0, { "MAILGATE_AUTH_SOCKET=/x\n", NULL },
	    "environment MAILGATE_AUTH_SOCKET: [auth] socket: value holds a "
	    "control byte" },
	{ "env bad utf-8", "", 0, { "MAILGATE_OIDC_CLIENT_ID=\xff", NULL },
	    "environment MAILGATE_OIDC_CLIENT_ID: [oidc] client_id: value is "
	    "not valid UTF-8" },
	{ "env secret control byte", "", 0,
	    { "MAILGATE_OIDC_CLIENT_SECRET=" SENTINEL "\001", NULL },
	    "environment MAILGATE_OIDC_CLIENT_SECRET: [oidc] client_secret: "
	    "value holds a control byte" },
	{ "env secret file missing", "", 0,
	    { "MAILGATE_OIDC_CLIENT_SECRET_FILE={missing}", NULL },
	    "environment MAILGATE_OIDC_CLIENT_SECRET_FILE: [oidc] "
	    "client_secret_file: cannot read {missing}" },
	{ "env does not hide file errors", "[auth]\nsocket_mode = 999\n", 0,
	    { "MAILGATE_AUTH_SOCKET=/x", NULL },
	    "{path}:2: [auth] socket_mode: " },
	{ "env template and file claim", "[mapping]\naddress_claim = mail\n", 0,
	    { "MAILGATE_MAPPING_ADDRESS_TEMPLATE={sub}@example.org", NULL },
	    "environment MAILGATE_MAPPING_ADDRESS_TEMPLATE: [mapping] "
	    "address_template: cannot be set together with [mapping] "
	    "address_claim ({path}:2)" },
};

static void
config_bad_cases(void **state)
{
	struct config *cfg;
	char path[64], *err, *want;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg = NULL;
		if (load(bad[i].file, bad[i].len, bad[i].env, &cfg, &err,
			path) != -1) {
			config_free(&cfg);
			fail_msg("%s: accepted", bad[i].name);
		}
		assert_null(cfg);
		assert_non_null(err);
		want = expand(bad[i].want, path);
		if (strstr(err, want) == NULL)
			fail_msg("%s: got \"%s\" want \"%s\"", bad[i].name, err,
			    want);
		if (strstr(err, SENTINEL) != NULL)
			fail_msg("%s: secret in \"%s\"", bad[i].name, err);
		free(want);
		free(err);
	}
}

/* A secret that is set but not the cause still never shows. */
static void
config_errors_never_show_secrets(void **state)
{
	const char *const env[] = { "MAILGATE_DATABASE_URL=" SENTINEL,
		"MAILGATE_OIDC_CLIENT_SECRET=" SENTINEL, NULL };
	struct config *cfg = NULL;
	char path[64], *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* Skip cases the two variables would repair or change. */
		if (bad[i].env[0] != NULL || bad[i].len != 0 ||
		    strstr(bad[i].file, "url") != NULL ||
		    strstr(bad[i].file, "client_secret") != NULL)
			continue;
		if (load(bad[i].file, 0, env, &cfg, &err, path) != -1)
			fail_msg("%s: accepted", bad[i].name);
		if (strstr(err, SENTINEL) != NULL)
			fail_msg("%s: secret in \"%s\"", bad[i].name, err);
		free(err);
	}
}

static void
config_rejects_overlong_line(void **state)
{
	const char *const env[] = { NULL };
	char text[CONFIG_LINE_MAX + 32], path[64], *err, *want;
	struct config *cfg = NULL;
	size_t n;

	(void)state;
	/* Exactly CONFIG_LINE_MAX bytes is fine. */
	n = (size_t)snprintf(text, sizeof(text), "[oidc]\nclient_id = ");
	memset(text + n, 'x', CONFIG_LINE_MAX - 12);
	text[n + CONFIG_LINE_MAX - 12] = '\0';
	assert_int_equal(load(text, 0, env, &cfg, &err, path), 0);
	assert_int_equal(strlen(cfg->oidc.client_id), CONFIG_LINE_MAX - 12);
	config_free(&cfg);

	memcpy(text + n + CONFIG_LINE_MAX - 12, "x", 2);
	assert_int_equal(load(text, 0, env, &cfg, &err, path), -1);
	want = expand("{path}:2: line is longer than 4096 bytes", path);
	assert_string_equal(err, want);
	free(want);
	free(err);
}

static void
config_rejects_overlong_env(void **state)
{
	char *var = malloc(CONFIG_LINE_MAX + 64), path[64], *err;
	const char *env[] = { var, NULL };
	struct config *cfg = NULL;
	size_t n;

	(void)state;
	assert_non_null(var);
	n = (size_t)snprintf(var, 64, "MAILGATE_OIDC_CLIENT_ID=");
	memset(var + n, 'x', CONFIG_LINE_MAX + 1);
	var[n + CONFIG_LINE_MAX + 1] = '\0';
	assert_int_equal(load("", 0, env, &cfg, &err, path), -1);
	assert_string_equal(err,
	    "environment MAILGATE_OIDC_CLIENT_ID: [oidc] "
	    "client_id: value is longer than 4096 bytes");
	free(err);
	free(var);
}

static void
config_rejects_large_file(void **state)
{
	const char *const env[] = { NULL };
	struct config *cfg = NULL;
	char *text, path[64], *err;
	size_t i;

	(void)state;
	/* Short comment lines, one byte past the limit in all. */
	text = malloc(CONFIG_FILE_MAX + 2);
	assert_non_null(text);
	for (i = 0; i < CONFIG_FILE_MAX + 1; i++)
		text[i] = i % 64 == 63 ? '\n' : '#';
	text[CONFIG_FILE_MAX + 1] = '\0';
	assert_int_equal(load(text, 0, env, &cfg, &err, path), -1);
	assert_non_null(strstr(err, "file is larger than 256 KiB"));
	assert_non_null(strstr(err, path));
	free(err);

	/* At the limit it loads. */
	text[CONFIG_FILE_MAX] = '\0';
	assert_int_equal(load(text, 0, env, &cfg, &err, path), 0);
	config_free(&cfg);
	free(text);
}

static void
config_missing_explicit_file_fails(void **state)
{
	char *env[] = { NULL };
	struct config *cfg = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(
	    config_load("/tmp/mg-cfg-no-such.conf", env, &cfg, &err), -1);
	assert_null(cfg);
	assert_string_equal(err,
	    "/tmp/mg-cfg-no-such.conf: cannot read: No "
	    "such file or directory");
	free(err);

	assert_int_equal(config_load("/tmp", env, &cfg, &err), -1);
	assert_string_equal(err, "/tmp: cannot read: not a regular file");
	free(err);
}

static void
config_missing_default_file_is_fine(void **state)
{
	char var[] = "MAILGATE_OIDC_CLIENT_ID=env-only";
	char *env[] = { var, NULL };
	struct config *cfg = NULL;
	char *err = NULL;

	(void)state;
	if (access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		skip(); /* a real installation: nothing to test here */
	assert_int_equal(config_load(NULL, env, &cfg, &err), 0);
	assert_null(cfg->path);
	assert_string_equal(cfg->oidc.client_id, "env-only");
	config_free(&cfg);
}

static const struct {
	const char *name;
	const char *file;
	unsigned int needs;
	const char *want; /* NULL: satisfied */
} require_cases[] = {
	{ "nothing needed", "", 0, NULL },
	{ "database set", "[database]\nurl = x\n", CONFIG_NEED_DATABASE, NULL },
	{ "database via file", "[database]\nurl_file = {secret}\n",
	    CONFIG_NEED_DATABASE, NULL },
	{ "all set",
	    "[database]\nurl=x\n[tokens]\nkey_file=/k\n[http]\npublic_url="
	    "https://a.org\n[oidc]\nissuer=https://id.org\nclient_id=c\n"
	    "client_secret=s\n",
	    CONFIG_NEED_DATABASE | CONFIG_NEED_TOKENS | CONFIG_NEED_HTTP |
		CONFIG_NEED_OIDC,
	    NULL },
	{ "database missing", "", CONFIG_NEED_DATABASE,
	    "missing required key [database] url (set url or url_file in "
	    "{path}, or MAILGATE_DATABASE_URL)" },
	{ "tokens missing", "[database]\nurl=x\n",
	    CONFIG_NEED_DATABASE | CONFIG_NEED_TOKENS,
	    "missing required key [tokens] key_file (set key_file in {path}, "
	    "or MAILGATE_TOKENS_KEY_FILE)" },
	{ "key file emptied", "[tokens]\nkey_file =\n", CONFIG_NEED_TOKENS,
	    "missing required key [tokens] key_file" },
	{ "http missing", "", CONFIG_NEED_HTTP,
	    "missing required key [http] public_url (set public_url in {path}, "
	    "or MAILGATE_HTTP_PUBLIC_URL)" },
	{ "oidc issuer missing", "[oidc]\nclient_id=c\nclient_secret=s\n",
	    CONFIG_NEED_OIDC, "missing required key [oidc] issuer" },
	{ "oidc client id missing",
	    "[oidc]\nissuer=https://id.org\n"
	    "client_secret=s\n",
	    CONFIG_NEED_OIDC, "missing required key [oidc] client_id" },
	{ "oidc secret missing", "[oidc]\nissuer=https://id.org\nclient_id=c\n",
	    CONFIG_NEED_OIDC,
	    "missing required key [oidc] client_secret (set client_secret or "
	    "client_secret_file in {path}, or MAILGATE_OIDC_CLIENT_SECRET)" },
};

static void
config_require_cases(void **state)
{
	const char *const env[] = { NULL };
	struct config *cfg = NULL;
	char path[64], *err, *want;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(require_cases) / sizeof(require_cases[0]); i++) {
		if (load(require_cases[i].file, 0, env, &cfg, &err, path) != 0)
			fail_msg("%s: load: %s", require_cases[i].name, err);
		err = NULL;
		if (config_require(cfg, require_cases[i].needs, &err) !=
		    (require_cases[i].want == NULL ? 0 : -1))
			fail_msg("%s: wrong result", require_cases[i].name);
		if (require_cases[i].want != NULL) {
			want = expand(require_cases[i].want, path);
			if (strstr(err, want) != err)
				fail_msg("%s: got \"%s\"",
				    require_cases[i].name, err);
			free(want);
		}
		free(err);
		config_free(&cfg);
	}
}

static void
config_free_accepts_null(void **state)
{
	struct config *cfg = NULL;

	(void)state;
	config_free(NULL);
	config_free(&cfg);
	assert_null(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_defaults_fill_every_field),
		cmocka_unit_test(config_good_cases),
		cmocka_unit_test(config_bad_cases),
		cmocka_unit_test(config_errors_never_show_secrets),
		cmocka_unit_test(config_rejects_overlong_line),
		cmocka_unit_test(config_rejects_overlong_env),
		cmocka_unit_test(config_rejects_large_file),
		cmocka_unit_test(config_missing_explicit_file_fails),
		cmocka_unit_test(config_missing_default_file_is_fine),
		cmocka_unit_test(config_require_cases),
		cmocka_unit_test(config_free_accepts_null),
	};

	return cmocka_run_group_tests(tests, setup_files, teardown_files);
}
