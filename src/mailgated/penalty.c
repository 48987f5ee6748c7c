/* SPDX-License-Identifier: MIT */
/*
 * penalty.c - fixed-size tables of failure counters. Input: remote
 * addresses and user names from clients (hostile), so keys are hashed
 * with a per-process random seed and never stored or logged here.
 */
#include "penalty.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailgate/secret.h"
#include "mailgate/xmalloc.h"

/* Two tables (address, mailbox) of this many 2-way buckets each. */
#define PENALTY_BUCKETS   8192
#define PENALTY_MAX_SHIFT 3 /* delay grows to 8x failure_delay */

struct penalty_entry {
	uint64_t key;     /* seeded hash; 0 = free */
	uint64_t last_ms; /* last failure */
	uint64_t locked_until_ms;
	unsigned int failures;
};

struct penalty {
	struct penalty_settings set;
	uint64_t seed[2];
	struct penalty_entry *tables[2]; /* [0] rip, [1] mailbox */
};

struct penalty *
penalty_new(const struct penalty_settings *set)
{
	struct penalty *p = xcalloc(1, sizeof(*p));
	unsigned int i;

	p->set = *set;
	secret_random(p->seed, sizeof(p->seed));
	for (i = 0; i < 2; i++)
		p->tables[i] = xcalloc(
		    (size_t)PENALTY_BUCKETS * 2, sizeof(struct penalty_entry));
	return p;
}

void
penalty_free(struct penalty **pp)
{
	struct penalty *p = *pp;

	if (p == NULL)
		return;
	free(p->tables[0]);
	free(p->tables[1]);
	free(p);
	*pp = NULL;
}

void
penalty_configure(struct penalty *p, const struct penalty_settings *set)
{
	p->set = *set;
}

/* Seeded FNV-1a, lower-cased so "Alice@" and "alice@" share a counter. */
static uint64_t
penalty_hash(const struct penalty *p, unsigned int table, const char *s)
{
	uint64_t h = 14695981039346656037ull ^ p->seed[table];
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		h = (h ^ c) * 1099511628211ull;
		h ^= h >> 29;
	}
	return h == 0 ? 1 : h;
}

/*
 * The entry for key s, or NULL. With create, claim the bucket's other
 * slot or its older one, forgetting that entry's history.
 */
static struct penalty_entry *
penalty_lookup(struct penalty *p, unsigned int table, const char *s,
    uint64_t now_ms, bool create)
{
	struct penalty_entry *b, *e;
	uint64_t key;
	unsigned int i;

	if (s == NULL || *s == '\0')
		return NULL; /* no address (doveadm): no shared counter */
	key = penalty_hash(p, table, s);
	b = &p->tables[table][(key % PENALTY_BUCKETS) * 2];
	for (i = 0; i < 2; i++) {
		e = &b[i];
		if (e->key != key)
			continue;
		/* Counters older than a lockout are forgotten. */
		if (now_ms - e->last_ms > p->set.lockout_ms &&
		    now_ms >= e->locked_until_ms)
			memset(e, 0, sizeof(*e));
		else
			return e;
	}
	if (!create)
		return NULL;
	e = b[0].key == 0 || b[0].last_ms <= b[1].last_ms ? &b[0] : &b[1];
	memset(e, 0, sizeof(*e));
	e->key = key;
	return e;
}

bool
penalty_locked(
    struct penalty *p, const char *rip, const char *mailbox, uint64_t now_ms)
{
	struct penalty_entry *e;

	e = penalty_lookup(p, 0, rip, now_ms, false);
	if (e != NULL && e->locked_until_ms > now_ms)
		return true;
	if (mailbox == NULL || *mailbox == '\0')
		return false;
	e = penalty_lookup(p, 1, mailbox, now_ms, false);
	return e != NULL && e->locked_until_ms > now_ms;
}

/* The delay after the n-th failure (n >= 1). */
static uint64_t
penalty_shift(const struct penalty *p, unsigned int n)
{
	unsigned int shift = n - 1;

	if (shift > PENALTY_MAX_SHIFT)
		shift = PENALTY_MAX_SHIFT;
	return p->set.delay_ms << shift;
}

static unsigned int
penalty_count(struct penalty *p, struct penalty_entry *e, uint64_t now_ms)
{
	if (e->failures < UINT32_MAX)
		e->failures++;
	e->last_ms = now_ms;
	if (p->set.lockout_failures > 0 &&
	    e->failures >= p->set.lockout_failures)
		e->locked_until_ms = now_ms + p->set.lockout_ms;
	return e->failures;
}

uint64_t
penalty_fail(
    struct penalty *p, const char *rip, const char *mailbox, uint64_t now_ms)
{
	struct penalty_entry *e;
	unsigned int n = 1, m;

	e = penalty_lookup(p, 0, rip, now_ms, true);
	if (e != NULL)
		n = penalty_count(p, e, now_ms);
	e = penalty_lookup(p, 1, mailbox, now_ms, true);
	if (e != NULL) {
		m = penalty_count(p, e, now_ms);
		if (m > n)
			n = m;
	}
	return penalty_shift(p, n);
}

uint64_t
penalty_delay(
    struct penalty *p, const char *rip, const char *mailbox, uint64_t now_ms)
{
	struct penalty_entry *e;
	unsigned int n = 1;

	e = penalty_lookup(p, 0, rip, now_ms, false);
	if (e != NULL && e->failures > n)
		n = e->failures;
	e = penalty_lookup(p, 1, mailbox, now_ms, false);
	if (e != NULL && e->failures > n)
		n = e->failures;
	return penalty_shift(p, n);
}

void
penalty_success(
    struct penalty *p, const char *rip, const char *mailbox, uint64_t now_ms)
{
	struct penalty_entry *e;

	e = penalty_lookup(p, 0, rip, now_ms, false);
	if (e != NULL && e->locked_until_ms <= now_ms)
		memset(e, 0, sizeof(*e));
	if (mailbox == NULL || *mailbox == '\0')
		return;
	e = penalty_lookup(p, 1, mailbox, now_ms, false);
	if (e != NULL && e->locked_until_ms <= now_ms)
		memset(e, 0, sizeof(*e));
}
