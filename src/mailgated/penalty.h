/* SPDX-License-Identifier: MIT */
/*
 * penalty.h - failed logins per remote address and per mailbox: a delay
 * that grows with each failure and a temporary lockout.
 *
 * XXX: the counters live in this process only. Several mailgated
 * instances on one database each keep their own, so an attacker spread
 * over N instances gets N times the attempts before a lockout
 * (docs/KNOWN_ISSUES.md, "Failure counters are per instance"). Memory is
 * fixed: a full table forgets its oldest entries.
 */
#ifndef MAILGATED_PENALTY_H
#define MAILGATED_PENALTY_H

#include <stdbool.h>
#include <stdint.h>

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

#endif
