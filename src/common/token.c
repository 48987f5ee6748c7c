/* SPDX-License-Identifier: MIT */
/*
 * token.c - app tokens: generation, shape and checksum, the server
 * keyring, keyed hashing and the login decision.
 * Input: tokens typed by users into mail clients (untrusted, any bytes,
 * not NUL-terminated) and key files named by the configuration.
 * Never logs, never returns a token or key in an error text. Parsing
 * allocates nothing; hashing allocates only inside OpenSSL (see
 * token_key_hash). A keyring is read-only once built and may be shared
 * by threads.
 */
#include "mailgate/token.h"

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "mailgate/limits.h"
#include "mailgate/xmalloc.h"

#define TOKEN_ID_ALPHABET "0123456789abcdefghijklmnopqrstuvwxyz"
/* Base62 digits in ASCII order: the secret and the checksum use it. */
#define TOKEN_B62_ALPHABET                                                     \
	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define TOKEN_SEP_POS        (TOKEN_PREFIX_LEN + TOKEN_ID_LEN)
#define TOKEN_BODY_LEN       (TOKEN_LEN - TOKEN_CHECK_LEN)
#define TOKEN_KEY_LABEL      "mailgate key id"
/* The longest scope or service name we know, plus room to notice more. */
#define TOKEN_SCOPE_NAME_MAX 16

_Static_assert(TOKEN_LEN == 53, "token format changed: update docs");
_Static_assert(TOKEN_KEY_ID_LEN % 2 == 0, "key id is whole hex bytes");

struct token_key {
	char id[TOKEN_KEY_ID_LEN + 1];
	/*
	 * HMAC-SHA256 already keyed: each hash duplicates it instead of
	 * setting the key again. Only read after loading, so one keyring
	 * may serve many threads.
	 */
	EVP_MAC_CTX *mac_ctx;
};

struct token_keyring {
	EVP_MAC *mac;
	struct token_key *keys; /* [0] is the current key */
	unsigned int count;
};

static const struct {
	const char *name;
	unsigned int scope;
} token_scope_names[] = {
	{ "imap", TOKEN_SCOPE_IMAP },
	{ "pop3", TOKEN_SCOPE_POP3 },
	{ "smtp", TOKEN_SCOPE_SMTP },
	{ "submission", TOKEN_SCOPE_SUBMISSION },
	{ "sieve", TOKEN_SCOPE_SIEVE },
};

/*
 * CRC-32 as zlib and Ethernet compute it: reflected polynomial
 * 0xedb88320, initial value and final xor all ones. Four bits a step:
 * entry n is n run through four rounds of the bitwise algorithm.
 */
static const uint32_t token_crc_nibble[16] = {
	0x00000000U,
	0x1db71064U,
	0x3b6e20c8U,
	0x26d930acU,
	0x76dc4190U,
	0x6b6b51f4U,
	0x4db26158U,
	0x5005713cU,
	0xedb88320U,
	0xf00f9344U,
	0xd6d6a3e8U,
	0xcb61b38cU,
	0x9b64c2b0U,
	0x86d3d2d4U,
	0xa00ae278U,
	0xbdbdf21cU,
};

static uint32_t
token_crc32(const unsigned char *p, size_t len)
{
	uint32_t crc = 0xffffffffU;
	size_t i;

	for (i = 0; i < len; i++) {
		crc ^= p[i];
		crc = (crc >> 4) ^ token_crc_nibble[crc & 0x0f];
		crc = (crc >> 4) ^ token_crc_nibble[crc & 0x0f];
	}
	return crc ^ 0xffffffffU;
}

/* 62^6 > 2^32, so six digits hold any CRC; most significant first. */
static void
token_checksum_encode(uint32_t crc, char out[TOKEN_CHECK_LEN])
{
	int i;

	for (i = TOKEN_CHECK_LEN - 1; i >= 0; i--) {
		out[i] = TOKEN_B62_ALPHABET[crc % 62];
		crc /= 62;
	}
}

static int
token_b62_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

static bool
token_id_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

bool
token_id_valid(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	/* Stops at the first bad byte, so never reads past a short NUL. */
	for (i = 0; i < TOKEN_ID_LEN; i++) {
		if (!token_id_char((unsigned char)s[i]))
			return false;
	}
	return s[TOKEN_ID_LEN] == '\0';
}

