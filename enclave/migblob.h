/* The migration blob: a vTPM's swtpm state encrypted by the source node to
 * the target MigE's transport key (ECDH P-256, HKDF-SHA256, AES-256-GCM).
 * The verifier relays it in push replies and never sees it in clear.
 *
 * Plaintext ("state", also what PSE_MIG_IMPORT returns): the vTPM's swtpm
 * state files,
 *   u16be n (1 .. MIGBLOB_MAX_FILES) ||
 *   n × (u16be name_len || name ([a-z0-9._-], 1 .. 64, no leading '.')
 *        || u32be len || contents)
 *
 * Blob:
 *   u32be magic MIGBLOB_MAGIC ("VMIG"), u16be version 1
 *   u16be len || vm_id            \
 *   u16be len || source node id    } the associated data (AD) fields
 *   target key fingerprint (32)   /  SHA-256(target transport SPKI DER)
 *   ephemeral public key (65, uncompressed P-256 point)
 *   nonce (12)
 *   u32be ct_len || ciphertext (ct_len bytes) || GCM tag (16)
 *   nothing after.
 *
 * key = HKDF-SHA256(IKM = ECDH(ephemeral, target) x-coordinate,
 *                   salt = ephemeral public (65) || fingerprint (32),
 *                   info = "vigil-migblob-v1 aes-256-gcm", 32 bytes)
 * AD  = "vigil-migblob-v1" || u16be len || vm_id || u16be len || source ||
 *       fingerprint
 * so a blob opened for another VM, from another source or at another
 * target fails authentication, and the header cannot be edited. */
#ifndef VIGIL_MIGBLOB_H
#define VIGIL_MIGBLOB_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "buf.h"

#define MIGBLOB_MAGIC		0x564d4947u	/* "VMIG" */
#define MIGBLOB_VERSION		1u
#define MIGBLOB_MAX_ID		64u
#define MIGBLOB_MAX_FILES	16u
#define MIGBLOB_MAX_NAME	64u
#define MIGBLOB_MAX_STATE	(1536u * 1024)	/* plaintext */

/* One state file; contents owned by the struct migstate. */
struct migfile {
	char name[MIGBLOB_MAX_NAME + 1];
	struct buf data;
};

struct migstate {
	size_t n;
	struct migfile f[MIGBLOB_MAX_FILES];
};

void migstate_free(struct migstate *s);	/* buffers only; NULL no-op */
/* Adds a file (name checked as above; VIGIL_EINVAL otherwise). */
int migstate_add(struct migstate *s, const char *name, const uint8_t *p,
    size_t len);
/* Plaintext encoding above; parse is strict (hostile input) and copies. */
int migstate_marshal(const struct migstate *s, struct buf *out);
int migstate_parse(const uint8_t *p, size_t len, struct migstate *out);

/* SHA-256 of the DER SubjectPublicKeyInfo of a public key. */
int migblob_fingerprint(EVP_PKEY *pub, uint8_t out[32]);

/* Encrypts state (the plaintext encoding, at most MIGBLOB_MAX_STATE
 * bytes) to target_pub (an EC P-256 public key) for VM vm_id leaving node
 * source; appends the blob to out. */
int migblob_seal(EVP_PKEY *target_pub, const char *vm_id,
    const char *source, const uint8_t *state, size_t state_len,
    struct buf *out);

/* Opens a blob with the MigE's transport private key. The blob's vm_id
 * must equal vm_id and, when source is not NULL, its source must equal
 * source; its fingerprint must be the key's. VIGIL_EVERIFY (logged, with
 * *why when not NULL) for a mismatch or a failed tag, VIGIL_ETRUNC/
 * VIGIL_EINVAL/VIGIL_ETOOBIG for a malformed blob. The plaintext is
 * appended to state_out only when it authenticated. */
int migblob_open(EVP_PKEY *transport_key, const uint8_t *blob, size_t len,
    const char *vm_id, const char *source, struct buf *state_out,
    const char **why);

#endif
