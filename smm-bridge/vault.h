/* vigil-smmd's key vault: tenant keys unwrapped with the key-wrapping key
 * and kept in memory; on disk only as the wrapped blobs they came in
 * (state_dir/keys/TENANT~ID.vgkw; '~' is in neither name's alphabet),
 * which only the sealed wrapping key opens. A key is named by (tenant,
 * key id), both from the blob's authenticated header: two tenants may
 * hold the same key id, and neither's requests reach the other's key. */
#ifndef VIGIL_SMM_VAULT_H
#define VIGIL_SMM_VAULT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "buf.h"
#include "keywrap.h"

#define VAULT_MAX_KEYS 256u

struct vault;

/* Loads and unwraps every stored blob (one that does not unwrap is
 * logged and skipped). wrap_key is borrowed: it must outlive the vault. */
int vault_open(const char *state_dir, EVP_PKEY *wrap_key, struct vault **out);
void vault_close(struct vault *v);	/* wipes the keys; NULL-safe */

/* Unwraps blob, stores it and keeps the key. The same blob again is
 * accepted (idempotent); another key under an existing (tenant, id) is
 * VIGIL_EEXIST. tenant and id get the key's. */
int vault_provision(struct vault *v, const uint8_t *blob, size_t len,
    char tenant[KEYWRAP_MAX_ID + 1], char id[KEYWRAP_MAX_ID + 1]);

/* The policy decision for tenant's key id as an MM status: MM_ST_OK,
 * MM_ST_NOT_FOUND (no such (tenant, id)), MM_ST_DENIED (uid not an
 * allowed caller), MM_ST_OP_REFUSED. */
uint32_t vault_check(struct vault *v, const char *tenant, const char *id,
    uint8_t op, uid_t uid);

/* Performs op with tenant's key id on data (after vault_check said
 * MM_ST_OK):
 *   MM_OP_SIGN    ECDSA P-256 over SHA-256(data), DER signature
 *   MM_OP_HMAC    HMAC-SHA256(secret, data), 32 bytes
 *   MM_OP_UNWRAP  AES-256 key unwrap with padding (RFC 5649) of data
 *                 (what `openssl enc -id-aes256-wrap-pad -iv A65959A6`
 *                 makes), the plaintext key
 * The result is appended to out; VIGIL_ECRYPTO if data does not unwrap. */
int vault_use(struct vault *v, const char *tenant, const char *id,
    uint8_t op,
    const uint8_t *data, size_t len, struct buf *out);

#endif
