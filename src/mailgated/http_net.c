/* SPDX-License-Identifier: MIT */
/*
 * http_net.c - trusted proxies and the client address.
 * Input: [http] trusted_proxies (trusted) and X-Forwarded-For (hostile:
 * any client can send one; only the entries our proxies appended count).
 * Never looks at Host or X-Forwarded-Host. Never logs.
 */
#include "http_net.h"

#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "mailgate/parse.h"

/* Parse a bare address into family and 16 bytes (IPv4 in the first 4). */
static int
http_net_addr(const char *s, int *family_r, unsigned char addr_r[16])
{
	struct in6_addr a6;
	struct in_addr a4;

	memset(addr_r, 0, 16);
	if (inet_pton(AF_INET, s, &a4) == 1) {
		*family_r = AF_INET;
		memcpy(addr_r, &a4, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		*family_r = AF_INET;
		memcpy(addr_r, &a6.s6_addr[12], 4);
		return 0;
	}
	*family_r = AF_INET6;
	memcpy(addr_r, &a6, 16);
	return 0;
}

static bool
http_net_in(const struct http_cidr *c, int family, const unsigned char *a)
{
	unsigned int full = c->bits / 8, rest = c->bits % 8;
	unsigned char mask;

	if (c->family != family)
		return false;
	if (memcmp(c->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (a[full] & mask);
}

static bool
http_net_host_bits_clear(const struct http_cidr *c)
{
	unsigned int i, keep;
	unsigned char mask;

	for (i = 0; i < 16; i++) {
		if (c->bits >= (i + 1) * 8)
			continue;
		keep = c->bits > i * 8 ? c->bits - i * 8 : 0;
		mask = (unsigned char)(0xff << (8 - keep));
		if (keep == 0)
			mask = 0;
		if ((c->addr[i] & (unsigned char)~mask) != 0)
			return false;
	}
	return true;
}

int
http_net_cidr_parse(const char *s, struct http_cidr *c_r)
{
	char host[HTTP_NET_ADDR_MAX];
	const char *slash = strchr(s, '/');
	struct http_cidr c;
	size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned int max;

	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (http_net_addr(host, &c.family, c.addr) < 0)
		return -1;
	max = c.family == AF_INET ? 32 : 128;
	c.bits = max;
	if (slash != NULL && parse_uint(slash + 1, max, &c.bits) < 0)
		return -1;
	/* Host bits set mean a typo ("10.0.0.1/8"): refuse, do not guess. */
	if (!http_net_host_bits_clear(&c))
		return -1;
	*c_r = c;
	return 0;
}

bool
http_net_trusted(const struct http_cidr *list, size_t n, const char *addr)
{
	unsigned char a[16];
	int family;
	size_t i;

	if (http_net_addr(addr, &family, a) < 0)
		return false;
	for (i = 0; i < n; i++) {
		if (http_net_in(&list[i], family, a))
			return true;
	}
	return false;
}

/* Write the canonical text of addr (IPv4-mapped shown as IPv4). */
static void
http_net_canon(const char *addr, char out[HTTP_NET_ADDR_MAX])
{
	unsigned char a[16];
	int family;

	if (http_net_addr(addr, &family, a) < 0 ||
	    inet_ntop(family, a, out, HTTP_NET_ADDR_MAX) == NULL)
		out[0] = '\0';
}

void
http_net_peer(const struct sockaddr *sa, char out[HTTP_NET_ADDR_MAX])
{
	char tmp[HTTP_NET_ADDR_MAX];
	const void *a = NULL;

	out[0] = '\0';
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, tmp, sizeof(tmp)) == NULL)
		return;
	http_net_canon(tmp, out);
}

/* The entry of xff that ends just before *end, trimmed; NULL at none. */
static const char *
http_net_xff_prev(const char *xff, size_t *end, size_t *len_r)
{
	size_t e = *end, b;

	if (e == 0)
		return NULL;
	b = e;
	while (b > 0 && xff[b - 1] != ',')
		b--;
	*end = b > 0 ? b - 1 : 0;
	while (b < e && (xff[b] == ' ' || xff[b] == '\t'))
		b++;
	while (e > b && (xff[e - 1] == ' ' || xff[e - 1] == '\t'))
		e--;
	*len_r = e - b;
	return xff + b;
}

void
http_net_client(const struct http_cidr *list, size_t n, const char *peer,
    const char *xff, char out[HTTP_NET_ADDR_MAX])
{
	char hop[HTTP_NET_ADDR_MAX], last[HTTP_NET_ADDR_MAX];
	const char *p;
	size_t end, len;
	unsigned int hops = 0;

	http_net_canon(peer, last);
	if (xff == NULL || !http_net_trusted(list, n, last)) {
		memcpy(out, last, HTTP_NET_ADDR_MAX);
		return;
	}
	end = strlen(xff);
	while (hops++ < HTTP_NET_XFF_HOPS_MAX) {
		p = http_net_xff_prev(xff, &end, &len);
		if (p == NULL || len == 0 || len >= sizeof(hop))
			break;
		memcpy(hop, p, len);
		hop[len] = '\0';
		http_net_canon(hop, hop);
		if (hop[0] == '\0')
			break; /* malformed: keep the last checked hop */
		memcpy(last, hop, sizeof(last));
		if (!http_net_trusted(list, n, last))
			break;
	}
	memcpy(out, last, HTTP_NET_ADDR_MAX);
}
