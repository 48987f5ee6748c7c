/* SPDX-License-Identifier: MIT */
/*
 * web_login.c - GET /login and GET /callback: the authorisation code
 * flow, the identity link, and the start of a session.
 * Input: query parameters the provider (or anyone) puts in the callback
 * URL, so hostile; each is bounded by WEB_CALLBACK_PARAM_MAX. The state
 * is bound to the browser that began the flow by a short-lived cookie
 * holding the same value, compared first, and then single use
 * (DELETE ... RETURNING).
 * Never logs a code, state, nonce, verifier, cookie or token; each
 * sign-in, good or bad, is one info line and one audit row.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "mailgate/log.h"
#include "mailgate/secret.h"
#include "mailgate/store.h"
#include "mailgate/xmalloc.h"

#include "http_private.h"

/*
 * Sign-in flows one client address may have in progress (each a row in
 * web_login_states for WEB_LOGIN_TTL). A person needs one or two; the
 * bound keeps anonymous /login requests from filling the table, and
 * lives in the database, so it holds across instances.
 */
#define WEB_LOGIN_PER_IP_MAX 50

/* Everything one callback learns, for the log, the audit row, the page. */
struct web_login {
	struct http_req *req;
	struct http_reply *rep;
	struct db *db;
	struct web_login_state st;
	struct oidc_identity *id;
	struct oidc_mapped mapped;
	char mailbox[ADDRESS_MAX + 1];
	int64_t mailbox_id;
	char notice[WEB_NOTICE_MAX + 1];
	double idp_ms;
};

void
web_login_begin(struct http_req *req, struct http_reply *rep)
{
	const char *rt = http_arg(req, "return_to");
	unsigned char hash[WEB_STORE_HASH_LEN];
	struct oidc_login *lg = NULL;
	struct web_login_new ln;
	enum mg_result r;
	struct db *db;
	char *err = NULL;

	if (rt != NULL && !http_html_return_to_ok(rt)) {
		log_info(
		    "web: event=login_begin return_to=ignored ip=%s", req->ip);
		rt = NULL;
	}
	if (oidc_login_begin(req->h->oidc, &lg, &err) != MG_OK) {
		log_warn("web: event=login_begin result=tempfail error=%s",
		    log_safe(err, 300));
		free(err);
		http_reply_message(rep, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "Sign-in unavailable",
		    "Your identity provider cannot be reached right now. "
		    "Try again in a few minutes.");
		return;
	}
	web_store_hash(lg->state, strlen(lg->state), hash);
	ln.nonce = lg->nonce;
	ln.verifier = lg->code_verifier;
	ln.return_to = rt;
	ln.ttl = WEB_LOGIN_TTL;
	ln.ip = req->ip;
	ln.max_per_ip = WEB_LOGIN_PER_IP_MAX;
	db = http_db(req);
	r = db != NULL ? web_store_login_put(db, hash, &ln, &err) : MG_TEMPFAIL;
	if (r == MG_PERMFAIL) {
		log_warn("web: event=login_begin result=refused "
			 "reason=too_many_states ip=%s error=%s",
		    req->ip, log_safe(err, 300));
		free(err);
		http_reply_message(rep, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "Too many sign-ins",
		    "Too many sign-ins have been started from your network "
		    "and not finished. Finish one, or wait ten minutes, "
		    "then try again.");
		oidc_login_free(&lg);
		return;
	}
	if (r != MG_OK) {
		log_err("web: event=login_begin result=tempfail error=%s",
		    err != NULL ? err : "no database");
		free(err);
		http_reply_message(rep, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "Sign-in unavailable",
		    "The service is having trouble. Try again shortly.");
		oidc_login_free(&lg);
		return;
	}
	http_reply_add_cookie(rep,
	    web_session_cookie(
		req->h, HTTP_LOGIN_COOKIE, lg->state, WEB_LOGIN_TTL));
	http_reply_redirect(req, rep, MHD_HTTP_FOUND, lg->url);
	oidc_login_free(&lg);
	web_session_purge(req);
}

