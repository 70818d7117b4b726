/* The certified AK binding: the PSE's statement "this pTPM AK public area
 * was handed to me at boot on platform P", signed with the platform
 * attestation key (ECDSA P-256), whose certificate chains to a platform
 * vendor CA the verifier trusts (DESIGN.md, trust chain step 5).
 *
 * Signed bytes (what binding_sign signs and binding_verify checks; also in
 * docs/pse.md):
 *
 *   "VIGIL-PSE-AK-BINDING-V1" (23 bytes, no NUL)
 *   u16be ak_len || ak_pub (marshaled TPM2B_PUBLIC, ak_len bytes)
 *   platform_id (32 bytes)
 *   u64be time (seconds since the epoch, the PSE's clock when signed)
 *
 * platform_id = SHA-256 of the DER SubjectPublicKeyInfo of the platform
 * attestation key, so it names the key the chain's leaf certifies.
 *
 * Wire form (binding_marshal / binding_parse; the PSE's PSE_CERTIFY_AK
 * reply and evidence items carry it):
 *
 *   u32be magic BINDING_MAGIC ("VBND"), u16be version 1
 *   u16be ak_len || ak_pub
 *   platform_id (32)
 *   u64be time
 *   u16be sig_len || sig (ECDSA DER, 8 .. BINDING_MAX_SIG)
 *   u8 n_chain (1 .. BINDING_MAX_CERTS) || n × (u32be len || cert DER),
 *     leaf (the platform attestation key's certificate) first, then any
 *     intermediates; never the trusted root
 *   nothing after. */
#ifndef VIGIL_BINDING_H
#define VIGIL_BINDING_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "buf.h"

#define BINDING_MAGIC		0x56424e44u	/* "VBND" */
#define BINDING_VERSION		1u
#define BINDING_LABEL		"VIGIL-PSE-AK-BINDING-V1"
#define BINDING_ID_LEN		32u
#define BINDING_MAX_AK		1024u
#define BINDING_MAX_SIG		128u
#define BINDING_MAX_CERTS	4u
#define BINDING_MAX_CERT	8192u

/* A parsed or built binding. Owns its buffers: free with binding_free. */
struct binding {
	struct buf ak_pub;			/* marshaled TPM2B_PUBLIC */
	uint8_t platform_id[BINDING_ID_LEN];
	uint64_t time;
	struct buf sig;				/* ECDSA DER */
	size_t n_chain;
	struct buf chain[BINDING_MAX_CERTS];	/* DER, leaf first */
};

/* Frees the buffers; b itself is not freed. NULL is a no-op. */
void binding_free(struct binding *b);

/* platform_id of a public key: SHA-256 of its DER SubjectPublicKeyInfo. */
int binding_platform_id(EVP_PKEY *key, uint8_t out[BINDING_ID_LEN]);

/* The signed bytes of b (the layout above) appended to out. */
int binding_signed_bytes(const struct binding *b, struct buf *out);

/* Builds and signs a binding over ak_pub with the platform key (an EC
 * P-256 private key); chain/chain_lens: n DER certificates, leaf first,
 * the leaf certifying key. time = now. *out is overwritten (free it with
 * binding_free). */
int binding_sign(EVP_PKEY *key, const uint8_t *ak_pub, size_t ak_len,
    const uint8_t *const *chain, const size_t *chain_lens, size_t n,
    struct binding *out);

/* Checks, in this order, and stops at the first failure with VIGIL_EVERIFY
 * and *why naming it:
 *   "binding AK public area is malformed" / tpm_ak_check's reason
 *   "binding certificate is not DER X.509"
 *   "binding certificate chain does not lead to a trusted platform vendor
 *    CA: <OpenSSL's reason>"  (X509_verify_cert against trusted, with the
 *    other chain certificates as untrusted intermediates, at the current
 *    time)
 *   "binding leaf certificate is not an EC P-256 key"
 *   "binding leaf certificate lacks digitalSignature key usage"
 *   "binding platform id does not match the certified key"
 *   "binding signature does not verify with the certified platform key"
 * On success *platform_id (when not NULL) gets the platform id. trusted is
 * borrowed. A binding being valid says nothing about WHICH AK it binds:
 * the caller compares it with binding_check_ak. */
int binding_verify(const struct binding *b, X509_STORE *trusted,
    uint8_t platform_id[BINDING_ID_LEN], const char **why);

/* 0 when b binds exactly ak_pub (byte for byte); VIGIL_EVERIFY with *why
 * "binding is over a different AK" otherwise. */
int binding_check_ak(const struct binding *b, const uint8_t *ak_pub,
    size_t ak_len, const char **why);

/* A vTPM EK certificate issued by a PSE (PSE_ISSUE_EK_CERT): verifies that
 * b's chain is trusted (as binding_verify, without the binding signature)
 * and that ek_cert (DER) is signed by b's leaf key and valid now; and,
 * when ek_pub (marshaled TPM2B_PUBLIC) is given, that the certificate
 * certifies that EK. VIGIL_EVERIFY with *why:
 *   "vTPM EK certificate is not DER X.509"
 *   "vTPM EK certificate is not signed by the platform key"
 *   "vTPM EK certificate is expired or not yet valid"
 *   "vTPM EK certificate does not certify this EK" (tpm_ek_matches_cert)
 *   or a chain failure as above. */
int binding_verify_ek_cert(const struct binding *b, X509_STORE *trusted,
    const uint8_t *ek_cert, size_t cert_len, const uint8_t *ek_pub,
    size_t ek_pub_len, const char **why);

/* Wire form above. binding_parse is strict (hostile input): every length
 * checked before it is read, a failure logged naming it (VIGIL_ETRUNC,
 * VIGIL_EINVAL, VIGIL_ETOOBIG), nothing kept on failure. */
int binding_marshal(const struct binding *b, struct buf *out);
int binding_parse(const uint8_t *p, size_t len, struct binding *out);

/* The "deep quote" extraData of a VM attestation (DESIGN.md, trust chain
 * step 5): SHA-256(nonce || vTPM AK name || VM id), the name as the TPM
 * computes it (u16be nameAlg || digest, tpm_public_name) and the VM id
 * without a terminator. The pTPM quotes with it, so the platform vouches,
 * now, for that vTPM. */
int binding_deep_quote_data(const uint8_t *nonce, size_t nonce_len,
    const uint8_t *ak_name, size_t name_len, const char *vm_id,
    uint8_t out[32]);

/* A trust store from PEM files of trusted platform vendor CAs (for the
 * verifier's config and tests). Caller frees with X509_STORE_free. */
int binding_store_load(const char *const *pem_paths, size_t n,
    X509_STORE **out);

#endif
