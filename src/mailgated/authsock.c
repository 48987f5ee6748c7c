/* SPDX-License-Identifier: MIT */
/*
 * authsock.c - listeners and connections of the Dovecot auth-client
 * protocol server. Input: bytes from Postfix smtpd, doveadm and
 * mailgate-checkpassword over a unix socket or loopback TCP; hostile if
 * they are. Limits: AUTHSOCK_LINE_MAX per line, AUTHSOCK_OUT_MAX unsent,
 * [auth] max_connections. An idle connection holds no buffers: only its
 * struct and the kernel's socket. Never logs resp= payloads or tokens.
 */
#define _GNU_SOURCE /* accept4 */
#include "authsock.h"

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

#define AUTHSOCK_BACKLOG      512
#define AUTHSOCK_EMFILE_PAUSE 200 /* ms without accepting */

static void authsock_conn_update(struct authsock_conn *conn);

static void
authsock_conn_destroy(void *ptr)
{
	struct authsock_conn *conn = ptr;

	free(conn->in);
	free(conn->out);
	free(conn);
}

void
authsock_conn_close(struct authsock_conn *conn, const char *why)
{
	struct authsock *as = conn->as;

	if (conn->dead)
		return;
	conn->dead = true;
	if (why != NULL)
		log_debug("authsock: cuid=%u disconnect: %s", conn->cuid, why);
	while (conn->reqs != NULL)
		authsock_req_free(conn->reqs);
	evloop_timer_cancel(as->d->loop, &conn->handshake_timer);
	(void)close(conn->io.fd);
	evloop_io_del(as->d->loop, &conn->io);
	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		as->conns = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	as->nconns--;
	evloop_defer_free(as->d->loop, authsock_conn_destroy, conn);
}

/* Write what we can; keep the rest. */
static void
authsock_conn_flush(struct authsock_conn *conn)
{
	ssize_t n;

	while (conn->out_off < conn->out_len) {
		n = write(conn->io.fd, conn->out + conn->out_off,
		    conn->out_len - conn->out_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			authsock_conn_close(conn, "write failed");
			return;
		}
		conn->out_off += (size_t)n;
	}
	if (conn->out_off == conn->out_len) {
		free(conn->out); /* idle connections keep no buffer */
		conn->out = NULL;
		conn->out_len = conn->out_off = 0;
	}
	authsock_conn_update(conn);
}

void
authsock_conn_send(struct authsock_conn *conn, const char *line, size_t len)
{
	size_t pending;

	if (conn->dead)
		return;
	pending = conn->out_len - conn->out_off;
	if (pending + len > AUTHSOCK_OUT_MAX) {
		log_warn("authsock: cuid=%u does not read its replies; "
			 "disconnecting",
		    conn->cuid);
		authsock_conn_close(conn, NULL);
		return;
	}
	if (conn->out_off > 0) {
		memmove(conn->out, conn->out + conn->out_off, pending);
		conn->out_len = pending;
		conn->out_off = 0;
	}
	conn->out = xrealloc(conn->out, conn->out_len + len);
	memcpy(conn->out + conn->out_len, line, len);
	conn->out_len += len;
	authsock_conn_flush(conn);
}

/* Read while replies drain; write when they are stuck. */
static void
authsock_conn_update(struct authsock_conn *conn)
{
	uint32_t ev = 0;
	size_t pending = conn->out_len - conn->out_off;

	if (conn->dead)
		return;
	if (pending < AUTHSOCK_OUT_PAUSE)
		ev |= EPOLLIN;
	if (pending > 0)
		ev |= EPOLLOUT;
	if (evloop_io_modify(conn->as->d->loop, &conn->io, ev) < 0)
		authsock_conn_close(conn, "epoll failed");
}

