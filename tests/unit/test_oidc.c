/* SPDX-License-Identifier: MIT */
/*
 * test_oidc.c - the relying party against a provider served from this
 * process (libmicrohttpd on 127.0.0.1, ephemeral port): discovery, JWKS
 * (huge, malformed, slow, rotated), ID tokens signed here with cjose
 * (RS256, ES256, HS256 and every way to get them wrong), PKCE, the login
 * URL, the token exchange and userinfo, and that no secret reaches a log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>

#include "oidc/oidc_private.h"
#include "mailgate/log.h"
#include "mailgate/parse.h"
#include "mailgate/xmalloc.h"

#define NOW        1767225600
#define CLIENT_ID  "mail client" /* a blank: Basic must form-encode */
#define SECRET     "s3cr:t/+=%-sentinel-secret"
#define NONCE      "nonce-0123456789abcdef"
#define MAX_ROUTES 16

/* ---------------------------------------------------------------- */
/* The provider: fixed answers per path, hit counters, last request. */

struct route {
	char path[128];
	int status;
	char ctype[64];
	char *body;
	unsigned int delay_ms;
	unsigned int hits;
	char last_auth[1024];
};

static struct {
	struct MHD_Daemon *d;
	unsigned int port;
	pthread_mutex_t lk;
	struct route routes[MAX_ROUTES];
	size_t n;
	char last_body[8192];
} srv = { .lk = PTHREAD_MUTEX_INITIALIZER };

static void
srv_set(const char *path, int status, const char *body, unsigned int delay)
{
	struct route *r = NULL;
	size_t i;

	pthread_mutex_lock(&srv.lk);
	for (i = 0; i < srv.n; i++)
		if (strcmp(srv.routes[i].path, path) == 0)
			r = &srv.routes[i];
	if (r == NULL) {
		assert_true(srv.n < MAX_ROUTES);
		r = &srv.routes[srv.n++];
		snprintf(r->path, sizeof(r->path), "%s", path);
	}
	free(r->body);
	r->body = xstrdup(body);
	r->status = status;
	r->delay_ms = delay;
	snprintf(r->ctype, sizeof(r->ctype), "application/json");
	pthread_mutex_unlock(&srv.lk);
}

/* The Authorization header of the last request to path. */
static const char *
srv_auth(const char *path)
{
	size_t i;

	for (i = 0; i < srv.n; i++)
		if (strcmp(srv.routes[i].path, path) == 0)
			return srv.routes[i].last_auth;
	return "";
}

static unsigned int
srv_hits(const char *path)
{
	unsigned int h = 0;
	size_t i;

	pthread_mutex_lock(&srv.lk);
	for (i = 0; i < srv.n; i++)
		if (strcmp(srv.routes[i].path, path) == 0)
			h = srv.routes[i].hits;
	pthread_mutex_unlock(&srv.lk);
	return h;
}

struct upload {
	char buf[8192];
	size_t len;
};

/* Eight parameters: libmicrohttpd's MHD_AccessHandlerCallback. */
static enum MHD_Result
/* NOLINTNEXTLINE(readability-function-size) */
srv_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data,
    size_t *data_size, void **con_cls)
{
	struct upload *up = *con_cls;
	struct MHD_Response *resp;
	const char *auth;
	char *body = NULL, ctype[64] = "text/plain";
	int status = 404;
	unsigned int delay = 0;
	enum MHD_Result ret;
	size_t i, n;

	(void)cls;
	(void)version;
	if (up == NULL) {
		up = calloc(1, sizeof(*up));
		*con_cls = up;
		return MHD_YES;
	}
	if (*data_size > 0) {
		n = *data_size;
		if (n > sizeof(up->buf) - 1 - up->len)
			n = sizeof(up->buf) - 1 - up->len;
		memcpy(up->buf + up->len, data, n);
		up->len += n;
		*data_size = 0;
		return MHD_YES;
	}
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	pthread_mutex_lock(&srv.lk);
	if (strcmp(method, "POST") == 0)
		snprintf(srv.last_body, sizeof(srv.last_body), "%s", up->buf);
	for (i = 0; i < srv.n; i++) {
		if (strcmp(srv.routes[i].path, url) == 0) {
			srv.routes[i].hits++;
			snprintf(srv.routes[i].last_auth,
			    sizeof(srv.routes[i].last_auth), "%s",
			    auth != NULL ? auth : "");
			body = xstrdup(srv.routes[i].body);
			status = srv.routes[i].status;
			delay = srv.routes[i].delay_ms;
			snprintf(
			    ctype, sizeof(ctype), "%s", srv.routes[i].ctype);
		}
	}
	pthread_mutex_unlock(&srv.lk);
	if (delay > 0)
		usleep(delay * 1000);
	if (body == NULL)
		body = xstrdup("not found");
	resp = MHD_create_response_from_buffer(
	    strlen(body), body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", ctype);
	ret = MHD_queue_response(c, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
srv_done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static void
srv_start(void)
{
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.d = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
	    NULL, NULL, srv_handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
	    MHD_OPTION_NOTIFY_COMPLETED, srv_done, NULL, MHD_OPTION_END);
	assert_non_null(srv.d);
	info = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT);
	srv.port = info->port;
}

/* ---------------------------------------------------------------- */
/* Keys, documents and tokens. */

static cjose_jwk_t *rsa1, *rsa2, *ec1, *rsa_rot, *hmac_ok, *hmac_bad;

static char *
url_of(const char *path)
{
	return xasprintf("http://127.0.0.1:%u%s", srv.port, path);
}

/* Issuers: "mail" has RSA+EC keys, "hs" has none (Authentik, no key). */
static char *
issuer_of(const char *slug)
{
	return xasprintf(
	    "http://127.0.0.1:%u/application/o/%s/", srv.port, slug);
}

static char *
disco_doc(const char *slug, const char *issuer, const char *algs)
{
	char *iss = issuer != NULL ? xstrdup(issuer) : issuer_of(slug);
	char *s = xasprintf("{\"issuer\":\"%s\","
			    "\"authorization_endpoint\":"
			    "\"http://127.0.0.1:%u/application/o/authorize/\","
			    "\"token_endpoint\":"
			    "\"http://127.0.0.1:%u/application/o/token/\","
			    "\"userinfo_endpoint\":"
			    "\"http://127.0.0.1:%u/application/o/userinfo/\","
			    "\"end_session_endpoint\":"
			    "\"http://127.0.0.1:%u/application/o/%s/end/\","
			    "\"jwks_uri\":"
			    "\"http://127.0.0.1:%u/application/o/%s/jwks/\","
			    "\"id_token_signing_alg_values_supported\":%s}",
	    iss, srv.port, srv.port, srv.port, srv.port, slug, srv.port, slug,
	    algs);

	free(iss);
	return s;
}

static void
serve_disco(const char *slug, const char *body)
{
	char *path = xasprintf("/application/o/%s/.well-known/"
			       "openid-configuration",
	    slug);

	srv_set(path, 200, body, 0);
	free(path);
}

static char *
jwks_path(const char *slug)
{
	return xasprintf("/application/o/%s/jwks/", slug);
}

static char *
jwks_of(cjose_jwk_t *a, cjose_jwk_t *b)
{
	cjose_jwk_t *keys[2] = { a, b };
	json_t *doc = json_object(), *arr = json_array();
	cjose_err err;
	char *s;
	size_t i;

	for (i = 0; i < 2; i++) {
		if (keys[i] == NULL)
			continue;
		s = cjose_jwk_to_json(keys[i], false, &err);
		json_array_append_new(arr, json_loads(s, 0, NULL));
		free(s);
	}
	json_object_set_new(doc, "keys", arr);
	s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return s;
}

static void
serve_jwks(const char *slug, int status, const char *body)
{
	char *p = jwks_path(slug);

	srv_set(p, status, body, 0);
	free(p);
}

static char *
sign(cjose_jwk_t *key, const char *alg, const char *kid, const json_t *cl)
{
	cjose_header_t *h;
	cjose_jws_t *jws;
	cjose_err err;
	const char *out;
	char *payload, *tok;

	h = cjose_header_new(&err);
	cjose_header_set(h, CJOSE_HDR_ALG, alg, &err);
	if (kid != NULL)
		cjose_header_set(h, CJOSE_HDR_KID, kid, &err);
	payload = json_dumps(cl, JSON_COMPACT);
	jws = cjose_jws_sign(
	    key, h, (const uint8_t *)payload, strlen(payload), &err);
	assert_non_null(jws);
	assert_true(cjose_jws_export(jws, &out, &err));
	tok = xstrdup(out);
	cjose_jws_release(jws);
	cjose_header_release(h);
	free(payload);
	return tok;
}

static json_t *
base_claims(const char *slug)
{
	char *iss = issuer_of(slug);
	json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", iss,
	    "aud", CLIENT_ID, "sub", "user-1", "exp", (json_int_t)NOW + 300,
	    "iat", (json_int_t)NOW, "nonce", NONCE);

	free(iss);
	return c;
}

