/* SPDX-License-Identifier: MIT */
/*
 * cmd_token.c - "mailgate token issue|list|revoke|verify".
 * Input: addresses, ids, labels, scopes and dates typed by the admin;
 * for verify, a token on standard input (a secret: never echoed).
 * A new token is written once to stdout with write(2), bypassing stdio's
 * buffer, and wiped; nothing else about it is ever printed but its id.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mailgate/parse.h"
#include "mailgate/secret.h"
#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

/* More than any token could be: the rest is not read. */
#define CMD_TOKEN_INPUT_MAX 1024

json_t *
cmd_token_json(const struct store_token *t)
{
	char scopes[64];
	const char *state = t->revoked_at != 0 ? "revoked" :
	    t->expired                         ? "expired" :
						 "active";

	(void)token_scopes_format(t->scopes, scopes, sizeof(scopes));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, "
			 "s:o, s:s?, s:s?, s:o, s:s?, s:s?}",
	    "id", t->id, "mailbox", t->mailbox, "label", t->label, "scopes",
	    scopes, "state", state, "key_id", t->key_id, "created_at",
	    cli_json_time(t->created_at), "created_by", t->created_by,
	    "expires_at", cli_json_time(t->expires_at), "revoked_at",
	    cli_json_time(t->revoked_at), "revoked_by",
	    t->revoked_at != 0 ? t->revoked_by : NULL, "revoke_reason",
	    t->revoke_reason[0] != '\0' ? t->revoke_reason : NULL,
	    "last_used_at", cli_json_time(t->last_used_at), "last_used_ip",
	    t->last_used_ip[0] != '\0' ? t->last_used_ip : NULL,
	    "last_used_service",
	    t->last_used_service[0] != '\0' ? t->last_used_service : NULL);
}

static struct token_keyring *
cmd_token_keyring(struct cli *cli)
{
	const struct config_list *prev;
	struct token_keyring *kr = NULL;
	char *err = NULL;

	cli_config(cli, CONFIG_NEED_DATABASE | CONFIG_NEED_TOKENS);
	prev = &cli->cfg->tokens.previous_key_files;
	if (token_keyring_load(cli->cfg->tokens.key_file,
		(const char *const *)prev->items, prev->count, &kr, &err) < 0)
		cli_die(CLI_EXIT_CONFIG, "%s", err);
	return kr;
}

/* --expires: a duration from now, a date, or "never"; capped by max. */
static int64_t
cmd_token_expiry(const struct cli *cli, const char *arg)
{
	int64_t max = cli->cfg->tokens.max_expiry, d, t;
	const char *why = NULL;

	if (arg == NULL) {
		d = cli->cfg->tokens.default_expiry;
		if (max > 0 && (d == 0 || d > max))
			d = max; /* the default quietly obeys the cap */
		return d == 0 ? 0 : cli->now + d;
	}
	if (strcmp(arg, "never") == 0) {
		t = 0;
	} else if (parse_duration(arg, &d, &why) == 0) {
		t = cli->now + d;
	} else {
		if (parse_time(arg, cli->now, &t, &why) < 0)
			cli_die_input("--expires", arg, why);
		if (t <= cli->now)
			cli_die(CLI_EXIT_DATAERR, "--expires %s is in the past",
			    cli_show(arg, 40));
	}
	if (max > 0 && (t == 0 || t > cli->now + max))
		cli_die(CLI_EXIT_DATAERR,
		    "--expires is beyond [tokens] "
		    "max_expiry (%lld days)",
		    (long long)(max / 86400));
	return t;
}

/* Write all of p to fd 1, bypassing stdio (whose buffer is not wiped). */
static void
cmd_token_write(const void *p, size_t len)
{
	const char *s = p;
	ssize_t n;

	cli_flush();
	while (len > 0) {
		n = write(STDOUT_FILENO, s, len);
		if (n <= 0)
			cli_die(
			    CLI_EXIT_IOERR, "cannot write to standard output");
		s += n;
		len -= (size_t)n;
	}
}

