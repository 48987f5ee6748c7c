/* SPDX-License-Identifier: MIT */
/*
 * oidc.h - the OpenID Connect relying party: discovery, JWKS, the
 * authorisation code flow with PKCE, ID token verification, userinfo and
 * the mapping of claims to a mailbox address.
 *
 * Input: documents and tokens from the identity provider, and the code a
 * browser brings back; all of it hostile until verified. Outbound HTTP
 * goes only through libcurl, with [oidc] http_timeout, IDP_RESPONSE_MAX,
 * TLS verification always on, http/https only.
 *
 * Never logged and never put into an error message: authorisation codes,
 * PKCE verifiers, access and ID tokens, the client secret.
 *
 * Errors: functions that ask the provider return MG_TEMPFAIL when no
 * answer could be had (network, timeout, 5xx, provider outage) and
 * MG_PERMFAIL when the answer is no (bad token, error reply, mismatch).
 * *errstr_r is then owned by the caller (free()); it is written for the
 * administrator, sanitised, and safe to log once.
 *
 * Threads: one struct oidc per process, shared by every libmicrohttpd
 * thread. All functions taking a struct oidc are thread-safe; the caches
 * inside are behind a mutex that is never held across network I/O. The
 * other objects (struct oidc_login, oidc_identity, oidc_mapping) belong to
 * one thread at a time, except that a struct oidc_mapping is read-only
 * after oidc_mapping_new() and may be shared.
 */
#ifndef MAILGATE_OIDC_H
#define MAILGATE_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mailgate/config.h"
#include "mailgate/limits.h"
#include "mailgate/result.h"
#include "mailgate/secret.h"

/* 32 random bytes, base64url without padding: 43 characters. */
#define OIDC_STATE_LEN        43
#define OIDC_NONCE_LEN        43
#define OIDC_VERIFIER_LEN     43
#define OIDC_CHALLENGE_LEN    43
/* OpenID Connect Core allows 255 ASCII characters for sub. */
#define OIDC_SUB_MAX          255
/* Cache lifetimes and the JWKS refetch rate limit (seconds). */
#define OIDC_DISCOVERY_TTL    3600
#define OIDC_JWKS_TTL         3600
#define OIDC_JWKS_REFETCH_MIN 5

struct oidc;

/*
 * What oidc_new() needs. Every pointer is borrowed and copied by
 * oidc_new(): the struct and what it points to may go away afterwards.
 */
struct oidc_params {
	const char *issuer; /* exactly as the provider writes it */
	const char *client_id;
	const struct secret *client_secret;
	const char *redirect_uri;        /* <public_url>/callback */
	const char *scopes;              /* NULL = "openid email profile" */
	const char *ca_file;             /* NULL = system CA store */
	const char *token_auth_method;   /* NULL = client_secret_basic */
	const char *const *allowed_algs; /* NULL = RS256 ES256 HS256 */
	unsigned int allowed_algs_count;
	int64_t clock_skew;    /* seconds, 0..300 */
	int64_t http_timeout;  /* seconds, > 0 */
	int64_t discovery_ttl; /* seconds; <= 0 = OIDC_DISCOVERY_TTL */
	int64_t jwks_ttl;      /* seconds; <= 0 = OIDC_JWKS_TTL */
	/* Minimum seconds between two JWKS fetches caused by an unknown
	 * kid; < 0 = OIDC_JWKS_REFETCH_MIN, 0 = no limit (tests only). */
	int64_t jwks_refetch_min;
};

/*
 * Fill p from cfg->oidc (borrowed pointers into cfg) and the given
 * redirect URI (borrowed), with defaults for the cache settings.
 */
void oidc_params_from_config(
    struct oidc_params *p, const struct config *cfg, const char *redirect_uri);

/*
 * Check the parameters (issuer is an http(s) URL, known token auth
 * method, known algorithms and never "none", clock_skew <= 300, ...) and
 * create the relying party. Does no network I/O. Logs a warning when the
 * issuer is plain http and not loopback. 0, or -1 and *errstr_r (owned).
 * Owned result: release with oidc_free().
 */
