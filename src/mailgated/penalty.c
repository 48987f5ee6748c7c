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

#include "mailgate/limits.h"
#include "mailgate/parse.h"
#include "mailgate/secret.h"
#include "mailgate/xmalloc.h"

/* Two tables (address, mailbox) of this many 2-way buckets each. */
#define PENALTY_BUCKETS       8192
#define PENALTY_MAX_SHIFT     3 /* delay grows to 8x failure_delay */
/* The journal's hash: at most half full. */
#define PENALTY_JOURNAL_SLOTS ((size_t)2 * PENALTY_JOURNAL_MAX)
_Static_assert((PENALTY_JOURNAL_MAX & (PENALTY_JOURNAL_MAX - 1)) == 0,
    "the journal's slots are a power of 2");

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

	struct failure_change *journal; /* PENALTY_JOURNAL_MAX, njournal used */
	size_t njournal;
	unsigned int *jslots; /* index + 1, 0 = free */
	uint64_t jdropped;
};

_Static_assert(FAILURE_ADDRESS == 0 && FAILURE_MAILBOX == 1,
    "a table's index is its failure_kind");

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
	p->journal = xcalloc(PENALTY_JOURNAL_MAX, sizeof(*p->journal));
	p->jslots = xcalloc(PENALTY_JOURNAL_SLOTS, sizeof(*p->jslots));
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
	while (p->njournal > 0)
		free(p->journal[--p->njournal].key);
	free(p->journal);
	free(p->jslots);
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

/*
 * The shared form of key s into key, or -1 when s is not shared. Only
 * keys the database takes are: client addresses (printable ASCII, as
 * authsock parsed them, in lower case) and user names that are valid
 * mail addresses (canonical); other names count in this process only,
 * as they can be no mailbox's.
 */
static int
penalty_key(unsigned int table, const char *s, char key[FAILURE_KEY_MAX + 1])
{
	const char *why;
	size_t len, k;

	len = strlen(s);
	if (len == 0 || len > FAILURE_KEY_MAX)
		return -1;
	if (table == 1) {
		_Static_assert(ADDRESS_MAX <= FAILURE_KEY_MAX, "keys fit");
		return address_normalize(s, key, &why);
	}
	memcpy(key, s, len + 1);
	for (k = 0; k < len; k++) {
		if (key[k] <= ' ' || key[k] > '~')
			return -1;
		if (key[k] >= 'A' && key[k] <= 'Z')
			key[k] = (char)(key[k] - 'A' + 'a');
	}
	return 0;
}

/*
 * The journal entry for key s in table, or NULL. With create, a new one
 * (NULL when the journal is full: the change is dropped and counted).
 */
static struct failure_change *
penalty_journal(
    struct penalty *p, unsigned int table, const char *s, bool create)
{
	char key[FAILURE_KEY_MAX + 1];
	struct failure_change *c;
	size_t i;

	if (penalty_key(table, s, key) < 0)
		return NULL;
	i = (size_t)penalty_hash(p, table, key) & (PENALTY_JOURNAL_SLOTS - 1);
	for (; p->jslots[i] != 0; i = (i + 1) & (PENALTY_JOURNAL_SLOTS - 1)) {
		c = &p->journal[p->jslots[i] - 1];
		if ((unsigned int)c->kind == table && strcmp(c->key, key) == 0)
			return c;
	}
	if (!create)
		return NULL;
	if (p->njournal == PENALTY_JOURNAL_MAX) {
		p->jdropped++;
		return NULL;
	}
	c = &p->journal[p->njournal++];
	p->jslots[i] = (unsigned int)p->njournal;
	c->kind = (enum failure_kind)table;
	c->key = xstrdup(key);
	c->failures = 0;
	c->clear = false;
	return c;
}

static void
penalty_note_failure(struct penalty *p, unsigned int table, const char *s)
{
	struct failure_change *c = penalty_journal(p, table, s, true);

	if (c != NULL && c->failures < UINT32_MAX)
		c->failures++;
}

static void
penalty_note_clear(struct penalty *p, unsigned int table, const char *s)
{
	struct failure_change *c = penalty_journal(p, table, s, true);

	if (c != NULL) {
		c->failures = 0; /* failures noted before it are forgotten */
		c->clear = true;
	}
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
	if (e != NULL) {
		n = penalty_count(p, e, now_ms);
		penalty_note_failure(p, 0, rip);
	}
	e = penalty_lookup(p, 1, mailbox, now_ms, true);
	if (e != NULL) {
		m = penalty_count(p, e, now_ms);
		if (m > n)
			n = m;
		penalty_note_failure(p, 1, mailbox);
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
	if (e != NULL && e->locked_until_ms <= now_ms) {
		memset(e, 0, sizeof(*e));
		penalty_note_clear(p, 0, rip);
	}
	if (mailbox == NULL || *mailbox == '\0')
		return;
	e = penalty_lookup(p, 1, mailbox, now_ms, false);
	if (e != NULL && e->locked_until_ms <= now_ms) {
		memset(e, 0, sizeof(*e));
		penalty_note_clear(p, 1, mailbox);
	}
}

struct failure_change *
penalty_take(struct penalty *p, size_t *n_r, uint64_t *dropped_r)
{
	struct failure_change *out = p->journal;

	*n_r = p->njournal;
	*dropped_r = p->jdropped;
	p->journal = xcalloc(PENALTY_JOURNAL_MAX, sizeof(*p->journal));
	p->njournal = 0;
	p->jdropped = 0;
	memset(p->jslots, 0, PENALTY_JOURNAL_SLOTS * sizeof(*p->jslots));
	return out;
}

void
penalty_merge(struct penalty *p, const struct failure_state *states, size_t n,
    uint64_t now_ms)
{
	const struct failure_change *c;
	struct penalty_entry *e;
	unsigned int table;
	size_t i;

	for (i = 0; i < n; i++) {
		table = states[i].kind == FAILURE_MAILBOX ? 1 : 0;
		if (states[i].failures == 0) { /* lifted by an admin */
			e = penalty_lookup(
			    p, table, states[i].key, now_ms, false);
			if (e != NULL)
				memset(e, 0, sizeof(*e));
			continue;
		}
		c = penalty_journal(p, table, states[i].key, false);
		if (states[i].locked_ms == 0 && c != NULL && c->clear)
			continue;
		e = penalty_lookup(p, table, states[i].key, now_ms, true);
		if (e == NULL)
			continue;
		if (c == NULL || !c->clear) {
			if (states[i].failures > e->failures)
				e->failures = states[i].failures;
		}
		if (states[i].locked_ms > 0 &&
		    now_ms + states[i].locked_ms > e->locked_until_ms)
			e->locked_until_ms = now_ms + states[i].locked_ms;
		e->last_ms = now_ms;
	}
}
