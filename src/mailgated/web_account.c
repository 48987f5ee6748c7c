/* SPDX-License-Identifier: MIT */
/*
 * web_account.c - the account page: the mailbox, its app passwords, a
 * form to create one and buttons to revoke them.
 * Input: form bodies from signed-in browsers (CSRF-checked first) and
 * rows from our database; everything shown is HTML-escaped. A new token
 * is shown once on the answer to its POST (Cache-Control: no-store) and
 * then wiped; it is never stored, logged or shown again.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "mailgate/log.h"
#include "mailgate/parse.h"
#include "mailgate/store.h"
#include "mailgate/xmalloc.h"

#include "http_private.h"

static const struct {
	const char *name;
	const char *label;
	bool checked; /* preselected on the form */
} web_account_scopes[] = {
	{ "imap", "IMAP (read mail)", true },
	{ "smtp", "SMTP (send mail)", true },
	{ "submission", "Submission (send mail, port 587)", true },
	{ "pop3", "POP3", false },
	{ "sieve", "Sieve (mail filters)", false },
};

static const struct {
	const char *value;
	const char *label;
	int64_t secs; /* 0 = never */
} web_account_expiries[] = {
	{ "30d", "30 days", INT64_C(30) * 86400 },
	{ "90d", "90 days", INT64_C(90) * 86400 },
	{ "365d", "1 year", INT64_C(365) * 86400 },
	{ "never", "Never", 0 },
};

static void
web_account_hidden_csrf(struct http_req *req, struct http_buf *b)
{
	http_buf_add(b, "<input type=\"hidden\" name=\"csrf\" value=\"");
	http_buf_esc(b, req->csrf);
	http_buf_add(b, "\">\n");
}

static void
web_account_signed_out(struct http_reply *rep)
{
	http_html_begin(&rep->body, "Mail account");
	http_buf_add(&rep->body,
	    "<section>\n<p>Sign in with your organisation's account to "
	    "manage the app passwords your mail programs use.</p>\n"
	    "<p><a class=\"button\" href=\"/login\">Sign in</a></p>\n"
	    "</section>\n");
	http_html_end(&rep->body);
}

static void
web_account_time(struct http_buf *b, int64_t t, const char *none)
{
	char when[32];

	if (t == 0) {
		http_buf_esc(b, none);
		return;
	}
	/* "2026-01-01T12:30:00Z" -> "2026-01-01 12:30 UTC" */
	format_time(t, when, sizeof(when));
	if (strlen(when) == 20) {
		when[10] = ' ';
		memcpy(when + 16, " UTC", 5);
	}
	http_buf_esc(b, when);
}

static void
web_account_token_row(
    struct http_req *req, struct http_buf *b, const struct store_token *t)
{
	char scopes[64];

	(void)token_scopes_format(t->scopes, scopes, sizeof(scopes));
	http_buf_add(b, "<tr><td data-label=\"Label\">");
	http_buf_esc(b, t->label[0] != '\0' ? t->label : "(no label)");
	http_buf_add(b, "</td><td data-label=\"Services\">");
	http_buf_esc(b, scopes);
	http_buf_add(b, "</td><td data-label=\"Created\">");
	web_account_time(b, t->created_at, "");
	http_buf_add(b, "</td><td data-label=\"Last used\">");
	web_account_time(b, t->last_used_at, "never");
	http_buf_add(b, "</td><td data-label=\"Expires\">");
	web_account_time(b, t->expires_at, "never");
	http_buf_add(b,
	    "</td><td><form class=\"inline\" method=\"post\" "
	    "action=\"/tokens/revoke\">\n");
	web_account_hidden_csrf(req, b);
	http_buf_add(b, "<input type=\"hidden\" name=\"id\" value=\"");
	http_buf_esc(b, t->id);
	http_buf_add(b,
	    "\">\n<button class=\"danger\" type=\"submit\" "
	    "aria-label=\"Revoke ");
	http_buf_esc(b, t->label);
	http_buf_add(b, "\">Revoke</button></form></td></tr>\n");
}

