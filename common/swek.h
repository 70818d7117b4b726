/* A SOFTWARE STAND-IN FOR A TPM'S ENDORSEMENT KEY. It is NOT a TPM: the key
 * lives in this process's memory. It exists only for unit tests and for
 * bench/vigil-loadgen, which registers thousands of simulated agents
 * through the verifier's real registration path. It is an ECC NIST P-256
 * EK in the TCG EK template L-2 form (nameAlg SHA-256, AES-128-CFB,
 * restricted decrypt, the standard PolicySecret(endorsement) authPolicy),
 * with an X.509 certificate issued by a CA the caller holds. Its
 * credential activation is makecred_activate_sw (common/makecred.h). */
#ifndef VIGIL_SWEK_H
#define VIGIL_SWEK_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <tss2/tss2_tpm2_types.h>

#include "buf.h"

struct swek;

/* A fresh EK whose certificate ca_key/ca_cert sign. */
int swek_new(EVP_PKEY *ca_key, X509 *ca_cert, struct swek **out);
void swek_free(struct swek *ek);
const TPM2B_PUBLIC *swek_public(const struct swek *ek);
EVP_PKEY *swek_key(const struct swek *ek);	/* borrowed */
/* DER certificate appended to out. */
int swek_cert_der(const struct swek *ek, struct buf *out);

/* Test CA: a fresh P-256 key and self-signed CA certificate named cn. */
int swek_test_ca(const char *cn, EVP_PKEY **key, X509 **cert);
/* Test intermediate CA: a fresh P-256 key and a CA certificate named cn
 * that ca_key/ca_cert issue. */
int swek_test_sub_ca(const char *cn, EVP_PKEY *ca_key, X509 *ca_cert,
    EVP_PKEY **key, X509 **cert);

#endif
