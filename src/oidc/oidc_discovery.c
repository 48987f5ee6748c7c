/* SPDX-License-Identifier: MIT */
/*
 * oidc_discovery.c - the provider's openid-configuration, fetched from
 * the issuer URL, checked and cached with a TTL.
 * Input: the discovery document (hostile until checked). Its issuer must
 * equal the configured one byte for byte; endpoint URLs are then used
 * verbatim, slashes and all (Authentik's need their trailing slash).
 * A failed refresh keeps the old document, so a provider outage does not
 * stop logins that can still finish.
 */
#include "oidc_private.h"

#include <string.h>
#include <time.h>

#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

#define OIDC_DISCOVERY_URL_MAX 2048

char *
oidc_discovery_url(const char *issuer)
{
	size_t n = strlen(issuer);

	if (n > 0 && issuer[n - 1] == '/')
		return xasprintf("%s.well-known/openid-configuration", issuer);
	return xasprintf("%s/.well-known/openid-configuration", issuer);
}

void
oidc_discovery_free(struct oidc_disco *disco)
{
	size_t i;

	if (disco == NULL)
		return;
	free(disco->authorization_endpoint);
	free(disco->token_endpoint);
	free(disco->jwks_uri);
	free(disco->userinfo_endpoint);
	free(disco->end_session_endpoint);
	for (i = 0; i < disco->signing_algs_count; i++)
		free(disco->signing_algs[i]);
	free(disco->signing_algs);
	free(disco);
}

/* Say what differs, and what to do when it is only the trailing slash. */
static char *
oidc_discovery_issuer_error(const char *want, const char *got)
{
	size_t wl = strlen(want), gl = strlen(got);

	if (gl == wl + 1 && got[gl - 1] == '/' && strncmp(want, got, wl) == 0)
		return xasprintf("discovery: configured issuer lacks the "
				 "trailing slash that the provider uses: set "
				 "[oidc] issuer to %s",
		    log_safe(got, 300));
	if (wl == gl + 1 && want[wl - 1] == '/' && strncmp(want, got, gl) == 0)
		return xasprintf("discovery: configured issuer has a trailing "
				 "slash that the provider does not use: set "
				 "[oidc] issuer to %s",
		    log_safe(got, 300));
	return xasprintf("discovery: provider says issuer %s, configured "
			 "issuer is %s (they must be equal byte for byte; "
			 "Authentik derives it from the Host it is asked "
			 "under: use the public hostname)",
	    log_safe(got, 300), log_safe(want, 300));
}

/* An absolute http(s) URL without blanks or control bytes. */
static bool
oidc_discovery_url_ok(const char *s)
{
	const unsigned char *p;

	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
		return false;
	if (strlen(s) > OIDC_DISCOVERY_URL_MAX)
		return false;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return false;
	return true;
}

/*
 * Copy endpoint name into *out; required ones must be there. With an
 * https issuer every endpoint must be https too: a plain http one would
 * send the code, the client secret or the keys in clear.
 */
static int
oidc_discovery_endpoint(const json_t *doc, const char *name, bool required,
    bool https_only, char **out, char **errstr_r)
{
	const json_t *v = json_object_get(doc, name);

	*out = NULL;
	if (v == NULL && !required)
		return 0;
	if (v == NULL) {
		*errstr_r = xasprintf("discovery: %s is missing", name);
		return -1;
	}
	if (!json_is_string(v) ||
	    !oidc_discovery_url_ok(json_string_value(v))) {
		*errstr_r =
		    xasprintf("discovery: %s is not an http(s) URL", name);
		return -1;
	}
	if (https_only && strncmp(json_string_value(v), "https://", 8) != 0) {
		*errstr_r = xasprintf("discovery: %s is %s, but the issuer "
				      "is https: the provider must announce "
				      "https endpoints (check its external "
				      "URL or proxy headers)",
		    name, log_safe(json_string_value(v), 300));
		return -1;
	}
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int
oidc_discovery_algs(const json_t *doc, struct oidc_disco *d, char **errstr_r)
{
	const json_t *list, *v;
	size_t i;

	list = json_object_get(doc, "id_token_signing_alg_values_supported");
	if (list == NULL)
		return 0;
	if (!json_is_array(list) || json_array_size(list) > 64) {
		*errstr_r = xstrdup("discovery: "
				    "id_token_signing_alg_values_supported is "
				    "not a list of names");
		return -1;
	}
	d->signing_algs = xcalloc(json_array_size(list) + 1, sizeof(char *));
	json_array_foreach(list, i, v) {
		if (!json_is_string(v) ||
		    json_string_length(v) > OIDC_ALG_MAX) {
			*errstr_r = xstrdup("discovery: "
					    "id_token_signing_alg_values_"
					    "supported holds a bad name");
			return -1;
		}
		d->signing_algs[d->signing_algs_count++] =
		    xstrdup(json_string_value(v));
	}
	return 0;
}

/* Only a warning: Authentik checks S256 whenever we send it. */
static void
oidc_discovery_check_pkce(const json_t *doc)
{
	const json_t *list, *v;
	size_t i;

	list = json_object_get(doc, "code_challenge_methods_supported");
	if (!json_is_array(list))
		return;
	json_array_foreach(list, i, v)
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), "S256") == 0)
			return;
	log_warn("oidc: discovery does not list PKCE S256 in "
		 "code_challenge_methods_supported; sending it anyway");
}

