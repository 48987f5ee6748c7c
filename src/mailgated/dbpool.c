/* SPDX-License-Identifier: MIT */
/*
 * dbpool.c - database worker threads. Input: jobs from the loop thread.
 * Each worker owns one connection and never shares it. Statements are
 * bounded by statement_timeout so that a slow database still leaves
 * time to answer Postfix within its 10 s. Background jobs (last-use
 * batches) wait behind every urgent one and occupy at most
 * DBPOOL_BACKGROUND_MAX workers, so a login never queues behind them.
 */
#include "dbpool.h"

#include <errno.h>
#include <string.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mailgate/log.h"
#include "mailgate/xmalloc.h"

/* PostgreSQL's answer to one statement, well inside Postfix's 10 s. */
#define DBPOOL_STATEMENT_TIMEOUT_MS 3000
#define DBPOOL_BACKOFF_MIN_MS       100
#define DBPOOL_BACKOFF_MAX_MS       2000
/* Workers that may run background jobs at once; the rest stay urgent. */
#define DBPOOL_BACKGROUND_MAX       1

struct dbpool_queue {
	struct dbpool_job *head, *tail;
};

struct dbpool {
	struct evloop *loop;
	const struct config *cfg;
	struct evloop_io io;
	int efd;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct dbpool_queue todo, later, done;
	unsigned int later_running;
	bool stopping;
	unsigned int pending; /* loop thread only */

	pthread_t *threads;
	unsigned int nthreads;
};

struct dbpool_worker {
	struct dbpool *pool;
	struct db *db;
	uint64_t retry_at_ms;
	uint64_t backoff_ms;
	unsigned int index;
};

static void
dbpool_queue_push(struct dbpool_queue *q, struct dbpool_job *job)
{
	job->next = NULL;
	if (q->tail != NULL)
		q->tail->next = job;
	else
		q->head = job;
	q->tail = job;
}

static struct dbpool_job *
dbpool_queue_pop(struct dbpool_queue *q)
{
	struct dbpool_job *job = q->head;

	if (job == NULL)
		return NULL;
	q->head = job->next;
	if (q->head == NULL)
		q->tail = NULL;
	job->next = NULL;
	return job;
}

/* Open the worker's connection unless it is backing off. */
static void
dbpool_worker_connect(struct dbpool_worker *w)
{
	char *errstr = NULL;
	uint64_t now = evloop_now_ms();

	if (w->db != NULL || now < w->retry_at_ms)
		return;
	if (db_open(w->pool->cfg, 0, &w->db, &errstr) != MG_OK) {
		w->backoff_ms = w->backoff_ms == 0 ? DBPOOL_BACKOFF_MIN_MS :
						     w->backoff_ms * 2;
		if (w->backoff_ms > DBPOOL_BACKOFF_MAX_MS)
			w->backoff_ms = DBPOOL_BACKOFF_MAX_MS;
		w->retry_at_ms = now + w->backoff_ms;
		log_warn("dbpool: worker=%u connect failed: %s (retry in "
			 "%llu ms)",
		    w->index, errstr != NULL ? errstr : "?",
		    (unsigned long long)w->backoff_ms);
		free(errstr);
		w->db = NULL;
		return;
	}
	if (db_set_statement_timeout(
		w->db, DBPOOL_STATEMENT_TIMEOUT_MS, &errstr) < 0) {
		log_warn("dbpool: worker=%u: %s", w->index,
		    errstr != NULL ? errstr : "?");
		free(errstr);
	}
	if (w->backoff_ms != 0)
		log_info("dbpool: worker=%u reconnected", w->index);
	w->backoff_ms = 0;
}

/* True when the job failed because the connection itself is gone. */
static bool
dbpool_worker_broken(struct dbpool_worker *w)
{
	if (w->db == NULL)
		return false;
	if (PQstatus(db_pgconn(w->db)) == CONNECTION_OK)
		return false;
	db_close(&w->db);
	return true;
}

static void
dbpool_worker_run(struct dbpool_worker *w, struct dbpool_job *job)
{
	enum mg_result res;

	dbpool_worker_connect(w);
	res = job->run(job, w->db);
	/* A server restart breaks idle connections: retry once at once. */
	if (res == MG_TEMPFAIL && dbpool_worker_broken(w)) {
		w->retry_at_ms = 0;
		dbpool_worker_connect(w);
		if (w->db != NULL)
			(void)job->run(job, w->db);
	}
}

/*
 * Lock held. The next job this worker may run: urgent first, then a
 * background job if fewer than DBPOOL_BACKGROUND_MAX are running. Waits
 * for one; NULL once stopping and nothing is left that it may take (a
 * worker already running background jobs takes the rest).
 */
