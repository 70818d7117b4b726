/* Shared between agent/tpm.c (connection, PCRs, quote, clock) and
 * agent/tpm_keys.c (EK, AK, policy sessions, activation). Not part of the
 * agent's interface: only those two files include it. */
#ifndef VIGIL_AGENT_TPM_INTERNAL_H
#define VIGIL_AGENT_TPM_INTERNAL_H

#include <stdint.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tcti.h>

#include "log.h"

struct tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
};

#define TPM_FAIL(call, rc) \
	log_err("tpm: %s failed: %s", (call), Tss2_RC_Decode(rc))

/* Closes the ESYS_TR (not the TPM object) and sets it to ESYS_TR_NONE. */
void tpm_tr_close(struct tpm *t, ESYS_TR *tr);
/* Flushes a transient object or session and sets *tr to ESYS_TR_NONE;
 * a no-op for ESYS_TR_NONE. */
void tpm_flush(struct tpm *t, ESYS_TR *tr);
/* Is the persistent or NV handle h defined? */
int tpm_handle_exists(struct tpm *t, uint32_t h, int *exists);
/* An ESYS_TR for persistent/NV handle h (what names it in logs);
 * VIGIL_ENOTFOUND when h is not defined. Close with tpm_tr_close. */
int tpm_tr_from(struct tpm *t, uint32_t h, const char *what, ESYS_TR *tr);

#endif