/* Feed complete lines of buf to the parser; keep a partial one. */
static void
authsock_conn_input(struct authsock_conn *conn, char *buf, size_t n)
{
	char *p = buf, *end = buf + n, *nl;
	size_t len;

	while (p < end && !conn->dead) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((nl != NULL ? nl : end) - p);
		if (conn->in_len + len >= AUTHSOCK_LINE_MAX) {
			log_warn("authsock: cuid=%u sent a line over %d bytes; "
				 "disconnecting",
			    conn->cuid, AUTHSOCK_LINE_MAX);
			authsock_conn_close(conn, NULL);
			return;
		}
		if (nl == NULL || conn->in_len > 0) {
			conn->in = xrealloc(conn->in, conn->in_len + len + 1);
			memcpy(conn->in + conn->in_len, p, len);
			conn->in_len += len;
			conn->in[conn->in_len] = '\0';
		}
		if (nl == NULL)
			return;
		if (conn->in_len > 0) {
			authsock_cmd_line(conn, conn->in, conn->in_len);
			secret_wipe(conn->in, conn->in_len);
			free(conn->in);
			conn->in = NULL;
			conn->in_len = 0;
		} else {
			*nl = '\0';
			authsock_cmd_line(conn, p, len);
		}
		p = nl + 1;
	}
}

static void
authsock_conn_io(struct evloop_io *io, uint32_t events)
{
	/* One per process: lines are handled before the next read. */
	static char buf[AUTHSOCK_LINE_MAX];
	struct authsock_conn *conn = io->ctx;
	ssize_t n;

	if ((events & EPOLLOUT) != 0) {
		authsock_conn_flush(conn);
		if (conn->dead)
			return;
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) == 0)
		return;
	n = read(io->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		authsock_conn_close(conn, n == 0 ? "eof" : "read error");
		return;
	}
	authsock_conn_input(conn, buf, (size_t)n);
	secret_wipe(buf, (size_t)n);
}

/* The seven handshake lines of a Dovecot 2.3 auth server. */
static void
authsock_conn_handshake(struct authsock_conn *conn)
{
	unsigned char cookie[16];
	char hex[33], line[256];
	size_t i;
	int n;

	secret_random(cookie, sizeof(cookie));
	for (i = 0; i < sizeof(cookie); i++) {
		hex[i * 2] = "0123456789abcdef"[cookie[i] >> 4];
		hex[i * 2 + 1] = "0123456789abcdef"[cookie[i] & 15];
	}
	hex[32] = '\0';
	n = snprintf(line, sizeof(line),
	    "VERSION\t1\t2\n"
	    "MECH\tPLAIN\tplaintext\n"
	    "MECH\tLOGIN\tplaintext\n"
	    "SPID\t%ld\n"
	    "CUID\t%u\n"
	    "COOKIE\t%s\n"
	    "DONE\n",
	    (long)getpid(), conn->cuid, hex);
	MG_ASSERT(n > 0 && (size_t)n < sizeof(line));
	authsock_conn_send(conn, line, (size_t)n);
}

/* A client that never finished its handshake holds a slot for nothing. */
static void
authsock_conn_handshake_timeout(struct evloop_timer *t)
{
	struct authsock_conn *conn = t->ctx;

	if (conn->state != AUTHSOCK_CONN_READY)
		authsock_conn_close(conn, "no handshake in time");
}

/*
 * max_connections is reached: close the oldest connection that has not
 * finished its handshake, if any. Handshaken connections are never
 * closed by us (Postfix keeps its connection for life).
 */
static bool
authsock_conn_make_room(struct authsock *as)
{
	struct authsock_conn *conn, *oldest = NULL;

	for (conn = as->conns; conn != NULL; conn = conn->next) {
		if (conn->state != AUTHSOCK_CONN_READY)
			oldest = conn; /* the list is newest first */
	}
	if (oldest == NULL)
		return false;
	log_warn("authsock: max_connections=%u reached; closing cuid=%u, "
		 "which has not finished its handshake",
	    as->max_conns, oldest->cuid);
	authsock_conn_close(oldest, NULL);
	return true;
}

