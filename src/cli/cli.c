/* SPDX-License-Identifier: MIT */
/*
 * cli.c - the plumbing every "mailgate" command shares: one-line errors
 * with distinct exit codes, option parsing, opening the configuration
 * and the database, checking typed input, JSON and aligned tables.
 * Input: the admin's command line (trusted person, untrusted typing).
 * Never echoes what might be a token: a bad token id is described, not
 * quoted.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailgate/log.h"
#include "mailgate/parse.h"
#include "mailgate/secret.h"
#include "mailgate/xmalloc.h"

#define CLI_MSG_MAX 1024

void
cli_die(int code, const char *fmt, ...)
{
	char msg[CLI_MSG_MAX];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line, whatever the parts said: no control bytes survive. */
	for (i = 0; msg[i] != '\0'; i++) {
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = ' ';
	}
	(void)fflush(stdout);
	(void)fprintf(stderr, "mailgate: %s\n", msg);
	exit(code);
}

/* Typed values that hold "mgt_" are taken for a pasted token. */
static bool
cli_looks_secret(const char *s)
{
	return strstr(s, TOKEN_PREFIX) != NULL;
}

const char *
cli_show(const char *s, size_t max)
{
	if (cli_looks_secret(s))
		return "(not shown: it looks like a token)";
	return log_safe(s, max);
}

void
cli_die_input(const char *what, const char *value, const char *why)
{
	/* why may quote the value too: both go, or neither. */
	if (cli_looks_secret(value))
		cli_die(CLI_EXIT_DATAERR,
		    "malformed %s (not shown: it looks "
		    "like a token)",
		    what);
	cli_die(CLI_EXIT_DATAERR, "malformed %s %s: %s", what,
	    log_safe(value, 60), why);
}

static void cli_help(const struct cli_cmd *cmd) __attribute__((noreturn));
static void cli_usage_die(const struct cli_cmd *cmd, const char *why)
    __attribute__((noreturn));

static void
cli_help(const struct cli_cmd *cmd)
{
	(void)printf("usage: mailgate [-c FILE] %s%s%s %s\n\n%s",
	    cmd->group != NULL ? cmd->group : "", cmd->group != NULL ? " " : "",
	    cmd->name, cmd->usage, cmd->help);
	cli_flush();
	exit(CLI_EXIT_OK);
}

static void
cli_usage_die(const struct cli_cmd *cmd, const char *why)
{
	cli_die(CLI_EXIT_USAGE, "%s; usage: mailgate %s%s%s %s", why,
	    cmd->group != NULL ? cmd->group : "", cmd->group != NULL ? " " : "",
	    cmd->name, cmd->usage);
}

static const struct cli_opt *
cli_opt_find(
    const struct cli_opt *opts, size_t nopts, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < nopts; i++) {
		if (strlen(opts[i].name) == len &&
		    strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	}
	return NULL;
}

/* What one cli_parse() call works with. */
struct cli_parser {
	struct cli *cli;
	const struct cli_cmd *cmd;
	const struct cli_opt *opts;
	size_t nopts;
};

/* One "--name[=value]" word; returns how many words it used (1 or 2). */
static int
cli_parse_long(const struct cli_parser *p, char **argv, int i, int argc)
{
	const char *arg = argv[i] + 2, *eq = strchr(arg, '=');
	size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	const struct cli_opt *o;
	const char **slot;
	char why[160];

	if (len == 6 && strncmp(arg, "config", 6) == 0) {
		slot = &p->cli->config_path;
	} else {
		o = cli_opt_find(p->opts, p->nopts, arg, len);
		if (o == NULL) {
			(void)snprintf(why, sizeof(why), "unknown option --%s",
			    cli_show(arg, len < 40 ? len : 40));
			cli_usage_die(p->cmd, why);
		}
		if (o->flag != NULL) {
			if (eq != NULL)
				cli_usage_die(
				    p->cmd, "this option takes no value");
			*o->flag = true;
			return 1;
		}
		slot = o->value;
	}
	if (eq != NULL) {
		*slot = eq + 1;
		return 1;
	}
	if (i + 1 >= argc) {
		(void)snprintf(why, sizeof(why), "option --%.*s needs a value",
		    (int)len, arg);
		cli_usage_die(p->cmd, why);
	}
	*slot = argv[i + 1];
	return 2;
}

