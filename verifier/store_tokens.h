/* Listing API tokens for `vigil-verifier token list|revoke` (the rest of
 * the tokens' store interface is in store.h). Only the SHA-256 of a token
 * is stored, so nothing here can show a token. */
#ifndef VIGIL_STORE_TOKENS_H
#define VIGIL_STORE_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct token_info {
	uint8_t hash[SHA256_LEN];
	char role[16];
	char tenant[64];
	char label[128];
	int64_t created_at;
	int64_t revoked_at;	/* 0 if live */
};

/* Every token, oldest first. *rows is one malloc'd array: free(*rows). */
int store_token_list(struct store *s, struct token_info **rows, size_t *n);

#endif
