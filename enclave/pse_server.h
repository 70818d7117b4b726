/* The PSE and MigE behind vigil-psed's socket (enclave/pse_msg.h): the
 * request handlers, as a library, so vigil-psed (enclave/psed.c) and tests
 * (with test keys, tests/unit/test_vtpm.c) serve the same code.
 *
 * A server holds the platform attestation key, the MigE transport key, the
 * platform key's certificate (DER, issued by the platform vendor CA) and
 * the "MSR" contents (the pTPM AK public area, marshaled TPM2B_PUBLIC).
 * Requests: PLATFORM_INFO, CERTIFY_AK (a fresh binding over the MSR's AK,
 * enclave/binding.h), ISSUE_EK_CERT (enclave/pse_cert.h, PSE_CERT_VTPM_EK,
 * for a restricted decryption key fixed to its TPM only),
 * MIG_TRANSPORT_KEY (signed as PSE_TRANSPORT_LABEL below), MIG_IMPORT
 * (migblob_open with the transport key, the state checked to parse, the
 * local binding returned with it). A client whose uid (SO_PEERCRED) is not
 * in allow[] gets PSE_ST_DENIED for every request. */
#ifndef VIGIL_PSE_SERVER_H
#define VIGIL_PSE_SERVER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "binding.h"
#include "buf.h"

#define PSE_SERVER_MAX_UIDS	16
/* PSE_MIG_TRANSPORT_KEY's signature is over
 * PSE_TRANSPORT_LABEL || platform_id (32) || SHA-256(transport SPKI DER). */
#define PSE_SERVER_TRANSPORT_LABEL "vigil-pse-transport-key-v1"

/* Fill every field before serving; pse_server_free frees them all. */
struct pse_server {
	EVP_PKEY *pkey;			/* platform attestation key (owned) */
	EVP_PKEY *tkey;			/* MigE transport key (owned) */
	X509 *pcert;			/* pcert_der parsed (owned) */
	struct buf pcert_der, ppub, tpub, msr;
	uint8_t platform_id[BINDING_ID_LEN];
	uid_t allow[PSE_SERVER_MAX_UIDS];
	size_t n_allow;
};

/* Fills ppub, tpub, platform_id and pcert from pkey, tkey, pcert_der;
 * checks the certificate certifies pkey and that msr holds a
 * TPM2B_PUBLIC. */
int pse_server_ready(struct pse_server *d);
void pse_server_free(struct pse_server *d);

/* Serves one accepted connection: requests until EOF, a framing error, a
 * malformed request (answered PSE_ST_BAD_REQUEST, then closed), 64
 * requests or *stop; each read is bounded to 5 s. */
void pse_server_conn(struct pse_server *d, int fd,
    volatile sig_atomic_t *stop);
/* A listening Unix socket at path (an old socket file replaced), mode
 * 0666: access is decided per request by SO_PEERCRED. */
int pse_server_listen(const char *path, int *out);

/* The bytes PSE_MIG_TRANSPORT_KEY signs, appended to out; and a check of
 * such a signature with the platform key (VIGIL_EVERIFY if it fails). */
int pse_transport_tbs(const uint8_t platform_id[BINDING_ID_LEN],
    const uint8_t *spki, size_t spki_len, struct buf *out);
int pse_transport_verify(EVP_PKEY *platform_pub,
    const uint8_t platform_id[BINDING_ID_LEN], const uint8_t *spki,
    size_t spki_len, const uint8_t *sig, size_t sig_len);

#endif