/* The audit row of a sign-in that failed, whatever the reason. */
static void
web_login_audit_failed(struct web_login *wl, const char *reason)
{
	const char *sub = wl->id != NULL ? wl->id->subject : NULL;
	const char *mbox = wl->mailbox[0] != '\0' ? wl->mailbox : NULL;
	char *err = NULL, *json;
	json_t *o;

	o = json_pack("{s:s, s:s, s:s*}", "reason", reason, "ip", wl->req->ip,
	    "sub", sub);
	json = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	if (wl->db != NULL &&
	    store_audit_append(wl->db,
		&(const struct store_audit_event){ .actor = "web",
		    .action = "web.login_failed",
		    .mailbox = mbox },
		json, &err) != STORE_OK) {
		log_err("web: audit failed: %s", err);
		free(err);
	}
	free(json);
	json_decref(o);
}

/* A refused sign-in: one log line, one audit row, one clear page. */
static void
web_login_refuse(struct web_login *wl, unsigned int status, const char *reason,
    const char *detail, const char *message)
{
	const char *sub = wl->id != NULL ? wl->id->subject : NULL;
	const char *mbox = wl->mailbox[0] != '\0' ? wl->mailbox : NULL;
	struct http_reply *rep = wl->rep;

	log_info("web: event=login result=refused reason=%s ip=%s sub=%s "
		 "mailbox=%s detail=%s",
	    reason, wl->req->ip, log_safe(sub, 64), log_safe(mbox, 64),
	    log_safe(detail, 300));
	web_login_audit_failed(wl, reason);

	rep->status = status;
	http_html_begin(&rep->body, "Sign-in failed");
	http_buf_add(&rep->body, "<p>");
	http_buf_esc(&rep->body, message);
	http_buf_add(&rep->body,
	    "</p>\n<p><a href=\"/login\">Sign in "
	    "again</a></p>\n");
	http_html_end(&rep->body);
}

/*
 * A sign-in that could not be finished now. The provider's trouble gets
 * an audit row too; the database's cannot (it is the one in trouble).
 */
static void
web_login_tempfail(struct web_login *wl, const char *what, const char *err)
{
	log_err("web: event=login result=tempfail step=%s ip=%s error=%s", what,
	    wl->req->ip, log_safe(err, 300));
	if (strcmp(what, "token") == 0)
		web_login_audit_failed(wl, "provider_unavailable");
	http_reply_message(wl->rep, MHD_HTTP_SERVICE_UNAVAILABLE,
	    "Sign-in unavailable",
	    "The service or your identity provider is having trouble. "
	    "Try again in a few minutes.");
}

/*
 * The state: present, begun in this browser, known, fresh and unused.
 * The browser binding is checked first: a callback URL from anywhere
 * else (a cross-site link, say) neither consumes the state nor clears
 * the cookie of a sign-in in progress. Only a state that matches the
 * cookie is taken, and only then is the cookie cleared.
 */
static bool
web_login_take_state(struct web_login *wl, const char *state)
{
	unsigned char hash[WEB_STORE_HASH_LEN];
	const char *cookie = http_cookie(wl->req, HTTP_LOGIN_COOKIE);
	enum web_login_miss miss = WEB_LOGIN_MISS_NONE;
	char *err = NULL;
	enum mg_result r;

	if (state == NULL || state[0] == '\0') {
		web_login_refuse(wl, MHD_HTTP_BAD_REQUEST, "missing_state",
		    NULL, "This address is not a sign-in answer. Start again.");
		return false;
	}
	if (cookie == NULL || strlen(cookie) != strlen(state) ||
	    !secret_mem_equal(cookie, state, strlen(state))) {
		web_login_refuse(wl, MHD_HTTP_BAD_REQUEST, "browser_mismatch",
		    NULL,
		    "This sign-in was started in another browser or "
		    "window, or was finished already. Start again here.");
		return false;
	}
	web_store_hash(state, strlen(state), hash);
	r = web_store_login_take(wl->db, hash, &wl->st, &miss, &err);
	if (r == MG_TEMPFAIL) { /* nothing taken: the same answer may retry */
		web_login_tempfail(wl, "state", err);
		free(err);
		return false;
	}
	http_reply_add_cookie(
	    wl->rep, web_session_cookie(wl->req->h, HTTP_LOGIN_COOKIE, "", 0));
	if (r != MG_OK) {
		web_login_refuse(wl, MHD_HTTP_BAD_REQUEST,
		    miss == WEB_LOGIN_MISS_EXPIRED ? "expired_state" :
						     "unknown_state",
		    NULL,
		    "This sign-in is no longer valid: it was used already, "
		    "took too long, or was not started here. Start again.");
		return false;
	}
	return true;
}