int
token_parse(const char *s, size_t len, char id_r[TOKEN_ID_LEN + 1])
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t sum = 0;
	size_t i;
	int v;

	if (s == NULL || len != TOKEN_LEN)
		return -1;
	if (memcmp(p, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0 ||
	    p[TOKEN_SEP_POS] != '_')
		return -1;
	for (i = TOKEN_PREFIX_LEN; i < TOKEN_SEP_POS; i++) {
		if (!token_id_char(p[i]))
			return -1;
	}
	for (i = TOKEN_SEP_POS + 1; i < TOKEN_BODY_LEN; i++) {
		if (token_b62_value(p[i]) < 0)
			return -1;
	}

	for (i = TOKEN_BODY_LEN; i < TOKEN_LEN; i++) {
		v = token_b62_value(p[i]);
		if (v < 0)
			return -1;
		sum = sum * 62 + (uint64_t)v;
	}
	/* Six digits reach past 2^32: an oversized value cannot match. */
	if (sum != token_crc32(p, TOKEN_BODY_LEN))
		return -1;

	memcpy(id_r, s + TOKEN_PREFIX_LEN, TOKEN_ID_LEN);
	id_r[TOKEN_ID_LEN] = '\0';
	return 0;
}

/*
 * Fill out with characters of alphabet (n of them) drawn uniformly:
 * random bytes at or above the largest multiple of n are thrown away,
 * so that "% n" favours no character.
 */
static void
token_random_chars(char *out, size_t len, const char *alphabet, unsigned int n)
{
	unsigned char pool[64];
	unsigned int limit = 256 - 256 % n;
	size_t have = 0, used = 0, i = 0;

	while (i < len) {
		if (used == have) {
			secret_random(pool, sizeof(pool));
			have = sizeof(pool);
			used = 0;
		}
		if (pool[used] < limit)
			out[i++] = alphabet[pool[used] % n];
		used++;
	}
	secret_wipe(pool, sizeof(pool));
}

