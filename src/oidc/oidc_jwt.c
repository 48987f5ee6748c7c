/* SPDX-License-Identifier: MIT */
/*
 * oidc_jwt.c - ID token verification: compact JWS only, the algorithm
 * from the [oidc] allow-list and matching the key's type (never "none"),
 * the signature by cjose, then the claims.
 * Input: the token from the token endpoint; hostile until verified, and
 * secret: it is never logged or quoted in an error.
 */
#include "oidc_private.h"

#include <math.h>
#include <string.h>

#include "mailgate/log.h"
#include "mailgate/parse.h"
#include "mailgate/xmalloc.h"

unsigned char *
oidc_jwt_b64url_decode(const char *in, size_t len, size_t *out_len_r)
{
	unsigned char *out = xmalloc(len * 3 / 4 + 1);

	if (base64url_decode(in, len, out, len * 3 / 4, out_len_r) < 0) {
		free(out);
		return NULL;
	}
	out[*out_len_r] = '\0';
	return out;
}

/* Split into three non-empty base64url segments, naming JWEs. */
static enum mg_result
oidc_jwt_shape(const char *jwt, size_t len, size_t dots[2], char **errstr_r)
{
	size_t i, ndots = 0;

	if (len == 0 || len > JWT_MAX) {
		*errstr_r = xasprintf("ID token: %s (limit %d bytes)",
		    len == 0 ? "empty" : "too large", JWT_MAX);
		return MG_PERMFAIL;
	}
	for (i = 0; i < len; i++) {
		if (jwt[i] == '.') {
			if (ndots < 2)
				dots[ndots] = i;
			ndots++;
		} else if (!base64url_char((unsigned char)jwt[i])) {
			*errstr_r = xstrdup("ID token: a byte outside "
					    "base64url");
			return MG_PERMFAIL;
		}
	}
	if (ndots == 4) {
		*errstr_r = xstrdup("ID token is encrypted (JWE): mailgate "
				    "accepts signed tokens only; remove the "
				    "encryption key from the provider "
				    "(Authentik: the provider's \"Encryption "
				    "Key\" field)");
		return MG_PERMFAIL;
	}
	if (ndots != 2 || dots[0] == 0 || dots[1] == dots[0] + 1 ||
	    dots[1] == len - 1) {
		*errstr_r = xstrdup("ID token: not a compact JWS "
				    "(header.payload.signature)");
		return MG_PERMFAIL;
	}
	return MG_OK;
}

/* The JOSE header as a JSON object, or NULL with *errstr_r. */
static json_t *
oidc_jwt_header(const char *seg, size_t len, char **errstr_r)
{
	unsigned char *raw;
	json_t *hdr;
	size_t n;

	raw = oidc_jwt_b64url_decode(seg, len, &n);
	if (raw == NULL) {
		*errstr_r = xstrdup("ID token: header is not base64url");
		return NULL;
	}
	hdr = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (!json_is_object(hdr)) {
		json_decref(hdr);
		*errstr_r = xstrdup("ID token: header is not a JSON object");
		return NULL;
	}
	return hdr;
}

static bool
oidc_jwt_alg_allowed(const struct oidc *oidc, const char *alg)
{
	size_t i;

	for (i = 0; i < oidc->algs_count; i++)
		if (strcmp(oidc->algs[i], alg) == 0)
			return true;
	return false;
}

bool
oidc_jwt_hs_allowed(const struct oidc *oidc)
{
	size_t i;

	for (i = 0; i < oidc->algs_count; i++)
		if (oidc->algs[i][0] == 'H')
			return true;
	return false;
}

/* The key type an algorithm needs; CJOSE_JWK_KTY_OCT for HS*. */
static int
oidc_jwt_alg_kty(const char *alg, cjose_jwk_kty_t *kty_r)
{
	if (alg[0] == 'R' || alg[0] == 'P')
		*kty_r = CJOSE_JWK_KTY_RSA;
	else if (alg[0] == 'E')
		*kty_r = CJOSE_JWK_KTY_EC;
	else if (alg[0] == 'H')
		*kty_r = CJOSE_JWK_KTY_OCT;
	else
		return -1;
	return 0;
}

/* alg from the header, checked against the allow-list. */
static enum mg_result
oidc_jwt_alg(const struct oidc *oidc, const json_t *hdr, const char **alg_r,
    char **errstr_r)
{
	const json_t *alg = json_object_get(hdr, "alg");

	if (json_object_get(hdr, "enc") != NULL) {
		*errstr_r = xstrdup("ID token header names an encryption "
				    "(enc): remove the provider's encryption "
				    "key");
		return MG_PERMFAIL;
	}
	if (json_object_get(hdr, "crit") != NULL) {
		*errstr_r = xstrdup("ID token header has crit extensions "
				    "mailgate does not know");
		return MG_PERMFAIL;
	}
	if (!json_is_string(alg)) {
		*errstr_r = xstrdup("ID token header has no alg");
		return MG_PERMFAIL;
	}
	if (strcmp(json_string_value(alg), "none") == 0) {
		*errstr_r = xstrdup("ID token is unsigned (alg none): refused");
		return MG_PERMFAIL;
	}
	if (!oidc_jwt_alg_allowed(oidc, json_string_value(alg))) {
		*errstr_r = xasprintf("ID token alg %s is not in [oidc] "
				      "allowed_algs",
		    log_safe(json_string_value(alg), OIDC_ALG_MAX));
		return MG_PERMFAIL;
	}
	*alg_r = json_string_value(alg);
	return MG_OK;
}