/* Apply a patch: null deletes; exp/iat/nbf integers are offsets to NOW. */
static void
patch_claims(json_t *c, const char *patch)
{
	json_t *p, *v;
	const char *k;

	if (patch == NULL)
		return;
	p = json_loads(patch, 0, NULL);
	assert_non_null(p);
	json_object_foreach(p, k, v) {
		if (json_is_null(v))
			json_object_del(c, k);
		else if (json_is_integer(v) &&
		    (strcmp(k, "exp") == 0 || strcmp(k, "iat") == 0 ||
			strcmp(k, "nbf") == 0))
			json_object_set_new(
			    c, k, json_integer(NOW + json_integer_value(v)));
		else
			json_object_set(c, k, v);
	}
	json_decref(p);
}

static struct oidc *
rp_new(const char *issuer, int64_t timeout, int64_t refetch_min,
    const char *auth_method)
{
	struct secret *sec = secret_from(SECRET, strlen(SECRET));
	char *redirect = url_of("/callback");
	struct oidc_params p;
	struct oidc *o = NULL;
	char *err = NULL;

	memset(&p, 0, sizeof(p));
	p.issuer = issuer;
	p.client_id = CLIENT_ID;
	p.client_secret = sec;
	p.redirect_uri = redirect;
	p.clock_skew = 60;
	p.http_timeout = timeout;
	p.jwks_refetch_min = refetch_min;
	p.token_auth_method = auth_method;
	if (oidc_new(&p, &o, &err) != 0)
		fail_msg("oidc_new: %s", err);
	secret_free(&sec);
	free(redirect);
	return o;
}

static void
setup_world(void)
{
	char *d, *j;

	d = disco_doc("mail", NULL, "[\"RS256\",\"ES256\",\"HS256\"]");
	serve_disco("mail", d);
	free(d);
	j = jwks_of(rsa1, ec1);
	serve_jwks("mail", 200, j);
	free(j);
	d = disco_doc("hs", NULL, "[\"HS256\"]");
	serve_disco("hs", d);
	free(d);
	serve_jwks("hs", 200, "{}");
}

static int
group_setup(void **state)
{
	static const uint8_t e[] = { 1, 0, 1 };
	cjose_err err;

	(void)state;
	log_init("test_oidc", LOG_LEVEL_DEBUG, false);
	srv_start();
	rsa1 = cjose_jwk_create_RSA_random(2048, e, sizeof(e), &err);
	rsa2 = cjose_jwk_create_RSA_random(2048, e, sizeof(e), &err);
	rsa_rot = cjose_jwk_create_RSA_random(2048, e, sizeof(e), &err);
	ec1 = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
	hmac_ok = cjose_jwk_create_oct_spec(
	    (const uint8_t *)SECRET, strlen(SECRET), &err);
	hmac_bad = cjose_jwk_create_oct_spec((const uint8_t *)"other", 5, &err);
	cjose_jwk_set_kid(rsa1, "rsa1", 4, &err);
	cjose_jwk_set_kid(rsa2, "rsa1", 4, &err); /* same kid, other key */
	cjose_jwk_set_kid(rsa_rot, "rot", 3, &err);
	cjose_jwk_set_kid(ec1, "ec1", 3, &err);
	setup_world();
	return 0;
}

/* ---------------------------------------------------------------- */
/* ID token verification, signed here. */

enum keysel {
	K_RSA1,
	K_RSA2,
	K_EC1,
	K_HMAC,
	K_HMAC_BAD
};

