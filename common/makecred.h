/* TPM2_MakeCredential in software (TPM 2.0 Part 1, 24.4 and Annex B/C):
 * protects secret for the TPM holding ek so that only TPM2_ActivateCredential
 * with the object named obj_name can recover it. The name algorithm and the
 * symmetric parameters are taken from ek's public area; RSA EKs use
 * OAEP ("IDENTITY"), ECC EKs an ephemeral ECDH with KDFe. */
#ifndef VIGIL_MAKECRED_H
#define VIGIL_MAKECRED_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

/* secret_len: 1 .. digest size of the EK's nameAlg. The EK's symmetric
 * definition must be AES-128 or AES-256 in CFB mode and its nameAlg SHA-1,
 * SHA-256, SHA-384 or SHA-512 (VIGIL_EUNSUPP otherwise); ECC EKs on NIST
 * P-256 or P-384. */
int makecred(const TPM2B_PUBLIC *ek, const TPM2B_NAME *obj_name,
    const uint8_t *secret, size_t secret_len, TPM2B_ID_OBJECT *cred_out,
    TPM2B_ENCRYPTED_SECRET *secret_out);

/* Marshals both outputs for the wire (TPM2B encodings). */
int makecred_marshal(const TPM2B_ID_OBJECT *cred,
    const TPM2B_ENCRYPTED_SECRET *sec, uint8_t *cred_buf, size_t cred_cap,
    size_t *cred_len, uint8_t *sec_buf, size_t sec_cap, size_t *sec_len);

/* TPM2_ActivateCredential in software, for software EKs (common/swek.h:
 * tests and bench/vigil-loadgen only; a real agent asks its TPM). ek_key
 * holds the EK's private key; cred and enc_secret are the marshaled
 * TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET (each exactly one structure,
 * VIGIL_EINVAL otherwise). *secret_len: capacity of secret in, length of
 * the recovered secret out. VIGIL_EVERIFY when the integrity HMAC does not
 * match (a credential for another object name or another EK). */
int makecred_activate_sw(const TPM2B_PUBLIC *ek, EVP_PKEY *ek_key,
    const TPM2B_NAME *obj_name, const uint8_t *cred, size_t cred_len,
    const uint8_t *enc_secret, size_t enc_len, uint8_t *secret,
    size_t *secret_len);

#endif