static void
authsock_conn_new(struct authsock *as, int fd)
{
	struct authsock_conn *conn = xcalloc(1, sizeof(*conn));

	conn->as = as;
	conn->cuid = ++as->cuid_next;
	evloop_timer_init(
	    &conn->handshake_timer, authsock_conn_handshake_timeout, conn);
	if (evloop_io_add(as->d->loop, &conn->io, fd, EPOLLIN, authsock_conn_io,
		conn) < 0) {
		log_err("authsock: epoll add: %s", strerror(errno));
		(void)close(fd);
		free(conn);
		return;
	}
	conn->next = as->conns;
	if (as->conns != NULL)
		as->conns->prev = conn;
	as->conns = conn;
	as->nconns++;
	evloop_timer_set(
	    as->d->loop, &conn->handshake_timer, AUTHSOCK_HELLO_TIMEOUT_MS);
	authsock_conn_handshake(conn);
}

static void
authsock_accept_resume(struct evloop_timer *t)
{
	struct authsock *as = t->ctx;

	if (as->unix_io.fd >= 0)
		(void)evloop_io_modify(as->d->loop, &as->unix_io, EPOLLIN);
	if (as->tcp_io.fd >= 0)
		(void)evloop_io_modify(as->d->loop, &as->tcp_io, EPOLLIN);
}

static void
authsock_accept_pause(struct authsock *as)
{
	if (as->unix_io.fd >= 0)
		(void)evloop_io_modify(as->d->loop, &as->unix_io, 0);
	if (as->tcp_io.fd >= 0)
		(void)evloop_io_modify(as->d->loop, &as->tcp_io, 0);
	evloop_timer_set(as->d->loop, &as->accept_timer, AUTHSOCK_EMFILE_PAUSE);
}

static void
authsock_accept(struct evloop_io *io, uint32_t events)
{
	struct authsock *as = io->ctx;
	int fd;

	(void)events;
	for (;;) {
		fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			log_warn("authsock: out of file descriptors at %u "
				 "connections; pausing accept",
			    as->nconns);
			authsock_accept_pause(as);
			return;
		}
		if (fd < 0)
			return; /* EAGAIN, or the client already left */
		if (as->nconns >= as->max_conns &&
		    !authsock_conn_make_room(as)) {
			log_warn("authsock: max_connections=%u reached; "
				 "refusing a connection",
			    as->max_conns);
			(void)close(fd);
			continue;
		}
		authsock_conn_new(as, fd);
	}
}

/* 0 if path is a socket nobody listens on (removed), or absent. */
static int
authsock_unix_clear_stale(const char *path, struct sockaddr_un *sun)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		log_err(
		    "authsock: cannot look up %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_err("authsock: %s exists and is not a socket", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	r = connect(fd, (struct sockaddr *)sun, sizeof(*sun));
	(void)close(fd);
	if (r == 0) {
		log_err("authsock: another process listens on %s; refusing "
			"to start",
		    path);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		log_err("authsock: cannot probe %s: %s", path, strerror(errno));
		return -1;
	}
	log_info("authsock: removing stale socket %s", path);
	return unlink(path);
}

