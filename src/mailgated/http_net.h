/* SPDX-License-Identifier: MIT */
/*
 * http_net.h - who is asking: the peer address, and behind a trusted
 * reverse proxy the client address from X-Forwarded-For.
 */
#ifndef MAILGATED_HTTP_NET_H
#define MAILGATED_HTTP_NET_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>

#define HTTP_NET_ADDR_MAX     46 /* INET6_ADDRSTRLEN */
/* More hops than this in X-Forwarded-For are not looked at. */
#define HTTP_NET_XFF_HOPS_MAX 16

struct http_cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned int bits;
};

/*
 * "192.0.2.0/24", "2001:db8::/32" or a bare address (a /32 or /128).
 * Host bits must be zero. 0, or -1 when s is not such a thing.
 */
int http_net_cidr_parse(const char *s, struct http_cidr *c_r);

/* Whether the textual address addr lies in one of the n networks. */
bool http_net_trusted(const struct http_cidr *list, size_t n, const char *addr);

/* The peer's address as text ("" when unknown). */
void http_net_peer(const struct sockaddr *sa, char out[HTTP_NET_ADDR_MAX]);

/*
 * The client address: the peer unless the peer is trusted; then the
 * rightmost X-Forwarded-For entry that is not itself trusted. A
 * malformed entry ends the walk at the last address we could check.
 * xff may be NULL. IPv4-mapped IPv6 addresses are shown as IPv4.
 */
void http_net_client(const struct http_cidr *list, size_t n, const char *peer,
    const char *xff, char out[HTTP_NET_ADDR_MAX]);

#endif
