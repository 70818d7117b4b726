/* A SOFTWARE STAND-IN FOR A TPM'S QUOTE. It is NOT a TPM and proves nothing
 * about any platform: the key lives in this process's memory. It exists only
 * for unit tests and for bench/vigil-loadgen, which simulates thousands of
 * agents (one swtpm cannot sign thousands of quotes per second). It holds an
 * ECC NIST P-256 key in OpenSSL, presents it as a TPM2B_PUBLIC with the
 * attributes tpm_ak_check() wants (fixedTPM, fixedParent,
 * sensitiveDataOrigin, userWithAuth, restricted, sign; ECDSA/SHA-256,
 * nameAlg SHA-256), and produces TPM-format quotes: a marshaled TPM2B_ATTEST
 * (TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE) and a marshaled TPMT_SIGNATURE,
 * which quote_parse() and quote_verify_sig() accept. Its qualifiedSigner
 * is the AK's name (a TPM puts the AK's qualified name there) and its
 * firmwareVersion reads "VIGILSWQ", so a software quote is recognisable
 * to anyone who looks. Tests that want a bad
 * quote edit the returned bytes. Never use it where real evidence is due. */
#ifndef VIGIL_SWQUOTE_H
#define VIGIL_SWQUOTE_H

#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "buf.h"
#include "pcrs.h"

struct swquote;

/* A new software AK (fresh random P-256 key). Free with swquote_free. */
int swquote_new(struct swquote **out);
void swquote_free(struct swquote *sq);
/* The key as a TPM public area (marshal it with tpm_public_marshal). */
int swquote_ak_public(const struct swquote *sq, TPM2B_PUBLIC *out);
/* A quote over the SHA-256 PCRs in mask (vals must hold them) with
 * extraData = nonce (at most 64 bytes) and the given clock information.
 * Appends the marshaled TPM2B_ATTEST to attest_out and the marshaled
 * TPMT_SIGNATURE (ECDSA, SHA-256) to sig_out. Safe to call from several
 * threads on distinct swquote objects. */
int swquote_make(struct swquote *sq, const uint8_t *nonce, size_t nonce_len,
    const struct pcrs *vals, uint32_t mask, uint64_t clock,
    uint32_t reset_count, uint32_t restart_count, int safe,
    struct buf *attest_out, struct buf *sig_out);

#endif
