/* SPDX-License-Identifier: MIT */
/*
 * config.c - read mailgate.conf and MAILGATE_* environment variables
 * into struct config.
 * Input: a file the administrator wrote (trusted, but typo-prone) and
 * the environment. Limits: CONFIG_FILE_MAX, CONFIG_LINE_MAX,
 * SECRET_FILE_MAX. Every error names the file and line (or the variable)
 * and the key; secret values never appear in any message.
 *
 * Loading runs in three steps: collect raw text per key (file, then the
 * environment, which wins), convert every key once through the table
 * (text, or the default), then check the keys that depend on each other.
 */
#include "mailgate/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mailgate/limits.h"
#include "mailgate/log.h"
#include "mailgate/parse.h"
#include "mailgate/result.h"
#include "mailgate/xmalloc.h"

extern char **environ;

#define CONFIG_NAME_MAX   63 /* section and key names */
#define CONFIG_ENV_PREFIX "MAILGATE_"
#define CONFIG_ENV_MAX    128 /* longest variable name we look at */
#define CONFIG_SHOW_MAX   80  /* bytes of a bad value quoted back */

enum config_type {
	CONFIG_T_STRING,
	CONFIG_T_SECRET,
	CONFIG_T_BOOL,
	CONFIG_T_UINT,
	CONFIG_T_DURATION,    /* int64_t seconds */
	CONFIG_T_DURATION_MS, /* int64_t milliseconds */
	CONFIG_T_MODE,
	CONFIG_T_LIST,
	CONFIG_T_LOGLEVEL,
};

/* An empty value unsets a string (NULL) or empties a list. */
#define CONFIG_F_EMPTY     0x01
/* An empty value is kept as "" (http.listen: no HTTP). */
#define CONFIG_F_EMPTY_STR 0x02
/* Durations: "0" is allowed and means never / no limit / off. */
#define CONFIG_F_ZERO      0x04

/* Extra check of a string or of one list item; may shorten v in place. */
typedef int config_check_fn(char *v, const char **why_r);

struct config_key {
	const char *section;
	const char *key;
	enum config_type type;
	unsigned int flags;
	size_t offset;     /* into struct config */
	const char *def;   /* default as text, NULL = none */
	uint64_t min, max; /* uint: range; durations: max seconds (ms) */
	config_check_fn *check;
};

static config_check_fn config_check_listen, config_check_loopback,
    config_check_public_url, config_check_url, config_check_cidr,
    config_check_domain, config_check_alg, config_check_auth_method,
    config_check_template, config_check_claim, config_check_scopes,
    config_check_socket, config_check_account, config_check_host;

#define CONFIG_KEY(sec, name, type, field, def, flags, min, max, check)        \
	{                                                                      \
		sec, name, type, flags, offsetof(struct config, field), def,   \
		    min, max, check                                            \
	}
#define CONFIG_DAY UINT64_C(86400)

static const struct config_key config_keys[] = {
	CONFIG_KEY("database", "url", CONFIG_T_SECRET, database.url, NULL, 0, 0,
	    0, NULL),
	CONFIG_KEY("database", "connect_timeout", CONFIG_T_DURATION,
	    database.connect_timeout, "5s", 0, 0, 300, NULL),

	CONFIG_KEY("tokens", "key_file", CONFIG_T_STRING, tokens.key_file, NULL,
	    CONFIG_F_EMPTY, 0, 0, NULL),
	CONFIG_KEY("tokens", "previous_key_files", CONFIG_T_LIST,
	    tokens.previous_key_files, NULL, CONFIG_F_EMPTY, 0, 0, NULL),
	CONFIG_KEY("tokens", "default_expiry", CONFIG_T_DURATION,
	    tokens.default_expiry, "365d", CONFIG_F_ZERO, 0, 0, NULL),
	CONFIG_KEY("tokens", "max_expiry", CONFIG_T_DURATION, tokens.max_expiry,
	    "0", CONFIG_F_ZERO, 0, 0, NULL),

	CONFIG_KEY("auth", "socket", CONFIG_T_STRING, auth.socket,
	    "/run/mailgate/auth", 0, 0, 0, config_check_socket),
	CONFIG_KEY("auth", "socket_user", CONFIG_T_STRING, auth.socket_user,
	    NULL, CONFIG_F_EMPTY, 0, 0, config_check_account),
	CONFIG_KEY("auth", "socket_group", CONFIG_T_STRING, auth.socket_group,
	    NULL, CONFIG_F_EMPTY, 0, 0, config_check_account),
	CONFIG_KEY("auth", "socket_mode", CONFIG_T_MODE, auth.socket_mode,
	    "0660", 0, 0, 0777, NULL),
	CONFIG_KEY("auth", "tcp_listen", CONFIG_T_STRING, auth.tcp_listen, NULL,
	    CONFIG_F_EMPTY, 0, 0, config_check_loopback),
	CONFIG_KEY("auth", "max_connections", CONFIG_T_UINT,
	    auth.max_connections, "4096", 0, 1, 1000000, NULL),
	CONFIG_KEY("auth", "cache_ttl", CONFIG_T_DURATION, auth.cache_ttl, "5m",
	    CONFIG_F_ZERO, 0, CONFIG_DAY, NULL),
	CONFIG_KEY("auth", "failure_delay", CONFIG_T_DURATION_MS,
	    auth.failure_delay, "1s", CONFIG_F_ZERO, 0, 30000, NULL),
	CONFIG_KEY("auth", "lockout_failures", CONFIG_T_UINT,
	    auth.lockout_failures, "10", 0, 0, 1000000, NULL),
	CONFIG_KEY("auth", "lockout_time", CONFIG_T_DURATION, auth.lockout_time,
	    "15m", 0, 0, 30 * CONFIG_DAY, NULL),

	CONFIG_KEY("http", "listen", CONFIG_T_STRING, http.listen,
	    "127.0.0.1:8080", CONFIG_F_EMPTY_STR, 0, 0, config_check_listen),
	CONFIG_KEY("http", "public_url", CONFIG_T_STRING, http.public_url, NULL,
	    0, 0, 0, config_check_public_url),
	CONFIG_KEY("http", "trusted_proxies", CONFIG_T_LIST,
	    http.trusted_proxies, NULL, CONFIG_F_EMPTY, 0, 0,
	    config_check_cidr),
	CONFIG_KEY("http", "max_connections", CONFIG_T_UINT,
	    http.max_connections, "256", 0, 1, 100000, NULL),
	CONFIG_KEY("http", "session_idle", CONFIG_T_DURATION, http.session_idle,
	    "30m", 0, 0, 30 * CONFIG_DAY, NULL),
	CONFIG_KEY("http", "session_max", CONFIG_T_DURATION, http.session_max,
	    "12h", 0, 0, 365 * CONFIG_DAY, NULL),
	CONFIG_KEY("http", "token_reauth", CONFIG_T_DURATION, http.token_reauth,
	    "15m", 0, 0, 365 * CONFIG_DAY, NULL),
	CONFIG_KEY("http", "mail_host", CONFIG_T_STRING, http.mail_host, NULL,
	    CONFIG_F_EMPTY, 0, 0, config_check_host),

	CONFIG_KEY("oidc", "issuer", CONFIG_T_STRING, oidc.issuer, NULL, 0, 0,
	    0, config_check_url),
	CONFIG_KEY("oidc", "client_id", CONFIG_T_STRING, oidc.client_id, NULL,
	    0, 0, 0, NULL),
	CONFIG_KEY("oidc", "client_secret", CONFIG_T_SECRET, oidc.client_secret,
	    NULL, 0, 0, 0, NULL),
	CONFIG_KEY("oidc", "scopes", CONFIG_T_STRING, oidc.scopes,
	    "openid email profile", 0, 0, 0, config_check_scopes),
	CONFIG_KEY("oidc", "ca_file", CONFIG_T_STRING, oidc.ca_file, NULL,
	    CONFIG_F_EMPTY, 0, 0, NULL),
	CONFIG_KEY("oidc", "token_auth_method", CONFIG_T_STRING,
	    oidc.token_auth_method, "client_secret_basic", 0, 0, 0,
	    config_check_auth_method),
	CONFIG_KEY("oidc", "allowed_algs", CONFIG_T_LIST, oidc.allowed_algs,
	    "RS256 ES256 HS256", 0, 0, 0, config_check_alg),
	CONFIG_KEY("oidc", "clock_skew", CONFIG_T_DURATION, oidc.clock_skew,
	    "60s", CONFIG_F_ZERO, 0, 300, NULL),
	CONFIG_KEY("oidc", "http_timeout", CONFIG_T_DURATION, oidc.http_timeout,
	    "10s", 0, 0, 300, NULL),

	CONFIG_KEY("mapping", "address_claim", CONFIG_T_STRING,
	    mapping.address_claim, "email", 0, 0, 0, config_check_claim),
	CONFIG_KEY("mapping", "address_template", CONFIG_T_STRING,
	    mapping.address_template, NULL, CONFIG_F_EMPTY, 0, 0,
	    config_check_template),
	CONFIG_KEY("mapping", "allowed_domains", CONFIG_T_LIST,
	    mapping.allowed_domains, NULL, CONFIG_F_EMPTY, 0, 0,
	    config_check_domain),
	CONFIG_KEY("mapping", "required_groups", CONFIG_T_LIST,
	    mapping.required_groups, NULL, CONFIG_F_EMPTY, 0, 0, NULL),
	CONFIG_KEY("mapping", "groups_claim", CONFIG_T_STRING,
	    mapping.groups_claim, "groups", 0, 0, 0, config_check_claim),
	CONFIG_KEY("mapping", "require_email_verified", CONFIG_T_BOOL,
	    mapping.require_email_verified, "no", 0, 0, 0, NULL),
	CONFIG_KEY("mapping", "require_mfa", CONFIG_T_BOOL, mapping.require_mfa,
	    "no", 0, 0, 0, NULL),
	CONFIG_KEY("mapping", "create_mailboxes", CONFIG_T_BOOL,
	    mapping.create_mailboxes, "no", 0, 0, 0, NULL),

	CONFIG_KEY("log", "level", CONFIG_T_LOGLEVEL, log.level, "info", 0, 0,
	    0, NULL),
	CONFIG_KEY(
	    "log", "syslog", CONFIG_T_BOOL, log.syslog, "no", 0, 0, 0, NULL),
};

