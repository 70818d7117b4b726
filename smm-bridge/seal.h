/* vigil-smmd's own keys (log-signing and key-wrapping, both ECDSA/ECDH
 * P-256) and their sealing by the node's TPM (DESIGN.md "Sealed keys and
 * the cap"). Own ESAPI code: a connection per operation, transients and
 * sessions flushed first and after.
 *
 * Sealing: the two 32-byte private scalars (log-signing first) are the
 * data of one TPM2_Create'd KEYEDHASH object under an ECC P-256 storage
 * primary in the owner hierarchy (recreated from its fixed template each
 * time, never persisted), attributes fixedTPM|fixedParent (no
 * userWithAuth: only the policy opens it), authPolicy =
 *   H(zeros32 || u32be TPM_CC_PolicyPCR (0x17F) || TPML_PCR_SELECTION
 *     {1 x (sha256, 3, ff 08 00)} || H(PCR0 || .. || PCR7 || PCR11))
 * over the PREDICTED values given in a file (seal_pcrs_parse). Unsealing
 * runs TPM2_PolicyPCR in a policy session and TPM2_Unseal: it works only
 * while PCRs 0-7 and 11 hold exactly the predicted values, i.e. after this
 * boot's measurements and before the cap of PCR 11.
 *
 * Files in the state directory:
 *   log-signing.pub.der, key-wrapping.pub.der  DER SubjectPublicKeyInfo
 *                                  (the PCR 2 event data)
 *   keys.pending   the two scalars in clear, mode 0600, between
 *                  `init` and `seal` (or inside `reseal`) only
 *   keys.sealed    u16le len + TPM2B_PUBLIC, u16le len + TPM2B_PRIVATE
 *                  (marshaled), of the sealed object */
#ifndef VIGIL_SMM_SEAL_H
#define VIGIL_SMM_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "buf.h"
#include "pcrs.h"

#define SEAL_PCR_MASK		0x08ffu	/* PCRs 0-7 and 11 */
#define SEAL_FILE_LOG_PUB	"log-signing.pub.der"
#define SEAL_FILE_WRAP_PUB	"key-wrapping.pub.der"
#define SEAL_FILE_PENDING	"keys.pending"
#define SEAL_FILE_SEALED	"keys.sealed"

struct seal_keys {
	EVP_PKEY *log_key;	/* ECDSA P-256, signs log heads */
	EVP_PKEY *wrap_key;	/* ECDH P-256, unwraps tenant keys */
};

void seal_keys_free(struct seal_keys *k);	/* frees both, NULL-safe */

/* The predicted-PCR file: one line per PCR "N HEX" (N decimal, HEX 64
 * hex digits of the SHA-256 bank value), '#' comments and blank lines
 * allowed; PCRs 0-7 and 11 must all be present, others are refused. */
int seal_pcrs_parse(const char *path, struct pcrs *out);
/* The policy digest above for pred (mask SEAL_PCR_MASK). */
int seal_policy_digest(const struct pcrs *pred, uint8_t out[SHA256_LEN]);

/* `vigil-smmd init`: generates both keys unless state already has them
 * (pending or sealed), writes the public key files and keys.pending. */
int seal_init(const char *state_dir);
/* `vigil-smmd seal`: seals keys.pending to the predicted values and
 * removes keys.pending (its bytes overwritten first). */
int seal_seal(const char *state_dir, const char *tcti,
    const struct pcrs *pred);
/* Seals the keys again to a new prediction (e.g. the next boot measures a
 * new firmware): unseals them (so only while this boot's PCRs still hold
 * the old prediction, i.e. before the cap) and seals them to pred,
 * replacing keys.sealed. */
int seal_reseal(const char *state_dir, const char *tcti,
    const struct pcrs *pred);
/* At vigil-smmd's start: unseals keys.sealed (VIGIL_ETPM when the PCRs
 * differ from the prediction, e.g. after the cap) and checks the keys
 * against the public key files (VIGIL_EVERIFY if they differ). */
int seal_unseal(const char *state_dir, const char *tcti,
    struct seal_keys *out);

/* DER SubjectPublicKeyInfo of a key, appended to out. */
int seal_spki(EVP_PKEY *key, struct buf *out);

#endif
