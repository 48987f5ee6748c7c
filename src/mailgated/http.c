/* SPDX-License-Identifier: MIT */
/*
 * http.c - the web service on libmicrohttpd: listener, limits, routing,
 * security headers, and a small pool of database connections.
 * Input: HTTP requests from browsers through a TLS reverse proxy, so
 * hostile. Limits: WEB_CONN_MEMORY_MAX (headers and state), WEB_POST_MAX
 * (bodies), WEB_CONN_TIMEOUT, [http] max_connections, WEB_PER_IP_MAX.
 * URLs are always built from [http] public_url, never from Host.
 * Logs the path (never the query, which may carry a code or state).
 */
#include "http.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

#include "http_private.h"

/* ---- database connections ---- */

struct db *
http_db(struct http_req *req)
{
	struct http *h = req->h;
	char *err = NULL;
	int i, slot = -1;

	if (req->db_slot >= 0)
		return h->pool[req->db_slot];
	(void)pthread_mutex_lock(&h->pool_lock);
	while (slot < 0) {
		for (i = 0; i < HTTP_THREADS && slot < 0; i++) {
			if (!h->pool_busy[i])
				slot = i;
		}
		if (slot < 0)
			(void)pthread_cond_wait(&h->pool_cond, &h->pool_lock);
	}
	h->pool_busy[slot] = true;
	(void)pthread_mutex_unlock(&h->pool_lock);
	req->db_slot = slot;

	if (h->pool[slot] == NULL &&
	    daemon_db_open(h->d, &h->pool[slot], &err) != MG_OK) {
		log_err("http: database unavailable: %s", err);
		free(err);
		h->pool[slot] = NULL;
	}
	return h->pool[slot];
}

static void
http_db_release(struct http_req *req)
{
	struct http *h = req->h;

	if (req->db_slot < 0)
		return;
	(void)pthread_mutex_lock(&h->pool_lock);
	h->pool_busy[req->db_slot] = false;
	(void)pthread_cond_signal(&h->pool_cond);
	(void)pthread_mutex_unlock(&h->pool_lock);
	req->db_slot = -1;
}

/* ---- request helpers ---- */