#define CONFIG_NKEYS MG_N_ELEMENTS(config_keys)

/* Where a raw value came from: a file line or an environment variable. */
struct config_raw {
	char *value; /* owned; NULL = not set */
	unsigned int line;
	char *env; /* owned variable name; NULL = from the file */
};

/* Loading state; raw[i][1] holds the <key>_file form of secret i. */
struct config_loader {
	const char *path; /* for messages */
	struct config_raw raw[CONFIG_NKEYS][2];
	struct config *cfg;
	char *err; /* owned, the first error */
};

/* One line after lexing. */
enum config_line_kind {
	CONFIG_LINE_BLANK,
	CONFIG_LINE_SECTION,
	CONFIG_LINE_KEY,
};

enum config_lex_state {
	CONFIG_LEX_START,
	CONFIG_LEX_COMMENT,
	CONFIG_LEX_SECTION,
	CONFIG_LEX_AFTER_SECTION,
	CONFIG_LEX_KEY,
	CONFIG_LEX_BEFORE_EQ,
	CONFIG_LEX_BEFORE_VALUE,
	CONFIG_LEX_VALUE,
	CONFIG_LEX_QUOTED,
	CONFIG_LEX_ESCAPE,
	CONFIG_LEX_AFTER_QUOTE,
};

struct config_lex {
	enum config_lex_state st;
	char name[CONFIG_NAME_MAX + 1];
	size_t name_len;
	char value[CONFIG_LINE_MAX + 1];
	size_t value_len;
	size_t value_keep; /* unquoted: length without trailing blanks */
};

static bool
config_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool
config_is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static void *
config_field(struct config *cfg, const struct config_key *k)
{
	return (char *)cfg + k->offset;
}

/*
 * Lexer
 */

static int
config_lex_name(struct config_lex *lx, char c, const char **why_r)
{
	if (lx->name_len == CONFIG_NAME_MAX) {
		*why_r = "name is too long";
		return -1;
	}
	lx->name[lx->name_len++] = c;
	lx->name[lx->name_len] = '\0';
	return 0;
}

static void
config_lex_value(struct config_lex *lx, char c)
{
	MG_ASSERT(lx->value_len < CONFIG_LINE_MAX); /* line length checked */
	lx->value[lx->value_len++] = c;
	lx->value[lx->value_len] = '\0';
}

/*
 * One handler per state: each reads one byte and may move to another
 * state. The byte checks have already refused NUL and control bytes.
 */
typedef int config_lex_fn(struct config_lex *lx, char c, const char **why_r);

static int
config_lex_start(struct config_lex *lx, char c, const char **why_r)
{
	if (config_is_blank(c))
		return 0;
	if (c == '#' || c == ';') {
		lx->st = CONFIG_LEX_COMMENT;
		return 0;
	}
	if (c == '[') {
		lx->st = CONFIG_LEX_SECTION;
		return 0;
	}
	if (!config_is_name_char(c)) {
		*why_r = "expected [section], key = value or a comment";
		return -1;
	}
	lx->st = CONFIG_LEX_KEY;
	return config_lex_name(lx, c, why_r);
}

static int
config_lex_comment(struct config_lex *lx, char c, const char **why_r)
{
	(void)lx;
	(void)c;
	(void)why_r;
	return 0;
}

