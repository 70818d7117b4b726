/* The node's EK certificate: from the TPM's NV index for the EK kind, or,
 * for a TPM that ships without one in NV (some firmware TPMs: the vendor
 * serves it online instead), from the file the operator gives
 * ([agent] ek_cert_file, PEM or DER). docs/agent.md "EK certificate". */
#ifndef VIGIL_AGENT_EKCERT_H
#define VIGIL_AGENT_EKCERT_H

#include "buf.h"
#include "tpm.h"

/* Largest EK certificate file read. */
#define EKCERT_FILE_MAX 16384

/* Reads the one X.509 certificate in path (PEM or DER) into der as DER.
 * VIGIL_ENOTFOUND when the file is missing, VIGIL_EINVAL (logged, naming
 * the file) when it is not exactly one certificate. */
int ekcert_file_read(const char *path, struct buf *der);

/* The EK certificate for ek_pub (a marshaled TPM2B_PUBLIC of kind): the
 * NV index's when it is defined (a given file is then ignored, with a
 * warning), else the file's. VIGIL_ENOTFOUND, logged with what to do,
 * when neither: the caller registers without one and the verifier refuses
 * it. A file certificate that does not certify this EK is logged; the
 * verifier refuses it too. */
int ekcert_get(struct tpm *t, enum tpm_ek_kind kind, const char *file,
    const struct buf *ek_pub, struct buf *der);

#endif
