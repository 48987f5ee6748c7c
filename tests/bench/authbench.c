/* SPDX-License-Identifier: MIT */
/*
 * authbench.c - load generator for servers of the Dovecot auth-client
 * protocol (mailgated, Dovecot's own auth service): one thread, epoll,
 * non-blocking, N connections with one AUTH PLAIN in flight each, as
 * Postfix's smtpd processes behave. Runs for a fixed time and prints
 * auths/s, p50/p99 latency and, given the server's PIDs, its CPU time
 * per auth. A benchmark tool: never part of pass/fail tests.
 *
 * Input: credentials from a file of "user<TAB>password" lines (cycled);
 * server replies, which are only split into lines and matched by id.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define AUTHBENCH_BUF       8192
#define AUTHBENCH_CREDS_MAX 100000
#define AUTHBENCH_PIDS_MAX  64

struct authbench_conn {
	int fd;
	bool ready; /* handshake DONE seen */
	unsigned int id;
	unsigned int cred;
	uint64_t sent_ns;
	size_t rlen;
	char rbuf[AUTHBENCH_BUF];
};

struct authbench {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	const char *service;
	char **lines; /* prepared "resp=..." values, one per credential */
	unsigned int ncreds;
	unsigned int next_cred;
	uint64_t *lat; /* ns per completed auth */
	size_t nlat, lat_size;
	uint64_t ok, fail;
	bool measuring;
};

static uint64_t
authbench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
authbench_die(const char *what)
{
	(void)fprintf(stderr, "authbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static size_t
authbench_b64(const unsigned char *in, size_t len, char *out)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;
	unsigned int v;

	for (i = 0; i < len; i += 3) {
		v = (unsigned int)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned int)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = (char)(i + 1 < len ? a[(v >> 6) & 63] : '=');
		out[o++] = (char)(i + 2 < len ? a[v & 63] : '=');
	}
	out[o] = '\0';
	return o;
}

static void
authbench_load_creds(struct authbench *b, const char *path)
{
	unsigned char raw[1024];
	char line[1024], *tab, *nl;
	FILE *f = fopen(path, "r");
	size_t ulen, plen;

	if (f == NULL)
		authbench_die(path);
	b->lines = calloc(AUTHBENCH_CREDS_MAX, sizeof(char *));
	while (b->ncreds < AUTHBENCH_CREDS_MAX &&
	    fgets(line, sizeof(line), f) != NULL) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		tab = strchr(line, '\t');
		if (tab == NULL)
			continue;
		ulen = (size_t)(tab - line);
		plen = strlen(tab + 1);
		if (ulen + plen + 2 > sizeof(raw))
			continue;
		raw[0] = '\0';
		memcpy(raw + 1, line, ulen);
		raw[1 + ulen] = '\0';
		memcpy(raw + 2 + ulen, tab + 1, plen);
		b->lines[b->ncreds] = malloc(4 * sizeof(raw) / 3 + 8);
		authbench_b64(raw, ulen + plen + 2, b->lines[b->ncreds]);
		b->ncreds++;
	}
	(void)fclose(f);
	if (b->ncreds == 0) {
		(void)fprintf(
		    stderr, "authbench: no user<TAB>password in %s\n", path);
		exit(1);
	}
}

static int
authbench_target(struct authbench *b, const char *unix_path, const char *tcp)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&b->addr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&b->addr;
	char host[64];
	const char *colon;

	memset(&b->addr, 0, sizeof(b->addr));
	if (unix_path != NULL) {
		if (strlen(unix_path) >= sizeof(sun->sun_path))
			return -1;
		sun->sun_family = AF_UNIX;
		strncpy(sun->sun_path, unix_path, sizeof(sun->sun_path) - 1);
		b->addr_len = sizeof(*sun);
		return 0;
	}
	colon = strrchr(tcp, ':');
	if (colon == NULL || (size_t)(colon - tcp) >= sizeof(host))
		return -1;
	memcpy(host, tcp, (size_t)(colon - tcp));
	host[colon - tcp] = '\0';
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	b->addr_len = sizeof(*sin);
	return 0;
}

