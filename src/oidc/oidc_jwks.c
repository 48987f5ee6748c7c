/* SPDX-License-Identifier: MIT */
/*
 * oidc_jwks.c - the provider's signing keys (jwks_uri), parsed with cjose
 * and cached. A token naming an unknown kid causes one refetch, at most
 * every jwks_refetch_min seconds, so a key rotation needs no restart but
 * forged kids cannot make us hammer the provider.
 * Input: the JWKS document. Bad keys are skipped, encryption keys are
 * ignored; a set with keys but none usable is an error. Authentik without
 * a signing key serves "{}": an empty set, fine for HS256.
 */
#include "oidc_private.h"

#include <string.h>
#include <time.h>

#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

void
oidc_jwks_free(struct oidc_jwks *jwks)
{
	size_t i;

	if (jwks == NULL)
		return;
	for (i = 0; i < jwks->count; i++) {
		cjose_jwk_release(jwks->keys[i].jwk);
		free(jwks->keys[i].kid);
		free(jwks->keys[i].alg);
	}
	free(jwks->keys);
	free(jwks);
}

/* An optional short string member; false when present but bad. */
static bool
oidc_jwks_opt_string(
    const json_t *key, const char *name, size_t max, const char **out)
{
	const json_t *v = json_object_get(key, name);

	*out = NULL;
	if (v == NULL)
		return true;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > max)
		return false;
	*out = json_string_value(v);
	return true;
}

/*
 * The key material members, when present, are strict base64url strings.
 * cjose 0.6 aborts the process (assert) on some malformed ones, such as
 * a '=' inside "n", so they are checked before cjose sees them.
 */
static bool
oidc_jwks_material_ok(const json_t *key)
{
	static const char *const names[] = { "n", "e", "x", "y", "d", "p", "q",
		"dp", "dq", "qi", "k" };
	const json_t *v;
	unsigned char *raw;
	size_t i, n;

	for (i = 0; i < MG_N_ELEMENTS(names); i++) {
		v = json_object_get(key, names[i]);
		if (v == NULL)
			continue;
		if (!json_is_string(v) || json_string_length(v) == 0)
			return false;
		raw = oidc_jwt_b64url_decode(
		    json_string_value(v), json_string_length(v), &n);
		if (raw == NULL)
			return false;
		free(raw);
	}
	return true;
}

/* Import one key; false (and a reason) when it is unusable. */
static bool
oidc_jwks_import(json_t *key, struct oidc_jwks_key *out, const char **why)
{
	const char *use, *kid, *alg;
	cjose_err cerr;
	cjose_jwk_t *jwk;
	char *text;

	if (!json_is_object(key)) {
		*why = "not an object";
		return false;
	}
	if (!oidc_jwks_opt_string(key, "use", 16, &use) ||
	    !oidc_jwks_opt_string(key, "kid", OIDC_KID_MAX, &kid) ||
	    !oidc_jwks_opt_string(key, "alg", OIDC_ALG_MAX, &alg)) {
		*why = "bad use, kid or alg member";
		return false;
	}
	if (use != NULL && strcmp(use, "sig") != 0) {
		*why = "not a signing key";
		return false;
	}
	if (!oidc_jwks_material_ok(key)) {
		*why = "key material is not base64url";
		return false;
	}

	/* cjose_jwk_import_json keeps a reference on key; the text
	 * form keeps the cjose key independent of our document. */
	text = json_dumps(key, JSON_COMPACT);
	MG_ASSERT(text != NULL);
	jwk = cjose_jwk_import(text, strlen(text), &cerr);
	free(text);
	if (jwk == NULL) {
		*why = "cjose cannot import it";
		return false;
	}
	out->jwk = jwk;
	out->kty = cjose_jwk_get_kty(jwk, &cerr);
	if (out->kty == CJOSE_JWK_KTY_OCT) {
		/* A shared secret in a public document is no key of ours. */
		cjose_jwk_release(jwk);
		*why = "symmetric key in a public JWKS";
		return false;
	}
	out->kid = kid != NULL ? xstrdup(kid) : NULL;
	out->alg = alg != NULL ? xstrdup(alg) : NULL;
	return true;
}

