/* SPDX-License-Identifier: MIT */
/*
 * test_token.c - token shape, checksum, keyring, hashing and every
 * reason token_check_attempt() can give. Expected values (CRC checksums, key
 * ids, HMACs) were computed outside mailgate, as each comment shows.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mailgate/limits.h"
#include "mailgate/token.h"

#define T(lit) lit, sizeof(lit) - 1

/*
 * Checksums from Python: body + b62(zlib.crc32(body)), six digits of
 * 0-9A-Za-z, most significant first.
 */
#define VEC_ZERO "mgt_000000000000_000000000000000000000000000000170myY"
#define VEC_ABC  "mgt_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd1FgkmK"
#define VEC_Z    "mgt_zzzzzzzzzzzz_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz14G3wx"
#define VEC_MIX  "mgt_0a1b2c3d4e5f_Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg00vxE63"

/* Key 0: bytes 0x00..0x1f. Key 1: "correct horse battery staple!!!!". */
static unsigned char key0[32];
static const char key1[] = "correct horse battery staple!!!!";
/* printf 'mailgate key id' | cat - key | sha256sum | cut -c1-8 */
#define KEY0_ID "72d2dd33"
#define KEY1_ID "b037ba40"

static const struct {
	const char *token;
	const char *id;
	/* python3 hmac.new(key0, token, sha256).hexdigest() */
	const char *hmac_key0;
} good_vectors[] = {
	{ VEC_ZERO, "000000000000",
	    "2babbbe0d532e0c498b94dbda5e5a296"
	    "2a551ee2cad934cb254273f0217bfe2d" },
	{ VEC_ABC, "abcdefghijkl",
	    "807a118f276a2341e78a08cd1023fc0d"
	    "6e67e382f6b13691615461ab8c92c439" },
	{ VEC_Z, "zzzzzzzzzzzz",
	    "f6d93fe5c68476430038e51dc8ac29ae"
	    "d5b78b6fd1673a8f9cb9c38e0f6c9fbe" },
	{ VEC_MIX, "0a1b2c3d4e5f",
	    "783abfe47ecd99f5097152f0f58e0d73"
	    "ece6972023de94c7227238432fef3b2c" },
};

/*
 * Every one must fail. Where the comment says "crc ok", the checksum is
 * right for the bytes shown, so only the shape check can catch it.
 */