static int
config_lex_section(struct config_lex *lx, char c, const char **why_r)
{
	if (c == ']' && lx->name_len > 0) {
		lx->st = CONFIG_LEX_AFTER_SECTION;
		return 0;
	}
	if (config_is_name_char(c))
		return config_lex_name(lx, c, why_r);
	*why_r = "section names are lower-case letters, digits and _";
	return -1;
}

static int
config_lex_after_section(struct config_lex *lx, char c, const char **why_r)
{
	(void)lx;
	if (config_is_blank(c))
		return 0;
	*why_r = "text after the section header";
	return -1;
}

static int
config_lex_key(struct config_lex *lx, char c, const char **why_r)
{
	if (config_is_name_char(c))
		return config_lex_name(lx, c, why_r);
	if (c == '=') {
		lx->st = CONFIG_LEX_BEFORE_VALUE;
		return 0;
	}
	if (config_is_blank(c)) {
		lx->st = CONFIG_LEX_BEFORE_EQ;
		return 0;
	}
	*why_r = "keys are lower-case letters, digits and _";
	return -1;
}

static int
config_lex_before_eq(struct config_lex *lx, char c, const char **why_r)
{
	if (config_is_blank(c))
		return 0;
	if (c == '=') {
		lx->st = CONFIG_LEX_BEFORE_VALUE;
		return 0;
	}
	*why_r = "expected '=' after the key";
	return -1;
}

static int
config_lex_bare(struct config_lex *lx, char c, const char **why_r)
{
	if (c == '"') {
		*why_r = "a '\"' may only open a quoted value";
		return -1;
	}
	config_lex_value(lx, c);
	if (!config_is_blank(c))
		lx->value_keep = lx->value_len;
	return 0;
}

static int
config_lex_before_value(struct config_lex *lx, char c, const char **why_r)
{
	if (config_is_blank(c))
		return 0;
	if (c == '"') {
		lx->st = CONFIG_LEX_QUOTED;
		return 0;
	}
	lx->st = CONFIG_LEX_VALUE;
	return config_lex_bare(lx, c, why_r);
}

static int
config_lex_quoted(struct config_lex *lx, char c, const char **why_r)
{
	(void)why_r;
	if (c == '\\')
		lx->st = CONFIG_LEX_ESCAPE;
	else if (c == '"')
		lx->st = CONFIG_LEX_AFTER_QUOTE;
	else
		config_lex_value(lx, c);
	return 0;
}

static int
config_lex_escape(struct config_lex *lx, char c, const char **why_r)
{
	if (c != '"' && c != '\\') {
		*why_r = "only \\\" and \\\\ may follow a '\\'";
		return -1;
	}
	config_lex_value(lx, c);
	lx->st = CONFIG_LEX_QUOTED;
	return 0;
}

static int
config_lex_after_quote(struct config_lex *lx, char c, const char **why_r)
{
	(void)lx;
	if (config_is_blank(c))
		return 0;
	*why_r = "text after the closing quote";
	return -1;
}

static config_lex_fn *const config_lex_states[] = {
	[CONFIG_LEX_START] = config_lex_start,
	[CONFIG_LEX_COMMENT] = config_lex_comment,
	[CONFIG_LEX_SECTION] = config_lex_section,
	[CONFIG_LEX_AFTER_SECTION] = config_lex_after_section,
	[CONFIG_LEX_KEY] = config_lex_key,
	[CONFIG_LEX_BEFORE_EQ] = config_lex_before_eq,
	[CONFIG_LEX_BEFORE_VALUE] = config_lex_before_value,
	[CONFIG_LEX_VALUE] = config_lex_bare,
	[CONFIG_LEX_QUOTED] = config_lex_quoted,
	[CONFIG_LEX_ESCAPE] = config_lex_escape,
	[CONFIG_LEX_AFTER_QUOTE] = config_lex_after_quote,
};

/* The state the line ended in decides what the line was. */
static int
config_lex_end(
    struct config_lex *lx, enum config_line_kind *kind_r, const char **why_r)
{
	switch (lx->st) {
	case CONFIG_LEX_START:
	case CONFIG_LEX_COMMENT:
		*kind_r = CONFIG_LINE_BLANK;
		return 0;
	case CONFIG_LEX_AFTER_SECTION:
		*kind_r = CONFIG_LINE_SECTION;
		return 0;
	case CONFIG_LEX_VALUE:
		lx->value[lx->value_keep] = '\0';
		MG_FALLTHROUGH;
	case CONFIG_LEX_BEFORE_VALUE:
	case CONFIG_LEX_AFTER_QUOTE:
		*kind_r = CONFIG_LINE_KEY;
		return 0;
	case CONFIG_LEX_SECTION:
		*why_r = "missing ']'";
		return -1;
	case CONFIG_LEX_KEY:
	case CONFIG_LEX_BEFORE_EQ:
		*why_r = "expected '=' after the key";
		return -1;
	case CONFIG_LEX_QUOTED:
	case CONFIG_LEX_ESCAPE:
		*why_r = "missing closing '\"'";
		return -1;
	}
	MG_BUG("config_lex_end: bad state");
	return -1;
}

static int
config_lex_line(struct config_lex *lx, const char *line, size_t len,
    enum config_line_kind *kind_r, const char **why_r)
{
	size_t i;

	memset(lx, 0, sizeof(*lx));
	lx->st = CONFIG_LEX_START;
	for (i = 0; i < len; i++) {
		if (config_lex_states[lx->st](lx, line[i], why_r) < 0)
			return -1;
	}
	return config_lex_end(lx, kind_r, why_r);
}

/*
 * Byte checks shared by file lines and environment values
 */

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t
config_utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static int
config_check_bytes(const char *p, size_t len, const char **why_r)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, n;

	while (i < len) {
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) {
			*why_r = s[i] == '\0' ? "holds a NUL byte" :
						"holds a control byte";
			return -1;
		}
		n = config_utf8_len(s + i, len - i);
		if (n == 0) {
			*why_r = "is not valid UTF-8";
			return -1;
		}
		i += n;
	}
	return 0;
}

/*
 * Messages
 */

/* "path:line" or "environment NAME" for the raw value r. */
static char *
config_where(const struct config_loader *ld, const struct config_raw *r)
{
	if (r->env != NULL)
		return xasprintf("environment %s", r->env);
	return xasprintf("%s:%u", ld->path, r->line);
}

static void
config_fail(struct config_loader *ld, const struct config_raw *r,
    const struct config_key *k, bool file_form, const char *why)
{
	char *where = config_where(ld, r);

	MG_ASSERT(ld->err == NULL);
	ld->err = xasprintf("%s: [%s] %s%s: %s", where, k->section, k->key,
	    file_form ? "_file" : "", why);
	free(where);
}

