/* SPDX-License-Identifier: MIT */
/*
 * tokcache.h - recently fetched token records (never tokens), so that a
 * busy mailbox does not cost a database round trip per login.
 *
 * Staleness is bounded two ways. An entry lives at most [auth] cache_ttl.
 * And it is trusted only while the LISTEN connection (pglisten.h) is
 * known to be alive, so a revocation, an expiry change or a disabled
 * mailbox reaches every instance within a second: either by its
 * notification or because an unconfirmed listener stops all cache use.
 *
 * Thread-safe: the loop thread looks up and inserts, the listener thread
 * invalidates. An insert carries the generation read when its fetch was
 * submitted, so a record fetched before an invalidation is dropped.
 */
#ifndef MAILGATED_TOKCACHE_H
#define MAILGATED_TOKCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "mailgate/token.h"

struct tokcache;

/* Owned. ttl_ms 0 disables caching. */
struct tokcache *tokcache_new(uint64_t ttl_ms);
void tokcache_free(struct tokcache **cachep);
void tokcache_set_ttl(struct tokcache *cache, uint64_t ttl_ms);

/* Read before submitting a fetch; pass it to tokcache_put(). */
uint64_t tokcache_generation(struct tokcache *cache);
/* Copy a trusted, fresh record for id into rec_r; false if none. */
bool tokcache_get(
    struct tokcache *cache, const char *id, struct token_record *rec_r);
void tokcache_put(struct tokcache *cache, const struct token_record *rec,
    uint64_t generation);

/* Listener thread. */
void tokcache_invalidate_id(struct tokcache *cache, const char *id);
void tokcache_invalidate_all(struct tokcache *cache);
/* The listener is confirmed alive now / has lost its connection. */
void tokcache_listener_alive(struct tokcache *cache);
void tokcache_listener_lost(struct tokcache *cache);

/* Entries currently held (for tests and debug logs). */
unsigned int tokcache_count(struct tokcache *cache);

#endif
