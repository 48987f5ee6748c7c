/* SPDX-License-Identifier: MIT */
/*
 * web_session.c - session cookies, CSRF tokens and sign-out.
 * Input: the Cookie, Origin and Sec-Fetch-Site headers and form bodies
 * of any browser, so hostile. The cookie carries only a random id of 256
 * bits; the database holds its SHA-256. The CSRF token is an HMAC keyed
 * with that id, so it needs no storage and no shared server secret, and
 * cannot be turned back into the id. Never logs a cookie or token.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mailgate/log.h"
#include "mailgate/parse.h"
#include "mailgate/secret.h"
#include "mailgate/store.h"
#include "mailgate/xmalloc.h"

#include "http_private.h"

#define WEB_SESSION_CSRF_LABEL "mailgate web csrf v1"

static bool
web_session_id_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= HTTP_SESSION_ID_LEN)
			return false;
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
			s[i] == '_'))
			return false;
	}
	return i == HTTP_SESSION_ID_LEN;
}

void
web_session_csrf(const char *session_id, char out[HTTP_CSRF_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	(void)HMAC(EVP_sha256(), session_id, (int)strlen(session_id),
	    (const unsigned char *)WEB_SESSION_CSRF_LABEL,
	    sizeof(WEB_SESSION_CSRF_LABEL) - 1, mac, &maclen);
	MG_ASSERT(maclen == 32);
	(void)base64url_encode(mac, 32, out);
	secret_wipe(mac, sizeof(mac));
}

char *
web_session_cookie(
    const struct http *h, const char *name, const char *value, int64_t max_age)
{
	(void)h;
	/*
	 * __Host-: Secure, Path=/ and no Domain, so no other host or path
	 * can set or shadow it. Browsers accept Secure cookies on plain
	 * http only from localhost/127.0.0.1 (the tests).
	 */
	return xasprintf("%s=%s; Path=/; Max-Age=%lld; Secure; HttpOnly; "
			 "SameSite=Lax",
	    name, value, (long long)max_age);
}

/* [http] session_idle; a config built by hand may leave it 0. */
static int64_t
web_session_idle(const struct http *h)
{
	return h->cfg->http.session_idle > 0 ? h->cfg->http.session_idle : 1800;
}

/*
 * Look the cookie's session up. WEB_SESSION_LIVE when a live session for
 * an enabled mailbox is loaded into req; WEB_SESSION_NONE when there is
 * no cookie or its session is dead, unknown or disabled; and
 * WEB_SESSION_TEMPFAIL when the database could not tell (the session may
 * well be live: never treat that as signed out). With a well-formed
 * cookie, req->csrf and req->session_hash are set in every case.
 */
enum web_session_state
web_session_lookup(struct http_req *req)
{
	const char *id = http_cookie(req, HTTP_SESSION_COOKIE);
	struct db *db;
	char *err = NULL;
	enum mg_result r;

	if (id == NULL || !web_session_id_valid(id))
		return WEB_SESSION_NONE;
	web_store_hash(id, HTTP_SESSION_ID_LEN, req->session_hash);
	web_session_csrf(id, req->csrf);
	db = http_db(req);
	if (db == NULL)
		return WEB_SESSION_TEMPFAIL;
	r = web_store_session_touch(db, req->session_hash,
	    web_session_idle(req->h), &req->session, &err);
	if (r == MG_TEMPFAIL) {
		log_err("web: session lookup failed: %s", log_safe(err, 300));
		free(err);
		return WEB_SESSION_TEMPFAIL;
	}
	free(err);
	if (r != MG_OK)
		return WEB_SESSION_NONE;
	if (!req->session.mailbox_enabled) {
		log_info("web: event=session result=refused reason=disabled "
			 "mailbox=%s ip=%s",
		    log_safe(req->session.mailbox, 64), req->ip);
		return WEB_SESSION_NONE;
	}
	req->have_session = true;
	return WEB_SESSION_LIVE;
}

