/* SPDX-License-Identifier: MIT */
/*
 * authsock_req.c - one authentication request: PLAIN and LOGIN, the
 * token check (cache, else a database worker), the penalty delay and the
 * single reply. Input: decoded mechanism data from a hostile client.
 * Every decision is logged as one key=value line at info; the password
 * (token) is never logged, only its public id.
 *
 * Temporary failures and Postfix: Postfix 3.7 turns every FAIL, with or
 * without code=temp_fail, into "535 authentication failed"; only a
 * dropped connection makes it answer "454 4.7.0 Temporary
 * authentication failure". So a request whose client cannot express a
 * temporary failure gets its connection closed instead of a FAIL. We
 * recognise such a client by either sign, each of which Postfix 3.7
 * always gives and no Dovecot client (login processes, doveadm,
 * mailgate-checkpassword: VERSION 1 >= 1, no "nologin") does:
 *   - its handshake says VERSION 1 0 (Dovecot's own clients say 1.1+),
 *   - its AUTH carries the bare parameter "nologin".
 * Any other client gets FAIL code=temp_fail and keeps its connection.
 */
#include "authsock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

#define AUTHSOCK_B64_USERNAME "VXNlcm5hbWU6" /* "Username:" */
#define AUTHSOCK_B64_PASSWORD "UGFzc3dvcmQ6" /* "Password:" */

/* A token fetch on a database worker; outlives its request if need be. */
struct authsock_fetch {
	struct dbpool_job job;
	struct authsock *as;
	struct authsock_req *req; /* NULL once the request is gone */
	char id[TOKEN_ID_LEN + 1];
	uint64_t generation;
	enum mg_result res;
	struct token_record rec;
	char *errstr;
};

/* One batch of last uses on a database worker (a background job). */
struct authsock_touch {
	struct dbpool_job job;
	struct authsock *as;
	struct token_use *uses;
	size_t count;
	size_t written;
	enum mg_result res;
	char *errstr;
};

static const char *const authsock_result_names[] = {
	[AUTHSOCK_RESULT_OK] = "ok",
	[AUTHSOCK_RESULT_FAIL] = "fail",
	[AUTHSOCK_RESULT_TEMPFAIL] = "tempfail",
	[AUTHSOCK_RESULT_LOCKED] = "locked",
};

static void authsock_req_timer(struct evloop_timer *t);

struct authsock_req *
authsock_req_new(struct authsock_conn *conn, unsigned int id)
{
	struct authsock_req *req = xcalloc(1, sizeof(*req));

	req->conn = conn;
	req->id = id;
	req->started_ms = evloop_now_ms();
	evloop_timer_init(&req->timer, authsock_req_timer, req);
	evloop_timer_set(
	    conn->as->d->loop, &req->timer, AUTHSOCK_REQUEST_TIMEOUT_MS);
	req->next = conn->reqs;
	conn->reqs = req;
	conn->nreqs++;
	return req;
}

struct authsock_req *
authsock_req_find(struct authsock_conn *conn, unsigned int id)
{
	struct authsock_req *req;

	for (req = conn->reqs; req != NULL; req = req->next) {
		if (req->id == id)
			return req;
	}
	return NULL;
}

static bool
authsock_req_busy(const struct authsock_req *req)
{
	return req->state == AUTHSOCK_REQ_VERIFYING ||
	    req->state == AUTHSOCK_REQ_DELAYING;
}

static void
authsock_req_set_state(struct authsock_req *req, enum authsock_req_state state)
{
	struct authsock *as = req->conn->as;

	if (authsock_req_busy(req))
		as->busy--;
	req->state = state;
	if (authsock_req_busy(req))
		as->busy++;
}

void
authsock_req_free(struct authsock_req *req)
{
	struct authsock_conn *conn = req->conn;
	struct authsock_req **pp;

	for (pp = &conn->reqs; *pp != req; pp = &(*pp)->next)
		MG_ASSERT(*pp != NULL);
	*pp = req->next;
	conn->nreqs--;
	if (authsock_req_busy(req))
		conn->as->busy--;
	evloop_timer_cancel(conn->as->d->loop, &req->timer);
	if (req->fetch != NULL)
		req->fetch->req = NULL;
	secret_free(&req->pass);
	free(req->reply);
	free(req);
}