static struct dbpool_job *
dbpool_next(struct dbpool *pool, bool *background_r)
{
	for (;;) {
		if (pool->todo.head != NULL) {
			*background_r = false;
			return dbpool_queue_pop(&pool->todo);
		}
		if (pool->later.head != NULL &&
		    pool->later_running < DBPOOL_BACKGROUND_MAX) {
			*background_r = true;
			pool->later_running++;
			return dbpool_queue_pop(&pool->later);
		}
		if (pool->stopping)
			return NULL;
		(void)pthread_cond_wait(&pool->cond, &pool->lock);
	}
}

static void *
dbpool_worker_main(void *arg)
{
	struct dbpool_worker *w = arg;
	struct dbpool *pool = w->pool;
	struct dbpool_job *job;
	bool background = false;
	uint64_t one = 1;

	for (;;) {
		(void)pthread_mutex_lock(&pool->lock);
		job = dbpool_next(pool, &background);
		(void)pthread_mutex_unlock(&pool->lock);
		if (job == NULL)
			break; /* stopping and nothing left */

		dbpool_worker_run(w, job);

		(void)pthread_mutex_lock(&pool->lock);
		if (background)
			pool->later_running--;
		dbpool_queue_push(&pool->done, job);
		(void)pthread_mutex_unlock(&pool->lock);
		if (write(pool->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_err("dbpool: eventfd write: %s", strerror(errno));
	}
	db_close(&w->db);
	free(w);
	return NULL;
}

/* Loop thread: hand every finished job back to its owner. */
static void
dbpool_drain(struct dbpool *pool)
{
	struct dbpool_queue done;
	struct dbpool_job *job;
	uint64_t v;

	if (read(pool->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_err("dbpool: eventfd read: %s", strerror(errno));
	(void)pthread_mutex_lock(&pool->lock);
	done = pool->done;
	pool->done.head = pool->done.tail = NULL;
	(void)pthread_mutex_unlock(&pool->lock);

	while ((job = dbpool_queue_pop(&done)) != NULL) {
		MG_ASSERT(pool->pending > 0);
		pool->pending--;
		job->done(job);
	}
}

static void
dbpool_io_cb(struct evloop_io *io, uint32_t events)
{
	(void)events;
	dbpool_drain(io->ctx);
}

struct dbpool *
dbpool_new(struct evloop *loop, const struct config *cfg, unsigned int workers)
{
	struct dbpool *pool = xcalloc(1, sizeof(*pool));
	struct dbpool_worker *w;
	unsigned int i;

	pool->loop = loop;
	pool->cfg = cfg;
	pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool->efd < 0)
		fatal(71, "dbpool: eventfd: %s", strerror(errno));
	if (evloop_io_add(
		loop, &pool->io, pool->efd, EPOLLIN, dbpool_io_cb, pool) < 0)
		fatal(71, "dbpool: epoll: %s", strerror(errno));
	(void)pthread_mutex_init(&pool->lock, NULL);
	(void)pthread_cond_init(&pool->cond, NULL);

	pool->threads = xcalloc(workers, sizeof(*pool->threads));
	for (i = 0; i < workers; i++) {
		w = xcalloc(1, sizeof(*w));
		w->pool = pool;
		w->index = i;
		if (pthread_create(
			&pool->threads[i], NULL, dbpool_worker_main, w) != 0)
			fatal(71, "dbpool: cannot start worker %u", i);
		pool->nthreads++;
	}
	return pool;
}

static void
dbpool_enqueue(
    struct dbpool *pool, struct dbpool_queue *q, struct dbpool_job *job)
{
	pool->pending++;
	(void)pthread_mutex_lock(&pool->lock);
	dbpool_queue_push(q, job);
	/* Every idle worker may take an urgent job; wake one. */
	(void)pthread_cond_signal(&pool->cond);
	(void)pthread_mutex_unlock(&pool->lock);
}

void
dbpool_submit(struct dbpool *pool, struct dbpool_job *job)
{
	dbpool_enqueue(pool, &pool->todo, job);
}

void
dbpool_submit_background(struct dbpool *pool, struct dbpool_job *job)
{
	dbpool_enqueue(pool, &pool->later, job);
}

unsigned int
dbpool_pending(const struct dbpool *pool)
{
	return pool->pending;
}

void
dbpool_free(struct dbpool **poolp)
{
	struct dbpool *pool = *poolp;
	unsigned int i;

	if (pool == NULL)
		return;
	(void)pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	(void)pthread_cond_broadcast(&pool->cond);
	(void)pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->nthreads; i++)
		(void)pthread_join(pool->threads[i], NULL);
	dbpool_drain(pool);

	evloop_io_del(pool->loop, &pool->io);
	(void)close(pool->efd);
	(void)pthread_mutex_destroy(&pool->lock);
	(void)pthread_cond_destroy(&pool->cond);
	free(pool->threads);
	free(pool);
	*poolp = NULL;
}