static void
cmd_token_issued(const struct store_token_request *req, const char *id,
    const struct secret *tok, bool json)
{
	char scopes[64], exp[32], *text;
	json_free_t json_free;
	json_t *o;

	(void)token_scopes_format(req->scopes, scopes, sizeof(scopes));
	(void)cli_fmt_time(req->expires_at, "never", exp, sizeof(exp));
	if (!json) {
		cmd_token_write(tok->buf, tok->len);
		cmd_token_write("\n", 1);
		(void)fprintf(stderr,
		    "token %s issued for %s (scopes %s, "
		    "expires %s)\n",
		    id, req->address, scopes, exp);
		return;
	}
	o = json_pack("{s:s, s:s%, s:s, s:s, s:s, s:o}", "id", id, "token",
	    (const char *)tok->buf, tok->len, "mailbox", req->address, "label",
	    req->label, "scopes", scopes, "expires_at",
	    cli_json_time(req->expires_at));
	text = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	if (text == NULL)
		cli_die(CLI_EXIT_SOFTWARE, "cannot format JSON");
	cmd_token_write(text, strlen(text));
	cmd_token_write("\n", 1);
	json_get_alloc_funcs(NULL, &json_free);
	json_free(text); /* jansson's free, which wipes (cli_json_init) */
}

int
cmd_token_issue(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *label = "", *scopes = "all", *expires = NULL, *why = NULL;
	char addr[ADDRESS_MAX + 1], *err = NULL;
	struct store_token_request req = { 0 };
	struct store_token_issued issued = { 0 };
	struct token_keyring *kr;
	enum store_result r;
	bool json = false;
	const struct cli_opt opts[] = {
		{ "label", &label, NULL },
		{ "scopes", &scopes, NULL },
		{ "expires", &expires, NULL },
		{ "json", NULL, &json },
	};

	(void)cli_parse(cli, cmd, argc, argv, opts, MG_N_ELEMENTS(opts));
	cli_address(argv[0], addr);
	cli_text("label", label, TOKEN_LABEL_MAX);
	if (token_scopes_parse(scopes, &req.scopes, &why) < 0)
		cli_die_input("--scopes", scopes, why);
	kr = cmd_token_keyring(cli);
	req.address = addr;
	req.label = label;
	req.expires_at = cmd_token_expiry(cli, expires);

	cli_open(cli, 0);
	r = store_token_create(cli->db, kr, cli->actor, &req, &issued, &err);
	token_keyring_free(&kr);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_MAILBOX, err);
	cmd_token_issued(&req, issued.id, issued.token, json);
	secret_free(&issued.token);
	return CLI_EXIT_OK;
}

static void
cmd_token_table(const struct store_token *list, size_t n)
{
	static const char *const head[] = { "ID", "MAILBOX", "SCOPES", "STATE",
		"EXPIRES", "LAST USED", "LABEL" };
	char scopes[64], exp[32], used[32];
	struct cli_table *t = cli_table_new(7, head);
	const char *row[7];
	size_t i;

	for (i = 0; i < n; i++) {
		(void)token_scopes_format(
		    list[i].scopes, scopes, sizeof(scopes));
		row[0] = list[i].id;
		row[1] = list[i].mailbox;
		row[2] = scopes;
		row[3] = list[i].revoked_at != 0 ? "revoked" :
		    list[i].expired              ? "expired" :
						   "active";
		row[4] =
		    cli_fmt_time(list[i].expires_at, "never", exp, sizeof(exp));
		row[5] = cli_fmt_time(
		    list[i].last_used_at, "never", used, sizeof(used));
		row[6] = list[i].label;
		cli_table_add(t, row);
	}
	cli_table_print(&t);
}

int
cmd_token_list(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	char addr[ADDRESS_MAX + 1], *err = NULL;
	struct store_token *list = NULL;
	bool json = false, all = false;
	const struct cli_opt opts[] = {
		{ "json", NULL, &json },
		{ "all", NULL, &all },
	};
	enum store_result r;
	size_t n = 0, i;
	json_t *arr;
	int npos;

	npos = cli_parse(cli, cmd, argc, argv, opts, MG_N_ELEMENTS(opts));
	if (npos == 1)
		cli_address(argv[0], addr);
	cli_open(cli, 0);
	r = store_token_list(
	    cli->db, npos == 1 ? addr : NULL, all, &list, &n, &err);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_MAILBOX, err);
	if (json) {
		arr = json_array();
		for (i = 0; i < n; i++)
			(void)json_array_append_new(
			    arr, cmd_token_json(&list[i]));
		cli_json_print(arr);
	} else {
		cmd_token_table(list, n);
	}
	free(list);
	return CLI_EXIT_OK;
}

static int
cmd_token_revoke_all(struct cli *cli, const char *mailbox, const char *reason)
{
	char addr[ADDRESS_MAX + 1], *err = NULL;
	enum store_result r;
	size_t n = 0;

	cli_address(mailbox, addr);
	cli_open(cli, 0);
	r = store_token_revoke_all(cli->db, cli->actor, addr, reason, &n, &err);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_MAILBOX, err);
	(void)printf("%zu token%s of %s revoked\n", n, n == 1 ? "" : "s", addr);
	return CLI_EXIT_OK;
}

