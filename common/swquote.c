/* A software quote signer for tests and load generation: NOT a TPM (see
 * swquote.h). The TPMS_ATTEST it builds is what a TPM's TPM2_Quote would
 * build; the ECDSA signature is made by OpenSSL over SHA-256 of it. */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "err.h"
#include "log.h"
#include "swquote.h"
#include "tpm_parse.h"

/* Marks the firmwareVersion of software quotes: "VIGILSWQ". */
#define SWQUOTE_FIRMWARE 0x564947494c535751ULL

struct swquote {
	EVP_PKEY *key;
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;
};

void
swquote_free(struct swquote *sq)
{
	if (sq == NULL)
		return;
	EVP_PKEY_free(sq->key);
	free(sq);
}

static int
swquote_fill_public(struct swquote *sq)
{
	TPMT_PUBLIC *pa = &sq->pub.publicArea;
	BIGNUM *x = NULL, *y = NULL;
	int r = VIGIL_ECRYPTO;

	memset(&sq->pub, 0, sizeof(sq->pub));
	pa->type = TPM2_ALG_ECC;
	pa->nameAlg = TPM2_ALG_SHA256;
	pa->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
	    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
	pa->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	pa->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
	pa->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	pa->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	pa->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	if (EVP_PKEY_get_bn_param(sq->key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(sq->key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
	    BN_bn2binpad(x, pa->unique.ecc.x.buffer, 32) != 32 ||
	    BN_bn2binpad(y, pa->unique.ecc.y.buffer, 32) != 32) {
		log_err("swquote: reading the public point failed");
		goto out;
	}
	pa->unique.ecc.x.size = pa->unique.ecc.y.size = 32;
	r = tpm_public_name(&sq->pub, &sq->name);
 out:
	BN_free(x);
	BN_free(y);
	return r;
}

int
swquote_new(struct swquote **out)
{
	struct swquote *sq;
	int r;

	if ((sq = calloc(1, sizeof(*sq))) == NULL)
		return VIGIL_ENOMEM;
	if ((sq->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL) {
		log_err("swquote: P-256 key generation failed");
		r = VIGIL_ECRYPTO;
		goto out;
	}
	if ((r = swquote_fill_public(sq)) != 0)
		goto out;
	*out = sq;
	sq = NULL;
 out:
	swquote_free(sq);
	return r;
}

int
swquote_ak_public(const struct swquote *sq, TPM2B_PUBLIC *out)
{
	*out = sq->pub;
	return 0;
}

/* ECDSA/SHA-256 over msg, as a TPMT_SIGNATURE. */
static int
swquote_sign(struct swquote *sq, const uint8_t *msg, size_t len,
    TPMT_SIGNATURE *sig)
{
	unsigned char der[80];
	const unsigned char *p = der;
	const BIGNUM *r = NULL, *s = NULL;
	EVP_MD_CTX *ctx = NULL;
	ECDSA_SIG *es = NULL;
	size_t dlen = sizeof(der);
	int e = VIGIL_ECRYPTO;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, sq->key) != 1 ||
	    EVP_DigestSign(ctx, der, &dlen, msg, len) != 1 ||
	    (es = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) == NULL) {
		log_err("swquote: ECDSA signing failed");
		goto out;
	}
	ECDSA_SIG_get0(es, &r, &s);
	memset(sig, 0, sizeof(*sig));
	sig->sigAlg = TPM2_ALG_ECDSA;
	sig->signature.ecdsa.hash = TPM2_ALG_SHA256;
	if (BN_bn2binpad(r, sig->signature.ecdsa.signatureR.buffer, 32) != 32 ||
	    BN_bn2binpad(s, sig->signature.ecdsa.signatureS.buffer, 32) != 32)
		goto out;
	sig->signature.ecdsa.signatureR.size = 32;
	sig->signature.ecdsa.signatureS.size = 32;
	e = 0;
 out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(ctx);
	return e;
}

int
swquote_make(struct swquote *sq, const uint8_t *nonce, size_t nonce_len,
    const struct pcrs *vals, uint32_t mask, uint64_t clock,
    uint32_t reset_count, uint32_t restart_count, int safe,
    struct buf *attest_out, struct buf *sig_out)
{
	TPMS_ATTEST at;
	TPM2B_ATTEST a2b;
	TPMT_SIGNATURE sig;
	TPMS_PCR_SELECTION *sel;
	uint8_t out[sizeof(TPM2B_ATTEST) + sizeof(TPMT_SIGNATURE)];
	size_t off = 0;
	TSS2_RC rc;
	int r;

	if (nonce_len > sizeof(at.extraData.buffer)) {
		log_warn("swquote: nonce of %zu bytes, at most %zu", nonce_len,
		    sizeof(at.extraData.buffer));
		return VIGIL_EINVAL;
	}
	memset(&at, 0, sizeof(at));
	at.magic = TPM2_GENERATED_VALUE;
	at.type = TPM2_ST_ATTEST_QUOTE;
	memcpy(at.qualifiedSigner.name, sq->name.name, sq->name.size);
	at.qualifiedSigner.size = sq->name.size;
	if (nonce_len > 0)
		memcpy(at.extraData.buffer, nonce, nonce_len);
	at.extraData.size = (UINT16)nonce_len;
	at.clockInfo.clock = clock;
	at.clockInfo.resetCount = reset_count;
	at.clockInfo.restartCount = restart_count;
	at.clockInfo.safe = safe ? TPM2_YES : TPM2_NO;
	at.firmwareVersion = SWQUOTE_FIRMWARE;
	at.attested.quote.pcrSelect.count = 1;
	sel = &at.attested.quote.pcrSelect.pcrSelections[0];
	sel->hash = TPM2_ALG_SHA256;
	sel->sizeofSelect = 3;
	sel->pcrSelect[0] = (uint8_t)mask;
	sel->pcrSelect[1] = (uint8_t)(mask >> 8);
	sel->pcrSelect[2] = (uint8_t)(mask >> 16);
	if ((r = quote_pcr_digest(vals, mask,
	    at.attested.quote.pcrDigest.buffer)) != 0)
		return r;
	at.attested.quote.pcrDigest.size = SHA256_LEN;

	memset(&a2b, 0, sizeof(a2b));
	rc = Tss2_MU_TPMS_ATTEST_Marshal(&at, a2b.attestationData,
	    sizeof(a2b.attestationData), &off);
	if (rc != TSS2_RC_SUCCESS) {
		log_err("swquote: Tss2_MU_TPMS_ATTEST_Marshal rc=0x%x",
		    (unsigned)rc);
		return VIGIL_EINVAL;
	}
	a2b.size = (UINT16)off;
	if ((r = swquote_sign(sq, a2b.attestationData, a2b.size, &sig)) != 0)
		return r;
	off = 0;
	if ((rc = Tss2_MU_TPM2B_ATTEST_Marshal(&a2b, out, sizeof(out),
	    &off)) != TSS2_RC_SUCCESS) {
		log_err("swquote: Tss2_MU_TPM2B_ATTEST_Marshal rc=0x%x",
		    (unsigned)rc);
		return VIGIL_EINVAL;
	}
	if ((r = buf_add(attest_out, out, off)) != 0)
		return r;
	off = 0;
	if ((rc = Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, out, sizeof(out),
	    &off)) != TSS2_RC_SUCCESS) {
		log_err("swquote: Tss2_MU_TPMT_SIGNATURE_Marshal rc=0x%x",
		    (unsigned)rc);
		return VIGIL_EINVAL;
	}
	return buf_add(sig_out, out, off);
}
