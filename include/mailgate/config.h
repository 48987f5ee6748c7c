/* SPDX-License-Identifier: MIT */
/*
 * config.h - the one configuration every mailgate program reads.
 *
 * Input: an INI-style file ("[section]", "key = value", "#" or ";"
 * comments on their own line) and the environment, where
 * MAILGATE_<SECTION>_<KEY> overrides the file. Every secret key also has
 * a <key>_file form naming a file that holds it. Unknown sections and
 * keys, bad values and missing required keys are errors that name the
 * file, line and key (or the environment variable).
 */
#ifndef MAILGATE_CONFIG_H
#define MAILGATE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "mailgate/secret.h"

#define CONFIG_DEFAULT_PATH MG_SYSCONFDIR "/mailgate/mailgate.conf"

/* A list value: "a, b c" splits on commas and blanks. */
struct config_list {
	char **items; /* owned */
	unsigned int count;
};

struct config {
	char *path; /* file read, or NULL when none */

	struct {
		/* libpq conninfo or URI; may hold a password */
		struct secret *url;
		int64_t connect_timeout; /* seconds, default 5 */
	} database;

	struct {
		char *key_file; /* current key: hashes new tokens */
		/* older keys: still verify tokens they hashed */
		struct config_list previous_key_files;
		int64_t default_expiry; /* seconds; 0 = never; default 365d */
		int64_t max_expiry;     /* seconds; 0 = no limit */
	} tokens;

	struct {
		char *socket;             /* default /run/mailgate/auth */
		char *socket_user;        /* owner after bind; NULL = keep */
		char *socket_group;       /* group after bind; NULL = keep */
		unsigned int socket_mode; /* octal, default 0660 */
		/* "127.0.0.1:9143"; NULL = off; loopback only */
		char *tcp_listen;
		unsigned int max_connections; /* default 4096 */
		/* seconds a fetched token record may be reused */
		int64_t cache_ttl;
		int64_t failure_delay;         /* ms added to each failure */
		unsigned int lockout_failures; /* per address or mailbox */
		int64_t lockout_time;          /* seconds, default 900 */
	} auth;

	struct {
		char *listen;     /* default 127.0.0.1:8080; "" = no HTTP */
		char *public_url; /* https://mail-auth.example.org */
		/* CIDRs whose X-Forwarded-For is trusted */
		struct config_list trusted_proxies;
		unsigned int max_connections; /* default 256 */
		int64_t session_idle;         /* seconds, default 1800 */
		int64_t session_max;          /* seconds, default 43200 */
		/* seconds a sign-in stays good for creating tokens (900) */
		int64_t token_reauth;
		char *mail_host; /* shown as IMAP/SMTP server; NULL = host of
				  * public_url */
	} http;

	struct {
		char *issuer;
		char *client_id;
		struct secret *client_secret;
		char *scopes;  /* default "openid email profile" */
		char *ca_file; /* extra CA bundle for the provider */
		/* client_secret_basic | client_secret_post */
		char *token_auth_method;
		/* default RS256 ES256 HS256 */
		struct config_list allowed_algs;
		int64_t clock_skew;   /* seconds, default 60, at most 300 */
		int64_t http_timeout; /* seconds, default 10 */
	} oidc;

	struct {
		char *address_claim; /* default "email" */
		/* "{preferred_username}@example.org" */
		char *address_template;
		struct config_list allowed_domains;
		struct config_list required_groups;
		char *groups_claim;          /* default "groups" */
		bool require_email_verified; /* default false */
		bool require_mfa;            /* default false */
		bool create_mailboxes;       /* default false */
	} mapping;

	struct {
		char *level; /* debug, info, warn, err; default info */
		bool syslog;
	} log;
};

/* What a program needs; config_require() names the first missing key. */
enum config_need {
	CONFIG_NEED_DATABASE = 1 << 0, /* [database] url */
	CONFIG_NEED_TOKENS = 1 << 1,   /* [tokens] key_file */
	CONFIG_NEED_HTTP = 1 << 2,     /* [http] public_url */
	CONFIG_NEED_OIDC = 1 << 3,     /* [oidc] issuer, client_id, secret */
};

/*
 * Load path (or CONFIG_DEFAULT_PATH when path is NULL), then apply the
 * environment (envp NULL = environ). A missing default file is fine; a
 * missing explicit path is an error. Secrets named by *_file are read
 * here. On error returns -1 and *errstr_r (owned by the caller: free())
 * reads like "/etc/mailgate/mailgate.conf:12: [auth] socket_mode: not an
 * octal mode". Owned result: release with config_free().
 */
int config_load(const char *path, char *const *envp, struct config **cfg_r,
    char **errstr_r);
/* 0, or -1 and an owned message naming the missing key and its env name. */
int config_require(
    const struct config *cfg, unsigned int needs, char **errstr_r);
void config_free(struct config **cfgp);

#endif
