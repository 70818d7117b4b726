/* TPM structures from hostile peers: libtss2-mu parses (it bounds-checks
 * every size inside a TPM2B against its buffer), we insist the whole input
 * was consumed, then check what the verifier relies on. OpenSSL 3 EVP only. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "tpm_parse.h"

#define SET_WHY(w, s) do { if ((w) != NULL) *(w) = (s); } while (0)

/* The OpenSSL digest for a TPM hash algorithm, NULL for anything else. */
const EVP_MD *
tpm_alg_md(TPMI_ALG_HASH alg)
{
	switch (alg) {
	case TPM2_ALG_SHA1:	return EVP_sha1();
	case TPM2_ALG_SHA256:	return EVP_sha256();
	case TPM2_ALG_SHA384:	return EVP_sha384();
	case TPM2_ALG_SHA512:	return EVP_sha512();
	}
	return NULL;
}

const char *
tpm_alg_name(uint16_t alg)
{
	switch (alg) {
	case TPM2_ALG_RSA:	return "RSA";
	case TPM2_ALG_SHA1:	return "SHA-1";
	case TPM2_ALG_HMAC:	return "HMAC";
	case TPM2_ALG_AES:	return "AES";
	case TPM2_ALG_KEYEDHASH: return "keyedhash";
	case TPM2_ALG_XOR:	return "XOR";
	case TPM2_ALG_SHA256:	return "SHA-256";
	case TPM2_ALG_SHA384:	return "SHA-384";
	case TPM2_ALG_SHA512:	return "SHA-512";
	case TPM2_ALG_NULL:	return "NULL";
	case TPM2_ALG_SM3_256:	return "SM3-256";
	case TPM2_ALG_SM4:	return "SM4";
	case TPM2_ALG_RSASSA:	return "RSASSA";
	case TPM2_ALG_RSAES:	return "RSAES";
	case TPM2_ALG_RSAPSS:	return "RSAPSS";
	case TPM2_ALG_OAEP:	return "OAEP";
	case TPM2_ALG_ECDSA:	return "ECDSA";
	case TPM2_ALG_ECDH:	return "ECDH";
	case TPM2_ALG_ECDAA:	return "ECDAA";
	case TPM2_ALG_SM2:	return "SM2";
	case TPM2_ALG_ECSCHNORR: return "ECSCHNORR";
	case TPM2_ALG_ECMQV:	return "ECMQV";
	case TPM2_ALG_ECC:	return "ECC";
	case TPM2_ALG_SYMCIPHER: return "symcipher";
	case TPM2_ALG_CAMELLIA:	return "Camellia";
	case TPM2_ALG_CTR:	return "CTR";
	case TPM2_ALG_OFB:	return "OFB";
	case TPM2_ALG_CBC:	return "CBC";
	case TPM2_ALG_CFB:	return "CFB";
	case TPM2_ALG_ECB:	return "ECB";
	}
	return "unknown algorithm";
}

const char *
tpm_curve_name(uint16_t curve)
{
	switch (curve) {
	case TPM2_ECC_NIST_P192: return "NIST P-192";
	case TPM2_ECC_NIST_P224: return "NIST P-224";
	case TPM2_ECC_NIST_P256: return "NIST P-256";
	case TPM2_ECC_NIST_P384: return "NIST P-384";
	case TPM2_ECC_NIST_P521: return "NIST P-521";
	case TPM2_ECC_BN_P256:	return "BN P-256";
	case TPM2_ECC_BN_P638:	return "BN P-638";
	case TPM2_ECC_SM2_P256:	return "SM2 P-256";
	}
	return "unknown curve";
}

