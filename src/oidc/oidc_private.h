/* SPDX-License-Identifier: MIT */
/*
 * oidc_private.h - what the files of src/oidc share: the relying party's
 * state, the cached provider documents and the HTTP helper. Not for
 * programs; tests include it to reach the pieces one by one.
 */
#ifndef MAILGATE_OIDC_PRIVATE_H
#define MAILGATE_OIDC_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjose/cjose.h>
#include <jansson.h>

#include "mailgate/oidc.h"

#define OIDC_ALG_MAX             12
/* Longest kid we compare; providers use short ids or thumbprints. */
#define OIDC_KID_MAX             256
/* Keys we keep from one JWKS; the rest are ignored. */
#define OIDC_JWKS_KEYS_MAX       32
/* Provider error strings quoted in our messages. */
#define OIDC_PEER_TEXT_MAX       200
/*
 * Seconds a document or key set kept after a failed refresh still counts
 * as fresh, so that not every request asks a provider that is down.
 */
#define OIDC_RETRY_AFTER_FAILURE 30
/* Seconds to wait for another thread's fetch when nothing is cached. */
#define OIDC_FIRST_FETCH_WAIT    2

enum oidc_auth_method {
	OIDC_AUTH_BASIC,
	OIDC_AUTH_POST,
};

/* Discovery, as parsed. Immutable once published; refcounted. */
struct oidc_disco {
	unsigned int refs; /* under oidc->lock */
	char *authorization_endpoint;
	char *token_endpoint;
	char *jwks_uri;
	char *userinfo_endpoint;    /* NULL when absent */
	char *end_session_endpoint; /* NULL when absent */
	char **signing_algs;        /* NULL when the list is absent */
	size_t signing_algs_count;
	/* authorization_response_iss_parameter_supported is true (RFC 9207) */
	bool iss_parameter;
	int64_t fetched; /* monotonic seconds */
};

struct oidc_jwks_key {
	cjose_jwk_t *jwk;
	cjose_jwk_kty_t kty;
	char *kid; /* NULL when the key has none */
	char *alg; /* NULL when the key names none */
};

/* A JWKS, as parsed. Immutable once published; refcounted. */
struct oidc_jwks {
	unsigned int refs; /* under oidc->lock */
	struct oidc_jwks_key *keys;
	size_t count;
	bool has_asymmetric;
	uint64_t generation; /* counts fetches, to spot a newer set */
	int64_t fetched;     /* monotonic seconds */
};

struct oidc {
	char *issuer;
	char *client_id;
	struct secret *client_secret;
	char *redirect_uri;
	char *scopes;
	char *ca_file;
	enum oidc_auth_method auth_method;
	char **algs;
	size_t algs_count;
	int64_t clock_skew;
	int64_t http_timeout;
	int64_t discovery_ttl;
	int64_t jwks_ttl;
	int64_t jwks_refetch_min;
	cjose_jwk_t *hmac_key; /* the client secret as an oct key */

	/*
	 * lock guards the two pointers, their refcounts and the fetch
	 * bookkeeping; it is held for pointer swaps only. fetch_lock
	 * makes one thread at a time talk to the provider, so a stampede
	 * of requests after expiry causes one fetch, not hundreds.
	 */
	pthread_mutex_t lock;
	pthread_mutex_t fetch_lock;
	struct oidc_disco *disco;
	struct oidc_jwks *jwks;
	uint64_t jwks_generation;
	int64_t jwks_last_refetch; /* monotonic; unknown-kid refetches */
	bool jwks_refetched_once;
};

/* Monotonic seconds, for cache ages and rate limits. */
int64_t oidc_monotonic(void);

/* oidc_http.c: one request to the provider. */
struct oidc_http_req {
	const char *url;
	const char *body;            /* NULL = GET, else POST form body */
	const char *basic_user;      /* form-encoded id, or NULL */
	const char *basic_pass;      /* form-encoded secret */
	const struct secret *bearer; /* access token, or NULL */
	const char *what;            /* "discovery", "JWKS", ... for errors */
};

struct oidc_http_reply {
	long status;
	char *body; /* owned, NUL-terminated, at most IDP_RESPONSE_MAX */
	size_t len;
	char *content_type; /* owned, lower-cased media type, or NULL */
};

enum mg_result oidc_http_fetch(const struct oidc *oidc,
    const struct oidc_http_req *req, struct oidc_http_reply *reply,
    char **errstr_r);
/* Wipes the body (it may hold tokens), then frees. */
void oidc_http_reply_clear(struct oidc_http_reply *reply);
/* RFC 3986 unreserved kept, all else %XX. Owned result. */
char *oidc_http_encode(const char *s, size_t len);
/* JSON object from a document of len bytes, duplicates refused. */
json_t *oidc_http_json(
    const char *body, size_t len, const char *what, char **errstr_r);

/* oidc_discovery.c */
enum mg_result oidc_discovery_parse(const struct oidc *oidc, const char *body,
    size_t len, struct oidc_disco **disco_r, char **errstr_r);
/* A reference (release with oidc_discovery_put()), fetched if needed. */
enum mg_result oidc_discovery_get(
    struct oidc *oidc, struct oidc_disco **disco_r, char **errstr_r);
void oidc_discovery_put(struct oidc *oidc, struct oidc_disco **discop);
void oidc_discovery_free(struct oidc_disco *disco);
/* <issuer>.well-known/... or <issuer>/.well-known/...; owned. */
char *oidc_discovery_url(const char *issuer);

/* oidc_jwks.c */
enum mg_result oidc_jwks_parse(
    const char *body, size_t len, struct oidc_jwks **jwks_r, char **errstr_r);
/*
 * A reference to the JWKS (release with oidc_jwks_put()). With
 * newer_than set, the caller saw a set of that generation lack a kid:
 * refetch unless the rate limit forbids it (then return the cached one).
 */
enum mg_result oidc_jwks_get(struct oidc *oidc, const struct oidc_jwks *stale,
    struct oidc_jwks **jwks_r, char **errstr_r);
void oidc_jwks_put(struct oidc *oidc, struct oidc_jwks **jwksp);
void oidc_jwks_free(struct oidc_jwks *jwks);

/* oidc_jwt.c */
/* Whether [oidc] allowed_algs holds an HS* algorithm. */
bool oidc_jwt_hs_allowed(const struct oidc *oidc);
/* Strict base64url without padding; owned bytes (+ NUL) or NULL. */
unsigned char *oidc_jwt_b64url_decode(
    const char *in, size_t len, size_t *out_len_r);
/* oidc_claims.c: iss aud azp exp iat nbf nonce sub, at time now. */
enum mg_result oidc_claims_check(const struct oidc *oidc, const json_t *claims,
    const char *expected_nonce, int64_t now, char **errstr_r);
/* Number from a claim (integer or real), or -1 when not one. */
int oidc_claims_time(const json_t *claims, const char *name, int64_t *t_r);

/* oidc_userinfo.c: fetch userinfo, check its sub, fill missing claims. */
enum mg_result oidc_userinfo_merge(struct oidc *oidc,
    const struct oidc_disco *disco, const struct secret *access_token,
    json_t *claims, char **errstr_r);

/* oidc_login.c */
/* Whether amr is an array holding "mfa". */
bool oidc_login_amr_mfa(const json_t *claims);

#endif
