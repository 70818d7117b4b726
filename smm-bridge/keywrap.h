/* Tenant keys wrapped to a node's SMM key-wrapping public key (P-256).
 * The `vigil` CLI wraps (keywrap_wrap) for a tenant, the verifier reads
 * the clear header (keywrap_peek) to file it, vigil-smmd unwraps
 * (keywrap_unwrap). Format and rationale: docs/smm.md.
 *
 * A wrapped key, integers little-endian:
 *
 *   off  field
 *     0  "VGKW"            magic (4 bytes)
 *     4  u8 version        KEYWRAP_VERSION (1)
 *     5  u8[65] eph        ephemeral P-256 public key, uncompressed point
 *    70  u8 idlen, key id  1..64 bytes of [A-Za-z0-9._-]
 *        u8 tlen, tenant   1..64 bytes of [A-Za-z0-9._-]
 *        u8 ops            bit (1 << MM_OP_*) per allowed operation
 *        u8 n, n x u32 uid allowed callers (1..KEYWRAP_MAX_CALLERS)
 *        u8[32] recipient  SHA-256 of the recipient key-wrapping public
 *                          key's DER SubjectPublicKeyInfo
 *        u8 type           KEYWRAP_TYPE_*
 *        u8[12] iv         AES-GCM nonce (random)
 *        u16 ct_len, ct    the key material encrypted (ct_len =
 *                          material length, 1..KEYWRAP_MAX_MATERIAL)
 *        u8[16] tag        AES-GCM tag
 *
 * Associated data = all bytes from offset 0 up to and including "type"
 * (so the key id, tenant, allowed operations, allowed callers and the
 * recipient fingerprint, plus magic, version, ephemeral key and type):
 * changing any of them makes unwrapping fail.
 * Z = ECDH(eph, recipient) (32-byte x coordinate);
 * AES key = HKDF-SHA256(IKM = Z, salt = eph || recipient fingerprint,
 *                       info = "vigil-keywrap-v1", L = 32).
 *
 * Key material by type:
 *   EC_P256: the 32-byte big-endian private scalar; allows MM_OP_SIGN.
 *   SECRET:  16..64 raw bytes; allows MM_OP_HMAC and, for exactly 32
 *            bytes, MM_OP_UNWRAP (AES-256 key wrap with padding). */
#ifndef VIGIL_SMM_KEYWRAP_H
#define VIGIL_SMM_KEYWRAP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "buf.h"

#define KEYWRAP_VERSION		1
#define KEYWRAP_MAGIC		"VGKW"
#define KEYWRAP_MAX_ID		64u
#define KEYWRAP_MAX_CALLERS	16u
#define KEYWRAP_MAX_MATERIAL	64u
#define KEYWRAP_FP_LEN		32u
#define KEYWRAP_INFO		"vigil-keywrap-v1"

enum keywrap_type {
	KEYWRAP_TYPE_EC_P256 = 1,
	KEYWRAP_TYPE_SECRET = 2,
};

/* What a key may be used for and by whom. Strings are NUL-terminated. */
struct keywrap_policy {
	char key_id[KEYWRAP_MAX_ID + 1];
	char tenant[KEYWRAP_MAX_ID + 1];
	uint8_t ops;				/* 1 << MM_OP_* */
	uint8_t n_callers;
	uint32_t callers[KEYWRAP_MAX_CALLERS];
	uint8_t recipient_fp[KEYWRAP_FP_LEN];	/* set by wrap / parse */
	uint8_t type;				/* KEYWRAP_TYPE_* */
};

struct keywrap_key {
	struct keywrap_policy pol;
	uint8_t material[KEYWRAP_MAX_MATERIAL];
	size_t material_len;
};

/* SHA-256 of pub's DER SubjectPublicKeyInfo. */
int keywrap_fingerprint(EVP_PKEY *pub, uint8_t fp[KEYWRAP_FP_LEN]);

/* Wraps key (policy and material; pol.recipient_fp is ignored and
 * computed from recipient) to recipient (a P-256 public key) and appends
 * the blob to out. VIGIL_EINVAL when the policy or material break the
 * rules above (e.g. an op the type does not allow, no callers). */
int keywrap_wrap(EVP_PKEY *recipient, const struct keywrap_key *key,
    struct buf *out);

/* Parses the clear part of a blob without decrypting (the verifier, to
 * file a key by id and tenant). VIGIL_EINVAL / VIGIL_ETRUNC on a malformed
 * blob, with the check logged. */
int keywrap_peek(const uint8_t *blob, size_t len, struct keywrap_policy *out);

/* Unwraps a blob with the recipient's private key: the blob's recipient
 * fingerprint must be this key's (VIGIL_EDENIED otherwise), and the GCM
 * tag must verify over the associated data (VIGIL_ECRYPTO otherwise: a
 * changed policy or a different key). *out is wiped on failure; the
 * caller should OPENSSL_cleanse it after use. */
int keywrap_unwrap(EVP_PKEY *recipient, const uint8_t *blob, size_t len,
    struct keywrap_key *out);

/* Parses "sign,hmac,unwrap" (any non-empty subset) into policy bits. */
int keywrap_ops_parse(const char *s, uint8_t *ops);

/* P-256 keys from and to their 32-byte big-endian private scalar (the
 * EC_P256 key material; also how vigil-smmd seals its own keys). */
int keywrap_ec_from_scalar(const uint8_t d[32], EVP_PKEY **out);
int keywrap_ec_scalar(EVP_PKEY *key, uint8_t d[32]);

#endif
