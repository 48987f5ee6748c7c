/* SPDX-License-Identifier: MIT */
/*
 * cmd_mailbox.c - "mailgate mailbox add|list|show|disable|enable".
 * Input: addresses typed by the admin, normalised before any query.
 */
#include "cli.h"

#include <stdio.h>

#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

int
cmd_mailbox_add(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	char addr[ADDRESS_MAX + 1], *err = NULL;
	enum store_result r;

	(void)cli_parse(cli, cmd, argc, argv, NULL, 0);
	cli_address(argv[0], addr);
	cli_open(cli, 0);
	r = store_mailbox_add(cli->db, cli->actor, addr, &err);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_MAILBOX, err);
	(void)printf("mailbox %s added\n", addr);
	return CLI_EXIT_OK;
}

static json_t *
cmd_mailbox_json(const struct store_mailbox *mb)
{
	return json_pack("{s:s, s:b, s:o, s:s, s:o, s:I, s:I}", "address",
	    mb->address, "enabled", mb->enabled, "created_at",
	    cli_json_time(mb->created_at), "created_by", mb->created_by,
	    "updated_at", cli_json_time(mb->updated_at), "active_tokens",
	    (json_int_t)mb->active_tokens, "identities",
	    (json_int_t)mb->identities);
}

int
cmd_mailbox_list(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const char *const head[] = { "ADDRESS", "STATE", "TOKENS",
		"LINKS", "CREATED" };
	struct store_mailbox *list = NULL;
	bool json = false;
	const struct cli_opt opts[] = { { "json", NULL, &json } };
	char tok[16], links[16], when[32], *err = NULL;
	struct cli_table *t;
	enum store_result r;
	json_t *arr;
	size_t n = 0, i;

	(void)cli_parse(cli, cmd, argc, argv, opts, MG_N_ELEMENTS(opts));
	cli_open(cli, 0);
	r = store_mailbox_list(cli->db, &list, &n, &err);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_MAILBOX, err);
	if (json) {
		arr = json_array();
		for (i = 0; i < n; i++)
			(void)json_array_append_new(
			    arr, cmd_mailbox_json(&list[i]));
		cli_json_print(arr);
		free(list);
		return CLI_EXIT_OK;
	}
	t = cli_table_new(5, head);
	for (i = 0; i < n; i++) {
		const char *row[5];

		(void)snprintf(tok, sizeof(tok), "%u", list[i].active_tokens);
		(void)snprintf(links, sizeof(links), "%u", list[i].identities);
		row[0] = list[i].address;
		row[1] = list[i].enabled ? "enabled" : "disabled";
		row[2] = tok;
		row[3] = links;
		row[4] =
		    cli_fmt_time(list[i].created_at, "-", when, sizeof(when));
		cli_table_add(t, row);
	}
	cli_table_print(&t);
	free(list);
	return CLI_EXIT_OK;
}

static void
cmd_mailbox_show_text(const struct store_mailbox *mb,
    const struct store_token *toks, size_t ntok,
    const struct store_identity *ids, size_t nid)
{
	char when[32], exp[32], used[32], scopes[64];
	size_t i;

	(void)printf("address:    %s\n", mb->address);
	(void)printf("state:      %s\n", mb->enabled ? "enabled" : "disabled");
	(void)printf("created:    %s by %s\n",
	    cli_fmt_time(mb->created_at, "-", when, sizeof(when)),
	    mb->created_by);
	(void)printf("tokens:     %zu active\n", ntok);
	for (i = 0; i < ntok; i++) {
		(void)token_scopes_format(
		    toks[i].scopes, scopes, sizeof(scopes));
		(void)printf("  %s  %s  expires %s  last used %s  %s\n",
		    toks[i].id, scopes,
		    cli_fmt_time(toks[i].expires_at, "never", exp, sizeof(exp)),
		    cli_fmt_time(
			toks[i].last_used_at, "never", used, sizeof(used)),
		    toks[i].label);
	}
	(void)printf("links:      %zu\n", nid);
	for (i = 0; i < nid; i++)
		(void)printf("  %s  %s\n", ids[i].issuer, ids[i].subject);
}

int
cmd_mailbox_show(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	char addr[ADDRESS_MAX + 1], *err = NULL;
	struct store_identity *ids = NULL;
	struct store_token *toks = NULL;
	struct store_mailbox mb;
	bool json = false;
	const struct cli_opt opts[] = { { "json", NULL, &json } };
	size_t ntok = 0, nid = 0, i;
	enum store_result r;
	json_t *o, *a;

	(void)cli_parse(cli, cmd, argc, argv, opts, MG_N_ELEMENTS(opts));
	cli_address(argv[0], addr);
	cli_open(cli, 0);
	r = store_mailbox_get(cli->db, addr, &mb, &err);
	if (r == STORE_OK)
		r = store_token_list(cli->db, addr, false, &toks, &ntok, &err);
	if (r == STORE_OK)
		r = store_identity_list(cli->db, addr, &ids, &nid, &err);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_MAILBOX, err);

	if (!json) {
		cmd_mailbox_show_text(&mb, toks, ntok, ids, nid);
	} else {
		o = cmd_mailbox_json(&mb);
		a = json_array();
		for (i = 0; i < ntok; i++)
			(void)json_array_append_new(
			    a, cmd_token_json(&toks[i]));
		(void)json_object_set_new(o, "tokens", a);
		a = json_array();
		for (i = 0; i < nid; i++)
			(void)json_array_append_new(a, cmd_link_json(&ids[i]));
		(void)json_object_set_new(o, "links", a);
		cli_json_print(o);
	}
	free(toks);
	free(ids);
	return CLI_EXIT_OK;
}

static int
cmd_mailbox_set(struct cli *cli, const struct cli_cmd *cmd, int argc,
    char **argv, bool enabled)
{
	char addr[ADDRESS_MAX + 1], *err = NULL;
	enum store_result r;
	bool changed = false;

	(void)cli_parse(cli, cmd, argc, argv, NULL, 0);
	cli_address(argv[0], addr);
	cli_open(cli, 0);
	r = store_mailbox_set_enabled(
	    cli->db, cli->actor, addr, enabled, &changed, &err);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_MAILBOX, err);
	(void)printf("mailbox %s %s%s\n", addr, changed ? "" : "was already ",
	    enabled ? "enabled" : "disabled");
	return CLI_EXIT_OK;
}

int
cmd_mailbox_disable(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	return cmd_mailbox_set(cli, cmd, argc, argv, false);
}

int
cmd_mailbox_enable(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	return cmd_mailbox_set(cli, cmd, argc, argv, true);
}
