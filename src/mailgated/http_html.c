/* SPDX-License-Identifier: MIT */
/*
 * http_html.c - HTML output with escaping, form bodies and query values
 * on input. Input: request bodies and parameters from any browser, so
 * hostile; every reader is bounded by its output size. Never logs.
 */
#include "http_html.h"

#include <stdbool.h>
#include <string.h>

#include "mailgate/limits.h"
#include "mailgate/result.h"
#include "mailgate/xmalloc.h"

void
http_buf_init(struct http_buf *b)
{
	b->cap = 1024;
	b->p = xmalloc(b->cap);
	b->p[0] = '\0';
	b->len = 0;
}

void
http_buf_deinit(struct http_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *
http_buf_steal(struct http_buf *b, size_t *len_r)
{
	char *p = b->p;

	if (len_r != NULL)
		*len_r = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void
http_buf_addn(struct http_buf *b, const char *s, size_t n)
{
	MG_ASSERT(b->p != NULL);
	if (n >= b->cap - b->len) {
		while (n >= b->cap - b->len)
			b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
http_buf_add(struct http_buf *b, const char *s)
{
	http_buf_addn(b, s, strlen(s));
}

/* The entity for c, or NULL when c is written as it is. */
static const char *
http_html_entity(unsigned char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		return NULL;
	}
}

size_t
http_html_escape(const char *s, char *out, size_t size)
{
	const char *ent;
	size_t need = 0, put = 0, n;
	bool full = false;
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			continue;
		ent = http_html_entity(c);
		n = ent != NULL ? strlen(ent) : 1;
		/* Once one piece does not fit, nothing after it is written. */
		if (!full && size > 0 && put + n < size) {
			if (ent != NULL)
				memcpy(out + put, ent, n);
			else
				out[put] = (char)c;
			put += n;
		} else {
			full = true;
		}
		need += n;
	}
	if (size > 0)
		out[put] = '\0';
	return need;
}

void
http_buf_esc(struct http_buf *b, const char *s)
{
	size_t need = http_html_escape(s, NULL, 0);

	if (need + 1 > b->cap - b->len) {
		while (need + 1 > b->cap - b->len)
			b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
	(void)http_html_escape(s, b->p + b->len, need + 1);
	b->len += need;
}

void
http_buf_urlenc(struct http_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char pct[3];
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			http_buf_addn(b, s, 1);
			continue;
		}
		pct[0] = '%';
		pct[1] = hex[c >> 4];
		pct[2] = hex[c & 0x0f];
		http_buf_addn(b, pct, 3);
	}
}

void
http_html_begin(struct http_buf *b, const char *title)
{
	http_buf_add(b,
	    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n"
	    "<link rel=\"stylesheet\" href=\"/static/mailgate.css\">\n"
	    "<title>");
	http_buf_esc(b, title);
	http_buf_add(b,
	    " - mailgate</title>\n</head>\n<body>\n"
	    "<main>\n<h1>");
	http_buf_esc(b, title);
	http_buf_add(b, "</h1>\n");
}

void
http_html_end(struct http_buf *b)
{
	http_buf_add(b, "</main>\n</body>\n</html>\n");
}

static int
http_html_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode in[0..n) into out (size bytes). 0, or -2 on bad input. */
static int
http_html_form_decode(const char *in, size_t n, char *out, size_t size)
{
	size_t i, o = 0;
	int hi, lo;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)in[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= n)
				return -2;
			hi = http_html_hexval(in[i + 1]);
			lo = http_html_hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -2;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') ||
		    c == 0x7f || o + 1 >= size)
			return -2;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int
http_form_next(const char *body, size_t len, const char *name, size_t *pos,
    char *out, size_t size)
{
	size_t nlen = strlen(name), i = *pos, end, eq;

	MG_ASSERT(size > 0);
	while (i < len) {
		end = i;
		while (end < len && body[end] != '&')
			end++;
		eq = i;
		while (eq < end && body[eq] != '=')
			eq++;
		if (eq - i == nlen && memcmp(body + i, name, nlen) == 0) {
			*pos = end < len ? end + 1 : len;
			if (eq == end)
				return http_html_form_decode("", 0, out, size);
			return http_html_form_decode(
			    body + eq + 1, end - eq - 1, out, size);
		}
		i = end + 1;
	}
	*pos = len;
	return -1;
}

int
http_form_get(
    const char *body, size_t len, const char *name, char *out, size_t size)
{
	size_t pos = 0;

	return http_form_next(body, len, name, &pos, out, size);
}

bool
http_html_return_to_ok(const char *s)
{
	size_t n;

	if (s == NULL || s[0] != '/' || s[1] == '/' || s[1] == '\\')
		return false;
	for (n = 0; s[n] != '\0'; n++) {
		if ((unsigned char)s[n] <= 0x20 || s[n] == 0x7f ||
		    s[n] == '\\' || n >= WEB_RETURN_TO_MAX)
			return false;
	}
	return true;
}