static void
web_account_tokens(struct http_req *req, struct http_buf *b)
{
	struct store_token *list = NULL;
	size_t n = 0, i;
	char *err = NULL;

	http_buf_add(b,
	    "<section aria-labelledby=\"tokens\">\n"
	    "<h2 id=\"tokens\">App passwords</h2>\n");
	if (store_token_list(http_db(req), req->session.mailbox, false, &list,
		&n, &err) != STORE_OK) {
		log_err("web: token list failed: %s", err);
		free(err);
		http_buf_add(b,
		    "<p>Your app passwords cannot be listed right "
		    "now. Try again shortly.</p>\n</section>\n");
		return;
	}
	if (n == 0) {
		http_buf_add(b,
		    "<p class=\"muted\">You have no app passwords "
		    "yet.</p>\n");
	} else {
		http_buf_add(b,
		    "<table>\n<thead><tr><th scope=\"col\">Label"
		    "</th><th scope=\"col\">Services</th>"
		    "<th scope=\"col\">Created</th><th scope="
		    "\"col\">Last used</th><th scope=\"col\">"
		    "Expires</th><th scope=\"col\"><span "
		    "class=\"muted\">Action</span></th></tr>"
		    "</thead>\n<tbody>\n");
		for (i = 0; i < n; i++)
			web_account_token_row(req, b, &list[i]);
		http_buf_add(b, "</tbody>\n</table>\n");
	}
	free(list);
	http_buf_add(b, "</section>\n");
}

static bool
web_account_mfa_missing(struct http_req *req)
{
	return req->h->cfg->mapping.require_mfa && !req->session.mfa;
}

/*
 * Whether the sign-in is older than [http] token_reauth. Group rules are
 * checked at the provider only when signing in, so a token may be made
 * only shortly after one: a person removed from a required group cannot
 * sign in again, and so cannot make tokens once the window has passed.
 */
static bool
web_account_signin_stale(struct http_req *req)
{
	int64_t max = req->h->cfg->http.token_reauth;

	if (max <= 0)
		max = 900;
	return daemon_now() - req->session.created_at > max;
}

/* Why no token may be made in this session now, or NULL. */
static const char *
web_account_cannot_create(struct http_req *req)
{
	if (web_account_mfa_missing(req))
		return "no_mfa";
	if (web_account_signin_stale(req))
		return "stale_signin";
	return NULL;
}

/* The paragraph that replaces the form, for either reason. */
static void
web_account_cannot_create_text(struct http_buf *b, const char *why)
{
	if (strcmp(why, "no_mfa") == 0) {
		http_buf_add(b,
		    "<p class=\"notice\">Creating app passwords "
		    "needs a sign-in with a second factor. Sign "
		    "out, then sign in again using your second "
		    "factor.</p>\n");
		return;
	}
	http_buf_add(b,
	    "<p class=\"notice\">Creating an app password needs a "
	    "recent sign-in, so that your identity provider can confirm "
	    "you may still use mail.</p>\n<p><a class=\"button\" "
	    "href=\"/login?return_to=%2F\">Sign in again</a></p>\n");
}

