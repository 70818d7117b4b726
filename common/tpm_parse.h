/* TPM structures received from hostile peers, parsed with libtss2-mu and
 * checked. Every parse function consumes the whole input: trailing bytes
 * are an error. On a failed check *why (when not NULL) points at a static
 * string naming it, e.g. "AK is not restricted". */
#ifndef VIGIL_TPM_PARSE_H
#define VIGIL_TPM_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "pcrs.h"

/* Marshaled TPM2B_PUBLIC -> struct; VIGIL_EINVAL on garbage, trailing bytes
 * or a non-canonical encoding (re-marshaling must give the same bytes). */
int tpm_public_parse(const uint8_t *p, size_t len, TPM2B_PUBLIC *out);
/* Marshals pub->publicArea as TPM2B_PUBLIC (for storage/compare). */
int tpm_public_marshal(const TPM2B_PUBLIC *pub, uint8_t *out, size_t cap,
    size_t *len);
/* Name = nameAlg (u16 BE) || H_nameAlg(marshaled TPMT_PUBLIC). */
int tpm_public_name(const TPM2B_PUBLIC *pub, TPM2B_NAME *out);
/* Agent id: lowercase hex SHA-256 of the marshaled EK TPMT_PUBLIC. */
int tpm_agent_id(const TPM2B_PUBLIC *ek, char out[65]);
/* The AK must be: fixedTPM, fixedParent, sensitiveDataOrigin, restricted,
 * sign, not decrypt; nameAlg SHA-256/384/512 (an AK under the P-384 EK made
 * by tpm2_createak has SHA-384); ECC NIST P-256 with ECDSA/SHA-256, or
 * RSA-2048 with RSASSA or RSAPSS/SHA-256; no symmetric algorithm.
 * VIGIL_EVERIFY and *why (the first failed check) on failure. */
int tpm_ak_check(const TPM2B_PUBLIC *ak, const char **why);
/* Public key of an RSA or ECC TPM object as an OpenSSL key. */
int tpm_public_to_evp(const TPM2B_PUBLIC *pub, EVP_PKEY **out);
/* 0 when the EK public area matches the public key in the DER
 * certificate (the certificate must certify this EK); VIGIL_EVERIFY when
 * the keys differ, VIGIL_EINVAL when the certificate is not one DER X.509
 * certificate. *why names the failure. */
int tpm_ek_matches_cert(const TPM2B_PUBLIC *ek, const uint8_t *der,
    size_t derlen, const char **why);

/* The TCG EK Credential Profile (2.x) templates Vigil accepts: the EK's
 * public area must be one of them exactly, but for the key the TPM filled
 * in. Low range (certificate at 0x01c00002 / 0x01c0000a): L-1 RSA 2048,
 * L-2 ECC NIST P-256; high range: H-1 RSA 2048, H-2 ECC NIST P-256, H-3
 * ECC NIST P-384 (swtpm_setup provisions L-1 at 0x81010001 and H-3 at
 * 0x81010016). A bit each, for sets (the verifier's ek_kinds). */
enum tpm_ek_template {
	TPM_EK_L1 = 1u << 0,
	TPM_EK_L2 = 1u << 1,
	TPM_EK_H1 = 1u << 2,
	TPM_EK_H2 = 1u << 3,
	TPM_EK_H3 = 1u << 4,
};
#define TPM_EK_ALL (TPM_EK_L1 | TPM_EK_L2 | TPM_EK_H1 | TPM_EK_H2 | TPM_EK_H3)
/* 0 and *tmpl when the EK public area is exactly one template: type,
 * nameAlg, objectAttributes, authPolicy, symmetric algorithm, scheme, key
 * size, RSA exponent encoded as 0, curve, KDF, and a full-size key (RSA
 * modulus of 256 bytes, ECC coordinates of the field's size). Otherwise
 * VIGIL_EVERIFY, *tmpl the template it was held against (0 if none fits
 * its type and curve) and *why the first field that differs, e.g.
 * "authPolicy differs". */
int tpm_ek_template(const TPM2B_PUBLIC *ek, unsigned *tmpl,
    const char **why);
/* "L-1", "H-3", ...; "none" for 0 or an unknown bit. */
const char *tpm_ek_template_name(unsigned tmpl);
/* "RSA 2048", "ECC NIST P-384", ... of a template. */
const char *tpm_ek_template_desc(unsigned tmpl);
/* Parses one template name ("L-1", ...); VIGIL_EINVAL if unknown. */
int tpm_ek_template_parse(const char *name, unsigned *tmpl);
/* The template's public area as TPM2_CreatePrimary takes it: the low
 * range with its unique field of zeros of the key's size, the high range
 * with an empty one (EK Credential Profile 2.2.1.4/2.2.1.5). The EK the
 * TPM creates from it passes tpm_ek_template. VIGIL_EINVAL if unknown. */
int tpm_ek_template_public(unsigned tmpl, TPM2B_PUBLIC *out);
/* SHA-256 of the DER SubjectPublicKeyInfo of an RSA or ECC TPM object's
 * key: the same for every encoding of the same key (an EK's fingerprint
 * whatever public area carries it). */
int tpm_public_key_fp(const TPM2B_PUBLIC *pub, uint8_t out[SHA256_LEN]);

/* A parsed quote. attest_bytes points into the caller's buffer: it is the
 * TPMS_ATTEST as signed (the TPM2B's contents). */
struct quote {
	TPMS_ATTEST attest;
	const uint8_t *attest_bytes;
	size_t attest_len;
	TPMT_SIGNATURE sig;
};

/* Parses marshaled TPM2B_ATTEST and TPMT_SIGNATURE; checks magic
 * (TPM_GENERATED_VALUE) and type (TPM_ST_ATTEST_QUOTE). */
int quote_parse(const uint8_t *attest, size_t attest_len, const uint8_t *sig,
    size_t sig_len, struct quote *out, const char **why);
/* Verifies q->sig over q->attest_bytes with the AK (hash from the scheme). */
int quote_verify_sig(const struct quote *q, const TPM2B_PUBLIC *ak,
    const char **why);
/* SHA-256 bank only: the mask of PCRs the quote's selection covers.
 * VIGIL_EVERIFY if the quote selects another bank. */
int quote_selected_mask(const struct quote *q, uint32_t *mask,
    const char **why);
/* The digest a TPM computes over the reported values of the selected PCRs
 * (SHA-256 over the values in increasing PCR index, the TPM's order for one
 * bank). VIGIL_EINVAL if vals lacks a PCR of mask or mask names PCR > 23. */
int quote_pcr_digest(const struct pcrs *vals, uint32_t mask,
    uint8_t out[SHA256_LEN]);

/* Helpers shared with makecred.c and swquote.c. */
/* The OpenSSL digest of a TPM hash algorithm (SHA-1/256/384/512), else NULL. */
const EVP_MD *tpm_alg_md(TPMI_ALG_HASH alg);
/* "SHA-256", "ECDSA", ... for logs; "unknown algorithm" otherwise. */
const char *tpm_alg_name(uint16_t alg);
const char *tpm_curve_name(uint16_t curve);
/* OpenSSL group name and field size in bytes of a supported TPM curve
 * (NIST P-256, P-384); VIGIL_EUNSUPP otherwise. */
int tpm_curve_info(uint16_t curve, const char **group, size_t *field_len);

#endif
