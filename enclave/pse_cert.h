/* X.509 certificates the PSE world issues (OpenSSL):
 *  - the platform attestation key's certificate, by the platform vendor CA
 *    (`vigil-psed init`; in production the vendor's factory does this):
 *    CN "Vigil platform attestation key <hex platform id prefix>",
 *    basicConstraints critical CA:TRUE, pathlen:0 (it issues vTPM EK
 *    certificates), keyUsage critical digitalSignature, keyCertSign;
 *  - a vTPM's EK certificate, by the platform attestation key
 *    (PSE_ISSUE_EK_CERT): CN "vTPM EK <vm id>", OU "Vigil vTPM",
 *    basicConstraints critical CA:FALSE, keyUsage critical keyEncipherment
 *    (RSA EK) or keyAgreement (ECC EK).
 * Both: version 3, random 127-bit serial, notBefore now - 1 h, notAfter
 * as given, SHA-256 ECDSA signature, subject/authority key identifiers. */
#ifndef VIGIL_PSE_CERT_H
#define VIGIL_PSE_CERT_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"

enum pse_cert_kind { PSE_CERT_PLATFORM = 1, PSE_CERT_VTPM_EK = 2 };

/* Issues a certificate of kind for subject_pub named cn, signed by
 * issuer_key whose certificate is issuer_cert, valid for days days.
 * *out: caller frees with X509_free. */
int pse_cert_issue(enum pse_cert_kind kind, EVP_PKEY *subject_pub,
    const char *cn, EVP_PKEY *issuer_key, X509 *issuer_cert, long days,
    X509 **out);

/* DER of x appended to out. */
int pse_cert_der(X509 *x, struct buf *out);
/* DER SubjectPublicKeyInfo of a key appended to out. */
int pse_cert_spki(EVP_PKEY *key, struct buf *out);

#endif