struct secret *
token_generate(char id_r[TOKEN_ID_LEN + 1])
{
	struct secret *tok = secret_new(TOKEN_LEN);
	char *p = (char *)tok->buf;

	/* The token goes on after the prefix; secret_new() terminates it. */
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(p, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
	token_random_chars(
	    p + TOKEN_PREFIX_LEN, TOKEN_ID_LEN, TOKEN_ID_ALPHABET, 36);
	p[TOKEN_SEP_POS] = '_';
	token_random_chars(
	    p + TOKEN_SEP_POS + 1, TOKEN_SECRET_LEN, TOKEN_B62_ALPHABET, 62);
	token_checksum_encode(
	    token_crc32(tok->buf, TOKEN_BODY_LEN), p + TOKEN_BODY_LEN);

	memcpy(id_r, p + TOKEN_PREFIX_LEN, TOKEN_ID_LEN);
	id_r[TOKEN_ID_LEN] = '\0';
	return tok;
}

/* SHA-256("mailgate key id" || key), first bytes in lower-case hex. */
static void
token_key_id(const void *key, size_t len, char id_r[TOKEN_KEY_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t i;

	MG_ASSERT(ctx != NULL);
	MG_ASSERT(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1);
	MG_ASSERT(EVP_DigestUpdate(
		      ctx, TOKEN_KEY_LABEL, strlen(TOKEN_KEY_LABEL)) == 1);
	MG_ASSERT(EVP_DigestUpdate(ctx, key, len) == 1);
	MG_ASSERT(EVP_DigestFinal_ex(ctx, md, &mdlen) == 1);
	EVP_MD_CTX_free(ctx);

	for (i = 0; i < TOKEN_KEY_ID_LEN / 2; i++) {
		id_r[2 * i] = hex[md[i] >> 4];
		id_r[2 * i + 1] = hex[md[i] & 0x0f];
	}
	id_r[TOKEN_KEY_ID_LEN] = '\0';
	secret_wipe(md, sizeof(md));
}

static const struct token_key *
token_keyring_find(const struct token_keyring *kr, const char *key_id)
{
	unsigned int i;

	if (key_id == NULL)
		return &kr->keys[0];
	for (i = 0; i < kr->count; i++) {
		if (strncmp(kr->keys[i].id, key_id, TOKEN_KEY_ID_LEN + 1) == 0)
			return &kr->keys[i];
	}
	return NULL;
}

/* Append a key; -1 if it is too short or the ring already holds it. */
static int
token_keyring_append(struct token_keyring *kr, const void *key, size_t len)
{
	OSSL_PARAM params[2];
	char digest[] = "SHA256";
	struct token_key *k;
	char id[TOKEN_KEY_ID_LEN + 1];

	if (key == NULL || len < TOKEN_KEY_MIN)
		return -1;
	token_key_id(key, len, id);
	if (token_keyring_find(kr, id) != NULL)
		return -1;

	kr->keys = xrealloc(kr->keys, (kr->count + 1) * sizeof(*kr->keys));
	k = &kr->keys[kr->count];
	memcpy(k->id, id, sizeof(k->id));
	k->mac_ctx = EVP_MAC_CTX_new(kr->mac);
	MG_ASSERT(k->mac_ctx != NULL);
	params[0] =
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	/* OpenSSL keeps its own copy of the key and cleanses it on free. */
	MG_ASSERT(EVP_MAC_init(k->mac_ctx, key, len, params) == 1);
	kr->count++;
	return 0;
}

struct token_keyring *
token_keyring_new(const void *key, size_t len)
{
	struct token_keyring *kr = xcalloc(1, sizeof(*kr));

	/* Keys from files are checked by the loader; here short is a bug. */
	MG_ASSERT(key != NULL && len >= TOKEN_KEY_MIN);
	kr->mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	MG_ASSERT(kr->mac != NULL);
	MG_ASSERT(token_keyring_append(kr, key, len) == 0);
	return kr;
}

int
token_keyring_add_previous(
    struct token_keyring *kr, const void *key, size_t len)
{
	return token_keyring_append(kr, key, len);
}

void
token_keyring_free(struct token_keyring **krp)
{
	struct token_keyring *kr;
	unsigned int i;

	if (krp == NULL || *krp == NULL)
		return;
	kr = *krp;
	for (i = 0; i < kr->count; i++)
		EVP_MAC_CTX_free(kr->keys[i].mac_ctx);
	free(kr->keys);
	EVP_MAC_free(kr->mac);
	free(kr);
	*krp = NULL;
}

const char *
token_keyring_current_id(const struct token_keyring *kr)
{
	return kr->keys[0].id;
}

bool
token_keyring_has(const struct token_keyring *kr, const char *key_id)
{
	return key_id != NULL && token_keyring_find(kr, key_id) != NULL;
}

/* Read one key file; errors name the file, never its bytes. */
static int
token_keyring_read(const char *path, struct secret **key_r, char **errstr_r)
{
	struct secret *key = NULL;
	const char *err;

	/* Raw bytes: a trailing newline is part of the key, not trimmed. */
	if (secret_read_file(path, SECRET_FILE_MAX, false, &key, &err) < 0) {
		*errstr_r = xasprintf("token key %s: %s", path, err);
		return -1;
	}
	if (key->len < TOKEN_KEY_MIN) {
		*errstr_r = xasprintf(
		    "token key %s: shorter than %d bytes", path, TOKEN_KEY_MIN);
		secret_free(&key);
		return -1;
	}
	*key_r = key;
	return 0;
}

int
token_keyring_load(const char *current_file, const char *const *previous_files,
    unsigned int previous_count, struct token_keyring **kr_r, char **errstr_r)
{
	struct token_keyring *kr = NULL;
	struct secret *key = NULL;
	unsigned int i;

	MG_ASSERT(previous_count == 0 || previous_files != NULL);
	if (token_keyring_read(current_file, &key, errstr_r) < 0)
		return -1;
	kr = token_keyring_new(key->buf, key->len);
	secret_free(&key);

	for (i = 0; i < previous_count; i++) {
		if (token_keyring_read(previous_files[i], &key, errstr_r) < 0)
			goto fail;
		if (token_keyring_append(kr, key->buf, key->len) < 0) {
			*errstr_r = xasprintf("token key %s: same key as one "
					      "loaded before it",
			    previous_files[i]);
			goto fail;
		}
		secret_free(&key);
	}

	*kr_r = kr;
	return 0;
fail:
	secret_free(&key);
	token_keyring_free(&kr);
	return -1;
}

/*
 * Duplicating the keyed context is about 2.5 times faster than keying a
 * new one, and leaves the shared one untouched so threads need no lock.
 * OpenSSL 3.0 still allocates inside the copy (11 small blocks); only
 * its deprecated SHA256_* calls could avoid that.
 */
static void
token_key_hash(const struct token_key *k, const void *token, size_t len,
    unsigned char hash_r[TOKEN_HASH_LEN])
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(k->mac_ctx);
	size_t outlen = 0;

	MG_ASSERT(ctx != NULL);
	MG_ASSERT(EVP_MAC_update(ctx, token, len) == 1);
	MG_ASSERT(EVP_MAC_final(ctx, hash_r, &outlen, TOKEN_HASH_LEN) == 1);
	MG_ASSERT(outlen == TOKEN_HASH_LEN);
	EVP_MAC_CTX_free(ctx);
}

int
token_hash(const struct token_keyring *kr, const char *key_id,
    const void *token, size_t len, unsigned char hash_r[TOKEN_HASH_LEN])
{
	const struct token_key *k;

	MG_ASSERT(kr != NULL && (token != NULL || len == 0));
	k = token_keyring_find(kr, key_id);
	if (k == NULL)
		return -1;
	token_key_hash(k, token, len, hash_r);
	return 0;
}

const char *
token_reason_str(enum token_reason reason)
{
	switch (reason) {
	case TOKEN_REASON_OK:
		return "ok";
	case TOKEN_REASON_MALFORMED:
		return "malformed";
	case TOKEN_REASON_UNKNOWN:
		return "unknown";
	case TOKEN_REASON_MISMATCH:
		return "mismatch";
	case TOKEN_REASON_KEY_RETIRED:
		return "key_retired";
	case TOKEN_REASON_WRONG_USER:
		return "wrong_user";
	case TOKEN_REASON_SCOPE:
		return "scope";
	case TOKEN_REASON_EXPIRED:
		return "expired";
	case TOKEN_REASON_REVOKED:
		return "revoked";
	case TOKEN_REASON_DISABLED:
		return "disabled";
	}
	return "invalid";
}

static unsigned char
token_ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* ASCII only, whatever the locale; the mailbox need not end in NUL. */
static bool
token_user_matches(const char *user, const char *mailbox, size_t max)
{
	size_t i;

	for (i = 0; i < max; i++) {
		if (token_ascii_lower((unsigned char)user[i]) !=
		    token_ascii_lower((unsigned char)mailbox[i]))
			return false;
		if (user[i] == '\0')
			return true;
	}
	return user[max] == '\0';
}

/* What the record says once the token is known to be the right one. */
static enum token_reason
token_check_record(const struct token_record *rec, const char *user,
    unsigned int scope, int64_t now)
{
	if (rec->revoked_at != 0)
		return TOKEN_REASON_REVOKED;
	if (rec->expires_at != 0 && now >= rec->expires_at)
		return TOKEN_REASON_EXPIRED;
	if (!rec->mailbox_enabled)
		return TOKEN_REASON_DISABLED;
	if (user != NULL &&
	    !token_user_matches(user, rec->mailbox, sizeof(rec->mailbox)))
		return TOKEN_REASON_WRONG_USER;
	if (scope != 0 && (rec->scopes & scope) == 0)
		return TOKEN_REASON_SCOPE;
	return TOKEN_REASON_OK;
}

/* Hash the token under the record's key and compare in constant time. */
static enum token_reason
token_check_hash(const struct token_keyring *kr, const struct token_record *rec,
    const void *token, size_t len)
{
	const struct token_key *k = token_keyring_find(kr, rec->key_id);
	unsigned char hash[TOKEN_HASH_LEN];
	bool same;

	if (k == NULL)
		return TOKEN_REASON_KEY_RETIRED;
	token_key_hash(k, token, len, hash);
	same = secret_mem_equal(hash, rec->hash, TOKEN_HASH_LEN);
	secret_wipe(hash, sizeof(hash));
	return same ? TOKEN_REASON_OK : TOKEN_REASON_MISMATCH;
}

enum mg_result
token_check_attempt(const struct token_keyring *kr,
    const struct token_record *rec, const struct token_attempt *a,
    enum token_reason *reason_r)
{
	char id[TOKEN_ID_LEN + 1];
	enum token_reason reason;

	MG_ASSERT(kr != NULL && rec != NULL && a != NULL && reason_r != NULL);
	/* Shape and the public id reveal nothing about the secret. */
	if (token_parse(a->token, a->len, id) < 0)
		reason = TOKEN_REASON_MALFORMED;
	else if (strncmp(id, rec->id, sizeof(rec->id)) != 0)
		reason = TOKEN_REASON_UNKNOWN;
	else
		reason = token_check_hash(kr, rec, a->token, a->len);

	/* Only the holder of the token learns anything past the hash. */
	if (reason == TOKEN_REASON_OK)
		reason = token_check_record(rec, a->user, a->scope, a->now);

	*reason_r = reason;
	return reason == TOKEN_REASON_OK ? MG_OK : MG_PERMFAIL;
}

static bool
token_name_equal(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++) {
		if (b[i] == '\0' ||
		    token_ascii_lower((unsigned char)a[i]) !=
			(unsigned char)b[i])
			return false;
	}
	return b[alen] == '\0';
}

