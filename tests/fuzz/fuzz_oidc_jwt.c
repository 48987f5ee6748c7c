/* SPDX-License-Identifier: MIT */
/*
 * fuzz_oidc_jwt.c - libFuzzer target for what the provider hands us: the
 * first input byte picks the parser (ID token verification against a
 * cached RSA+EC JWKS, discovery document, JWKS document, base64url), the
 * rest is the hostile input. No network: discovery and keys are injected
 * into the cache, so a fetch is never needed.
 *
 *   clang -fsanitize=fuzzer,address -Iinclude -Isrc \
 *       tests/fuzz/fuzz_oidc_jwt.c src/oidc/\*.c src/common/\*.c \
 *       -lcurl -lcjose -ljansson -lcrypto -lpthread
 *
 * smoke runs: 300000
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oidc/oidc_private.h"
#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

#define FUZZ_ISSUER "http://127.0.0.1:1/application/o/mail/"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct oidc *fuzz_rp;

static void
fuzz_keys(json_t *keys, cjose_jwk_t *k, const char *kid)
{
	cjose_err err;
	char *s;

	cjose_jwk_set_kid(k, kid, strlen(kid), &err);
	s = cjose_jwk_to_json(k, false, &err);
	json_array_append_new(keys, json_loads(s, 0, NULL));
	free(s);
	cjose_jwk_release(k);
}

/* A relying party whose caches already hold discovery and a JWKS. */
static struct oidc *
fuzz_setup(void)
{
	static const uint8_t e[] = { 1, 0, 1 };
	struct secret *sec = secret_from("fuzz-secret", 11);
	struct oidc_disco *d = NULL;
	struct oidc_jwks *j = NULL;
	struct oidc_params p;
	struct oidc *o = NULL;
	json_t *doc, *keys = json_array();
	cjose_err cerr;
	char *err = NULL, *s;

	log_init("fuzz", LOG_LEVEL_ERR, false);
	memset(&p, 0, sizeof(p));
	p.issuer = FUZZ_ISSUER;
	p.client_id = "mail";
	p.client_secret = sec;
	p.redirect_uri = "http://127.0.0.1:2/callback";
	p.clock_skew = 60;
	p.http_timeout = 1;
	p.discovery_ttl = 1000000000;
	p.jwks_ttl = 1000000000;
	p.jwks_refetch_min = 1000000000;
	if (oidc_new(&p, &o, &err) != 0)
		abort();
	s = xstrdup("{\"issuer\":\"" FUZZ_ISSUER "\","
		    "\"authorization_endpoint\":\"http://127.0.0.1:1/a/\","
		    "\"token_endpoint\":\"http://127.0.0.1:1/t/\","
		    "\"jwks_uri\":\"http://127.0.0.1:1/j/\"}");
	if (oidc_discovery_parse(o, s, strlen(s), &d, &err) != MG_OK)
		abort();
	free(s);
	fuzz_keys(keys, cjose_jwk_create_RSA_random(2048, e, 3, &cerr), "r");
	fuzz_keys(
	    keys, cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &cerr), "e");
	doc = json_pack("{s:o}", "keys", keys);
	s = json_dumps(doc, 0);
	if (oidc_jwks_parse(s, strlen(s), &j, &err) != MG_OK)
		abort();
	free(s);
	json_decref(doc);
	d->refs = 1;
	j->refs = 1;
	j->generation = 1;
	o->jwks_generation = 1;
	o->jwks_refetched_once = true;
	o->jwks_last_refetch = oidc_monotonic();
	o->disco = d;
	o->jwks = j;
	secret_free(&sec);
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oidc_disco *d = NULL;
	struct oidc_jwks *j = NULL;
	json_t *claims = NULL;
	unsigned char *raw;
	char *copy, *err = NULL;
	size_t n;

	if (size == 0)
		return 0;
	if (fuzz_rp == NULL)
		fuzz_rp = fuzz_setup();
	copy = xmalloc(size);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		if (oidc_verify_id_token(fuzz_rp, copy, size - 1, "n", 0,
			&claims, &err) == MG_OK)
			abort(); /* nothing here is signed by our keys */
		break;
	case 1:
		if (oidc_discovery_parse(fuzz_rp, copy, size - 1, &d, &err) ==
		    MG_OK)
			oidc_discovery_free(d);
		break;
	case 2:
		if (oidc_jwks_parse(copy, size - 1, &j, &err) == MG_OK)
			oidc_jwks_free(j);
		break;
	default:
		raw = oidc_jwt_b64url_decode(copy, size - 1, &n);
		if (raw != NULL && n > (size - 1) * 3 / 4)
			abort();
		free(raw);
		break;
	}
	free(err);
	free(copy);
	return 0;
}