static int
authsock_unix_owner(const struct config *cfg, const char *path)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	struct passwd *pw;
	struct group *gr;

	if (cfg->auth.socket_user != NULL) {
		pw = getpwnam(cfg->auth.socket_user);
		if (pw == NULL) {
			log_err("authsock: [auth] socket_user %s: no such user",
			    cfg->auth.socket_user);
			return -1;
		}
		uid = pw->pw_uid;
	}
	if (cfg->auth.socket_group != NULL) {
		gr = getgrnam(cfg->auth.socket_group);
		if (gr == NULL) {
			log_err("authsock: [auth] socket_group %s: no such "
				"group",
			    cfg->auth.socket_group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    chown(path, uid, gid) < 0) {
		/* Only root may give the socket away: name the way out. */
		log_err(
		    "authsock: cannot apply [auth] socket_user/socket_group "
		    "to %s as uid %u: %s (leave both unset and let a "
		    "setgid directory choose the group, see "
		    "docs/postfix.md)",
		    path, (unsigned int)geteuid(), strerror(errno));
		return -1;
	}
	return chmod(path, (mode_t)cfg->auth.socket_mode);
}

static int
authsock_unix_listen(struct authsock *as)
{
	const struct config *cfg = as->d->cfg;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path = cfg->auth.socket;
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("authsock: [auth] socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (authsock_unix_clear_stale(path, &sun) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	old = umask(0177); /* nobody else may connect before chmod */
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	(void)umask(old);
	if (r < 0) {
		log_err("authsock: bind %s: %s", path, strerror(errno));
		(void)close(fd);
		return -1;
	}
	as->unix_path = xstrdup(path);
	if (authsock_unix_owner(cfg, path) < 0 ||
	    listen(fd, AUTHSOCK_BACKLOG) < 0 ||
	    evloop_io_add(as->d->loop, &as->unix_io, fd, EPOLLIN,
		authsock_accept, as) < 0) {
		log_err(
		    "authsock: cannot set up %s: %s", path, strerror(errno));
		(void)close(fd);
		return -1;
	}
	log_info(
	    "authsock: listening on %s mode=%04o", path, cfg->auth.socket_mode);
	return 0;
}

/* Copies, not casts: getaddrinfo's sockaddr promises no alignment. */
static bool
authsock_is_loopback(const struct sockaddr *sa)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (sa->sa_family == AF_INET) {
		memcpy(&sin, sa, sizeof(sin));
		return (ntohl(sin.sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	memcpy(&sin6, sa, sizeof(sin6));
	return IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr);
}

/* "127.0.0.1:9143" or "[::1]:9143" into host and port. */
static int
authsock_split_hostport(
    const char *s, char *host, size_t size, const char **port_r)
{
	const char *colon;
	size_t len;

	if (*s == '[') {
		colon = strstr(s, "]:");
		if (colon == NULL)
			return -1;
		len = (size_t)(colon - s - 1);
		s++;
		*port_r = colon + 2;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		len = (size_t)(colon - s);
		*port_r = colon + 1;
	}
	if (len == 0 || len >= size)
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	return 0;
}

static int
authsock_tcp_listen(struct authsock *as)
{
	const char *spec = as->d->cfg->auth.tcp_listen, *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char host[64];
	int fd = -1, one = 1;

	if (authsock_split_hostport(spec, host, sizeof(host), &port) < 0 ||
	    getaddrinfo(host, port, &hints, &ai) != 0 ||
	    !authsock_is_loopback(ai->ai_addr)) {
		log_err("authsock: [auth] tcp_listen %s: want a loopback "
			"address:port",
		    log_safe(spec, 80));
		goto fail;
	}
	fd = socket(
	    ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, AUTHSOCK_BACKLOG) < 0 ||
	    evloop_io_add(as->d->loop, &as->tcp_io, fd, EPOLLIN,
		authsock_accept, as) < 0) {
		log_err(
		    "authsock: cannot listen on %s: %s", spec, strerror(errno));
		goto fail;
	}
	freeaddrinfo(ai);
	log_info("authsock: listening on tcp %s", spec);
	return 0;
fail:
	if (fd >= 0)
		(void)close(fd);
	if (ai != NULL)
		freeaddrinfo(ai);
	return -1;
}

void
authsock_settings(const struct authsock *as, struct penalty_settings *set_r)
{
	const struct daemon_reloadable *live = &as->d->live;

	set_r->delay_ms = (uint64_t)live->failure_delay_ms;
	set_r->lockout_failures = live->lockout_failures;
	set_r->lockout_ms = (uint64_t)live->lockout_time_s * 1000;
}

static void
authsock_touch_tick(struct evloop_timer *t)
{
	struct authsock *as = t->ctx;

	authsock_touch_flush(as);
	evloop_timer_set(as->d->loop, t, AUTHSOCK_TOUCH_INTERVAL_MS);
}

static void
authsock_share_tick(struct evloop_timer *t)
{
	struct authsock *as = t->ctx;

	authsock_share_flush(as);
	evloop_timer_set(as->d->loop, t, AUTHSOCK_SHARE_INTERVAL_MS);
}

static void authsock_close_listeners(struct authsock *as);

static int
authsock_start(struct daemon *d, void **state_r)
{
	struct authsock *as = xcalloc(1, sizeof(*as));
	struct penalty_settings set;

	as->d = d;
	as->unix_io.fd = as->tcp_io.fd = -1;
	as->max_conns = d->cfg->auth.max_connections;
	as->uses = xcalloc(AUTHSOCK_TOUCH_MAX, sizeof(*as->uses));
	as->use_slots = xcalloc(AUTHSOCK_TOUCH_SLOTS, sizeof(*as->use_slots));
	authsock_settings(as, &set);
	as->penalty = penalty_new(&set);
	evloop_timer_init(&as->accept_timer, authsock_accept_resume, as);
	evloop_timer_init(&as->touch_timer, authsock_touch_tick, as);
	evloop_timer_init(&as->share_timer, authsock_share_tick, as);

	if (authsock_unix_listen(as) < 0 ||
	    (d->cfg->auth.tcp_listen != NULL &&
		*d->cfg->auth.tcp_listen != '\0' &&
		authsock_tcp_listen(as) < 0)) {
		authsock_close_listeners(as);
		penalty_free(&as->penalty);
		free(as->use_slots);
		free(as->uses);
		free(as);
		return -1;
	}
	evloop_timer_set(d->loop, &as->touch_timer, AUTHSOCK_TOUCH_INTERVAL_MS);
	authsock_share_flush(as); /* learn the locks in force at once */
	evloop_timer_set(d->loop, &as->share_timer, AUTHSOCK_SHARE_INTERVAL_MS);
	*state_r = as;
	return 0;
}

static void
authsock_reload(void *state, const struct config *cfg)
{
	struct authsock *as = state;
	struct penalty_settings set;

	(void)cfg; /* the settings it reads are in as->d->live */
	authsock_settings(as, &set);
	penalty_configure(as->penalty, &set);
}

static void
authsock_close_listeners(struct authsock *as)
{
	if (as->unix_io.fd >= 0) {
		(void)close(as->unix_io.fd);
		evloop_io_del(as->d->loop, &as->unix_io);
	}
	if (as->unix_path != NULL) {
		(void)unlink(as->unix_path);
		free(as->unix_path);
		as->unix_path = NULL;
	}
	if (as->tcp_io.fd >= 0) {
		(void)close(as->tcp_io.fd);
		evloop_io_del(as->d->loop, &as->tcp_io);
	}
	evloop_timer_cancel(as->d->loop, &as->accept_timer);
}

static void
authsock_stop(void *state)
{
	struct authsock *as = state;
	struct authsock_conn *conn, *next;

	as->stopping = true;
	authsock_close_listeners(as);
	for (conn = as->conns; conn != NULL; conn = next) {
		next = conn->next; /* flushing may close conn */
		authsock_req_flush_delays(conn);
	}
	evloop_timer_cancel(as->d->loop, &as->touch_timer);
	authsock_touch_flush(as);
	evloop_timer_cancel(as->d->loop, &as->share_timer);
	authsock_share_flush(as);
}

static bool
authsock_drained(void *state)
{
	struct authsock *as = state;

	/* Uses answered after stop() are flushed as they come. */
	return as->busy == 0 && as->touch_inflight == 0 && as->nuses == 0 &&
	    as->share_inflight == 0;
}

static void
authsock_finish(void **statep)
{
	struct authsock *as = *statep;

	if (as == NULL)
		return;
	while (as->conns != NULL)
		authsock_conn_close(as->conns, NULL);
	evloop_timer_cancel(as->d->loop, &as->touch_timer);
	evloop_timer_cancel(as->d->loop, &as->share_timer);
	penalty_free(&as->penalty);
	free(as->use_slots);
	free(as->uses);
	free(as);
	*statep = NULL;
}

const struct daemon_service authsock_service = {
	.name = "authsock",
	.start = authsock_start,
	.reload = authsock_reload,
	.stop = authsock_stop,
	.drained = authsock_drained,
	.finish = authsock_finish,
};