static const struct { /* NOLINT(clang-analyzer-optin.performance.Padding) */
	const char *name;
	const char *slug; /* "mail" (RSA+EC JWKS) or "hs" (empty JWKS) */
	enum keysel key;
	const char *alg;
	const char *kid; /* NULL: none in the header */
	const char *patch;
	enum mg_result want;
	const char *err; /* substring of the error */
} vcases[] = {
	{ "rs256 ok", "mail", K_RSA1, "RS256", "rsa1", NULL, MG_OK, NULL },
	{ "es256 ok", "mail", K_EC1, "ES256", "ec1", NULL, MG_OK, NULL },
	{ "hs256 ok", "hs", K_HMAC, "HS256", NULL, NULL, MG_OK, NULL },
	{ "aud array with us ok", "mail", K_RSA1, "RS256", "rsa1",
	    "{\"aud\":[\"other\",\"mail client\"],\"azp\":\"mail client\"}",
	    MG_OK, NULL },
	{ "exp within skew ok", "mail", K_RSA1, "RS256", "rsa1",
	    "{\"exp\":-30}", MG_OK, NULL },
	{ "iat within skew ok", "mail", K_RSA1, "RS256", "rsa1", "{\"iat\":50}",
	    MG_OK, NULL },
	{ "nbf within skew ok", "mail", K_RSA1, "RS256", "rsa1", "{\"nbf\":50}",
	    MG_OK, NULL },
	{ "ec without kid, only ec key", "mail", K_EC1, "ES256", NULL, NULL,
	    MG_OK, NULL },
	/* negatives */
	{ "rs384 not allowed", "mail", K_RSA1, "RS384", "rsa1", NULL,
	    MG_PERMFAIL, "not in [oidc] allowed_algs" },
	{ "ps256 not allowed", "mail", K_RSA1, "PS256", "rsa1", NULL,
	    MG_PERMFAIL, "not in [oidc] allowed_algs" },
	{ "other key same kid", "mail", K_RSA2, "RS256", "rsa1", NULL,
	    MG_PERMFAIL, "signature does not verify" },
	{ "hs256 while jwks has rsa", "mail", K_HMAC, "HS256", NULL, NULL,
	    MG_PERMFAIL, "HS256 presented when an asymmetric key" },
	{ "hs256 wrong secret", "hs", K_HMAC_BAD, "HS256", NULL, NULL,
	    MG_PERMFAIL, "signature does not verify" },
	{ "rs256 with empty jwks", "hs", K_RSA1, "RS256", "rsa1", NULL,
	    MG_PERMFAIL, "lacks" },
	{ "es256 header on rsa kid", "mail", K_EC1, "ES256", "rsa1", NULL,
	    MG_PERMFAIL, "does not match its key" },
	{ "expired", "mail", K_RSA1, "RS256", "rsa1", "{\"exp\":-61}",
	    MG_PERMFAIL, "expired" },
	{ "exp missing", "mail", K_RSA1, "RS256", "rsa1", "{\"exp\":null}",
	    MG_PERMFAIL, "no valid exp" },
	{ "exp a string", "mail", K_RSA1, "RS256", "rsa1", "{\"exp\":\"soon\"}",
	    MG_PERMFAIL, "no valid exp" },
	{ "not yet valid", "mail", K_RSA1, "RS256", "rsa1", "{\"nbf\":61}",
	    MG_PERMFAIL, "not valid yet" },
	{ "iat future", "mail", K_RSA1, "RS256", "rsa1", "{\"iat\":61}",
	    MG_PERMFAIL, "in the future" },
	{ "iat missing", "mail", K_RSA1, "RS256", "rsa1", "{\"iat\":null}",
	    MG_PERMFAIL, "no valid iat" },
	{ "wrong iss", "mail", K_RSA1, "RS256", "rsa1",
	    "{\"iss\":\"https://evil.example/\"}", MG_PERMFAIL,
	    "not the configured issuer" },
	{ "iss missing", "mail", K_RSA1, "RS256", "rsa1", "{\"iss\":null}",
	    MG_PERMFAIL, "no iss" },
	{ "wrong aud", "mail", K_RSA1, "RS256", "rsa1", "{\"aud\":\"other\"}",
	    MG_PERMFAIL, "does not hold our" },
	{ "aud array without us", "mail", K_RSA1, "RS256", "rsa1",
	    "{\"aud\":[\"a\",\"b\"]}", MG_PERMFAIL, "does not hold our" },
	{ "aud empty array", "mail", K_RSA1, "RS256", "rsa1", "{\"aud\":[]}",
	    MG_PERMFAIL, "no aud" },
	{ "aud missing", "mail", K_RSA1, "RS256", "rsa1", "{\"aud\":null}",
	    MG_PERMFAIL, "no aud" },
	{ "aud array holds number", "mail", K_RSA1, "RS256", "rsa1",
	    "{\"aud\":[\"mail client\",5]}", MG_PERMFAIL, "non-string" },
	{ "azp mismatch", "mail", K_RSA1, "RS256", "rsa1",
	    "{\"azp\":\"other\"}", MG_PERMFAIL, "azp is not our" },
	{ "several aud no azp", "mail", K_RSA1, "RS256", "rsa1",
	    "{\"aud\":[\"mail client\",\"b\"]}", MG_PERMFAIL, "no azp" },
	{ "nonce missing", "mail", K_RSA1, "RS256", "rsa1", "{\"nonce\":null}",
	    MG_PERMFAIL, "no nonce" },
	{ "nonce wrong", "mail", K_RSA1, "RS256", "rsa1",
	    "{\"nonce\":\"nonce-0123456789abcdeF\"}", MG_PERMFAIL,
	    "does not match" },
	{ "nonce prefix", "mail", K_RSA1, "RS256", "rsa1",
	    "{\"nonce\":\"nonce-0123\"}", MG_PERMFAIL, "does not match" },
	{ "sub missing", "mail", K_RSA1, "RS256", "rsa1", "{\"sub\":null}",
	    MG_PERMFAIL, "no sub" },
	{ "sub empty", "mail", K_RSA1, "RS256", "rsa1", "{\"sub\":\"\"}",
	    MG_PERMFAIL, "no sub" },
	{ "sub control byte", "mail", K_RSA1, "RS256", "rsa1",
	    "{\"sub\":\"a\\nb\"}", MG_PERMFAIL, "control" },
	{ "sub a number", "mail", K_RSA1, "RS256", "rsa1", "{\"sub\":42}",
	    MG_PERMFAIL, "no sub" },
	{ "unknown kid", "mail", K_RSA1, "RS256", "nope", NULL, MG_PERMFAIL,
	    "lacks" },
};

static cjose_jwk_t *
key_of(enum keysel k)
{
	switch (k) {
	case K_RSA1:
		return rsa1;
	case K_RSA2:
		return rsa2;
	case K_EC1:
		return ec1;
	case K_HMAC:
		return hmac_ok;
	case K_HMAC_BAD:
		return hmac_bad;
	}
	return NULL;
}

static void
verify_cases(void **state)
{
	struct oidc *mail, *hs;
	char *imail = issuer_of("mail"), *ihs = issuer_of("hs");
	size_t i;

	(void)state;
	setup_world();
	mail = rp_new(imail, 5, 0, NULL);
	hs = rp_new(ihs, 5, 0, NULL);
	for (i = 0; i < MG_N_ELEMENTS(vcases); i++) {
		json_t *cl = base_claims(vcases[i].slug), *got = NULL;
		struct oidc *o = strcmp(vcases[i].slug, "hs") == 0 ? hs : mail;
		char *tok, *err = NULL;
		enum mg_result r;

		patch_claims(cl, vcases[i].patch);
		tok = sign(
		    key_of(vcases[i].key), vcases[i].alg, vcases[i].kid, cl);
		r = oidc_verify_id_token(
		    o, tok, strlen(tok), NONCE, NOW, &got, &err);
		if (r != vcases[i].want)
			fail_msg("%s: got %d (%s) want %d", vcases[i].name, r,
			    err != NULL ? err : "-", vcases[i].want);
		if (vcases[i].err != NULL &&
		    (err == NULL || strstr(err, vcases[i].err) == NULL))
			fail_msg("%s: error %s lacks %s", vcases[i].name,
			    err != NULL ? err : "-", vcases[i].err);
		if (r == MG_OK)
			assert_string_equal(
			    json_string_value(json_object_get(got, "sub")),
			    "user-1");
		if (err != NULL)
			assert_null(strstr(err, tok));
		json_decref(got);
		json_decref(cl);
		free(tok);
		free(err);
	}
	oidc_free(&mail);
	oidc_free(&hs);
	free(imail);
	free(ihs);
}

/* Tokens built by hand: wrong shapes and headers never reach a key. */
static char *
b64u(const char *s)
{
	char *out = xmalloc(strlen(s) * 2 + 4);

	(void)base64url_encode(s, strlen(s), out);
	return out;
}

static char *
raw_token(const char *hdr, const char *payload, const char *sig)
{
	char *h = b64u(hdr), *p = b64u(payload);
	char *t = xasprintf("%s.%s.%s", h, p, sig);

	free(h);
	free(p);
	return t;
}

static void
verify_shapes(void **state)
{
	static const char pl[] = "{\"sub\":\"x\"}";
	struct {
		const char *name;
		char *tok;
		const char *err;
	} c[12];
	char *imail = issuer_of("mail"), *big;
	struct oidc *o;
	size_t i, n = 0;

	(void)state;
	setup_world();
	o = rp_new(imail, 5, 0, NULL);
	c[n].name = "alg none";
	c[n].tok = raw_token("{\"alg\":\"none\"}", pl, "AAAA");
	c[n++].err = "alg none";
	c[n].name = "alg none, empty signature";
	c[n].tok = raw_token("{\"alg\":\"none\"}", pl, "");
	c[n++].err = "not a compact JWS";
	c[n].name = "jwe";
	c[n].tok = xstrdup("eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2Q0JD"
			   "LUhTNTEyIn0.a2V5.aXY.Y2lwaGVy.dGFn");
	c[n++].err = "Encryption Key";
	c[n].name = "two segments";
	c[n].tok = xstrdup("eyJhbGciOiJSUzI1NiJ9.e30");
	c[n++].err = "not a compact JWS";
	c[n].name = "four segments";
	c[n].tok = xstrdup("a.b.c.d");
	c[n++].err = "not a compact JWS";
	c[n].name = "garbage";
	c[n].tok = xstrdup("this is not a token");
	c[n++].err = "outside base64url";
	c[n].name = "padding";
	c[n].tok = xstrdup("eyJhbGciOiJSUzI1NiJ9=.e30.AAAA");
	c[n++].err = "outside base64url";
	c[n].name = "header bad base64url length";
	c[n].tok = xstrdup("eyJhbGciOiJSUzI1NiJ9A.e30.AAAA");
	c[n++].err = "not base64url";
	c[n].name = "header not json";
	c[n].tok = raw_token("alg RS256", pl, "AAAA");
	c[n++].err = "not a JSON object";
	c[n].name = "header duplicate alg";
	c[n].tok =
	    raw_token("{\"alg\":\"RS256\",\"alg\":\"none\"}", pl, "AAAA");
	c[n++].err = "not a JSON object";
	c[n].name = "crit header";
	c[n].tok = raw_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\","
			     "\"crit\":[\"x\"]}",
	    pl, "AAAA");
	c[n++].err = "crit";
	big = xmalloc(JWT_MAX + 2);
	memset(big, 'A', JWT_MAX + 1);
	big[JWT_MAX + 1] = '\0';
	big[10] = '.';
	big[20] = '.';
	c[n].name = "oversized";
	c[n].tok = big;
	c[n++].err = "too large";

	for (i = 0; i < n; i++) {
		json_t *got = NULL;
		char *err = NULL;
		enum mg_result r;

		r = oidc_verify_id_token(
		    o, c[i].tok, strlen(c[i].tok), NONCE, NOW, &got, &err);
		if (r != MG_PERMFAIL || err == NULL ||
		    strstr(err, c[i].err) == NULL)
			fail_msg("%s: got %d (%s), want %s", c[i].name, r,
			    err != NULL ? err : "-", c[i].err);
		free(err);
		free(c[i].tok);
	}
	oidc_free(&o);
	free(imail);
}