int
tpm_public_parse(const uint8_t *p, size_t len, TPM2B_PUBLIC *out)
{
	uint8_t again[sizeof(TPM2B_PUBLIC)];
	size_t off = 0;
	TSS2_RC rc;

	memset(out, 0, sizeof(*out));
	rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(p, len, &off, out);
	if (rc != TSS2_RC_SUCCESS) {
		log_warn("tpm public area: Tss2_MU_TPM2B_PUBLIC_Unmarshal "
		    "failed rc=0x%x len=%zu", (unsigned)rc, len);
		return VIGIL_EINVAL;
	}
	if (off != len) {
		log_warn("tpm public area: %zu trailing bytes", len - off);
		return VIGIL_EINVAL;
	}
	/* Only the canonical encoding: the bytes we were given are what is
	 * stored and compared, the re-marshaled ones what names are computed
	 * over; they must be the same (no slack inside the TPM2B). */
	off = 0;
	if (len > sizeof(again) ||
	    Tss2_MU_TPM2B_PUBLIC_Marshal(out, again, sizeof(again), &off) !=
	    TSS2_RC_SUCCESS || off != len || memcmp(again, p, len) != 0) {
		log_warn("tpm public area: not in canonical form (size field "
		    "or padding differs from the structure)");
		return VIGIL_EINVAL;
	}
	return 0;
}

int
tpm_public_marshal(const TPM2B_PUBLIC *pub, uint8_t *out, size_t cap,
    size_t *len)
{
	size_t off = 0;
	TSS2_RC rc;

	rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, out, cap, &off);
	if (rc != TSS2_RC_SUCCESS) {
		log_warn("tpm public area: Tss2_MU_TPM2B_PUBLIC_Marshal failed "
		    "rc=0x%x", (unsigned)rc);
		return VIGIL_EINVAL;
	}
	*len = off;
	return 0;
}

/* The marshaled TPMT_PUBLIC (what names and agent ids hash). */
static int
tpm_tpmt_marshal(const TPM2B_PUBLIC *pub, uint8_t *out, size_t cap,
    size_t *len)
{
	size_t off = 0;
	TSS2_RC rc;

	rc = Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, out, cap, &off);
	if (rc != TSS2_RC_SUCCESS) {
		log_warn("tpm public area: Tss2_MU_TPMT_PUBLIC_Marshal failed "
		    "rc=0x%x", (unsigned)rc);
		return VIGIL_EINVAL;
	}
	*len = off;
	return 0;
}

int
tpm_public_name(const TPM2B_PUBLIC *pub, TPM2B_NAME *out)
{
	uint8_t buf[sizeof(TPMT_PUBLIC)];
	const EVP_MD *md;
	unsigned int dlen = 0;
	size_t len;
	int e;

	if ((md = tpm_alg_md(pub->publicArea.nameAlg)) == NULL) {
		log_warn("tpm name: name algorithm %s (0x%04x) not supported",
		    tpm_alg_name(pub->publicArea.nameAlg),
		    pub->publicArea.nameAlg);
		return VIGIL_EUNSUPP;
	}
	if ((e = tpm_tpmt_marshal(pub, buf, sizeof(buf), &len)) != 0)
		return e;
	out->name[0] = (uint8_t)(pub->publicArea.nameAlg >> 8);
	out->name[1] = (uint8_t)pub->publicArea.nameAlg;
	if (EVP_Digest(buf, len, out->name + 2, &dlen, md, NULL) != 1) {
		log_err("tpm name: EVP_Digest failed");
		return VIGIL_ECRYPTO;
	}
	out->size = (UINT16)(2 + dlen);
	return 0;
}

int
tpm_agent_id(const TPM2B_PUBLIC *ek, char out[65])
{
	uint8_t buf[sizeof(TPMT_PUBLIC)], d[SHA256_LEN];
	unsigned int dlen = 0;
	size_t len;
	int e;

	if ((e = tpm_tpmt_marshal(ek, buf, sizeof(buf), &len)) != 0)
		return e;
	if (EVP_Digest(buf, len, d, &dlen, EVP_sha256(), NULL) != 1 ||
	    dlen != SHA256_LEN) {
		log_err("agent id: EVP_Digest failed");
		return VIGIL_ECRYPTO;
	}
	hex_encode(d, SHA256_LEN, out);
	return 0;
}

