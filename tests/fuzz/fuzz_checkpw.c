/* SPDX-License-Identifier: MIT */
/*
 * fuzz_checkpw.c - libFuzzer target for mailgate-checkpassword's two
 * parsers. The first input byte picks one, the rest is the input:
 *   even: the fd 3 request Dovecot writes ("user\0password\0..."),
 *         checkpw_request_parse(); an accepted one is built into the
 *         AUTH request, which must be one line per command with no stray
 *         TAB or LF from the user;
 *   odd:  mailgated's answer, fed line by line to checkpw_reply_feed()
 *         until it has a result or refuses.
 * Both copy the input into a buffer of exactly its size, so
 * AddressSanitizer sees any read past it.
 *
 * smoke runs: 600000
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpassword/checkpw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
fuzz_getenv(const char *name)
{
	if (strcmp(name, "TCPREMOTEIP") == 0)
		return "192.0.2.7";
	if (strcmp(name, "AUTH_SESSION") == 0)
		return "fuzzSession01";
	return NULL;
}

/* The request mailgated will read: exactly 3 lines, one AUTH. */
static void
fuzz_request_check(const char *req, size_t len)
{
	size_t i, lines = 0;

	if (len == 0 || req[len - 1] != '\n' || strlen(req) != len)
		abort();
	for (i = 0; i < len; i++) {
		if (req[i] == '\n')
			lines++;
	}
	if (lines != 3 || strstr(req, "\nAUTH\t1\tPLAIN\tservice=") == NULL)
		abort();
}

static void
fuzz_request(const uint8_t *data, size_t size)
{
	struct checkpw_creds creds;
	struct checkpw_env env;
	const char *errstr = NULL;
	char req[4096];
	size_t n;

	if (checkpw_request_parse(data, size, &creds, &errstr) != MG_OK) {
		if (errstr == NULL)
			abort();
		return;
	}
	if (creds.user[0] == '\0' || strlen(creds.user) > ADDRESS_MAX ||
	    strpbrk(creds.user, "\t\n\r") != NULL)
		abort();
	if (checkpw_env_read(fuzz_getenv, &env, &errstr) != MG_OK)
		abort();
	n = checkpw_request_build(&creds, &env, 4242, req, sizeof(req));
	if (n == 0)
		abort(); /* anything under CHECKPW_REQUEST_MAX must fit */
	fuzz_request_check(req, n);
	checkpw_creds_deinit(&creds);
}

static void
fuzz_reply(const char *p, size_t size)
{
	const char *end = p + size, *nl;
	struct checkpw_reply r;
	int ret = 0;

	checkpw_reply_init(&r);
	while (p < end && ret == 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		ret = checkpw_reply_feed(&r, p, (size_t)(nl - p));
		p = nl + 1;
	}
	if (ret < 0 && r.errstr == NULL)
		abort();
	if (ret == 1 && r.result == MG_OK &&
	    (r.user[0] == '\0' || strlen(r.user) > ADDRESS_MAX))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy;

	if (size == 0)
		return 0;
	copy = malloc(size - 1 > 0 ? size - 1 : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	if (data[0] % 2 == 0)
		fuzz_request(copy, size - 1);
	else
		fuzz_reply((const char *)copy, size - 1);
	free(copy);
	return 0;
}