const char *
http_header(struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *
http_arg(struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(
	    req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
http_cookie(struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

double
http_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void
http_reply_message(struct http_reply *rep, unsigned int status,
    const char *title, const char *message)
{
	rep->status = status;
	http_html_begin(&rep->body, title);
	http_buf_add(&rep->body, "<p>");
	http_buf_esc(&rep->body, message);
	http_buf_add(&rep->body,
	    "</p>\n<p><a href=\"/\">Back to your "
	    "account</a></p>\n");
	http_html_end(&rep->body);
}

void
http_reply_redirect(struct http_req *req, struct http_reply *rep,
    unsigned int status, const char *location)
{
	rep->status = status;
	free(rep->location);
	if (location[0] == '/')
		rep->location = xasprintf("%s%s", req->h->public_url, location);
	else
		rep->location = xstrdup(location);
}

void
http_reply_add_cookie(struct http_reply *rep, char *cookie)
{
	if (rep->cookies[0] == NULL)
		rep->cookies[0] = cookie;
	else if (rep->cookies[1] == NULL)
		rep->cookies[1] = cookie;
	else
		MG_BUG("more than two cookies in one reply");
}

/* ---- sending ---- */

static void
http_add_security_headers(
    struct http *h, struct MHD_Response *r, bool cacheable)
{
	(void)MHD_add_response_header(r, "Content-Security-Policy", h->csp);
	(void)MHD_add_response_header(r, "X-Frame-Options", "DENY");
	(void)MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	(void)MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	(void)MHD_add_response_header(
	    r, "Cross-Origin-Opener-Policy", "same-origin");
	(void)MHD_add_response_header(r, "Cache-Control",
	    cacheable ? "public, max-age=3600" : "no-store");
	if (h->https)
		(void)MHD_add_response_header(
		    r, "Strict-Transport-Security", "max-age=31536000");
}

static enum MHD_Result
http_send(struct http_req *req, struct http_reply *rep)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len;
	char *body;
	int i;

	body = http_buf_steal(&rep->body, &len);
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	(void)MHD_add_response_header(r, "Content-Type",
	    rep->type != NULL ? rep->type : "text/html; charset=utf-8");
	http_add_security_headers(req->h, r, rep->cacheable);
	if (rep->location != NULL)
		(void)MHD_add_response_header(r, "Location", rep->location);
	if (rep->allow != NULL)
		(void)MHD_add_response_header(r, "Allow", rep->allow);
	if (req->body_too_big)
		(void)MHD_add_response_header(r, "Connection", "close");
	for (i = 0; i < 2; i++) {
		if (rep->cookies[i] != NULL)
			(void)MHD_add_response_header(
			    r, "Set-Cookie", rep->cookies[i]);
	}
	ret = MHD_queue_response(req->conn, rep->status, r);
	MHD_destroy_response(r);
	return ret;
}

static void
http_reply_deinit(struct http_reply *rep)
{
	http_buf_deinit(&rep->body);
	free(rep->location);
	free(rep->cookies[0]);
	free(rep->cookies[1]);
}

/* ---- routing ---- */

static void
http_health(struct http_req *req, struct http_reply *rep, bool ready)
{
	char *err = NULL;
	struct db *db;

	rep->type = "text/plain; charset=utf-8";
	rep->status = MHD_HTTP_OK;
	if (!ready) {
		http_buf_add(&rep->body, "ok\n");
		return;
	}
	db = http_db(req);
	if (db == NULL || web_store_ping(db, &err) != MG_OK) {
		log_warn(
		    "http: readyz database=down error=%s", log_safe(err, 200));
		rep->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		http_buf_add(&rep->body, "database unavailable\n");
	} else if (oidc_refresh(req->h->oidc, &err) != MG_OK) {
		log_warn(
		    "http: readyz provider=down error=%s", log_safe(err, 200));
		rep->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		http_buf_add(&rep->body, "provider discovery unavailable\n");
	} else {
		http_buf_add(&rep->body, "ready\n");
	}
	free(err);
}

struct http_route {
	const char *path;
	const char *allow; /* methods accepted; HEAD counts as GET */
	void (*fn)(struct http_req *req, struct http_reply *rep);
};

static void
http_route_healthz(struct http_req *req, struct http_reply *rep)
{
	http_health(req, rep, false);
}

static void
http_route_readyz(struct http_req *req, struct http_reply *rep)
{
	http_health(req, rep, true);
}

static void
http_route_css(struct http_req *req, struct http_reply *rep)
{
	(void)req;
	web_static_css(rep);
}

/* /login and /callback change state: GET only, never HEAD. */
static const struct http_route http_routes[] = {
	{ "/", "GET, HEAD", web_account_page },
	{ "/healthz", "GET, HEAD", http_route_healthz },
	{ "/readyz", "GET, HEAD", http_route_readyz },
	{ "/static/mailgate.css", "GET, HEAD", http_route_css },
	{ "/login", "GET", web_login_begin },
	{ "/callback", "GET", web_login_callback },
	{ "/logout", "POST", web_session_logout },
	{ "/tokens", "POST", web_account_token_create },
	{ "/tokens/revoke", "POST", web_account_token_revoke },
};

static bool
http_method_allowed(const char *allow, const char *method)
{
	size_t n = strlen(method);
	const char *p = allow;

	while ((p = strstr(p, method)) != NULL) {
		if ((p == allow || p[-1] == ' ') &&
		    (p[n] == ',' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

static void
http_dispatch(struct http_req *req, struct http_reply *rep)
{
	const struct http_route *rt = NULL;
	size_t i;

	for (i = 0; i < MG_N_ELEMENTS(http_routes); i++) {
		if (strcmp(http_routes[i].path, req->path) == 0)
			rt = &http_routes[i];
	}
	if (rt == NULL) {
		http_reply_message(rep, MHD_HTTP_NOT_FOUND, "Not found",
		    "There is no such page here.");
		return;
	}
	if (!http_method_allowed(rt->allow, req->method)) {
		rep->allow = rt->allow;
		http_reply_message(rep, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "Method not allowed", "This page cannot be used that way.");
		return;
	}
	if (req->body_too_big) {
		http_reply_message(rep, MHD_HTTP_CONTENT_TOO_LARGE,
		    "Request too large", "The form sent was too large.");
		return;
	}
	rt->fn(req, rep);
}

/* ---- libmicrohttpd callbacks ---- */

static bool
http_method_known(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
	    strcmp(m, "POST") == 0;
}

struct http_xff {
	struct http_buf all;
};

static enum MHD_Result
http_xff_one(
    void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct http_xff *x = cls;

	(void)kind;
	if (key == NULL || value == NULL ||
	    strcasecmp(key, "X-Forwarded-For") != 0)
		return MHD_YES;
	if (x->all.len > 0)
		http_buf_add(&x->all, ",");
	http_buf_add(&x->all, value);
	return MHD_YES;
}

/*
 * Every X-Forwarded-For header in order, joined with ',' (a proxy may
 * append its own header after the client's), or NULL when there is
 * none. Only the last HTTP_XFF_MAX bytes count: the walk starts at the
 * right end and stops at the first untrusted hop anyway.
 */
static char *
http_xff_joined(struct http_req *req, const char **start_r)
{
	struct http_xff x;
	size_t len;
	char *p;

	http_buf_init(&x.all);
	(void)MHD_get_connection_values(
	    req->conn, MHD_HEADER_KIND, http_xff_one, &x);
	if (x.all.len == 0) {
		http_buf_deinit(&x.all);
		return NULL;
	}
	p = http_buf_steal(&x.all, &len);
	*start_r = p;
	if (len > HTTP_XFF_MAX) {
		*start_r = p + len - HTTP_XFF_MAX;
		*start_r += strcspn(*start_r, ","); /* a whole entry only */
	}
	return p;
}

static struct http_req *
http_req_new(struct http *h, struct MHD_Connection *conn, const char *url,
    const char *method)
{
	const union MHD_ConnectionInfo *ci;
	char peer[HTTP_NET_ADDR_MAX];
	const char *start = NULL;
	struct http_req *req;
	char *xff;

	req = xcalloc(1, sizeof(*req));
	req->h = h;
	req->conn = conn;
	req->method = method;
	req->path = url;
	req->head = strcmp(method, "HEAD") == 0;
	req->db_slot = -1;
	http_buf_init(&req->body);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	http_net_peer(ci != NULL ? ci->client_addr : NULL, peer);
	xff = h->nproxies > 0 ? http_xff_joined(req, &start) : NULL;
	http_net_client(h->proxies, h->nproxies, peer, start, req->ip);
	free(xff);
	return req;
}

/* Collect a body of at most WEB_POST_MAX bytes; more is discarded. */
static void
http_take_body(struct http_req *req, const char *data, size_t len)
{
	if (req->body_too_big || req->body.len + len > WEB_POST_MAX) {
		req->body_too_big = true;
		return;
	}
	http_buf_addn(&req->body, data, len);
}

/* Whether a Content-Length (NULL: none, as for chunked) may be read. */
static bool
http_length_ok(const char *cl)
{
	size_t n = 0;

	if (cl == NULL)
		return true;
	for (; *cl == ' ' || *cl == '\t'; cl++)
		;
	for (; *cl >= '0' && *cl <= '9'; cl++) {
		if (n > WEB_POST_MAX)
			return false;
		n = n * 10 + (size_t)(*cl - '0');
	}
	return n <= WEB_POST_MAX;
}

/* Eight parameters: libmicrohttpd's MHD_AccessHandlerCallback. */
static enum MHD_Result
/* NOLINTNEXTLINE(readability-function-size) */
http_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http_reply rep = { 0 };
	struct http_req *req = *con_cls;
	enum MHD_Result ret;
	double t0;

	(void)version;
	if (req == NULL) {
		req = http_req_new(cls, conn, url, method);
		*con_cls = req;
		/* Too large a declared body: answer before reading it. */
		if (!http_length_ok(http_header(req, "Content-Length")))
			req->body_too_big = true;
		else
			return MHD_YES;
	} else if (*upload_data_size > 0) {
		http_take_body(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}

	t0 = http_ms();
	http_buf_init(&rep.body);
	rep.status = MHD_HTTP_OK;
	if (!http_method_known(method)) {
		rep.allow = "GET, HEAD, POST";
		http_reply_message(&rep, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "Method not allowed", "This method is not supported.");
	} else {
		http_dispatch(req, &rep);
	}
	http_db_release(req);
	ret = http_send(req, &rep);
	log_debug("http: ip=%s method=%s path=%s status=%u ms=%.2f", req->ip,
	    log_safe(method, 16), log_safe(url, 128), rep.status,
	    http_ms() - t0);
	http_reply_deinit(&rep);
	return ret;
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_req *req = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (req == NULL)
		return;
	http_db_release(req);
	http_buf_deinit(&req->body);
	secret_wipe(req->csrf, sizeof(req->csrf));
	free(req);
	*con_cls = NULL;
}

/* fmt comes from libmicrohttpd, which formats its messages with it. */
static void http_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	(void)cls;
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	log_warn("http: libmicrohttpd: %s", log_safe(line, 200));
}

/* ---- start and stop ---- */

/* "host:port" or "[v6]:port" into a socket address. */
static int
http_listen_addr(
    const char *listen, struct sockaddr_storage *ss, socklen_t *len_r)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char host[256];
	const char *colon = strrchr(listen, ':');
	const char *h = listen;
	size_t n;

	if (colon == NULL || colon == listen || colon[1] == '\0')
		return -1;
	n = (size_t)(colon - listen);
	if (listen[0] == '[' && colon[-1] == ']') {
		h++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len_r = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* Everything about public_url: origin, host, redirect URI, CSP. */
static int
http_urls(struct http *h, const char *public_url, const char **errstr_r)
{
	const char *rest, *end;
	size_t n = strlen(public_url);
	char *issuer_origin;

	while (n > 0 && public_url[n - 1] == '/')
		n--;
	h->public_url = xstrndup(public_url, n);
	h->https = strncmp(h->public_url, "https://", 8) == 0;
	if (!h->https && strncmp(h->public_url, "http://", 7) != 0) {
		*errstr_r = "[http] public_url must start with https://";
		return -1;
	}
	rest = h->public_url + (h->https ? 8 : 7);
	end = rest + strcspn(rest, "/?#");
	if (end == rest || strpbrk(h->public_url, "?#@ ") != NULL) {
		*errstr_r = "[http] public_url must be scheme://host[:port]"
			    "[/path] without user, query or fragment";
		return -1;
	}
	h->origin = xstrndup(h->public_url, (size_t)(end - h->public_url));
	if (h->cfg->http.mail_host != NULL && h->cfg->http.mail_host[0] != '\0')
		h->mail_host = xstrdup(h->cfg->http.mail_host);
	else
		h->mail_host = xstrndup(rest, strcspn(rest, ":/"));
	h->redirect_uri = xasprintf("%s/callback", h->public_url);

	rest = strstr(h->cfg->oidc.issuer, "://");
	if (rest == NULL) {
		*errstr_r = "[oidc] issuer is not a URL";
		return -1;
	}
	rest += 3;
	issuer_origin = xstrndup(h->cfg->oidc.issuer,
	    (size_t)(rest - h->cfg->oidc.issuer) + strcspn(rest, "/?#"));
	h->csp = xasprintf("default-src 'none'; style-src 'self'; "
			   "form-action 'self' %s; "
			   "frame-ancestors 'none'; base-uri 'none'",
	    issuer_origin);
	free(issuer_origin);
	return 0;
}

static int
http_setup(struct http *h, char **errstr_r)
{
	const struct config *cfg = h->cfg;
	const char *err = NULL;
	struct oidc_params p;
	unsigned int i;

	if (http_urls(h, cfg->http.public_url, &err) < 0) {
		*errstr_r = xstrdup(err);
		return -1;
	}
	h->proxies =
	    xcalloc(cfg->http.trusted_proxies.count + 1, sizeof(*h->proxies));
	for (i = 0; i < cfg->http.trusted_proxies.count; i++) {
		if (http_net_cidr_parse(cfg->http.trusted_proxies.items[i],
			&h->proxies[i]) < 0) {
			*errstr_r = xasprintf("[http] trusted_proxies: %s is "
					      "not an address or network",
			    cfg->http.trusted_proxies.items[i]);
			return -1;
		}
	}
	h->nproxies = cfg->http.trusted_proxies.count;

	oidc_params_from_config(&p, cfg, h->redirect_uri);
	if (oidc_new(&p, &h->oidc, errstr_r) < 0 ||
	    oidc_mapping_new(cfg, &h->map, errstr_r) < 0)
		return -1;
	return token_keyring_load(cfg->tokens.key_file,
	    (const char *const *)cfg->tokens.previous_key_files.items,
	    cfg->tokens.previous_key_files.count, &h->kr, errstr_r);
}

/* The entry counting addr, or a free one when want_free; ipc_lock. */
static struct http_ipcount *
http_ipc_find(struct http *h, const char *addr, bool want_free)
{
	struct http_ipcount *free_e = NULL;
	size_t i;

	for (i = 0; i < h->nipc; i++) {
		if (h->ipc[i].n > 0 && strcmp(h->ipc[i].addr, addr) == 0)
			return &h->ipc[i];
		if (h->ipc[i].n == 0 && free_e == NULL)
			free_e = &h->ipc[i];
	}
	return want_free ? free_e : NULL;
}

/* Accept policy: WEB_PER_IP_MAX per peer, except trusted proxies. */
static enum MHD_Result
http_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http *h = cls;
	const struct http_ipcount *e;
	char peer[HTTP_NET_ADDR_MAX];
	bool ok;

	(void)addrlen;
	http_net_peer(addr, peer);
	if (http_net_trusted(h->proxies, h->nproxies, peer))
		return MHD_YES;
	(void)pthread_mutex_lock(&h->ipc_lock);
	e = http_ipc_find(h, peer, false);
	ok = e == NULL || e->n < WEB_PER_IP_MAX;
	(void)pthread_mutex_unlock(&h->ipc_lock);
	if (!ok)
		log_debug("http: ip=%s refused: %d connections open", peer,
		    WEB_PER_IP_MAX);
	return ok ? MHD_YES : MHD_NO;
}

/* Count a direct peer's connections from start to close. */
static void
http_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct http *h = cls;
	const union MHD_ConnectionInfo *ci;
	char peer[HTTP_NET_ADDR_MAX];
	struct http_ipcount *e;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		e = *socket_context;
		if (e != NULL) {
			(void)pthread_mutex_lock(&h->ipc_lock);
			e->n--;
			(void)pthread_mutex_unlock(&h->ipc_lock);
		}
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	http_net_peer(ci != NULL ? ci->client_addr : NULL, peer);
	*socket_context = NULL;
	if (peer[0] == '\0' || http_net_trusted(h->proxies, h->nproxies, peer))
		return;
	(void)pthread_mutex_lock(&h->ipc_lock);
	e = http_ipc_find(h, peer, true);
	if (e != NULL) {
		if (e->n == 0)
			(void)snprintf(e->addr, sizeof(e->addr), "%s", peer);
		e->n++;
		*socket_context = e;
	}
	(void)pthread_mutex_unlock(&h->ipc_lock);
}

static struct MHD_Daemon *
http_mhd_start(struct http *h, const struct sockaddr_storage *ss)
{
	unsigned int max_conn = h->cfg->http.max_connections > 0 ?
	    h->cfg->http.max_connections :
	    256u;

	/*
	 * Behind a proxy every connection comes from the proxy: its are not
	 * limited, other peers' are counted by http_accept().
	 */
	if (h->nproxies > 0) {
		h->nipc = max_conn;
		h->ipc = xcalloc(h->nipc, sizeof(*h->ipc));
		return MHD_start_daemon(
		    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0,
		    http_accept, h, http_handler, h, MHD_OPTION_EXTERNAL_LOGGER,
		    http_mhd_log, h, MHD_OPTION_SOCK_ADDR, ss,
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)HTTP_THREADS,
		    MHD_OPTION_CONNECTION_LIMIT, max_conn,
		    MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, h,
		    MHD_OPTION_CONNECTION_TIMEOUT,
		    (unsigned int)WEB_CONN_TIMEOUT,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		    (size_t)WEB_CONN_MEMORY_MAX, MHD_OPTION_NOTIFY_COMPLETED,
		    http_completed, h, MHD_OPTION_END);
	}
	return MHD_start_daemon(
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    http_handler, h,
	    /* The logger first, or earlier options' errors go to stderr. */
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h, MHD_OPTION_SOCK_ADDR,
	    ss, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)HTTP_THREADS,
	    MHD_OPTION_CONNECTION_LIMIT, max_conn,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)WEB_PER_IP_MAX,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)WEB_CONN_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)WEB_CONN_MEMORY_MAX,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, h, MHD_OPTION_END);
}

