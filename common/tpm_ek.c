/* EK public areas against the TCG EK Credential Profile templates, and key
 * fingerprints (tpm_parse.h). An EK that is "the same key in another
 * public area" (other attributes, authPolicy, or exponent encoding) has
 * another name and so another agent id: only the templates' exact public
 * areas are accepted, and the key itself is fingerprinted. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "log.h"
#include "tpm_parse.h"

#define SET_WHY(w, s) do { if ((w) != NULL) *(w) = (s); } while (0)

/* fixedTPM | fixedParent | sensitiveDataOrigin | adminWithPolicy |
 * restricted | decrypt; the high range adds userWithAuth. */
#define EK_ATTR_LOW 0x000300b2u
#define EK_ATTR_HIGH 0x000300f2u

/* PolicyA: PolicySecret(TPM_RH_ENDORSEMENT), SHA-256 (low range). */
static const uint8_t ek_policy_a_sha256[32] = {
	0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8,
	0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
	0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64,
	0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};
/* PolicyB: PolicyOR(PolicyA, PolicyC), SHA-256 and SHA-384 (high range). */
static const uint8_t ek_policy_b_sha256[32] = {
	0xca, 0x3d, 0x0a, 0x99, 0xa2, 0xb9, 0x39, 0x06,
	0xf7, 0xa3, 0x34, 0x24, 0x14, 0xef, 0xcf, 0xb3,
	0xa3, 0x85, 0xd4, 0x4c, 0xd1, 0xfd, 0x45, 0x90,
	0x89, 0xd1, 0x9b, 0x50, 0x71, 0xc0, 0xb7, 0xa0,
};
static const uint8_t ek_policy_b_sha384[48] = {
	0xb2, 0x6e, 0x7d, 0x28, 0xd1, 0x1a, 0x50, 0xbc,
	0x53, 0xd8, 0x82, 0xbc, 0xf5, 0xfd, 0x3a, 0x1a,
	0x07, 0x41, 0x48, 0xbb, 0x35, 0xd3, 0xb4, 0xe4,
	0xcb, 0x1c, 0x0a, 0xd9, 0xbd, 0xe4, 0x19, 0xca,
	0xcb, 0x47, 0xba, 0x09, 0x69, 0x96, 0x46, 0x15,
	0x0f, 0x9f, 0xc0, 0x00, 0xf3, 0xf8, 0x0e, 0x12,
};

struct ek_tmpl {
	unsigned bit;
	const char *name, *desc;
	TPMI_ALG_PUBLIC type;
	TPMI_ALG_HASH name_alg;
	uint32_t attrs;
	const uint8_t *policy;
	size_t policy_len;
	uint16_t aes_bits;
	uint16_t curve;		/* ECC only */
	size_t key_len;		/* RSA modulus / ECC coordinate bytes */
};

static const struct ek_tmpl ek_tmpls[] = {
	{ TPM_EK_L1, "L-1", "RSA 2048", TPM2_ALG_RSA, TPM2_ALG_SHA256,
	    EK_ATTR_LOW, ek_policy_a_sha256, 32, 128, 0, 256 },
	{ TPM_EK_L2, "L-2", "ECC NIST P-256", TPM2_ALG_ECC, TPM2_ALG_SHA256,
	    EK_ATTR_LOW, ek_policy_a_sha256, 32, 128, TPM2_ECC_NIST_P256, 32 },
	{ TPM_EK_H1, "H-1", "RSA 2048", TPM2_ALG_RSA, TPM2_ALG_SHA256,
	    EK_ATTR_HIGH, ek_policy_b_sha256, 32, 128, 0, 256 },
	{ TPM_EK_H2, "H-2", "ECC NIST P-256", TPM2_ALG_ECC, TPM2_ALG_SHA256,
	    EK_ATTR_HIGH, ek_policy_b_sha256, 32, 128, TPM2_ECC_NIST_P256, 32 },
	{ TPM_EK_H3, "H-3", "ECC NIST P-384", TPM2_ALG_ECC, TPM2_ALG_SHA384,
	    EK_ATTR_HIGH, ek_policy_b_sha384, 48, 256, TPM2_ECC_NIST_P384, 48 },
};
#define EK_NTMPLS (sizeof(ek_tmpls) / sizeof(ek_tmpls[0]))