/* The ECC or RSA signing scheme of a key: its algorithm and hash. */
static void
tpm_sign_scheme(const TPMT_PUBLIC *pa, TPM2_ALG_ID *scheme,
    TPMI_ALG_HASH *hash)
{
	*scheme = TPM2_ALG_NULL;
	*hash = TPM2_ALG_NULL;
	if (pa->type == TPM2_ALG_ECC) {
		*scheme = pa->parameters.eccDetail.scheme.scheme;
		*hash = pa->parameters.eccDetail.scheme.details.anySig.hashAlg;
	} else if (pa->type == TPM2_ALG_RSA) {
		*scheme = pa->parameters.rsaDetail.scheme.scheme;
		*hash = pa->parameters.rsaDetail.scheme.details.anySig.hashAlg;
	}
	if (*scheme == TPM2_ALG_NULL)
		*hash = TPM2_ALG_NULL;
}

/* The curve, scheme and key size part of the AK check. */
static const char *
tpm_ak_check_alg(const TPMT_PUBLIC *pa)
{
	TPM2_ALG_ID scheme;
	TPMI_ALG_HASH hash;

	tpm_sign_scheme(pa, &scheme, &hash);
	if (pa->type == TPM2_ALG_ECC) {
		const TPMS_ECC_PARMS *ep = &pa->parameters.eccDetail;

		switch (ep->curveID) {
		case TPM2_ECC_NIST_P256:
			break;
		case TPM2_ECC_NIST_P192:
			return "AK uses curve NIST P-192, want NIST P-256";
		case TPM2_ECC_NIST_P224:
			return "AK uses curve NIST P-224, want NIST P-256";
		case TPM2_ECC_NIST_P384:
			return "AK uses curve NIST P-384, want NIST P-256";
		case TPM2_ECC_NIST_P521:
			return "AK uses curve NIST P-521, want NIST P-256";
		case TPM2_ECC_BN_P256:
			return "AK uses curve BN P-256, want NIST P-256";
		case TPM2_ECC_SM2_P256:
			return "AK uses curve SM2 P-256, want NIST P-256";
		default:
			return "AK uses an unknown curve, want NIST P-256";
		}
		if (scheme != TPM2_ALG_ECDSA)
			return "AK's ECC scheme is not ECDSA";
		if (hash != TPM2_ALG_SHA256)
			return "AK's ECDSA hash is not SHA-256";
		if (ep->symmetric.algorithm != TPM2_ALG_NULL)
			return "AK has a symmetric algorithm";
		if (pa->unique.ecc.x.size != 32 || pa->unique.ecc.y.size != 32)
			return "AK's ECC point is not 32+32 bytes";
		return NULL;
	}
	if (pa->type == TPM2_ALG_RSA) {
		const TPMS_RSA_PARMS *rp = &pa->parameters.rsaDetail;

		if (rp->keyBits != 2048)
			return "AK is RSA but not RSA-2048";
		if (scheme != TPM2_ALG_RSASSA && scheme != TPM2_ALG_RSAPSS)
			return "AK's RSA scheme is neither RSASSA nor RSAPSS";
		if (hash != TPM2_ALG_SHA256)
			return "AK's RSA signature hash is not SHA-256";
		if (rp->symmetric.algorithm != TPM2_ALG_NULL)
			return "AK has a symmetric algorithm";
		if (pa->unique.rsa.size != 256)
			return "AK's RSA modulus is not 256 bytes";
		return NULL;
	}
	return "AK is neither ECC nor RSA";
}

