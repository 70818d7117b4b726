/* Compact JWS (RFC 7515) JWTs signed ES256 with libjose: the verifier's
 * signed results and the CLI's offline check of them. ES256 signatures are
 * raw r||s (64 bytes), as JOSE requires; libjose makes and checks them. */
#ifndef VIGIL_JWT_H
#define VIGIL_JWT_H

#include <stddef.h>

#include <jansson.h>

#define JWT_MAX (64u * 1024)	/* longer tokens are refused */
#define JWT_KID_MAX 64

/* Signs claims with a private P-256 JWK that has a "kid"; the header is
 * {"alg": "ES256", "typ": "JWT", "kid"}. *out is malloc'd (free()).
 * VIGIL_EINVAL for a JWK that is not a private EC P-256 key with a kid,
 * VIGIL_ECRYPTO if signing failed. */
int jwt_sign_es256(const json_t *jwk, const json_t *claims, char **out);

/* Checks a compact JWS against the key of a JWK set ({"keys": [...]})
 * whose kid its header names: alg must be ES256 and the signature hold.
 * *claims (new reference) gets the payload object, kid (may be NULL) the
 * header's kid. VIGIL_EINVAL for a malformed token (logged with the
 * reason), VIGIL_ENOTFOUND for a kid the set lacks, VIGIL_ECRYPTO for a
 * bad signature. Expiry is the caller's to check. */
int jwt_verify_es256(const char *token, const json_t *jwks, json_t **claims,
    char kid[JWT_KID_MAX + 1]);

/* A new P-256 private JWK {"kty", "crv", "x", "y", "d", "alg": "ES256",
 * "use": "sig", "kid": its RFC 7638 thumbprint (SHA-256)}. */
int jwt_key_generate(json_t **out);
/* Checks a private JWK read from a file (kty EC, crv P-256, alg ES256,
 * x, y, d, and a kid equal to its thumbprint). */
int jwt_key_check(const json_t *jwk);
/* The public half (d removed): new reference. */
int jwt_key_public(const json_t *jwk, json_t **out);

#endif
