/* SPDX-License-Identifier: MIT */
/*
 * http_html.h - building HTML pages and reading form bodies, with every
 * outside string escaped on the way out and bounded on the way in.
 */
#ifndef MAILGATED_HTTP_HTML_H
#define MAILGATED_HTTP_HTML_H

#include <stdbool.h>
#include <stddef.h>

/* A growing byte buffer; the bytes are always NUL-terminated. */
struct http_buf {
	char *p; /* owned */
	size_t len;
	size_t cap;
};

void http_buf_init(struct http_buf *b);
void http_buf_deinit(struct http_buf *b);
/* Take the bytes: owned by the caller (free()); b is empty after. */
char *http_buf_steal(struct http_buf *b, size_t *len_r);
/* Raw bytes: only literals and values we made ourselves. */
void http_buf_add(struct http_buf *b, const char *s);
void http_buf_addn(struct http_buf *b, const char *s, size_t n);
/* s escaped for HTML text and double-quoted attribute values. */
void http_buf_esc(struct http_buf *b, const char *s);

/*
 * Escape s (NUL-terminated) into out of size bytes: & < > " ' become
 * entities, control bytes other than tab and newline are dropped.
 * Returns the length the whole escaped string needs (like snprintf);
 * out is always terminated when size > 0 and never ends in half an
 * entity: once a piece does not fit, the rest is left out.
 */
size_t http_html_escape(const char *s, char *out, size_t size);

/* Page frame: doctype, lang, viewport, the stylesheet, title, h1. */
void http_html_begin(struct http_buf *b, const char *title);
void http_html_end(struct http_buf *b);

/*
 * Find the value of name in an application/x-www-form-urlencoded body
 * (len bytes, need not be terminated), starting the search at *pos
 * (0 for the first), percent- and '+'-decoded into out (size bytes).
 * On a hit returns 0 and advances *pos past it, so repeated names can be
 * read in a loop. Returns -1 when there is no further such field, and -2
 * when the value is malformed (bad %-escape, NUL or control byte, longer
 * than size - 1).
 */
int http_form_next(const char *body, size_t len, const char *name, size_t *pos,
    char *out, size_t size);
/* The first value of name: http_form_next() from the start. */
int http_form_get(
    const char *body, size_t len, const char *name, char *out, size_t size);

/*
 * Percent-encode s for a URL query value (RFC 3986 unreserved kept).
 * Appends to b.
 */
void http_buf_urlenc(struct http_buf *b, const char *s);

/*
 * A return_to worth keeping: a relative path starting with exactly one
 * '/', no backslash, no control byte or space, at most WEB_RETURN_TO_MAX
 * bytes. Everything else (absolute URLs, "//host", "/\\host") is false.
 */
bool http_html_return_to_ok(const char *s);

#endif