static void
b64url_strict(void **state)
{
	static const struct {
		const char *in;
		const char *want; /* NULL = refused */
	} c[] = {
		{ "", "" },
		{ "YQ", "a" },
		{ "YWI", "ab" },
		{ "YWJj", "abc" },
		{ "YR", NULL },   /* leftover bits set */
		{ "YWJ", NULL },  /* leftover bits set */
		{ "Y", NULL },    /* impossible length */
		{ "YQ==", NULL }, /* padding */
		{ "Y+Q", NULL },  /* standard alphabet */
		{ "Y/Q", NULL },
		{ "Y Q", NULL },
	};
	unsigned char *out;
	size_t i, n;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(c); i++) {
		out = oidc_jwt_b64url_decode(c[i].in, strlen(c[i].in), &n);
		if (c[i].want == NULL) {
			if (out != NULL)
				fail_msg("%s: accepted", c[i].in);
			continue;
		}
		assert_non_null(out);
		assert_int_equal(n, strlen(c[i].want));
		assert_memory_equal(out, c[i].want, n);
		free(out);
	}
}

/* ---------------------------------------------------------------- */
/* Discovery and JWKS documents. */

static enum mg_result
refresh_with(const char *issuer, int64_t timeout, char **err)
{
	struct oidc *o = rp_new(issuer, timeout, 0, NULL);
	enum mg_result r = oidc_refresh(o, err);

	oidc_free(&o);
	return r;
}

static void
discovery_happy_and_cached(void **state)
{
	char *iss = issuer_of("mail"), *err = NULL;
	struct oidc *o;
	unsigned int d0, j0;

	(void)state;
	setup_world();
	o = rp_new(iss, 5, 0, NULL);
	d0 = srv_hits("/application/o/mail/.well-known/openid-configuration");
	j0 = srv_hits("/application/o/mail/jwks/");
	assert_int_equal(oidc_refresh(o, &err), MG_OK);
	assert_int_equal(oidc_refresh(o, &err), MG_OK);
	assert_int_equal(srv_hits("/application/o/mail/.well-known/"
				  "openid-configuration"),
	    d0 + 1);
	assert_int_equal(srv_hits("/application/o/mail/jwks/"), j0 + 1);
	oidc_free(&o);
	free(iss);
}

static const struct {
	const char *name;
	const char *doc; /* NULL: generated; "%ISSUER%" etc. not used */
	int status;
	unsigned int delay_ms;
	enum mg_result want;
	const char *err;
} dcases[] = {
	{ "not json", "{\"issuer\": ", 200, 0, MG_PERMFAIL, "not valid JSON" },
	{ "json array", "[1,2]", 200, 0, MG_PERMFAIL, "not a JSON object" },
	{ "no issuer", "{\"token_endpoint\":\"http://x/\"}", 200, 0,
	    MG_PERMFAIL, "issuer is missing" },
	{ "http 404", "{}", 404, 0, MG_PERMFAIL, "HTTP 404" },
	{ "http 503", "{}", 503, 0, MG_TEMPFAIL, "HTTP 503" },
	{ "slow", "{}", 200, 3000, MG_TEMPFAIL, "discovery" },
};

static void
discovery_cases(void **state)
{
	char *iss = issuer_of("bad"), *err;
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(dcases); i++) {
		enum mg_result r;

		srv_set("/application/o/bad/.well-known/openid-configuration",
		    dcases[i].status, dcases[i].doc, dcases[i].delay_ms);
		err = NULL;
		r = refresh_with(iss, 1, &err);
		if (r != dcases[i].want || err == NULL ||
		    strstr(err, dcases[i].err) == NULL)
			fail_msg("%s: got %d (%s)", dcases[i].name, r,
			    err != NULL ? err : "-");
		free(err);
	}
	free(iss);
}

/* Generated documents that are wrong in one field each. */
static void
discovery_field_cases(void **state)
{
	static const struct {
		const char *name;
		const char *del;
		const char *key, *val;
		const char *err;
	} c[] = {
		{ "no token endpoint", "token_endpoint", NULL, NULL,
		    "token_endpoint is missing" },
		{ "no jwks_uri", "jwks_uri", NULL, NULL,
		    "jwks_uri is missing" },
		{ "no authorization endpoint", "authorization_endpoint", NULL,
		    NULL, "authorization_endpoint is missing" },
		{ "ftp token endpoint", NULL, "token_endpoint",
		    "\"ftp://x/token/\"", "not an http(s) URL" },
		{ "numeric jwks_uri", NULL, "jwks_uri", "5",
		    "not an http(s) URL" },
		{ "blank in url", NULL, "userinfo_endpoint", "\"http://x/a b\"",
		    "not an http(s) URL" },
		{ "algs not list", NULL,
		    "id_token_signing_alg_values_supported", "\"RS256\"",
		    "not a list" },
		{ "issuer other host", NULL, "issuer",
		    "\"http://internal:9000/application/o/bad/\"",
		    "configured issuer is" },
	};
	char *iss = issuer_of("bad"), *doc, *err, *s;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(c); i++) {
		enum mg_result r;

		doc = disco_doc("bad", NULL, "[\"RS256\"]");
		j = json_loads(doc, 0, NULL);
		if (c[i].del != NULL)
			json_object_del(j, c[i].del);
		if (c[i].key != NULL)
			json_object_set_new(j, c[i].key,
			    json_loads(c[i].val, JSON_DECODE_ANY, NULL));
		s = json_dumps(j, JSON_COMPACT);
		srv_set("/application/o/bad/.well-known/openid-configuration",
		    200, s, 0);
		err = NULL;
		r = refresh_with(iss, 5, &err);
		if (r != MG_PERMFAIL || strstr(err, c[i].err) == NULL)
			fail_msg("%s: got %d (%s)", c[i].name, r,
			    err != NULL ? err : "-");
		free(err);
		free(s);
		json_decref(j);
		free(doc);
	}
	free(iss);
}

static void
discovery_trailing_slash(void **state)
{
	char *with = issuer_of("mail"), *without, *err = NULL, *doc;

	(void)state;
	setup_world();
	without = xstrndup(with, strlen(with) - 1);
	/* Same discovery URL; the provider's issuer has the slash. */
	assert_int_equal(refresh_with(without, 5, &err), MG_PERMFAIL);
	assert_non_null(strstr(err, "lacks the trailing slash"));
	assert_non_null(strstr(err, "set [oidc] issuer to "));
	free(err);
	err = NULL;
	/* Provider without the slash, configuration with it. */
	doc = disco_doc("mail", without, "[\"RS256\"]");
	serve_disco("mail", doc);
	assert_int_equal(refresh_with(with, 5, &err), MG_PERMFAIL);
	assert_non_null(strstr(err, "has a trailing slash"));
	free(err);
	free(doc);
	free(with);
	free(without);
	setup_world();
}

