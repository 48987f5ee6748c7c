/* SPDX-License-Identifier: MIT */
/*
 * evloop.c - epoll plus a timer heap. Input: readiness events from the
 * kernel only. One thread; callbacks may add and remove descriptors and
 * timers, including their own, while the loop is running.
 */
#include "evloop.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "mailgate/log.h"
#include "mailgate/result.h"
#include "mailgate/xmalloc.h"

#define EVLOOP_EVENTS_MAX 128

struct evloop_deferred {
	void (*fn)(void *);
	void *ptr;
	struct evloop_deferred *next;
};

struct evloop {
	int epfd;
	struct evloop_deferred *deferred;
	bool stop;
	/*
	 * heap[1..count]: index 0 unused so that 0 means "not armed". Sized
	 * with the pointer type: clang-tidy reads sizeof(*heap) as a slip.
	 */
	struct evloop_timer **heap;
	size_t count, size;
};

struct evloop *
evloop_new(void)
{
	struct evloop *loop = xcalloc(1, sizeof(*loop));

	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	loop->size = 64;
	loop->heap = xcalloc(loop->size, sizeof(struct evloop_timer *));
	return loop;
}

void
evloop_free(struct evloop **loopp)
{
	struct evloop *loop = *loopp;

	if (loop == NULL)
		return;
	(void)close(loop->epfd);
	free(loop->heap);
	free(loop);
	*loopp = NULL;
}

uint64_t
evloop_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
evloop_io_add(struct evloop *loop, struct evloop_io *io, int fd,
    uint32_t events, evloop_io_cb *cb, void *ctx)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	io->fd = fd;
	io->events = events;
	io->cb = cb;
	io->ctx = ctx;
	return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int
evloop_io_modify(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (io->events == events)
		return 0;
	io->events = events;
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void
evloop_io_del(struct evloop *loop, struct evloop_io *io)
{
	if (io->fd < 0)
		return;
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->fd = -1;
}

void
evloop_timer_init(struct evloop_timer *t, evloop_timer_cb *cb, void *ctx)
{
	t->due_ms = 0;
	t->heap_idx = 0;
	t->cb = cb;
	t->ctx = ctx;
}

bool
evloop_timer_armed(const struct evloop_timer *t)
{
	return t->heap_idx != 0;
}

static void
evloop_heap_place(struct evloop *loop, size_t i, struct evloop_timer *t)
{
	loop->heap[i] = t;
	t->heap_idx = i;
}

static void
evloop_heap_up(struct evloop *loop, size_t i)
{
	struct evloop_timer *t = loop->heap[i];

	while (i > 1 && loop->heap[i / 2]->due_ms > t->due_ms) {
		evloop_heap_place(loop, i, loop->heap[i / 2]);
		i /= 2;
	}
	evloop_heap_place(loop, i, t);
}

static void
evloop_heap_down(struct evloop *loop, size_t i)
{
	struct evloop_timer *t = loop->heap[i];
	size_t c;

	for (;;) {
		c = i * 2;
		if (c > loop->count)
			break;
		if (c < loop->count &&
		    loop->heap[c + 1]->due_ms < loop->heap[c]->due_ms)
			c++;
		if (loop->heap[c]->due_ms >= t->due_ms)
			break;
		evloop_heap_place(loop, i, loop->heap[c]);
		i = c;
	}
	evloop_heap_place(loop, i, t);
}

void
evloop_timer_cancel(struct evloop *loop, struct evloop_timer *t)
{
	size_t i = t->heap_idx;
	struct evloop_timer *last;

	if (i == 0)
		return;
	MG_ASSERT(i <= loop->count && loop->heap[i] == t);
	last = loop->heap[loop->count--];
	t->heap_idx = 0;
	if (last == t)
		return;
	evloop_heap_place(loop, i, last);
	evloop_heap_down(loop, i);
	evloop_heap_up(loop, last->heap_idx);
}

void
evloop_timer_set(struct evloop *loop, struct evloop_timer *t, uint64_t ms)
{
	evloop_timer_cancel(loop, t);
	if (loop->count + 1 >= loop->size) {
		loop->size *= 2;
		loop->heap = xrealloc(
		    loop->heap, loop->size * sizeof(struct evloop_timer *));
	}
	t->due_ms = evloop_now_ms() + ms;
	loop->count++;
	evloop_heap_place(loop, loop->count, t);
	evloop_heap_up(loop, loop->count);
}

static void evloop_run_deferred(struct evloop *loop);

/* Fire every due timer; return the wait until the next one (-1: none). */
static int
evloop_run_timers(struct evloop *loop)
{
	struct evloop_timer *t;
	uint64_t now = evloop_now_ms();

	while (loop->count > 0 && !loop->stop) {
		t = loop->heap[1];
		if (t->due_ms > now) {
			uint64_t wait = t->due_ms - now;

			return wait > 60000 ? 60000 : (int)wait;
		}
		evloop_timer_cancel(loop, t);
		t->cb(t);
		evloop_run_deferred(loop);
	}
	return -1;
}

void
evloop_defer_free(struct evloop *loop, void (*fn)(void *), void *ptr)
{
	struct evloop_deferred *d = xmalloc(sizeof(*d));

	d->fn = fn;
	d->ptr = ptr;
	d->next = loop->deferred;
	loop->deferred = d;
}

static void
evloop_run_deferred(struct evloop *loop)
{
	struct evloop_deferred *d;

	while (loop->deferred != NULL) {
		d = loop->deferred;
		loop->deferred = d->next;
		d->fn(d->ptr);
		free(d);
	}
}

void
evloop_break(struct evloop *loop)
{
	loop->stop = true;
}

int
evloop_run(struct evloop *loop)
{
	struct epoll_event evs[EVLOOP_EVENTS_MAX];
	struct evloop_io *io;
	int i, n, wait;

	loop->stop = false;
	while (!loop->stop) {
		wait = evloop_run_timers(loop);
		if (loop->stop)
			break;
		n = epoll_wait(loop->epfd, evs, EVLOOP_EVENTS_MAX, wait);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("evloop: epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (i = 0; i < n; i++) {
			io = evs[i].data.ptr;
			if (io->fd >= 0) /* not removed earlier in this batch */
				io->cb(io, evs[i].events);
		}
		evloop_run_deferred(loop);
	}
	evloop_run_deferred(loop);
	return 0;
}
