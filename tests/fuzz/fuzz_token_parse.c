/* SPDX-License-Identifier: MIT */
/*
 * fuzz_token_parse.c - libFuzzer target for token_parse(): any bytes a
 * mail client may send as a password. The input is copied into a buffer
 * of exactly its size so AddressSanitizer catches a read past len.
 *
 *   clang -fsanitize=fuzzer,address -Iinclude tests/fuzz/fuzz_token_parse.c
 *       src/common/token.c src/common/secret.c src/common/xmalloc.c
 *       -lcrypto
 *
 * smoke runs: 2000000
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailgate/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[TOKEN_ID_LEN + 1];
	char *copy = malloc(size > 0 ? size : 1);
	size_t i;

	if (copy == NULL)
		return 0;
	/* Empty input still gets a valid pointer, as a client could send. */
	copy[0] = '\0';
	if (size > 0)
		memcpy(copy, data, size);
	if (token_parse(copy, size, id) == 0) {
		/* Accepted: it must really have the documented shape. */
		if (size != TOKEN_LEN || !token_id_valid(id) ||
		    memcmp(copy, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0 ||
		    memcmp(copy + TOKEN_PREFIX_LEN, id, TOKEN_ID_LEN) != 0)
			abort();
		for (i = TOKEN_PREFIX_LEN + TOKEN_ID_LEN + 1; i < size; i++) {
			if (copy[i] == '_')
				abort();
		}
	}
	free(copy);
	return 0;
}