int oidc_new(
    const struct oidc_params *p, struct oidc **oidc_r, char **errstr_r);
void oidc_free(struct oidc **oidcp);

/*
 * Fetch discovery and the JWKS now unless cached and fresh: a start-up
 * check that gives the administrator early, precise errors (issuer
 * mismatch, missing endpoint, JWE keys, unusable JWKS). Every other
 * function fetches lazily, so calling this is optional.
 */
enum mg_result oidc_refresh(struct oidc *oidc, char **errstr_r);

/*
 * One login attempt. The caller stores state, nonce and code_verifier
 * (in the database, so that any instance can finish the flow), sends the
 * browser to url, and on the callback looks the attempt up by state.
 * state and nonce are public (they travel in URLs) but unguessable; the
 * verifier is a secret.
 */
struct oidc_login {
	char *url; /* owned: authorisation endpoint with all parameters */
	char state[OIDC_STATE_LEN + 1];
	char nonce[OIDC_NONCE_LEN + 1];
	struct secret *code_verifier; /* owned, OIDC_VERIFIER_LEN bytes */
};

/*
 * Create a login: random state, nonce and PKCE verifier (32 bytes each
 * from the CSPRNG), S256 challenge, and the authorisation URL with
 * response_type=code, client_id, redirect_uri, scope, state, nonce,
 * code_challenge and code_challenge_method=S256, percent-encoded. Needs
 * discovery (may fetch it: MG_TEMPFAIL when the provider is down).
 * Owned result: release with oidc_login_free().
 */
enum mg_result oidc_login_begin(
    struct oidc *oidc, struct oidc_login **login_r, char **errstr_r);
void oidc_login_free(struct oidc_login **loginp);

/*
 * The callback carried error=... instead of a code. Returns an owned
 * message for the log and the user ("access_denied: ..."), with the
 * provider's error and error_description (either may be NULL) sanitised.
 */
char *oidc_callback_error(const char *error, const char *error_description);

/*
 * RFC 9207: when the callback carries iss, it must equal the issuer.
 * iss NULL (Authentik sends none) is fine unless the provider's
 * discovery advertises authorization_response_iss_parameter_supported
 * (fetched if needed; when it cannot be had, the code exchange fails
 * later). MG_OK or MG_PERMFAIL.
 */
enum mg_result oidc_callback_check_iss(
    struct oidc *oidc, const char *iss, char **errstr_r);

/* What a finished login yields. */
struct oidc_identity {
	char *issuer;   /* owned: the configured issuer (= iss) */
	char *subject;  /* owned: sub, 1..OIDC_SUB_MAX, no control bytes */
	json_t *claims; /* owned reference: ID token claims, then userinfo
			 * claims for names the ID token lacks */
	struct secret *id_token; /* owned: for id_token_hint at logout */
	int64_t exp;             /* ID token expiry, unix seconds */
	int64_t auth_time;       /* 0 when absent */
	bool mfa;                /* amr holds "mfa" */
};
void oidc_identity_free(struct oidc_identity **idp);

struct oidc_mapping;

/* What the callback brings back, with what the login stored. Borrowed. */
struct oidc_callback {
	const struct secret *code;          /* from the callback URL */
	const struct secret *code_verifier; /* stored at oidc_login_begin() */
	const char *nonce;                  /* stored at oidc_login_begin() */
};

/*
 * Finish a login: trade code (with the stored verifier) at the token
 * endpoint using the configured client authentication, parse the reply
 * strictly, verify the ID token against the stored nonce, and, when
 * mapping is not NULL and a claim it needs is missing from the ID token,
 * fetch userinfo with the access token (its sub must equal the ID
 * token's; it only fills claims the ID token lacks). Does not map:
 * call oidc_map() on the result. Owned result: oidc_identity_free().
 */
enum mg_result oidc_login_finish(struct oidc *oidc,
    const struct oidc_mapping *mapping, const struct oidc_callback *cb,
    struct oidc_identity **id_r, char **errstr_r);

