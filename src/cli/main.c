/* SPDX-License-Identifier: MIT */
/*
 * main.c - "mailgate", the administration command: finds the command
 * named by the first words and hands it the rest.
 * Input: the command line and the environment (MAILGATE_CONFIG).
 * Exit codes: see cli.h and docs/cli.md.
 */
#include "cli.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

static const struct cli_cmd main_cmds[] = {
	{ "db", "migrate", "", 0, 0,
	    "Apply every pending schema migration in one transaction.\n"
	    "Safe to run at any time and from several hosts at once.\n",
	    cmd_db_migrate },
	{ "db", "status", "[--json]", 0, 0,
	    "Show the schema version of the database, the version this\n"
	    "mailgate knows, and the migrations still to apply.\n",
	    cmd_db_status },
	{ "mailbox", "add", "ADDR", 1, 1,
	    "Create a mailbox. Addresses are stored in lower case.\n",
	    cmd_mailbox_add },
	{ "mailbox", "list", "[--json]", 0, 0, "List all mailboxes.\n",
	    cmd_mailbox_list },
	{ "mailbox", "show", "ADDR [--json]", 1, 1,
	    "Show one mailbox with its active tokens and identity links.\n",
	    cmd_mailbox_show },
	{ "mailbox", "disable", "ADDR", 1, 1,
	    "Disable a mailbox: its tokens stop working until it is\n"
	    "enabled again. Nothing is deleted.\n",
	    cmd_mailbox_disable },
	{ "mailbox", "enable", "ADDR", 1, 1, "Enable a disabled mailbox.\n",
	    cmd_mailbox_enable },
	{ "token", "issue",
	    "ADDR [--label TEXT] [--scopes imap,smtp|all] "
	    "[--expires 180d|2027-01-01|never] [--json]",
	    1, 1,
	    "Issue an app token. The token is printed once on standard\n"
	    "output and never again; its id and details go to standard\n"
	    "error (or, with --json, all of it as one object on stdout).\n"
	    "Default scopes: all. Default expiry: [tokens] default_expiry,\n"
	    "and never later than [tokens] max_expiry.\n",
	    cmd_token_issue },
	{ "token", "list", "[ADDR] [--all] [--json]", 0, 1,
	    "List tokens (of one mailbox, or all). --all includes revoked\n"
	    "and expired tokens.\n",
	    cmd_token_list },
	{ "token", "revoke",
	    "ID [--reason TEXT] | --mailbox ADDR --all [--reason TEXT]", 0, 1,
	    "Revoke one token by its id, or every token of a mailbox.\n",
	    cmd_token_revoke },
	{ "token", "verify", "ADDR [--service imap] [--json]", 1, 1,
	    "Read a token from standard input and say whether a login as\n"
	    "ADDR for the service would accept it now, and why not.\n"
	    "Exit 0: accepted; 1: refused (the reason is printed); 75: the\n"
	    "database could not be asked.\n",
	    cmd_token_verify },
	{ "link", "list", "[ADDR] [--json]", 0, 1,
	    "List links from OpenID identities to mailboxes.\n",
	    cmd_link_list },
	{ "link", "add", "ADDR --issuer URL --subject SUB", 1, 1,
	    "Link the identity (issuer, subject) to a mailbox, so that its\n"
	    "owner can sign in to the web pages of that mailbox.\n",
	    cmd_link_add },
	{ "link", "remove", "--issuer URL --subject SUB [--mailbox ADDR]", 0, 0,
	    "Remove the link of an identity.\n", cmd_link_remove },
	{ "lockout", "list", "[--all] [--json]", 0, 0,
	    "List the client addresses and mailboxes locked out after\n"
	    "failed logins, on every mailgated sharing this database.\n"
	    "--all adds those with failures within [auth] lockout_time.\n",
	    cmd_lockout_list },
	{ "lockout", "clear", "ADDR|IP", 1, 1,
	    "Lift the lockout of a mailbox or client address and forget its\n"
	    "failures; every mailgated follows within about 2 seconds.\n",
	    cmd_lockout_clear },
	{ NULL, "audit",
	    "[--mailbox ADDR] [--since 2026-01-01|7d] [--limit N] [--json]", 0,
	    0,
	    "Show the audit log, newest first (default limit 100; 0 for "
	    "all).\n",
	    cmd_audit_list },
	{ NULL, "check-config", "", 0, 0,
	    "Read and check the configuration without touching anything\n"
	    "else. Exit 0 when it is valid, 78 otherwise.\n",
	    cmd_config_check },
};