static void
web_account_create_form(struct http_req *req, struct http_buf *b)
{
	const char *why = web_account_cannot_create(req);
	int64_t max = req->h->cfg->tokens.max_expiry;
	size_t i;

	http_buf_add(b,
	    "<section aria-labelledby=\"create\">\n"
	    "<h2 id=\"create\">Create an app password</h2>\n");
	if (why != NULL) {
		web_account_cannot_create_text(b, why);
		http_buf_add(b, "</section>\n");
		return;
	}
	http_buf_add(b, "<form method=\"post\" action=\"/tokens\">\n");
	web_account_hidden_csrf(req, b);
	http_buf_add(b,
	    "<label for=\"label\">Label (which program or "
	    "device)</label>\n<input type=\"text\" id=\"label\" "
	    "name=\"label\" maxlength=\"100\" required "
	    "placeholder=\"Thunderbird on my laptop\">\n"
	    "<fieldset>\n<legend>Services</legend>\n");
	for (i = 0; i < MG_N_ELEMENTS(web_account_scopes); i++) {
		http_buf_add(b,
		    "<label><input type=\"checkbox\" "
		    "name=\"scope\" value=\"");
		http_buf_add(b, web_account_scopes[i].name);
		http_buf_add(
		    b, web_account_scopes[i].checked ? "\" checked> " : "\"> ");
		http_buf_esc(b, web_account_scopes[i].label);
		http_buf_add(b, "</label>\n");
	}
	http_buf_add(b,
	    "</fieldset>\n<label for=\"expiry\">Expires after"
	    "</label>\n<select id=\"expiry\" name=\"expiry\">\n");
	for (i = 0; i < MG_N_ELEMENTS(web_account_expiries); i++) {
		if (max > 0 &&
		    (web_account_expiries[i].secs == 0 ||
			web_account_expiries[i].secs > max))
			continue;
		http_buf_add(b, "<option value=\"");
		http_buf_add(b, web_account_expiries[i].value);
		http_buf_add(b, i == 2 ? "\" selected>" : "\">");
		http_buf_esc(b, web_account_expiries[i].label);
		http_buf_add(b, "</option>\n");
	}
	http_buf_add(b,
	    "</select>\n<p><button type=\"submit\">Create app "
	    "password</button></p>\n</form>\n</section>\n");
}

void
web_account_page(struct http_req *req, struct http_reply *rep)
{
	struct http_buf *b = &rep->body;

	rep->status = MHD_HTTP_OK;
	switch (web_session_lookup(req)) {
	case WEB_SESSION_LIVE:
		break;
	case WEB_SESSION_TEMPFAIL:
		web_session_trouble(rep);
		return;
	case WEB_SESSION_NONE:
		web_account_signed_out(rep);
		return;
	}
	http_html_begin(b, "Mail account");
	if (req->session.notice[0] != '\0') {
		http_buf_add(b, "<p class=\"notice\" role=\"status\">");
		http_buf_esc(b, req->session.notice);
		http_buf_add(b, "</p>\n");
	}
	http_buf_add(b,
	    "<section aria-labelledby=\"mailbox\">\n<h2 "
	    "id=\"mailbox\">Mailbox</h2>\n<p>Signed in as "
	    "<strong>");
	http_buf_esc(b, req->session.mailbox);
	http_buf_add(b,
	    "</strong></p>\n<form class=\"inline\" "
	    "method=\"post\" action=\"/logout\">\n");
	web_account_hidden_csrf(req, b);
	http_buf_add(b,
	    "<button class=\"secondary\" type=\"submit\">Sign "
	    "out</button>\n</form>\n</section>\n");
	web_account_tokens(req, b);
	web_account_create_form(req, b);
	http_html_end(b);
}

/* Read label, scopes and expiry from the form; NULL or a user message. */
static const char *
web_account_read_form(struct http_req *req, char label[TOKEN_LABEL_MAX + 1],
    unsigned int *scopes_r, int64_t *expires_r)
{
	const char *body = req->body.p, *errstr;
	int64_t max = req->h->cfg->tokens.max_expiry, secs = -1;
	char v[32];
	unsigned int one, mask = 0;
	size_t pos = 0, i;
	int r;

	if (http_form_get(body, req->body.len, "label", label,
		TOKEN_LABEL_MAX + 1) != 0 ||
	    label[0] == '\0')
		return "Give the app password a label of at most 100 "
		       "characters, so you can recognise it later.";
	while ((r = http_form_next(
		    body, req->body.len, "scope", &pos, v, sizeof(v))) == 0) {
		if (token_scopes_parse(v, &one, &errstr) < 0)
			return "Unknown service selected.";
		mask |= one;
	}
	if (r == -2 || mask == 0)
		return "Choose at least one service.";
	if (http_form_get(body, req->body.len, "expiry", v, sizeof(v)) != 0)
		return "Choose when the app password expires.";
	for (i = 0; i < MG_N_ELEMENTS(web_account_expiries); i++) {
		if (strcmp(v, web_account_expiries[i].value) == 0)
			secs = web_account_expiries[i].secs;
	}
	if (secs < 0 || (max > 0 && (secs == 0 || secs > max)))
		return "That expiry is not allowed here.";
	*scopes_r = mask;
	*expires_r = secs == 0 ? 0 : daemon_now() + secs;
	return NULL;
}

