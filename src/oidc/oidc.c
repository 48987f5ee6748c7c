/* SPDX-License-Identifier: MIT */
/*
 * oidc.c - the relying party object: checked parameters, the caches'
 * locks, the start-up refresh, PKCE and logout URLs.
 * Input: [oidc] configuration only; checked here so that a typo stops
 * the daemon at start-up instead of failing the first login.
 */
#include "oidc_private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/sha.h>

#include "mailgate/log.h"
#include "mailgate/parse.h"
#include "mailgate/xmalloc.h"

static const char *const oidc_known_algs[] = {
	"RS256",
	"RS384",
	"RS512",
	"PS256",
	"PS384",
	"PS512",
	"ES256",
	"ES384",
	"ES512",
	"HS256",
	"HS384",
	"HS512",
};

static const char *const oidc_default_algs[] = { "RS256", "ES256", "HS256" };

static pthread_once_t oidc_curl_once = PTHREAD_ONCE_INIT;

static void
oidc_curl_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal(70, "oidc: libcurl does not initialise");
}

int64_t
oidc_monotonic(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

void
oidc_params_from_config(
    struct oidc_params *p, const struct config *cfg, const char *redirect_uri)
{
	memset(p, 0, sizeof(*p));
	p->issuer = cfg->oidc.issuer;
	p->client_id = cfg->oidc.client_id;
	p->client_secret = cfg->oidc.client_secret;
	p->redirect_uri = redirect_uri;
	p->scopes = cfg->oidc.scopes;
	p->ca_file = cfg->oidc.ca_file;
	p->token_auth_method = cfg->oidc.token_auth_method;
	if (cfg->oidc.allowed_algs.count > 0) {
		p->allowed_algs =
		    (const char *const *)cfg->oidc.allowed_algs.items;
		p->allowed_algs_count = cfg->oidc.allowed_algs.count;
	}
	p->clock_skew = cfg->oidc.clock_skew;
	p->http_timeout = cfg->oidc.http_timeout;
	p->jwks_refetch_min = -1;
}

/* http(s)://, no blanks or control bytes. */
static bool
oidc_url_ok(const char *s)
{
	const unsigned char *p;

	if (s == NULL ||
	    (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
		return false;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return false;
	return true;
}

/* Plain http is for tests on loopback; anywhere else it leaks codes. */
static void
oidc_warn_plain_http(const char *issuer)
{
	const char *host;

	if (strncmp(issuer, "http://", 7) != 0)
		return;
	host = issuer + 7;
	if (strncmp(host, "127.", 4) == 0 || strncmp(host, "[::1]", 5) == 0 ||
	    strncmp(host, "localhost:", 10) == 0 ||
	    strncmp(host, "localhost/", 10) == 0)
		return;
	log_warn("oidc: issuer %s is plain http and not loopback: codes and "
		 "tokens cross the network unencrypted",
	    log_safe(issuer, 200));
}

static int
oidc_set_algs(struct oidc *o, const struct oidc_params *p, char **errstr_r)
{
	const char *const *algs = p->allowed_algs;
	size_t n = p->allowed_algs_count, i, k;
	bool known;

	if (algs == NULL || n == 0) {
		algs = oidc_default_algs;
		n = MG_N_ELEMENTS(oidc_default_algs);
	}
	o->algs = xcalloc(n, sizeof(char *));
	for (i = 0; i < n; i++) {
		known = false;
		for (k = 0; k < MG_N_ELEMENTS(oidc_known_algs); k++)
			if (strcmp(algs[i], oidc_known_algs[k]) == 0)
				known = true;
		if (!known) {
			*errstr_r = xasprintf("[oidc] allowed_algs: %s is %s",
			    log_safe(algs[i], 20),
			    strcmp(algs[i], "none") == 0 ?
				"never allowed (unsigned tokens)" :
				"not a known signature algorithm");
			return -1;
		}
		o->algs[o->algs_count++] = xstrdup(algs[i]);
	}
	return 0;
}

/*
 * A CA file that cannot be read would fail every request to the provider
 * with a vague TLS error: say so at start-up instead.
 */
static int
oidc_check_ca_file(const char *path, char **errstr_r)
{
	FILE *f;

	if (path == NULL || path[0] == '\0')
		return 0;
	f = fopen(path, "r");
	if (f == NULL) {
		*errstr_r = xasprintf("[oidc] ca_file %s: %s",
		    log_safe(path, 200), strerror(errno));
		return -1;
	}
	(void)fclose(f);
	return 0;
}

static int
oidc_check_params(const struct oidc_params *p, char **errstr_r)
{
	if (!oidc_url_ok(p->issuer)) {
		*errstr_r = xstrdup("[oidc] issuer: not an http(s) URL");
		return -1;
	}
	if (p->client_id == NULL || p->client_id[0] == '\0') {
		*errstr_r = xstrdup("[oidc] client_id: missing");
		return -1;
	}
	if (p->client_secret == NULL || p->client_secret->len == 0) {
		*errstr_r = xstrdup("[oidc] client_secret: missing");
		return -1;
	}
	if (!oidc_url_ok(p->redirect_uri)) {
		*errstr_r = xstrdup("redirect URI: not an http(s) URL "
				    "(check [http] public_url)");
		return -1;
	}
	if (p->token_auth_method != NULL &&
	    strcmp(p->token_auth_method, "client_secret_basic") != 0 &&
	    strcmp(p->token_auth_method, "client_secret_post") != 0) {
		*errstr_r = xstrdup("[oidc] token_auth_method: "
				    "client_secret_basic or "
				    "client_secret_post");
		return -1;
	}
	if (p->clock_skew < 0 || p->clock_skew > 300) {
		*errstr_r = xstrdup("[oidc] clock_skew: 0 to 300 seconds");
		return -1;
	}
	return oidc_check_ca_file(p->ca_file, errstr_r);
}

int
oidc_new(const struct oidc_params *p, struct oidc **oidc_r, char **errstr_r)
{
	struct oidc *o;
	cjose_err cerr;

	if (oidc_check_params(p, errstr_r) < 0)
		return -1;
	(void)pthread_once(&oidc_curl_once, oidc_curl_init);

	o = xcalloc(1, sizeof(*o));
	pthread_mutex_init(&o->lock, NULL);
	pthread_mutex_init(&o->fetch_lock, NULL);
	if (oidc_set_algs(o, p, errstr_r) < 0) {
		oidc_free(&o);
		return -1;
	}
	o->issuer = xstrdup(p->issuer);
	o->client_id = xstrdup(p->client_id);
	o->client_secret =
	    secret_from(p->client_secret->buf, p->client_secret->len);
	o->redirect_uri = xstrdup(p->redirect_uri);
	o->scopes =
	    xstrdup(p->scopes != NULL ? p->scopes : "openid email profile");
	o->ca_file = p->ca_file != NULL ? xstrdup(p->ca_file) : NULL;
	o->auth_method = p->token_auth_method != NULL &&
		strcmp(p->token_auth_method, "client_secret_post") == 0 ?
	    OIDC_AUTH_POST :
	    OIDC_AUTH_BASIC;
	o->clock_skew = p->clock_skew;
	o->http_timeout = p->http_timeout > 0 ? p->http_timeout : 10;
	o->discovery_ttl =
	    p->discovery_ttl > 0 ? p->discovery_ttl : OIDC_DISCOVERY_TTL;
	o->jwks_ttl = p->jwks_ttl > 0 ? p->jwks_ttl : OIDC_JWKS_TTL;
	o->jwks_refetch_min = p->jwks_refetch_min >= 0 ? p->jwks_refetch_min :
							 OIDC_JWKS_REFETCH_MIN;
	o->hmac_key = cjose_jwk_create_oct_spec(
	    o->client_secret->buf, o->client_secret->len, &cerr);
	MG_ASSERT(o->hmac_key != NULL);
	oidc_warn_plain_http(o->issuer);
	*oidc_r = o;
	return 0;
}

void
oidc_free(struct oidc **oidcp)
{
	struct oidc *o;
	size_t i;

	if (oidcp == NULL || *oidcp == NULL)
		return;
	o = *oidcp;
	free(o->issuer);
	free(o->client_id);
	secret_free(&o->client_secret);
	free(o->redirect_uri);
	free(o->scopes);
	free(o->ca_file);
	for (i = 0; i < o->algs_count; i++)
		free(o->algs[i]);
	free(o->algs);
	if (o->hmac_key != NULL)
		cjose_jwk_release(o->hmac_key);
	oidc_discovery_free(o->disco);
	oidc_jwks_free(o->jwks);
	pthread_mutex_destroy(&o->lock);
	pthread_mutex_destroy(&o->fetch_lock);
	free(o);
	*oidcp = NULL;
}

enum mg_result
oidc_refresh(struct oidc *oidc, char **errstr_r)
{
	struct oidc_disco *d = NULL;
	struct oidc_jwks *j = NULL;
	enum mg_result ret;

	ret = oidc_discovery_get(oidc, &d, errstr_r);
	if (ret != MG_OK)
		return ret;
	ret = oidc_jwks_get(oidc, NULL, &j, errstr_r);
	if (ret == MG_OK && j->count == 0 && !oidc_jwt_hs_allowed(oidc))
		log_warn("oidc: the provider's JWKS holds no keys and no HS* "
			 "algorithm is allowed: no ID token can verify");
	oidc_jwks_put(oidc, &j);
	oidc_discovery_put(oidc, &d);
	return ret;
}

void
oidc_pkce_challenge(
    const void *verifier, size_t len, char out[OIDC_CHALLENGE_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	(void)SHA256(verifier, len, md);
	(void)base64url_encode(md, sizeof(md), out);
}

char *
oidc_end_session_url(struct oidc *oidc, const struct secret *id_token_hint,
    const char *post_logout_redirect_uri)
{
	const char *ep, *sep;
	char *url = NULL, *cid, *hint = NULL, *post = NULL;

	pthread_mutex_lock(&oidc->lock);
	ep = oidc->disco != NULL ? oidc->disco->end_session_endpoint : NULL;
	if (ep == NULL)
		goto out;
	sep = strchr(ep, '?') != NULL ? "&" : "?";
	cid = oidc_http_encode(oidc->client_id, strlen(oidc->client_id));
	if (id_token_hint != NULL)
		hint = oidc_http_encode(
		    (const char *)id_token_hint->buf, id_token_hint->len);
	if (post_logout_redirect_uri != NULL)
		post = oidc_http_encode(
		    post_logout_redirect_uri, strlen(post_logout_redirect_uri));
	url = xasprintf("%s%sclient_id=%s%s%s%s%s", ep, sep, cid,
	    hint != NULL ? "&id_token_hint=" : "", hint != NULL ? hint : "",
	    post != NULL ? "&post_logout_redirect_uri=" : "",
	    post != NULL ? post : "");
	free(cid);
	free(hint);
	free(post);
out:
	pthread_mutex_unlock(&oidc->lock);
	return url;
}
