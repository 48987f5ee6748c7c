/* SPDX-License-Identifier: MIT */
/*
 * dbpool.h - a few worker threads, each with its own struct db, that run
 * database jobs for the event loop so that no socket ever waits on
 * PostgreSQL. Results come back to the loop through an eventfd.
 *
 * A job is submitted and completed on the loop thread; only run() is
 * called on a worker. A worker that cannot reach the database hands
 * run() a NULL db and retries the connection with a growing backoff, so
 * an outage costs a request microseconds, not a connect timeout each.
 */
#ifndef MAILGATED_DBPOOL_H
#define MAILGATED_DBPOOL_H

#include <stdbool.h>

#include "mailgate/config.h"
#include "mailgate/db.h"
#include "mailgate/result.h"

#include "evloop.h"

struct dbpool;
struct dbpool_job;

/*
 * Worker thread. db is NULL when no connection could be had. Return
 * MG_TEMPFAIL when the database failed: if the connection turns out to
 * be broken, the worker reconnects and calls run() once more.
 */
typedef enum mg_result dbpool_run_fn(struct dbpool_job *job, struct db *db);
/* Loop thread, exactly once per submitted job; it may free the job. */
typedef void dbpool_done_fn(struct dbpool_job *job);

/* Embedded at the start of the caller's own job structure. */
struct dbpool_job {
	dbpool_run_fn *run;
	dbpool_done_fn *done;
	struct dbpool_job *next;
};

/* Owned. workers threads, each opening its own connection lazily. */
struct dbpool *dbpool_new(
    struct evloop *loop, const struct config *cfg, unsigned int workers);
/* Urgent: a login waits for it. Run in submission order. */
void dbpool_submit(struct dbpool *pool, struct dbpool_job *job);
/*
 * Background (bookkeeping nobody waits for): runs only when no urgent
 * job is queued, on at most one worker at a time, in submission order.
 */
void dbpool_submit_background(struct dbpool *pool, struct dbpool_job *job);
/* Jobs submitted but not yet completed. */
unsigned int dbpool_pending(const struct dbpool *pool);
/*
 * Run every queued job, deliver its completion, stop the workers and
 * free the pool. Blocks; only for shutdown.
 */
void dbpool_free(struct dbpool **poolp);

#endif
