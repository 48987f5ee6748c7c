/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c - libFuzzer target for the configuration reader,
 * config_load(): the input up to its first NUL is the file, and each
 * NUL-separated piece after it is one environment entry
 * ("MAILGATE_AUTH_SOCKET=/x"). The file goes through a temporary file,
 * as config_load() only reads paths. An accepted configuration must
 * hold its documented invariants, and config_require() must not crash.
 *
 * smoke runs: 10000
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailgate/config.h"
#include "mailgate/log.h"

#define FUZZ_ENV_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_path[] = "/tmp/mg-fuzz-config-XXXXXX";
static int fuzz_fd = -1;

static void
fuzz_cleanup(void)
{
	(void)unlink(fuzz_path);
}

static void
fuzz_setup(void)
{
	log_init("fuzz", LOG_LEVEL_ERR, false);
	fuzz_fd = mkstemp(fuzz_path);
	if (fuzz_fd < 0)
		abort();
	if (atexit(fuzz_cleanup) != 0)
		abort();
}

/* What config.h promises about a configuration it returns. */
static void
fuzz_check(const struct config *cfg)
{
	if (cfg->auth.socket == NULL || cfg->auth.socket[0] != '/')
		abort();
	if (cfg->auth.socket_mode > 0777 || cfg->auth.max_connections == 0)
		abort();
	if (cfg->oidc.clock_skew < 0 || cfg->oidc.clock_skew > 300)
		abort();
	if (cfg->log.level == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t flen = nul != NULL ? (size_t)(nul - data) : size;
	char *envp[FUZZ_ENV_MAX + 1], *envbuf = NULL, *err = NULL, *p;
	struct config *cfg = NULL;
	size_t n = 0;

	if (fuzz_fd < 0)
		fuzz_setup();
	if (ftruncate(fuzz_fd, 0) < 0 ||
	    pwrite(fuzz_fd, data, flen, 0) != (ssize_t)flen)
		abort();

	/* The rest: NUL-separated environment entries, copied so that
	 * each ends in a NUL of its own. */
	if (nul != NULL) {
		envbuf = malloc(size - flen + 1);
		if (envbuf == NULL)
			return 0;
		memcpy(envbuf, nul + 1, size - flen - 1);
		envbuf[size - flen - 1] = '\0';
		for (p = envbuf;
		     p < envbuf + (size - flen - 1) && n < FUZZ_ENV_MAX;
		     p += strlen(p) + 1)
			envp[n++] = p;
	}
	envp[n] = NULL;

	if (config_load(fuzz_path, envp, &cfg, &err) == 0) {
		if (cfg == NULL || err != NULL)
			abort();
		fuzz_check(cfg);
		if (config_require(cfg,
			CONFIG_NEED_DATABASE | CONFIG_NEED_TOKENS |
			    CONFIG_NEED_HTTP | CONFIG_NEED_OIDC,
			&err) < 0 &&
		    err == NULL)
			abort();
		config_free(&cfg);
	} else if (err == NULL || cfg != NULL) {
		abort(); /* a failure always says why, and returns nothing */
	}
	free(err);
	free(envbuf);
	return 0;
}
