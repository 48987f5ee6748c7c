/* SPDX-License-Identifier: MIT */
/*
 * tokcache.c - a small open-addressing table of token records, keyed by
 * public id. Input: records fetched from our own database and ids from
 * its notifications. Never holds a token, only its stored hash.
 */
#include "tokcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mailgate/secret.h"
#include "mailgate/xmalloc.h"

#include "evloop.h"

/* Slots; a full table is simply emptied (it refills from the DB). */
#define TOKCACHE_SLOTS    8192
#define TOKCACHE_FILL     (TOKCACHE_SLOTS * 3 / 4)
/*
 * How long a listener confirmation stays good. The listener pings every
 * PGLISTEN_PING_MS; past this the cache is bypassed, which bounds how
 * late a missed notification can be honoured.
 */
#define TOKCACHE_ALIVE_MS 700

struct tokcache_entry {
	bool used;
	uint64_t fetched_ms;
	struct token_record rec;
};

struct tokcache {
	pthread_mutex_t lock;
	struct tokcache_entry *slots;
	unsigned int count;
	uint64_t generation;
	uint64_t ttl_ms;
	bool listener_up;
	uint64_t alive_ms;
};

struct tokcache *
tokcache_new(uint64_t ttl_ms)
{
	struct tokcache *cache = xcalloc(1, sizeof(*cache));

	(void)pthread_mutex_init(&cache->lock, NULL);
	cache->slots = xcalloc(TOKCACHE_SLOTS, sizeof(*cache->slots));
	cache->ttl_ms = ttl_ms;
	return cache;
}

void
tokcache_free(struct tokcache **cachep)
{
	struct tokcache *cache = *cachep;

	if (cache == NULL)
		return;
	(void)pthread_mutex_destroy(&cache->lock);
	secret_wipe(cache->slots, TOKCACHE_SLOTS * sizeof(*cache->slots));
	free(cache->slots);
	free(cache);
	*cachep = NULL;
}

void
tokcache_set_ttl(struct tokcache *cache, uint64_t ttl_ms)
{
	(void)pthread_mutex_lock(&cache->lock);
	cache->ttl_ms = ttl_ms;
	(void)pthread_mutex_unlock(&cache->lock);
}

/* FNV-1a over the public id: ids are random, so no seed is needed. */
static unsigned int
tokcache_slot(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % TOKCACHE_SLOTS;
}

/* Lock held. The slot holding id, or the free slot where it would go. */
static struct tokcache_entry *
tokcache_find(struct tokcache *cache, const char *id)
{
	unsigned int i = tokcache_slot(id);
	struct tokcache_entry *e;

	for (;;) {
		e = &cache->slots[i];
		if (!e->used || strcmp(e->rec.id, id) == 0)
			return e;
		i = (i + 1) % TOKCACHE_SLOTS;
	}
}

/* Lock held. */
static void
tokcache_clear(struct tokcache *cache)
{
	memset(cache->slots, 0, TOKCACHE_SLOTS * sizeof(*cache->slots));
	cache->count = 0;
	cache->generation++;
}

uint64_t
tokcache_generation(struct tokcache *cache)
{
	uint64_t g;

	(void)pthread_mutex_lock(&cache->lock);
	g = cache->generation;
	(void)pthread_mutex_unlock(&cache->lock);
	return g;
}

/* Lock held. */
static bool
tokcache_trusted(const struct tokcache *cache, uint64_t now)
{
	return cache->ttl_ms > 0 && cache->listener_up &&
	    now - cache->alive_ms < TOKCACHE_ALIVE_MS;
}

bool
tokcache_get(struct tokcache *cache, const char *id, struct token_record *rec_r)
{
	struct tokcache_entry *e;
	uint64_t now = evloop_now_ms();
	bool hit = false;

	(void)pthread_mutex_lock(&cache->lock);
	if (tokcache_trusted(cache, now)) {
		e = tokcache_find(cache, id);
		if (e->used && now - e->fetched_ms < cache->ttl_ms) {
			*rec_r = e->rec;
			hit = true;
		}
	}
	(void)pthread_mutex_unlock(&cache->lock);
	return hit;
}

void
tokcache_put(
    struct tokcache *cache, const struct token_record *rec, uint64_t generation)
{
	struct tokcache_entry *e;
	uint64_t now = evloop_now_ms();

	(void)pthread_mutex_lock(&cache->lock);
	/* Something was invalidated since this fetch began: maybe rec. */
	if (generation != cache->generation || !tokcache_trusted(cache, now))
		goto out;
	if (cache->count >= TOKCACHE_FILL)
		tokcache_clear(cache);
	e = tokcache_find(cache, rec->id);
	if (!e->used)
		cache->count++;
	e->used = true;
	e->fetched_ms = now;
	e->rec = *rec;
out:
	(void)pthread_mutex_unlock(&cache->lock);
}

void
tokcache_invalidate_id(struct tokcache *cache, const char *id)
{
	struct tokcache_entry *e;
	unsigned int i, j;

	(void)pthread_mutex_lock(&cache->lock);
	cache->generation++;
	e = tokcache_find(cache, id);
	if (!e->used)
		goto out;
	/* Backward-shift deletion keeps every probe chain unbroken. */
	i = (unsigned int)(e - cache->slots);
	memset(e, 0, sizeof(*e));
	cache->count--;
	for (j = (i + 1) % TOKCACHE_SLOTS; cache->slots[j].used;
	     j = (j + 1) % TOKCACHE_SLOTS) {
		unsigned int home = tokcache_slot(cache->slots[j].rec.id);

		if ((j > i && (home <= i || home > j)) ||
		    (j < i && home <= i && home > j)) {
			cache->slots[i] = cache->slots[j];
			memset(&cache->slots[j], 0, sizeof(cache->slots[j]));
			i = j;
		}
	}
out:
	(void)pthread_mutex_unlock(&cache->lock);
}

void
tokcache_invalidate_all(struct tokcache *cache)
{
	(void)pthread_mutex_lock(&cache->lock);
	tokcache_clear(cache);
	(void)pthread_mutex_unlock(&cache->lock);
}

void
tokcache_listener_alive(struct tokcache *cache)
{
	(void)pthread_mutex_lock(&cache->lock);
	cache->listener_up = true;
	cache->alive_ms = evloop_now_ms();
	(void)pthread_mutex_unlock(&cache->lock);
}

void
tokcache_listener_lost(struct tokcache *cache)
{
	(void)pthread_mutex_lock(&cache->lock);
	cache->listener_up = false;
	tokcache_clear(cache);
	(void)pthread_mutex_unlock(&cache->lock);
}

unsigned int
tokcache_count(struct tokcache *cache)
{
	unsigned int n;

	(void)pthread_mutex_lock(&cache->lock);
	n = cache->count;
	(void)pthread_mutex_unlock(&cache->lock);
	return n;
}