bool
web_session_load(struct http_req *req)
{
	return web_session_lookup(req) == WEB_SESSION_LIVE;
}

void
web_session_trouble(struct http_reply *rep)
{
	http_reply_message(rep, MHD_HTTP_SERVICE_UNAVAILABLE,
	    "Try again shortly",
	    "The service is having trouble reaching its database. You are "
	    "still signed in: try again in a moment.");
}

enum mg_result
web_session_create(struct http_req *req, const struct web_session_new *sn,
    char id_r[HTTP_SESSION_ID_LEN + 1])
{
	unsigned char raw[32], hash[WEB_STORE_HASH_LEN];
	char id[HTTP_SESSION_ID_LEN + 1];
	struct db *db = http_db(req);
	char *err = NULL;
	enum mg_result r;

	if (db == NULL)
		return MG_TEMPFAIL;
	secret_random(raw, sizeof(raw));
	(void)base64url_encode(raw, sizeof(raw), id);
	secret_wipe(raw, sizeof(raw));
	web_store_hash(id, HTTP_SESSION_ID_LEN, hash);
	r = web_store_session_create(db, hash, sn, &err);
	if (r != MG_OK) {
		log_err("web: session not created: %s", err);
		free(err);
		secret_wipe(id, sizeof(id));
		return MG_TEMPFAIL;
	}
	memcpy(id_r, id, sizeof(id));
	secret_wipe(id, sizeof(id));
	return MG_OK;
}

/* Origin or Sec-Fetch-Site, when the browser sends them, must agree. */
static bool
web_session_same_origin(struct http_req *req, const char **why_r)
{
	const char *origin = http_header(req, "Origin");
	const char *site = http_header(req, "Sec-Fetch-Site");

	/*
	 * Under "Referrer-Policy: no-referrer" browsers send "Origin: null"
	 * on our own form posts: that proves nothing either way, so
	 * Sec-Fetch-Site and the CSRF token decide.
	 */
	if (origin != NULL && strcmp(origin, "null") != 0 &&
	    strcmp(origin, req->h->origin) != 0) {
		*why_r = "origin";
		return false;
	}
	if (site != NULL && strcmp(site, "same-origin") != 0 &&
	    strcmp(site, "none") != 0) {
		*why_r = "sec_fetch_site";
		return false;
	}
	return true;
}

static bool web_session_csrf_ok(struct http_req *req, struct http_reply *rep);

/* Origin/Sec-Fetch-Site; a 403 page when the form came from elsewhere. */
static bool
web_session_origin_ok(struct http_req *req, struct http_reply *rep)
{
	const char *why = NULL;

	if (!web_session_same_origin(req, &why)) {
		log_info("web: event=csrf result=refused reason=%s ip=%s", why,
		    req->ip);
		http_reply_message(rep, MHD_HTTP_FORBIDDEN, "Request refused",
		    "This form was sent from another site. Open your account "
		    "page and try again.");
		return false;
	}
	return true;
}

bool
web_session_post_ok(struct http_req *req, struct http_reply *rep)
{
	if (!web_session_origin_ok(req, rep))
		return false;
	switch (web_session_lookup(req)) {
	case WEB_SESSION_LIVE:
		break;
	case WEB_SESSION_TEMPFAIL:
		web_session_trouble(rep);
		return false;
	case WEB_SESSION_NONE:
		http_reply_message(rep, MHD_HTTP_FORBIDDEN, "Signed out",
		    "Your session has ended. Sign in again.");
		return false;
	}
	return web_session_csrf_ok(req, rep);
}

/* The form's csrf field against req->csrf; a 403 page when it differs. */
static bool
web_session_csrf_ok(struct http_req *req, struct http_reply *rep)
{
	char csrf[HTTP_CSRF_LEN + 2];

	if (http_form_get(
		req->body.p, req->body.len, "csrf", csrf, sizeof(csrf)) != 0 ||
	    strlen(csrf) != HTTP_CSRF_LEN ||
	    !secret_mem_equal(csrf, req->csrf, HTTP_CSRF_LEN)) {
		log_info("web: event=csrf result=refused reason=token "
			 "mailbox=%s ip=%s",
		    log_safe(req->session.mailbox, 64), req->ip);
		http_reply_message(rep, MHD_HTTP_FORBIDDEN, "Request refused",
		    "This form has expired. Open your account page and try "
		    "again.");
		return false;
	}
	return true;
}

