/* TPM vendor CAs and the EK certificate chain (DESIGN.md trust chain 1,
 * docs/real-machines.md "TPM vendor certificates"). The store holds every
 * certificate of [attestation] tpm_ca and every certificate file of
 * [attestation] tpm_ca_dir. A chain is accepted only when it ends at a
 * self-signed certificate of the store (no partial chains): an
 * intermediate in the store helps build the chain but anchors nothing.
 * Nothing is fetched: an EK certificate's Authority Information Access
 * URL is ignored, the intermediates come from the directory. */
#ifndef VIGIL_VERIFIER_TPM_CAS_H
#define VIGIL_VERIFIER_TPM_CAS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

/* Largest certificate file read from the directory. */
#define TPM_CAS_FILE_MAX (1024 * 1024)

/* Adds every certificate of every regular file in dir (names not
 * starting with '.'; PEM with one or more certificates, or one DER
 * certificate) to st, in name order, logging each file. A file that is
 * neither, an unreadable directory or one with no certificate at all is
 * VIGIL_ECONFIG, logged naming it. */
int tpm_cas_add_dir(X509_STORE *st, const char *dir);

/* 0 when the DER EK certificate chains to cas. Otherwise VIGIL_EVERIFY
 * and why names the certificate and the failure: 'subject "...", issuer
 * "...", serial 0x...: <OpenSSL verify error> (OpenSSL verify error N at
 * depth D)', or that it is not one DER certificate. */
int tpm_cas_verify(X509_STORE *cas, const uint8_t *der, size_t len,
    char *why, size_t whylen);

#endif
