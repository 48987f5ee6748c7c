/* SPDX-License-Identifier: MIT */
/*
 * store.h - the administrative state in the database: mailboxes, links
 * from OpenID identities to mailboxes, app tokens and the audit log.
 * Used by the "mailgate" CLI (actor "cli:<user>") and by mailgated's web
 * pages (actor "web:<mailbox>") alike, with any struct db.
 *
 * Every change runs in its own transaction together with its audit row:
 * it happens completely, or not at all. Callers pass addresses already
 * canonical (address_normalize()) and token ids already checked
 * (token_id_valid()); the database's own checks are the last line.
 * No secret ever reaches the audit log.
 */
#ifndef MAILGATE_STORE_H
#define MAILGATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailgate/db.h"
#include "mailgate/limits.h"
#include "mailgate/secret.h"
#include "mailgate/token.h"

/* The outcomes callers tell apart. *errstr_r (owned) is set unless OK. */
enum store_result {
	STORE_OK = 0,
	STORE_NOT_FOUND, /* no such mailbox, token or link */
	STORE_EXISTS,    /* duplicate mailbox or link */
	STORE_INVALID,   /* refused by a check: too long, bad value */
	STORE_TEMPFAIL,  /* database error: nothing was changed */
};

/* ---- mailboxes ---- */

struct store_mailbox {
	int64_t id;
	char address[ADDRESS_MAX + 1];
	bool enabled;
	int64_t created_at; /* unix seconds */
	char created_by[ACTOR_MAX + 1];
	int64_t updated_at;
	unsigned int active_tokens; /* not revoked, not expired */
	unsigned int identities;
};

/* Audit "mailbox.add". STORE_EXISTS when the address is taken. */
enum store_result store_mailbox_add(
    struct db *db, const char *actor, const char *address, char **errstr_r);
enum store_result store_mailbox_get(struct db *db, const char *address,
    struct store_mailbox *mb_r, char **errstr_r);
/* Owned array: free(). Ordered by address. */
enum store_result store_mailbox_list(struct db *db,
    struct store_mailbox **list_r, size_t *count_r, char **errstr_r);
/*
 * Audit "mailbox.enable" / "mailbox.disable". Setting the state it
 * already has changes nothing and writes no audit row: *changed_r says
 * which (may be NULL).
 */
enum store_result store_mailbox_set_enabled(struct db *db, const char *actor,
    const char *address, bool enabled, bool *changed_r, char **errstr_r);

/* ---- identity links ---- */

#define STORE_ISSUER_MAX  1024
#define STORE_SUBJECT_MAX 255

struct store_identity {
	char issuer[STORE_ISSUER_MAX + 1];
	char subject[STORE_SUBJECT_MAX + 1];
	char mailbox[ADDRESS_MAX + 1];
	int64_t created_at;
	char created_by[ACTOR_MAX + 1];
	int64_t last_login_at; /* 0 = never */
};

/* Owned array: free(). address NULL lists all; unknown: NOT_FOUND. */
enum store_result store_identity_list(struct db *db, const char *address,
    struct store_identity **list_r, size_t *count_r, char **errstr_r);
/*
 * Audit "identity.link". NOT_FOUND: no such mailbox. EXISTS: this
 * (issuer, subject) is linked already (to any mailbox).
 */
enum store_result store_identity_link(struct db *db, const char *actor,
    const char *issuer, const char *subject, const char *address,
    char **errstr_r);
/*
 * The automatic link of a first web sign-in: like store_identity_link(),
 * but only to a mailbox that no other identity is linked to; the
 * mailbox row is locked for the decision, so two sign-ins racing (on
 * two instances, say) cannot both link. OK also when this (issuer,
 * subject) was linked meanwhile (read the link). EXISTS: another
 * identity has the mailbox; nothing was changed. NOT_FOUND: no mailbox.
 */
enum store_result store_identity_link_first(struct db *db, const char *actor,
    const char *issuer, const char *subject, const char *address,
    char **errstr_r);
/*
 * Audit "identity.unlink". address NULL: whatever mailbox it is linked
 * to; otherwise the link must be to that mailbox. NOT_FOUND if none.
 */
enum store_result store_identity_unlink(struct db *db, const char *actor,
    const char *issuer, const char *subject, const char *address,
    char **errstr_r);
/*
 * The mailbox linked to (issuer, subject), for a login: fills addr_r and
 * enabled_r and sets last_login_at. NOT_FOUND when there is no link.
 */
enum store_result store_identity_login(struct db *db, const char *issuer,
    const char *subject, char addr_r[ADDRESS_MAX + 1], bool *enabled_r,
    char **errstr_r);

/* ---- app tokens ---- */

struct store_token_request {
	const char *address; /* canonical */
	const char *label;   /* <= TOKEN_LABEL_MAX bytes, no control bytes */
	unsigned int scopes; /* 1..TOKEN_SCOPE_ALL */
	int64_t expires_at;  /* unix seconds; 0 = never */
};