static const struct ek_tmpl *
ek_tmpl_by_bit(unsigned bit)
{
	size_t i;

	for (i = 0; i < EK_NTMPLS; i++)
		if (ek_tmpls[i].bit == bit)
			return &ek_tmpls[i];
	return NULL;
}

const char *
tpm_ek_template_name(unsigned tmpl)
{
	const struct ek_tmpl *t = ek_tmpl_by_bit(tmpl);

	return t != NULL ? t->name : "none";
}

const char *
tpm_ek_template_desc(unsigned tmpl)
{
	const struct ek_tmpl *t = ek_tmpl_by_bit(tmpl);

	return t != NULL ? t->desc : "no EK template";
}

int
tpm_ek_template_parse(const char *name, unsigned *tmpl)
{
	size_t i;

	for (i = 0; i < EK_NTMPLS; i++)
		if (strcmp(name, ek_tmpls[i].name) == 0) {
			*tmpl = ek_tmpls[i].bit;
			return 0;
		}
	return VIGIL_EINVAL;
}

int
tpm_ek_template_public(unsigned tmpl, TPM2B_PUBLIC *out)
{
	const struct ek_tmpl *t = ek_tmpl_by_bit(tmpl);
	TPMT_PUBLIC *pa = &out->publicArea;
	TPMT_SYM_DEF_OBJECT *sym;
	int low;

	memset(out, 0, sizeof(*out));
	if (t == NULL)
		return VIGIL_EINVAL;
	low = t->attrs == EK_ATTR_LOW;
	pa->type = t->type;
	pa->nameAlg = t->name_alg;
	pa->objectAttributes = t->attrs;
	pa->authPolicy.size = (uint16_t)t->policy_len;
	memcpy(pa->authPolicy.buffer, t->policy, t->policy_len);
	if (t->type == TPM2_ALG_RSA) {
		sym = &pa->parameters.rsaDetail.symmetric;
		pa->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		pa->parameters.rsaDetail.keyBits = 2048;
		pa->parameters.rsaDetail.exponent = 0;
		pa->unique.rsa.size = low ? (uint16_t)t->key_len : 0;
	} else {
		sym = &pa->parameters.eccDetail.symmetric;
		pa->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		pa->parameters.eccDetail.curveID = t->curve;
		pa->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		pa->unique.ecc.x.size = low ? (uint16_t)t->key_len : 0;
		pa->unique.ecc.y.size = low ? (uint16_t)t->key_len : 0;
	}
	sym->algorithm = TPM2_ALG_AES;
	sym->keyBits.aes = t->aes_bits;
	sym->mode.aes = TPM2_ALG_CFB;
	return 0;
}

/* The template to hold pa against: by type, curve, and for the ones that
 * share both, the range the attributes say (low when neither fits). */
static const struct ek_tmpl *
ek_tmpl_for(const TPMT_PUBLIC *pa)
{
	int high = pa->objectAttributes == EK_ATTR_HIGH;

	if (pa->type == TPM2_ALG_RSA)
		return ek_tmpl_by_bit(high ? TPM_EK_H1 : TPM_EK_L1);
	if (pa->type != TPM2_ALG_ECC)
		return NULL;
	switch (pa->parameters.eccDetail.curveID) {
	case TPM2_ECC_NIST_P256:
		return ek_tmpl_by_bit(high ? TPM_EK_H2 : TPM_EK_L2);
	case TPM2_ECC_NIST_P384:
		return ek_tmpl_by_bit(TPM_EK_H3);
	}
	return NULL;
}

