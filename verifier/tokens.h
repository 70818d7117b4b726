/* API bearer tokens: 32 random bytes shown once as 64 hex digits; only
 * their SHA-256 is stored. */
#ifndef VIGIL_TOKENS_H
#define VIGIL_TOKENS_H

#include "store.h"

#define TOKEN_HEX_LEN 64

/* Creates a token with role "operator" or "tenant" (tenant required then,
 * refused otherwise) and stores its hash; out gets the token. */
int tokens_create(struct store *s, const char *role, const char *tenant,
    const char *label, char out[TOKEN_HEX_LEN + 1]);
/* Checks an Authorization header value ("Bearer TOKEN"). 0 and the record;
 * VIGIL_EDENIED when absent, malformed, unknown or revoked (logged with the
 * reason); VIGIL_EDB when the store failed. */
int tokens_check(struct store *s, const char *authorization,
    struct token_rec *out);

#endif
