/* SPDX-License-Identifier: MIT */
/*
 * cmd_db.c - "mailgate db migrate" and "mailgate db status".
 * Input: the database only. Both open it without the schema check, since
 * their job is to look at or repair exactly that.
 */
#include "cli.h"

#include <stdio.h>

#include "mailgate/migrations.h"
#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

int
cmd_db_migrate(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	enum mg_result r;
	char *err = NULL;
	int from, to;

	(void)cli_parse(cli, cmd, argc, argv, NULL, 0);
	cli_open(cli, DB_OPEN_ANY_SCHEMA);
	r = db_migrate(cli->db, &from, &to, &err);
	if (r == MG_PERMFAIL)
		cli_die(CLI_EXIT_SCHEMA, "%s", err);
	if (r != MG_OK)
		cli_die(CLI_EXIT_TEMPFAIL, "%s", err);
	if (from == to)
		(void)printf("schema is up to date (version %d)\n", to);
	else
		(void)printf(
		    "schema migrated from version %d to %d\n", from, to);
	return CLI_EXIT_OK;
}

static json_t *
cmd_db_status_json(
    int current, const struct db_applied *applied, unsigned int napplied)
{
	json_t *o = json_object(), *a = json_array(), *p = json_array();
	unsigned int i;

	for (i = 0; i < napplied; i++)
		(void)json_array_append_new(a,
		    json_pack("{s:i, s:s, s:o}", "version", applied[i].version,
			"name", applied[i].name, "applied_at",
			cli_json_time(applied[i].applied_at)));
	for (i = 0; i < migrations_count; i++) {
		if (migrations[i].version > current)
			(void)json_array_append_new(p,
			    json_pack("{s:i, s:s}", "version",
				migrations[i].version, "name",
				migrations[i].name));
	}
	(void)json_object_set_new(o, "current", json_integer(current));
	(void)json_object_set_new(o, "known", json_integer(db_schema_known()));
	(void)json_object_set_new(o, "state",
	    json_string(current > db_schema_known() ? "newer" :
		    current < db_schema_known()     ? "pending" :
						      "current"));
	(void)json_object_set_new(o, "applied", a);
	(void)json_object_set_new(o, "pending", p);
	return o;
}

static void
cmd_db_status_text(
    int current, const struct db_applied *applied, unsigned int napplied)
{
	char when[32];
	unsigned int i, pending = 0;
	int known = db_schema_known();

	(void)printf("database schema version: %d\n", current);
	(void)printf("this mailgate knows:     %d\n", known);
	for (i = 0; i < napplied; i++)
		(void)printf("  applied %04d %s at %s\n", applied[i].version,
		    applied[i].name,
		    cli_fmt_time(
			applied[i].applied_at, "-", when, sizeof(when)));
	for (i = 0; i < migrations_count; i++) {
		if (migrations[i].version <= current)
			continue;
		(void)printf("  pending %04d %s\n", migrations[i].version,
		    migrations[i].name);
		pending++;
	}
	if (current > known)
		(void)printf("the database is newer than this mailgate: "
			     "upgrade mailgate\n");
	else if (pending > 0)
		(void)printf(
		    "%u pending: run \"mailgate db migrate\"\n", pending);
	else
		(void)printf("up to date\n");
}

int
cmd_db_status(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct db_applied *applied = NULL;
	unsigned int napplied = 0;
	bool json = false;
	const struct cli_opt opts[] = { { "json", NULL, &json } };
	char *err = NULL;
	int current;

	(void)cli_parse(cli, cmd, argc, argv, opts, MG_N_ELEMENTS(opts));
	cli_open(cli, DB_OPEN_ANY_SCHEMA);
	if (db_schema_version(cli->db, &current, &err) != MG_OK ||
	    db_schema_history(cli->db, &applied, &napplied, &err) != MG_OK)
		cli_die(CLI_EXIT_TEMPFAIL, "%s", err);
	if (json)
		cli_json_print(cmd_db_status_json(current, applied, napplied));
	else
		cmd_db_status_text(current, applied, napplied);
	free(applied);
	return CLI_EXIT_OK;
}