static const struct {
	const char *name;
	const char *s;
	size_t len;
} bad_inputs[] = {
	{ "empty", T("") },
	{ "prefix only", T("mgt_") },
	{ "one short",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd1Fgkm") },
	{ "one long", T(VEC_ABC "K") },
	{ "two long", T(VEC_ABC "KK") },
	{ "twice", T(VEC_ABC VEC_ABC) },
	{ "trailing LF", T(VEC_ABC "\n") },
	{ "trailing CRLF", T(VEC_ABC "\r\n") },
	{ "trailing NUL counted", VEC_ABC, sizeof(VEC_ABC) },
	{ "leading space", T(" " VEC_ABC) },
	{ "trailing TAB", T(VEC_ABC "\t") },
	{ "checksum off by one",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd1FgkmL") },
	{ "checksum case flip",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd1fgkmK") },
	{ "checksum +2^32 alias",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd5wLzyO") },
	{ "checksum +3*2^32 alias",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdFJgUMW") },
	{ "checksum max",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdzzzzzz") },
	{ "checksum zero",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd000000") },
	{ "checksum has _",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd1Fg_mK") },
	{ "uppercase id, crc ok",
	    T("mgt_ABCDEFGHIJKL_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd4DI8yR") },
	{ "prefix MGT_, crc ok",
	    T("MGT_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd2ZTTf9") },
	{ "prefix mgx_, crc ok",
	    T("mgx_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd3QbwmO") },
	{ "separator -, crc ok",
	    T("mgt_abcdefghijkl-ABCDEFGHIJKLMNOPQRSTUVWXYZabcd3VBrvZ") },
	{ "_ in secret, crc ok",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMN_PQRSTUVWXYZabcd2yGsEs") },
	{ "+ in secret, crc ok",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMN+PQRSTUVWXYZabcd360d5Q") },
	{ "_ in id, crc ok",
	    T("mgt_abcdef_hijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd191o4j") },
	{ "space in secret, crc ok",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMN PQRSTUVWXYZabcd4SmxVZ") },
	{ "NUL in secret, crc ok",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMN\0PQRSTUVWXYZabcd4ByNAK") },
	{ "byte 0xc3 in secret, crc ok",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMN\xc3PQRSTUVWXYZabcd3VewRE") },
	{ "TAB in secret, crc ok",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMN\tPQRSTUVWXYZabcd13IZes") },
	{ "id 13 long, crc ok",
	    T("mgt_abcdefghijklm_ABCDEFGHIJKLMNOPQRSTUVWXYZabc0vwVzi") },
	{ "id 11 long, crc ok",
	    T("mgt_abcdefghijk_ABCDEFGHIJKLMNOPQRSTUVWXYZabcde3MXmN9") },
	{ "NUL after prefix",
	    T("mgt\0abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd1FgkmK") },
	{ "NUL at start",
	    T("\0gt_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd1FgkmK") },
	{ "NUL at end",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd1Fgkm\0") },
	{ "CR in id",
	    T("mgt_abcdef\rhijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd1FgkmK") },
	{ "LF in checksum",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd1Fg\nmK") },
	{ "base64 chars",
	    T("mgt_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZab/=1FgkmK") },
	{ "no separator",
	    T("mgt_abcdefghijklABCDEFGHIJKLMNOPQRSTUVWXYZabcde1FgkmK") },
	{ "high bytes",
	    T("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
	      "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
	      "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
	      "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
	      "\xff\xff\xff\xff\xff") },
	{ "a password", T("hunter2") },
};

static void
hex_decode(const char *hex, unsigned char *out, size_t len)
{
	size_t i;
	unsigned int hi, lo;

	for (i = 0; i < len; i++) {
		hi = (unsigned int)(strchr("0123456789abcdef", hex[2 * i]) -
		    "0123456789abcdef");
		lo = (unsigned int)(strchr("0123456789abcdef", hex[2 * i + 1]) -
		    "0123456789abcdef");
		out[i] = (unsigned char)(hi << 4 | lo);
	}
}

static int
setup_keys(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(key0); i++)
		key0[i] = (unsigned char)i;
	return 0;
}

static void
token_parse_accepts_vectors(void **state)
{
	char id[TOKEN_ID_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(good_vectors); i++) {
		memset(id, 'X', sizeof(id));
		if (token_parse(good_vectors[i].token, TOKEN_LEN, id) != 0)
			fail_msg("vector %zu rejected", i);
		assert_string_equal(id, good_vectors[i].id);
		assert_true(token_id_valid(id));
	}
}

static void
token_parse_rejects_bad_shapes(void **state)
{
	char id[TOKEN_ID_LEN + 1] = "untouched";
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(bad_inputs); i++) {
		if (token_parse(bad_inputs[i].s, bad_inputs[i].len, id) != -1)
			fail_msg("%s: accepted", bad_inputs[i].name);
		assert_string_equal(id, "untouched");
	}
	assert_int_equal(token_parse(NULL, 0, id), -1);
	assert_int_equal(token_parse(NULL, TOKEN_LEN, id), -1);
}

/* The parser must stop at len: give it exactly len bytes of heap. */
static void
token_parse_reads_only_len(void **state)
{
	char id[TOKEN_ID_LEN + 1];
	char *buf;
	size_t len;

	(void)state;
	for (len = 0; len <= TOKEN_LEN + 1; len++) {
		buf = malloc(len > 0 ? len : 1);
		assert_non_null(buf);
		memcpy(buf, VEC_ABC, len < TOKEN_LEN ? len : TOKEN_LEN);
		if (len > TOKEN_LEN)
			buf[TOKEN_LEN] = 'x';
		assert_int_equal(
		    token_parse(buf, len, id), len == TOKEN_LEN ? 0 : -1);
		free(buf);
	}
}

static void
token_generate_parses(void **state)
{
	char id[TOKEN_ID_LEN + 1], parsed[TOKEN_ID_LEN + 1];
	struct secret *tok;
	int i;

	(void)state;
	for (i = 0; i < 100; i++) {
		tok = token_generate(id);
		assert_int_equal(tok->len, TOKEN_LEN);
		assert_int_equal(tok->buf[TOKEN_LEN], '\0');
		assert_memory_equal(tok->buf, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
		assert_true(token_id_valid(id));
		assert_int_equal(
		    token_parse((const char *)tok->buf, tok->len, parsed), 0);
		assert_string_equal(parsed, id);
		secret_free(&tok);
		assert_null(tok);
	}
}

/* Every other byte value at pos, then a swap of pos and pos + 1. */
static void
corrupt_at(const unsigned char *good, size_t pos)
{
	char id[TOKEN_ID_LEN + 1], buf[TOKEN_LEN];
	int c;

	for (c = 0; c < 256; c++) {
		if (good[pos] == c)
			continue;
		memcpy(buf, good, TOKEN_LEN);
		buf[pos] = (char)c;
		if (token_parse(buf, TOKEN_LEN, id) == 0)
			fail_msg("pos %zu byte %d accepted", pos, c);
	}
	if (pos + 1 == TOKEN_LEN || good[pos] == good[pos + 1])
		return;
	memcpy(buf, good, TOKEN_LEN);
	buf[pos] = (char)good[pos + 1];
	buf[pos + 1] = (char)good[pos];
	if (token_parse(buf, TOKEN_LEN, id) == 0)
		fail_msg("swap at %zu accepted", pos);
}

/*
 * CRC-32 catches every error burst up to 32 bits, so any one changed
 * byte, and any swap of two neighbours, must fail the checksum or the
 * alphabet check. Try every position with every other byte value.
 */
static void
token_parse_rejects_every_single_corruption(void **state)
{
	char id[TOKEN_ID_LEN + 1];
	struct secret *tok;
	size_t pos;
	int round;

	(void)state;
	for (round = 0; round < 20; round++) {
		tok = token_generate(id);
		for (pos = 0; pos < TOKEN_LEN; pos++)
			corrupt_at(tok->buf, pos);
		secret_free(&tok);
	}
}

static int
cmp_strings(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * Pearson's statistic over the alphabet. With 61 or 35 degrees of
 * freedom, a fair generator passes 200 with probability 1 - 1e-15; the
 * modulo bias of "byte % 62" alone scores about 2000 on 10000 tokens.
 */
static double
chi_square(const unsigned long *counts, size_t bins, unsigned long total)
{
	double expect = (double)total / (double)bins, sum = 0, d;
	size_t i;

	for (i = 0; i < bins; i++) {
		d = (double)counts[i] - expect;
		sum += d * d / expect;
	}
	return sum;
}

static void
token_generate_is_random(void **state)
{
	static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz";
	static const char b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	enum {
		N_DISTINCT = 1000,
		N_CHARS = 10000
	};
	static char ids[N_DISTINCT][TOKEN_ID_LEN + 1];
	static char secrets[N_DISTINCT][TOKEN_SECRET_LEN + 1];
	unsigned long c62[62] = { 0 }, c36[36] = { 0 };
	struct secret *tok;
	char id[TOKEN_ID_LEN + 1];
	const unsigned char *sec;
	size_t i, j;

	(void)state;
	for (i = 0; i < N_CHARS; i++) {
		tok = token_generate(id);
		sec = tok->buf + TOKEN_PREFIX_LEN + TOKEN_ID_LEN + 1;
		for (j = 0; j < TOKEN_SECRET_LEN; j++)
			c62[strchr(b62, sec[j]) - b62]++;
		for (j = 0; j < TOKEN_ID_LEN; j++)
			c36[strchr(b36, id[j]) - b36]++;
		if (i < N_DISTINCT) {
			memcpy(ids[i], id, sizeof(ids[i]));
			memcpy(secrets[i], sec, TOKEN_SECRET_LEN);
			secrets[i][TOKEN_SECRET_LEN] = '\0';
		}
		secret_free(&tok);
	}

	qsort(ids, N_DISTINCT, sizeof(ids[0]), cmp_strings);
	qsort(secrets, N_DISTINCT, sizeof(secrets[0]), cmp_strings);
	for (i = 1; i < N_DISTINCT; i++) {
		assert_string_not_equal(ids[i - 1], ids[i]);
		assert_string_not_equal(secrets[i - 1], secrets[i]);
	}
	for (i = 0; i < 62; i++)
		assert_true(c62[i] > 0);
	assert_true(chi_square(c62, 62,
			(unsigned long)N_CHARS * TOKEN_SECRET_LEN) < 200);
	assert_true(
	    chi_square(c36, 36, (unsigned long)N_CHARS * TOKEN_ID_LEN) < 200);
}

static void
token_id_valid_cases(void **state)
{
	static const struct {
		const char *s;
		bool want;
	} cases[] = {
		{ "abcdefghijkl", true },
		{ "0123456789az", true },
		{ "abcdefghijk", false },
		{ "abcdefghijklm", false },
		{ "Abcdefghijkl", false },
		{ "abcdef_hijkl", false },
		{ "abcdef-hijkl", false },
		{ "abcdef hijkl", false },
		{ "abcdefghijk\n", false },
		{ "", false },
		{ "mgt_abcdefgh", false },
		{ "abcdefghij\xc3\xa9", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(cases); i++) {
		if (token_id_valid(cases[i].s) != cases[i].want)
			fail_msg("id case %zu", i);
	}
	assert_false(token_id_valid(NULL));
}

static void
token_keyring_ids_are_stable(void **state)
{
	struct token_keyring *kr;

	(void)state;
	kr = token_keyring_new(key0, sizeof(key0));
	assert_string_equal(token_keyring_current_id(kr), KEY0_ID);
	assert_int_equal(token_keyring_add_previous(kr, key1, 32), 0);
	assert_string_equal(token_keyring_current_id(kr), KEY0_ID);
	assert_true(token_keyring_has(kr, KEY0_ID));
	assert_true(token_keyring_has(kr, KEY1_ID));
	assert_false(token_keyring_has(kr, "00000000"));
	assert_false(token_keyring_has(kr, "72D2DD33"));
	assert_false(token_keyring_has(kr, "72d2dd3"));
	assert_false(token_keyring_has(kr, ""));
	assert_false(token_keyring_has(kr, NULL));

	/* Too short, or already there (as current or as previous). */
	assert_int_equal(token_keyring_add_previous(kr, key1, 31), -1);
	assert_int_equal(token_keyring_add_previous(kr, key1, 0), -1);
	assert_int_equal(token_keyring_add_previous(kr, key0, 32), -1);
	assert_int_equal(token_keyring_add_previous(kr, key1, 32), -1);
	token_keyring_free(&kr);
	assert_null(kr);
	token_keyring_free(&kr);
	token_keyring_free(NULL);
}

/* A scratch directory for key files, removed by the teardown. */
static char tmpdir[64];

static int
setup_tmpdir(void **state)
{
	(void)state;
	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_token.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_tmpdir(void **state)
{
	static const char *names[] = { "k0", "k1", "k0nl", "short", "empty",
		"big", "k0copy", "dir" };
	char path[128];
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(names); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		(void)unlink(path);
		(void)rmdir(path);
	}
	return rmdir(tmpdir);
}

static const char *
write_key(const char *name, const void *p, size_t len)
{
	static char path[4][128];
	static unsigned int next;
	char *out = path[next++ % 4];
	FILE *f;

	(void)snprintf(out, sizeof(path[0]), "%s/%s", tmpdir, name);
	f = fopen(out, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void
token_keyring_load_good(void **state)
{
	struct token_keyring *kr = NULL;
	unsigned char nl[33];
	const char *prev[2];
	char *err = NULL;

	(void)state;
	prev[0] = write_key("k1", key1, 32);
	/* The newline is key material: a different key, a different id. */
	memcpy(nl, key0, 32);
	nl[32] = '\n';
	prev[1] = write_key("k0nl", nl, sizeof(nl));
	assert_int_equal(
	    token_keyring_load(write_key("k0", key0, 32), prev, 2, &kr, &err),
	    0);
	assert_null(err);
	assert_string_equal(token_keyring_current_id(kr), KEY0_ID);
	assert_true(token_keyring_has(kr, KEY1_ID));
	token_keyring_free(&kr);

	assert_int_equal(token_keyring_load(prev[0], NULL, 0, &kr, &err), 0);
	assert_string_equal(token_keyring_current_id(kr), KEY1_ID);
	assert_false(token_keyring_has(kr, KEY0_ID));
	token_keyring_free(&kr);
}

enum key_file {
	KF_NONE,
	KF_K0,
	KF_K0COPY,
	KF_K1,
	KF_SHORT,
	KF_EMPTY,
	KF_BIG,
	KF_DIR,
	KF_MISSING,
	KF_COUNT,
};

static void
key_files_make(char paths[KF_COUNT][128])
{
	static char big[SECRET_FILE_MAX + 1];

	memset(big, 'k', sizeof(big));
	paths[KF_NONE][0] = '\0';
	(void)snprintf(paths[KF_K0], 128, "%s", write_key("k0", key0, 32));
	(void)snprintf(
	    paths[KF_K0COPY], 128, "%s", write_key("k0copy", key0, 32));
	(void)snprintf(paths[KF_K1], 128, "%s", write_key("k1", key1, 32));
	(void)snprintf(
	    paths[KF_SHORT], 128, "%s", write_key("short", key1, 31));
	(void)snprintf(paths[KF_EMPTY], 128, "%s", write_key("empty", "", 0));
	(void)snprintf(
	    paths[KF_BIG], 128, "%s", write_key("big", big, sizeof(big)));
	(void)snprintf(paths[KF_DIR], 128, "%s/dir", tmpdir);
	assert_int_equal(mkdir(paths[KF_DIR], 0700), 0);
	(void)snprintf(paths[KF_MISSING], 128, "%s/nope", tmpdir);
}

static void
token_keyring_load_rejects(void **state)
{
	static const struct {
		const char *name;
		enum key_file current, p0, p1;
		const char *err_has;
	} cases[] = {
		{ "short current", KF_SHORT, KF_NONE, KF_NONE,
		    "shorter than 32" },
		{ "empty current", KF_EMPTY, KF_NONE, KF_NONE,
		    "shorter than 32" },
		{ "too big", KF_BIG, KF_NONE, KF_NONE, "too large" },
		{ "missing", KF_MISSING, KF_NONE, KF_NONE, "No such file" },
		{ "directory", KF_DIR, KF_NONE, KF_NONE, "not a regular file" },
		{ "short previous", KF_K0, KF_SHORT, KF_NONE,
		    "shorter than 32" },
		{ "missing previous", KF_K0, KF_K1, KF_MISSING,
		    "No such file" },
		{ "previous = current", KF_K0, KF_K0COPY, KF_NONE, "same key" },
		{ "previous twice", KF_K0, KF_K1, KF_K1, "same key" },
	};
	static char paths[KF_COUNT][128];
	struct token_keyring *kr, *const sentinel = (void *)&kr;
	const char *prev[2], *bad;
	unsigned int n;
	char *err;
	size_t i;

	(void)state;
	key_files_make(paths);
	for (i = 0; i < MG_N_ELEMENTS(cases); i++) {
		kr = sentinel;
		err = NULL;
		prev[0] = paths[cases[i].p0];
		prev[1] = paths[cases[i].p1];
		n = cases[i].p1 != KF_NONE ? 2 : cases[i].p0 != KF_NONE;
		if (token_keyring_load(
			paths[cases[i].current], prev, n, &kr, &err) != -1)
			fail_msg("%s: accepted", cases[i].name);
		assert_ptr_equal(kr, sentinel);
		assert_non_null(err);
		if (strstr(err, cases[i].err_has) == NULL)
			fail_msg("%s: error \"%s\"", cases[i].name, err);
		/* The file that failed is named; its bytes never are. */
		bad = paths[cases[i].current];
		if (n > 0)
			bad = prev[n - 1];
		if (strstr(err, bad) == NULL)
			fail_msg("%s: file not named: %s", cases[i].name, err);
		assert_null(strstr(err, "correct horse"));
		assert_null(strstr(err, "kkkk"));
		free(err);
	}
}

static void
token_hash_vectors(void **state)
{
	struct token_keyring *kr;
	unsigned char got[TOKEN_HASH_LEN], want[TOKEN_HASH_LEN];
	unsigned char other[TOKEN_HASH_LEN];
	size_t i;

	(void)state;
	kr = token_keyring_new(key1, 32);
	assert_int_equal(token_keyring_add_previous(kr, key0, 32), 0);
	for (i = 0; i < MG_N_ELEMENTS(good_vectors); i++) {
		hex_decode(good_vectors[i].hmac_key0, want, sizeof(want));
		assert_int_equal(token_hash(kr, KEY0_ID, good_vectors[i].token,
				     TOKEN_LEN, got),
		    0);
		assert_memory_equal(got, want, sizeof(want));
		/* NULL means the current key, which is key 1. */
		assert_int_equal(token_hash(kr, NULL, good_vectors[i].token,
				     TOKEN_LEN, other),
		    0);
		assert_memory_not_equal(other, want, sizeof(want));
		assert_int_equal(token_hash(kr, KEY1_ID, good_vectors[i].token,
				     TOKEN_LEN, got),
		    0);
		assert_memory_equal(got, other, sizeof(got));
	}
	assert_int_equal(
	    token_hash(kr, "00000000", VEC_ABC, TOKEN_LEN, got), -1);
	assert_int_equal(token_hash(kr, "", VEC_ABC, TOKEN_LEN, got), -1);
	token_keyring_free(&kr);
}

/* Keys of the check tests: current key 1, previous key 0. */
static struct token_keyring *check_kr;
static struct secret *check_tok, *check_other;
static struct token_record check_rec;
#define NOW 1700000000

static int
setup_check(void **state)
{
	char id[TOKEN_ID_LEN + 1];

	(void)state;
	check_kr = token_keyring_new(key1, 32);
	if (token_keyring_add_previous(check_kr, key0, 32) != 0)
		return -1;
	check_tok = token_generate(id);
	check_other = token_generate(id);

	memset(&check_rec, 0, sizeof(check_rec));
	memcpy(check_rec.id, check_tok->buf + TOKEN_PREFIX_LEN, TOKEN_ID_LEN);
	memcpy(check_rec.key_id, KEY1_ID, sizeof(check_rec.key_id));
	if (token_hash(check_kr, NULL, check_tok->buf, check_tok->len,
		check_rec.hash) != 0)
		return -1;
	memcpy(check_rec.mailbox, "alice@example.org", 18);
	check_rec.mailbox_enabled = true;
	check_rec.scopes = TOKEN_SCOPE_IMAP | TOKEN_SCOPE_SUBMISSION;
	check_rec.expires_at = NOW + 3600;
	return 0;
}

static int
teardown_check(void **state)
{
	(void)state;
	token_keyring_free(&check_kr);
	secret_free(&check_tok);
	secret_free(&check_other);
	return 0;
}

enum check_token {
	CT_GOOD,
	CT_OTHER,    /* another valid token; rec->id set to its id */
	CT_OTHER_ID, /* another valid token, record unchanged */
	CT_CORRUPT,  /* one byte changed */
	CT_SHORT,    /* one byte missing */
	CT_TRAILING_NL,
};

enum check_change {
	CC_NONE = 0,
	CC_REVOKED = 1 << 0,
	CC_EXPIRED = 1 << 1,
	CC_EXPIRES_NOW = 1 << 2,
	CC_NEVER_EXPIRES = 1 << 3,
	CC_DISABLED = 1 << 4,
	CC_FLIP_HASH = 1 << 5,
	CC_RETIRED_KEY = 1 << 6,
	CC_ZERO_HASH = 1 << 7,
};

static const struct {
	const char *name;
	enum check_token tok;
	unsigned int change;
	const char *user;
	unsigned int scope;
	enum token_reason want;
} check_cases[] = {
	{ "ok", CT_GOOD, CC_NONE, "alice@example.org", TOKEN_SCOPE_IMAP,
	    TOKEN_REASON_OK },
	{ "ok user upper case", CT_GOOD, CC_NONE, "Alice@EXAMPLE.org",
	    TOKEN_SCOPE_SUBMISSION, TOKEN_REASON_OK },
	{ "ok no user, no scope", CT_GOOD, CC_NONE, NULL, 0, TOKEN_REASON_OK },
	{ "ok never expires", CT_GOOD, CC_NEVER_EXPIRES, NULL, 0,
	    TOKEN_REASON_OK },
	{ "malformed", CT_CORRUPT, CC_NONE, NULL, 0, TOKEN_REASON_MALFORMED },
	{ "malformed short", CT_SHORT, CC_NONE, NULL, 0,
	    TOKEN_REASON_MALFORMED },
	{ "malformed newline", CT_TRAILING_NL, CC_NONE, NULL, 0,
	    TOKEN_REASON_MALFORMED },
	{ "malformed beats revoked", CT_CORRUPT, CC_REVOKED, NULL, 0,
	    TOKEN_REASON_MALFORMED },
	{ "record of another id", CT_OTHER_ID, CC_NONE, NULL, 0,
	    TOKEN_REASON_UNKNOWN },
	{ "other secret", CT_OTHER, CC_NONE, NULL, 0, TOKEN_REASON_MISMATCH },
	{ "hash flipped", CT_GOOD, CC_FLIP_HASH, NULL, 0,
	    TOKEN_REASON_MISMATCH },
	{ "hash zero", CT_GOOD, CC_ZERO_HASH, NULL, 0, TOKEN_REASON_MISMATCH },
	{ "key retired", CT_GOOD, CC_RETIRED_KEY, NULL, 0,
	    TOKEN_REASON_KEY_RETIRED },
	{ "revoked", CT_GOOD, CC_REVOKED, NULL, 0, TOKEN_REASON_REVOKED },
	{ "expired", CT_GOOD, CC_EXPIRED, NULL, 0, TOKEN_REASON_EXPIRED },
	{ "expires this second", CT_GOOD, CC_EXPIRES_NOW, NULL, 0,
	    TOKEN_REASON_EXPIRED },
	{ "disabled", CT_GOOD, CC_DISABLED, NULL, 0, TOKEN_REASON_DISABLED },
	{ "wrong user", CT_GOOD, CC_NONE, "bob@example.org", 0,
	    TOKEN_REASON_WRONG_USER },
	{ "user is a prefix", CT_GOOD, CC_NONE, "alice@example.or", 0,
	    TOKEN_REASON_WRONG_USER },
	{ "user is longer", CT_GOOD, CC_NONE, "alice@example.org.", 0,
	    TOKEN_REASON_WRONG_USER },
	{ "empty user", CT_GOOD, CC_NONE, "", 0, TOKEN_REASON_WRONG_USER },
	{ "user non-ASCII fold", CT_GOOD, CC_NONE, "alice@example.\xc3\xb6rg",
	    0, TOKEN_REASON_WRONG_USER },
	{ "scope", CT_GOOD, CC_NONE, NULL, TOKEN_SCOPE_POP3,
	    TOKEN_REASON_SCOPE },
	{ "scope smtp", CT_GOOD, CC_NONE, NULL, TOKEN_SCOPE_SMTP,
	    TOKEN_REASON_SCOPE },
	/* Order: nothing about the record leaks before the hash matches. */
	{ "mismatch beats revoked", CT_OTHER, CC_REVOKED | CC_DISABLED, "bob",
	    TOKEN_SCOPE_POP3, TOKEN_REASON_MISMATCH },
	{ "retired beats revoked", CT_GOOD, CC_RETIRED_KEY | CC_REVOKED, NULL,
	    0, TOKEN_REASON_KEY_RETIRED },
	{ "revoked beats expired", CT_GOOD, CC_REVOKED | CC_EXPIRED, NULL, 0,
	    TOKEN_REASON_REVOKED },
	{ "expired beats disabled", CT_GOOD, CC_EXPIRED | CC_DISABLED, NULL, 0,
	    TOKEN_REASON_EXPIRED },
	{ "disabled beats user", CT_GOOD, CC_DISABLED, "bob", 0,
	    TOKEN_REASON_DISABLED },
	{ "user beats scope", CT_GOOD, CC_NONE, "bob", TOKEN_SCOPE_POP3,
	    TOKEN_REASON_WRONG_USER },
};

static void
check_apply(struct token_record *rec, unsigned int change)
{
	if (change & CC_REVOKED)
		rec->revoked_at = NOW - 10;
	if (change & CC_EXPIRED)
		rec->expires_at = NOW - 1;
	if (change & CC_EXPIRES_NOW)
		rec->expires_at = NOW;
	if (change & CC_NEVER_EXPIRES)
		rec->expires_at = 0;
	if (change & CC_DISABLED)
		rec->mailbox_enabled = false;
	if (change & CC_FLIP_HASH)
		rec->hash[TOKEN_HASH_LEN - 1] ^= 0x01;
	if (change & CC_ZERO_HASH)
		memset(rec->hash, 0, sizeof(rec->hash));
	if (change & CC_RETIRED_KEY)
		memcpy(rec->key_id, "deadbeef", sizeof(rec->key_id));
}

static void
token_check_reasons(void **state)
{
	struct token_attempt a = { .now = NOW };
	struct token_record rec;
	enum token_reason reason;
	enum mg_result res;
	char tok[TOKEN_LEN + 1];
	size_t len, i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(check_cases); i++) {
		rec = check_rec;
		check_apply(&rec, check_cases[i].change);
		memcpy(tok, check_tok->buf, TOKEN_LEN);
		len = TOKEN_LEN;
		switch (check_cases[i].tok) {
		case CT_GOOD:
			break;
		case CT_OTHER:
			memcpy(tok, check_other->buf, TOKEN_LEN);
			memcpy(rec.id, tok + TOKEN_PREFIX_LEN, TOKEN_ID_LEN);
			break;
		case CT_OTHER_ID:
			memcpy(tok, check_other->buf, TOKEN_LEN);
			break;
		case CT_CORRUPT:
			tok[30] = tok[30] == 'A' ? 'B' : 'A';
			break;
		case CT_SHORT:
			len--;
			break;
		case CT_TRAILING_NL:
			tok[len++] = '\n';
			break;
		}
		reason = (enum token_reason)99; /* must be overwritten */
		a.token = tok;
		a.len = len;
		a.user = check_cases[i].user;
		a.scope = check_cases[i].scope;
		res = token_check_attempt(check_kr, &rec, &a, &reason);
		if (reason != check_cases[i].want)
			fail_msg("%s: reason %s, want %s", check_cases[i].name,
			    token_reason_str(reason),
			    token_reason_str(check_cases[i].want));
		assert_int_equal(
		    res, reason == TOKEN_REASON_OK ? MG_OK : MG_PERMFAIL);
	}
}

/* Rotation: a token hashed under the old key keeps working until the
 * old key leaves the ring; then it is KEY_RETIRED, not MISMATCH. */
static void
token_check_survives_rotation(void **state)
{
	struct token_attempt alice_imap = { .user = "alice@example.org",
		.scope = TOKEN_SCOPE_IMAP,
		.now = NOW };
	struct token_keyring *after, *retired;
	struct token_record rec = check_rec;
	enum token_reason reason;

	(void)state;
	alice_imap.token = check_tok->buf;
	alice_imap.len = TOKEN_LEN;
	after = token_keyring_new(key1, 32);
	assert_int_equal(token_keyring_add_previous(after, key0, 32), 0);
	retired = token_keyring_new(key1, 32);

	/* Hashed before the rotation, when key 0 was current. */
	memcpy(rec.key_id, KEY0_ID, sizeof(rec.key_id));
	assert_int_equal(
	    token_hash(after, KEY0_ID, check_tok->buf, TOKEN_LEN, rec.hash), 0);
	assert_int_equal(
	    token_check_attempt(after, &rec, &alice_imap, &reason), MG_OK);
	assert_int_equal(reason, TOKEN_REASON_OK);
	assert_int_equal(
	    token_check_attempt(retired, &rec, &alice_imap, &reason),
	    MG_PERMFAIL);
	assert_int_equal(reason, TOKEN_REASON_KEY_RETIRED);

	/* The same hash filed under the new key's id does not verify. */
	memcpy(rec.key_id, KEY1_ID, sizeof(rec.key_id));
	alice_imap.user = NULL;
	alice_imap.scope = 0;
	assert_int_equal(token_check_attempt(after, &rec, &alice_imap, &reason),
	    MG_PERMFAIL);
	assert_int_equal(reason, TOKEN_REASON_MISMATCH);
	token_keyring_free(&after);
	token_keyring_free(&retired);
}

/* One keyring serves every thread of mailgated: hash from several. */
static void *
check_thread(void *arg)
{
	struct token_attempt a = { .user = "alice@example.org",
		.scope = TOKEN_SCOPE_IMAP,
		.now = NOW };
	enum token_reason reason;
	int i, *bad = arg;

	a.token = check_tok->buf;
	a.len = TOKEN_LEN;
	for (i = 0; i < 2000; i++) {
		if (token_check_attempt(check_kr, &check_rec, &a, &reason) !=
		    MG_OK)
			(*bad)++;
	}
	return NULL;
}

static void
token_check_shares_keyring_between_threads(void **state)
{
	pthread_t th[4];
	int bad[4] = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(th); i++)
		assert_int_equal(
		    pthread_create(&th[i], NULL, check_thread, &bad[i]), 0);
	for (i = 0; i < MG_N_ELEMENTS(th); i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(bad[i], 0);
	}
}

static void
token_reason_str_words(void **state)
{
	static const struct {
		enum token_reason reason;
		const char *want;
	} cases[] = {
		{ TOKEN_REASON_OK, "ok" },
		{ TOKEN_REASON_MALFORMED, "malformed" },
		{ TOKEN_REASON_UNKNOWN, "unknown" },
		{ TOKEN_REASON_MISMATCH, "mismatch" },
		{ TOKEN_REASON_KEY_RETIRED, "key_retired" },
		{ TOKEN_REASON_WRONG_USER, "wrong_user" },
		{ TOKEN_REASON_SCOPE, "scope" },
		{ TOKEN_REASON_EXPIRED, "expired" },
		{ TOKEN_REASON_REVOKED, "revoked" },
		{ TOKEN_REASON_DISABLED, "disabled" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(cases); i++)
		assert_string_equal(
		    token_reason_str(cases[i].reason), cases[i].want);
	assert_string_equal(token_reason_str((enum token_reason)99), "invalid");
}

#define S_IMAP  TOKEN_SCOPE_IMAP
#define S_POP3  TOKEN_SCOPE_POP3
#define S_SMTP  TOKEN_SCOPE_SMTP
#define S_SUBM  TOKEN_SCOPE_SUBMISSION
#define S_SIEVE TOKEN_SCOPE_SIEVE
#define S_ALL   TOKEN_SCOPE_ALL

static void
token_scopes_parse_cases(void **state)
{
	static const struct {
		const char *s;
		int want;
		unsigned int mask;
		const char *err_has;
	} cases[] = {
		{ "imap", 0, S_IMAP, NULL },
		{ "imap,smtp", 0, S_IMAP | S_SMTP, NULL },
		{ "imap smtp", 0, S_IMAP | S_SMTP, NULL },
		{ " IMAP ,\tSmtp , ", 0, S_IMAP | S_SMTP, NULL },
		{ "imap,imap", 0, S_IMAP, NULL },
		{ "pop3 submission sieve", 0, S_POP3 | S_SUBM | S_SIEVE, NULL },
		{ "all", 0, S_ALL, NULL },
		{ "ALL", 0, S_ALL, NULL },
		{ "imap,all", 0, S_ALL, NULL },
		{ "", -1, 0, "no scopes" },
		{ " , ,\t", -1, 0, "no scopes" },
		{ "imap,foo", -1, 0, "unknown scope \"foo\"" },
		{ "imaps", -1, 0, "unknown scope \"imaps\"" },
		{ "ima", -1, 0, "unknown scope \"ima\"" },
		{ "imap;smtp", -1, 0, "unknown scope \"imap;smtp\"" },
		{ "imap\nsmtp", -1, 0, "unknown scope \"imap?smtp\"" },
		{ "managesieve", -1, 0, "unknown scope \"managesieve\"" },
		{ "al", -1, 0, "unknown scope" },
		{ "*", -1, 0, "unknown scope \"*\"" },
		{ "none", -1, 0, "unknown scope" },
		{ "imap\"x", -1, 0, "unknown scope \"imap?x\"" },
		{ "submissionsubmission", -1, 0,
		    "unknown scope \"submissionsubmis...\"" },
		{ "\xc3\xa9", -1, 0, "unknown scope \"??\"" },
	};
	const char *err;
	unsigned int mask;
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(cases); i++) {
		mask = 12345;
		err = NULL;
		if (token_scopes_parse(cases[i].s, &mask, &err) !=
		    cases[i].want)
			fail_msg("case \"%s\": wrong result", cases[i].s);
		if (cases[i].want == 0) {
			assert_int_equal(mask, cases[i].mask);
			continue;
		}
		assert_int_equal(mask, 12345);
		assert_non_null(err);
		if (strstr(err, cases[i].err_has) == NULL)
			fail_msg("case \"%s\": error \"%s\"", cases[i].s, err);
	}
	assert_int_equal(token_scopes_parse(NULL, &mask, &err), -1);
}

static void
token_scopes_format_cases(void **state)
{
	static const struct {
		unsigned int mask;
		const char *want;
	} cases[] = {
		{ 0, "" },
		{ S_IMAP, "imap" },
		{ S_SMTP | S_IMAP, "imap,smtp" },
		{ S_SIEVE | S_POP3, "pop3,sieve" },
		{ S_ALL & ~S_SIEVE, "imap,pop3,smtp,submission" },
		{ S_ALL, "all" },
		{ S_ALL | 1U << 7, "all" },
		{ S_SUBM | 1U << 30, "submission" },
	};
	char buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(cases); i++) {
		assert_int_equal(
		    token_scopes_format(cases[i].mask, buf, sizeof(buf)),
		    strlen(cases[i].want));
		assert_string_equal(buf, cases[i].want);
	}

	/* Like snprintf: the full length back, a cut but ended string. */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(token_scopes_format(S_IMAP | S_SMTP, buf, 6), 9);
	assert_string_equal(buf, "imap,");
	assert_int_equal(token_scopes_format(S_IMAP | S_SMTP, buf, 5), 9);
	assert_string_equal(buf, "imap");
	assert_int_equal(token_scopes_format(S_IMAP | S_SMTP, buf, 1), 9);
	assert_string_equal(buf, "");
	assert_int_equal(token_scopes_format(S_ALL, NULL, 0), 3);
}

static void
token_scopes_round_trip(void **state)
{
	char buf[64];
	const char *err;
	unsigned int mask, got;

	(void)state;
	for (mask = 1; mask <= TOKEN_SCOPE_ALL; mask++) {
		assert_true(
		    token_scopes_format(mask, buf, sizeof(buf)) < sizeof(buf));
		assert_int_equal(token_scopes_parse(buf, &got, &err), 0);
		assert_int_equal(got, mask);
	}
}

static void
token_scope_for_service_cases(void **state)
{
	static const struct {
		const char *service;
		int want;
		unsigned int scope;
	} cases[] = {
		{ "imap", 0, S_IMAP },
		{ "IMAP", 0, S_IMAP },
		{ "pop3", 0, S_POP3 },
		{ "smtp", 0, S_SMTP },
		{ "submission", 0, S_SUBM },
		{ "sieve", 0, S_SIEVE },
		{ "managesieve", 0, S_SIEVE },
		{ "ManageSieve", 0, S_SIEVE },
		{ "all", -1, 0 },
		{ "", -1, 0 },
		{ "imaps", -1, 0 },
		{ "pop", -1, 0 },
		{ "lmtp", -1, 0 },
		{ "doveadm", -1, 0 },
		{ "imap ", -1, 0 },
		{ " imap", -1, 0 },
		{ "imap,smtp", -1, 0 },
		{ "managesievemanagesieve", -1, 0 },
	};
	unsigned int scope;
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(cases); i++) {
		scope = 999;
		if (token_scope_for_service(cases[i].service, &scope) !=
		    cases[i].want)
			fail_msg("service \"%s\"", cases[i].service);
		assert_int_equal(
		    scope, cases[i].want == 0 ? cases[i].scope : 999);
	}
	assert_int_equal(token_scope_for_service(NULL, &scope), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(token_parse_accepts_vectors),
		cmocka_unit_test(token_parse_rejects_bad_shapes),
		cmocka_unit_test(token_parse_reads_only_len),
		cmocka_unit_test(token_generate_parses),
		cmocka_unit_test(token_parse_rejects_every_single_corruption),
		cmocka_unit_test(token_generate_is_random),
		cmocka_unit_test(token_id_valid_cases),
		cmocka_unit_test(token_keyring_ids_are_stable),
		cmocka_unit_test_setup_teardown(
		    token_keyring_load_good, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test_setup_teardown(
		    token_keyring_load_rejects, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test(token_hash_vectors),
		cmocka_unit_test_setup_teardown(
		    token_check_reasons, setup_check, teardown_check),
		cmocka_unit_test_setup_teardown(
		    token_check_survives_rotation, setup_check, teardown_check),
		cmocka_unit_test_setup_teardown(
		    token_check_shares_keyring_between_threads, setup_check,
		    teardown_check),
		cmocka_unit_test(token_reason_str_words),
		cmocka_unit_test(token_scopes_parse_cases),
		cmocka_unit_test(token_scopes_format_cases),
		cmocka_unit_test(token_scopes_round_trip),
		cmocka_unit_test(token_scope_for_service_cases),
	};

	return cmocka_run_group_tests(tests, setup_keys, NULL);
}
