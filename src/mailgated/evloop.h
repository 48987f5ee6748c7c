/* SPDX-License-Identifier: MIT */
/*
 * evloop.h - the daemon's one event loop: epoll for descriptors, a
 * binary heap of millisecond timers. Single-threaded: every function here
 * is called from the loop's thread only. Other threads talk to it through
 * an eventfd they own (see dbpool.h).
 */
#ifndef MAILGATED_EVLOOP_H
#define MAILGATED_EVLOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct evloop;
struct evloop_io;
struct evloop_timer;

typedef void evloop_io_cb(struct evloop_io *io, uint32_t events);
typedef void evloop_timer_cb(struct evloop_timer *t);

/* Embedded in its owner; ctx is the owner. */
struct evloop_io {
	int fd;
	uint32_t events;
	evloop_io_cb *cb;
	void *ctx;
};

/* Embedded in its owner. heap_idx is 0 while not armed. */
struct evloop_timer {
	uint64_t due_ms;
	size_t heap_idx;
	evloop_timer_cb *cb;
	void *ctx;
};

/* Owned: release with evloop_free(). */
struct evloop *evloop_new(void);
void evloop_free(struct evloop **loopp);

/* Monotonic milliseconds, for timers and staleness checks. */
uint64_t evloop_now_ms(void);

/* Start watching io->fd for events (EPOLLIN, EPOLLOUT). 0 or -1. */
int evloop_io_add(struct evloop *loop, struct evloop_io *io, int fd,
    uint32_t events, evloop_io_cb *cb, void *ctx);
int evloop_io_modify(
    struct evloop *loop, struct evloop_io *io, uint32_t events);
/* Stop watching; the caller closes the descriptor. */
void evloop_io_del(struct evloop *loop, struct evloop_io *io);

void evloop_timer_init(struct evloop_timer *t, evloop_timer_cb *cb, void *ctx);
/* (Re)arm t to fire once after ms milliseconds. */
void evloop_timer_set(struct evloop *loop, struct evloop_timer *t, uint64_t ms);
void evloop_timer_cancel(struct evloop *loop, struct evloop_timer *t);
bool evloop_timer_armed(const struct evloop_timer *t);

/*
 * Call fn(ptr) once the current batch of events is dispatched. Owners
 * free their objects this way so that an event already fetched for a
 * removed descriptor never reaches freed memory (it sees fd == -1).
 */
void evloop_defer_free(struct evloop *loop, void (*fn)(void *), void *ptr);

/* Run until evloop_break(); 0, or -1 if epoll itself failed. */
int evloop_run(struct evloop *loop);
void evloop_break(struct evloop *loop);

#endif
