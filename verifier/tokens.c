#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
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
