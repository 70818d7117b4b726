/* The node's TPM through tpm2-tss ESAPI. A connection is opened for one
 * operation and closed after it (swtpm serves one client at a time and the
 * node's other services and tpm2-tools share it). tpm_open flushes every
 * transient object and session it finds first: a client that died left
 * them, and nobody else is on the connection. Every tpm2-tss failure is
 * logged with the call and Tss2_RC_Decode() and returned as VIGIL_ETPM. */
#ifndef VIGIL_AGENT_TPM_H
#define VIGIL_AGENT_TPM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pcrs.h"

/* EK persistent handles and certificate NV indices (TCG EK Credential
 * Profile 2.2.1.5 for the indices; docs/agent.md "EK kinds"). */
#define TPM_HANDLE_EK_RSA	0x81010001u	/* L-1, RSA 2048 */
#define TPM_HANDLE_EK_P256	0x81010002u	/* L-2, ECC NIST P-256 */
#define TPM_HANDLE_EK_ECC	0x81010016u	/* H-3, ECC NIST P-384 */
#define TPM_HANDLE_AK		0x81010010u
#define TPM_NV_EK_CERT_RSA	0x01c00002u
#define TPM_NV_EK_CERT_P256	0x01c0000au
#define TPM_NV_EK_CERT_ECC	0x01c00016u

/* TPM_EK_ECC is the P-384 EK (its name from when it was the only ECC
 * one); the config and --ek call it "p384" or "ecc". */
enum tpm_ek_kind { TPM_EK_RSA = 0, TPM_EK_ECC = 1, TPM_EK_P256 = 2 };

struct tpm;

/* tcti: a tpm2-tss TCTI config string ("swtpm:host=127.0.0.1,port=2321",
 * "device:/dev/tpmrm0"). */
int tpm_open(const char *tcti, struct tpm **out);
void tpm_close(struct tpm *t);

/* Parses "rsa", "p256", "p384" ("ecc" is p384, as it always was). */
int tpm_ek_kind_parse(const char *s, enum tpm_ek_kind *out);
/* "rsa", "p256", "p384". */
const char *tpm_ek_kind_name(enum tpm_ek_kind kind);
/* The kind's persistent handle and certificate NV index. */
uint32_t tpm_ek_handle(enum tpm_ek_kind kind);
uint32_t tpm_ek_cert_index(enum tpm_ek_kind kind);

/* The EK at its persistent handle (marshaled TPM2B_PUBLIC). When the
 * handle is empty -- TPMs ship with the EK certificate in NV and the EK
 * itself not persisted -- the EK is created from its TCG EK Credential
 * Profile template (L-1, L-2 or H-3; the same seed and template give the
 * same key the certificate certifies) and persisted there. */
int tpm_ek_public(struct tpm *t, enum tpm_ek_kind kind, struct buf *ek_pub);
/* The EK's DER certificate from its NV index; VIGIL_ENOTFOUND when the
 * index is not defined (the TPM has none: docs/agent.md ek_cert_file). */
int tpm_ek_cert(struct tpm *t, enum tpm_ek_kind kind, struct buf *ek_cert);
/* tpm_ek_public and tpm_ek_cert. */
int tpm_ek_read(struct tpm *t, enum tpm_ek_kind kind, struct buf *ek_pub,
    struct buf *ek_cert);
/* Returns the AK at TPM_HANDLE_AK (marshaled TPM2B_PUBLIC); if the handle
 * is empty, creates an ECC P-256 restricted signing key (ECDSA/SHA-256)
 * under the EK in the endorsement hierarchy and persists it there. An AK
 * under the other EK kind is evicted and recreated.
 * The rule, with nothing stored outside the TPM: the object at
 * TPM_HANDLE_AK is kept when it has exactly the AK's type, nameAlg,
 * attributes (fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|
 * restricted|sign), curve and scheme, and its qualified name (from
 * TPM2_ReadPublic) equals SHA-256(QN(EK) || Name(AK)), i.e. its parent is
 * this EK (TPM 2.0 Part 1, 16). Anything else there is evicted and a new
 * AK created: switching --ek therefore changes the AK (and agent identity
 * must be re-enrolled). */
int tpm_ak_ensure(struct tpm *t, enum tpm_ek_kind kind, struct buf *ak_pub);
/* TPM2_ActivateCredential of the AK under the EK (PolicySecret of the
 * endorsement hierarchy, in a SHA-256 session for the RSA and P-256 EKs
 * and SHA-384 for the ECC P-384 EK; for EKs whose authPolicy is the EK Credential
 * Profile's PolicyB = PolicyOR(PolicySecret, PolicyC) -- swtpm's P-384 EK
 * is one -- a PolicyOR follows). cred and enc_secret are marshaled
 * TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET, each exactly one structure
 * (VIGIL_EINVAL otherwise); a credential the TPM refuses is VIGIL_ETPM. */
int tpm_activate(struct tpm *t, enum tpm_ek_kind kind, const uint8_t *cred,
    size_t cred_len, const uint8_t *enc_secret, size_t enc_len,
    struct buf *secret);
/* TPM2_Quote by the AK over the SHA-256 PCRs in mask, extraData = nonce
 * (at most 64 bytes). attest: marshaled TPM2B_ATTEST; sig: marshaled
 * TPMT_SIGNATURE; vals: the PCR values read in the same session, checked
 * against the quote's pcrDigest (re-read if a PCR changed in between). */
int tpm_quote(struct tpm *t, const uint8_t *nonce, size_t nonce_len,
    uint32_t mask, struct buf *attest, struct buf *sig, struct pcrs *vals);
int tpm_pcr_read(struct tpm *t, uint32_t mask, struct pcrs *vals);
/* Extends one PCR's SHA-256 bank. */
int tpm_pcr_extend(struct tpm *t, uint32_t pcr,
    const uint8_t digest[SHA256_LEN]);
/* One event of a firmware log into every bank it has a digest for (sha1,
 * sha256: NULL when the event has none), in one TPM2_PCR_Extend. */
int tpm_pcr_extend_banks(struct tpm *t, uint32_t pcr, const uint8_t *sha1,
    const uint8_t *sha256);
/* resetCount / restartCount / clock from TPM2_ReadClock. */
int tpm_read_clock(struct tpm *t, uint64_t *clock, uint32_t *reset_count,
    uint32_t *restart_count);

#endif
