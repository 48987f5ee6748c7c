/* SPDX-License-Identifier: MIT */
/*
 * oidc_login.c - the authorisation code flow: the login URL with state,
 * nonce and PKCE S256; the callback's checks; the code traded at the
 * token endpoint; userinfo for claims the ID token lacks.
 * Input: the code from the browser and the token endpoint's answer,
 * hostile until verified. The code, the verifier, the client secret and
 * the tokens are never logged nor quoted in an error, not even when the
 * provider echoes them in its error_description.
 */
#include "oidc_private.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "mailgate/log.h"
#include "mailgate/parse.h"
#include "mailgate/xmalloc.h"

/* A growable string for URLs and form bodies; wiped when freed. */
struct oidc_login_buf {
	char *p;
	size_t len;
};

static void
oidc_login_buf_add(
    struct oidc_login_buf *b, const char *name, const char *value, size_t vlen)
{
	char *enc = oidc_http_encode(value, vlen);
	size_t nl = strlen(name), el = strlen(enc);
	char *p = xmalloc(b->len + nl + el + 3);

	if (b->len > 0)
		memcpy(p, b->p, b->len);
	if (b->p != NULL) {
		secret_wipe(b->p, b->len);
		free(b->p);
	}
	b->p = p;
	if (b->len > 0)
		b->p[b->len++] = '&';
	memcpy(b->p + b->len, name, nl);
	b->len += nl;
	b->p[b->len++] = '=';
	memcpy(b->p + b->len, enc, el + 1);
	b->len += el;
	secret_wipe(enc, el);
	free(enc);
}

static void
oidc_login_buf_str(
    struct oidc_login_buf *b, const char *name, const char *value)
{
	oidc_login_buf_add(b, name, value, strlen(value));
}

static void
oidc_login_buf_free(struct oidc_login_buf *b)
{
	if (b->p != NULL) {
		secret_wipe(b->p, b->len);
		free(b->p);
	}
	b->p = NULL;
	b->len = 0;
}

/* 32 bytes from the CSPRNG as 43 base64url characters. */
static void
oidc_login_random(char out[44])
{
	unsigned char raw[32];

	secret_random(raw, sizeof(raw));
	(void)base64url_encode(raw, sizeof(raw), out);
	secret_wipe(raw, sizeof(raw));
}

enum mg_result
oidc_login_begin(
    struct oidc *oidc, struct oidc_login **login_r, char **errstr_r)
{
	struct oidc_login_buf q = { NULL, 0 };
	char challenge[OIDC_CHALLENGE_LEN + 1], verifier[OIDC_VERIFIER_LEN + 1];
	struct oidc_disco *d = NULL;
	struct oidc_login *l;
	enum mg_result ret;

	ret = oidc_discovery_get(oidc, &d, errstr_r);
	if (ret != MG_OK)
		return ret;

	l = xcalloc(1, sizeof(*l));
	oidc_login_random(l->state);
	oidc_login_random(l->nonce);
	oidc_login_random(verifier);
	l->code_verifier = secret_from(verifier, OIDC_VERIFIER_LEN);
	oidc_pkce_challenge(verifier, OIDC_VERIFIER_LEN, challenge);
	secret_wipe(verifier, sizeof(verifier));

	oidc_login_buf_str(&q, "response_type", "code");
	oidc_login_buf_str(&q, "client_id", oidc->client_id);
	oidc_login_buf_str(&q, "redirect_uri", oidc->redirect_uri);
	oidc_login_buf_str(&q, "scope", oidc->scopes);
	oidc_login_buf_str(&q, "state", l->state);
	oidc_login_buf_str(&q, "nonce", l->nonce);
	oidc_login_buf_str(&q, "code_challenge", challenge);
	oidc_login_buf_str(&q, "code_challenge_method", "S256");
	l->url = xasprintf("%s%s%s", d->authorization_endpoint,
	    strchr(d->authorization_endpoint, '?') != NULL ? "&" : "?", q.p);
	oidc_login_buf_free(&q);
	oidc_discovery_put(oidc, &d);
	*login_r = l;
	return MG_OK;
}

void
oidc_login_free(struct oidc_login **loginp)
{
	struct oidc_login *l;

	if (loginp == NULL || *loginp == NULL)
		return;
	l = *loginp;
	free(l->url);
	secret_free(&l->code_verifier);
	secret_wipe(l, sizeof(*l));
	free(l);
	*loginp = NULL;
}

char *
oidc_callback_error(const char *error, const char *error_description)
{
	if (error_description == NULL || error_description[0] == '\0')
		return xasprintf("the provider refused the login: %s",
		    log_safe(error != NULL ? error : "unknown", 64));
	return xasprintf("the provider refused the login: %s: %s",
	    log_safe(error != NULL ? error : "unknown", 64),
	    log_safe(error_description, OIDC_PEER_TEXT_MAX));
}