static void
authbench_write(int fd, const char *p, size_t len)
{
	ssize_t n;

	/* Requests are small; a full socket buffer would be a bug here. */
	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			authbench_die("send");
		p += n;
		len -= (size_t)n;
	}
}

static void
authbench_send_auth(struct authbench *b, struct authbench_conn *c)
{
	char line[1600];
	int n;

	c->id++;
	c->cred = b->next_cred++ % b->ncreds;
	n = snprintf(line, sizeof(line),
	    "AUTH\t%u\tPLAIN\tservice=%s\trip=127.0.0.1\tlip=127.0.0.1\t"
	    "secured\tresp=%s\n",
	    c->id, b->service, b->lines[c->cred]);
	c->sent_ns = authbench_now();
	authbench_write(c->fd, line, (size_t)n);
}

static int
authbench_connect(struct authbench *b, int ep, struct authbench_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	char hello[64];
	int n, one = 1;

	memset(c, 0, sizeof(*c));
	c->fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		authbench_die("socket");
	if (connect(c->fd, (struct sockaddr *)&b->addr, b->addr_len) < 0)
		authbench_die("connect");
	if (b->addr.ss_family == AF_INET)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	n = snprintf(
	    hello, sizeof(hello), "VERSION\t1\t2\nCPID\t%ld\n", (long)getpid());
	authbench_write(c->fd, hello, (size_t)n);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		authbench_die("epoll_ctl");
	return 0;
}

static void
authbench_record(struct authbench *b, uint64_t ns)
{
	if (!b->measuring)
		return;
	if (b->nlat == b->lat_size) {
		b->lat_size = b->lat_size ? b->lat_size * 2 : 1 << 20;
		b->lat = realloc(b->lat, b->lat_size * sizeof(*b->lat));
		if (b->lat == NULL)
			authbench_die("realloc");
	}
	b->lat[b->nlat++] = ns;
}

/* One reply line: handshake, or OK/FAIL for the request in flight. */
static void
authbench_line(struct authbench *b, struct authbench_conn *c, char *line)
{
	unsigned long id;
	bool ok;

	if (!c->ready) {
		if (strcmp(line, "DONE") == 0) {
			c->ready = true;
			if (b->ncreds > 0)
				authbench_send_auth(b, c);
		}
		return;
	}
	if (strncmp(line, "OK\t", 3) == 0)
		ok = true;
	else if (strncmp(line, "FAIL\t", 5) == 0)
		ok = false;
	else {
		(void)fprintf(
		    stderr, "authbench: unexpected reply: %.60s\n", line);
		exit(1);
	}
	id = strtoul(line + (ok ? 3 : 5), NULL, 10);
	if (id != c->id)
		return;
	authbench_record(b, authbench_now() - c->sent_ns);
	if (b->measuring) {
		if (ok)
			b->ok++;
		else
			b->fail++;
	}
	authbench_send_auth(b, c);
}

static void
authbench_read(struct authbench *b, struct authbench_conn *c)
{
	char *p, *nl;
	ssize_t n;

	for (;;) {
		n = recv(
		    c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			(void)fprintf(stderr,
			    "authbench: server closed a "
			    "connection\n");
			exit(1);
		}
		c->rlen += (size_t)n;
		p = c->rbuf;
		while ((nl = memchr(p, '\n',
			    c->rlen - (size_t)(p - c->rbuf))) != NULL) {
			*nl = '\0';
			authbench_line(b, c, p);
			p = nl + 1;
		}
		c->rlen -= (size_t)(p - c->rbuf);
		memmove(c->rbuf, p, c->rlen);
		if (c->rlen == sizeof(c->rbuf)) {
			(void)fprintf(
			    stderr, "authbench: reply line too long\n");
			exit(1);
		}
	}
}

