/* A software EK for tests and load generation: NOT a TPM (see swek.h). */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "log.h"
#include "swek.h"

/* TCG EK Credential Profile, template L-1/L-2 authPolicy:
 * PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256. */
static const uint8_t swek_policy[32] = {
	0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
	0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
	0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

struct swek {
	EVP_PKEY *key;
	X509 *cert;
	TPM2B_PUBLIC pub;
};

void
swek_free(struct swek *ek)
{
	if (ek == NULL)
		return;
	EVP_PKEY_free(ek->key);
	X509_free(ek->cert);
	free(ek);
}

const TPM2B_PUBLIC *
swek_public(const struct swek *ek)
{
	return &ek->pub;
}

EVP_PKEY *
swek_key(const struct swek *ek)
{
	return ek->key;
}

static int
swek_fill_public(struct swek *ek)
{
	TPMT_PUBLIC *pa = &ek->pub.publicArea;
	BIGNUM *x = NULL, *y = NULL;
	int r = VIGIL_ECRYPTO;

	memset(&ek->pub, 0, sizeof(ek->pub));
	pa->type = TPM2_ALG_ECC;
	pa->nameAlg = TPM2_ALG_SHA256;
	pa->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
	    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	pa->authPolicy.size = sizeof(swek_policy);
	memcpy(pa->authPolicy.buffer, swek_policy, sizeof(swek_policy));
	pa->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
	pa->parameters.eccDetail.symmetric.keyBits.aes = 128;
	pa->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	pa->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	pa->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	pa->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	if (EVP_PKEY_get_bn_param(ek->key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(ek->key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
	    BN_bn2binpad(x, pa->unique.ecc.x.buffer, 32) != 32 ||
	    BN_bn2binpad(y, pa->unique.ecc.y.buffer, 32) != 32)
		goto out;
	pa->unique.ecc.x.size = pa->unique.ecc.y.size = 32;
	r = 0;
 out:
	BN_free(x);
	BN_free(y);
	return r;
}

/* A certificate for key, issued by ca (self-signed when ca_cert is NULL). */
static X509 *
swek_issue(EVP_PKEY *key, const char *cn, EVP_PKEY *ca_key, X509 *ca_cert,
    int is_ca)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	X509_NAME *name;
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	X509 *c;

	if ((c = X509_new()) == NULL)
		return NULL;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) == NULL)
		goto fail;
	if (X509_set_version(c, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(c), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(c), 3600L * 24 * 365) == NULL ||
	    X509_set_pubkey(c, key) != 1)
		goto fail;
	name = X509_get_subject_name(c);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1)
		goto fail;
	if (X509_set_issuer_name(c, ca_cert ? X509_get_subject_name(ca_cert) :
	    name) != 1)
		goto fail;
	X509V3_set_ctx(&ctx, ca_cert ? ca_cert : c, c, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
	    is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (ext == NULL || X509_add_ext(c, ext, -1) != 1) {
		X509_EXTENSION_free(ext);
		goto fail;
	}
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, is_ca ?
	    "critical,keyCertSign,cRLSign" : "critical,keyAgreement");
	if (ext == NULL || X509_add_ext(c, ext, -1) != 1) {
		X509_EXTENSION_free(ext);
		goto fail;
	}
	X509_EXTENSION_free(ext);
	if (X509_sign(c, ca_key, EVP_sha256()) == 0)
		goto fail;
	BN_free(bn);
	return c;
 fail:
	BN_free(bn);
	X509_free(c);
	return NULL;
}

int
swek_test_ca(const char *cn, EVP_PKEY **key, X509 **cert)
{
	EVP_PKEY *k;
	X509 *c;

	if ((k = EVP_EC_gen("P-256")) == NULL)
		return VIGIL_ECRYPTO;
	if ((c = swek_issue(k, cn, k, NULL, 1)) == NULL) {
		EVP_PKEY_free(k);
		return VIGIL_ECRYPTO;
	}
	*key = k;
	*cert = c;
	return 0;
}

int
swek_test_sub_ca(const char *cn, EVP_PKEY *ca_key, X509 *ca_cert,
    EVP_PKEY **key, X509 **cert)
{
	EVP_PKEY *k;
	X509 *c;

	if ((k = EVP_EC_gen("P-256")) == NULL)
		return VIGIL_ECRYPTO;
	if ((c = swek_issue(k, cn, ca_key, ca_cert, 1)) == NULL) {
		EVP_PKEY_free(k);
		return VIGIL_ECRYPTO;
	}
	*key = k;
	*cert = c;
	return 0;
}

int
swek_new(EVP_PKEY *ca_key, X509 *ca_cert, struct swek **out)
{
	struct swek *ek;
	int r = VIGIL_ECRYPTO;

	if ((ek = calloc(1, sizeof(*ek))) == NULL)
		return VIGIL_ENOMEM;
	if ((ek->key = EVP_EC_gen("P-256")) == NULL ||
	    (r = swek_fill_public(ek)) != 0)
		goto out;
	if ((ek->cert = swek_issue(ek->key, "Vigil software EK (test only)",
	    ca_key, ca_cert, 0)) == NULL) {
		r = VIGIL_ECRYPTO;
		goto out;
	}
	*out = ek;
	ek = NULL;
	r = 0;
 out:
	if (r != 0)
		log_err("swek: creating a software EK failed");
	swek_free(ek);
	return r;
}

int
swek_cert_der(const struct swek *ek, struct buf *out)
{
	unsigned char *der = NULL;
	int n, r;

	if ((n = i2d_X509(ek->cert, &der)) <= 0)
		return VIGIL_ECRYPTO;
	r = buf_add(out, der, (size_t)n);
	OPENSSL_free(der);
	return r;
}