int
cli_parse(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv,
    const struct cli_opt *opts, size_t nopts)
{
	const struct cli_parser p = { cli, cmd, opts, nopts };
	bool rest = false;
	int i = 0, npos = 0;

	while (i < argc) {
		const char *a = argv[i];

		if (rest || a[0] != '-' || a[1] == '\0') {
			argv[npos++] = argv[i++];
		} else if (strcmp(a, "--") == 0) {
			rest = true;
			i++;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			cli_help(cmd);
		} else if (strcmp(a, "-c") == 0) {
			if (i + 1 >= argc)
				cli_usage_die(cmd, "option -c needs a value");
			cli->config_path = argv[i + 1];
			i += 2;
		} else if (a[1] == '-') {
			i += cli_parse_long(&p, argv, i, argc);
		} else {
			cli_usage_die(cmd, "unknown option");
		}
	}
	if (npos < cmd->min_args)
		cli_usage_die(cmd, "missing argument");
	if (npos > cmd->max_args)
		cli_usage_die(cmd, "too many arguments");
	return npos;
}

void
cli_config(struct cli *cli, unsigned int needs)
{
	const char *path = cli->config_path;
	char *err = NULL;

	if (cli->cfg != NULL)
		return;
	if (path == NULL) {
		path = getenv("MAILGATE_CONFIG");
		if (path != NULL && path[0] == '\0')
			path = NULL;
	}
	if (config_load(path, NULL, &cli->cfg, &err) < 0)
		cli_die(CLI_EXIT_CONFIG, "%s", err);
	if (config_require(cli->cfg, needs, &err) < 0)
		cli_die(CLI_EXIT_CONFIG, "%s", err);
}

void
cli_open(struct cli *cli, unsigned int flags)
{
	enum db_open_error why;
	char *err = NULL;
	int code;

	cli_config(cli, CONFIG_NEED_DATABASE);
	if (db_open_ex(cli->cfg, flags, &cli->db, &why, &err) == MG_OK)
		return;
	switch (why) {
	case DB_OPEN_BAD_URL:
	case DB_OPEN_LOGIN_REFUSED:
		code = CLI_EXIT_CONFIG;
		break;
	case DB_OPEN_SCHEMA_NEWER:
	case DB_OPEN_SCHEMA_OLDER:
		code = CLI_EXIT_SCHEMA;
		break;
	case DB_OPEN_OK:
	case DB_OPEN_UNREACHABLE:
	case DB_OPEN_FAILED:
	default:
		code = CLI_EXIT_TEMPFAIL;
		break;
	}
	cli_die(code, "%s", err);
}

void
cli_store_die(enum store_result r, int not_found_code, const char *err)
{
	int code = CLI_EXIT_SOFTWARE;

	switch (r) {
	case STORE_NOT_FOUND:
		code = not_found_code;
		break;
	case STORE_EXISTS:
		code = CLI_EXIT_EXISTS;
		break;
	case STORE_INVALID:
		code = CLI_EXIT_DATAERR;
		break;
	case STORE_TEMPFAIL:
		code = CLI_EXIT_TEMPFAIL;
		break;
	case STORE_OK:
		break;
	}
	cli_die(code, "%s", err != NULL ? err : store_result_str(r));
}

void
cli_address(const char *in, char out[ADDRESS_MAX + 1])
{
	const char *why = NULL;

	if (address_normalize(in, out, &why) < 0)
		cli_die_input("address", in, why);
}

