/* SPDX-License-Identifier: MIT */
/*
 * xmalloc.c - allocation that never returns NULL. Running out of memory
 * is not a condition mailgate tries to survive: it aborts loudly.
 */
#include "mailgate/xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailgate/result.h"

static void xmalloc_oom(size_t size) __attribute__((noreturn));

static void
xmalloc_oom(size_t size)
{
	(void)fprintf(stderr, "mailgate: out of memory (%zu bytes)\n", size);
	abort();
}

void
mg_assert_fail(const char *expr, const char *file, int line)
{
	(void)fprintf(stderr, "mailgate: BUG: assertion failed: %s (%s:%d)\n",
	    expr, file, line);
	abort();
}

void *
xmalloc(size_t size)
{
	void *p = malloc(size == 0 ? 1 : size);

	if (p == NULL)
		xmalloc_oom(size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		xmalloc_oom(n * size);
	return p;
}

void *
xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size == 0 ? 1 : size);

	if (q == NULL)
		xmalloc_oom(size);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	int len;
	char *p;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	MG_ASSERT(len >= 0);

	p = xmalloc((size_t)len + 1);
	va_start(ap, fmt);
	(void)vsnprintf(p, (size_t)len + 1, fmt, ap);
	va_end(ap);
	return p;
}