/* A scope name of len bytes -> its bit; "all" gives every bit. */
static int
token_scope_lookup(const char *name, size_t len, unsigned int *scope_r)
{
	size_t i;

	if (token_name_equal(name, len, "all")) {
		*scope_r = TOKEN_SCOPE_ALL;
		return 0;
	}
	for (i = 0; i < MG_N_ELEMENTS(token_scope_names); i++) {
		if (token_name_equal(name, len, token_scope_names[i].name)) {
			*scope_r = token_scope_names[i].scope;
			return 0;
		}
	}
	return -1;
}

static bool
token_scope_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

/*
 * The error text names the bad word, so it lives in a per-thread buffer:
 * valid until this thread's next token_scopes_parse() call. Only
 * printable ASCII is shown and long words are cut.
 */
static const char *
token_scopes_error(const char *name, size_t len)
{
	static _Thread_local char buf[64];
	char shown[TOKEN_SCOPE_NAME_MAX + 4];
	size_t i, n = 0;

	for (i = 0; i < len && i < TOKEN_SCOPE_NAME_MAX; i++) {
		shown[n] = '?';
		if (name[i] > 0x20 && name[i] < 0x7f && name[i] != '"')
			shown[n] = name[i];
		n++;
	}
	if (len > TOKEN_SCOPE_NAME_MAX) {
		memcpy(shown + n, "...", 3);
		n += 3;
	}
	shown[n] = '\0';
	(void)snprintf(buf, sizeof(buf), "unknown scope \"%s\"", shown);
	return buf;
}