/*
 * What a person refused by the [mapping] rules reads. The rule itself
 * (group names, allowed domains, claim names) stays in the log line:
 * it is the administrator's configuration, not the user's business.
 */
static const char *
web_login_map_message(enum oidc_map_reason why)
{
	switch (why) {
	case OIDC_MAP_MISSING_GROUP:
	case OIDC_MAP_DOMAIN_NOT_ALLOWED:
		return "Your account may not use mail here. If you think it "
		       "should, ask your administrator.";
	case OIDC_MAP_EMAIL_NOT_VERIFIED:
		return "Your identity provider has not confirmed your e-mail "
		       "address. Confirm it there, then sign in again.";
	case OIDC_MAP_OK:
	case OIDC_MAP_NO_ADDRESS_CLAIM:
	case OIDC_MAP_BAD_CLAIM_VALUE:
	case OIDC_MAP_BAD_ADDRESS:
	case OIDC_MAP_BAD_GROUPS_CLAIM:
		break;
	}
	return "Your identity provider did not give a usable mail address "
	       "for your account. Tell your administrator.";
}

/* Trade the code and verify the ID token; then map the claims. */
static bool
web_login_verify(struct web_login *wl, const char *code, const char *iss)
{
	struct oidc_callback cb;
	struct secret *c;
	char *err = NULL, *msg = NULL;
	enum oidc_map_reason why;
	enum mg_result r;
	double t0;

	if (oidc_callback_check_iss(wl->req->h->oidc, iss, &err) != MG_OK) {
		web_login_refuse(wl, MHD_HTTP_BAD_REQUEST, "wrong_iss", err,
		    "The answer came from the wrong identity provider.");
		free(err);
		return false;
	}
	c = secret_from(code, strlen(code));
	cb.code = c;
	cb.code_verifier = wl->st.verifier;
	cb.nonce = wl->st.nonce;
	t0 = http_ms();
	r = oidc_login_finish(
	    wl->req->h->oidc, wl->req->h->map, &cb, &wl->id, &err);
	wl->idp_ms = http_ms() - t0;
	secret_free(&c);
	if (r == MG_TEMPFAIL) {
		web_login_tempfail(wl, "token", err);
		free(err);
		return false;
	}
	if (r != MG_OK) {
		web_login_refuse(wl, MHD_HTTP_BAD_REQUEST, "token_refused", err,
		    "Your identity provider's answer could not be accepted. "
		    "Start again; if this keeps happening, tell your "
		    "administrator.");
		free(err);
		return false;
	}
	why = oidc_map(wl->req->h->map, wl->id->claims, &wl->mapped, &msg);
	if (why != OIDC_MAP_OK) {
		web_login_refuse(wl, MHD_HTTP_FORBIDDEN,
		    oidc_map_reason_str(why), msg, web_login_map_message(why));
		free(msg);
		return false;
	}
	return true;
}

/*
 * First sign-in of this identity: find or create the mailbox, link it,
 * but only to a mailbox no other identity is linked to. The e-mail claim
 * is not proof of owning the address (a user may edit it at the
 * provider), so a mailbox someone already signs in to is only linked to
 * a further identity by the administrator ("mailgate link add"):
 * STORE_EXISTS tells the caller so.
 */
