/* TPM2_MakeCredential in software (TPM 2.0 Part 1, 24.4 and Annex B/C):
 * protects secret for the TPM holding ek so that only TPM2_ActivateCredential
 * with the object named obj_name can recover it. The name algorithm and the
 * symmetric parameters are taken from ek's public area; RSA EKs use
 * OAEP ("IDENTITY"), ECC EKs an ephemeral ECDH with KDFe. */
#ifndef VIGIL_MAKECRED_H
#define VIGIL_MAKECRED_H

#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

int makecred(const TPM2B_PUBLIC *ek, const TPM2B_NAME *obj_name,
    const uint8_t *secret, size_t secret_len, TPM2B_ID_OBJECT *cred_out,
    TPM2B_ENCRYPTED_SECRET *secret_out);

/* Marshals both outputs for the wire (TPM2B encodings). */
int makecred_marshal(const TPM2B_ID_OBJECT *cred,
    const TPM2B_ENCRYPTED_SECRET *sec, uint8_t *cred_buf, size_t cred_cap,
    size_t *cred_len, uint8_t *sec_buf, size_t sec_cap, size_t *sec_len);

#endif