int
token_scopes_parse(const char *s, unsigned int *mask_r, const char **errstr_r)
{
	unsigned int mask = 0, scope;
	size_t len;

	if (s == NULL) {
		*errstr_r = "no scopes given";
		return -1;
	}
	for (;;) {
		while (token_scope_sep(*s))
			s++;
		if (*s == '\0')
			break;
		for (len = 0; s[len] != '\0' && !token_scope_sep(s[len]); len++)
			;
		if (token_scope_lookup(s, len, &scope) < 0) {
			*errstr_r = token_scopes_error(s, len);
			return -1;
		}
		mask |= scope;
		s += len;
	}
	if (mask == 0) {
		*errstr_r = "no scopes given";
		return -1;
	}
	*mask_r = mask;
	return 0;
}

/* Append s at *n like snprintf would: count all, write what fits. */
static void
token_scopes_append(char *buf, size_t size, size_t *n, const char *s)
{
	size_t len = strlen(s), room;

	if (*n < size) {
		room = size - 1 - *n;
		if (len < room)
			room = len;
		memcpy(buf + *n, s, room);
		buf[*n + room] = '\0';
	}
	*n += len;
}

size_t
token_scopes_format(unsigned int mask, char *buf, size_t size)
{
	size_t i, n = 0;

	if (size > 0)
		buf[0] = '\0';
	/* Bits we do not know are not scopes; never print them. */
	mask &= TOKEN_SCOPE_ALL;
	if (mask == TOKEN_SCOPE_ALL) {
		token_scopes_append(buf, size, &n, "all");
		return n;
	}
	for (i = 0; i < MG_N_ELEMENTS(token_scope_names); i++) {
		if ((mask & token_scope_names[i].scope) == 0)
			continue;
		if (n > 0)
			token_scopes_append(buf, size, &n, ",");
		token_scopes_append(buf, size, &n, token_scope_names[i].name);
	}
	return n;
}

int
token_scope_for_service(const char *service, unsigned int *scope_r)
{
	size_t len;

	if (service == NULL)
		return -1;
	len = strnlen(service, TOKEN_SCOPE_NAME_MAX + 1);
	if (token_name_equal(service, len, "managesieve")) {
		*scope_r = TOKEN_SCOPE_SIEVE;
		return 0;
	}
	/* "all" is a scope list word, not a service. */
	if (token_name_equal(service, len, "all") ||
	    token_scope_lookup(service, len, scope_r) < 0)
		return -1;
	return 0;
}
