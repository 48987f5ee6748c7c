/* SPDX-License-Identifier: MIT */
/*
 * authsock_share.c - failure counters shared through PostgreSQL. About
 * once a second the penalty journal (failures and successes since the
 * last batch) goes to a database worker as one background job, and the
 * totals and every lock set since, by any instance, come back and are
 * merged into the local tables. Logins never wait for it: a batch that
 * fails is dropped with a warning, and each instance keeps counting on
 * its own until the database is back.
 */
#include "authsock.h"

#include <stdlib.h>
#include <string.h>

#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

/* One batch on a database worker. */
struct authsock_share {
	struct dbpool_job job;
	struct authsock *as;
	struct failure_sync sync;
	struct failure_change *changes; /* owned, sync.nchanges */
	struct failure_state *states;   /* owned, nstates */
	size_t nstates;
	uint64_t dropped; /* journal overflow since the previous batch */
	enum mg_result res;
	char *errstr;
};

static enum mg_result
authsock_share_run(struct dbpool_job *job, struct db *db)
{
	struct authsock_share *t = (struct authsock_share *)job;

	if (!authsock_job_ready(db, &t->res, &t->errstr))
		return t->res;
	t->res =
	    db_failures_sync(db, &t->sync, &t->states, &t->nstates, &t->errstr);
	return t->res;
}

static void
authsock_share_free(struct authsock_share *t)
{
	size_t i;

	for (i = 0; i < t->sync.nchanges; i++)
		free(t->changes[i].key);
	free(t->changes);
	failure_states_free(t->states, t->nstates);
	free(t->errstr);
	free(t);
}

/* Loop thread: merge what the database knows, or warn (once a minute). */
static void
authsock_share_done(struct dbpool_job *job)
{
	struct authsock_share *t = (struct authsock_share *)job;
	struct authsock *as = t->as;
	uint64_t now = evloop_now_ms();

	if (t->res == MG_OK) {
		penalty_merge(as->penalty, t->states, t->nstates, now);
		memcpy(as->share_since, t->sync.since, sizeof(as->share_since));
		if (t->sync.nchanges > 0 || t->nstates > 0)
			log_debug(
			    "authsock: failure counters shared: %zu sent, "
			    "%zu received",
			    t->sync.nchanges, t->nstates);
	} else if (as->share_warn_ms == 0 || now - as->share_warn_ms > 60000) {
		as->share_warn_ms = now;
		log_warn("authsock: sharing failure counters failed (%zu "
			 "changes kept only here): %s",
		    t->sync.nchanges, t->errstr != NULL ? t->errstr : "?");
	}
	if (t->dropped > 0)
		log_warn("authsock: %llu failure counter changes not shared: "
			 "more than %d keys changed within one batch",
		    (unsigned long long)t->dropped, PENALTY_JOURNAL_MAX);
	as->share_inflight--;
	authsock_share_free(t);
}

void
authsock_share_flush(struct authsock *as)
{
	struct penalty_settings set;
	struct authsock_share *t;

	if (as->share_inflight > 0)
		return;
	t = xcalloc(1, sizeof(*t));
	t->job.run = authsock_share_run;
	t->job.done = authsock_share_done;
	t->as = as;
	t->changes = penalty_take(as->penalty, &t->sync.nchanges, &t->dropped);
	t->sync.changes = t->changes;
	authsock_settings(as, &set);
	t->sync.lockout_failures = set.lockout_failures;
	t->sync.lockout_ms = set.lockout_ms;
	memcpy(t->sync.since, as->share_since, sizeof(t->sync.since));
	as->share_inflight++;
	dbpool_submit_background(as->d->pool, &t->job);
}