/* utime + stime of the given PIDs, in clock ticks. */
static uint64_t
authbench_cpu(const long *pids, int npids)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	uint64_t sum = 0;
	FILE *f;
	int i, n;

	for (i = 0; i < npids; i++) {
		(void)snprintf(path, sizeof(path), "/proc/%ld/stat", pids[i]);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL) {
			/* After "pid (comm) ": fields 3..13, then utime, stime.
			 */
			p += 2;
			for (n = 0; n < 11 && p != NULL; n++) {
				p = strchr(p, ' ');
				p = p != NULL ? p + 1 : NULL;
			}
			if (p != NULL) {
				ut = strtoull(p, &p, 10);
				st = strtoull(p, NULL, 10);
				sum += ut + st;
			}
		}
		(void)fclose(f);
	}
	return sum;
}

static long
authbench_rss_kib(long pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	(void)snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	}
	(void)fclose(f);
	return kib;
}

static int
authbench_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
authbench_loop(struct authbench *b, int ep, uint64_t until)
{
	struct epoll_event evs[256];
	int i, n;

	while (authbench_now() < until) {
		n = epoll_wait(ep, evs, 256, 100);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			authbench_die("epoll_wait");
		for (i = 0; i < n; i++)
			authbench_read(b, evs[i].data.ptr);
	}
}

static void
authbench_usage(void)
{
	(void)fprintf(stderr,
	    "usage: authbench (--unix PATH | --tcp IP:PORT) [-c CONNS] "
	    "[-d SECS] [-w WARMUP_SECS]\n"
	    "                 [-s SERVICE] [--pid PID]... -f CREDS_FILE\n"
	    "       authbench (--unix PATH | --tcp IP:PORT) --idle N "
	    "[-d SECS] --pid PID\n"
	    "CREDS_FILE: one user<TAB>password per line, used in turn.\n");
	exit(2);
}

/* What the command line asks for. */
struct authbench_opts {
	const char *unix_path, *tcp, *creds;
	long pids[AUTHBENCH_PIDS_MAX];
	int npids, nconns, idle;
	double secs, warm;
};

/* A non-negative number of seconds, or usage. */
static double
authbench_secs(const char *v)
{
	char *end;
	double d = strtod(v, &end);

	if (end == v || *end != '\0' || d < 0)
		authbench_usage();
	return d;
}

/* One "-x VALUE" pair; false when o is not an option. */
static bool
authbench_opt(struct authbench *b, struct authbench_opts *opts, const char *o,
    const char *v)
{
	if (strcmp(o, "--unix") == 0)
		opts->unix_path = v;
	else if (strcmp(o, "--tcp") == 0)
		opts->tcp = v;
	else if (strcmp(o, "-c") == 0)
		opts->nconns = (int)strtol(v, NULL, 10);
	else if (strcmp(o, "-d") == 0)
		opts->secs = authbench_secs(v);
	else if (strcmp(o, "-w") == 0)
		opts->warm = authbench_secs(v);
	else if (strcmp(o, "-s") == 0)
		b->service = v;
	else if (strcmp(o, "-f") == 0)
		opts->creds = v;
	else if (strcmp(o, "--idle") == 0)
		opts->idle = (int)strtol(v, NULL, 10);
	else if (strcmp(o, "--pid") == 0 && opts->npids < AUTHBENCH_PIDS_MAX)
		opts->pids[opts->npids++] = strtol(v, NULL, 10);
	else
		return false;
	return true;
}

static void
authbench_args(
    int argc, char **argv, struct authbench *b, struct authbench_opts *opts)
{
	int i;

	for (i = 1; i < argc; i += 2) {
		if (i + 1 >= argc ||
		    !authbench_opt(b, opts, argv[i], argv[i + 1]))
			authbench_usage();
	}
	if ((opts->unix_path == NULL) == (opts->tcp == NULL) ||
	    authbench_target(b, opts->unix_path, opts->tcp) < 0 ||
	    opts->nconns < 1)
		authbench_usage();
	if (opts->idle > 0) {
		opts->nconns = opts->idle;
		if (opts->npids != 1)
			authbench_usage();
	} else if (opts->creds == NULL) {
		authbench_usage();
	} else {
		authbench_load_creds(b, opts->creds);
	}
}

