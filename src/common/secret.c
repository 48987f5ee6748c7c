/* SPDX-License-Identifier: MIT */
/*
 * secret.c - storage for bytes that must not leak: wiped on free,
 * compared in constant time, read from files without ever echoing them.
 */
#include "mailgate/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "mailgate/result.h"
#include "mailgate/xmalloc.h"

struct secret *
secret_new(size_t len)
{
	struct secret *s = xmalloc(sizeof(*s));

	s->buf = xcalloc(1, len + 1);
	s->len = len;
	return s;
}

struct secret *
secret_from(const void *p, size_t len)
{
	struct secret *s = secret_new(len);

	if (len > 0)
		memcpy(s->buf, p, len);
	return s;
}

void
secret_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

void
secret_free(struct secret **sp)
{
	struct secret *s;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	secret_wipe(s->buf, s->len + 1);
	free(s->buf);
	free(s);
	*sp = NULL;
}

bool
secret_mem_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

bool
secret_equal(const struct secret *a, const struct secret *b)
{
	if (a->len != b->len)
		return false;
	return secret_mem_equal(a->buf, b->buf, a->len);
}

void
secret_random(void *p, size_t len)
{
	unsigned char *b = p;
	ssize_t n;

	while (len > 0) {
		n = getrandom(b, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		MG_ASSERT(n > 0); /* the kernel CSPRNG does not fail */
		b += n;
		len -= (size_t)n;
	}
}

/* Read up to max + 1 bytes so that an oversized file is noticed. */
static int
secret_read_fd(int fd, size_t max, struct secret *s, const char **errstr_r)
{
	ssize_t n;

	for (;;) {
		n = read(fd, s->buf + s->len, max + 1 - s->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*errstr_r = strerror(errno);
			return -1;
		}
		if (n == 0)
			return 0;
		s->len += (size_t)n;
		if (s->len > max) {
			*errstr_r = "file is too large";
			return -1;
		}
	}
}

int
secret_read_file(const char *path, size_t max, bool trim_newline,
    struct secret **sec_r, const char **errstr_r)
{
	struct secret *s;
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		*errstr_r = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*errstr_r = "not a regular file";
		(void)close(fd);
		return -1;
	}

	s = secret_new(max + 1);
	s->len = 0;
	ret = secret_read_fd(fd, max, s, errstr_r);
	(void)close(fd);
	if (ret < 0) {
		s->len = max + 1;
		secret_free(&s);
		return -1;
	}

	if (trim_newline && s->len > 0 && s->buf[s->len - 1] == '\n') {
		s->buf[--s->len] = '\0';
		if (s->len > 0 && s->buf[s->len - 1] == '\r')
			s->buf[--s->len] = '\0';
	}
	s->buf[s->len] = '\0';
	*sec_r = s;
	return 0;
}
