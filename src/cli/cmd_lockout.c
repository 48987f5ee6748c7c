/* SPDX-License-Identifier: MIT */
/*
 * cmd_lockout.c - "mailgate lockout list|clear": the failed-login
 * counters and lockouts that every mailgated shares through the database
 * (docs/postfix.md, "Brute force"). Input: a client address or mailbox
 * typed by the admin, checked and put in canonical form before any
 * query.
 */
#include "cli.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailgate/xmalloc.h"

static json_t *
cmd_lockout_json(const struct store_lockout *l)
{
	return json_pack("{s:s, s:s, s:I, s:o, s:o}", "kind", l->kind, "key",
	    l->key, "failures", (json_int_t)l->failures, "last_failed_at",
	    cli_json_time(l->last_failed_at), "locked_until",
	    cli_json_time(l->locked_until));
}

int
cmd_lockout_list(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const char *const head[] = { "KIND", "KEY", "FAILURES",
		"LAST FAILURE", "LOCKED UNTIL" };
	char num[16], last[32], until[32], *err = NULL;
	struct store_lockout *list = NULL;
	bool json = false, all = false;
	const struct cli_opt opts[] = {
		{ "json", NULL, &json },
		{ "all", NULL, &all },
	};
	struct cli_table *t;
	enum store_result r;
	size_t n = 0, i;
	json_t *arr;

	(void)cli_parse(cli, cmd, argc, argv, opts, MG_N_ELEMENTS(opts));
	cli_open(cli, 0);
	r = store_lockout_list(
	    cli->db, all ? cli->cfg->auth.lockout_time : 0, &list, &n, &err);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_MAILBOX, err);
	if (json) {
		arr = json_array();
		for (i = 0; i < n; i++)
			(void)json_array_append_new(
			    arr, cmd_lockout_json(&list[i]));
		cli_json_print(arr);
		free(list);
		return CLI_EXIT_OK;
	}
	t = cli_table_new(5, head);
	for (i = 0; i < n; i++) {
		const char *row[5];

		(void)snprintf(num, sizeof(num), "%u", list[i].failures);
		row[0] = list[i].kind;
		row[1] = list[i].key;
		row[2] = num;
		row[3] = cli_fmt_time(
		    list[i].last_failed_at, "-", last, sizeof(last));
		row[4] = cli_fmt_time(
		    list[i].locked_until, "-", until, sizeof(until));
		cli_table_add(t, row);
	}
	cli_table_print(&t);
	free(list);
	return CLI_EXIT_OK;
}

/* A mailbox address in lower case, or an IP address in canonical form. */
static void
cmd_lockout_key(const char *in, char out[FAILURE_KEY_MAX + 1])
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (strchr(in, '@') != NULL) {
		cli_address(in, out);
		return;
	}
	cli_text("address", in, INET6_ADDRSTRLEN);
	if (inet_pton(AF_INET, in, addr) == 1)
		(void)inet_ntop(AF_INET, addr, out, FAILURE_KEY_MAX + 1);
	else if (inet_pton(AF_INET6, in, addr) == 1)
		(void)inet_ntop(AF_INET6, addr, out, FAILURE_KEY_MAX + 1);
	else
		cli_die_input("client address", in,
		    "neither a mailbox nor an IPv4 or IPv6 address");
}

int
cmd_lockout_clear(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	char key[FAILURE_KEY_MAX + 1], *err = NULL;
	enum store_result r;

	(void)cli_parse(cli, cmd, argc, argv, NULL, 0);
	cmd_lockout_key(argv[0], key);
	cli_open(cli, 0);
	r = store_lockout_clear(cli->db, cli->actor, key, &err);
	if (r != STORE_OK)
		cli_store_die(r, CLI_EXIT_NO_MAILBOX, err);
	(void)printf(
	    "cleared %s: every mailgated lifts it within about 2 s\n", key);
	return CLI_EXIT_OK;
}
