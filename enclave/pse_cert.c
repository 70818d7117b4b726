/* Certificates of the PSE world (enclave/pse_cert.h). */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "log.h"
#include "pse_cert.h"

static int
pse_cert_ext(X509 *c, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(c, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

int
pse_cert_issue(enum pse_cert_kind kind, EVP_PKEY *subject_pub,
    const char *cn, EVP_PKEY *issuer_key, X509 *issuer_cert, long days,
    X509 **out)
{
	X509V3_CTX ctx;
	X509_NAME *name;
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	X509 *c = NULL;
	const char *ku;
	int e = VIGIL_ECRYPTO;

	*out = NULL;
	if (days < 1 || days > 36500 || issuer_cert == NULL) {
		log_err("pse_cert: bad validity (%ld days) or no issuer", days);
		return VIGIL_EINVAL;
	}
	if (kind == PSE_CERT_PLATFORM)
		ku = "critical,digitalSignature,keyCertSign";
	else if (EVP_PKEY_is_a(subject_pub, "RSA"))
		ku = "critical,keyEncipherment";
	else
		ku = "critical,keyAgreement";
	if ((c = X509_new()) == NULL || RAND_bytes(serial, sizeof(serial)) !=
	    1)
		goto out;
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) == NULL ||
	    X509_set_version(c, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(c), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(c), days * 86400L) == NULL ||
	    X509_set_pubkey(c, subject_pub) != 1)
		goto out;
	name = X509_get_subject_name(c);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"Vigil", -1, -1, 0) != 1 ||
	    (kind == PSE_CERT_VTPM_EK && X509_NAME_add_entry_by_txt(name, "OU",
	    MBSTRING_ASC, (const unsigned char *)"Vigil vTPM", -1, -1, 0) !=
	    1) ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(c, X509_get_subject_name(issuer_cert)) != 1)
		goto out;
	X509V3_set_ctx(&ctx, issuer_cert, c, NULL, NULL, 0);
	if (!pse_cert_ext(c, &ctx, NID_basic_constraints,
	    kind == PSE_CERT_PLATFORM ? "critical,CA:TRUE,pathlen:0" :
	    "critical,CA:FALSE") ||
	    !pse_cert_ext(c, &ctx, NID_key_usage, ku) ||
	    !pse_cert_ext(c, &ctx, NID_subject_key_identifier, "hash") ||
	    !pse_cert_ext(c, &ctx, NID_authority_key_identifier,
	    "keyid,issuer"))
		goto out;
	if (X509_sign(c, issuer_key, EVP_sha256()) == 0) {
		log_err("pse_cert: signing the certificate for %s failed", cn);
		goto out;
	}
	*out = c;
	c = NULL;
	e = 0;
 out:
	if (e != 0)
		log_err("pse_cert: cannot issue a certificate for %s: %s", cn,
		    ERR_reason_error_string(ERR_peek_last_error()) ?
		    ERR_reason_error_string(ERR_peek_last_error()) : "?");
	ERR_clear_error();
	BN_free(bn);
	X509_free(c);
	return e;
}

int
pse_cert_der(X509 *x, struct buf *out)
{
	unsigned char *der = NULL;
	int n, e;

	if ((n = i2d_X509(x, &der)) <= 0)
		return VIGIL_ECRYPTO;
	e = buf_add(out, der, (size_t)n);
	OPENSSL_free(der);
	return e;
}

int
pse_cert_spki(EVP_PKEY *key, struct buf *out)
{
	unsigned char *der = NULL;
	int n, e;

	if ((n = i2d_PUBKEY(key, &der)) <= 0)
		return VIGIL_ECRYPTO;
	e = buf_add(out, der, (size_t)n);
	OPENSSL_free(der);
	return e;
}