static void
web_account_show_token(struct http_req *req, struct http_reply *rep,
    const struct secret *tok, const char *label)
{
	struct http_buf *b = &rep->body;

	rep->status = MHD_HTTP_OK;
	http_html_begin(b, "Your new app password");
	http_buf_add(b,
	    "<section>\n<p class=\"notice\" role=\"status\">Copy "
	    "it into your mail program now: it is shown only "
	    "this once and cannot be shown again.</p>\n<p>");
	http_buf_esc(b, label);
	http_buf_add(b, ":</p>\n<code class=\"token\" id=\"token\">");
	/* Token alphabet is [0-9A-Za-z_]; escaped all the same. */
	http_buf_esc(b, (const char *)tok->buf);
	http_buf_add(b,
	    "</code>\n</section>\n<section aria-labelledby="
	    "\"settings\">\n<h2 id=\"settings\">Settings for "
	    "your mail program</h2>\n<table>\n<tbody>\n"
	    "<tr><th scope=\"row\">User name</th><td>");
	http_buf_esc(b, req->session.mailbox);
	http_buf_add(b,
	    "</td></tr>\n<tr><th scope=\"row\">Password</th>"
	    "<td>the app password above</td></tr>\n"
	    "<tr><th scope=\"row\">Incoming (IMAP)</th><td>");
	http_buf_esc(b, req->h->mail_host);
	http_buf_add(b,
	    ", port 993, SSL/TLS</td></tr>\n<tr><th scope="
	    "\"row\">Outgoing (SMTP)</th><td>");
	http_buf_esc(b, req->h->mail_host);
	http_buf_add(b,
	    ", port 465 SSL/TLS or 587 STARTTLS</td></tr>\n"
	    "</tbody>\n</table>\n<p class=\"muted\">If your "
	    "administrator gave you other server names, use "
	    "those.</p>\n</section>\n<p><a href=\"/\">Back to your "
	    "account</a></p>\n");
	http_html_end(b);
}

/* No token now: one log line, one audit row, and what to do. */
static void
web_account_refuse_create(struct http_req *req, struct http_reply *rep)
{
	const char *why = web_account_cannot_create(req);
	char actor[ACTOR_MAX + 1], *err = NULL, *json;
	struct db *db;
	json_t *o;

	log_info("web: event=token_issue result=refused reason=%s "
		 "mailbox=%s ip=%s",
	    why, log_safe(req->session.mailbox, 64), req->ip);
	(void)snprintf(actor, sizeof(actor), "web:%s", req->session.mailbox);
	o = json_pack("{s:s, s:s}", "reason", why, "ip", req->ip);
	json = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	db = http_db(req);
	if (db != NULL &&
	    store_audit_append(db,
		&(const struct store_audit_event){ .actor = actor,
		    .action = "web.token_refused",
		    .mailbox = req->session.mailbox },
		json, &err) != STORE_OK) {
		log_err("web: audit failed: %s", err);
		free(err);
	}
	free(json);
	json_decref(o);

	rep->status = MHD_HTTP_FORBIDDEN;
	http_html_begin(&rep->body, "App password not created");
	web_account_cannot_create_text(&rep->body, why);
	http_buf_add(
	    &rep->body, "<p><a href=\"/\">Back to your account</a></p>\n");
	http_html_end(&rep->body);
}