static void authsock_req_deadline(struct authsock_req *req);

/*
 * Free req, then send its final line: a failed write or a client that
 * does not read closes the connection, which frees every request, so req
 * is never touched after the send. The connection itself is freed only
 * after this loop iteration. line may be req->reply (taken over).
 */
static void
authsock_req_answer(struct authsock_req *req, const char *line)
{
	struct authsock_conn *conn = req->conn;
	char *copy = xstrdup(line);

	authsock_req_free(req);
	authsock_conn_send(conn, copy, strlen(copy));
	free(copy);
}

/*
 * The request's one timer: while waiting for the client it expires the
 * request silently (as Dovecot does); while verifying it is the database
 * deadline; while delaying it sends the FAIL.
 */
static void
authsock_req_timer(struct evloop_timer *t)
{
	struct authsock_req *req = t->ctx;

	switch (req->state) {
	case AUTHSOCK_REQ_DELAYING:
		authsock_req_answer(req, req->reply);
		break;
	case AUTHSOCK_REQ_VERIFYING:
		authsock_req_deadline(req);
		break;
	case AUTHSOCK_REQ_WANT_PLAIN:
	case AUTHSOCK_REQ_WANT_USER:
	case AUTHSOCK_REQ_WANT_PASS:
		log_debug("authsock: cuid=%u id=%u abandoned by the client",
		    req->conn->cuid, req->id);
		authsock_req_free(req);
		break;
	}
}

/* Copy s into a reply value: printable ASCII only, as Postfix expects. */
static void
authsock_req_printable(const char *s, char *out, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (char)(c > 0x20 && c < 0x7f ? c : '?');
	}
	out[i] = '\0';
}

static void
authsock_req_log(
    const struct authsock_req *req, enum authsock_result r, const char *reason)
{
	log_info("authsock: service=%s mailbox=%s rip=%s token_id=%s "
		 "result=%s reason=%s cuid=%u id=%u",
	    req->service[0] != '\0' ? log_safe(req->service, 16) : "-",
	    req->user_set ? log_safe(req->user, ADDRESS_MAX) : "-",
	    req->rip[0] != '\0' ? req->rip : "-",
	    req->token_id[0] != '\0' ? req->token_id : "-",
	    authsock_result_names[r], reason, req->conn->cuid, req->id);
}

/* Postfix-like: see the file comment. */
static bool
authsock_req_drop_on_tempfail(const struct authsock_req *req)
{
	return req->conn->minor == 0 || req->nologin;
}

/* FNV-1a over a public id: ids are random, so no seed is needed. */
static unsigned int
authsock_touch_hash(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h & (AUTHSOCK_TOUCH_SLOTS - 1);
}

/*
 * The waiting use of id, or a new entry for it; NULL when the batch is
 * full and the previous one is still being written.
 */
static struct token_use *
authsock_touch_slot(struct authsock *as, const char *id)
{
	unsigned int i = authsock_touch_hash(id);
	struct token_use *use;

	for (; as->use_slots[i] != 0;
	     i = (i + 1) & (AUTHSOCK_TOUCH_SLOTS - 1)) {
		use = &as->uses[as->use_slots[i] - 1];
		if (strcmp(use->id, id) == 0)
			return use;
	}
	if (as->nuses < AUTHSOCK_TOUCH_MAX) {
		as->use_slots[i] = (unsigned int)++as->nuses;
		use = &as->uses[as->nuses - 1];
		memcpy(use->id, id, sizeof(use->id));
		return use;
	}
	if (as->touch_inflight > 0)
		return NULL;
	authsock_touch_flush(as); /* empties the batch */
	return authsock_touch_slot(as, id);
}

/* Remember a successful use; the latest per token is written. */
static void
authsock_touch_note(struct authsock *as, const struct authsock_req *req,
    const struct token_record *rec)
{
	struct token_use *use = authsock_touch_slot(as, rec->id);

	if (use == NULL) {
		as->uses_dropped++;
		return;
	}
	use->at = daemon_now();
	memcpy(use->ip, req->rip, sizeof(use->ip));
	memcpy(use->service, req->service, sizeof(use->service));
	if (as->nuses == AUTHSOCK_TOUCH_MAX || as->stopping)
		authsock_touch_flush(as);
}

