/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http_parse.c - libFuzzer target for what a browser or a proxy
 * sends mailgated's web service and the small parsers that read it. The
 * first input byte picks one, the rest is the input:
 *   0 form bodies: http_form_next() over every field of a few names,
 *     into buffers of several sizes;
 *   1 return_to: http_html_return_to_ok();
 *   2 CIDRs: http_net_cidr_parse(), and the address checked against it;
 *   3 X-Forwarded-For behind trusted proxies: http_net_client();
 *   4 escaping: http_html_escape() and http_buf_urlenc().
 * Each checks what its header promises about the result.
 *
 * smoke runs: 60000
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "mailgated/http_html.h"
#include "mailgated/http_net.h"
#include "mailgate/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Control bytes other than the blanks a textarea may hold. */
static bool
fuzz_has_control(const char *s, const char *allowed)
{
	for (; *s != '\0'; s++) {
		if (((unsigned char)*s < 0x20 || *s == 0x7f) &&
		    strchr(allowed, *s) == NULL)
			return true;
	}
	return false;
}

static void
fuzz_form(const char *body, size_t len)
{
	static const char *const names[] = { "label", "csrf", "scopes",
		"return_to", "" };
	static const size_t sizes[] = { 1, 2, 8, 64, 1024 };
	char out[1024];
	size_t i, j, pos, hits;
	int ret;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			pos = 0;
			hits = 0;
			while ((ret = http_form_next(body, len, names[i], &pos,
				    out, sizes[j])) == 0) {
				if (strlen(out) >= sizes[j] ||
				    fuzz_has_control(out, "\t\r\n") ||
				    pos > len || ++hits > len)
					abort();
			}
			if (ret != -1 && ret != -2)
				abort();
		}
	}
}

static void
fuzz_return_to(const char *s)
{
	if (!http_html_return_to_ok(s))
		return;
	if (s[0] != '/' || s[1] == '/' || s[1] == '\\' ||
	    strchr(s, '\\') != NULL || strlen(s) > WEB_RETURN_TO_MAX ||
	    fuzz_has_control(s, "") || strchr(s, ' ') != NULL)
		abort();
}

static void
fuzz_cidr(const char *s)
{
	struct http_cidr c;
	char addr[HTTP_NET_ADDR_MAX + 1];
	const char *slash = strchr(s, '/');
	size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);

	if (http_net_cidr_parse(s, &c) < 0)
		return;
	if ((c.family != AF_INET || c.bits > 32) &&
	    (c.family != AF_INET6 || c.bits > 128))
		abort();
	/* The network's own address lies in it. */
	if (len > HTTP_NET_ADDR_MAX)
		abort();
	memcpy(addr, s, len);
	addr[len] = '\0';
	if (!http_net_trusted(&c, 1, addr))
		abort();
}

static void
fuzz_xff(const char *xff)
{
	static struct http_cidr proxies[3];
	static bool ready;
	unsigned char bin[16];
	char out[HTTP_NET_ADDR_MAX];

	if (!ready) {
		if (http_net_cidr_parse("127.0.0.0/8", &proxies[0]) < 0 ||
		    http_net_cidr_parse("10.0.0.0/8", &proxies[1]) < 0 ||
		    http_net_cidr_parse("2001:db8::/32", &proxies[2]) < 0)
			abort();
		ready = true;
	}
	http_net_client(proxies, 3, "127.0.0.1", xff, out);
	if (memchr(out, '\0', sizeof(out)) == NULL)
		abort();
	if (inet_pton(AF_INET, out, bin) != 1 &&
	    inet_pton(AF_INET6, out, bin) != 1)
		abort(); /* always an address: the peer's at worst */
}

static void
fuzz_escape(const char *s)
{
	static const char unreserved[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "abcdefghijklmnopqrstuvwxyz"
					 "0123456789-._~%";
	struct http_buf b;
	char out[64];
	size_t need;

	need = http_html_escape(s, out, sizeof(out));
	if (strlen(out) > need || strpbrk(out, "<>\"'") != NULL)
		abort();
	http_buf_init(&b);
	http_buf_urlenc(&b, s);
	if (strlen(b.p) != b.len || strspn(b.p, unreserved) != b.len)
		abort();
	http_buf_deinit(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size == 0)
		return 0;
	s = malloc(size);
	if (s == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0:
		fuzz_form(s, size - 1);
		break;
	case 1:
		fuzz_return_to(s);
		break;
	case 2:
		fuzz_cidr(s);
		break;
	case 3:
		fuzz_xff(s);
		break;
	default:
		fuzz_escape(s);
		break;
	}
	free(s);
	return 0;
}