void
cli_token_id(const char *in)
{
	if (token_id_valid(in))
		return;
	/* Never quote it: people paste whole tokens where ids belong. */
	if (strncmp(in, TOKEN_PREFIX, TOKEN_PREFIX_LEN) == 0)
		cli_die(CLI_EXIT_DATAERR,
		    "malformed token id: that looks "
		    "like a whole token; give only its "
		    "12-character id");
	cli_die(CLI_EXIT_DATAERR,
	    "malformed token id: expected 12 "
	    "characters of 0-9 and a-z");
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t
cli_utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

void
cli_text(const char *what, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (strlen(s) > max)
		cli_die(CLI_EXIT_DATAERR, "%s is too long (at most %zu bytes)",
		    what, max);
	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f)
			cli_die(CLI_EXIT_DATAERR, "%s holds control characters",
			    what);
		n = cli_utf8_len(p);
		if (n == 0)
			cli_die(
			    CLI_EXIT_DATAERR, "%s is not valid UTF-8", what);
		p += n;
	}
}

int64_t
cli_time(const char *what, const char *s, int64_t now)
{
	const char *why = NULL;
	int64_t t;

	if (parse_time(s, now, &t, &why) < 0)
		cli_die_input(what, s, why);
	return t;
}

void
cli_flush(void)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		cli_die(CLI_EXIT_IOERR, "cannot write to standard output");
}

void
cli_json_print(json_t *v)
{
	if (v == NULL || json_dumpf(v, stdout, JSON_INDENT(2)) < 0)
		cli_die(CLI_EXIT_IOERR, "cannot write JSON output");
	(void)fputc('\n', stdout);
	json_decref(v);
	cli_flush();
}

json_t *
cli_json_time(int64_t t)
{
	char buf[32];

	if (t == 0)
		return json_null();
	format_time(t, buf, sizeof(buf));
	return json_string(buf);
}

const char *
cli_fmt_time(int64_t t, const char *dash, char *buf, size_t size)
{
	if (t == 0)
		return dash;
	format_time(t, buf, size);
	return buf;
}

/*
 * jansson's memory, wiped on free: the JSON of "token issue --json"
 * holds the new token. A size header in front of each block says how
 * much to wipe.
 */
static void *
cli_json_malloc(size_t size)
{
	size_t *p = xmalloc(sizeof(size_t) + size);

	*p = size;
	return p + 1;
}

static void
cli_json_free(void *ptr)
{
	size_t *p;

	if (ptr == NULL)
		return;
	p = (size_t *)ptr - 1;
	secret_wipe(ptr, *p);
	free(p);
}

void
cli_json_init(void)
{
	json_set_alloc_funcs(cli_json_malloc, cli_json_free);
}

struct cli_table {
	unsigned int ncols;
	size_t nrows, cap;
	char **cells; /* nrows * ncols, row 0 is the heading */
};

struct cli_table *
cli_table_new(unsigned int ncols, const char *const *head)
{
	struct cli_table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	cli_table_add(t, head);
	return t;
}

void
cli_table_add(struct cli_table *t, const char *const *cells)
{
	unsigned int c;

	if (t->nrows == t->cap) {
		t->cap = t->cap == 0 ? 16 : t->cap * 2;
		t->cells =
		    xrealloc(t->cells, t->cap * t->ncols * sizeof(*t->cells));
	}
	for (c = 0; c < t->ncols; c++)
		t->cells[t->nrows * t->ncols + c] =
		    xstrdup(cells[c] != NULL ? cells[c] : "-");
	t->nrows++;
}

/* Display width: code points, which is right for what we print. */
static size_t
cli_table_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

void
cli_table_print(struct cli_table **tp)
{
	struct cli_table *t = *tp;
	size_t *width = xcalloc(t->ncols, sizeof(*width)), r, w;
	unsigned int c;

	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			w = cli_table_width(t->cells[r * t->ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	}
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];

			if (c + 1 == t->ncols) {
				(void)printf("%s\n", cell);
				break;
			}
			(void)printf("%s%*s  ", cell,
			    (int)(width[c] - cli_table_width(cell)), "");
		}
	}
	for (r = 0; r < t->nrows * t->ncols; r++)
		free(t->cells[r]);
	free(t->cells);
	free(t);
	free(width);
	*tp = NULL;
	cli_flush();
}
