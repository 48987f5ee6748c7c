/* SPDX-License-Identifier: MIT */
/*
 * pglisten.h - a thread on its own connection that LISTENs on channel
 * "mailgate" (sql/0001_init.sql) and invalidates the token cache, and
 * pings often enough that the cache is distrusted within a second of
 * the connection going quiet.
 */
#ifndef MAILGATED_PGLISTEN_H
#define MAILGATED_PGLISTEN_H

#include "mailgate/config.h"

#include "tokcache.h"

/* Interval between liveness pings on the LISTEN connection. */
#define PGLISTEN_PING_MS 250

struct pglisten;

/* Owned: starts the thread; release with pglisten_free(). */
struct pglisten *pglisten_new(const struct config *cfg, struct tokcache *cache);
/* Stops the thread (waits at most one connect timeout). */
void pglisten_free(struct pglisten **lp);

#endif