enum mg_result
oidc_discovery_parse(const struct oidc *oidc, const char *body, size_t len,
    struct oidc_disco **disco_r, char **errstr_r)
{
	struct oidc_disco *d = NULL;
	const json_t *iss;
	json_t *doc;
	bool https;

	doc = oidc_http_json(body, len, "discovery", errstr_r);
	if (doc == NULL)
		return MG_PERMFAIL;

	iss = json_object_get(doc, "issuer");
	if (!json_is_string(iss)) {
		*errstr_r = xstrdup("discovery: issuer is missing");
		goto fail;
	}
	if (strcmp(json_string_value(iss), oidc->issuer) != 0) {
		*errstr_r = oidc_discovery_issuer_error(
		    oidc->issuer, json_string_value(iss));
		goto fail;
	}

	https = strncmp(oidc->issuer, "https://", 8) == 0;
	d = xcalloc(1, sizeof(*d));
	if (oidc_discovery_endpoint(doc, "authorization_endpoint", true, https,
		&d->authorization_endpoint, errstr_r) < 0 ||
	    oidc_discovery_endpoint(doc, "token_endpoint", true, https,
		&d->token_endpoint, errstr_r) < 0 ||
	    oidc_discovery_endpoint(
		doc, "jwks_uri", true, https, &d->jwks_uri, errstr_r) < 0 ||
	    oidc_discovery_endpoint(doc, "userinfo_endpoint", false, https,
		&d->userinfo_endpoint, errstr_r) < 0 ||
	    oidc_discovery_endpoint(doc, "end_session_endpoint", false, https,
		&d->end_session_endpoint, errstr_r) < 0 ||
	    oidc_discovery_algs(doc, d, errstr_r) < 0)
		goto fail;
	oidc_discovery_check_pkce(doc);
	/* RFC 9207: then every callback must carry iss. */
	d->iss_parameter = json_is_true(json_object_get(
	    doc, "authorization_response_iss_parameter_supported"));

	json_decref(doc);
	d->fetched = oidc_monotonic();
	*disco_r = d;
	return MG_OK;
fail:
	oidc_discovery_free(d);
	json_decref(doc);
	return MG_PERMFAIL;
}

static enum mg_result
oidc_discovery_fetch(
    const struct oidc *oidc, struct oidc_disco **disco_r, char **errstr_r)
{
	struct oidc_http_req req = { 0 };
	struct oidc_http_reply reply;
	enum mg_result ret;
	char *url = oidc_discovery_url(oidc->issuer);

	req.url = url;
	req.what = "discovery";
	ret = oidc_http_fetch(oidc, &req, &reply, errstr_r);
	if (ret != MG_OK)
		goto out;
	if (reply.status != 200) {
		*errstr_r = xasprintf("discovery: %s answered HTTP %ld",
		    log_safe(url, 300), reply.status);
		ret = reply.status >= 500 ? MG_TEMPFAIL : MG_PERMFAIL;
		goto out;
	}
	ret = oidc_discovery_parse(
	    oidc, reply.body, reply.len, disco_r, errstr_r);
out:
	oidc_http_reply_clear(&reply);
	free(url);
	return ret;
}