/* Handshakes done, nothing in flight: what idle connections cost. */
static int
authbench_idle(struct authbench *b, int ep, const struct authbench_conn *conns,
    const struct authbench_opts *opts, long rss0)
{
	long rss1;
	int i;

	authbench_loop(b, ep, authbench_now() + (uint64_t)(opts->secs * 1e9));
	for (i = 0; i < opts->nconns && conns[i].ready; i++)
		;
	rss1 = authbench_rss_kib(opts->pids[0]);
	printf("idle_conns=%d handshaked=%d rss_before_kib=%ld "
	       "rss_after_kib=%ld per_conn_bytes=%.0f\n",
	    opts->idle, i, rss0, rss1,
	    (double)(rss1 - rss0) * 1024 / opts->idle);
	return i == opts->nconns ? 0 : 1;
}

/* The q-th of 100 quantile of the sorted latencies, in ms. */
static double
authbench_quantile_ms(const struct authbench *b, size_t q)
{
	uint64_t ns = b->lat[b->nlat * q / 100 - (q == 100 ? 1 : 0)];

	return (double)ns / 1e6;
}

static void
authbench_report(struct authbench *b, const struct authbench_opts *opts,
    uint64_t ns, uint64_t ticks)
{
	double rate, cpu_us = -1;

	qsort(b->lat, b->nlat, sizeof(*b->lat), authbench_cmp);
	rate = (double)b->nlat / ((double)ns / 1e9);
	if (opts->npids > 0)
		cpu_us = (double)ticks * 1e6 / (double)sysconf(_SC_CLK_TCK) /
		    (double)b->nlat;
	printf("conns=%d secs=%.1f auths=%zu ok=%llu fail=%llu rate=%.0f "
	       "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f cpu_us_per_auth=%.2f\n",
	    opts->nconns, (double)ns / 1e9, b->nlat, (unsigned long long)b->ok,
	    (unsigned long long)b->fail, rate, authbench_quantile_ms(b, 50),
	    authbench_quantile_ms(b, 99), authbench_quantile_ms(b, 100),
	    cpu_us);
}

/* Warm up, then measure: 0, 1 without replies, 3 with FAILs. */
static int
authbench_measure(
    struct authbench *b, int ep, const struct authbench_opts *opts)
{
	uint64_t t0, t1, cpu0, cpu1;

	authbench_loop(b, ep, authbench_now() + (uint64_t)(opts->warm * 1e9));
	b->measuring = true;
	cpu0 = authbench_cpu(opts->pids, opts->npids);
	t0 = authbench_now();
	authbench_loop(b, ep, t0 + (uint64_t)(opts->secs * 1e9));
	t1 = authbench_now();
	cpu1 = authbench_cpu(opts->pids, opts->npids);
	b->measuring = false;

	if (b->nlat == 0) {
		(void)fprintf(stderr, "authbench: no replies\n");
		return 1;
	}
	authbench_report(b, opts, t1 - t0, cpu1 - cpu0);
	return b->fail > 0 ? 3 : 0;
}

int
main(int argc, char **argv)
{
	struct authbench b = { .service = "imap" };
	struct authbench_opts opts = { .nconns = 1, .secs = 5, .warm = 1 };
	struct authbench_conn *conns;
	long rss0;
	int i, ep, ret;

	authbench_args(argc, argv, &b, &opts);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		authbench_die("epoll_create1");
	conns = calloc((size_t)opts.nconns, sizeof(*conns));
	if (conns == NULL)
		authbench_die("calloc");
	rss0 = opts.npids > 0 ? authbench_rss_kib(opts.pids[0]) : -1;
	for (i = 0; i < opts.nconns; i++)
		authbench_connect(&b, ep, &conns[i]);

	if (opts.idle > 0)
		ret = authbench_idle(&b, ep, conns, &opts, rss0);
	else
		ret = authbench_measure(&b, ep, &opts);
	free(conns);
	return ret;
}