/* The symmetric, scheme and key part; the first difference or NULL. */
static const char *
ek_tmpl_params(const TPMT_PUBLIC *pa, const struct ek_tmpl *t)
{
	const TPMT_SYM_DEF_OBJECT *sym;

	if (pa->type == TPM2_ALG_RSA) {
		const TPMS_RSA_PARMS *rp = &pa->parameters.rsaDetail;

		sym = &rp->symmetric;
		if (rp->scheme.scheme != TPM2_ALG_NULL)
			return "its RSA scheme is not NULL";
		if (rp->keyBits != 2048)
			return "its RSA key is not 2048 bits";
		if (rp->exponent != 0)
			return "its RSA exponent is not encoded as 0 (the "
			    "default 65537)";
		if (pa->unique.rsa.size != t->key_len)
			return "its RSA modulus is not 256 bytes";
	} else {
		const TPMS_ECC_PARMS *ep = &pa->parameters.eccDetail;

		sym = &ep->symmetric;
		if (ep->scheme.scheme != TPM2_ALG_NULL)
			return "its ECC scheme is not NULL";
		if (ep->kdf.scheme != TPM2_ALG_NULL)
			return "its ECC KDF is not NULL";
		if (pa->unique.ecc.x.size != t->key_len ||
		    pa->unique.ecc.y.size != t->key_len)
			return "its ECC point coordinates are not of the "
			    "curve's size";
	}
	if (sym->algorithm != TPM2_ALG_AES || sym->keyBits.aes != t->aes_bits ||
	    sym->mode.aes != TPM2_ALG_CFB)
		return t->aes_bits == 128 ? "its symmetric algorithm is not "
		    "AES-128-CFB" : "its symmetric algorithm is not "
		    "AES-256-CFB";
	return NULL;
}

int
tpm_ek_template(const TPM2B_PUBLIC *ek, unsigned *tmpl, const char **why)
{
	const TPMT_PUBLIC *pa = &ek->publicArea;
	const struct ek_tmpl *t;
	const char *w = NULL;

	*tmpl = 0;
	if (pa->type != TPM2_ALG_RSA && pa->type != TPM2_ALG_ECC)
		w = "it is neither RSA nor ECC";
	else if ((t = ek_tmpl_for(pa)) == NULL)
		w = "its curve is neither NIST P-256 nor NIST P-384";
	else {
		*tmpl = t->bit;
		if (pa->nameAlg != t->name_alg)
			w = "its nameAlg differs";
		else if (pa->objectAttributes != t->attrs)
			w = "its objectAttributes differ";
		else if (pa->authPolicy.size != t->policy_len ||
		    memcmp(pa->authPolicy.buffer, t->policy,
		    t->policy_len) != 0)
			w = "its authPolicy differs";
		else
			w = ek_tmpl_params(pa, t);
	}
	if (w == NULL)
		return 0;
	log_warn("ek template: EK (%s, attributes 0x%08x) is not template "
	    "%s: %s", tpm_alg_name(pa->type), (unsigned)pa->objectAttributes,
	    tpm_ek_template_name(*tmpl), w);
	SET_WHY(why, w);
	return VIGIL_EVERIFY;
}

int
tpm_public_key_fp(const TPM2B_PUBLIC *pub, uint8_t out[SHA256_LEN])
{
	EVP_PKEY *key = NULL;
	unsigned char *der = NULL;
	unsigned int dlen = 0;
	int n, r;

	if ((r = tpm_public_to_evp(pub, &key)) != 0)
		return r;
	r = VIGIL_ECRYPTO;
	if ((n = i2d_PUBKEY(key, &der)) <= 0)
		goto out;
	if (EVP_Digest(der, (size_t)n, out, &dlen, EVP_sha256(), NULL) != 1 ||
	    dlen != SHA256_LEN)
		goto out;
	r = 0;
 out:
	OPENSSL_free(der);
	EVP_PKEY_free(key);
	return r;
}
