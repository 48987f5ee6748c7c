/* SPDX-License-Identifier: MIT */
/*
 * cmd_audit.c - "mailgate audit": the audit log, newest first.
 * Input: filters typed by the admin; rows from the database, whose detail
 * column is JSON written by the server (jsonb), shown as it is.
 */
#include "cli.h"

#include <stdio.h>

#include "mailgate/parse.h"
#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

#define CMD_AUDIT_DEFAULT_LIMIT 100
#define CMD_AUDIT_LIMIT_MAX     10000000

static json_t *
cmd_audit_json(const struct store_audit *a)
{
	json_t *detail = NULL;

	if (a->detail != NULL)
		detail = json_loads(a->detail, 0, NULL);
	return json_pack("{s:I, s:o, s:s, s:s, s:s?, s:s?, s:o}", "id",
	    (json_int_t)a->id, "at", cli_json_time(a->at), "actor", a->actor,
	    "action", a->action, "mailbox",
	    a->mailbox[0] != '\0' ? a->mailbox : NULL, "target", a->target,
	    "detail", detail != NULL ? detail : json_null());
}

static void
cmd_audit_table(const struct store_audit *list, size_t n)
{
	static const char *const head[] = { "AT", "ACTOR", "ACTION", "MAILBOX",
		"TARGET", "DETAIL" };
	struct cli_table *t = cli_table_new(6, head);
	char when[32];
	size_t i;

	for (i = 0; i < n; i++) {
		const char *row[6] = {
			cli_fmt_time(list[i].at, "-", when, sizeof(when)),
			list[i].actor,
			list[i].action,
			list[i].mailbox[0] != '\0' ? list[i].mailbox : "-",
			list[i].target != NULL ? list[i].target : "-",
			list[i].detail != NULL ? list[i].detail : "-",
		};

		cli_table_add(t, row);
	}
	cli_table_print(&t);
}

int
cmd_audit_list(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *mailbox = NULL, *since_s = NULL, *limit_s = NULL;
	char addr[ADDRESS_MAX + 1], *err = NULL;
	unsigned int limit = CMD_AUDIT_DEFAULT_LIMIT;
	struct store_audit *list = NULL;
	struct store_audit_filter filter = { 0 };
	bool json = false;
	const struct cli_opt opts[] = {
		{ "mailbox", &mailbox, NULL },
		{ "since", &since_s, NULL },
		{ "limit", &limit_s, NULL },
		{ "json", NULL, &json },
	};
	enum store_result r;
	int64_t since = 0;
	size_t n = 0, i;
	json_t *arr;

	(void)cli_parse(cli, cmd, argc, argv, opts, MG_N_ELEMENTS(opts));
	if (mailbox != NULL)
		cli_address(mailbox, addr);
	if (since_s != NULL)
		since = cli_time("--since", since_s, cli->now);
	if (limit_s != NULL &&
	    parse_uint(limit_s, CMD_AUDIT_LIMIT_MAX, &limit) < 0)
		cli_die(CLI_EXIT_DATAERR,
		    "malformed --limit %s: expected a "
		    "number from 0 (all) to %u",
		    log_safe(limit_s, 40), CMD_AUDIT_LIMIT_MAX);
	filter.address = mailbox != NULL ? addr : NULL;
	filter.since = since;
	filter.limit = limit;
	cli_open(cli, 0);
	r = store_audit_query(cli->db, &filter, &list, &n, &err);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_MAILBOX, err);
	if (json) {
		arr = json_array();
		for (i = 0; i < n; i++)
			(void)json_array_append_new(
			    arr, cmd_audit_json(&list[i]));
		cli_json_print(arr);
	} else {
		cmd_audit_table(list, n);
	}
	store_audit_list_free(&list, n);
	return CLI_EXIT_OK;
}