int
tpm_ak_check(const TPM2B_PUBLIC *ak, const char **why)
{
	const TPMT_PUBLIC *pa = &ak->publicArea;
	TPMA_OBJECT a = pa->objectAttributes;
	const char *w;

	if (!(a & TPMA_OBJECT_FIXEDTPM))
		w = "AK lacks fixedTPM";
	else if (!(a & TPMA_OBJECT_FIXEDPARENT))
		w = "AK lacks fixedParent";
	else if (!(a & TPMA_OBJECT_SENSITIVEDATAORIGIN))
		w = "AK lacks sensitiveDataOrigin";
	else if (!(a & TPMA_OBJECT_RESTRICTED))
		w = "AK is not restricted";
	else if (a & TPMA_OBJECT_DECRYPT)
		w = "AK may decrypt";
	else if (!(a & TPMA_OBJECT_SIGN_ENCRYPT))
		w = "AK is not a signing key";
	else if (pa->nameAlg != TPM2_ALG_SHA256 &&
	    pa->nameAlg != TPM2_ALG_SHA384 && pa->nameAlg != TPM2_ALG_SHA512)
		w = "AK name algorithm is not SHA-256, SHA-384 or SHA-512";
	else
		w = tpm_ak_check_alg(pa);
	if (w == NULL)
		return 0;
	log_warn("ak check: %s", w);
	SET_WHY(why, w);
	return VIGIL_EVERIFY;
}

static int
tpm_rsa_to_evp(const TPMT_PUBLIC *pa, EVP_PKEY **out)
{
	const TPMS_RSA_PARMS *rp = &pa->parameters.rsaDetail;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;
	uint32_t exp = rp->exponent ? rp->exponent : 65537;
	int r = VIGIL_ECRYPTO;

	if (pa->unique.rsa.size == 0 ||
	    (size_t)pa->unique.rsa.size * 8 != rp->keyBits) {
		log_warn("tpm public: RSA modulus of %u bytes for keyBits %u",
		    pa->unique.rsa.size, rp->keyBits);
		return VIGIL_EINVAL;
	}
	if ((n = BN_bin2bn(pa->unique.rsa.buffer, pa->unique.rsa.size,
	    NULL)) == NULL || (e = BN_new()) == NULL ||
	    BN_set_word(e, exp) != 1)
		goto out;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		log_warn("tpm public: EVP_PKEY_fromdata(RSA) failed");
		goto out;
	}
	*out = pkey;
	pkey = NULL;
	r = 0;
 out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return r;
}

/* OpenSSL group name and field size of a TPM curve (P-256, P-384). */
int
tpm_curve_info(uint16_t curve, const char **group, size_t *field_len)
{
	switch (curve) {
	case TPM2_ECC_NIST_P256:
		*group = "P-256";
		*field_len = 32;
		return 0;
	case TPM2_ECC_NIST_P384:
		*group = "P-384";
		*field_len = 48;
		return 0;
	}
	log_warn("tpm public: curve %s (0x%04x) not supported",
	    tpm_curve_name(curve), curve);
	return VIGIL_EUNSUPP;
}