static void
discovery_url_forms(void **state)
{
	char *a = oidc_discovery_url("https://id.example/application/o/m/");
	char *b = oidc_discovery_url("https://id.example/realms/x");

	(void)state;
	assert_string_equal(a,
	    "https://id.example/application/o/m/"
	    ".well-known/openid-configuration");
	assert_string_equal(b,
	    "https://id.example/realms/x/"
	    ".well-known/openid-configuration");
	free(a);
	free(b);
}

static void
huge_documents(void **state)
{
	char *big = xmalloc(IDP_RESPONSE_MAX + 1000), *iss, *err = NULL;

	(void)state;
	memset(big, ' ', IDP_RESPONSE_MAX + 999);
	big[0] = '{';
	big[IDP_RESPONSE_MAX + 998] = '}';
	big[IDP_RESPONSE_MAX + 999] = '\0';
	iss = issuer_of("bad");
	srv_set(
	    "/application/o/bad/.well-known/openid-configuration", 200, big, 0);
	assert_int_equal(refresh_with(iss, 5, &err), MG_PERMFAIL);
	assert_non_null(strstr(err, "larger than"));
	free(err);
	free(iss);

	err = NULL;
	setup_world();
	iss = issuer_of("mail");
	serve_jwks("mail", 200, big);
	assert_int_equal(refresh_with(iss, 5, &err), MG_PERMFAIL);
	assert_non_null(strstr(err, "JWKS"));
	assert_non_null(strstr(err, "larger than"));
	free(err);
	free(iss);
	free(big);
	setup_world();
}

static const struct {
	const char *name;
	const char *jwks;
	int status;
	enum mg_result want;
	const char *err;
} jcases[] = {
	{ "empty object is an empty set", "{}", 200, MG_OK, NULL },
	{ "empty keys", "{\"keys\":[]}", 200, MG_OK, NULL },
	{ "not json", "{\"keys\":", 200, MG_PERMFAIL, "not valid JSON" },
	{ "keys not array", "{\"keys\":{}}", 200, MG_PERMFAIL, "not an array" },
	{ "all keys bad", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\"},5]}",
	    200, MG_PERMFAIL, "none of its" },
	{ "oct key refused", "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}",
	    200, MG_PERMFAIL, "none of its" },
	{ "enc only", "{\"keys\":[{\"kty\":\"EC\",\"use\":\"enc\"}]}", 200,
	    MG_PERMFAIL, "none of its" },
	/* cjose 0.6 asserts (aborts) on these: they must never reach it. */
	{ "padding inside n",
	    "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"sXchDaQebw_75IDrGA84-w3vR"
	    "=w\",\"e\":\"AQAB\"}]}",
	    200, MG_PERMFAIL, "none of its" },
	{ "base64 alphabet in n",
	    "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"s/chDaQebH+PiG\","
	    "\"e\":\"AQAB\"}]}",
	    200, MG_PERMFAIL, "none of its" },
	{ "padding inside x",
	    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f8="
	    "3OJ\",\"y\":\"x_FE\"}]}",
	    200, MG_PERMFAIL, "none of its" },
	{ "n not a string",
	    "{\"keys\":[{\"kty\":\"RSA\",\"n\":5,\"e\":\"AQAB\"}]}", 200,
	    MG_PERMFAIL, "none of its" },
	{ "http 500", "{}", 500, MG_TEMPFAIL, "HTTP 500" },
	{ "http 403", "{}", 403, MG_PERMFAIL, "HTTP 403" },
};

static void
jwks_cases(void **state)
{
	char *iss = issuer_of("mail"), *err;
	size_t i;

	(void)state;
	setup_world();
	for (i = 0; i < MG_N_ELEMENTS(jcases); i++) {
		enum mg_result r;

		serve_jwks("mail", jcases[i].status, jcases[i].jwks);
		err = NULL;
		r = refresh_with(iss, 5, &err);
		if (r != jcases[i].want ||
		    (jcases[i].err != NULL &&
			(err == NULL || strstr(err, jcases[i].err) == NULL)))
			fail_msg("%s: got %d (%s)", jcases[i].name, r,
			    err != NULL ? err : "-");
		free(err);
	}
	setup_world();
	free(iss);
}

/* One good key among bad ones is enough. */
static void
jwks_skips_bad_keys(void **state)
{
	char *iss = issuer_of("mail"), *good = jwks_of(rsa1, NULL), *doc;
	json_t *j = json_loads(good, 0, NULL), *cl;
	struct oidc *o;
	char *tok, *err = NULL;
	json_t *got = NULL;

	(void)state;
	setup_world();
	json_array_insert_new(
	    json_object_get(j, "keys"), 0, json_pack("{s:s}", "kty", "RSA"));
	doc = json_dumps(j, JSON_COMPACT);
	serve_jwks("mail", 200, doc);
	o = rp_new(iss, 5, 0, NULL);
	cl = base_claims("mail");
	tok = sign(rsa1, "RS256", "rsa1", cl);
	assert_int_equal(
	    oidc_verify_id_token(o, tok, strlen(tok), NONCE, NOW, &got, &err),
	    MG_OK);
	json_decref(got);
	json_decref(cl);
	json_decref(j);
	oidc_free(&o);
	free(tok);
	free(doc);
	free(good);
	free(iss);
	setup_world();
}

static enum mg_result
verify_with(struct oidc *o, cjose_jwk_t *key, const char *kid, char **err)
{
	json_t *cl = base_claims("mail"), *got = NULL;
	char *tok = sign(key, "RS256", kid, cl);
	enum mg_result r;

	r = oidc_verify_id_token(o, tok, strlen(tok), NONCE, NOW, &got, err);
	json_decref(got);
	json_decref(cl);
	free(tok);
	return r;
}

/* Rotation: a new kid refetches once; the rate limit holds after. */
static void
jwks_rotation(void **state)
{
	char *iss = issuer_of("mail"), *err = NULL, *both;
	struct oidc *o;
	unsigned int h;

	(void)state;
	setup_world();
	o = rp_new(iss, 5, 60, NULL);
	assert_int_equal(verify_with(o, rsa1, "rsa1", &err), MG_OK);
	h = srv_hits("/application/o/mail/jwks/");

	both = jwks_of(rsa1, rsa_rot);
	serve_jwks("mail", 200, both);
	assert_int_equal(verify_with(o, rsa_rot, "rot", &err), MG_OK);
	assert_int_equal(srv_hits("/application/o/mail/jwks/"), h + 1);

	/* Forged kids now: no refetch inside the 60 s window. */
	assert_int_equal(verify_with(o, rsa1, "forged-1", &err), MG_PERMFAIL);
	free(err);
	err = NULL;
	assert_int_equal(verify_with(o, rsa1, "forged-2", &err), MG_PERMFAIL);
	free(err);
	err = NULL;
	assert_int_equal(srv_hits("/application/o/mail/jwks/"), h + 1);
	/* Known keys still verify from the cache. */
	assert_int_equal(verify_with(o, rsa1, "rsa1", &err), MG_OK);
	oidc_free(&o);

	/* Without a rate limit, each unknown kid refetches once. */
	o = rp_new(iss, 5, 0, NULL);
	assert_int_equal(verify_with(o, rsa1, "rsa1", &err), MG_OK);
	h = srv_hits("/application/o/mail/jwks/");
	assert_int_equal(verify_with(o, rsa1, "forged-3", &err), MG_PERMFAIL);
	assert_non_null(strstr(err, "lacks"));
	free(err);
	err = NULL;
	assert_int_equal(srv_hits("/application/o/mail/jwks/"), h + 1);

	/* A failing refetch keeps the old keys. */
	serve_jwks("mail", 500, "{}");
	assert_int_equal(verify_with(o, rsa1, "forged-4", &err), MG_PERMFAIL);
	assert_non_null(strstr(err, "lacks"));
	free(err);
	err = NULL;
	assert_int_equal(verify_with(o, rsa_rot, "rot", &err), MG_OK);
	oidc_free(&o);
	free(both);
	free(iss);
	setup_world();
}

