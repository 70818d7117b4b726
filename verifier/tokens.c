#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "store_tokens.h"
#include "tokens.h"

static int
tokens_hash(const char *tok, size_t len, uint8_t out[SHA256_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(tok, len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != SHA256_LEN)
		return VIGIL_ECRYPTO;
	return 0;
}

int
tokens_create(struct store *s, const char *role, const char *tenant,
    const char *label, char out[TOKEN_HEX_LEN + 1])
{
	uint8_t raw[TOKEN_HEX_LEN / 2], h[SHA256_LEN];
	int e;

	if (strcmp(role, "operator") == 0) {
		if (tenant != NULL && tenant[0] != '\0')
			return VIGIL_EINVAL;
		tenant = "";
	} else if (strcmp(role, "tenant") == 0) {
		if (tenant == NULL || tenant[0] == '\0' ||
		    strlen(tenant) >= 64)
			return VIGIL_EINVAL;
	} else
		return VIGIL_EINVAL;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return VIGIL_ECRYPTO;
	hex_encode(raw, sizeof(raw), out);
	if ((e = tokens_hash(out, TOKEN_HEX_LEN, h)) != 0 ||
	    (e = store_token_add(s, h, role, tenant,
	    label != NULL ? label : "")) != 0)
		return e;
	return 0;
}

int
tokens_check(struct store *s, const char *authorization,
    struct token_rec *out)
{
	uint8_t h[SHA256_LEN];
	const char *tok;
	size_t len;
	int e;

	if (authorization == NULL) {
		log_warn("auth: refused: no Authorization header");
		return VIGIL_EDENIED;
	}
	if (strncasecmp(authorization, "Bearer ", 7) != 0) {
		log_warn("auth: refused: Authorization is not Bearer");
		return VIGIL_EDENIED;
	}
	tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	len = strlen(tok);
	if (len == 0 || len > 256) {
		log_warn("auth: refused: empty or oversized bearer token");
		return VIGIL_EDENIED;
	}
	if ((e = tokens_hash(tok, len, h)) != 0)
		return e;
	e = store_token_lookup(s, h, out);
	if (e == VIGIL_ENOTFOUND || e == VIGIL_EDENIED) {
		log_warn("auth: refused: token %s",
		    e == VIGIL_EDENIED ? "revoked" : "unknown");
		return VIGIL_EDENIED;
	}
	return e;
}

/* The token of a "Bearer TOKEN" header value, and its length. */
static int
tokens_bearer(const char *authorization, const char **tok, size_t *len)
{
	const char *t;

	if (authorization == NULL ||
	    strncasecmp(authorization, "Bearer ", 7) != 0)
		return VIGIL_EINVAL;
	t = authorization + 7;
	while (*t == ' ')
		t++;
	*len = strlen(t);
	if (*len == 0 || *len > 256)
		return VIGIL_EINVAL;
	*tok = t;
	return 0;
}

int
tokens_id_of_header(const char *authorization, char out[TOKEN_ID_LEN + 1])
{
	uint8_t h[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];
	const char *tok;
	size_t len;
	int e;

	if ((e = tokens_bearer(authorization, &tok, &len)) != 0 ||
	    (e = tokens_hash(tok, len, h)) != 0)
		return e;
	hex_encode(h, sizeof(h), hex);
	memcpy(out, hex, TOKEN_ID_LEN);
	out[TOKEN_ID_LEN] = '\0';
	return 0;
}

static int
tokens_is_hex(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

int
tokens_revoke(struct store *s, const char *id_or_label,
    char id_out[TOKEN_ID_LEN + 1])
{
	struct token_info *rows = NULL, *hit = NULL;
	char hex[2 * SHA256_LEN + 1];
	size_t n, i, k = strlen(id_or_label), matches = 0;
	int by_id, e;

	if (k == 0 || k > 2 * SHA256_LEN + 64)
		return VIGIL_EINVAL;
	by_id = k >= 8 && k <= 2 * SHA256_LEN && tokens_is_hex(id_or_label);
	if ((e = store_token_list(s, &rows, &n)) != 0)
		return e;
	for (i = 0; i < n; i++) {
		hex_encode(rows[i].hash, SHA256_LEN, hex);
		if ((by_id && strncmp(hex, id_or_label, k) == 0) ||
		    strcmp(rows[i].label, id_or_label) == 0) {
			matches++;
			hit = &rows[i];
		}
	}
	if (matches == 0) {
		log_warn("token revoke: no token has id or label \"%s\"",
		    id_or_label);
		e = VIGIL_ENOTFOUND;
		goto out;
	}
	if (matches > 1) {
		log_warn("token revoke: %zu tokens match \"%s\"; give the id "
		    "of one (vigil-verifier token list)", matches, id_or_label);
		e = VIGIL_EEXIST;
		goto out;
	}
	hex_encode(hit->hash, SHA256_LEN, hex);
	memcpy(id_out, hex, TOKEN_ID_LEN);
	id_out[TOKEN_ID_LEN] = '\0';
	e = store_token_revoke(s, hit->hash);
 out:
	free(rows);
	return e;
}