/*
 * Verify a compact JWS ID token of len bytes (<= JWT_MAX) at time now
 * (unix seconds): allowed alg matching the key type (never none; HS256
 * keyed with the client secret, refused when the JWKS holds asymmetric
 * keys or discovery does not list it), signature (JWKS key by kid,
 * refetched once, rate limited, when the kid is unknown), then iss, aud,
 * azp, exp, iat, nbf, nonce (expected_nonce NULL = the token must carry
 * none, as in a logout token) and sub. A JWE gets an error telling the
 * administrator to remove the provider's encryption key.
 * On MG_OK *claims_r is an owned reference (json_decref()).
 */
enum mg_result oidc_verify_id_token(struct oidc *oidc, const char *jwt,
    size_t len, const char *expected_nonce, int64_t now, json_t **claims_r,
    char **errstr_r);

/*
 * RP-initiated logout: the provider's end_session_endpoint with
 * id_token_hint (may be NULL), client_id and post_logout_redirect_uri
 * (may be NULL), from cached discovery only (no I/O). Owned, or NULL
 * when the provider has no end_session_endpoint or nothing is cached.
 */
char *oidc_end_session_url(struct oidc *oidc,
    const struct secret *id_token_hint, const char *post_logout_redirect_uri);

/*
 * PKCE S256 (RFC 7636): challenge = base64url(SHA-256(verifier)), no
 * padding. len is the verifier's length (43..128).
 */
void oidc_pkce_challenge(
    const void *verifier, size_t len, char out[OIDC_CHALLENGE_LEN + 1]);

/*
 * Claim mapping: [mapping] turned into a rule set, checked at start-up
 * (address_template placeholders well-formed, groups_claim set, ...).
 * Owned: oidc_mapping_free(). Read-only afterwards: share freely.
 */
int oidc_mapping_new(
    const struct config *cfg, struct oidc_mapping **map_r, char **errstr_r);
void oidc_mapping_free(struct oidc_mapping **mapp);

/* Whether claims lack something the mapping reads (ask userinfo). */
bool oidc_mapping_wants_userinfo(
    const struct oidc_mapping *map, const json_t *claims);

/* Why a mapping said no. The words are stable: logs and tests use them. */
enum oidc_map_reason {
	OIDC_MAP_OK = 0,
	OIDC_MAP_NO_ADDRESS_CLAIM, /* address claim or placeholder missing */
	OIDC_MAP_BAD_CLAIM_VALUE,  /* placeholder value not [A-Za-z0-9._+-] */
	OIDC_MAP_BAD_ADDRESS,      /* address_normalize() refused it */
	OIDC_MAP_DOMAIN_NOT_ALLOWED,
	OIDC_MAP_BAD_GROUPS_CLAIM, /* groups claim not string(s) */
	OIDC_MAP_MISSING_GROUP,
	OIDC_MAP_EMAIL_NOT_VERIFIED, /* email_verified is not JSON true */
};

/* "ok", "no_address_claim", "bad_claim_value", "bad_address",
 * "domain_not_allowed", "bad_groups_claim", "missing_group",
 * "email_not_verified". Static. */
const char *oidc_map_reason_str(enum oidc_map_reason reason);

struct oidc_mapped {
	char address[ADDRESS_MAX + 1]; /* canonical (address_normalize) */
	bool mfa;          /* amr is an array holding "mfa"; missing = no */
	bool mfa_required; /* [mapping] require_mfa, for the caller */
};

/*
 * Map claims to a mailbox address and check the [mapping] rules. Pure:
 * no I/O, no clock. On OIDC_MAP_OK *out_r is filled and *msg_r is NULL;
 * otherwise *msg_r is an owned, sanitised message for the log (it names
 * the configured rule: not for end users). require_mfa is not enforced
 * here: out_r->mfa reports it and the caller decides what it gates
 * (token creation).
 */
enum oidc_map_reason oidc_map(const struct oidc_mapping *map,
    const json_t *claims, struct oidc_mapped *out_r, char **msg_r);

#endif