/* What the JOSE header asks for; strings borrowed from the header. */
struct oidc_jwt_hdr {
	const char *alg;
	const char *kid; /* NULL when there is none */
	cjose_jwk_kty_t kty;
};

/* HS*: keyed with the client secret, when nothing says otherwise. */
static enum mg_result
oidc_jwt_hmac_key(struct oidc *oidc, const char *alg, const cjose_jwk_t **key_r,
    char **errstr_r)
{
	struct oidc_disco *d = NULL;
	struct oidc_jwks *j = NULL;
	enum mg_result ret;
	bool listed = false;
	size_t i;

	ret = oidc_discovery_get(oidc, &d, errstr_r);
	if (ret != MG_OK)
		return ret;
	for (i = 0; i < d->signing_algs_count; i++)
		if (strcmp(d->signing_algs[i], alg) == 0)
			listed = true;
	if (d->signing_algs != NULL && !listed) {
		*errstr_r = xasprintf("ID token alg %s is not among the "
				      "provider's "
				      "id_token_signing_alg_values_supported",
		    alg);
		ret = MG_PERMFAIL;
		goto out;
	}
	ret = oidc_jwks_get(oidc, NULL, &j, errstr_r);
	if (ret != MG_OK)
		goto out;
	if (j->has_asymmetric) {
		*errstr_r = xasprintf("%s presented when an asymmetric key is "
				      "configured: refused",
		    alg);
		ret = MG_PERMFAIL;
		goto out;
	}
	*key_r = oidc->hmac_key;
out:
	oidc_jwks_put(oidc, &j);
	oidc_discovery_put(oidc, &d);
	return ret;
}

/* Key by kid, or the only key of the type when there is no kid. */
static const struct oidc_jwks_key *
oidc_jwt_find_key(const struct oidc_jwks *j, const char *kid,
    cjose_jwk_kty_t kty, size_t *typed_r)
{
	const struct oidc_jwks_key *only = NULL;
	size_t i;

	*typed_r = 0;
	for (i = 0; i < j->count; i++) {
		const struct oidc_jwks_key *k = &j->keys[i];

		if (kid != NULL && k->kid != NULL && strcmp(k->kid, kid) == 0)
			return k;
		if (k->kty == kty) {
			(*typed_r)++;
			only = k;
		}
	}
	return kid == NULL && *typed_r == 1 ? only : NULL;
}

/* Check the chosen key fits alg: type, its own alg, curve/size. */
static enum mg_result
oidc_jwt_key_fits(const struct oidc_jwks_key *k, const char *alg,
    cjose_jwk_kty_t kty, char **errstr_r)
{
	cjose_err cerr;
	size_t bits = cjose_jwk_get_keysize(k->jwk, &cerr);
	size_t want = 0;

	if (k->kty != kty || (k->alg != NULL && strcmp(k->alg, alg) != 0)) {
		*errstr_r = xasprintf("ID token alg %s does not match its "
				      "key (kid %s)",
		    alg, log_safe(k->kid, 64));
		return MG_PERMFAIL;
	}
	if (kty == CJOSE_JWK_KTY_EC)
		want = strcmp(alg, "ES256") == 0 ? 256 :
		    strcmp(alg, "ES384") == 0    ? 384 :
						   521;
	if ((kty == CJOSE_JWK_KTY_EC && bits != want) ||
	    (kty == CJOSE_JWK_KTY_RSA && bits < 2048)) {
		*errstr_r = xasprintf("ID token key (kid %s) has the wrong "
				      "size or curve for %s",
		    log_safe(k->kid, 64), alg);
		return MG_PERMFAIL;
	}
	return MG_OK;
}

/* Asymmetric: select from the JWKS, refetching once for a new kid. */
static enum mg_result
oidc_jwt_jwks_key(struct oidc *oidc, const struct oidc_jwt_hdr *h,
    struct oidc_jwks **jwks_r, const cjose_jwk_t **key_r, char **errstr_r)
{
	const char *alg = h->alg, *kid = h->kid;
	cjose_jwk_kty_t kty = h->kty;
	const struct oidc_jwks_key *k;
	struct oidc_jwks *j = NULL, *fresh = NULL;
	enum mg_result ret;
	size_t typed;

