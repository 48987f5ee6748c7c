/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - what mailgated gives each service it runs (the Dovecot auth
 * socket today; an HTTP service later) and what a service must provide.
 *
 * Threads: main.c runs one event loop thread. Services do their socket
 * work there and hand database work to the shared pool (dbpool.h),
 * whose workers each own a struct db. A service that runs its own
 * threads (libmicrohttpd) may open private connections with
 * daemon_db_open() instead, one per thread.
 *
 * Start/stop sequence (main.c): load config, keyring -> create loop,
 * pool, cache, listener -> service start() for each -> run loop ->
 * on SIGTERM: stop() for each (stop accepting, finish answered work),
 * loop runs until every service says drained() -> finish() -> free.
 */
#ifndef MAILGATED_DAEMON_H
#define MAILGATED_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "mailgate/config.h"
#include "mailgate/db.h"
#include "mailgate/token.h"

#include "dbpool.h"
#include "evloop.h"
#include "tokcache.h"

/* Database worker threads in the shared pool. */
#define DAEMON_DB_WORKERS 4

/* Settings a SIGHUP may change; everything else needs a restart. */
struct daemon_reloadable {
	int64_t failure_delay_ms;
	unsigned int lockout_failures;
	int64_t lockout_time_s;
	int64_t cache_ttl_s;
};

struct daemon {
	/* Borrowed by services for the daemon's life; never reloaded. */
	const struct config *cfg;
	struct evloop *loop;
	struct dbpool *pool;
	struct tokcache *cache;

	/* Loop thread only. Swapped by SIGHUP between two events. */
	struct token_keyring *keyring;
	struct daemon_reloadable live;

	bool stopping;
};

struct daemon_service {
	const char *name;
	/* Open listeners; 0, or -1 after logging why (start-up fails). */
	int (*start)(struct daemon *d, void **state_r);
	/*
	 * SIGHUP: d->live and d->keyring were just replaced; cfg is the
	 * file just read (borrowed for the call only).
	 */
	void (*reload)(void *state, const struct config *cfg);
	/* SIGTERM: stop accepting; answer what has been asked. */
	void (*stop)(void *state);
	/* True once nothing answered or in progress is left. */
	bool (*drained)(void *state);
	/* Flush batches, close everything, free state. */
	void (*finish)(void **statep);
};

/* The services mailgated runs, in start order. */
extern const struct daemon_service authsock_service;

/* A private connection for a service's own thread (see above). */
enum mg_result daemon_db_open(
    const struct daemon *d, struct db **db_r, char **errstr_r);

/* Unix seconds, for token expiry. */
int64_t daemon_now(void);

#endif
