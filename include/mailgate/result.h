/* SPDX-License-Identifier: MIT */
/*
 * result.h - the three outcomes of anything that asks a peer or a
 * dependency, and the assertion for our own bugs.
 */
#ifndef MAILGATE_RESULT_H
#define MAILGATE_RESULT_H

#include <stdlib.h>

/*
 * MG_PERMFAIL: the answer is no (wrong token, unknown mailbox, bad input).
 * MG_TEMPFAIL: no answer could be had (database down, timeout). Callers
 * must never turn a TEMPFAIL into "wrong password".
 */
enum mg_result {
	MG_OK = 0,
	MG_PERMFAIL,
	MG_TEMPFAIL,
};

void mg_assert_fail(const char *expr, const char *file, int line)
    __attribute__((noreturn));

/* A bug in mailgate: abort with the place, never continue. */
#define MG_ASSERT(expr)                                                        \
	((expr) ? (void)0 : mg_assert_fail(#expr, __FILE__, __LINE__))

/* A state that cannot happen: abort with msg and the place. */
#define MG_BUG(msg) mg_assert_fail(msg, __FILE__, __LINE__)

/* Marks an intended fall-through between switch cases. */
#define MG_FALLTHROUGH __attribute__((fallthrough))

#define MG_N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

#endif