/* Owned text `"value" what` for a bad non-secret value. */
static char *
config_bad(const char *v, const char *what)
{
	return xasprintf("\"%.*s%s\" %s", CONFIG_SHOW_MAX, v,
	    strlen(v) > CONFIG_SHOW_MAX ? "..." : "", what);
}

/*
 * Value checks
 */

static bool
config_hostname_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 253 || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
			s[i] == '.'))
			return false;
	}
	return true;
}

/*
 * Split "host:port" or "[v6]:port". The host goes to host (size bytes);
 * *v6_r tells whether it was bracketed.
 */
static int
config_split_hostport(const char *v, char *host, size_t size, bool *v6_r)
{
	const char *colon;
	unsigned int port;
	size_t len;

	*v6_r = v[0] == '[';
	if (*v6_r) {
		colon = strchr(v, ']');
		if (colon == NULL || colon[1] != ':')
			return -1;
		colon++;
		v++;
		len = (size_t)(colon - v) - 1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL)
			return -1;
		len = (size_t)(colon - v);
	}
	if (len == 0 || len >= size ||
	    parse_uint(colon + 1, 65535, &port) < 0 || port == 0)
		return -1;

	memcpy(host, v, len);
	host[len] = '\0';
	return 0;
}

static int
config_check_listen(char *v, const char **why_r)
{
	char host[256];
	unsigned char addr[16];
	bool v6;

	*why_r = "is not host:port, [ipv6]:port or empty";
	if (config_split_hostport(v, host, sizeof(host), &v6) < 0)
		return -1;
	if (v6)
		return inet_pton(AF_INET6, host, addr) == 1 ? 0 : -1;
	if (inet_pton(AF_INET, host, addr) == 1)
		return 0;
	return config_hostname_ok(host, strlen(host)) ? 0 : -1;
}

static int
config_check_loopback(char *v, const char **why_r)
{
	char host[256];
	unsigned char addr[16];
	bool v6;

	if (config_check_listen(v, why_r) < 0)
		return -1;
	*why_r = "is not on loopback (127.0.0.0/8, [::1] or localhost)";
	if (config_split_hostport(v, host, sizeof(host), &v6) < 0)
		return -1;
	if (v6)
		return inet_pton(AF_INET6, host, addr) == 1 &&
			memcmp(addr, &in6addr_loopback, 16) == 0 ?
		    0 :
		    -1;
	if (inet_pton(AF_INET, host, addr) == 1)
		return addr[0] == 127 ? 0 : -1;
	return strcasecmp(host, "localhost") == 0 ? 0 : -1;
}

static int
config_check_url(char *v, const char **why_r)
{
	const char *host, *end;
	size_t i;

	*why_r = "is not an http:// or https:// URL without query or "
		 "fragment";
	if (strncmp(v, "https://", 8) == 0)
		host = v + 8;
	else if (strncmp(v, "http://", 7) == 0)
		host = v + 7;
	else
		return -1;

	end = strchr(host, '/');
	if (end == NULL)
		end = host + strlen(host);
	if (end == host || memchr(host, '@', (size_t)(end - host)) != NULL)
		return -1;
	for (i = 0; v[i] != '\0'; i++) {
		if (v[i] == '?' || v[i] == '#' || v[i] == ' ' || v[i] == '\t')
			return -1;
	}
	return 0;
}

static int
config_check_public_url(char *v, const char **why_r)
{
	size_t len;

	if (config_check_url(v, why_r) < 0)
		return -1;
	len = strlen(v);
	while (len > 0 && v[len - 1] == '/') /* stored without it */
		v[--len] = '\0';
	return config_check_url(v, why_r);
}

static int
config_check_cidr(char *v, const char **why_r)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	unsigned int bits, maxbits;
	const char *slash = strchr(v, '/');
	size_t len = slash != NULL ? (size_t)(slash - v) : strlen(v);

	*why_r =
	    "is not an address or CIDR block (192.0.2.0/24, 2001:db8::/32)";
	if (len == 0 || len >= sizeof(addr))
		return -1;
	memcpy(addr, v, len);
	addr[len] = '\0';

	if (inet_pton(AF_INET, addr, bin) == 1)
		maxbits = 32;
	else if (inet_pton(AF_INET6, addr, bin) == 1)
		maxbits = 128;
	else
		return -1;
	if (slash != NULL && parse_uint(slash + 1, maxbits, &bits) < 0)
		return -1;
	return 0;
}

static int
config_check_domain(char *v, const char **why_r)
{
	char addr[ADDRESS_MAX + 1], *probe;
	int ret;

	probe = xasprintf("x@%s", v);
	ret = address_normalize(probe, addr, why_r);
	free(probe);
	if (ret < 0) {
		*why_r = "is not a mail domain";
		return -1;
	}
	memcpy(v, addr + 2, strlen(addr + 2) + 1); /* the lower-case form */
	return 0;
}

static int
config_check_alg(char *v, const char **why_r)
{
	static const char *const algs[] = { "RS256", "RS384", "RS512", "PS256",
		"ES256", "ES384", "HS256" };
	size_t i;

	for (i = 0; i < MG_N_ELEMENTS(algs); i++) {
		if (strcmp(v, algs[i]) == 0)
			return 0;
	}
	*why_r = "is not one of RS256 RS384 RS512 PS256 ES256 ES384 HS256";
	return -1;
}

static int
config_check_auth_method(char *v, const char **why_r)
{
	if (strcmp(v, "client_secret_basic") == 0 ||
	    strcmp(v, "client_secret_post") == 0)
		return 0;
	*why_r = "is not client_secret_basic or client_secret_post";
	return -1;
}

/* A host name as people type it into a mail program. */
static int
config_check_host(char *v, const char **why_r)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";

	*why_r = "is not a host name (letters, digits, '.' and '-')";
	return v[0] != '\0' && v[strspn(v, ok)] == '\0' ? 0 : -1;
}

static int
config_check_claim(char *v, const char **why_r)
{
	*why_r = "is not a claim name (no blanks or braces)";
	return strpbrk(v, " \t{}") == NULL ? 0 : -1;
}

/* "{preferred_username}@example.org": claims in braces, and an '@'. */
static int
config_check_template(char *v, const char **why_r)
{
	const char *p = v, *close;
	unsigned int claims = 0;
	size_t len;

	*why_r = "needs an '@' and at least one {claim}, with balanced braces";
	if (strchr(v, '@') == NULL || strpbrk(v, " \t") != NULL)
		return -1;
	while ((p = strpbrk(p, "{}")) != NULL) {
		if (*p == '}')
			return -1;
		close = strpbrk(p + 1, "{}");
		if (close == NULL || *close != '}')
			return -1;
		len = (size_t)(close - p) - 1;
		if (len == 0)
			return -1;
		claims++;
		p = close + 1;
	}
	return claims > 0 ? 0 : -1;
}