enum mg_result
oidc_callback_check_iss(struct oidc *oidc, const char *iss, char **errstr_r)
{
	struct oidc_disco *d = NULL;
	char *err = NULL;
	bool required;

	if (iss == NULL) {
		/*
		 * Without discovery the code cannot be traded either, so
		 * that failure is left to oidc_login_finish(), which says
		 * what went wrong.
		 */
		if (oidc_discovery_get(oidc, &d, &err) != MG_OK) {
			free(err);
			return MG_OK;
		}
		required = d->iss_parameter;
		oidc_discovery_put(oidc, &d);
		if (!required)
			return MG_OK;
		*errstr_r = xstrdup("callback has no iss, but the provider's "
				    "discovery says it sends one "
				    "(authorization_response_iss_parameter_"
				    "supported; RFC 9207): a mix-up attack or "
				    "a meddled answer");
		return MG_PERMFAIL;
	}
	if (strcmp(iss, oidc->issuer) == 0)
		return MG_OK;
	*errstr_r = xasprintf("callback iss %s is not the configured issuer "
			      "(mix-up attack or misconfiguration)",
	    log_safe(iss, 300));
	return MG_PERMFAIL;
}

void
oidc_identity_free(struct oidc_identity **idp)
{
	struct oidc_identity *id;

	if (idp == NULL || *idp == NULL)
		return;
	id = *idp;
	free(id->issuer);
	free(id->subject);
	json_decref(id->claims);
	secret_free(&id->id_token);
	free(id);
	*idp = NULL;
}

bool
oidc_login_amr_mfa(const json_t *claims)
{
	const json_t *amr = json_object_get(claims, "amr"), *v;
	size_t i;

	if (!json_is_array(amr))
		return false;
	json_array_foreach(amr, i, v)
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), "mfa") == 0)
			return true;
	return false;
}

/* Whether s contains the secret bytes (the provider echoed them). */
static bool
oidc_login_echoes(const char *s, const struct secret *sec)
{
	size_t n = strlen(s), i;

	if (sec == NULL || sec->len == 0 || sec->len > n)
		return false;
	for (i = 0; i + sec->len <= n; i++)
		if (memcmp(s + i, sec->buf, sec->len) == 0)
			return true;
	return false;
}

/* The token endpoint said no: quote error and description, safely. */
static char *
oidc_login_token_error(const struct oidc *oidc, const json_t *doc, long status,
    const struct secret *code, const struct secret *verifier)
{
	const char *err = json_string_value(json_object_get(doc, "error"));
	const char *desc =
	    json_string_value(json_object_get(doc, "error_description"));

	if (err == NULL)
		return xasprintf("token endpoint answered HTTP %ld", status);
	if (desc != NULL &&
	    (oidc_login_echoes(desc, code) ||
		oidc_login_echoes(desc, verifier) ||
		oidc_login_echoes(desc, oidc->client_secret)))
		desc = "(withheld: it quoted a secret)";
	return xasprintf("token endpoint refused the code: %s%s%s",
	    log_safe(err, 64), desc != NULL ? ": " : "",
	    desc != NULL ? log_safe(desc, OIDC_PEER_TEXT_MAX) : "");
}

/* grant_type=authorization_code&code&redirect_uri&code_verifier[...] */
static void
oidc_login_token_body(const struct oidc *oidc, const struct secret *code,
    const struct secret *verifier, struct oidc_login_buf *body)
{
	oidc_login_buf_str(body, "grant_type", "authorization_code");
	oidc_login_buf_add(body, "code", (const char *)code->buf, code->len);
	oidc_login_buf_str(body, "redirect_uri", oidc->redirect_uri);
	oidc_login_buf_add(
	    body, "code_verifier", (const char *)verifier->buf, verifier->len);
	if (oidc->auth_method == OIDC_AUTH_POST) {
		oidc_login_buf_str(body, "client_id", oidc->client_id);
		oidc_login_buf_add(body, "client_secret",
		    (const char *)oidc->client_secret->buf,
		    oidc->client_secret->len);
	}
}

/* A string member that must be there and not be empty. */
static const char *
oidc_login_member(const json_t *doc, const char *name)
{
	const json_t *v = json_object_get(doc, name);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	return json_string_value(v);
}

/* The strict reading of a 200 answer: bearer, access and ID token. */
static enum mg_result
oidc_login_token_reply(const json_t *doc, struct secret **access_r,
    struct secret **idt_r, char **errstr_r)
{
	const char *type = oidc_login_member(doc, "token_type");
	const char *at = oidc_login_member(doc, "access_token");
	const char *idt = oidc_login_member(doc, "id_token");

	if (type == NULL || strcasecmp(type, "bearer") != 0) {
		*errstr_r = xstrdup("token endpoint: token_type is not "
				    "Bearer");
		return MG_PERMFAIL;
	}
	if (at == NULL) {
		*errstr_r = xstrdup("token endpoint: no access_token");
		return MG_PERMFAIL;
	}
	if (idt == NULL) {
		*errstr_r = xstrdup("token endpoint: no id_token (is the "
				    "openid scope requested?)");
		return MG_PERMFAIL;
	}
	if (strlen(idt) > JWT_MAX || strlen(at) > IDP_RESPONSE_MAX / 2) {
		*errstr_r = xstrdup("token endpoint: token too large");
		return MG_PERMFAIL;
	}
	*access_r = secret_from(at, strlen(at));
	*idt_r = secret_from(idt, strlen(idt));
	return MG_OK;
}