static void
authsock_req_ok(struct authsock_req *req, const struct token_record *rec)
{
	struct authsock *as = req->conn->as;
	char user[ADDRESS_MAX + 1], line[ADDRESS_MAX + 64];
	int n;

	penalty_success(as->penalty, req->rip, req->user, evloop_now_ms());
	authsock_touch_note(as, req, rec);

	authsock_req_printable(rec->mailbox, user, sizeof(user));
	n = snprintf(line, sizeof(line), "OK\t%u\tuser=%s\n", req->id, user);
	MG_ASSERT(n > 0 && (size_t)n < sizeof(line));
	authsock_req_answer(req, line);
}

/*
 * FAIL after the penalty delay, cut to what the clients' timeouts allow.
 * A refusal during a lockout (count false) is not a new failure: counting
 * it would extend the lockout for as long as a client keeps polling.
 */
static void
authsock_req_fail(struct authsock_req *req, const char *extra, bool count)
{
	struct authsock *as = req->conn->as;
	uint64_t now = evloop_now_ms(), delay, spent, jitter = 0;
	const char *mailbox = req->user_set ? req->user : NULL;
	char user[ADDRESS_MAX + 1];

	MG_ASSERT(!authsock_req_busy(req));
	delay = count ? penalty_fail(as->penalty, req->rip, mailbox, now) :
			penalty_delay(as->penalty, req->rip, mailbox, now);
	if (delay > 0) {
		secret_random(&jitter, sizeof(jitter));
		delay += jitter % (delay / 4 + 1);
	}
	spent = now - req->started_ms;
	if (spent + delay > AUTHSOCK_REPLY_BUDGET_MS)
		delay = spent < AUTHSOCK_REPLY_BUDGET_MS ?
		    AUTHSOCK_REPLY_BUDGET_MS - spent :
		    0;
	if (as->stopping)
		delay = 0;

	authsock_req_printable(
	    req->user_set ? req->user : "", user, sizeof(user));
	free(req->reply);
	req->reply = xasprintf("FAIL\t%u%s%s\t%s\n", req->id,
	    user[0] != '\0' ? "\tuser=" : "", user,
	    extra != NULL ? extra : "reason=" AUTHSOCK_MSG_FAILED);
	authsock_req_set_state(req, AUTHSOCK_REQ_DELAYING);
	evloop_timer_set(as->d->loop, &req->timer, delay);
}

static void
authsock_req_tempfail(struct authsock_req *req)
{
	struct authsock_conn *conn = req->conn;
	char line[128];
	int n;

	if (authsock_req_drop_on_tempfail(req)) {
		authsock_conn_close(conn,
		    "temporary failure for a client "
		    "that only understands EOF");
		return;
	}
	n = snprintf(line, sizeof(line),
	    "FAIL\t%u\tcode=temp_fail\treason=" AUTHSOCK_MSG_TEMP "\n",
	    req->id);
	MG_ASSERT(n > 0 && (size_t)n < sizeof(line));
	authsock_req_answer(req, line);
}

/* The one place a decision is logged and answered. */
static void
authsock_req_decide(struct authsock_req *req, enum authsock_result r,
    const char *reason, const struct token_record *rec)
{
	authsock_req_log(req, r, reason);
	switch (r) {
	case AUTHSOCK_RESULT_OK:
		authsock_req_ok(req, rec);
		break;
	case AUTHSOCK_RESULT_FAIL:
		authsock_req_fail(req, NULL, true);
		break;
	case AUTHSOCK_RESULT_LOCKED:
		authsock_req_fail(req, NULL, false);
		break;
	case AUTHSOCK_RESULT_TEMPFAIL:
		authsock_req_tempfail(req);
		break;
	}
}

void
authsock_req_fail_now(
    struct authsock_req *req, const char *reason, const char *line_extra)
{
	authsock_req_log(req, AUTHSOCK_RESULT_FAIL, reason);
	authsock_req_fail(req, line_extra, true);
}