struct thread_arg {
	struct oidc *o;
	const char *tok;
	const char *forged;
	int ok;
};

static void *
verify_thread(void *p)
{
	struct thread_arg *a = p;
	json_t *got;
	char *err;
	int i;

	for (i = 0; i < 40; i++) {
		got = NULL;
		err = NULL;
		if (oidc_verify_id_token(a->o, a->tok, strlen(a->tok), NONCE,
			NOW, &got, &err) == MG_OK)
			a->ok++;
		json_decref(got);
		free(err);
		err = NULL;
		(void)oidc_verify_id_token(
		    a->o, a->forged, strlen(a->forged), NONCE, NOW, &got, &err);
		free(err);
	}
	return NULL;
}

/* One struct oidc, many threads, cache expiring and refetching. */
static void
threads_share_one_rp(void **state)
{
	char *iss = issuer_of("mail"), *tok, *forged, *err = NULL;
	struct thread_arg a[6];
	pthread_t t[6];
	json_t *cl;
	struct oidc *o;
	size_t i;

	(void)state;
	setup_world();
	o = rp_new(iss, 5, 0, NULL);
	cl = base_claims("mail");
	tok = sign(rsa1, "RS256", "rsa1", cl);
	forged = sign(rsa1, "RS256", "forged", cl);
	/*
	 * Warm the cache first: while one thread fetches, the others use
	 * what is cached; with nothing cached they wait only briefly.
	 */
	assert_int_equal(oidc_refresh(o, &err), MG_OK);
	for (i = 0; i < 6; i++) {
		a[i].o = o;
		a[i].tok = tok;
		a[i].forged = forged;
		a[i].ok = 0;
		assert_int_equal(
		    pthread_create(&t[i], NULL, verify_thread, &a[i]), 0);
	}
	for (i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].ok, 40);
	}
	json_decref(cl);
	free(tok);
	free(forged);
	oidc_free(&o);
	free(iss);
}

/* ---------------------------------------------------------------- */
/* PKCE, login URL, token exchange, userinfo. */