/* What the token endpoint hands out; both owned. */
struct oidc_login_tokens {
	struct secret *access;
	struct secret *id_token;
};

static enum mg_result
oidc_login_exchange(struct oidc *oidc, const struct oidc_disco *d,
    const struct oidc_callback *cb, struct oidc_login_tokens *tok_r,
    char **errstr_r)
{
	const struct secret *code = cb->code, *verifier = cb->code_verifier;
	struct oidc_login_buf body = { NULL, 0 };
	struct oidc_http_req req = { 0 };
	struct oidc_http_reply reply = { 0 };
	char *user = NULL, *pass = NULL;
	enum mg_result ret;
	json_t *doc = NULL;

	oidc_login_token_body(oidc, code, verifier, &body);
	req.url = d->token_endpoint;
	req.body = body.p;
	req.what = "token endpoint";
	if (oidc->auth_method == OIDC_AUTH_BASIC) {
		/* RFC 6749 2.3.1: form-encode both before Basic. */
		user =
		    oidc_http_encode(oidc->client_id, strlen(oidc->client_id));
		pass = oidc_http_encode((const char *)oidc->client_secret->buf,
		    oidc->client_secret->len);
		req.basic_user = user;
		req.basic_pass = pass;
	}
	ret = oidc_http_fetch(oidc, &req, &reply, errstr_r);
	if (ret != MG_OK)
		goto out;
	if (reply.status >= 500) {
		*errstr_r =
		    xasprintf("token endpoint answered HTTP %ld", reply.status);
		ret = MG_TEMPFAIL;
		goto out;
	}
	doc = oidc_http_json(reply.body, reply.len, "token endpoint", errstr_r);
	if (doc == NULL) {
		ret = MG_PERMFAIL;
		goto out;
	}
	if (reply.status != 200) {
		*errstr_r = oidc_login_token_error(
		    oidc, doc, reply.status, code, verifier);
		ret = MG_PERMFAIL;
		goto out;
	}
	ret = oidc_login_token_reply(
	    doc, &tok_r->access, &tok_r->id_token, errstr_r);
out:
	json_decref(doc);
	oidc_http_reply_clear(&reply);
	oidc_login_buf_free(&body);
	if (pass != NULL)
		secret_wipe(pass, strlen(pass));
	free(user);
	free(pass);
	return ret;
}

static struct oidc_identity *
oidc_login_identity(const struct oidc *oidc, json_t *claims, struct secret *idt)
{
	struct oidc_identity *id = xcalloc(1, sizeof(*id));

	id->issuer = xstrdup(oidc->issuer);
	id->subject =
	    xstrdup(json_string_value(json_object_get(claims, "sub")));
	(void)oidc_claims_time(claims, "exp", &id->exp);
	if (oidc_claims_time(claims, "auth_time", &id->auth_time) < 0)
		id->auth_time = 0;
	id->mfa = oidc_login_amr_mfa(claims);
	id->claims = claims;
	id->id_token = idt;
	return id;
}

enum mg_result
oidc_login_finish(struct oidc *oidc, const struct oidc_mapping *mapping,
    const struct oidc_callback *cb, struct oidc_identity **id_r,
    char **errstr_r)
{
	struct oidc_login_tokens tok = { NULL, NULL };
	struct oidc_disco *d = NULL;
	json_t *claims = NULL;
	enum mg_result ret;

	MG_ASSERT(cb->nonce != NULL);
	if (cb->code->len == 0 || cb->code->len > IDP_RESPONSE_MAX / 4) {
		*errstr_r = xstrdup("callback: the code is empty or too long");
		return MG_PERMFAIL;
	}
	ret = oidc_discovery_get(oidc, &d, errstr_r);
	if (ret != MG_OK)
		return ret;
	ret = oidc_login_exchange(oidc, d, cb, &tok, errstr_r);
	if (ret != MG_OK)
		goto out;
	ret = oidc_verify_id_token(oidc, (const char *)tok.id_token->buf,
	    tok.id_token->len, cb->nonce, (int64_t)time(NULL), &claims,
	    errstr_r);
	if (ret != MG_OK)
		goto out;
	if (mapping != NULL && d->userinfo_endpoint != NULL &&
	    oidc_mapping_wants_userinfo(mapping, claims)) {
		ret =
		    oidc_userinfo_merge(oidc, d, tok.access, claims, errstr_r);
		if (ret != MG_OK)
			goto out;
	}
	*id_r = oidc_login_identity(oidc, claims, tok.id_token);
	claims = NULL;
	tok.id_token = NULL;
out:
	json_decref(claims);
	secret_free(&tok.access);
	secret_free(&tok.id_token);
	oidc_discovery_put(oidc, &d);
	return ret;
}