/* Whether the blank-separated list of scopes p holds "openid". */
static bool
config_scopes_have_openid(const char *p)
{
	size_t len;

	while (*p != '\0') {
		len = strcspn(p, " ");
		if (len == 6 && strncmp(p, "openid", 6) == 0)
			return true;
		p += len;
		p += strspn(p, " ");
	}
	return false;
}

static int
config_check_scopes(char *v, const char **why_r)
{
	if (config_scopes_have_openid(v))
		return 0;
	*why_r = "must include the scope openid";
	return -1;
}

static int
config_check_socket(char *v, const char **why_r)
{
	struct sockaddr_un sun;

	if (v[0] != '/' || strlen(v) >= sizeof(sun.sun_path)) {
		*why_r = "is not an absolute path of at most 107 bytes";
		return -1;
	}
	return 0;
}

/* A user or group name: [A-Za-z0-9_.-], 1..32 bytes, no leading '-'. */
static bool
config_account_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
			s[i] == '-' || s[i] == '.'))
			return false;
	}
	return i > 0 && i <= 32 && s[0] != '-';
}

static int
config_check_account(char *v, const char **why_r)
{
	if (config_account_ok(v))
		return 0;
	*why_r = "is not a user or group name";
	return -1;
}

/*
 * Converters: text to field. On error they set an owned *why_r.
 */

static int
config_conv_string(
    const struct config_key *k, const char *v, void *field, char **why_r)
{
	char *s = xstrdup(v);
	const char *why;

	if (k->check != NULL &&
	    !(v[0] == '\0' && k->flags & CONFIG_F_EMPTY_STR) &&
	    k->check(s, &why) < 0) {
		*why_r = config_bad(v, why);
		free(s);
		return -1;
	}
	*(char **)field = s;
	return 0;
}

static int
config_conv_bool(
    const struct config_key *k, const char *v, void *field, char **why_r)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	(void)k;
	for (i = 0; i < MG_N_ELEMENTS(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			*(bool *)field = strcasecmp(v, yes[i]) == 0;
			return 0;
		}
	}
	*why_r = config_bad(v, "is not yes, no, true, false, on, off, 1 or 0");
	return -1;
}

static int
config_conv_uint(
    const struct config_key *k, const char *v, void *field, char **why_r)
{
	unsigned int n;
	char what[80];

	if (parse_uint(v, (unsigned int)k->max, &n) < 0 || n < k->min) {
		(void)snprintf(what, sizeof(what),
		    "is not a whole number from %u to %u", (unsigned int)k->min,
		    (unsigned int)k->max);
		*why_r = config_bad(v, what);
		return -1;
	}
	*(unsigned int *)field = n;
	return 0;
}

static int
config_conv_mode(
    const struct config_key *k, const char *v, void *field, char **why_r)
{
	unsigned int mode = 0;
	size_t i, len = strlen(v);

	for (i = 0; i < len && len <= 4; i++) {
		if (v[i] < '0' || v[i] > '7')
			break;
		mode = mode * 8 + (unsigned int)(v[i] - '0');
	}
	if (len == 0 || len > 4 || i < len || mode > k->max) {
		*why_r = config_bad(v, "is not an octal file mode");
		return -1;
	}
	*(unsigned int *)field = mode;
	return 0;
}

/* Seconds, or ms for CONFIG_T_DURATION_MS, of the text v. */
static int
config_duration_value(const struct config_key *k, const char *v, int64_t *val_r,
    const char **why_r)
{
	char digits[16];
	size_t len = strlen(v);
	uint64_t ms;
	int64_t secs;

	if (strcmp(v, "0") == 0 && k->flags & CONFIG_F_ZERO) {
		*val_r = 0;
		return 0;
	}
	if (k->type == CONFIG_T_DURATION_MS && len > 2 &&
	    strcmp(v + len - 2, "ms") == 0) {
		*why_r = "is not a duration (like 500ms, 1s or 2s)";
		if (len - 2 >= sizeof(digits))
			return -1;
		memcpy(digits, v, len - 2);
		digits[len - 2] = '\0';
		if (parse_uint64(digits, INT64_MAX, &ms) < 0 || ms == 0)
			return -1;
		*val_r = (int64_t)ms;
		return 0;
	}
	if (parse_duration(v, &secs, why_r) < 0)
		return -1;
	/* parse_duration stops at 100 years: times 1000 fits. */
	*val_r = k->type == CONFIG_T_DURATION_MS ? secs * 1000 : secs;
	return 0;
}

static int
config_conv_duration(
    const struct config_key *k, const char *v, void *field, char **why_r)
{
	const char *why;
	char what[80];
	int64_t val;

	if (config_duration_value(k, v, &val, &why) < 0) {
		*why_r = config_bad(v, why);
		return -1;
	}
	if (k->max != 0 && (uint64_t)val > k->max) {
		(void)snprintf(what, sizeof(what), "is more than %llu%s",
		    (unsigned long long)k->max,
		    k->type == CONFIG_T_DURATION_MS ? "ms" : "s");
		*why_r = config_bad(v, what);
		return -1;
	}
	*(int64_t *)field = val;
	return 0;
}

static void
config_list_free(struct config_list *l)
{
	unsigned int i;

	for (i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

static int
config_conv_list(
    const struct config_key *k, const char *v, void *field, char **why_r)
{
	struct config_list l = { NULL, 0 };
	const char *p = v, *why;
	size_t len;
	char *item;

	while (*(p += strspn(p, ", \t")) != '\0') {
		len = strcspn(p, ", \t");
		item = xstrndup(p, len);
		p += len;
		if (k->check != NULL && k->check(item, &why) < 0) {
			*why_r = config_bad(item, why);
			free(item);
			config_list_free(&l);
			return -1;
		}
		l.items = xrealloc(l.items, (l.count + 1) * sizeof(*l.items));
		l.items[l.count++] = item;
	}
	if (l.count == 0 && !(k->flags & CONFIG_F_EMPTY)) {
		*why_r = config_bad(v, "is an empty list");
		return -1;
	}
	*(struct config_list *)field = l;
	return 0;
}

static int
config_conv_loglevel(
    const struct config_key *k, const char *v, void *field, char **why_r)
{
	enum log_level level;
	char *s;
	size_t i;

	(void)k;
	if (log_level_parse(v, &level) < 0) {
		*why_r = config_bad(v, "is not debug, info, warn or err");
		return -1;
	}
	s = xstrdup(v);
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] + 'a' - 'A');
	}
	*(char **)field = s;
	return 0;
}

/* Secrets are NUL-terminated for libraries, so no NUL or control byte. */
static int
config_secret_check(const struct secret *s, char **why_r)
{
	const char *why;

	if (s->len == 0) {
		*why_r = xstrdup("secret is empty");
		return -1;
	}
	if (config_check_bytes((const char *)s->buf, s->len, &why) < 0) {
		*why_r = xasprintf("secret %s", why);
		return -1;
	}
	return 0;
}

