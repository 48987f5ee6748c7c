/* SPDX-License-Identifier: MIT */
/*
 * secret.h - bytes that must never be printed, logged or left in memory:
 * app tokens, the token key, the client secret, authorisation codes, the
 * PKCE verifier, cookies, the database URL.
 *
 * There is deliberately no char * accessor: a caller that must hand the
 * bytes to a library writes (const char *)s->buf and owns that choice.
 * buf is always followed by one NUL byte that len does not count.
 */
#ifndef MAILGATE_SECRET_H
#define MAILGATE_SECRET_H

#include <stdbool.h>
#include <stddef.h>

struct secret {
	unsigned char *buf;
	size_t len;
};

/* Owned: release with secret_free(). len zero bytes plus the NUL. */
struct secret *secret_new(size_t len);
/* Owned: a copy of len bytes of p. */
struct secret *secret_from(const void *p, size_t len);
/*
 * Read a whole file of at most max bytes into a new secret. With
 * trim_newline, one trailing "\n" or "\r\n" is dropped (files written by
 * echo). Returns 0, or -1 with *errstr_r set (borrowed, static or errno
 * text); never names the contents.
 */
int secret_read_file(const char *path, size_t max, bool trim_newline,
    struct secret **sec_r, const char **errstr_r);
/* Wipe, free, and leave NULL behind. Accepts NULL and *sp == NULL. */
void secret_free(struct secret **sp);
/* Constant time for equal lengths; different lengths are unequal. */
bool secret_equal(const struct secret *a, const struct secret *b);
/* Constant-time memcmp for secrets of a known, public length. */
bool secret_mem_equal(const void *a, const void *b, size_t len);
/* Wipe memory the compiler may not skip. */
void secret_wipe(void *p, size_t len);
/* Fill p with len bytes from the OS CSPRNG; aborts if it cannot. */
void secret_random(void *p, size_t len);

#endif