void
web_account_token_create(struct http_req *req, struct http_reply *rep)
{
	char label[TOKEN_LABEL_MAX + 1], actor[ACTOR_MAX + 1];
	struct store_token_request tr = { 0 };
	struct store_token_issued issued = { 0 };
	const char *bad;
	char *err = NULL;
	enum store_result r;

	if (!web_session_post_ok(req, rep))
		return;
	if (web_account_cannot_create(req) != NULL) {
		web_account_refuse_create(req, rep);
		return;
	}
	bad = web_account_read_form(req, label, &tr.scopes, &tr.expires_at);
	if (bad != NULL) {
		http_reply_message(
		    rep, MHD_HTTP_BAD_REQUEST, "App password not created", bad);
		return;
	}
	tr.address = req->session.mailbox;
	tr.label = label;
	(void)snprintf(actor, sizeof(actor), "web:%s", req->session.mailbox);
	(void)pthread_rwlock_rdlock(&req->h->kr_lock);
	r = store_token_create(
	    http_db(req), req->h->kr, actor, &tr, &issued, &err);
	(void)pthread_rwlock_unlock(&req->h->kr_lock);
	if (r != STORE_OK) {
		log_warn("web: event=token_issue result=%s mailbox=%s error=%s",
		    store_result_str(r), log_safe(req->session.mailbox, 64),
		    log_safe(err, 300));
		free(err);
		http_reply_message(rep, r == STORE_INVALID ? 400 : 503,
		    "App password not created",
		    r == STORE_INVALID ?
			"That label or choice is not allowed." :
			"The service is having trouble. Try "
			"again shortly.");
		return;
	}
	log_info("web: event=token_issue result=ok token_id=%s mailbox=%s "
		 "ip=%s",
	    issued.id, log_safe(req->session.mailbox, 64), req->ip);
	web_account_show_token(req, rep, issued.token, label);
	secret_free(&issued.token);
}

void
web_account_token_revoke(struct http_req *req, struct http_reply *rep)
{
	char id[TOKEN_ID_LEN + 2], actor[ACTOR_MAX + 1];
	bool changed = false;
	char *err = NULL;
	enum store_result r;

	if (!web_session_post_ok(req, rep))
		return;
	if (http_form_get(req->body.p, req->body.len, "id", id, sizeof(id)) !=
		0 ||
	    !token_id_valid(id)) {
		http_reply_message(rep, MHD_HTTP_BAD_REQUEST, "Not revoked",
		    "No such app password.");
		return;
	}
	(void)snprintf(actor, sizeof(actor), "web:%s", req->session.mailbox);
	r = store_token_revoke_one(http_db(req),
	    &(const struct store_token_revocation){ .actor = actor,
		.public_id = id,
		.address = req->session.mailbox,
		.reason = "revoked on the account page" },
	    &changed, &err);
	if (r == STORE_NOT_FOUND) {
		log_info(
		    "web: event=token_revoke result=refused reason=not_own "
		    "token_id=%s mailbox=%s ip=%s",
		    id, log_safe(req->session.mailbox, 64), req->ip);
		free(err);
		http_reply_message(rep, MHD_HTTP_NOT_FOUND, "Not revoked",
		    "No such app password.");
		return;
	}
	if (r != STORE_OK) {
		log_err("web: event=token_revoke result=tempfail error=%s",
		    log_safe(err, 300));
		free(err);
		http_reply_message(rep, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "Not revoked",
		    "The service is having trouble. Try again "
		    "shortly.");
		return;
	}
	log_info("web: event=token_revoke result=ok token_id=%s mailbox=%s "
		 "changed=%d ip=%s",
	    id, log_safe(req->session.mailbox, 64), changed ? 1 : 0, req->ip);
	http_reply_redirect(req, rep, MHD_HTTP_SEE_OTHER, "/");
}