static int
config_conv_secret(const char *v, void *field, char **why_r)
{
	struct secret *s = secret_from(v, strlen(v));

	if (config_secret_check(s, why_r) < 0) {
		secret_free(&s);
		return -1;
	}
	*(struct secret **)field = s;
	return 0;
}

static int
config_conv_secret_file(const char *path, void *field, char **why_r)
{
	struct secret *s;
	const char *why;

	if (path[0] == '\0') {
		*why_r = xstrdup("file name is empty");
		return -1;
	}
	if (secret_read_file(path, SECRET_FILE_MAX, true, &s, &why) < 0) {
		*why_r = xasprintf("cannot read %s: %s", path, why);
		return -1;
	}
	if (config_secret_check(s, why_r) < 0) {
		secret_free(&s);
		return -1;
	}
	*(struct secret **)field = s;
	return 0;
}

typedef int config_conv_fn(
    const struct config_key *k, const char *v, void *field, char **why_r);

static config_conv_fn *const config_convs[] = {
	[CONFIG_T_STRING] = config_conv_string,
	[CONFIG_T_SECRET] = NULL, /* config_conv_secret*: no key */
	[CONFIG_T_BOOL] = config_conv_bool,
	[CONFIG_T_UINT] = config_conv_uint,
	[CONFIG_T_DURATION] = config_conv_duration,
	[CONFIG_T_DURATION_MS] = config_conv_duration,
	[CONFIG_T_MODE] = config_conv_mode,
	[CONFIG_T_LIST] = config_conv_list,
	[CONFIG_T_LOGLEVEL] = config_conv_loglevel,
};

/*
 * Collecting raw values
 */

/* Index of [section] key; *file_r tells the <key>_file form. -1 if none. */
static int
config_lookup(const char *section, const char *key, bool *file_r)
{
	size_t i, klen, len = strlen(key);

	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (strcmp(config_keys[i].section, section) != 0)
			continue;
		klen = strlen(config_keys[i].key);
		*file_r = len == klen + 5 && strcmp(key + klen, "_file") == 0;
		if (config_keys[i].type == CONFIG_T_SECRET && *file_r &&
		    strncmp(key, config_keys[i].key, klen) == 0)
			return (int)i;
		*file_r = false;
		if (strcmp(config_keys[i].key, key) == 0)
			return (int)i;
	}
	return -1;
}

/* The table's copy of a section name, or NULL when unknown. */
static const char *
config_section_find(const char *section)
{
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (strcmp(config_keys[i].section, section) == 0)
			return config_keys[i].section;
	}
	return NULL;
}

static void
config_raw_clear(struct config_raw *r)
{
	/* The value may be a secret given inline: wipe before freeing. */
	if (r->value != NULL)
		secret_wipe(r->value, strlen(r->value));
	free(r->value);
	free(r->env);
	memset(r, 0, sizeof(*r));
}

/* Record a value from the file, once per key and form. */
static int
config_set_file(struct config_loader *ld, size_t i, bool file_form,
    const char *value, unsigned int line)
{
	struct config_raw *r = &ld->raw[i][file_form];
	const struct config_raw *other = &ld->raw[i][!file_form];
	const struct config_key *k = &config_keys[i];
	struct config_raw here = { NULL, line, NULL };
	char *why;

	if (r->value != NULL || other->value != NULL) {
		why = r->value != NULL ?
		    xasprintf("set twice (first on line %u)", r->line) :
		    xasprintf("cannot be set together with %s%s (line %u)",
			k->key, file_form ? "" : "_file", other->line);
		config_fail(ld, &here, k, file_form, why);
		free(why);
		return -1;
	}
	r->value = xstrdup(value);
	r->line = line;
	return 0;
}

/* Handle one lexed line; *section is the current [section] or NULL. */
static int
config_file_line(struct config_loader *ld, const struct config_lex *lx,
    enum config_line_kind kind, unsigned int line, const char **section)
{
	struct config_key unknown = { 0 };
	struct config_raw here = { NULL, line, NULL };
	bool file_form;
	int i;

	if (kind == CONFIG_LINE_BLANK)
		return 0;
	if (kind == CONFIG_LINE_SECTION) {
		*section = config_section_find(lx->name);
		if (*section != NULL)
			return 0;
		ld->err = xasprintf(
		    "%s:%u: [%s]: unknown section", ld->path, line, lx->name);
		return -1;
	}
	if (*section == NULL) {
		ld->err = xasprintf("%s:%u: %s: key before any [section]",
		    ld->path, line, lx->name);
		return -1;
	}
	i = config_lookup(*section, lx->name, &file_form);
	if (i >= 0)
		return config_set_file(
		    ld, (size_t)i, file_form, lx->value, line);
	unknown.section = *section;
	unknown.key = lx->name;
	config_fail(ld, &here, &unknown, false, "unknown key");
	return -1;
}

/* Read the whole file into *buf_r (owned, NUL-terminated). errno kept. */
static int
config_read_file(
    const char *path, char **buf_r, size_t *len_r, const char **why_r)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t n = 0;
	int fd;

	/* O_NONBLOCK: a FIFO named by mistake must not hang the open. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		*why_r = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*why_r = "not a regular file";
		(void)close(fd);
		return -1;
	}

	/* Read one byte past the limit so that a larger file is noticed. */
	buf = xmalloc(CONFIG_FILE_MAX + 2);
	while (len <= CONFIG_FILE_MAX) {
		n = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	*why_r = n < 0 ? strerror(errno) : "file is larger than 256 KiB";
	(void)close(fd);
	if (n < 0 || len > CONFIG_FILE_MAX) {
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	*buf_r = buf;
	*len_r = len;
	return 0;
}

/* One physical line (without its "\n" or "\r\n"). */
static int
config_parse_line(struct config_loader *ld, struct config_lex *lx,
    const char *line, size_t len, unsigned int lineno, const char **section)
{
	enum config_line_kind kind;
	const char *why;

	if (len > CONFIG_LINE_MAX) {
		ld->err = xasprintf("%s:%u: line is longer than %u bytes",
		    ld->path, lineno, (unsigned int)CONFIG_LINE_MAX);
		return -1;
	}
	if (config_check_bytes(line, len, &why) < 0) {
		ld->err = xasprintf("%s:%u: line %s", ld->path, lineno, why);
		return -1;
	}
	if (config_lex_line(lx, line, len, &kind, &why) < 0) {
		ld->err = xasprintf("%s:%u: %s", ld->path, lineno, why);
		return -1;
	}
	return config_file_line(ld, lx, kind, lineno, section);
}

static int
config_parse_buf(struct config_loader *ld, const char *buf, size_t len)
{
	struct config_lex *lx = xmalloc(sizeof(*lx));
	const char *section = NULL, *p = buf, *nl;
	unsigned int lineno = 0;
	size_t n;
	int ret = 0;

	/* Editors on some systems start UTF-8 files with a byte order mark. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (ret == 0 && p < buf + len) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(buf + len - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(buf + len - p);
		/* CRLF files are accepted: the \r before \n is dropped. */
		ret = config_parse_line(ld, lx, p,
		    n > 0 && nl != NULL && p[n - 1] == '\r' ? n - 1 : n, lineno,
		    &section);
		p += n + (nl != NULL);
	}
	secret_wipe(lx, sizeof(*lx)); /* the last value may be a secret */
	free(lx);
	return ret;
}

