/* SPDX-License-Identifier: MIT */
/*
 * pglisten.c - cache invalidation from PostgreSQL notifications.
 * Input: "token:<public_id>" and "mailbox:<address>" payloads from our
 * own database; anything else is ignored. The thread never touches a
 * socket of the event loop; it only calls tokcache_*.
 */
#include "pglisten.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mailgate/db.h"
#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

#include "evloop.h"

/* A ping unanswered this long means the connection is gone. */
#define PGLISTEN_PING_TIMEOUT_MS 1000
#define PGLISTEN_RETRY_MS        500

struct pglisten {
	const struct config *cfg;
	struct tokcache *cache;
	pthread_t thread;
	atomic_bool stop;
	struct db *db;
	bool ping_out;
	uint64_t ping_sent_ms;
};

static void
pglisten_notify(struct pglisten *l, const char *payload)
{
	if (strncmp(payload, "token:", 6) == 0 && token_id_valid(payload + 6)) {
		tokcache_invalidate_id(l->cache, payload + 6);
		log_debug("pglisten: invalidated token_id=%s", payload + 6);
		return;
	}
	/*
	 * A mailbox change flushes everything: a rename notifies only the
	 * new address, and such changes are rare admin actions.
	 */
	if (strncmp(payload, "mailbox:", 8) == 0) {
		tokcache_invalidate_all(l->cache);
		log_debug("pglisten: invalidated mailbox=%s",
		    log_safe(payload + 8, 254));
	}
}

static bool
pglisten_connect(struct pglisten *l)
{
	char *errstr = NULL;
	PGresult *res;
	bool ok;

	if (db_open(l->cfg, 0, &l->db, &errstr) != MG_OK) {
		log_warn("pglisten: connect failed: %s",
		    errstr != NULL ? errstr : "?");
		free(errstr);
		l->db = NULL;
		return false;
	}
	res = PQexec(db_pgconn(l->db), "LISTEN mailgate");
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok || PQsetnonblocking(db_pgconn(l->db), 1) != 0) {
		log_warn("pglisten: LISTEN failed: %s",
		    PQerrorMessage(db_pgconn(l->db)));
		db_close(&l->db);
		return false;
	}
	/* Whatever happened while we were not listening is unknown. */
	tokcache_invalidate_all(l->cache);
	tokcache_listener_alive(l->cache);
	l->ping_out = false;
	log_info("pglisten: listening on channel mailgate");
	return true;
}

/* Read what arrived; false when the connection failed. */
static bool
pglisten_input(struct pglisten *l)
{
	PGconn *conn = db_pgconn(l->db);
	PGnotify *n;
	PGresult *res;

	if (PQconsumeInput(conn) == 0)
		return false;
	while ((n = PQnotifies(conn)) != NULL) {
		pglisten_notify(l, n->extra);
		PQfreemem(n);
	}
	if (l->ping_out && PQisBusy(conn) == 0) {
		while ((res = PQgetResult(conn)) != NULL)
			PQclear(res);
		l->ping_out = false;
		tokcache_listener_alive(l->cache);
	}
	return PQstatus(conn) == CONNECTION_OK;
}

/* Send a ping when due; false when the connection must be dropped. */
static bool
pglisten_ping(struct pglisten *l)
{
	uint64_t now = evloop_now_ms();

	if (l->ping_out)
		return now - l->ping_sent_ms < PGLISTEN_PING_TIMEOUT_MS;
	if (PQsendQuery(db_pgconn(l->db), "SELECT 1") == 0)
		return false;
	(void)PQflush(db_pgconn(l->db));
	l->ping_out = true;
	l->ping_sent_ms = now;
	return true;
}

static void
pglisten_serve(struct pglisten *l)
{
	struct pollfd pfd;
	uint64_t next_ping = 0, now;
	int n;

	pfd.fd = PQsocket(db_pgconn(l->db));
	pfd.events = POLLIN;
	while (!atomic_load(&l->stop)) {
		now = evloop_now_ms();
		if (now >= next_ping) {
			if (!pglisten_ping(l))
				return;
			next_ping = now + PGLISTEN_PING_MS;
		}
		n = poll(&pfd, 1, (int)(next_ping - now));
		if (n < 0 && errno != EINTR)
			return;
		if (n > 0 && !pglisten_input(l))
			return;
	}
}

static void *
pglisten_main(void *arg)
{
	struct pglisten *l = arg;
	struct timespec ts = { 0, PGLISTEN_RETRY_MS * 1000000L };

	while (!atomic_load(&l->stop)) {
		if (!pglisten_connect(l)) {
			(void)nanosleep(&ts, NULL);
			continue;
		}
		pglisten_serve(l);
		tokcache_listener_lost(l->cache);
		db_close(&l->db);
		if (!atomic_load(&l->stop))
			log_warn("pglisten: connection lost; cache bypassed "
				 "until it is back");
	}
	return NULL;
}

struct pglisten *
pglisten_new(const struct config *cfg, struct tokcache *cache)
{
	struct pglisten *l = xcalloc(1, sizeof(*l));

	l->cfg = cfg;
	l->cache = cache;
	atomic_init(&l->stop, false);
	if (pthread_create(&l->thread, NULL, pglisten_main, l) != 0)
		fatal(71, "pglisten: cannot start thread");
	return l;
}

void
pglisten_free(struct pglisten **lp)
{
	struct pglisten *l = *lp;

	if (l == NULL)
		return;
	atomic_store(&l->stop, true);
	(void)pthread_join(l->thread, NULL);
	free(l);
	*lp = NULL;
}