/* Decide on a record: in the loop thread, where the keyring lives. */
static void
authsock_req_check(struct authsock_req *req, const struct token_record *rec)
{
	struct authsock *as = req->conn->as;
	enum token_reason reason;
	enum mg_result res;
	struct token_attempt a = { .token = req->pass->buf,
		.len = req->pass->len,
		.user = req->user };

	(void)token_scope_for_service(req->service, &a.scope);
	a.now = daemon_now();
	res = token_check_attempt(as->d->keyring, rec, &a, &reason);
	authsock_req_decide(req,
	    res == MG_OK ? AUTHSOCK_RESULT_OK : AUTHSOCK_RESULT_FAIL,
	    token_reason_str(reason), rec);
}

bool
authsock_job_ready(const struct db *db, enum mg_result *res_r, char **errstr_r)
{
	free(*errstr_r); /* from a first try on a broken connection */
	*errstr_r = NULL;
	if (db != NULL)
		return true;
	*res_r = MG_TEMPFAIL;
	*errstr_r = xstrdup("no database connection");
	return false;
}

static enum mg_result
authsock_fetch_run(struct dbpool_job *job, struct db *db)
{
	struct authsock_fetch *f = (struct authsock_fetch *)job;

	if (!authsock_job_ready(db, &f->res, &f->errstr))
		return f->res;
	f->res = db_token_fetch(db, f->id, &f->rec, &f->errstr);
	return f->res;
}

static void
authsock_fetch_done(struct dbpool_job *job)
{
	struct authsock_fetch *f = (struct authsock_fetch *)job;
	struct authsock_req *req = f->req;
	uint64_t now = evloop_now_ms();

	if (f->res == MG_TEMPFAIL && now - f->as->db_warn_ms > 1000) {
		f->as->db_warn_ms = now;
		log_warn("authsock: database: %s",
		    f->errstr != NULL ? f->errstr : "?");
	}
	if (f->res == MG_OK)
		tokcache_put(f->as->d->cache, &f->rec, f->generation);
	if (req != NULL) {
		req->fetch = NULL;
		evloop_timer_cancel(f->as->d->loop, &req->timer);
		authsock_req_set_state(req, AUTHSOCK_REQ_WANT_PASS);
		if (f->res == MG_OK)
			authsock_req_check(req, &f->rec);
		else if (f->res == MG_PERMFAIL)
			authsock_req_decide(req, AUTHSOCK_RESULT_FAIL,
			    token_reason_str(TOKEN_REASON_UNKNOWN), NULL);
		else
			authsock_req_decide(
			    req, AUTHSOCK_RESULT_TEMPFAIL, "database", NULL);
	}
	free(f->errstr);
	secret_wipe(&f->rec, sizeof(f->rec));
	free(f);
}

/* The database took too long: answer now, ignore its late reply. */
static void
authsock_req_deadline(struct authsock_req *req)
{
	if (req->fetch != NULL) {
		req->fetch->req = NULL;
		req->fetch = NULL;
	}
	authsock_req_set_state(req, AUTHSOCK_REQ_WANT_PASS);
	authsock_req_decide(
	    req, AUTHSOCK_RESULT_TEMPFAIL, "database_timeout", NULL);
}

static void
authsock_req_fetch(struct authsock_req *req)
{
	struct authsock *as = req->conn->as;
	struct authsock_fetch *f = xcalloc(1, sizeof(*f));

	f->job.run = authsock_fetch_run;
	f->job.done = authsock_fetch_done;
	f->as = as;
	f->req = req;
	memcpy(f->id, req->token_id, sizeof(f->id));
	f->generation = tokcache_generation(as->d->cache);
	req->fetch = f;
	authsock_req_set_state(req, AUTHSOCK_REQ_VERIFYING);
	evloop_timer_set(as->d->loop, &req->timer, AUTHSOCK_DB_DEADLINE_MS);
	dbpool_submit(as->d->pool, &f->job);
}

/* Dovecot refuses these in any password before a passdb runs. */
static bool
authsock_req_pass_illegal(const struct secret *pass)
{
	size_t i;

	for (i = 0; i < pass->len; i++) {
		unsigned char c = pass->buf[i];

		if (c == '\t' || c == '\r' || c == '\n' || c == '\001' ||
		    c == '\0')
			return true;
	}
	return false;
}