/*
 * Discovery and JWKS once at start-up, off the main thread (the provider
 * may be slow or down): an issuer mismatch, a JWE key or an unusable
 * JWKS is logged at once, with what to change, not at the first sign-in.
 */
static void *
http_check_provider(void *arg)
{
	struct http *h = arg;
	char *err = NULL;

	if (oidc_refresh(h->oidc, &err) == MG_OK) {
		log_info("http: provider ok issuer=%s",
		    log_safe(h->cfg->oidc.issuer, 200));
		return NULL;
	}
	log_warn("http: provider not usable yet (sign-in fails until this "
		 "is fixed): %s",
	    log_safe(err, 400));
	free(err);
	return NULL;
}

static void
http_free(struct http **hp)
{
	struct http *h = *hp;
	int i;

	if (h == NULL)
		return;
	if (h->check_started)
		(void)pthread_join(h->check_thread, NULL);
	if (h->mhd != NULL)
		MHD_stop_daemon(h->mhd);
	for (i = 0; i < HTTP_THREADS; i++)
		db_close(&h->pool[i]);
	oidc_free(&h->oidc);
	oidc_mapping_free(&h->map);
	token_keyring_free(&h->kr);
	free(h->proxies);
	free(h->ipc);
	(void)pthread_mutex_destroy(&h->ipc_lock);
	free(h->public_url);
	free(h->origin);
	free(h->mail_host);
	free(h->redirect_uri);
	free(h->csp);
	(void)pthread_rwlock_destroy(&h->kr_lock);
	(void)pthread_mutex_destroy(&h->pool_lock);
	(void)pthread_cond_destroy(&h->pool_cond);
	free(h);
	*hp = NULL;
}

