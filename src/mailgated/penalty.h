/* SPDX-License-Identifier: MIT */
/*
 * penalty.h - failed logins per remote address and per mailbox: a delay
 * that grows with each failure and a temporary lockout.
 *
 * Decisions use this process's tables, so a login never waits for the
 * database. Every change is also noted in a journal that authsock sends
 * to PostgreSQL about once a second (db_failures_sync); what comes back
 * (totals, and locks other instances set) is merged in, so counters and
 * lockouts hold across every instance sharing the database. Memory is
 * fixed: a full table forgets its oldest entries, a full journal drops
 * changes (counted).
 */
#ifndef MAILGATED_PENALTY_H
#define MAILGATED_PENALTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailgate/db.h"

/* Distinct keys the journal holds between two batches. */
#define PENALTY_JOURNAL_MAX 1024

struct penalty;

struct penalty_settings {
	uint64_t delay_ms;             /* first failure; doubles, 8x at most */
	unsigned int lockout_failures; /* 0 = never lock out */
	uint64_t lockout_ms;           /* lock length; also counter lifetime */
};

/* Owned. */
struct penalty *penalty_new(const struct penalty_settings *set);
void penalty_free(struct penalty **pp);
void penalty_configure(struct penalty *p, const struct penalty_settings *set);

/*
 * Either key locked out now? rip or mailbox may be NULL/empty: an empty
 * key has no counter (clients without an address, such as doveadm, do
 * not share one).
 */
bool penalty_locked(
    struct penalty *p, const char *rip, const char *mailbox, uint64_t now_ms);
/* Count a failure; returns the delay the FAIL reply must wait. */
uint64_t penalty_fail(
    struct penalty *p, const char *rip, const char *mailbox, uint64_t now_ms);
/*
 * The delay a refusal gets without counting as a failure (a login
 * refused during a lockout).
 */
uint64_t penalty_delay(
    struct penalty *p, const char *rip, const char *mailbox, uint64_t now_ms);
/* A success forgets both keys' failures. */
void penalty_success(
    struct penalty *p, const char *rip, const char *mailbox, uint64_t now_ms);

/*
 * Hand over the changes noted since the last call (owned: free each key
 * and the array), and how many were dropped because the journal was
 * full. Empties the journal.
 */
struct failure_change *penalty_take(
    struct penalty *p, size_t *n_r, uint64_t *dropped_r);
/*
 * Merge counters as the database has them: counts and locks only grow
 * here, except that a counter an admin cleared (failures 0) is
 * forgotten, lock and all. A count whose key a success cleared since the
 * batch was taken is ignored.
 */
void penalty_merge(struct penalty *p, const struct failure_state *states,
    size_t n, uint64_t now_ms);

#endif