static enum store_result
web_login_first(struct web_login *wl, char **errstr_r)
{
	const struct config *cfg = wl->req->h->cfg;
	const char *addr = wl->mapped.address;
	char actor[ACTOR_MAX + 1];
	struct store_mailbox mb;
	enum store_result r;

	(void)snprintf(actor, sizeof(actor), "web:%s", addr);
	r = store_mailbox_get(wl->db, addr, &mb, errstr_r);
	if (r == STORE_NOT_FOUND && cfg->mapping.create_mailboxes) {
		free(*errstr_r);
		*errstr_r = NULL;
		r = store_mailbox_add(wl->db, actor, addr, errstr_r);
		if (r == STORE_EXISTS) { /* another instance was quicker */
			free(*errstr_r);
			*errstr_r = NULL;
			r = STORE_OK;
		}
	}
	if (r != STORE_OK)
		return r;
	r = store_identity_link_first(
	    wl->db, actor, wl->id->issuer, wl->id->subject, addr, errstr_r);
	if (r == STORE_OK)
		log_info("web: event=link issuer=%s sub=%s mailbox=%s ip=%s",
		    log_safe(wl->id->issuer, 200),
		    log_safe(wl->id->subject, 64), log_safe(addr, 64),
		    wl->req->ip);
	return r;
}

/*
 * The identity's mailbox: the stored link wins. When the provider now
 * maps to another address we do not remap: sign-in continues to the
 * linked mailbox with a notice (docs/web.md, "Changed addresses").
 */
static bool
web_login_link(struct web_login *wl)
{
	struct store_mailbox mb;
	char *err = NULL;
	enum store_result r;
	bool enabled = false;

	r = store_identity_login(wl->db, wl->id->issuer, wl->id->subject,
	    wl->mailbox, &enabled, &err);
	if (r == STORE_NOT_FOUND) {
		free(err);
		err = NULL;
		r = web_login_first(wl, &err);
		if (r == STORE_EXISTS) {
			(void)snprintf(wl->mailbox, sizeof(wl->mailbox), "%s",
			    wl->mapped.address);
			web_login_refuse(wl, MHD_HTTP_FORBIDDEN,
			    "mailbox_linked", err,
			    "Your address belongs to a mailbox that another "
			    "account signs in to already, so your account was "
			    "not connected to it. Ask your administrator to "
			    "connect your account to the mailbox.");
			free(err);
			return false;
		}
		if (r == STORE_OK)
			r = store_identity_login(wl->db, wl->id->issuer,
			    wl->id->subject, wl->mailbox, &enabled, &err);
	}
	if (r == STORE_OK)
		r = store_mailbox_get(wl->db, wl->mailbox, &mb, &err);
	if (r == STORE_NOT_FOUND) {
		(void)snprintf(
		    wl->mailbox, sizeof(wl->mailbox), "%s", wl->mapped.address);
		web_login_refuse(wl, MHD_HTTP_FORBIDDEN, "no_mailbox", err,
		    "There is no mailbox for your address here. Ask your "
		    "administrator to create it.");
		free(err);
		return false;
	}
	if (r != STORE_OK) {
		web_login_tempfail(wl, "link", err);
		free(err);
		return false;
	}
	if (!mb.enabled) {
		web_login_refuse(wl, MHD_HTTP_FORBIDDEN, "mailbox_disabled",
		    NULL, "Your mailbox is disabled. Ask your administrator.");
		return false;
	}
	wl->mailbox_id = mb.id;
	if (strcmp(wl->mailbox, wl->mapped.address) != 0) {
		(void)snprintf(wl->notice, sizeof(wl->notice),
		    "Your identity provider now gives your address as %s, "
		    "but your sign-in is linked to the mailbox %s, so you are "
		    "signed in to %s. If the mailbox should change, ask your "
		    "administrator to relink it (\"mailgate link remove\", "
		    "then \"mailgate link add\").",
		    wl->mapped.address, wl->mailbox, wl->mailbox);
		log_warn("web: event=login address_changed=1 sub=%s "
			 "mailbox=%s provider_address=%s",
		    log_safe(wl->id->subject, 64), log_safe(wl->mailbox, 64),
		    log_safe(wl->mapped.address, 64));
	}
	return true;
}