	ret = oidc_jwks_get(oidc, NULL, &j, errstr_r);
	if (ret != MG_OK)
		return ret;
	k = oidc_jwt_find_key(j, kid, kty, &typed);
	if (k == NULL && kid != NULL) {
		ret = oidc_jwks_get(oidc, j, &fresh, errstr_r);
		oidc_jwks_put(oidc, &j);
		if (ret != MG_OK)
			return ret;
		j = fresh;
		k = oidc_jwt_find_key(j, kid, kty, &typed);
	}
	if (k == NULL) {
		if (kid != NULL)
			*errstr_r = xasprintf("ID token names kid %s, which "
					      "the provider's JWKS lacks",
			    log_safe(kid, 64));
		else
			*errstr_r = xasprintf("ID token names no kid and "
					      "the JWKS holds %zu keys for %s",
			    typed, alg);
		oidc_jwks_put(oidc, &j);
		return MG_PERMFAIL;
	}
	ret = oidc_jwt_key_fits(k, alg, kty, errstr_r);
	if (ret != MG_OK) {
		oidc_jwks_put(oidc, &j);
		return ret;
	}
	*jwks_r = j;
	*key_r = k->jwk;
	return MG_OK;
}

/* Verify the signature; *claims_r is the payload object. */
static enum mg_result
oidc_jwt_signature(const char *jwt, size_t len, const cjose_jwk_t *key,
    json_t **claims_r, char **errstr_r)
{
	enum mg_result ret = MG_PERMFAIL;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	cjose_err cerr;
	cjose_jws_t *jws;
	json_t *claims;

	jws = cjose_jws_import(jwt, len, &cerr);
	if (jws == NULL) {
		*errstr_r = xstrdup("ID token does not parse as a JWS");
		return MG_PERMFAIL;
	}
	if (!cjose_jws_verify(jws, key, &cerr)) {
		*errstr_r = xstrdup("ID token signature does not verify");
		goto out;
	}
	if (!cjose_jws_get_plaintext(jws, &plain, &plain_len, &cerr)) {
		*errstr_r = xstrdup("ID token has no payload");
		goto out;
	}
	claims = json_loadb(
	    (const char *)plain, plain_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(claims)) {
		json_decref(claims);
		*errstr_r = xstrdup("ID token payload is not a JSON object");
		goto out;
	}
	*claims_r = claims;
	ret = MG_OK;
out:
	cjose_jws_release(jws);
	return ret;
}

/* alg (allowed), its key type, and kid (a string when present). */
static enum mg_result
oidc_jwt_read_header(const struct oidc *oidc, const json_t *hdr,
    struct oidc_jwt_hdr *h_r, char **errstr_r)
{
	const json_t *kidv = json_object_get(hdr, "kid");
	enum mg_result ret;

	ret = oidc_jwt_alg(oidc, hdr, &h_r->alg, errstr_r);
	if (ret != MG_OK)
		return ret;
	if (oidc_jwt_alg_kty(h_r->alg, &h_r->kty) < 0) {
		*errstr_r = xasprintf("ID token alg %s is unknown", h_r->alg);
		return MG_PERMFAIL;
	}
	h_r->kid = NULL;
	if (json_is_string(kidv)) {
		h_r->kid = json_string_value(kidv);
	} else if (kidv != NULL) {
		*errstr_r = xstrdup("ID token header kid is not a string");
		return MG_PERMFAIL;
	}
	return MG_OK;
}

/* Seven parameters: the public entry point (tests, the fuzz target). */
enum mg_result
/* NOLINTNEXTLINE(readability-function-size) */
oidc_verify_id_token(struct oidc *oidc, const char *jwt, size_t len,
    const char *expected_nonce, int64_t now, json_t **claims_r, char **errstr_r)
{
	const cjose_jwk_t *key = NULL;
	struct oidc_jwks *jwks = NULL;
	struct oidc_jwt_hdr h;
	json_t *hdr, *claims = NULL;
	enum mg_result ret;
	size_t dots[2];

	ret = oidc_jwt_shape(jwt, len, dots, errstr_r);
	if (ret != MG_OK)
		return ret;
	hdr = oidc_jwt_header(jwt, dots[0], errstr_r);
	if (hdr == NULL)
		return MG_PERMFAIL;
	ret = oidc_jwt_read_header(oidc, hdr, &h, errstr_r);
	if (ret != MG_OK)
		goto out;

	if (h.kty == CJOSE_JWK_KTY_OCT)
		ret = oidc_jwt_hmac_key(oidc, h.alg, &key, errstr_r);
	else
		ret = oidc_jwt_jwks_key(oidc, &h, &jwks, &key, errstr_r);
	if (ret != MG_OK)
		goto out;
	ret = oidc_jwt_signature(jwt, len, key, &claims, errstr_r);
	if (ret != MG_OK)
		goto out;
	ret = oidc_claims_check(oidc, claims, expected_nonce, now, errstr_r);
	if (ret != MG_OK)
		goto out;
	*claims_r = claims;
	claims = NULL;
out:
	json_decref(claims);
	oidc_jwks_put(oidc, &jwks);
	json_decref(hdr);
	return ret;
}