static int
config_load_file(struct config_loader *ld, const char *path)
{
	const char *why;
	char *buf;
	size_t len;
	int ret;

	ld->path = path != NULL ? path : CONFIG_DEFAULT_PATH;
	if (config_read_file(ld->path, &buf, &len, &why) < 0) {
		if (path == NULL && errno == ENOENT)
			return 0; /* configured by the environment alone */
		ld->err = xasprintf("%s: cannot read: %s", ld->path, why);
		return -1;
	}
	ld->cfg->path = xstrdup(ld->path);
	ret = config_parse_buf(ld, buf, len);
	secret_wipe(buf, len);
	free(buf);
	return ret;
}

/*
 * Environment
 */

/* MAILGATE_<SECTION>_<KEY>[_FILE] of table entry k into buf. */
static void
config_env_name(
    const struct config_key *k, bool file_form, char *buf, size_t size)
{
	size_t i;

	(void)snprintf(buf, size, "%s%s_%s%s", CONFIG_ENV_PREFIX, k->section,
	    k->key, file_form ? "_FILE" : "");
	for (i = 0; buf[i] != '\0'; i++) {
		if (buf[i] >= 'a' && buf[i] <= 'z')
			buf[i] = (char)(buf[i] - 'a' + 'A');
	}
}

static int
config_env_lookup(const char *name, size_t len, bool *file_r)
{
	char buf[CONFIG_ENV_MAX + 1];
	size_t i;
	int form;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		for (form = 0; form < 2; form++) {
			if (form == 1 && config_keys[i].type != CONFIG_T_SECRET)
				break;
			config_env_name(
			    &config_keys[i], form, buf, sizeof(buf));
			if (strlen(buf) == len && memcmp(buf, name, len) == 0) {
				*file_r = form == 1;
				return (int)i;
			}
		}
	}
	return -1;
}

/* The environment replaces whatever the file said for the key. */
/* Why the environment value for key i cannot be taken, or NULL. */
static char *
config_env_refuse(const struct config_raw *r, bool file_form, const char *value)
{
	const char *why;

	if (r[file_form].env != NULL)
		return xstrdup("set twice in the environment");
	if (r[!file_form].env != NULL)
		return xasprintf(
		    "cannot be set together with %s", r[!file_form].env);
	if (strlen(value) > CONFIG_LINE_MAX)
		return xasprintf("value is longer than %u bytes",
		    (unsigned int)CONFIG_LINE_MAX);
	if (config_check_bytes(value, strlen(value), &why) < 0)
		return xasprintf("value %s", why);
	return NULL;
}

/* The environment replaces whatever the file said for the key. */
static int
config_set_env(struct config_loader *ld, size_t i, bool file_form,
    const char *name, const char *value)
{
	struct config_raw *r = ld->raw[i];
	struct config_raw here = { NULL, 0, NULL };
	char *why = config_env_refuse(r, file_form, value);

	if (why != NULL) {
		here.env = xstrdup(name);
		config_fail(ld, &here, &config_keys[i], file_form, why);
		free(here.env);
		free(why);
		return -1;
	}

	config_raw_clear(&r[0]);
	config_raw_clear(&r[1]);
	r[file_form].value = xstrdup(value);
	r[file_form].env = xstrdup(name);
	return 0;
}

static int
config_env_one(struct config_loader *ld, const char *entry)
{
	const char *eq = strchr(entry, '=');
	char *name;
	bool file_form;
	int i, ret;

	if (strncmp(entry, CONFIG_ENV_PREFIX, strlen(CONFIG_ENV_PREFIX)) != 0 ||
	    eq == NULL)
		return 0;
	name = xstrndup(entry, (size_t)(eq - entry));
	if (strcmp(name, "MAILGATE_CONFIG") == 0) { /* for programs, not us */
		free(name);
		return 0;
	}

	i = config_env_lookup(name, strlen(name), &file_form);
	if (i < 0) {
		ld->err = xasprintf("environment %s: no such setting "
				    "(MAILGATE_<SECTION>_<KEY>)",
		    log_safe(name, CONFIG_ENV_MAX));
		ret = -1;
	} else {
		ret = config_set_env(ld, (size_t)i, file_form, name, eq + 1);
	}
	free(name);
	return ret;
}

static int
config_load_env(struct config_loader *ld, char *const *envp)
{
	size_t i;

	if (envp == NULL)
		envp = environ;
	for (i = 0; envp[i] != NULL; i++) {
		if (config_env_one(ld, envp[i]) < 0)
			return -1;
	}
	return 0;
}

/*
 * Converting and cross-checking
 */

static int
config_apply_secret(struct config_loader *ld, size_t i)
{
	const struct config_key *k = &config_keys[i];
	const struct config_raw *r = ld->raw[i];
	void *field = config_field(ld->cfg, k);
	bool file_form = r[1].value != NULL;
	char *why = NULL;
	int ret;

	if (r[0].value == NULL && !file_form)
		return 0;
	if (file_form)
		ret = config_conv_secret_file(r[1].value, field, &why);
	else
		ret = config_conv_secret(r[0].value, field, &why);
	if (ret < 0) {
		config_fail(ld, &r[file_form], k, file_form, why);
		free(why);
	}
	return ret;
}

static int
config_apply_one(struct config_loader *ld, size_t i)
{
	const struct config_key *k = &config_keys[i];
	const struct config_raw *r = &ld->raw[i][0];
	void *field = config_field(ld->cfg, k);
	char *why = NULL;

	if (k->type == CONFIG_T_SECRET)
		return config_apply_secret(ld, i);
	if (r->value == NULL) {
		if (k->def == NULL)
			return 0;
		/* Defaults go through the same converter, and must pass. */
		MG_ASSERT(config_convs[k->type](k, k->def, field, &why) == 0);
		return 0;
	}
	if (r->value[0] == '\0' && k->flags & CONFIG_F_EMPTY &&
	    k->type != CONFIG_T_LIST)
		return 0; /* left unset */
	if (r->value[0] == '\0' &&
	    !(k->flags & (CONFIG_F_EMPTY | CONFIG_F_EMPTY_STR))) {
		config_fail(ld, r, k, false, "value is empty");
		return -1;
	}
	if (config_convs[k->type](k, r->value, field, &why) < 0) {
		config_fail(ld, r, k, false, why);
		free(why);
		return -1;
	}
	return 0;
}