static void
web_login_success(struct web_login *wl)
{
	struct http_req *req = wl->req;
	char id[HTTP_SESSION_ID_LEN + 1], actor[ACTOR_MAX + 1];
	struct web_session_new sn = { 0 };
	char *err = NULL, *json;
	json_t *o;

	sn.mailbox_id = wl->mailbox_id;
	sn.issuer = wl->id->issuer;
	sn.subject = wl->id->subject;
	sn.mfa = wl->mapped.mfa;
	sn.notice = wl->notice;
	sn.max_age = req->h->cfg->http.session_max > 0 ?
	    req->h->cfg->http.session_max :
	    43200;
	sn.ip = req->ip;
	if (web_session_create(req, &sn, id) != MG_OK) {
		web_login_tempfail(wl, "session", "session not created");
		return;
	}
	http_reply_add_cookie(wl->rep,
	    web_session_cookie(req->h, HTTP_SESSION_COOKIE, id, sn.max_age));
	secret_wipe(id, sizeof(id));

	(void)snprintf(actor, sizeof(actor), "web:%s", wl->mailbox);
	o = json_pack("{s:s, s:s, s:b}", "ip", req->ip, "sub", wl->id->subject,
	    "mfa", (int)wl->mapped.mfa);
	json = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	if (store_audit_append(wl->db,
		&(const struct store_audit_event){ .actor = actor,
		    .action = "web.login",
		    .mailbox = wl->mailbox },
		json, &err) != STORE_OK) {
		log_err("web: audit failed: %s", err);
		free(err);
	}
	free(json);
	json_decref(o);
	log_info("web: event=login result=ok mailbox=%s sub=%s mfa=%d ip=%s",
	    log_safe(wl->mailbox, 64), log_safe(wl->id->subject, 64),
	    wl->mapped.mfa ? 1 : 0, req->ip);
	http_reply_redirect(req, wl->rep, MHD_HTTP_SEE_OTHER,
	    wl->st.return_to[0] != '\0' ? wl->st.return_to : "/");
}

/* Every parameter the callback reads, each bounded. */
static bool
web_login_params_ok(struct http_req *req)
{
	static const char *const names[] = { "state", "code", "error",
		"error_description", "iss" };
	const char *v;
	size_t i;

	for (i = 0; i < MG_N_ELEMENTS(names); i++) {
		v = http_arg(req, names[i]);
		if (v != NULL && strlen(v) > WEB_CALLBACK_PARAM_MAX)
			return false;
	}
	return true;
}

void
web_login_callback(struct http_req *req, struct http_reply *rep)
{
	const char *error = http_arg(req, "error");
	const char *code = http_arg(req, "code");
	struct web_login wl = { 0 };
	char *msg;
	double t0 = http_ms();

	wl.req = req;
	wl.rep = rep;
	wl.db = http_db(req);
	if (wl.db == NULL) {
		web_login_tempfail(&wl, "database", "no connection");
		return;
	}
	if (!web_login_params_ok(req)) {
		web_login_refuse(&wl, MHD_HTTP_BAD_REQUEST, "oversized", NULL,
		    "This address is not a sign-in answer. Start again.");
		return;
	}
	if (!web_login_take_state(&wl, http_arg(req, "state")))
		goto out;
	if (error != NULL) {
		msg = oidc_callback_error(
		    error, http_arg(req, "error_description"));
		web_login_refuse(&wl, MHD_HTTP_FORBIDDEN, "provider_error", msg,
		    strcmp(error, "access_denied") == 0 ?
			"Your identity provider did not sign you in "
			"(access denied). Check your password and try again." :
			"Your identity provider could not sign you in. Try "
			"again; if this keeps happening, tell your "
			"administrator.");
		free(msg);
		goto out;
	}
	if (code == NULL || code[0] == '\0') {
		web_login_refuse(&wl, MHD_HTTP_BAD_REQUEST, "missing_code",
		    NULL, "This address is not a sign-in answer. Start again.");
		goto out;
	}
	if (web_login_verify(&wl, code, http_arg(req, "iss")) &&
	    web_login_link(&wl))
		web_login_success(&wl);
out:
	log_debug("web: callback ms=%.2f idp_ms=%.2f own_ms=%.2f",
	    http_ms() - t0, wl.idp_ms, http_ms() - t0 - wl.idp_ms);
	oidc_identity_free(&wl.id);
	web_login_state_deinit(&wl.st);
}