static int
tpm_ecc_to_evp(const TPMT_PUBLIC *pa, EVP_PKEY **out)
{
	const TPMS_ECC_POINT *pt = &pa->unique.ecc;
	uint8_t point[1 + 2 * 48];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	EVP_PKEY *pkey = NULL;
	const char *group;
	size_t fl;
	int r;

	if ((r = tpm_curve_info(pa->parameters.eccDetail.curveID, &group,
	    &fl)) != 0)
		return r;
	if (pt->x.size == 0 || pt->x.size > fl || pt->y.size == 0 ||
	    pt->y.size > fl) {
		log_warn("tpm public: ECC point coordinates of %u/%u bytes "
		    "for a %zu-byte field", pt->x.size, pt->y.size, fl);
		return VIGIL_EINVAL;
	}
	/* Uncompressed point, coordinates left-padded to the field size. */
	memset(point, 0, sizeof(point));
	point[0] = 0x04;
	memcpy(point + 1 + fl - pt->x.size, pt->x.buffer, pt->x.size);
	memcpy(point + 1 + 2 * fl - pt->y.size, pt->y.buffer, pt->y.size);
	r = VIGIL_ECRYPTO;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    point, 1 + 2 * fl) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		log_warn("tpm public: EVP_PKEY_fromdata(EC %s) failed: point "
		    "not on the curve?", group);
		r = VIGIL_EINVAL;
		goto out;
	}
	if ((chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    EVP_PKEY_public_check(chk) != 1) {
		log_warn("tpm public: ECC point fails the public key check");
		r = VIGIL_EINVAL;
		goto out;
	}
	*out = pkey;
	pkey = NULL;
	r = 0;
 out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

int
tpm_public_to_evp(const TPM2B_PUBLIC *pub, EVP_PKEY **out)
{
	switch (pub->publicArea.type) {
	case TPM2_ALG_RSA:
		return tpm_rsa_to_evp(&pub->publicArea, out);
	case TPM2_ALG_ECC:
		return tpm_ecc_to_evp(&pub->publicArea, out);
	}
	log_warn("tpm public: key type %s (0x%04x) not supported",
	    tpm_alg_name(pub->publicArea.type), pub->publicArea.type);
	return VIGIL_EUNSUPP;
}

int
tpm_ek_matches_cert(const TPM2B_PUBLIC *ek, const uint8_t *der,
    size_t derlen, const char **why)
{
	const unsigned char *p = der;
	EVP_PKEY *ekkey = NULL;
	X509 *x = NULL;
	int r;

	if (derlen == 0 || derlen > 16384) {
		SET_WHY(why, "EK certificate is empty or too large");
		log_warn("ek cert: %zu bytes", derlen);
		return VIGIL_EINVAL;
	}
	if ((x = d2i_X509(NULL, &p, (long)derlen)) == NULL ||
	    p != der + derlen) {
		SET_WHY(why, "EK certificate is not one DER X.509 certificate");
		if (x == NULL)
			log_warn("ek cert: d2i_X509 failed on %zu bytes",
			    derlen);
		else
			log_warn("ek cert: %zu trailing bytes after the "
			    "certificate", (size_t)(der + derlen - p));
		r = VIGIL_EINVAL;
		goto out;
	}
	if ((r = tpm_public_to_evp(ek, &ekkey)) != 0) {
		SET_WHY(why, "EK public area is not a usable RSA or ECC key");
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(x), ekkey) != 1) {
		SET_WHY(why, "EK certificate does not certify this EK");
		log_warn("ek cert: public key differs from the EK's");
		r = VIGIL_EVERIFY;
		goto out;
	}
	r = 0;
 out:
	EVP_PKEY_free(ekkey);
	X509_free(x);
	return r;
}

int
quote_parse(const uint8_t *attest, size_t attest_len, const uint8_t *sig,
    size_t sig_len, struct quote *out, const char **why)
{
	TPM2B_ATTEST a;
	size_t off = 0, aoff = 0;
	TSS2_RC rc;

	memset(out, 0, sizeof(*out));
	rc = Tss2_MU_TPM2B_ATTEST_Unmarshal(attest, attest_len, &off, &a);
	if (rc != TSS2_RC_SUCCESS || off != attest_len) {
		SET_WHY(why, "quote attest is not one TPM2B_ATTEST");
		log_warn("quote: TPM2B_ATTEST rc=0x%x consumed %zu of %zu",
		    (unsigned)rc, off, attest_len);
		return VIGIL_EINVAL;
	}
	rc = Tss2_MU_TPMS_ATTEST_Unmarshal(a.attestationData, a.size, &aoff,
	    &out->attest);
	if (rc != TSS2_RC_SUCCESS || aoff != a.size) {
		SET_WHY(why, "quote attest is not one TPMS_ATTEST");
		log_warn("quote: TPMS_ATTEST rc=0x%x consumed %zu of %u",
		    (unsigned)rc, aoff, a.size);
		return VIGIL_EINVAL;
	}
	if (out->attest.magic != TPM2_GENERATED_VALUE) {
		SET_WHY(why, "quote magic is not TPM_GENERATED_VALUE");
		log_warn("quote: magic 0x%08x", out->attest.magic);
		return VIGIL_EVERIFY;
	}
	if (out->attest.type != TPM2_ST_ATTEST_QUOTE) {
		SET_WHY(why, "attestation is not a quote (TPM_ST_ATTEST_QUOTE)");
		log_warn("quote: type 0x%04x", out->attest.type);
		return VIGIL_EVERIFY;
	}
	off = 0;
	rc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(sig, sig_len, &off, &out->sig);
	if (rc != TSS2_RC_SUCCESS || off != sig_len) {
		SET_WHY(why, "quote signature is not one TPMT_SIGNATURE");
		log_warn("quote: TPMT_SIGNATURE rc=0x%x consumed %zu of %zu",
		    (unsigned)rc, off, sig_len);
		return VIGIL_EINVAL;
	}
	out->attest_bytes = attest + 2;
	out->attest_len = a.size;
	return 0;
}