static void
pkce_rfc7636_vector(void **state)
{
	static const char v[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	char out[OIDC_CHALLENGE_LEN + 1];

	(void)state;
	oidc_pkce_challenge(v, strlen(v), out);
	assert_string_equal(out, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

static bool
is_b64url(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (strchr(
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789-_",
			s[i]) == NULL)
			return false;
	return true;
}

static void
login_url(void **state)
{
	char *iss = issuer_of("mail"), *err = NULL, *want;
	char ch[OIDC_CHALLENGE_LEN + 1];
	struct oidc_login *a = NULL, *b = NULL;
	struct oidc *o;

	(void)state;
	setup_world();
	o = rp_new(iss, 5, 0, NULL);
	assert_int_equal(oidc_login_begin(o, &a, &err), MG_OK);
	assert_int_equal(oidc_login_begin(o, &b, &err), MG_OK);
	assert_int_equal(a->code_verifier->len, 43);
	assert_true(is_b64url((const char *)a->code_verifier->buf, 43));
	assert_int_equal(strlen(a->state), 43);
	assert_true(is_b64url(a->state, 43));
	assert_true(is_b64url(a->nonce, 43));
	assert_string_not_equal(a->state, b->state);
	assert_string_not_equal(a->nonce, b->nonce);
	assert_string_not_equal(a->state, a->nonce);
	assert_false(secret_equal(a->code_verifier, b->code_verifier));

	oidc_pkce_challenge(a->code_verifier->buf, 43, ch);
	want = xasprintf("http://127.0.0.1:%u/application/o/authorize/"
			 "?response_type=code&client_id=mail%%20client"
			 "&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%3A%u"
			 "%%2Fcallback&scope=openid%%20email%%20profile"
			 "&state=%s&nonce=%s&code_challenge=%s"
			 "&code_challenge_method=S256",
	    srv.port, srv.port, a->state, a->nonce, ch);
	assert_string_equal(a->url, want);
	/* The verifier never travels in the URL. */
	assert_null(strstr(a->url, (const char *)a->code_verifier->buf));
	free(want);
	oidc_login_free(&a);
	oidc_login_free(&b);
	assert_null(a);
	oidc_free(&o);
	free(iss);
}

static void
callback_helpers(void **state)
{
	char *iss = issuer_of("mail"), *err = NULL, *m;
	struct oidc *o = rp_new(iss, 5, 0, NULL);

	(void)state;
	assert_int_equal(oidc_callback_check_iss(o, NULL, &err), MG_OK);
	assert_int_equal(oidc_callback_check_iss(o, iss, &err), MG_OK);
	assert_int_equal(
	    oidc_callback_check_iss(o, "http://evil/", &err), MG_PERMFAIL);
	free(err);
	m = oidc_callback_error("access_denied", "no\nway");
	assert_string_equal(m,
	    "the provider refused the login: "
	    "access_denied: no\\x0away");
	free(m);
	m = oidc_callback_error(NULL, NULL);
	assert_string_equal(m, "the provider refused the login: unknown");
	free(m);
	oidc_free(&o);
	free(iss);
}

static enum mg_result
finish(struct oidc *o, const struct oidc_mapping *m, struct oidc_identity **id,
    char **err)
{
	struct secret *code = secret_from("CODE-sentinel/+", 15);
	struct secret *ver = secret_from("VERIFIER-sentinel-0123456789-"
					 "abcdefghijklmn",
	    43);
	enum mg_result r;

	r = oidc_login_finish(
	    o, m, &(struct oidc_callback){ code, ver, NONCE }, id, err);
	secret_free(&code);
	secret_free(&ver);
	return r;
}

static void
token_exchange_basic(void **state)
{
	char *iss = issuer_of("mail"), *err = NULL, *reply, *want;
	struct oidc_identity *id = NULL;
	char b64[256];
	struct oidc *o;

	(void)state;
	setup_world();
	o = rp_new(iss, 5, 0, NULL);
	{
		json_t *cl = base_claims("mail");
		char *tok;

		/* finish() uses the real clock, not NOW. */
		json_object_set_new(cl, "exp", json_integer(4102444800));
		json_object_set_new(cl, "iat", json_integer(time(NULL)));
		json_object_set_new(
		    cl, "amr", json_pack("[s,s]", "pwd", "mfa"));
		tok = sign(rsa1, "RS256", "rsa1", cl);
		reply = xasprintf("{\"access_token\":\"AT\",\"token_type\":"
				  "\"bearer\",\"id_token\":\"%s\"}",
		    tok);
		json_decref(cl);
		free(tok);
	}
	srv_set("/application/o/token/", 200, reply, 0);
	if (finish(o, NULL, &id, &err) != MG_OK)
		fail_msg("finish: %s", err);
	assert_string_equal(id->subject, "user-1");
	assert_string_equal(id->issuer, iss);
	assert_true(id->mfa);
	assert_int_equal(id->exp, 4102444800);
	/* RFC 6749 2.3.1: form-encoded id and secret inside Basic. */
	(void)base64_encode("mail%20client:s3cr%3At%2F%2B%3D%25-sentinel-"
			    "secret",
	    strlen("mail%20client:s3cr%3At%2F%2B%3D%25-sentinel-secret"), b64);
	want = xasprintf("Basic %s", b64);
	assert_string_equal(srv_auth("/application/o/token/"), want);
	assert_non_null(strstr(srv.last_body,
	    "grant_type=authorization_code&code=CODE-sentinel%2F%2B&"
	    "redirect_uri=http%3A%2F%2F127.0.0.1%3A"));
	assert_non_null(strstr(srv.last_body,
	    "&code_verifier=VERIFIER-sentinel-0123456789-abcdefghijklmn"));
	assert_null(strstr(srv.last_body, "client_secret"));
	free(want);
	free(reply);
	oidc_identity_free(&id);
	oidc_free(&o);
	free(iss);
}

static char *
fresh_token_reply(const char *extra, const char *patch)
{
	json_t *cl = base_claims("mail");
	char *tok, *s;

	json_object_set_new(cl, "exp", json_integer(4102444800));
	json_object_set_new(cl, "iat", json_integer(time(NULL)));
	if (patch != NULL) {
		json_t *p = json_loads(patch, 0, NULL);

		json_object_update(cl, p);
		json_decref(p);
	}
	tok = sign(rsa1, "RS256", "rsa1", cl);
	s = xasprintf("{\"access_token\":\"AT-sentinel\",\"token_type\":"
		      "\"Bearer\",\"id_token\":\"%s\"%s}",
	    tok, extra != NULL ? extra : "");
	json_decref(cl);
	free(tok);
	return s;
}

static void
token_exchange_post(void **state)
{
	char *iss = issuer_of("mail"), *err = NULL, *reply;
	struct oidc_identity *id = NULL;
	struct oidc *o;

	(void)state;
	setup_world();
	o = rp_new(iss, 5, 0, "client_secret_post");
	reply = fresh_token_reply(NULL, NULL);
	srv_set("/application/o/token/", 200, reply, 0);
	assert_int_equal(finish(o, NULL, &id, &err), MG_OK);
	assert_string_equal(srv_auth("/application/o/token/"), "");
	assert_non_null(strstr(srv.last_body,
	    "&client_id=mail%20client&"
	    "client_secret=s3cr%3At%2F%2B"
	    "%3D%25-sentinel-secret"));
	assert_false(id->mfa);
	oidc_identity_free(&id);
	oidc_free(&o);
	free(reply);
	free(iss);
}

static const struct { /* NOLINT(clang-analyzer-optin.performance.Padding) */
	const char *name;
	int status;
	const char *body; /* NULL: a good reply with extra/patch */
	enum mg_result want;
	const char *err;
} tcases[] = {
	{ "invalid_grant", 400,
	    "{\"error\":\"invalid_grant\",\"error_description\":\"grant "
	    "request is invalid\"}",
	    MG_PERMFAIL, "invalid_grant: \"grant request is invalid\"" },
	{ "invalid_client 401", 401, "{\"error\":\"invalid_client\"}",
	    MG_PERMFAIL, "refused the code: invalid_client" },
	{ "description echoes the code", 400,
	    "{\"error\":\"invalid_grant\",\"error_description\":\"code "
	    "CODE-sentinel/+ unknown\"}",
	    MG_PERMFAIL, "withheld" },
	{ "description with newline", 400,
	    "{\"error\":\"invalid_grant\",\"error_description\":\"a\\nb\"}",
	    MG_PERMFAIL, "a\\x0ab" },
	{ "error without json", 400, "Bad Request", MG_PERMFAIL,
	    "not valid JSON" },
	{ "server error", 502, "{}", MG_TEMPFAIL, "HTTP 502" },
	{ "not json", 200, "<html>", MG_PERMFAIL, "not valid JSON" },
	{ "json array", 200, "[]", MG_PERMFAIL, "not a JSON object" },
	{ "no token_type", 200,
	    "{\"access_token\":\"a\",\"id_token\":\"a.b.c\"}", MG_PERMFAIL,
	    "not Bearer" },
	{ "token_type mac", 200,
	    "{\"access_token\":\"a\",\"token_type\":\"mac\","
	    "\"id_token\":\"a.b.c\"}",
	    MG_PERMFAIL, "not Bearer" },
	{ "no id_token", 200,
	    "{\"access_token\":\"a\",\"token_type\":\"Bearer\"}", MG_PERMFAIL,
	    "no id_token" },
	{ "no access_token", 200,
	    "{\"id_token\":\"a.b.c\",\"token_type\":\"Bearer\"}", MG_PERMFAIL,
	    "no access_token" },
	{ "id_token a number", 200,
	    "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
	    "\"id_token\":5}",
	    MG_PERMFAIL, "no id_token" },
	{ "id_token is a JWE", 200,
	    "{\"access_token\":\"a\",\"token_type\":\"Bearer\","
	    "\"id_token\":\"eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d\"}",
	    MG_PERMFAIL, "Encryption Key" },
	{ "redirect not followed", 302, "{}", MG_PERMFAIL, "HTTP 302" },
};

static void
token_exchange_cases(void **state)
{
	char *iss = issuer_of("mail"), *err;
	struct oidc_identity *id;
	struct oidc *o;
	size_t i;

	(void)state;
	setup_world();
	o = rp_new(iss, 5, 0, NULL);
	for (i = 0; i < MG_N_ELEMENTS(tcases); i++) {
		enum mg_result r;

		srv_set("/application/o/token/", tcases[i].status,
		    tcases[i].body, 0);
		err = NULL;
		id = NULL;
		r = finish(o, NULL, &id, &err);
		if (r != tcases[i].want || err == NULL ||
		    strstr(err, tcases[i].err) == NULL)
			fail_msg("%s: got %d (%s)", tcases[i].name, r,
			    err != NULL ? err : "-");
		assert_null(id);
		assert_null(strstr(err, "CODE-sentinel"));
		assert_null(strstr(err, "sentinel-secret"));
		free(err);
	}
	oidc_free(&o);
	free(iss);
}

static struct oidc_mapping *
email_mapping(void)
{
	struct config cfg;
	struct oidc_mapping *m = NULL;
	char *err = NULL;

	memset(&cfg, 0, sizeof(cfg));
	if (oidc_mapping_new(&cfg, &m, &err) != 0)
		fail_msg("mapping: %s", err);
	return m;
}

static void
userinfo_fills_missing(void **state)
{
	char *iss = issuer_of("mail"), *err = NULL, *reply;
	struct oidc_mapping *m = email_mapping();
	struct oidc_identity *id = NULL;
	struct oidc *o;

	(void)state;
	setup_world();
	o = rp_new(iss, 5, 0, NULL);
	reply = fresh_token_reply(NULL, "{\"name\":\"From ID token\"}");
	srv_set("/application/o/token/", 200, reply, 0);
	srv_set("/application/o/userinfo/", 200,
	    "{\"sub\":\"user-1\",\"email\":\"Alice@Example.org\","
	    "\"name\":\"From userinfo\",\"iss\":\"http://evil/\"}",
	    0);
	assert_int_equal(finish(o, m, &id, &err), MG_OK);
	assert_string_equal(
	    srv_auth("/application/o/userinfo/"), "Bearer AT-sentinel");
	assert_string_equal(
	    json_string_value(json_object_get(id->claims, "email")),
	    "Alice@Example.org");
	assert_string_equal(
	    json_string_value(json_object_get(id->claims, "name")),
	    "From ID token");
	assert_string_equal(
	    json_string_value(json_object_get(id->claims, "iss")), iss);
	oidc_identity_free(&id);

	/* sub mismatch, error status, signed userinfo: refused. */
	srv_set("/application/o/userinfo/", 200,
	    "{\"sub\":\"user-2\",\"email\":\"a@b.org\"}", 0);
	assert_int_equal(finish(o, m, &id, &err), MG_PERMFAIL);
	assert_non_null(strstr(err, "sub differs"));
	free(err);
	srv_set("/application/o/userinfo/", 200, "{\"email\":\"a@b.org\"}", 0);
	assert_int_equal(finish(o, m, &id, &err), MG_PERMFAIL);
	assert_non_null(strstr(err, "userinfo: no sub"));
	free(err);
	srv_set("/application/o/userinfo/", 401, "{}", 0);
	assert_int_equal(finish(o, m, &id, &err), MG_PERMFAIL);
	free(err);
	srv_set("/application/o/userinfo/", 503, "{}", 0);
	assert_int_equal(finish(o, m, &id, &err), MG_TEMPFAIL);
	free(err);

	/* The ID token has email: no userinfo request at all. */
	free(reply);
	reply = fresh_token_reply(NULL, "{\"email\":\"a@b.org\"}");
	srv_set("/application/o/token/", 200, reply, 0);
	assert_int_equal(finish(o, m, &id, &err), MG_OK);
	oidc_identity_free(&id);

	oidc_mapping_free(&m);
	oidc_free(&o);
	free(reply);
	free(iss);
}

static void
end_session(void **state)
{
	char *iss = issuer_of("mail"), *err = NULL, *u, *want;
	struct secret *hint = secret_from("a.b.c", 5);
	struct oidc *o;

	(void)state;
	setup_world();
	o = rp_new(iss, 5, 0, NULL);
	assert_null(oidc_end_session_url(o, hint, NULL)); /* nothing cached */
	assert_int_equal(oidc_refresh(o, &err), MG_OK);
	u = oidc_end_session_url(o, hint, "https://m.example/bye");
	want = xasprintf("http://127.0.0.1:%u/application/o/mail/end/"
			 "?client_id=mail%%20client&id_token_hint=a.b.c"
			 "&post_logout_redirect_uri=https%%3A%%2F%%2F"
			 "m.example%%2Fbye",
	    srv.port);
	assert_string_equal(u, want);
	free(u);
	free(want);
	secret_free(&hint);
	oidc_free(&o);
	free(iss);
}

static void
new_rejects_bad_params(void **state)
{
	static const char *const none[] = { "RS256", "none" };
	static const char *const odd[] = { "RS257" };
	struct secret *sec = secret_from("x", 1);
	struct oidc_params p;
	struct oidc *o = NULL;
	char *err = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < 8; i++) {
		memset(&p, 0, sizeof(p));
		p.issuer = "https://id.example/application/o/m/";
		p.client_id = "c";
		p.client_secret = sec;
		p.redirect_uri = "https://m.example/callback";
		p.http_timeout = 5;
		switch (i) {
		case 0:
			p.issuer = "ftp://id.example/";
			break;
		case 1:
			p.issuer = NULL;
			break;
		case 2:
			p.client_id = "";
			break;
		case 3:
			p.client_secret = NULL;
			break;
		case 4:
			p.token_auth_method = "private_key_jwt";
			break;
		case 5:
			p.clock_skew = 301;
			break;
		case 6:
			p.allowed_algs = none;
			p.allowed_algs_count = 2;
			break;
		default:
			p.allowed_algs = odd;
			p.allowed_algs_count = 1;
			break;
		}
		if (oidc_new(&p, &o, &err) != -1)
			fail_msg("case %zu accepted", i);
		assert_non_null(err);
		free(err);
		err = NULL;
	}
	secret_free(&sec);
}

/* An https issuer whose document names an http endpoint is refused. */
static void
discovery_https_issuer_http_endpoint(void **state)
{
	static const char *const fields[] = { "authorization_endpoint",
		"token_endpoint", "jwks_uri", "userinfo_endpoint",
		"end_session_endpoint" };
	struct secret *sec = secret_from("x", 1);
	struct oidc_disco *d = NULL;
	struct oidc_params p;
	struct oidc *o = NULL;
	char *err = NULL, *body;
	json_t *doc;
	size_t i, j;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.issuer = "https://id.example/application/o/m/";
	p.client_id = "c";
	p.client_secret = sec;
	p.redirect_uri = "https://m.example/callback";
	p.http_timeout = 5;
	assert_int_equal(oidc_new(&p, &o, &err), 0);
	for (i = 0; i <= MG_N_ELEMENTS(fields); i++) {
		doc = json_pack("{s:s}", "issuer", p.issuer);
		for (j = 0; j < MG_N_ELEMENTS(fields); j++)
			json_object_set_new(doc, fields[j],
			    json_string(i == j ? "http://id.example/x/" :
						 "https://id.example/x/"));
		body = json_dumps(doc, 0);
		json_decref(doc);
		err = NULL;
		d = NULL;
		if (i == MG_N_ELEMENTS(fields)) {
			/* all https: accepted */
			assert_int_equal(oidc_discovery_parse(
					     o, body, strlen(body), &d, &err),
			    MG_OK);
			assert_false(d->iss_parameter);
			oidc_discovery_free(d);
			free(body);
			/* RFC 9207's flag is read */
			doc = json_pack("{s:s,s:s,s:s,s:s,s:b}", "issuer",
			    p.issuer, "authorization_endpoint",
			    "https://id.example/a/", "token_endpoint",
			    "https://id.example/t/", "jwks_uri",
			    "https://id.example/j/",
			    "authorization_response_iss_parameter_supported",
			    1);
			body = json_dumps(doc, 0);
			json_decref(doc);
			d = NULL;
			assert_int_equal(oidc_discovery_parse(
					     o, body, strlen(body), &d, &err),
			    MG_OK);
			assert_true(d->iss_parameter);
			oidc_discovery_free(d);
		} else {
			assert_int_equal(oidc_discovery_parse(
					     o, body, strlen(body), &d, &err),
			    MG_PERMFAIL);
			assert_null(d);
			assert_non_null(err);
			if (strstr(err, fields[i]) == NULL ||
			    strstr(err, "http://id.example/x/") == NULL ||
			    strstr(err, "https") == NULL)
				fail_msg("%s: %s", fields[i], err);
			free(err);
		}
		free(body);
	}
	oidc_free(&o);
	secret_free(&sec);
}

/* Every failing flow above, again, with stderr captured: no secret. */
static void
no_secret_in_logs(void **state)
{
	static const char *const sentinels[] = { "CODE-sentinel",
		"VERIFIER-sentinel", "sentinel-secret", "AT-sentinel", "eyJ" };
	char path[] = "/tmp/mg-o-log-XXXXXX", buf[65536];
	int fd, saved;
	ssize_t n;
	size_t i;

	saved = dup(2);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	(void)dup2(fd, 2);
	token_exchange_cases(state);
	userinfo_fills_missing(state);
	jwks_rotation(state);
	(void)fflush(stderr);
	(void)dup2(saved, 2);
	close(saved);
	(void)lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(path);
	assert_true(n >= 0);
	buf[n] = '\0';
	for (i = 0; i < MG_N_ELEMENTS(sentinels); i++)
		if (strstr(buf, sentinels[i]) != NULL)
			fail_msg("log holds %s", sentinels[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(b64url_strict),
		cmocka_unit_test(pkce_rfc7636_vector),
		cmocka_unit_test(new_rejects_bad_params),
		cmocka_unit_test(discovery_url_forms),
		cmocka_unit_test(discovery_happy_and_cached),
		cmocka_unit_test(discovery_cases),
		cmocka_unit_test(discovery_field_cases),
		cmocka_unit_test(discovery_trailing_slash),
		cmocka_unit_test(discovery_https_issuer_http_endpoint),
		cmocka_unit_test(huge_documents),
		cmocka_unit_test(jwks_cases),
		cmocka_unit_test(jwks_skips_bad_keys),
		cmocka_unit_test(jwks_rotation),
		cmocka_unit_test(verify_cases),
		cmocka_unit_test(verify_shapes),
		cmocka_unit_test(threads_share_one_rp),
		cmocka_unit_test(login_url),
		cmocka_unit_test(callback_helpers),
		cmocka_unit_test(token_exchange_basic),
		cmocka_unit_test(token_exchange_post),
		cmocka_unit_test(token_exchange_cases),
		cmocka_unit_test(userinfo_fills_missing),
		cmocka_unit_test(end_session),
		cmocka_unit_test(no_secret_in_logs),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