int
http_service_start(struct daemon *d, void **state_r)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct http *h;
	char *err = NULL;

	*state_r = NULL;
	if (d->cfg->http.listen == NULL || d->cfg->http.listen[0] == '\0')
		return 0;
	/* Sign-in needs both; a daemon for the auth socket alone has none. */
	if (d->cfg->http.public_url == NULL && d->cfg->oidc.issuer == NULL) {
		log_info("http: off: [http] public_url and [oidc] are not set");
		return 0;
	}
	if (config_require(d->cfg, CONFIG_NEED_HTTP | CONFIG_NEED_OIDC, &err) <
	    0) {
		log_err("http: %s", err);
		free(err);
		return -1;
	}
	h = xcalloc(1, sizeof(*h));
	h->d = d;
	h->cfg = d->cfg;
	(void)pthread_rwlock_init(&h->kr_lock, NULL);
	(void)pthread_mutex_init(&h->pool_lock, NULL);
	(void)pthread_mutex_init(&h->ipc_lock, NULL);
	(void)pthread_cond_init(&h->pool_cond, NULL);
	if (http_listen_addr(d->cfg->http.listen, &ss, &sslen) < 0)
		err = xasprintf(
		    "[http] listen: %s is not host:port", d->cfg->http.listen);
	else if (http_setup(h, &err) == 0 &&
	    (h->mhd = http_mhd_start(h, &ss)) == NULL)
		err = xasprintf(
		    "[http] listen: cannot serve on %s", d->cfg->http.listen);
	if (err != NULL) {
		log_err("http: %s", err);
		free(err);
		http_free(&h);
		return -1;
	}
	log_info("http: listening on %s public_url=%s trusted_proxies=%zu",
	    d->cfg->http.listen, h->public_url, h->nproxies);
	h->check_started =
	    pthread_create(&h->check_thread, NULL, http_check_provider, h) == 0;
	*state_r = h;
	return 0;
}

void
http_service_reload(void *state, const struct config *cfg)
{
	struct http *h = state;
	struct token_keyring *kr = NULL;
	char *err = NULL;

	if (h == NULL)
		return;
	/* The keys of the file just read, as the auth socket uses them. */
	if (token_keyring_load(cfg->tokens.key_file,
		(const char *const *)cfg->tokens.previous_key_files.items,
		cfg->tokens.previous_key_files.count, &kr, &err) < 0) {
		log_err("http: keeping the old token keys: %s", err);
		free(err);
		return;
	}
	(void)pthread_rwlock_wrlock(&h->kr_lock);
	token_keyring_free(&h->kr);
	h->kr = kr;
	(void)pthread_rwlock_unlock(&h->kr_lock);
}

void
http_service_stop(void *state)
{
	(void)state; /* MHD_stop_daemon() in finish() ends open requests */
}

bool
http_service_drained(void *state)
{
	(void)state;
	return true;
}

void
http_service_finish(void **statep)
{
	struct http *h = *statep;

	http_free(&h);
	*statep = NULL;
}

const struct daemon_service http_service = {
	"http",
	http_service_start,
	http_service_reload,
	http_service_stop,
	http_service_drained,
	http_service_finish,
};