/*
 * The cookie is cleared in every answer that gets past the form checks,
 * so the browser is signed out even when the database is not reachable;
 * the page then says that the session could not be ended on the server.
 */
void
web_session_logout(struct http_req *req, struct http_reply *rep)
{
	char actor[ACTOR_MAX + 1];
	enum web_session_state st;
	struct db *db;
	char *err = NULL;

	if (!web_session_origin_ok(req, rep))
		return;
	st = web_session_lookup(req);
	if (st == WEB_SESSION_NONE) {
		http_reply_add_cookie(rep,
		    web_session_cookie(req->h, HTTP_SESSION_COOKIE, "", 0));
		http_reply_message(rep, MHD_HTTP_FORBIDDEN, "Signed out",
		    "Your session has ended. Sign in again.");
		return;
	}
	/* With TEMPFAIL the token is still checked: it needs no database. */
	if (!web_session_csrf_ok(req, rep))
		return;
	http_reply_add_cookie(
	    rep, web_session_cookie(req->h, HTTP_SESSION_COOKIE, "", 0));
	db = http_db(req);
	if (db == NULL ||
	    web_store_session_delete(db, req->session_hash, &err) != MG_OK) {
		log_err("web: event=logout result=tempfail ip=%s error=%s",
		    req->ip, log_safe(err, 300));
		free(err);
		http_reply_message(rep, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "Signed out in this browser only",
		    "This browser no longer holds your session, but the "
		    "service is having trouble reaching its database and "
		    "could not end the session on the server. It ends by "
		    "itself when left unused. To end it now, sign in again "
		    "later and sign out.");
		return;
	}
	if (st == WEB_SESSION_TEMPFAIL) {
		/* The lookup failed, the delete worked: nothing to audit. */
		log_info("web: event=logout ip=%s", req->ip);
		http_reply_redirect(req, rep, MHD_HTTP_SEE_OTHER, "/");
		http_html_begin(&rep->body, "Signed out");
		http_html_end(&rep->body);
		return;
	}
	(void)snprintf(actor, sizeof(actor), "web:%s", req->session.mailbox);
	if (store_audit_append(db,
		&(const struct store_audit_event){ .actor = actor,
		    .action = "web.logout",
		    .mailbox = req->session.mailbox },
		NULL, &err) != STORE_OK) {
		log_err("web: audit failed: %s", err);
		free(err);
	}
	log_info("web: event=logout mailbox=%s ip=%s",
	    log_safe(req->session.mailbox, 64), req->ip);
	http_reply_redirect(req, rep, MHD_HTTP_SEE_OTHER, "/");
	http_html_begin(&rep->body, "Signed out");
	http_html_end(&rep->body);
}

void
web_session_purge(struct http_req *req)
{
	struct http *h = req->h;
	unsigned int states = 0, sessions = 0;
	double now = http_ms();
	struct db *db;
	char *err = NULL;
	bool due;

	(void)pthread_mutex_lock(&h->pool_lock);
	due = now >= h->purge_due_ms;
	if (due)
		h->purge_due_ms = now + HTTP_PURGE_INTERVAL * 1000.0;
	(void)pthread_mutex_unlock(&h->pool_lock);
	if (!due)
		return;
	db = http_db(req);
	if (db == NULL)
		return;
	if (web_store_purge(
		db, web_session_idle(h), &states, &sessions, &err) != MG_OK) {
		log_warn("web: event=purge result=tempfail error=%s",
		    log_safe(err, 300));
		free(err);
		return;
	}
	if (states > 0 || sessions > 0)
		log_info("web: event=purge login_states=%u sessions=%u", states,
		    sessions);
}
