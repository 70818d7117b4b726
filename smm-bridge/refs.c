/* Signed reference sets (format in refs.h). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "err.h"
#include "log.h"
#include "mm.h"
#include "refs.h"

static int
refs_bad(const char *what)
{
	log_warn("refs: reference set refused: %s", what);
	return VIGIL_EINVAL;
}

void
refs_free(struct refs *r)
{
	if (r == NULL)
		return;
	free(r->r);
	free(r);
}

static int
refs_str(json_t *o, const char *key, char *dst, size_t max)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	size_t n, i;

	if (!json_is_string(v))
		return refs_bad("region without a string target or region");
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > max)
		return refs_bad("target or region empty or too long");
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return refs_bad("target or region not printable ASCII");
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

static int
refs_region_parse(json_t *o, struct refs_region *e)
{
	json_t *roots, *v;
	const char *key;
	size_t i;

	if (!json_is_object(o))
		return refs_bad("region is not an object");
	json_object_foreach(o, key, v)
		if (strcmp(key, "target") != 0 && strcmp(key, "region") != 0 &&
		    strcmp(key, "roots") != 0)
			return refs_bad("unknown member in a region");
	if (refs_str(o, "target", e->target, SMMLOG_MAX_NAME) != 0 ||
	    refs_str(o, "region", e->region, SMMLOG_MAX_REGION) != 0)
		return VIGIL_EINVAL;
	roots = json_object_get(o, "roots");
	if (!json_is_array(roots) || json_array_size(roots) == 0 ||
	    json_array_size(roots) > REFS_MAX_ROOTS)
		return refs_bad("roots is not an array of 1..8");
	json_array_foreach(roots, i, v) {
		if (!json_is_string(v) || json_string_length(v) != 64 ||
		    hex_decode(json_string_value(v), e->roots[i],
		    SMMLOG_HASH_LEN) != 0)
			return refs_bad("a root is not 64 hex digits");
	}
	e->n_roots = json_array_size(roots);
	return 0;
}

int
refs_parse(const uint8_t *json, size_t len, struct refs **out)
{
	struct refs *r = NULL;
	json_t *root = NULL, *ver, *regs, *v;
	json_error_t jerr;
	const char *key;
	unsigned int dl = 0;
	size_t i;
	int e = VIGIL_EINVAL;

	*out = NULL;
	if (len == 0 || len > MM_MAX_REFS)
		return refs_bad("set empty or over the size limit");
	if ((root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL || !json_is_object(root)) {
		log_warn("refs: reference set is not a JSON object: %s",
		    jerr.text);
		goto out;
	}
	json_object_foreach(root, key, v)
		if (strcmp(key, "version") != 0 && strcmp(key, "regions") != 0) {
			refs_bad("unknown top-level member");
			goto out;
		}
	ver = json_object_get(root, "version");
	regs = json_object_get(root, "regions");
	if (!json_is_integer(ver) || json_integer_value(ver) < 0) {
		refs_bad("version is not a non-negative integer");
		goto out;
	}
	if (!json_is_array(regs) || json_array_size(regs) > REFS_MAX_REGIONS) {
		refs_bad("regions is not an array of at most 256");
		goto out;
	}
	e = VIGIL_ENOMEM;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->r = calloc(json_array_size(regs) + 1, sizeof(*r->r))) == NULL)
		goto out;
	r->version = (uint64_t)json_integer_value(ver);
	e = VIGIL_EINVAL;
	json_array_foreach(regs, i, v)
		if (refs_region_parse(v, &r->r[i]) != 0)
			goto out;
	r->n = json_array_size(regs);
	if (EVP_Digest(json, len, r->digest, &dl, EVP_sha256(), NULL) != 1) {
		e = VIGIL_ECRYPTO;
		goto out;
	}
	*out = r;
	r = NULL;
	e = 0;
 out:
	json_decref(root);
	refs_free(r);
	return e;
}

int
refs_verify_parse(const uint8_t *json, size_t len, const uint8_t *sig,
    size_t sig_len, EVP_PKEY *verifier_pub, struct refs **out)
{
	EVP_MD_CTX *c = NULL;
	int e = VIGIL_EVERIFY;

	*out = NULL;
	if (verifier_pub == NULL) {
		log_warn("refs: no verifier key configured: signed sets "
		    "cannot be accepted");
		return VIGIL_ECONFIG;
	}
	if ((c = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL,
	    verifier_pub) != 1 ||
	    EVP_DigestVerify(c, sig, sig_len, json, len) != 1) {
		log_warn("refs: reference set signature does not verify with "
		    "the verifier's key");
		goto out;
	}
	e = refs_parse(json, len, out);
	if (e == 0 && (*out)->version == 0) {
		refs_bad("a signed set must have version >= 1");
		refs_free(*out);
		*out = NULL;
		e = VIGIL_EINVAL;
	}
 out:
	EVP_MD_CTX_free(c);
	return e;
}

int
refs_lookup(const struct refs *r, const char *target, const char *region,
    const struct refs_region **out)
{
	size_t i;

	for (i = 0; r != NULL && i < r->n; i++)
		if (strcmp(r->r[i].target, target) == 0 &&
		    strcmp(r->r[i].region, region) == 0) {
			*out = &r->r[i];
			return 0;
		}
	return VIGIL_ENOTFOUND;
}

int
refs_match(const struct refs_region *e, const uint8_t root[SMMLOG_HASH_LEN])
{
	size_t i;

	for (i = 0; i < e->n_roots; i++)
		if (memcmp(e->roots[i], root, SMMLOG_HASH_LEN) == 0)
			return 1;
	return 0;
}

int
refs_sign(EVP_PKEY *key, const uint8_t *json, size_t len, struct buf *sig)
{
	EVP_MD_CTX *c = NULL;
	uint8_t s[128];
	size_t sl = sizeof(s);
	int e = VIGIL_ECRYPTO;

	if ((c = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(c, s, &sl, json, len) == 1)
		e = buf_add(sig, s, sl);
	EVP_MD_CTX_free(c);
	return e;
}