/* We have user and password: decide, from the cache or the database. */
static void
authsock_req_verify(struct authsock_req *req)
{
	struct authsock *as = req->conn->as;
	struct token_record rec;
	unsigned int scope;

	evloop_timer_cancel(as->d->loop, &req->timer);
	if (penalty_locked(as->penalty, req->rip, req->user, evloop_now_ms())) {
		authsock_req_decide(
		    req, AUTHSOCK_RESULT_LOCKED, "locked", NULL);
		return;
	}
	if (req->service_bad ||
	    token_scope_for_service(req->service, &scope) < 0) {
		authsock_req_decide(
		    req, AUTHSOCK_RESULT_FAIL, "unknown_service", NULL);
		return;
	}
	if (authsock_req_pass_illegal(req->pass)) {
		authsock_req_decide(
		    req, AUTHSOCK_RESULT_FAIL, "illegal_chars", NULL);
		return;
	}
	if (token_parse((const char *)req->pass->buf, req->pass->len,
		req->token_id) < 0) {
		authsock_req_decide(req, AUTHSOCK_RESULT_FAIL,
		    token_reason_str(TOKEN_REASON_MALFORMED), NULL);
		return;
	}
	if (tokcache_get(as->d->cache, req->token_id, &rec)) {
		authsock_req_check(req, &rec);
		secret_wipe(&rec, sizeof(rec));
		return;
	}
	authsock_req_fetch(req);
}

/* A user name: 1..ADDRESS_MAX bytes, no control bytes. */
static bool
authsock_req_set_user(
    struct authsock_req *req, const unsigned char *s, size_t len)
{
	size_t i;

	req->user_set = false;
	if (len == 0 || len > ADDRESS_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
	}
	memcpy(req->user, s, len);
	req->user[len] = '\0';
	req->user_set = true;
	return true;
}

static void
authsock_req_set_pass(
    struct authsock_req *req, const unsigned char *s, size_t len)
{
	secret_free(&req->pass);
	req->pass = secret_from(s, len);
}

/* authzid NUL authcid NUL password, exactly two NULs. */
static void
authsock_req_plain(
    struct authsock_req *req, const unsigned char *data, size_t len)
{
	const unsigned char *nul1, *nul2, *end = data + len;
	size_t zlen, clen;

	nul1 = memchr(data, '\0', len);
	nul2 = nul1 == NULL ? NULL :
			      memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1));
	if (nul2 == NULL || memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1))) {
		authsock_req_decide(
		    req, AUTHSOCK_RESULT_FAIL, "bad_plain", NULL);
		return;
	}
	zlen = (size_t)(nul1 - data);
	clen = (size_t)(nul2 - nul1 - 1);
	if (!authsock_req_set_user(req, nul1 + 1, clen)) {
		authsock_req_decide(
		    req, AUTHSOCK_RESULT_FAIL, "bad_user", NULL);
		return;
	}
	/* Another authorization identity would be a master login. */
	if (zlen > 0 &&
	    (zlen != clen ||
		strncasecmp((const char *)data, req->user, clen) != 0)) {
		authsock_req_decide(req, AUTHSOCK_RESULT_FAIL, "authzid", NULL);
		return;
	}
	authsock_req_set_pass(req, nul2 + 1, (size_t)(end - nul2 - 1));
	authsock_req_verify(req);
}

static void
authsock_req_cont(
    struct authsock_req *req, enum authsock_req_state state, const char *b64)
{
	char line[64];
	int n;

	req->state = state;
	evloop_timer_set(
	    req->conn->as->d->loop, &req->timer, AUTHSOCK_REQUEST_TIMEOUT_MS);
	n = snprintf(line, sizeof(line), "CONT\t%u\t%s\n", req->id, b64);
	authsock_conn_send(req->conn, line, (size_t)n);
}

static void
authsock_req_login_user(
    struct authsock_req *req, const unsigned char *data, size_t len)
{
	if (!authsock_req_set_user(req, data, len)) {
		authsock_req_decide(
		    req, AUTHSOCK_RESULT_FAIL, "bad_user", NULL);
		return;
	}
	authsock_req_cont(req, AUTHSOCK_REQ_WANT_PASS, AUTHSOCK_B64_PASSWORD);
}

