/* SPDX-License-Identifier: MIT */
/*
 * checkpw_client.c - one exchange with mailgated over a unix socket or
 * loopback TCP, bounded by one deadline: connect, send, read the reply.
 * Non-blocking throughout, so a peer that accepts and never answers
 * costs at most the timeout. Never prints what it sends.
 */
#include "checkpw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char checkpw_client_err[256];

int
checkpw_target_unix(const char *path, struct checkpw_target *t_r)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&t_r->addr;
	size_t len = strlen(path);

	if (path[0] != '/' || len >= sizeof(sun->sun_path))
		return -1;
	memset(t_r, 0, sizeof(*t_r));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len + 1);
	t_r->addr_len = (socklen_t)sizeof(*sun);
	memcpy(t_r->name, path, len + 1);
	return 0;
}

/* A decimal port 1..65535, digits only. */
static int
checkpw_client_port(const char *s, uint16_t *port_r)
{
	unsigned int v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned int)(*s - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port_r = (uint16_t)v;
	return 0;
}

int
checkpw_target_tcp(const char *hostport, struct checkpw_target *t_r)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&t_r->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t_r->addr;
	char host[CHECKPW_IP_MAX];
	const char *colon, *start = hostport;
	size_t hlen;
	uint16_t port;
	bool v6 = hostport[0] == '[';

	colon = strrchr(hostport, ':');
	if (colon == NULL || checkpw_client_port(colon + 1, &port) < 0)
		return -1;
	if (v6) {
		start++;
		if (colon == start || colon[-1] != ']')
			return -1;
		hlen = (size_t)(colon - 1 - start);
	} else {
		hlen = (size_t)(colon - start);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, start, hlen);
	host[hlen] = '\0';

	memset(t_r, 0, sizeof(*t_r));
	if (v6) {
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		t_r->addr_len = (socklen_t)sizeof(*sin6);
	} else {
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		t_r->addr_len = (socklen_t)sizeof(*sin);
	}
	(void)snprintf(t_r->name, sizeof(t_r->name), "%s", hostport);
	return 0;
}

static int64_t
checkpw_client_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
checkpw_client_fail(const struct checkpw_target *t, const char *what, int err)
{
	(void)snprintf(checkpw_client_err, sizeof(checkpw_client_err),
	    "mailgated at %s: %s%s%s", t->name, what, err != 0 ? ": " : "",
	    err != 0 ? strerror(err) : "");
	return checkpw_client_err;
}

/* Wait for events on fd until the deadline. 1 ready, 0 timeout, -1. */
static int
checkpw_client_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - checkpw_client_now_ms();
		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static int
checkpw_client_connect(
    const struct checkpw_target *t, int64_t deadline, const char **errstr_r)
{
	int fd, err = 0;
	socklen_t elen = sizeof(err);

	fd = socket(
	    t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*errstr_r = checkpw_client_fail(t, "socket", errno);
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&t->addr, t->addr_len) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		/* EAGAIN on a unix socket: backlog full, also transient. */
		*errstr_r = checkpw_client_fail(t, "connect", errno);
		goto fail;
	}
	if (checkpw_client_wait(fd, POLLOUT, deadline) <= 0) {
		*errstr_r = checkpw_client_fail(t, "connect timed out", 0);
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) {
		*errstr_r = checkpw_client_fail(t, "connect", err);
		goto fail;
	}
	return fd;
fail:
	(void)close(fd);
	return -1;
}

static int
checkpw_client_send(int fd, const struct checkpw_target *t, const char *p,
    size_t len, int64_t deadline, const char **errstr_r)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			*errstr_r = checkpw_client_fail(t, "send", errno);
			return -1;
		}
		if (checkpw_client_wait(fd, POLLOUT, deadline) <= 0) {
			*errstr_r = checkpw_client_fail(t, "send timed out", 0);
			return -1;
		}
	}
	return 0;
}

/* Feed every complete line in buf; keep the partial tail. */
static int
checkpw_client_lines(struct checkpw_reply *r, char *buf, size_t *used)
{
	char *nl, *p = buf;
	size_t left = *used;
	int ret = 0;

	while (ret == 0 && (nl = memchr(p, '\n', left)) != NULL) {
		ret = checkpw_reply_feed(r, p, (size_t)(nl - p));
		left -= (size_t)(nl - p) + 1;
		p = nl + 1;
	}
	memmove(buf, p, left);
	*used = left;
	return ret;
}

static enum mg_result
checkpw_client_read(int fd, const struct checkpw_target *t,
    struct checkpw_reply *r, int64_t deadline, const char **errstr_r)
{
	char buf[CHECKPW_REPLY_LINE_MAX];
	size_t used = 0;
	ssize_t n;
	int ret, w;

	for (;;) {
		w = checkpw_client_wait(fd, POLLIN, deadline);
		if (w <= 0) {
			*errstr_r = w == 0 ?
			    checkpw_client_fail(t, "no answer in time", 0) :
			    checkpw_client_fail(t, "poll", errno);
			return MG_TEMPFAIL;
		}
		n = recv(fd, buf + used, sizeof(buf) - used, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			*errstr_r = checkpw_client_fail(t,
			    n == 0 ? "closed the connection" : "recv",
			    n == 0 ? 0 : errno);
			return MG_TEMPFAIL;
		}
		used += (size_t)n;
		ret = checkpw_client_lines(r, buf, &used);
		if (ret > 0)
			return MG_OK;
		if (ret < 0 || used == sizeof(buf)) {
			*errstr_r = checkpw_client_fail(
			    t, ret < 0 ? r->errstr : "reply line too long", 0);
			return MG_TEMPFAIL;
		}
	}
}

enum mg_result
checkpw_client_run(const struct checkpw_target *t, int timeout_ms,
    const char *req, size_t req_len, struct checkpw_reply *r,
    const char **errstr_r)
{
	int64_t deadline = checkpw_client_now_ms() + timeout_ms;
	enum mg_result ret;
	int fd;

	fd = checkpw_client_connect(t, deadline, errstr_r);
	if (fd < 0)
		return MG_TEMPFAIL;
	/* All of it at once, as Postfix does: no round trip for VERSION. */
	if (checkpw_client_send(fd, t, req, req_len, deadline, errstr_r) < 0) {
		(void)close(fd);
		return MG_TEMPFAIL;
	}
	ret = checkpw_client_read(fd, t, r, deadline, errstr_r);
	(void)close(fd);
	return ret;
}