static enum mg_result
oidc_jwks_keys(const json_t *keys, struct oidc_jwks *j, char **errstr_r)
{
	const char *why = NULL;
	size_t i, skipped = 0;
	json_t *key;

	j->keys = xcalloc(OIDC_JWKS_KEYS_MAX, sizeof(*j->keys));
	json_array_foreach(keys, i, key) {
		if (j->count == OIDC_JWKS_KEYS_MAX) {
			log_warn("oidc: JWKS holds more than %d keys; the "
				 "rest are ignored",
			    OIDC_JWKS_KEYS_MAX);
			break;
		}
		if (!oidc_jwks_import(key, &j->keys[j->count], &why)) {
			log_warn("oidc: JWKS key %zu skipped: %s", i, why);
			skipped++;
			continue;
		}
		if (j->keys[j->count].kty != CJOSE_JWK_KTY_OCT)
			j->has_asymmetric = true;
		j->count++;
	}
	if (j->count == 0 && skipped > 0) {
		*errstr_r = xasprintf("JWKS: none of its %zu keys is usable "
				      "(last: %s)",
		    skipped, why);
		return MG_PERMFAIL;
	}
	return MG_OK;
}

enum mg_result
oidc_jwks_parse(
    const char *body, size_t len, struct oidc_jwks **jwks_r, char **errstr_r)
{
	struct oidc_jwks *j;
	const json_t *keys;
	json_t *doc;

	doc = oidc_http_json(body, len, "JWKS", errstr_r);
	if (doc == NULL)
		return MG_PERMFAIL;
	j = xcalloc(1, sizeof(*j));
	keys = json_object_get(doc, "keys");
	if (keys != NULL && !json_is_array(keys)) {
		*errstr_r = xstrdup("JWKS: keys is not an array");
		goto fail;
	}
	if (keys != NULL && oidc_jwks_keys(keys, j, errstr_r) != MG_OK)
		goto fail;
	json_decref(doc);
	j->fetched = oidc_monotonic();
	*jwks_r = j;
	return MG_OK;
fail:
	json_decref(doc);
	oidc_jwks_free(j);
	return MG_PERMFAIL;
}

static enum mg_result
oidc_jwks_fetch(struct oidc *oidc, const struct oidc_disco *d,
    struct oidc_jwks **jwks_r, char **errstr_r)
{
	struct oidc_http_req req = { 0 };
	struct oidc_http_reply reply = { 0 };
	enum mg_result ret;

	req.url = d->jwks_uri;
	req.what = "JWKS";
	ret = oidc_http_fetch(oidc, &req, &reply, errstr_r);
	if (ret != MG_OK)
		goto out;
	if (reply.status != 200) {
		*errstr_r = xasprintf("JWKS: %s answered HTTP %ld",
		    log_safe(d->jwks_uri, 300), reply.status);
		ret = reply.status >= 500 ? MG_TEMPFAIL : MG_PERMFAIL;
		goto out;
	}
	ret = oidc_jwks_parse(reply.body, reply.len, jwks_r, errstr_r);
out:
	oidc_http_reply_clear(&reply);
	return ret;
}

/* The cached set when fresh (or any age), with a reference taken. */
static struct oidc_jwks *
oidc_jwks_cached(struct oidc *oidc, bool any_age, uint64_t newer_than)
{
	struct oidc_jwks *j = NULL;

	pthread_mutex_lock(&oidc->lock);
	if (oidc->jwks != NULL && oidc->jwks->generation > newer_than &&
	    (any_age ||
		oidc_monotonic() - oidc->jwks->fetched < oidc->jwks_ttl)) {
		j = oidc->jwks;
		j->refs++;
	}
	pthread_mutex_unlock(&oidc->lock);
	return j;
}

static void
oidc_jwks_publish(struct oidc *oidc, struct oidc_jwks *j)
{
	struct oidc_jwks *old;

	pthread_mutex_lock(&oidc->lock);
	old = oidc->jwks;
	j->generation = ++oidc->jwks_generation;
	j->refs = 2; /* the cache's and the caller's */
	oidc->jwks = j;
	if (old != NULL && --old->refs == 0)
		oidc_jwks_free(old);
	pthread_mutex_unlock(&oidc->lock);
}

/* Kept keys count as fresh a while more after a failed refresh. */
static void
oidc_jwks_retry_later(struct oidc *oidc, struct oidc_jwks *j)
{
	int64_t ttl = oidc->jwks_ttl;

	if (ttl > OIDC_RETRY_AFTER_FAILURE)
		ttl -= OIDC_RETRY_AFTER_FAILURE;
	else
		ttl = 0;
	pthread_mutex_lock(&oidc->lock);
	j->fetched = oidc_monotonic() - ttl;
	pthread_mutex_unlock(&oidc->lock);
}