/* r || s of a TPM ECDSA signature as the DER ECDSA-Sig-Value. */
static int
quote_ecdsa_der(const TPMS_SIGNATURE_ECC *es, unsigned char **der,
    int *derlen)
{
	ECDSA_SIG *s = NULL;
	BIGNUM *r = NULL, *ss = NULL;
	int e = VIGIL_ECRYPTO;

	*der = NULL;
	if ((r = BN_bin2bn(es->signatureR.buffer, es->signatureR.size,
	    NULL)) == NULL ||
	    (ss = BN_bin2bn(es->signatureS.buffer, es->signatureS.size,
	    NULL)) == NULL || (s = ECDSA_SIG_new()) == NULL)
		goto out;
	if (ECDSA_SIG_set0(s, r, ss) != 1)
		goto out;
	r = ss = NULL;
	if ((*derlen = i2d_ECDSA_SIG(s, der)) <= 0)
		goto out;
	e = 0;
 out:
	BN_free(r);
	BN_free(ss);
	ECDSA_SIG_free(s);
	return e;
}

int
quote_verify_sig(const struct quote *q, const TPM2B_PUBLIC *ak,
    const char **why)
{
	const TPMT_SIGNATURE *sig = &q->sig;
	TPM2_ALG_ID scheme;
	TPMI_ALG_HASH hash, sighash;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *key = NULL;
	unsigned char *der = NULL;
	const unsigned char *sp;
	const EVP_MD *md;
	size_t slen;
	int derlen = 0, r;

	tpm_sign_scheme(&ak->publicArea, &scheme, &hash);
	if (scheme == TPM2_ALG_NULL || (md = tpm_alg_md(hash)) == NULL) {
		SET_WHY(why, "AK has no usable signing scheme");
		log_warn("quote sig: AK scheme %s hash %s", tpm_alg_name(scheme),
		    tpm_alg_name(hash));
		return VIGIL_EVERIFY;
	}
	/* Every TPMS_SIGNATURE_* of a hash-based scheme starts with hash. */
	sighash = sig->signature.any.hashAlg;
	if (sig->sigAlg != scheme || sighash != hash) {
		SET_WHY(why, "quote signature algorithm or hash differs from "
		    "the AK's scheme");
		log_warn("quote sig: signed with %s/%s, AK's scheme is %s/%s",
		    tpm_alg_name(sig->sigAlg), tpm_alg_name(sighash),
		    tpm_alg_name(scheme), tpm_alg_name(hash));
		return VIGIL_EVERIFY;
	}
	if ((r = tpm_public_to_evp(ak, &key)) != 0) {
		SET_WHY(why, "AK public area is not a usable key");
		return r;
	}
	r = VIGIL_ECRYPTO;
	if (scheme == TPM2_ALG_ECDSA) {
		if (quote_ecdsa_der(&sig->signature.ecdsa, &der, &derlen) != 0)
			goto out;
		sp = der;
		slen = (size_t)derlen;
	} else if (scheme == TPM2_ALG_RSASSA || scheme == TPM2_ALG_RSAPSS) {
		sp = sig->signature.rsassa.sig.buffer;
		slen = sig->signature.rsassa.sig.size;
	} else {
		SET_WHY(why, "AK signing scheme not supported");
		log_warn("quote sig: scheme %s not supported",
		    tpm_alg_name(scheme));
		r = VIGIL_EUNSUPP;
		goto out;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mctx, &pctx, md, NULL, key) != 1)
		goto out;
	if (scheme == TPM2_ALG_RSASSA &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	if (scheme == TPM2_ALG_RSAPSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1))
		goto out;
	if (EVP_DigestVerify(mctx, sp, slen, q->attest_bytes,
	    q->attest_len) != 1) {
		SET_WHY(why, "quote signature does not verify with the AK");
		log_warn("quote sig: %s signature does not verify",
		    tpm_alg_name(scheme));
		r = VIGIL_EVERIFY;
		goto out;
	}
	r = 0;
 out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(key);
	return r;
}