static size_t
config_index(const char *section, const char *key)
{
	bool file_form;
	int i = config_lookup(section, key, &file_form);

	MG_ASSERT(i >= 0 && !file_form);
	return (size_t)i;
}

/* Fail on key b (given after, or with, key a) for a cross-key reason. */
static int
config_fail_pair(struct config_loader *ld, size_t a, size_t b, const char *what)
{
	const struct config_raw *ra = &ld->raw[a][0], *rb = &ld->raw[b][0];
	char *where = ra->value != NULL ? config_where(ld, ra) : NULL;
	char *why;

	why = xasprintf("%s [%s] %s%s%s%s", what, config_keys[a].section,
	    config_keys[a].key, where != NULL ? " (" : "",
	    where != NULL ? where : "", where != NULL ? ")" : "");
	config_fail(
	    ld, rb->value != NULL ? rb : ra, &config_keys[b], false, why);
	free(why);
	free(where);
	return -1;
}

static int
config_cross_mapping(struct config_loader *ld)
{
	size_t claim = config_index("mapping", "address_claim");
	size_t tmpl = config_index("mapping", "address_template");
	struct config *cfg = ld->cfg;

	if (ld->raw[tmpl][0].value == NULL ||
	    cfg->mapping.address_template == NULL)
		return 0;
	if (ld->raw[claim][0].value != NULL)
		return config_fail_pair(
		    ld, claim, tmpl, "cannot be set together with");
	/* The template replaces the default claim. */
	free(cfg->mapping.address_claim);
	cfg->mapping.address_claim = NULL;
	return 0;
}

static int
config_cross_tokens(struct config_loader *ld)
{
	size_t def = config_index("tokens", "default_expiry");
	size_t max = config_index("tokens", "max_expiry");
	struct config *cfg = ld->cfg;
	int64_t d = cfg->tokens.default_expiry, m = cfg->tokens.max_expiry;

	if (m == 0 || (d != 0 && d <= m))
		return 0;
	if (ld->raw[def][0].value != NULL)
		return config_fail_pair(ld, max, def,
		    d == 0 ? "cannot be 0 (never) together with" :
			     "must be at most");
	/* Only the limit was given: the default follows it down. */
	cfg->tokens.default_expiry = m;
	return 0;
}

static int
config_cross_http(struct config_loader *ld)
{
	size_t idle = config_index("http", "session_idle");
	size_t max = config_index("http", "session_max");

	if (ld->cfg->http.session_idle <= ld->cfg->http.session_max)
		return 0;
	if (ld->raw[idle][0].value != NULL)
		return config_fail_pair(ld, max, idle, "must be at most");
	/* Only the limit was given: the idle timeout follows it down. */
	ld->cfg->http.session_idle = ld->cfg->http.session_max;
	return 0;
}

static int
config_apply(struct config_loader *ld)
{
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (config_apply_one(ld, i) < 0)
			return -1;
	}
	if (config_cross_mapping(ld) < 0 || config_cross_tokens(ld) < 0 ||
	    config_cross_http(ld) < 0)
		return -1;
	return 0;
}

/*
 * Interface
 */

int
config_load(
    const char *path, char *const *envp, struct config **cfg_r, char **errstr_r)
{
	struct config_loader *ld = xcalloc(1, sizeof(*ld));
	size_t i;
	int ret;

	ld->cfg = xcalloc(1, sizeof(*ld->cfg));
	ret = config_load_file(ld, path);
	if (ret == 0)
		ret = config_load_env(ld, envp);
	if (ret == 0)
		ret = config_apply(ld);

	for (i = 0; i < CONFIG_NKEYS; i++) {
		config_raw_clear(&ld->raw[i][0]);
		config_raw_clear(&ld->raw[i][1]);
	}
	if (ret < 0) {
		MG_ASSERT(ld->err != NULL);
		config_free(&ld->cfg);
		*errstr_r = ld->err;
	} else {
		*cfg_r = ld->cfg;
	}
	free(ld);
	return ret;
}

static bool
config_is_set(const struct config *cfg, const struct config_key *k)
{
	const void *field = (const char *)cfg + k->offset;

	if (k->type == CONFIG_T_SECRET)
		return *(struct secret *const *)field != NULL;
	MG_ASSERT(k->type == CONFIG_T_STRING);
	return *(char *const *)field != NULL && **(char *const *)field != '\0';
}

int
config_require(const struct config *cfg, unsigned int needs, char **errstr_r)
{
	static const struct {
		unsigned int need;
		const char *section, *key;
	} req[] = {
		{ CONFIG_NEED_DATABASE, "database", "url" },
		{ CONFIG_NEED_TOKENS, "tokens", "key_file" },
		{ CONFIG_NEED_HTTP, "http", "public_url" },
		{ CONFIG_NEED_OIDC, "oidc", "issuer" },
		{ CONFIG_NEED_OIDC, "oidc", "client_id" },
		{ CONFIG_NEED_OIDC, "oidc", "client_secret" },
	};
	const struct config_key *k;
	char env[CONFIG_ENV_MAX + 1];
	size_t i;

	for (i = 0; i < MG_N_ELEMENTS(req); i++) {
		k = &config_keys[config_index(req[i].section, req[i].key)];
		if (!(needs & req[i].need) || config_is_set(cfg, k))
			continue;
		config_env_name(k, false, env, sizeof(env));
		*errstr_r = xasprintf(
		    "missing required key [%s] %s (set %s%s%s%s "
		    "in %s, or %s)",
		    k->section, k->key, k->key,
		    k->type == CONFIG_T_SECRET ? " or " : "",
		    k->type == CONFIG_T_SECRET ? k->key : "",
		    k->type == CONFIG_T_SECRET ? "_file" : "",
		    cfg->path != NULL ? cfg->path : CONFIG_DEFAULT_PATH, env);
		return -1;
	}
	return 0;
}

void
config_free(struct config **cfgp)
{
	struct config *cfg;
	const struct config_key *k;
	void *field;
	size_t i;

	if (cfgp == NULL || *cfgp == NULL)
		return;
	cfg = *cfgp;
	for (i = 0; i < CONFIG_NKEYS; i++) {
		k = &config_keys[i];
		field = config_field(cfg, k);
		if (k->type == CONFIG_T_SECRET)
			secret_free(field);
		else if (k->type == CONFIG_T_LIST)
			config_list_free(field);
		else if (k->type == CONFIG_T_STRING ||
		    k->type == CONFIG_T_LOGLEVEL)
			free(*(char **)field);
	}
	free(cfg->path);
	free(cfg);
	*cfgp = NULL;
}