/* Whether an unknown-kid refetch may happen now; records it if so. */
static bool
oidc_jwks_refetch_allowed(struct oidc *oidc)
{
	int64_t now = oidc_monotonic();
	bool ok;

	pthread_mutex_lock(&oidc->lock);
	ok = !oidc->jwks_refetched_once ||
	    now - oidc->jwks_last_refetch >= oidc->jwks_refetch_min;
	if (ok) {
		oidc->jwks_refetched_once = true;
		oidc->jwks_last_refetch = now;
	}
	pthread_mutex_unlock(&oidc->lock);
	return ok;
}

/*
 * fetch_lock without waiting for another thread's fetch, except when
 * nothing is cached yet (just after start, while the start-up check
 * fetches): then up to OIDC_FIRST_FETCH_WAIT seconds. 0 when taken.
 */
static int
oidc_jwks_fetch_lock(struct oidc *oidc, bool have_cached)
{
	struct timespec until;

	if (have_cached)
		return pthread_mutex_trylock(&oidc->fetch_lock);
	(void)clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += OIDC_FIRST_FETCH_WAIT;
	return pthread_mutex_timedlock(&oidc->fetch_lock, &until);
}

enum mg_result
oidc_jwks_get(struct oidc *oidc, const struct oidc_jwks *stale,
    struct oidc_jwks **jwks_r, char **errstr_r)
{
	uint64_t seen = stale != NULL ? stale->generation : 0;
	struct oidc_disco *d = NULL;
	struct oidc_jwks *j;
	enum mg_result ret;
	char *err = NULL;

	j = oidc_jwks_cached(oidc, false, seen);
	if (j != NULL) {
		*jwks_r = j;
		return MG_OK;
	}
	/* Before fetch_lock: discovery takes it itself when it fetches. */
	ret = oidc_discovery_get(oidc, &d, errstr_r);
	if (ret != MG_OK)
		return ret;

	/* As in discovery: never wait for another thread's fetch. */
	j = oidc_jwks_cached(oidc, true, 0);
	if (oidc_jwks_fetch_lock(oidc, j != NULL) != 0) {
		oidc_discovery_put(oidc, &d);
		if (j != NULL) {
			*jwks_r = j;
			return MG_OK;
		}
		*errstr_r = xstrdup("JWKS: the provider is being asked "
				    "already and has not answered yet");
		return MG_TEMPFAIL;
	}
	oidc_jwks_put(oidc, &j);
	j = oidc_jwks_cached(oidc, false, seen); /* another thread did it */
	if (j != NULL)
		goto ok;
	if (stale != NULL && !oidc_jwks_refetch_allowed(oidc)) {
		j = oidc_jwks_cached(oidc, true, 0);
		goto ok;
	}
	ret = oidc_jwks_fetch(oidc, d, &j, &err);
	if (ret == MG_OK) {
		oidc_jwks_publish(oidc, j);
		goto ok;
	}
	j = oidc_jwks_cached(oidc, true, 0);
	if (j != NULL) {
		log_warn("oidc: JWKS refresh failed, keeping the cached keys "
			 "for %d s more: %s",
		    OIDC_RETRY_AFTER_FAILURE, err);
		free(err);
		oidc_jwks_retry_later(oidc, j);
		goto ok;
	}
	pthread_mutex_unlock(&oidc->fetch_lock);
	oidc_discovery_put(oidc, &d);
	*errstr_r = err;
	return ret;
ok:
	pthread_mutex_unlock(&oidc->fetch_lock);
	oidc_discovery_put(oidc, &d);
	MG_ASSERT(j != NULL);
	*jwks_r = j;
	return MG_OK;
}

void
oidc_jwks_put(struct oidc *oidc, struct oidc_jwks **jwksp)
{
	struct oidc_jwks *j = *jwksp;

	if (j == NULL)
		return;
	pthread_mutex_lock(&oidc->lock);
	if (--j->refs != 0)
		j = NULL;
	pthread_mutex_unlock(&oidc->lock);
	oidc_jwks_free(j);
	*jwksp = NULL;
}
