/* SPDX-License-Identifier: MIT */
/*
 * cmd_config.c - "mailgate check-config": load and check the
 * configuration, touch nothing else (no database, no network).
 * Input: the configuration file and environment. Prints no value of it.
 */
#include "cli.h"

#include <stdio.h>

#include "mailgate/token.h"

int
cmd_config_check(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	const struct config_list *prev;
	struct token_keyring *kr = NULL;
	char *err = NULL;

	(void)cli_parse(cli, cmd, argc, argv, NULL, 0);
	cli_config(cli, 0);
	/* The key files are read by every program that hashes: check them
	 * here too, so a bad key is found before the daemon starts. */
	if (cli->cfg->tokens.key_file != NULL) {
		prev = &cli->cfg->tokens.previous_key_files;
		if (token_keyring_load(cli->cfg->tokens.key_file,
			(const char *const *)prev->items, prev->count, &kr,
			&err) < 0)
			cli_die(CLI_EXIT_CONFIG, "%s", err);
		token_keyring_free(&kr);
	}
	(void)printf("%s: configuration is valid\n",
	    cli->cfg->path != NULL ? cli->cfg->path : "(no file)");
	return CLI_EXIT_OK;
}
