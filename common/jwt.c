#include <stdlib.h>
#include <string.h>

#include <jose/b64.h>
#include <jose/jwk.h>
#include <jose/jws.h>

#include "err.h"
#include "jwt.h"
#include "log.h"

static const char *
jwt_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The JWK is EC P-256 for ES256 (private when need_d). */
static int
jwt_key_shape_ok(const json_t *jwk, int need_d)
{
	const char *kty = jwt_str(jwk, "kty"), *crv = jwt_str(jwk, "crv");
	const char *alg = jwt_str(jwk, "alg");

	if (!json_is_object(jwk) || kty == NULL || strcmp(kty, "EC") != 0 ||
	    crv == NULL || strcmp(crv, "P-256") != 0 ||
	    (alg != NULL && strcmp(alg, "ES256") != 0) ||
	    jwt_str(jwk, "x") == NULL || jwt_str(jwk, "y") == NULL ||
	    (need_d && jwt_str(jwk, "d") == NULL))
		return 0;
	return 1;
}

static int
jwt_thumbprint(const json_t *jwk, json_t **out)
{
	if ((*out = jose_jwk_thp(NULL, jwk, "S256")) == NULL ||
	    !json_is_string(*out)) {
		json_decref(*out);
		*out = NULL;
		return VIGIL_ECRYPTO;
	}
	return 0;
}

int
jwt_key_generate(json_t **out)
{
	json_t *jwk, *thp = NULL;
	int e = VIGIL_ECRYPTO;

	*out = NULL;
	if ((jwk = json_pack("{s:s}", "alg", "ES256")) == NULL)
		return VIGIL_ENOMEM;
	if (!jose_jwk_gen(NULL, jwk) || !jwt_key_shape_ok(jwk, 1)) {
		log_err("jwt: generating a P-256 key failed");
		goto out;
	}
	if ((e = jwt_thumbprint(jwk, &thp)) != 0)
		goto out;
	if (json_object_set_new(jwk, "use", json_string("sig")) != 0 ||
	    json_object_set(jwk, "kid", thp) != 0) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	*out = jwk;
	jwk = NULL;
	e = 0;
 out:
	json_decref(thp);
	json_decref(jwk);
	return e;
}

int
jwt_key_check(const json_t *jwk)
{
	const char *kid = jwt_str(jwk, "kid");
	json_t *thp = NULL;
	int e;

	if (!jwt_key_shape_ok(jwk, 1) || kid == NULL) {
		log_err("jwt: key is not a private EC P-256 ES256 JWK with a "
		    "kid");
		return VIGIL_EINVAL;
	}
	if ((e = jwt_thumbprint(jwk, &thp)) != 0)
		return e;
	if (strcmp(json_string_value(thp), kid) != 0) {
		log_err("jwt: key kid %s is not its thumbprint %s", kid,
		    json_string_value(thp));
		e = VIGIL_EINVAL;
	}
	json_decref(thp);
	return e;
}

int
jwt_key_public(const json_t *jwk, json_t **out)
{
	json_t *pub;

	if ((pub = json_deep_copy(jwk)) == NULL)
		return VIGIL_ENOMEM;
	if (!jose_jwk_pub(NULL, pub) || json_object_get(pub, "d") != NULL) {
		json_decref(pub);
		return VIGIL_ECRYPTO;
	}
	*out = pub;
	return 0;
}

