#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentca.h"
#include "err.h"
#include "log.h"

#define AGENTCA_MAX_CSR 16384
#define AGENTCA_DAYS 365

struct agentca {
	X509 *cert;
	EVP_PKEY *key;
};

int
agentca_load(const char *cert_pem, const char *key_pem, struct agentca **out)
{
	struct agentca *ca;
	FILE *f = NULL;
	int e = VIGIL_ECONFIG;

	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return VIGIL_ENOMEM;
	if ((f = fopen(cert_pem, "r")) == NULL ||
	    (ca->cert = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		log_err("agentca: cannot read certificate %s", cert_pem);
		goto out;
	}
	fclose(f);
	if ((f = fopen(key_pem, "r")) == NULL ||
	    (ca->key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
		log_err("agentca: cannot read key %s", key_pem);
		goto out;
	}
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		log_err("agentca: key %s does not match certificate %s",
		    key_pem, cert_pem);
		goto out;
	}
	*out = ca;
	ca = NULL;
	e = 0;
 out:
	if (f != NULL)
		fclose(f);
	agentca_free(ca);
	return e;
}

void
agentca_free(struct agentca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
}

static int
agentca_ext(X509 *ca, X509 *x, int nid, const char *value)
{
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	int ok;

	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return VIGIL_ECRYPTO;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : VIGIL_ECRYPTO;
}

int
agentca_issue(struct agentca *ca, const uint8_t *csr_der, size_t len,
    const char *agent_id, uint8_t **der, size_t *der_len)
{
	const unsigned char *p = csr_der;
	X509_REQ *req = NULL;
	EVP_PKEY *pub = NULL;
	X509_NAME *name = NULL;
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	uint8_t serial[16], *outp;
	const EVP_MD *md;
	int n, e = VIGIL_EINVAL;

	if (len == 0 || len > AGENTCA_MAX_CSR) {
		log_warn("agentca: refused: CSR size %zu", len);
		goto out;
	}
	if ((req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL ||
	    p != csr_der + len) {
		log_warn("agentca: refused: CSR is not one DER PKCS#10 request");
		goto out;
	}
	if ((pub = X509_REQ_get_pubkey(req)) == NULL ||
	    X509_REQ_verify(req, pub) != 1) {
		log_warn("agentca: refused: CSR self-signature does not verify");
		goto out;
	}
	e = VIGIL_ECRYPTO;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	if ((x = X509_new()) == NULL ||
	    X509_set_version(x, 2) != 1 ||
	    (bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x),
	    (long)AGENTCA_DAYS * 86400) == NULL ||
	    X509_set_pubkey(x, pub) != 1 ||
	    (name = X509_NAME_new()) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)agent_id, -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1)
		goto out;
	if ((e = agentca_ext(ca->cert, x, NID_basic_constraints,
	    "critical,CA:FALSE")) != 0 ||
	    (e = agentca_ext(ca->cert, x, NID_key_usage,
	    "critical,digitalSignature")) != 0 ||
	    (e = agentca_ext(ca->cert, x, NID_ext_key_usage,
	    "clientAuth")) != 0 ||
	    (e = agentca_ext(ca->cert, x, NID_subject_key_identifier,
	    "hash")) != 0)
		goto out;
	if (X509_get0_subject_key_id(ca->cert) != NULL &&
	    (e = agentca_ext(ca->cert, x, NID_authority_key_identifier,
	    "keyid")) != 0)
		goto out;
	e = VIGIL_ECRYPTO;
	/* Ed25519/Ed448 CA keys sign without a separate digest. */
	md = (EVP_PKEY_is_a(ca->key, "ED25519") ||
	    EVP_PKEY_is_a(ca->key, "ED448")) ? NULL : EVP_sha256();
	if (X509_sign(x, ca->key, md) <= 0)
		goto out;
	if ((n = i2d_X509(x, NULL)) <= 0 || (*der = malloc((size_t)n)) ==
	    NULL)
		goto out;
	outp = *der;
	i2d_X509(x, &outp);
	*der_len = (size_t)n;
	e = 0;
 out:
	if (e == VIGIL_ECRYPTO)
		log_err("agentca: issuing a certificate for %s failed",
		    agent_id);
	BN_free(bn);
	X509_NAME_free(name);
	X509_free(x);
	EVP_PKEY_free(pub);
	X509_REQ_free(req);
	return e;
}
