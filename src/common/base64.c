/* SPDX-License-Identifier: MIT */
/*
 * base64.c - RFC 4648 base64 and base64url (declared in parse.h).
 * Input to the decoders is hostile (SASL PLAIN responses, cookies, JWT
 * segments): they are strict, take no blanks, want canonical padding
 * (base64) or none (base64url) with zero leftover bits, and never write
 * past out_size.
 */
#include "mailgate/parse.h"

#include <string.h>

static const char base64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char base64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of one character of the standard or the url alphabet, or -1. */
static int
base64_value(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Decode one group of four; pad is how many '=' end it (0..2). */
static int
base64_quad(const unsigned char *in, size_t pad, unsigned char out[3])
{
	int v[4] = { 0, 0, 0, 0 };
	size_t i;

	for (i = 0; i < 4 - pad; i++) {
		v[i] = base64_value(in[i], false);
		if (v[i] < 0)
			return -1;
	}
	/* Bits that padding drops must be zero, or two inputs mean one. */
	if ((pad == 1 && (v[2] & 0x03) != 0) ||
	    (pad == 2 && (v[1] & 0x0f) != 0))
		return -1;

	out[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
	out[1] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
	out[2] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
	return 0;
}

int
base64_decode(const char *in, size_t in_len, unsigned char *out,
    size_t out_size, size_t *out_len_r)
{
	const unsigned char *p = (const unsigned char *)in;
	unsigned char buf[3];
	size_t pad = 0, n = 0, i, take;

	if (in_len % 4 != 0)
		return -1;
	if (in_len > 0 && p[in_len - 1] == '=')
		pad = in_len > 1 && p[in_len - 2] == '=' ? 2 : 1;
	if (in_len > 0 && in_len / 4 * 3 - pad > out_size)
		return -1;

	for (i = 0; i < in_len; i += 4) {
		take = i + 4 == in_len ? pad : 0;
		if (base64_quad(p + i, take, buf) < 0)
			return -1;
		memcpy(out + n, buf, 3 - take);
		n += 3 - take;
	}

	*out_len_r = n;
	return 0;
}

bool
base64url_char(unsigned char c)
{
	return base64_value(c, true) >= 0;
}

int
base64url_decode(const char *in, size_t in_len, unsigned char *out,
    size_t out_size, size_t *out_len_r)
{
	size_t rem = in_len % 4, i, n = 0;
	unsigned int acc = 0, bits = 0;
	int v;

	if (rem == 1 || in_len / 4 * 3 + (rem > 0 ? rem - 1 : 0) > out_size)
		return -1;
	for (i = 0; i < in_len; i++) {
		v = base64_value((unsigned char)in[i], true);
		if (v < 0)
			return -1;
		acc = (acc << 6 | (unsigned int)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero, or two strings mean the same bytes. */
	if ((acc & ((1u << bits) - 1)) != 0)
		return -1;
	*out_len_r = n;
	return 0;
}

static size_t
base64_encode_with(
    const char *alpha, bool padded, const void *in, size_t len, char *out)
{
	const unsigned char *p = in;
	size_t i, n = 0;
	unsigned int v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned int)p[i] << 16 | (unsigned int)p[i + 1] << 8 |
		    p[i + 2];
		out[n++] = alpha[v >> 18 & 0x3f];
		out[n++] = alpha[v >> 12 & 0x3f];
		out[n++] = alpha[v >> 6 & 0x3f];
		out[n++] = alpha[v & 0x3f];
	}
	if (i < len) {
		v = (unsigned int)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned int)p[i + 1] << 8;
		out[n++] = alpha[v >> 18 & 0x3f];
		out[n++] = alpha[v >> 12 & 0x3f];
		if (i + 1 < len)
			out[n++] = alpha[v >> 6 & 0x3f];
		else if (padded)
			out[n++] = '=';
		if (padded)
			out[n++] = '=';
	}
	out[n] = '\0';
	return n;
}

size_t
base64_encode(const void *in, size_t len, char *out)
{
	return base64_encode_with(base64_std, true, in, len, out);
}

size_t
base64url_encode(const void *in, size_t len, char *out)
{
	return base64_encode_with(base64_url, false, in, len, out);
}
