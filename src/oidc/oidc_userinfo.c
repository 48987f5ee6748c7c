/* SPDX-License-Identifier: MIT */
/*
 * oidc_userinfo.c - the userinfo endpoint, asked with the access token
 * when the ID token lacks a claim the mapping reads (providers that keep
 * email or groups out of ID tokens).
 * Input: the userinfo answer, hostile: its sub must equal the verified
 * ID token's, and it only fills claims the ID token lacks; the signed
 * ID token always wins. Never logs the access token.
 */
#include "oidc_private.h"

#include <string.h>

#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

/* Claims about the token itself: only the ID token may set them. */
static const char *const oidc_userinfo_reserved[] = {
	"iss",
	"sub",
	"aud",
	"exp",
	"iat",
	"nbf",
	"nonce",
	"azp",
	"amr",
	"acr",
	"auth_time",
	"at_hash",
	"c_hash",
	"sid",
	"jti",
};

static bool
oidc_userinfo_is_reserved(const char *name)
{
	size_t i;

	for (i = 0; i < MG_N_ELEMENTS(oidc_userinfo_reserved); i++)
		if (strcmp(name, oidc_userinfo_reserved[i]) == 0)
			return true;
	return false;
}

static enum mg_result
oidc_userinfo_check(const json_t *doc, const json_t *claims, char **errstr_r)
{
	const char *sub = json_string_value(json_object_get(doc, "sub"));
	const char *want = json_string_value(json_object_get(claims, "sub"));

	if (sub == NULL) {
		*errstr_r = xstrdup("userinfo: no sub");
		return MG_PERMFAIL;
	}
	MG_ASSERT(want != NULL); /* the ID token was verified */
	if (strcmp(sub, want) != 0) {
		*errstr_r = xstrdup("userinfo: sub differs from the ID "
				    "token's");
		return MG_PERMFAIL;
	}
	return MG_OK;
}

enum mg_result
oidc_userinfo_merge(struct oidc *oidc, const struct oidc_disco *disco,
    const struct secret *access_token, json_t *claims, char **errstr_r)
{
	struct oidc_http_req req = { 0 };
	struct oidc_http_reply reply = { 0 };
	enum mg_result ret;
	const char *name;
	json_t *doc = NULL, *v;

	req.url = disco->userinfo_endpoint;
	req.bearer = access_token;
	req.what = "userinfo";
	ret = oidc_http_fetch(oidc, &req, &reply, errstr_r);
	if (ret != MG_OK)
		goto out;
	if (reply.status != 200) {
		*errstr_r =
		    xasprintf("userinfo answered HTTP %ld", reply.status);
		ret = reply.status >= 500 ? MG_TEMPFAIL : MG_PERMFAIL;
		goto out;
	}
	if (reply.content_type != NULL &&
	    strcmp(reply.content_type, "application/jwt") == 0) {
		*errstr_r = xstrdup("userinfo is signed (application/jwt): "
				    "mailgate reads plain JSON userinfo only");
		ret = MG_PERMFAIL;
		goto out;
	}
	doc = oidc_http_json(reply.body, reply.len, "userinfo", errstr_r);
	if (doc == NULL) {
		ret = MG_PERMFAIL;
		goto out;
	}
	ret = oidc_userinfo_check(doc, claims, errstr_r);
	if (ret != MG_OK)
		goto out;
	json_object_foreach(doc, name, v)
		if (!oidc_userinfo_is_reserved(name) &&
		    json_object_get(claims, name) == NULL)
			(void)json_object_set(claims, name, v);
out:
	json_decref(doc);
	oidc_http_reply_clear(&reply);
	return ret;
}
