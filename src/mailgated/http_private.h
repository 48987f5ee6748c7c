/* SPDX-License-Identifier: MIT */
/*
 * http_private.h - what http.c and the web_*.c pages share: the service
 * state, one request, one reply. Not for use outside src/mailgated.
 */
#ifndef MAILGATED_HTTP_PRIVATE_H
#define MAILGATED_HTTP_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "mailgate/config.h"
#include "mailgate/db.h"
#include "mailgate/oidc.h"
#include "mailgate/token.h"
#include "mailgate/web_store.h"

#include "daemon.h"
#include "http_html.h"
#include "http_net.h"

/* libmicrohttpd threads; each takes a database connection per request. */
#define HTTP_THREADS 4

#define HTTP_SESSION_COOKIE "__Host-mailgate_session"
#define HTTP_LOGIN_COOKIE   "__Host-mailgate_login"
/* 32 random bytes in base64url without padding. */
#define HTTP_SESSION_ID_LEN 43
#define HTTP_CSRF_LEN       43
/* Bytes of all X-Forwarded-For headers together that are looked at. */
#define HTTP_XFF_MAX        2048
/* Seconds between two purges of expired login states and sessions. */
#define HTTP_PURGE_INTERVAL 300

/* Open connections from one peer, when [http] trusted_proxies is set. */
struct http_ipcount {
	char addr[HTTP_NET_ADDR_MAX];
	unsigned int n; /* 0 = a free entry */
};

struct http {
	struct daemon *d; /* borrowed */
	const struct config *cfg;
	struct MHD_Daemon *mhd;
	struct oidc *oidc;
	struct oidc_mapping *map;
	pthread_t check_thread; /* the start-up check of the provider */
	bool check_started;

	/* Our own copy: the daemon's is the loop thread's alone. */
	pthread_rwlock_t kr_lock;
	struct token_keyring *kr;

	struct http_cidr *proxies;
	size_t nproxies;
	/*
	 * With trusted proxies libmicrohttpd's per-IP limit is off (the
	 * proxy opens them all); direct peers are counted here instead.
	 */
	pthread_mutex_t ipc_lock;
	struct http_ipcount *ipc; /* max_connections entries */
	size_t nipc;
	char *public_url;   /* without a trailing '/' */
	char *origin;       /* scheme://host[:port] of public_url */
	char *mail_host;    /* [http] mail_host, else host of public_url */
	char *redirect_uri; /* <public_url>/callback */
	char *csp;
	bool https;

	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	struct db *pool[HTTP_THREADS];
	bool pool_busy[HTTP_THREADS];
	double purge_due_ms; /* http_ms() of the next purge; pool_lock */
};

struct http_req {
	struct http *h;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	bool head;
	char ip[HTTP_NET_ADDR_MAX];
	struct http_buf body;
	bool body_too_big;
	int db_slot; /* -1 = none taken */

	/* Set by web_session_lookup(). */
	bool have_session;
	unsigned char session_hash[WEB_STORE_HASH_LEN];
	char csrf[HTTP_CSRF_LEN + 1];
	struct web_session session;
};

struct http_reply {
	unsigned int status;
	struct http_buf body;
	const char *type;  /* static; NULL = text/html */
	char *location;    /* owned, or NULL */
	char *cookies[2];  /* owned Set-Cookie values, or NULL */
	bool cacheable;    /* static assets only */
	const char *allow; /* static Allow value for a 405 */
};

/* A connection for this request, or NULL (logged) when unreachable. */
struct db *http_db(struct http_req *req);
/* A request header or query argument: borrowed, or NULL. */
const char *http_header(struct http_req *req, const char *name);
const char *http_arg(struct http_req *req, const char *name);
const char *http_cookie(struct http_req *req, const char *name);

/* A page with a heading and one escaped paragraph, plus a way back. */
void http_reply_message(struct http_reply *rep, unsigned int status,
    const char *title, const char *message);
/* 303 See Other to a path on public_url (or an absolute URL we built). */
void http_reply_redirect(struct http_req *req, struct http_reply *rep,
    unsigned int status, const char *location);
void http_reply_add_cookie(struct http_reply *rep, char *cookie);

/* Milliseconds from a monotonic clock, for debug timings. */
double http_ms(void);

/* web_session.c */
enum web_session_state {
	WEB_SESSION_NONE,    /* no cookie, or its session is not live */
	WEB_SESSION_LIVE,    /* loaded into req */
	WEB_SESSION_TEMPFAIL /* the database could not tell */
};
enum web_session_state web_session_lookup(struct http_req *req);
/* True for WEB_SESSION_LIVE only. */
bool web_session_load(struct http_req *req);
/* A 503 page: the database is down, the user is still signed in. */
void web_session_trouble(struct http_reply *rep);
/* Owned Set-Cookie values. */
char *web_session_cookie(
    const struct http *h, const char *name, const char *value, int64_t max_age);
/* Create a session; fills id_r (the cookie value). */
enum mg_result web_session_create(struct http_req *req,
    const struct web_session_new *sn, char id_r[HTTP_SESSION_ID_LEN + 1]);
/* POST checks: session, Origin/Sec-Fetch-Site, the form's CSRF token. */
bool web_session_post_ok(struct http_req *req, struct http_reply *rep);
void web_session_csrf(const char *session_id, char out[HTTP_CSRF_LEN + 1]);
void web_session_logout(struct http_req *req, struct http_reply *rep);
/* Delete dead login states and sessions, when HTTP_PURGE_INTERVAL is up. */
void web_session_purge(struct http_req *req);

/* web_login.c */
void web_login_begin(struct http_req *req, struct http_reply *rep);
void web_login_callback(struct http_req *req, struct http_reply *rep);

/* web_account.c */
void web_account_page(struct http_req *req, struct http_reply *rep);
void web_account_token_create(struct http_req *req, struct http_reply *rep);
void web_account_token_revoke(struct http_req *req, struct http_reply *rep);

/* web_static.c */
void web_static_css(struct http_reply *rep);

#endif