static const char *
quote_bank_why(TPMI_ALG_HASH h)
{
	switch (h) {
	case TPM2_ALG_SHA1:	return "quote selects bank SHA-1";
	case TPM2_ALG_SHA384:	return "quote selects bank SHA-384";
	case TPM2_ALG_SHA512:	return "quote selects bank SHA-512";
	case TPM2_ALG_SM3_256:	return "quote selects bank SM3-256";
	}
	return "quote selects an unknown bank";
}

int
quote_selected_mask(const struct quote *q, uint32_t *mask, const char **why)
{
	const TPML_PCR_SELECTION *sel = &q->attest.attested.quote.pcrSelect;
	const TPMS_PCR_SELECTION *s;
	uint32_t m = 0;
	int seen = 0;
	UINT32 i;
	size_t b;

	for (i = 0; i < sel->count; i++) {
		s = &sel->pcrSelections[i];
		if (s->hash != TPM2_ALG_SHA256) {
			SET_WHY(why, quote_bank_why(s->hash));
			log_warn("quote selects bank %s (0x%04x)",
			    tpm_alg_name(s->hash), s->hash);
			return VIGIL_EVERIFY;
		}
		if (seen) {
			SET_WHY(why, "quote selects the SHA-256 bank twice");
			log_warn("quote selects bank SHA-256 twice");
			return VIGIL_EVERIFY;
		}
		seen = 1;
		for (b = 0; b < s->sizeofSelect; b++) {
			if (b * 8 >= PCR_COUNT) {
				if (s->pcrSelect[b] != 0) {
					SET_WHY(why, "quote selects a PCR "
					    "beyond 23");
					log_warn("quote selects PCR >= %d",
					    PCR_COUNT);
					return VIGIL_EVERIFY;
				}
				continue;
			}
			m |= (uint32_t)s->pcrSelect[b] << (8 * b);
		}
	}
	*mask = m;
	return 0;
}

int
quote_pcr_digest(const struct pcrs *vals, uint32_t mask,
    uint8_t out[SHA256_LEN])
{
	EVP_MD_CTX *ctx = NULL;
	unsigned int dlen = 0;
	int i, r = VIGIL_ECRYPTO;

	if (mask >> PCR_COUNT) {
		log_warn("pcr digest: mask 0x%08x names PCRs beyond %d", mask,
		    PCR_COUNT - 1);
		return VIGIL_EINVAL;
	}
	if ((vals->mask & mask) != mask) {
		log_warn("pcr digest: values for mask 0x%06x missing PCRs "
		    "0x%06x", mask, mask & ~vals->mask);
		return VIGIL_EINVAL;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	for (i = 0; i < PCR_COUNT; i++)
		if ((mask & (1u << i)) &&
		    EVP_DigestUpdate(ctx, vals->v[i], SHA256_LEN) != 1)
			goto out;
	if (EVP_DigestFinal_ex(ctx, out, &dlen) != 1 || dlen != SHA256_LEN)
		goto out;
	r = 0;
 out:
	EVP_MD_CTX_free(ctx);
	return r;
}