/* What store_token_create() hands back, once. */
struct store_token_issued {
	struct secret *token; /* owned: secret_free() once shown */
	char id[TOKEN_ID_LEN + 1];
};

/*
 * Audit "token.issue". Generates a token, stores its HMAC under the
 * keyring's current key, and hands the token back once in out_r->token
 * (secret_free() it as soon as it was shown). NOT_FOUND: no such
 * mailbox. A disabled mailbox gets no tokens: INVALID.
 */
enum store_result store_token_create(struct db *db,
    const struct token_keyring *kr, const char *actor,
    const struct store_token_request *req, struct store_token_issued *out_r,
    char **errstr_r);

struct store_token {
	char id[TOKEN_ID_LEN + 1];
	char mailbox[ADDRESS_MAX + 1];
	char label[TOKEN_LABEL_MAX + 1];
	char key_id[TOKEN_KEY_ID_LEN + 1];
	unsigned int scopes;
	int64_t created_at;
	char created_by[ACTOR_MAX + 1];
	int64_t expires_at; /* 0 = never */
	int64_t revoked_at; /* 0 = not revoked */
	char revoked_by[ACTOR_MAX + 1];
	char revoke_reason[REASON_MAX + 1];
	int64_t last_used_at; /* 0 = never */
	char last_used_ip[46];
	char last_used_service[16];
	bool expired; /* expires_at has passed (database clock) */
};

/*
 * Owned array: free(). address NULL lists every mailbox's tokens
 * (unknown address: NOT_FOUND). Without include_inactive, revoked and
 * expired tokens are left out. Newest first.
 */
enum store_result store_token_list(struct db *db, const char *address,
    bool include_inactive, struct store_token **list_r, size_t *count_r,
    char **errstr_r);
enum store_result store_token_get(struct db *db, const char *public_id,
    struct store_token *tok_r, char **errstr_r);
struct store_token_revocation {
	const char *actor;
	const char *public_id;
	const char *address; /* non-NULL: only this mailbox's token */
	const char *reason;
};

/*
 * Audit "token.revoke". address non-NULL: the token must belong to that
 * mailbox (web users revoke only their own), else NOT_FOUND. An already
 * revoked token is left as it was: *changed_r false, no audit row.
 * changed_r may be NULL.
 */
enum store_result store_token_revoke_one(struct db *db,
    const struct store_token_revocation *rv, bool *changed_r, char **errstr_r);
/* Revoke every unrevoked token of a mailbox; one audit row each. */
enum store_result store_token_revoke_all(struct db *db, const char *actor,
    const char *address, const char *reason, size_t *count_r, char **errstr_r);

/* ---- audit log ---- */

struct store_audit {
	int64_t id;
	int64_t at; /* unix seconds */
	char actor[ACTOR_MAX + 1];
	char action[32];
	char mailbox[ADDRESS_MAX + 1]; /* "" when none */
	char *target;                  /* owned, NULL when none */
	char *detail;                  /* owned JSON object text, or NULL */
};

/* Who did what to what: the fixed columns of one audit row. */
struct store_audit_event {
	const char *actor;
	const char *action;  /* "token.issue", "web.login", ... */
	const char *mailbox; /* NULL when none */
	const char *target;  /* NULL when none */
};

/*
 * Append one row in the caller's open transaction or on its own. detail
 * is JSON object text or NULL; it must hold no secret.
 */
enum store_result store_audit_append(struct db *db,
    const struct store_audit_event *ev, const char *detail_json,
    char **errstr_r);

/* Which rows store_audit_query() returns. */
struct store_audit_filter {
	const char *address; /* NULL: every mailbox */
	int64_t since;       /* unix seconds; 0: no bound */
	size_t limit;        /* 0: no limit */
};

/* Newest first. Owned: store_audit_list_free(). */
enum store_result store_audit_query(struct db *db,
    const struct store_audit_filter *f, struct store_audit **list_r,
    size_t *count_r, char **errstr_r);
void store_audit_list_free(struct store_audit **listp, size_t count);

/* ---- failed-login counters (sql/0004_auth_failures.sql) ---- */

struct store_lockout {
	char kind[8]; /* "address" or "mailbox" */
	char key[FAILURE_KEY_MAX + 1];
	unsigned int failures;
	int64_t last_failed_at; /* unix seconds */
	int64_t locked_until;   /* 0: not locked */
};

/*
 * Owned array: free(). Locked counters, and with window_s > 0 also those
 * with a failure in the last window_s seconds ([auth] lockout_time);
 * locks first, then by last failure, newest first.
 */
enum store_result store_lockout_list(struct db *db, int64_t window_s,
    struct store_lockout **list_r, size_t *count_r, char **errstr_r);
/*
 * Lift the lock on a client address or mailbox (key, lower case) and
 * forget its failures, on every mailgated within about two seconds.
 * Audit "lockout.clear". NOT_FOUND when nothing counts for key.
 */
enum store_result store_lockout_clear(
    struct db *db, const char *actor, const char *key, char **errstr_r);

/* Borrowed static text: "ok", "not found", "exists", ... */
const char *store_result_str(enum store_result r);

#endif
