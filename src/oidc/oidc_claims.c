/* SPDX-License-Identifier: MIT */
/*
 * oidc_claims.c - the claim checks of a verified ID token (OpenID
 * Connect Core 3.1.3.7): iss exact, aud holds client_id, azp, exp, iat,
 * nbf with [oidc] clock_skew, nonce in constant time, sub.
 * Input: the token's payload, after its signature verified. Messages
 * quote public claims only (iss, aud), never the nonce.
 */
#include "oidc_private.h"

#include <math.h>
#include <string.h>

#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

int
oidc_claims_time(const json_t *claims, const char *name, int64_t *t_r)
{
	const json_t *v = json_object_get(claims, name);
	double d;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return -1;
		*t_r = json_integer_value(v);
		return 0;
	}
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v);
	/* Some providers send 1767225600.0; beyond year 9999 is junk. */
	if (!isfinite(d) || d < 0 || d > 253402300799.0)
		return -1;
	*t_r = (int64_t)d;
	return 0;
}

static enum mg_result
oidc_claims_iss(const struct oidc *oidc, const json_t *claims, char **errstr_r)
{
	const json_t *iss = json_object_get(claims, "iss");
	const char *s;
	size_t wl, gl;

	if (!json_is_string(iss)) {
		*errstr_r = xstrdup("ID token has no iss");
		return MG_PERMFAIL;
	}
	s = json_string_value(iss);
	if (strcmp(s, oidc->issuer) == 0)
		return MG_OK;
	wl = strlen(oidc->issuer);
	gl = strlen(s);
	if ((gl == wl + 1 || wl == gl + 1) &&
	    strncmp(s, oidc->issuer, gl < wl ? gl : wl) == 0)
		*errstr_r = xasprintf("ID token iss %s differs from the "
				      "configured issuer only by a trailing "
				      "slash",
		    log_safe(s, 300));
	else
		*errstr_r = xasprintf("ID token iss %s is not the configured "
				      "issuer",
		    log_safe(s, 300));
	return MG_PERMFAIL;
}

/* aud holds client_id; azp, when present or needed, is client_id. */
static enum mg_result
oidc_claims_aud(const struct oidc *oidc, const json_t *claims, char **errstr_r)
{
	const json_t *aud = json_object_get(claims, "aud");
	const json_t *azp = json_object_get(claims, "azp");
	const json_t *v;
	bool found = false;
	size_t i, n = 1;

	if (json_is_string(aud)) {
		found = strcmp(json_string_value(aud), oidc->client_id) == 0;
	} else if (json_is_array(aud) && json_array_size(aud) > 0) {
		n = json_array_size(aud);
		json_array_foreach(aud, i, v) {
			if (!json_is_string(v)) {
				*errstr_r = xstrdup("ID token aud holds a "
						    "non-string");
				return MG_PERMFAIL;
			}
			if (strcmp(json_string_value(v), oidc->client_id) == 0)
				found = true;
		}
	} else {
		*errstr_r = xstrdup("ID token has no aud");
		return MG_PERMFAIL;
	}
	if (!found) {
		*errstr_r = xstrdup("ID token aud does not hold our "
				    "client_id");
		return MG_PERMFAIL;
	}
	if (azp == NULL && n > 1) {
		*errstr_r = xstrdup("ID token has several audiences and no "
				    "azp");
		return MG_PERMFAIL;
	}
	if (azp != NULL &&
	    (!json_is_string(azp) ||
		strcmp(json_string_value(azp), oidc->client_id) != 0)) {
		*errstr_r = xstrdup("ID token azp is not our client_id");
		return MG_PERMFAIL;
	}
	return MG_OK;
}

static enum mg_result
oidc_claims_times(
    const struct oidc *oidc, const json_t *claims, int64_t now, char **errstr_r)
{
	int64_t exp, iat, nbf, skew = oidc->clock_skew;

	if (oidc_claims_time(claims, "exp", &exp) < 0) {
		*errstr_r = xstrdup("ID token has no valid exp");
		return MG_PERMFAIL;
	}
	if (oidc_claims_time(claims, "iat", &iat) < 0) {
		*errstr_r = xstrdup("ID token has no valid iat");
		return MG_PERMFAIL;
	}
	if (exp <= now - skew) {
		*errstr_r = xasprintf("ID token expired %lld s ago (clock "
				      "skew allowed: %lld s)",
		    (long long)(now - exp), (long long)skew);
		return MG_PERMFAIL;
	}
	if (iat > now + skew) {
		*errstr_r = xasprintf("ID token issued %lld s in the future: "
				      "check both clocks",
		    (long long)(iat - now));
		return MG_PERMFAIL;
	}
	if (json_object_get(claims, "nbf") != NULL &&
	    (oidc_claims_time(claims, "nbf", &nbf) < 0 || nbf > now + skew)) {
		*errstr_r = xstrdup("ID token is not valid yet (nbf)");
		return MG_PERMFAIL;
	}
	return MG_OK;
}

static enum mg_result
oidc_claims_nonce(const json_t *claims, const char *expected, char **errstr_r)
{
	const json_t *nonce = json_object_get(claims, "nonce");
	size_t len;

	if (expected == NULL) {
		if (nonce == NULL)
			return MG_OK;
		*errstr_r = xstrdup("token carries a nonce where none belongs");
		return MG_PERMFAIL;
	}
	if (!json_is_string(nonce)) {
		*errstr_r = xstrdup("ID token has no nonce");
		return MG_PERMFAIL;
	}
	len = strlen(expected);
	if (json_string_length(nonce) != len ||
	    !secret_mem_equal(json_string_value(nonce), expected, len)) {
		*errstr_r = xstrdup("ID token nonce does not match this "
				    "login (replayed or mixed-up login)");
		return MG_PERMFAIL;
	}
	return MG_OK;
}

static enum mg_result
oidc_claims_sub(const json_t *claims, char **errstr_r)
{
	const json_t *sub = json_object_get(claims, "sub");
	const unsigned char *p;
	size_t len;

	if (!json_is_string(sub) || json_string_length(sub) == 0) {
		*errstr_r = xstrdup("ID token has no sub");
		return MG_PERMFAIL;
	}
	len = json_string_length(sub);
	if (len > OIDC_SUB_MAX) {
		*errstr_r = xasprintf(
		    "ID token sub is longer than %d bytes", OIDC_SUB_MAX);
		return MG_PERMFAIL;
	}
	p = (const unsigned char *)json_string_value(sub);
	if (strlen((const char *)p) != len) {
		*errstr_r = xstrdup("ID token sub holds a NUL byte");
		return MG_PERMFAIL;
	}
	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			*errstr_r = xstrdup("ID token sub holds a control "
					    "byte");
			return MG_PERMFAIL;
		}
	}
	return MG_OK;
}

enum mg_result
oidc_claims_check(const struct oidc *oidc, const json_t *claims,
    const char *expected_nonce, int64_t now, char **errstr_r)
{
	enum mg_result ret;

	ret = oidc_claims_iss(oidc, claims, errstr_r);
	if (ret == MG_OK)
		ret = oidc_claims_aud(oidc, claims, errstr_r);
	if (ret == MG_OK)
		ret = oidc_claims_times(oidc, claims, now, errstr_r);
	if (ret == MG_OK)
		ret = oidc_claims_nonce(claims, expected_nonce, errstr_r);
	if (ret == MG_OK)
		ret = oidc_claims_sub(claims, errstr_r);
	return ret;
}
