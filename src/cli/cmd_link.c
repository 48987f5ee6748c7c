/* SPDX-License-Identifier: MIT */
/*
 * cmd_link.c - "mailgate link list|add|remove": which OpenID identity
 * (issuer, subject) may sign in to the web pages of which mailbox.
 * Input: issuer URLs and subjects typed by the admin; checked for length,
 * control bytes and UTF-8 before any query.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

json_t *
cmd_link_json(const struct store_identity *id)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o}", "issuer", id->issuer,
	    "subject", id->subject, "mailbox", id->mailbox, "created_at",
	    cli_json_time(id->created_at), "created_by", id->created_by,
	    "last_login_at", cli_json_time(id->last_login_at));
}

static void
cmd_link_check(const char *issuer, const char *subject)
{
	if (issuer == NULL || subject == NULL)
		cli_die(CLI_EXIT_USAGE,
		    "both --issuer URL and --subject SUB "
		    "are needed");
	cli_text("issuer", issuer, STORE_ISSUER_MAX);
	cli_text("subject", subject, STORE_SUBJECT_MAX);
	if (strncmp(issuer, "https://", 8) != 0 &&
	    strncmp(issuer, "http://", 7) != 0)
		cli_die(CLI_EXIT_DATAERR,
		    "malformed issuer: it must be the "
		    "provider's https:// URL");
	if (subject[0] == '\0')
		cli_die(CLI_EXIT_DATAERR, "malformed subject: it is empty");
}

int
cmd_link_list(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const char *const head[] = { "MAILBOX", "ISSUER", "SUBJECT",
		"LAST LOGIN" };
	char addr[ADDRESS_MAX + 1], when[32], *err = NULL;
	struct store_identity *list = NULL;
	bool json = false;
	const struct cli_opt opts[] = { { "json", NULL, &json } };
	struct cli_table *t;
	enum store_result r;
	size_t n = 0, i;
	json_t *arr;
	int npos;

	npos = cli_parse(cli, cmd, argc, argv, opts, MG_N_ELEMENTS(opts));
	if (npos == 1)
		cli_address(argv[0], addr);
	cli_open(cli, 0);
	r = store_identity_list(
	    cli->db, npos == 1 ? addr : NULL, &list, &n, &err);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_MAILBOX, err);
	if (json) {
		arr = json_array();
		for (i = 0; i < n; i++)
			(void)json_array_append_new(
			    arr, cmd_link_json(&list[i]));
		cli_json_print(arr);
		free(list);
		return CLI_EXIT_OK;
	}
	t = cli_table_new(4, head);
	for (i = 0; i < n; i++) {
		const char *row[4] = { list[i].mailbox, list[i].issuer,
			list[i].subject,
			cli_fmt_time(list[i].last_login_at, "never", when,
			    sizeof(when)) };

		cli_table_add(t, row);
	}
	cli_table_print(&t);
	free(list);
	return CLI_EXIT_OK;
}

int
cmd_link_add(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *issuer = NULL, *subject = NULL;
	char addr[ADDRESS_MAX + 1], *err = NULL;
	const struct cli_opt opts[] = {
		{ "issuer", &issuer, NULL },
		{ "subject", &subject, NULL },
	};
	enum store_result r;

	(void)cli_parse(cli, cmd, argc, argv, opts, MG_N_ELEMENTS(opts));
	cli_address(argv[0], addr);
	cmd_link_check(issuer, subject);
	cli_open(cli, 0);
	r = store_identity_link(
	    cli->db, cli->actor, issuer, subject, addr, &err);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_MAILBOX, err);
	(void)printf("linked %s %s to %s\n", issuer, subject, addr);
	return CLI_EXIT_OK;
}

int
cmd_link_remove(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *issuer = NULL, *subject = NULL, *mailbox = NULL;
	char addr[ADDRESS_MAX + 1], *err = NULL;
	const struct cli_opt opts[] = {
		{ "issuer", &issuer, NULL },
		{ "subject", &subject, NULL },
		{ "mailbox", &mailbox, NULL },
	};
	enum store_result r;

	(void)cli_parse(cli, cmd, argc, argv, opts, MG_N_ELEMENTS(opts));
	cmd_link_check(issuer, subject);
	if (mailbox != NULL)
		cli_address(mailbox, addr);
	cli_open(cli, 0);
	r = store_identity_unlink(cli->db, cli->actor, issuer, subject,
	    mailbox != NULL ? addr : NULL, &err);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_MAILBOX, err);
	(void)printf("unlinked %s %s\n", issuer, subject);
	return CLI_EXIT_OK;
}
