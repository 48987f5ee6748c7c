/* SPDX-License-Identifier: MIT */
/*
 * parse.h - bounded parsers for the values people type: numbers,
 * durations, dates, mail addresses. No atoi, strtol or sscanf: every
 * parser checks its whole input and its range, and fails closed.
 */
#ifndef MAILGATE_PARSE_H
#define MAILGATE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailgate/limits.h"

/* Decimal digits only, no sign or blanks, value <= max. 0 or -1. */
int parse_uint64(const char *s, uint64_t max, uint64_t *val_r);
int parse_uint(const char *s, unsigned int max, unsigned int *val_r);

/*
 * Durations: "90s", "30m", "12h", "180d", "2w", "1y" (365 days), a bare
 * number of seconds, or combinations like "1d12h". Result in seconds,
 * > 0, at most 100 years. 0 or -1 with *errstr_r (static text).
 */
int parse_duration(const char *s, int64_t *secs_r, const char **errstr_r);

/*
 * Points in time, as unix seconds (UTC unless an offset is given):
 * "2026-01-01", "2026-01-01 12:30", "2026-01-01T12:30:00Z",
 * "2026-01-01T12:30:00+02:00", "@1767225600", "now", or a duration
 * ago: "7d" / "-7d" (both mean seven days before now).
 */
int parse_time(const char *s, int64_t now, int64_t *t_r, const char **errstr_r);

/* Format unix seconds as "2026-01-01T12:30:00Z" into buf (>= 21 bytes). */
void format_time(int64_t t, char *buf, size_t size);

/*
 * Check a mail address and write its canonical form (lower case) into
 * out: one '@', a dot-atom local part of 1..ADDRESS_LOCAL_MAX bytes, a
 * domain of LDH labels (IDN in its xn-- form), at most ADDRESS_MAX in
 * all, ASCII only. 0 or -1 with *errstr_r (static text).
 */
int address_normalize(
    const char *in, char out[ADDRESS_MAX + 1], const char **errstr_r);

/* Strict RFC 4648 base64 (padding required, no blanks). */
int base64_decode(const char *in, size_t in_len, unsigned char *out,
    size_t out_size, size_t *out_len_r);
/* Returns the length written (without the NUL); out must hold
 * 4 * ((len + 2) / 3) + 1 bytes. */
size_t base64_encode(const void *in, size_t len, char *out);
/* base64url without padding, for PKCE and state values. */
size_t base64url_encode(const void *in, size_t len, char *out);
/*
 * Strict base64url without padding (JWT segments, RFC 7515): no blanks,
 * no '=', leftover bits zero. out must hold in_len * 3 / 4 bytes.
 */
int base64url_decode(const char *in, size_t in_len, unsigned char *out,
    size_t out_size, size_t *out_len_r);
/* Whether c belongs to the base64url alphabet. */
bool base64url_char(unsigned char c);

#endif
