/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the commands of "mailgate" share: exit codes, option
 * parsing, configuration and database opening, output helpers.
 * Private to src/cli.
 */
#ifndef MAILGATE_CLI_H
#define MAILGATE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mailgate/config.h"
#include "mailgate/db.h"
#include "mailgate/store.h"

/* Exit codes (sysexits.h values), documented in docs/cli.md. */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_REJECTED = 1,    /* token verify: would be refused */
	CLI_EXIT_USAGE = 64,      /* EX_USAGE */
	CLI_EXIT_DATAERR = 65,    /* EX_DATAERR: malformed input */
	CLI_EXIT_NO_TOKEN = 66,   /* EX_NOINPUT: unknown token id */
	CLI_EXIT_NO_MAILBOX = 67, /* EX_NOUSER: unknown mailbox or link */
	CLI_EXIT_SOFTWARE = 70,   /* EX_SOFTWARE: a bug */
	CLI_EXIT_EXISTS = 73,     /* EX_CANTCREAT: exists already */
	CLI_EXIT_IOERR = 74,      /* EX_IOERR: cannot write stdout */
	CLI_EXIT_TEMPFAIL = 75,   /* EX_TEMPFAIL: database unreachable */
	CLI_EXIT_SCHEMA = 76,     /* EX_PROTOCOL: schema mismatch */
	CLI_EXIT_CONFIG = 78,     /* EX_CONFIG */
};

struct cli {
	const char *config_path; /* -c, else MAILGATE_CONFIG, else NULL */
	struct config *cfg;
	struct db *db;
	char actor[ACTOR_MAX + 1];
	int64_t now;
};

/* One option of a command: a flag, or one that takes a value. */
struct cli_opt {
	const char *name;   /* without the leading "--" */
	const char **value; /* non-NULL: takes a value */
	bool *flag;         /* non-NULL: a flag */
};

/* A command: "token issue", its usage text and its function. */
struct cli_cmd {
	const char *group; /* "token", or NULL for top-level commands */
	const char *name;
	const char *usage; /* "ADDR [--label TEXT] ..." */
	int min_args;      /* positional words the usage allows */
	int max_args;
	const char *help; /* the rest of the --help text */
	int (*run)(
	    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
};

/* Print "mailgate: <message>" as one line on stderr and exit(code). */
void cli_die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/*
 * Parse argv (the words after the command name): options from opts,
 * "--help", "-c FILE"/"--config FILE", "--", and positional words. A
 * positional count outside [cmd->min_args, cmd->max_args] or an unknown
 * option exits 64. --help prints cmd's help and exits 0. Returns the
 * positional count; the words are moved to the front of argv.
 */
int cli_parse(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv,
    const struct cli_opt *opts, size_t nopts);

/* Load the configuration and require needs (config_need), or exit 78. */
void cli_config(struct cli *cli, unsigned int needs);
/* cli_config(DATABASE) and db_open_ex(flags), or exit 75/76/78. */
void cli_open(struct cli *cli, unsigned int flags);
/* Exit with the code a failed store call deserves (not_found: 66/67). */
void cli_store_die(enum store_result r, int not_found_code, const char *err)
    __attribute__((noreturn));

/*
 * A typed value for a message: log_safe(s, max), or a placeholder when
 * it looks like a pasted token. Borrowed (log_safe's rotating buffers).
 */
const char *cli_show(const char *s, size_t max);
/* Exit 65: "malformed WHAT VALUE: WHY", hiding both if VALUE is a token. */
void cli_die_input(const char *what, const char *value, const char *why)
    __attribute__((noreturn));

/* Input checks that exit 65 with a message naming the value's kind. */
void cli_address(const char *in, char out[ADDRESS_MAX + 1]);
void cli_token_id(const char *in);
void cli_text(const char *what, const char *s, size_t max);
int64_t cli_time(const char *what, const char *s, int64_t now);

/* Make jansson wipe what it frees (call once, before any JSON). */
void cli_json_init(void);
/* Dump v (reference stolen) as indented JSON with a newline. */
void cli_json_print(json_t *v);
/* A unix time as JSON: an ISO string, or null for 0. */
json_t *cli_json_time(int64_t t);
/* "2026-01-01T12:30:00Z", or dash for 0; buf >= 24 bytes. */
const char *cli_fmt_time(int64_t t, const char *dash, char *buf, size_t size);

/* Aligned columns: add cells row by row, then print and free. */
struct cli_table;
struct cli_table *cli_table_new(unsigned int ncols, const char *const *head);
void cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(struct cli_table **tp);

/* Flush stdout; a write error (full disk, closed pipe) exits 74. */
void cli_flush(void);

int cmd_db_migrate(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_db_status(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_mailbox_add(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_mailbox_list(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_mailbox_show(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_mailbox_disable(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_mailbox_enable(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_token_issue(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_token_list(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_token_revoke(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_token_verify(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_link_list(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_link_add(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_link_remove(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_audit_list(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_lockout_list(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_lockout_clear(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cmd_config_check(
    struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);

/* One token as JSON (cmd_token.c). */
json_t *cmd_token_json(const struct store_token *t);
/* The links as JSON (cmd_link.c). */
json_t *cmd_link_json(const struct store_identity *id);

#endif
