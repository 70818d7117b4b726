/* API bearer tokens: 32 random bytes shown once as 64 hex digits; only
 * their SHA-256 is stored. */
#ifndef VIGIL_TOKENS_H
#define VIGIL_TOKENS_H

#include "store.h"

#define TOKEN_HEX_LEN 64
/* A token's id: the first 12 hex digits of its SHA-256. Shown by `token
 * list`, written to audit records and log lines; it does not reveal the
 * token. */
#define TOKEN_ID_LEN 12

/* Creates a token with role "operator" or "tenant" (tenant required then,
 * refused otherwise) and stores its hash; out gets the token. */
int tokens_create(struct store *s, const char *role, const char *tenant,
    const char *label, char out[TOKEN_HEX_LEN + 1]);
/* Checks an Authorization header value ("Bearer TOKEN"). 0 and the record;
 * VIGIL_EDENIED when absent, malformed, unknown or revoked (logged with the
 * reason); VIGIL_EDB when the store failed. */
int tokens_check(struct store *s, const char *authorization,
    struct token_rec *out);

/* The id of the bearer token in an Authorization header value; 0, or
 * VIGIL_EINVAL if it holds no bearer token. */
int tokens_id_of_header(const char *authorization,
    char out[TOKEN_ID_LEN + 1]);
/* Revokes the one token whose id starts with id_or_label (at least 8 hex
 * digits) or whose label is id_or_label; id_out gets its id. VIGIL_ENOTFOUND
 * if none matches, VIGIL_EEXIST if several do (nothing revoked then).
 * Takes effect at the next request: tokens are looked up per request. */
int tokens_revoke(struct store *s, const char *id_or_label,
    char id_out[TOKEN_ID_LEN + 1]);

#endif
