/* Signed reference sets for vigil-smmd: which Merkle roots (smmlog.h) each
 * measured region may have. Made and signed by the verifier, carried by
 * the untrusted agent (push reply → SET_REFS, mm.h), accepted by
 * vigil-smmd only with a valid signature by the verifier key named in its
 * configuration, and only if not older than the set it holds.
 *
 * The set is JSON (UTF-8, at most MM_MAX_REFS bytes):
 *
 *   {"version": 7,
 *    "regions": [{"target": "hv", "region": "/usr/sbin/hv@0x1000",
 *                 "roots": ["<64 hex>", ...]}, ...]}
 *
 * version: integer >= 1, increasing with every change. target: the target
 * name in vigil-smmd's config; region: as in the log (smmlog.h); roots:
 * 1..REFS_MAX_ROOTS accepted values. Unknown members are refused.
 * The signature: ECDSA P-256 with SHA-256 over exactly the JSON bytes as
 * sent, DER encoded ("openssl dgst -sha256 -sign key.pem" makes one). */
#ifndef VIGIL_SMM_REFS_H
#define VIGIL_SMM_REFS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "buf.h"
#include "smmlog.h"

#define REFS_MAX_REGIONS	256u
#define REFS_MAX_ROOTS		8u

struct refs_region {
	char target[SMMLOG_MAX_NAME + 1];
	char region[SMMLOG_MAX_REGION + 1];
	size_t n_roots;
	uint8_t roots[REFS_MAX_ROOTS][SMMLOG_HASH_LEN];
};

struct refs {
	uint64_t version;	/* 0 for a first-boot baseline */
	uint8_t digest[SMMLOG_HASH_LEN];	/* SHA-256 of the JSON */
	size_t n;
	struct refs_region *r;
};

/* Verifies sig over json with verifier_pub (VIGIL_EVERIFY if it does not
 * verify), then parses (VIGIL_EINVAL naming the bad member). Caller frees
 * *out with refs_free. */
int refs_verify_parse(const uint8_t *json, size_t len, const uint8_t *sig,
    size_t sig_len, EVP_PKEY *verifier_pub, struct refs **out);
/* Parses without a signature (the baseline file vigil-smmd writes itself). */
int refs_parse(const uint8_t *json, size_t len, struct refs **out);
void refs_free(struct refs *r);
/* The entry for (target, region), or VIGIL_ENOTFOUND. */
int refs_lookup(const struct refs *r, const char *target, const char *region,
    const struct refs_region **out);
/* Does root equal one of e's roots? */
int refs_match(const struct refs_region *e, const uint8_t root[SMMLOG_HASH_LEN]);
/* The verifier's side: DER ECDSA signature over json, appended to sig. */
int refs_sign(EVP_PKEY *key, const uint8_t *json, size_t len, struct buf *sig);

#endif
