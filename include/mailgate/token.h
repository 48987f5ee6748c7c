/* SPDX-License-Identifier: MIT */
/*
 * token.h - app tokens: format, generation, keyed hashing, checking.
 * No database here: src/db fetches the stored record, token_check_attempt()
 * decides. Tokens are secrets; only the public id may be logged.
 *
 * Format: "mgt_" ID "_" SECRET CHECK
 *   ID     12 chars [0-9a-z]          public, unique, shown in lists/logs
 *   SECRET 30 chars [0-9A-Za-z]       178 bits from the OS CSPRNG
 *   CHECK   6 chars [0-9A-Za-z]       CRC-32 of everything before it
 * Only letters, digits and '_': safe in every client and in Dovecot.
 */
#ifndef MAILGATE_TOKEN_H
#define MAILGATE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailgate/result.h"
#include "mailgate/secret.h"

#define TOKEN_PREFIX     "mgt_"
#define TOKEN_PREFIX_LEN 4
#define TOKEN_ID_LEN     12
#define TOKEN_SECRET_LEN 30
#define TOKEN_CHECK_LEN  6
#define TOKEN_LEN                                                              \
	(TOKEN_PREFIX_LEN + TOKEN_ID_LEN + 1 + TOKEN_SECRET_LEN +              \
	    TOKEN_CHECK_LEN)
#define TOKEN_HASH_LEN   32 /* HMAC-SHA256 */
#define TOKEN_KEY_ID_LEN 8  /* hex chars naming a key */
#define TOKEN_KEY_MIN    32 /* bytes */

/* Scopes are the services a token may log in to. */
enum token_scope {
	TOKEN_SCOPE_IMAP = 1 << 0,
	TOKEN_SCOPE_POP3 = 1 << 1,
	TOKEN_SCOPE_SMTP = 1 << 2,
	TOKEN_SCOPE_SUBMISSION = 1 << 3,
	TOKEN_SCOPE_SIEVE = 1 << 4,
	TOKEN_SCOPE_ALL = (1 << 5) - 1,
};

/* "imap,smtp", "imap smtp" or "all" -> mask. 0 or -1 with *errstr_r. */
int token_scopes_parse(
    const char *s, unsigned int *mask_r, const char **errstr_r);
/* mask -> "imap,smtp" (or "all"); returns the length, like snprintf. */
size_t token_scopes_format(unsigned int mask, char *buf, size_t size);
/*
 * A Dovecot service= name -> the scope it needs: imap, pop3, smtp,
 * submission, sieve (also "managesieve"). Unknown: -1.
 */
int token_scope_for_service(const char *service, unsigned int *scope_r);

/* True if s is a well-formed public id (12 chars of [0-9a-z]). */
bool token_id_valid(const char *s);

/*
 * Check the shape and checksum of a presented token (len bytes, need not
 * be NUL-terminated) without a database. On success copy the public id
 * into id_r and return 0; a malformed or mistyped token returns -1.
 */
int token_parse(const char *s, size_t len, char id_r[TOKEN_ID_LEN + 1]);

/* A new token: owned secret of TOKEN_LEN bytes; its id into id_r. */
struct secret *token_generate(char id_r[TOKEN_ID_LEN + 1]);

/*
 * The server keys. The current key hashes new tokens; previous keys
 * still verify tokens hashed before a rotation. A key's id is the first
 * TOKEN_KEY_ID_LEN hex digits of SHA-256("mailgate key id" || key), so it
 * names the key without revealing it.
 */
struct token_keyring;

/* Owned. Each file must hold at least TOKEN_KEY_MIN bytes. */
int token_keyring_load(const char *current_file,
    const char *const *previous_files, unsigned int previous_count,
    struct token_keyring **kr_r, char **errstr_r);
/* Owned: keys given as bytes (tests, key generation). */
struct token_keyring *token_keyring_new(const void *key, size_t len);
int token_keyring_add_previous(
    struct token_keyring *kr, const void *key, size_t len);
void token_keyring_free(struct token_keyring **krp);
/* Borrowed: the current key's id. */
const char *token_keyring_current_id(const struct token_keyring *kr);
bool token_keyring_has(const struct token_keyring *kr, const char *key_id);

/*
 * HMAC-SHA256 of the whole token under key key_id (NULL: the current
 * key). Returns -1 when the keyring has no such key.
 */
int token_hash(const struct token_keyring *kr, const char *key_id,
    const void *token, size_t len, unsigned char hash_r[TOKEN_HASH_LEN]);

/* What the database holds about one token: token_check_attempt()'s input. */
struct token_record {
	char id[TOKEN_ID_LEN + 1];
	char key_id[TOKEN_KEY_ID_LEN + 1];
	unsigned char hash[TOKEN_HASH_LEN];
	char mailbox[255]; /* canonical, lower case */
	bool mailbox_enabled;
	unsigned int scopes;
	int64_t expires_at; /* unix seconds; 0 = never */
	int64_t revoked_at; /* unix seconds; 0 = not revoked */
};

/* Why a check failed: logged as reason=, never shown to the client. */
enum token_reason {
	TOKEN_REASON_OK = 0,
	TOKEN_REASON_MALFORMED,   /* shape or checksum */
	TOKEN_REASON_UNKNOWN,     /* no such id */
	TOKEN_REASON_MISMATCH,    /* hash differs */
	TOKEN_REASON_KEY_RETIRED, /* hashed with a key we no longer have */
	TOKEN_REASON_WRONG_USER,  /* username is not the token's mailbox */
	TOKEN_REASON_SCOPE,       /* service not in the token's scopes */
	TOKEN_REASON_EXPIRED,
	TOKEN_REASON_REVOKED,
	TOKEN_REASON_DISABLED, /* mailbox disabled */
};
/* Borrowed static text: "malformed", "unknown", "mismatch", ... */
const char *token_reason_str(enum token_reason reason);

/* One login attempt, as token_check_attempt() weighs it. */
struct token_attempt {
	const void *token; /* what the client sent as its password */
	size_t len;
	const char *user;   /* NULL: any mailbox */
	unsigned int scope; /* 0: any scope */
	int64_t now;        /* unix seconds */
};

/*
 * Decide whether a->token (a->len bytes) opens rec for a->user
 * (compared case-insensitively with rec->mailbox; NULL skips the check)
 * and a->scope (0 skips it) at time a->now. The hash is compared in
 * constant time and checked before anything else is revealed. Returns
 * MG_OK or MG_PERMFAIL, with *reason_r set either way.
 */
enum mg_result token_check_attempt(const struct token_keyring *kr,
    const struct token_record *rec, const struct token_attempt *a,
    enum token_reason *reason_r);

#endif