int
jwt_sign_es256(const json_t *jwk, const json_t *claims, char **out)
{
	json_t *jws = NULL, *sig = NULL;
	const char *kid = jwt_str(jwk, "kid"), *p, *s, *pl;
	char *payload = NULL, *tok = NULL;
	size_t n;
	int e = VIGIL_ECRYPTO;

	*out = NULL;
	if (!jwt_key_shape_ok(jwk, 1) || kid == NULL ||
	    strlen(kid) > JWT_KID_MAX || !json_is_object(claims))
		return VIGIL_EINVAL;
	if ((payload = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS)) ==
	    NULL)
		return VIGIL_ENOMEM;
	jws = json_pack("{s:o}", "payload",
	    jose_b64_enc(payload, strlen(payload)));
	sig = json_pack("{s:{s:s, s:s, s:s}}", "protected", "alg", "ES256",
	    "typ", "JWT", "kid", kid);
	if (jws == NULL || sig == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	if (!jose_jws_sig(NULL, jws, sig, jwk)) {
		log_err("jwt: ES256 signing with kid %s failed", kid);
		goto out;
	}
	p = jwt_str(jws, "protected");
	pl = jwt_str(jws, "payload");
	s = jwt_str(jws, "signature");
	if (p == NULL || pl == NULL || s == NULL) {
		log_err("jwt: libjose returned no flattened JWS");
		goto out;
	}
	n = strlen(p) + strlen(pl) + strlen(s) + 3;
	if ((tok = malloc(n)) == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	snprintf(tok, n, "%s.%s.%s", p, pl, s);
	*out = tok;
	tok = NULL;
	e = 0;
 out:
	free(tok);
	free(payload);
	json_decref(jws);
	json_decref(sig);
	return e;
}

static int
jwt_b64url_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* The kid's key in a JWK set, borrowed; NULL if none. */
static const json_t *
jwt_find_key(const json_t *jwks, const char *kid)
{
	const json_t *keys = json_object_get(jwks, "keys"), *k;
	const char *v;
	size_t i;

	json_array_foreach(keys, i, k) {
		v = jwt_str(k, "kid");
		if (v != NULL && strcmp(v, kid) == 0)
			return k;
	}
	return NULL;
}

int
jwt_verify_es256(const char *token, const json_t *jwks, json_t **claims,
    char kid[JWT_KID_MAX + 1])
{
	const char *d1, *d2, *alg, *k;
	const json_t *key;
	json_t *jws = NULL, *hdr = NULL, *pl = NULL;
	size_t len;
	int e = VIGIL_EINVAL;

	*claims = NULL;
	if (kid != NULL)
		kid[0] = '\0';
	len = strnlen(token, JWT_MAX + 1);
	if (len > JWT_MAX) {
		log_err("jwt: token over %u bytes", JWT_MAX);
		return VIGIL_EINVAL;
	}
	if ((d1 = memchr(token, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token))) ==
	    NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) !=
	    NULL || !jwt_b64url_ok(token, (size_t)(d1 - token)) ||
	    !jwt_b64url_ok(d1 + 1, (size_t)(d2 - d1 - 1)) ||
	    !jwt_b64url_ok(d2 + 1, len - (size_t)(d2 + 1 - token))) {
		log_err("jwt: not a compact JWS (three base64url parts)");
		return VIGIL_EINVAL;
	}
	jws = json_pack("{s:s%, s:s%, s:s%}",
	    "protected", token, (size_t)(d1 - token),
	    "payload", d1 + 1, (size_t)(d2 - d1 - 1),
	    "signature", d2 + 1, len - (size_t)(d2 + 1 - token));
	if (jws == NULL)
		return VIGIL_ENOMEM;
	if ((hdr = jose_b64_dec_load(json_object_get(jws, "protected"))) ==
	    NULL || !json_is_object(hdr)) {
		log_err("jwt: header is not base64url JSON");
		goto out;
	}
	alg = jwt_str(hdr, "alg");
	k = jwt_str(hdr, "kid");
	if (alg == NULL || strcmp(alg, "ES256") != 0) {
		log_err("jwt: header alg is %s, not ES256", alg ? alg : "absent");
		goto out;
	}
	if (k == NULL || strlen(k) > JWT_KID_MAX) {
		log_err("jwt: header has no usable kid");
		goto out;
	}
	if (kid != NULL)
		snprintf(kid, JWT_KID_MAX + 1, "%s", k);
	if ((key = jwt_find_key(jwks, k)) == NULL) {
		log_err("jwt: kid %s is not in the key set", k);
		e = VIGIL_ENOTFOUND;
		goto out;
	}
	if (!jwt_key_shape_ok(key, 0)) {
		log_err("jwt: key %s is not an EC P-256 key", k);
		goto out;
	}
	if (!jose_jws_ver(NULL, jws, NULL, key, false)) {
		log_err("jwt: ES256 signature does not verify with kid %s", k);
		e = VIGIL_ECRYPTO;
		goto out;
	}
	if ((pl = jose_b64_dec_load(json_object_get(jws, "payload"))) ==
	    NULL || !json_is_object(pl)) {
		log_err("jwt: payload is not a JSON object");
		json_decref(pl);
		pl = NULL;
		goto out;
	}
	*claims = pl;
	e = 0;
 out:
	json_decref(hdr);
	json_decref(jws);
	return e;
}