int
cmd_token_revoke(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *reason = NULL, *mailbox = NULL;
	char addr[ADDRESS_MAX + 1], *err = NULL;
	struct store_token_revocation rv = { 0 };
	bool all = false, changed = false;
	const struct cli_opt opts[] = {
		{ "reason", &reason, NULL },
		{ "mailbox", &mailbox, NULL },
		{ "all", NULL, &all },
	};
	enum store_result r;
	int npos;

	npos = cli_parse(cli, cmd, argc, argv, opts, MG_N_ELEMENTS(opts));
	if (reason != NULL)
		cli_text("reason", reason, REASON_MAX);
	if (all) {
		if (npos != 0 || mailbox == NULL)
			cli_die(CLI_EXIT_USAGE,
			    "--all needs --mailbox ADDR "
			    "and no token id");
		return cmd_token_revoke_all(cli, mailbox, reason);
	}
	if (npos != 1)
		cli_die(CLI_EXIT_USAGE,
		    "give a token id, or --mailbox ADDR "
		    "--all");
	cli_token_id(argv[0]);
	if (mailbox != NULL)
		cli_address(mailbox, addr);
	rv.actor = cli->actor;
	rv.public_id = argv[0];
	rv.address = mailbox != NULL ? addr : NULL;
	rv.reason = reason;
	cli_open(cli, 0);
	r = store_token_revoke_one(cli->db, &rv, &changed, &err);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_TOKEN, err);
	(void)printf("token %s %s\n", argv[0],
	    changed ? "revoked" : "was already revoked");
	return CLI_EXIT_OK;
}

/* The token from stdin, without its line end; exits 65 if there is none. */
static struct secret *
cmd_token_read_stdin(void)
{
	struct secret *in = secret_new(CMD_TOKEN_INPUT_MAX);
	size_t len = 0;
	ssize_t n;

	while (len < in->len) {
		n = read(STDIN_FILENO, in->buf + len, in->len - len);
		if (n < 0)
			cli_die(CLI_EXIT_DATAERR, "cannot read standard input");
		if (n == 0)
			break;
		len += (size_t)n;
	}
	while (
	    len > 0 && (in->buf[len - 1] == '\n' || in->buf[len - 1] == '\r'))
		in->buf[--len] = '\0';
	if (len == 0) {
		secret_free(&in);
		cli_die(CLI_EXIT_DATAERR, "no token on standard input");
	}
	secret_wipe(in->buf + len, in->len - len);
	in->len = len;
	return in;
}

int
cmd_token_verify(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *service = NULL;
	char addr[ADDRESS_MAX + 1], *err = NULL;
	bool json = false, known;
	const struct cli_opt opts[] = {
		{ "service", &service, NULL },
		{ "json", NULL, &json },
	};
	struct token_record rec = { 0 };
	enum token_reason reason = TOKEN_REASON_MALFORMED;
	struct token_attempt a = { 0 };
	struct token_keyring *kr;
	unsigned int scope = 0;
	struct secret *tok;
	enum mg_result r;

	(void)cli_parse(cli, cmd, argc, argv, opts, MG_N_ELEMENTS(opts));
	cli_address(argv[0], addr);
	if (service != NULL && token_scope_for_service(service, &scope) < 0)
		cli_die_input("--service", service, "unknown service");
	kr = cmd_token_keyring(cli);
	tok = cmd_token_read_stdin();
	a.token = tok->buf;
	a.len = tok->len;
	a.user = addr;
	a.scope = scope;
	a.now = cli->now;
	cli_open(cli, 0);
	r = db_token_verify_attempt(cli->db, kr, &a, &rec, &reason, &err);
	secret_free(&tok);
	token_keyring_free(&kr);
	if (r == MG_TEMPFAIL)
		cli_die(CLI_EXIT_TEMPFAIL, "%s", err);

	known =
	    reason != TOKEN_REASON_MALFORMED && reason != TOKEN_REASON_UNKNOWN;
	if (json)
		cli_json_print(json_pack("{s:s, s:s, s:s?}", "result",
		    r == MG_OK ? "accepted" : "rejected", "reason",
		    token_reason_str(reason), "id", known ? rec.id : NULL));
	else if (r == MG_OK)
		(void)printf("accepted: token %s of %s\n", rec.id, rec.mailbox);
	else if (known)
		(void)printf("rejected: %s (token %s)\n",
		    token_reason_str(reason), rec.id);
	else
		(void)printf("rejected: %s\n", token_reason_str(reason));
	return r == MG_OK ? CLI_EXIT_OK : CLI_EXIT_REJECTED;
}