void
authsock_req_begin(
    struct authsock_req *req, const unsigned char *data, size_t len)
{
	if (req->mech == AUTHSOCK_MECH_PLAIN) {
		if (data == NULL)
			authsock_req_cont(req, AUTHSOCK_REQ_WANT_PLAIN, "");
		else
			authsock_req_plain(req, data, len);
		return;
	}
	/* LOGIN: a non-empty initial response is the user name. */
	if (data == NULL || len == 0)
		authsock_req_cont(
		    req, AUTHSOCK_REQ_WANT_USER, AUTHSOCK_B64_USERNAME);
	else
		authsock_req_login_user(req, data, len);
}

void
authsock_req_continue(
    struct authsock_req *req, const unsigned char *data, size_t len)
{
	switch (req->state) {
	case AUTHSOCK_REQ_WANT_PLAIN:
		authsock_req_plain(req, data, len);
		break;
	case AUTHSOCK_REQ_WANT_USER:
		authsock_req_login_user(req, data, len);
		break;
	case AUTHSOCK_REQ_WANT_PASS:
		authsock_req_set_pass(req, data, len);
		authsock_req_verify(req);
		break;
	case AUTHSOCK_REQ_VERIFYING:
	case AUTHSOCK_REQ_DELAYING:
		MG_BUG("continuation in a busy state");
		break;
	}
}

void
authsock_req_flush_delays(struct authsock_conn *conn)
{
	struct authsock_req *req, *next;
	char *out = NULL;
	size_t len = 0, n;

	/*
	 * Free the delayed requests first, then send their answers at once:
	 * the send may close the connection, which frees every request.
	 */
	for (req = conn->reqs; req != NULL; req = next) {
		next = req->next;
		if (req->state != AUTHSOCK_REQ_DELAYING)
			continue;
		n = strlen(req->reply);
		out = xrealloc(out, len + n);
		memcpy(out + len, req->reply, n);
		len += n;
		authsock_req_free(req);
	}
	if (len > 0)
		authsock_conn_send(conn, out, len);
	free(out);
}

static enum mg_result
authsock_touch_run(struct dbpool_job *job, struct db *db)
{
	struct authsock_touch *t = (struct authsock_touch *)job;

	if (!authsock_job_ready(db, &t->res, &t->errstr))
		return t->res;
	t->res = db_token_touch(db, t->uses, t->count, &t->written, &t->errstr);
	return t->res;
}

/* Loop thread: log the outcome, then write what waited meanwhile. */
static void
authsock_touch_done(struct dbpool_job *job)
{
	struct authsock_touch *t = (struct authsock_touch *)job;
	struct authsock *as = t->as;

	if (t->res != MG_OK)
		log_warn("authsock: last-use update of %zu tokens failed: %s",
		    t->count, t->errstr != NULL ? t->errstr : "?");
	else
		log_debug("authsock: last use written for %zu of %zu tokens "
			  "(the rest newer, or held by another writer)",
		    t->written, t->count);
	if (as->uses_dropped > 0) {
		log_warn("authsock: %llu last-use updates dropped: %d tokens "
			 "were waiting while a batch was being written",
		    (unsigned long long)as->uses_dropped, AUTHSOCK_TOUCH_MAX);
		as->uses_dropped = 0;
	}
	as->touch_inflight--;
	free(t->errstr);
	free(t->uses);
	free(t);
	if (as->nuses == AUTHSOCK_TOUCH_MAX || as->stopping)
		authsock_touch_flush(as);
}

void
authsock_touch_flush(struct authsock *as)
{
	struct authsock_touch *t;

	if (as->nuses == 0 || as->touch_inflight > 0)
		return;
	t = xcalloc(1, sizeof(*t));
	t->job.run = authsock_touch_run;
	t->job.done = authsock_touch_done;
	t->as = as;
	t->count = as->nuses;
	t->uses = xmalloc(as->nuses * sizeof(*t->uses));
	memcpy(t->uses, as->uses, as->nuses * sizeof(*t->uses));
	as->nuses = 0;
	memset(as->use_slots, 0, AUTHSOCK_TOUCH_SLOTS * sizeof(*as->use_slots));
	as->touch_inflight++;
	dbpool_submit_background(as->d->pool, &t->job);
}