static void
main_usage(FILE *f, const char *group)
{
	size_t i;

	(void)fprintf(f,
	    "usage: mailgate [-c FILE] COMMAND [ARGS]\n"
	    "       mailgate --version\n\ncommands:\n");
	for (i = 0; i < MG_N_ELEMENTS(main_cmds); i++) {
		const struct cli_cmd *c = &main_cmds[i];

		if (group != NULL &&
		    (c->group == NULL || strcmp(c->group, group) != 0))
			continue;
		(void)fprintf(f, "  %s%s%s %s\n",
		    c->group != NULL ? c->group : "",
		    c->group != NULL ? " " : "", c->name, c->usage);
	}
	(void)fprintf(f,
	    "\n-c FILE: configuration (default: $MAILGATE_CONFIG,"
	    " else %s).\nEvery command takes --help; exit codes "
	    "are listed in docs/cli.md.\n",
	    CONFIG_DEFAULT_PATH);
}

static bool
main_is_group(const char *word)
{
	size_t i;

	for (i = 0; i < MG_N_ELEMENTS(main_cmds); i++) {
		if (main_cmds[i].group != NULL &&
		    strcmp(main_cmds[i].group, word) == 0)
			return true;
	}
	return false;
}

static const struct cli_cmd *
main_find(const char *group, const char *name)
{
	size_t i;

	for (i = 0; i < MG_N_ELEMENTS(main_cmds); i++) {
		const struct cli_cmd *c = &main_cmds[i];

		if ((c->group == NULL) != (group == NULL))
			continue;
		if (group != NULL && strcmp(c->group, group) != 0)
			continue;
		if (strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

/* "cli:<login name>", or "cli:uid<N>" for a uid without a name. */
static void
main_actor(struct cli *cli)
{
	struct passwd *pw = getpwuid(getuid());

	if (pw != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0')
		(void)snprintf(
		    cli->actor, sizeof(cli->actor), "cli:%s", pw->pw_name);
	else
		(void)snprintf(cli->actor, sizeof(cli->actor), "cli:uid%u",
		    (unsigned int)getuid());
}

/* Global options before the command: -c FILE, --config FILE. */
static int
main_globals(struct cli *cli, int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--version") == 0) {
			(void)printf("mailgate %s\n", MG_VERSION);
			cli_flush();
			exit(CLI_EXIT_OK);
		} else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			main_usage(stdout, NULL);
			cli_flush();
			exit(CLI_EXIT_OK);
		} else if ((strcmp(argv[i], "-c") == 0 ||
			       strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc) {
			cli->config_path = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			cli->config_path = argv[i] + 9;
			i++;
		} else {
			cli_die(CLI_EXIT_USAGE,
			    "unknown or incomplete option "
			    "%s; see mailgate --help",
			    cli_show(argv[i], 40));
		}
	}
	return i;
}

int
main(int argc, char **argv)
{
	const struct cli_cmd *cmd;
	struct cli cli = { 0 };
	const char *group = NULL;
	int i, ret;

	log_init("mailgate", LOG_LEVEL_WARN, false);
	cli_json_init();
	i = main_globals(&cli, argc, argv);
	if (i >= argc) {
		main_usage(stderr, NULL);
		return CLI_EXIT_USAGE;
	}
	if (main_is_group(argv[i])) {
		group = argv[i++];
		if (i >= argc || strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			main_usage(i >= argc ? stderr : stdout, group);
			return i >= argc ? CLI_EXIT_USAGE : CLI_EXIT_OK;
		}
	}
	cmd = main_find(group, argv[i]);
	if (cmd == NULL)
		cli_die(CLI_EXIT_USAGE,
		    "unknown command %s%s%s; see mailgate "
		    "--help",
		    group != NULL ? group : "", group != NULL ? " " : "",
		    cli_show(argv[i], 40));

	main_actor(&cli);
	cli.now = (int64_t)time(NULL);
	ret = cmd->run(&cli, cmd, argc - i - 1, argv + i + 1);
	db_close(&cli.db);
	config_free(&cli.cfg);
	cli_flush();
	return ret;
}