/* A reference to the cached document if it is younger than the TTL. */
static struct oidc_disco *
oidc_discovery_cached(struct oidc *oidc, bool any_age)
{
	struct oidc_disco *d = NULL;

	pthread_mutex_lock(&oidc->lock);
	if (oidc->disco != NULL &&
	    (any_age ||
		oidc_monotonic() - oidc->disco->fetched <
		    oidc->discovery_ttl)) {
		d = oidc->disco;
		d->refs++;
	}
	pthread_mutex_unlock(&oidc->lock);
	return d;
}

/*
 * After a failed refresh the kept document counts as fresh for
 * OIDC_RETRY_AFTER_FAILURE seconds more, so not every request asks a
 * provider that is down.
 */
static void
oidc_discovery_retry_later(struct oidc *oidc, struct oidc_disco *d)
{
	int64_t ttl = oidc->discovery_ttl;

	if (ttl > OIDC_RETRY_AFTER_FAILURE)
		ttl -= OIDC_RETRY_AFTER_FAILURE;
	else
		ttl = 0;
	pthread_mutex_lock(&oidc->lock);
	d->fetched = oidc_monotonic() - ttl;
	pthread_mutex_unlock(&oidc->lock);
}

static void
oidc_discovery_publish(struct oidc *oidc, struct oidc_disco *d)
{
	struct oidc_disco *old;

	pthread_mutex_lock(&oidc->lock);
	old = oidc->disco;
	d->refs = 2; /* the cache's and the caller's */
	oidc->disco = d;
	if (old != NULL && --old->refs == 0)
		oidc_discovery_free(old);
	pthread_mutex_unlock(&oidc->lock);
}

/*
 * fetch_lock without waiting for another thread's fetch, except when
 * nothing is cached yet (just after start, while the start-up check
 * fetches): then up to OIDC_FIRST_FETCH_WAIT seconds. 0 when taken.
 */
static int
oidc_discovery_fetch_lock(struct oidc *oidc, bool have_cached)
{
	struct timespec until;

	if (have_cached)
		return pthread_mutex_trylock(&oidc->fetch_lock);
	(void)clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += OIDC_FIRST_FETCH_WAIT;
	return pthread_mutex_timedlock(&oidc->fetch_lock, &until);
}

enum mg_result
oidc_discovery_get(
    struct oidc *oidc, struct oidc_disco **disco_r, char **errstr_r)
{
	struct oidc_disco *d;
	enum mg_result ret;
	char *err = NULL;

	d = oidc_discovery_cached(oidc, false);
	if (d != NULL) {
		*disco_r = d;
		return MG_OK;
	}

	/*
	 * Never wait for another thread's fetch: a provider that does not
	 * answer would hold every web thread for http_timeout each. Use
	 * the old document while it fetches, or fail (with nothing cached,
	 * after OIDC_FIRST_FETCH_WAIT).
	 */
	d = oidc_discovery_cached(oidc, true);
	if (oidc_discovery_fetch_lock(oidc, d != NULL) != 0) {
		if (d != NULL) {
			*disco_r = d;
			return MG_OK;
		}
		*errstr_r = xstrdup("discovery: the provider is being asked "
				    "already and has not answered yet");
		return MG_TEMPFAIL;
	}
	oidc_discovery_put(oidc, &d);
	d = oidc_discovery_cached(oidc, false); /* another thread did it */
	if (d != NULL) {
		ret = MG_OK;
		goto out;
	}
	ret = oidc_discovery_fetch(oidc, &d, &err);
	if (ret == MG_OK) {
		oidc_discovery_publish(oidc, d);
		goto out;
	}
	d = oidc_discovery_cached(oidc, true);
	if (d != NULL) {
		log_warn("oidc: discovery refresh failed, keeping the cached "
			 "document for %d s more: %s",
		    OIDC_RETRY_AFTER_FAILURE, err);
		free(err);
		oidc_discovery_retry_later(oidc, d);
		ret = MG_OK;
		goto out;
	}
	*errstr_r = err;
out:
	pthread_mutex_unlock(&oidc->fetch_lock);
	if (ret == MG_OK)
		*disco_r = d;
	return ret;
}

void
oidc_discovery_put(struct oidc *oidc, struct oidc_disco **discop)
{
	struct oidc_disco *d = *discop;

	if (d == NULL)
		return;
	pthread_mutex_lock(&oidc->lock);
	if (--d->refs != 0)
		d = NULL;
	pthread_mutex_unlock(&oidc->lock);
	oidc_discovery_free(d);
	*discop = NULL;
}
