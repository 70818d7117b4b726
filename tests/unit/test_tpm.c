/* agent/tpm.c against a real swtpm (VIGIL_TEST_TCTI): EKs and their
 * certificates, the AK, credential activation against tpm2-tools'
 * software MakeCredential, quotes, PCRs, the clock, and the flushing of
 * what dead clients left behind. Skipped without a TPM. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include "buf.h"
#include "err.h"
#include "tpm_parse.h"
#include "agent/tpm.h"

static const char *tcti;

#define NEED_TPM() do {							\
	if (tcti == NULL)						\
		skip();							\
} while (0)

static struct tpm *
t_open(void)
{
	struct tpm *t = NULL;

	assert_int_equal(tpm_open(tcti, &t), 0);
	assert_non_null(t);
	return t;
}

static void
t_unmarshal_public(const struct buf *b, TPM2B_PUBLIC *pub)
{
	size_t off = 0;

	memset(pub, 0, sizeof(*pub));
	assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Unmarshal(b->data, b->len, &off,
	    pub), TSS2_RC_SUCCESS);
	assert_int_equal(off, b->len);
}

/* The public key of a TPM RSA or ECC object, built independently of
 * common/tpm_parse.c. */
static EVP_PKEY *
t_public_to_evp(const TPM2B_PUBLIC *pub)
{
	const TPMT_PUBLIC *a = &pub->publicArea;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	BIGNUM *n = NULL, *e = NULL;
	uint8_t point[1 + 2 * 66];
	size_t fl;

	assert_non_null(bld);
	if (a->type == TPM2_ALG_RSA) {
		n = BN_bin2bn(a->unique.rsa.buffer, a->unique.rsa.size, NULL);
		e = BN_new();
		assert_non_null(n);
		assert_non_null(e);
		assert_int_equal(BN_set_word(e, a->parameters.rsaDetail.exponent ?
		    a->parameters.rsaDetail.exponent : 65537), 1);
		assert_int_equal(OSSL_PARAM_BLD_push_BN(bld,
		    OSSL_PKEY_PARAM_RSA_N, n), 1);
		assert_int_equal(OSSL_PARAM_BLD_push_BN(bld,
		    OSSL_PKEY_PARAM_RSA_E, e), 1);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else {
		assert_int_equal(a->type, TPM2_ALG_ECC);
		fl = a->parameters.eccDetail.curveID == TPM2_ECC_NIST_P384 ?
		    48 : 32;
		assert_int_equal(a->unique.ecc.x.size, fl);
		assert_int_equal(a->unique.ecc.y.size, fl);
		point[0] = 4;
		memcpy(point + 1, a->unique.ecc.x.buffer, fl);
		memcpy(point + 1 + fl, a->unique.ecc.y.buffer, fl);
		assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(bld,
		    OSSL_PKEY_PARAM_GROUP_NAME, fl == 48 ? "P-384" : "P-256",
		    0), 1);
		assert_int_equal(OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * fl), 1);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	}
	assert_non_null(ctx);
	assert_non_null(params = OSSL_PARAM_BLD_to_param(bld));
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY,
	    params), 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	return pk;
}

static void
t_ek_matches_cert(enum tpm_ek_kind kind)
{
	struct buf pub = BUF_INIT, cert = BUF_INIT;
	TPM2B_PUBLIC p;
	const unsigned char *d;
	EVP_PKEY *pk;
	X509 *x;
	struct tpm *t;

	NEED_TPM();
	t = t_open();
	assert_int_equal(tpm_ek_read(t, kind, &pub, &cert), 0);
	tpm_close(t);
	t_unmarshal_public(&pub, &p);
	assert_int_equal(p.publicArea.type,
	    kind == TPM_EK_RSA ? TPM2_ALG_RSA : TPM2_ALG_ECC);
	if (kind == TPM_EK_ECC) {
		assert_int_equal(p.publicArea.parameters.eccDetail.curveID,
		    TPM2_ECC_NIST_P384);
		assert_int_equal(p.publicArea.nameAlg, TPM2_ALG_SHA384);
	} else {
		assert_int_equal(p.publicArea.parameters.rsaDetail.keyBits,
		    2048);
	}
	d = cert.data;
	x = d2i_X509(NULL, &d, (long)cert.len);
	assert_non_null(x);
	assert_ptr_equal(d, cert.data + cert.len);
	pk = t_public_to_evp(&p);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), pk), 1);
	EVP_PKEY_free(pk);
	X509_free(x);
	buf_free(&pub);
	buf_free(&cert);
}

static void
test_rsa_ek_public_matches_its_nv_certificate(void **state)
{
	t_ek_matches_cert(TPM_EK_RSA);
}

static void
test_ecc_p384_ek_public_matches_its_nv_certificate(void **state)
{
	t_ek_matches_cert(TPM_EK_ECC);
}

static void
test_ek_kind_parse_accepts_rsa_p256_p384_and_ecc(void **state)
{
	enum tpm_ek_kind k;

	assert_int_equal(tpm_ek_kind_parse("rsa", &k), 0);
	assert_int_equal(k, TPM_EK_RSA);
	assert_int_equal(tpm_ek_kind_parse("ecc", &k), 0);
	assert_int_equal(k, TPM_EK_ECC);
	assert_int_equal(tpm_ek_kind_parse("p384", &k), 0);
	assert_int_equal(k, TPM_EK_ECC);
	assert_int_equal(tpm_ek_kind_parse("p256", &k), 0);
	assert_int_equal(k, TPM_EK_P256);
	assert_string_equal(tpm_ek_kind_name(TPM_EK_P256), "p256");
	assert_int_equal(tpm_ek_handle(TPM_EK_P256), 0x81010002u);
	assert_int_equal(tpm_ek_cert_index(TPM_EK_P256), 0x01c0000au);
	assert_int_equal(tpm_ek_cert_index(TPM_EK_RSA), 0x01c00002u);
	assert_int_equal(tpm_ek_cert_index(TPM_EK_ECC), 0x01c00016u);
	assert_int_equal(tpm_ek_kind_parse("P256", &k), VIGIL_EINVAL);
	assert_int_equal(tpm_ek_kind_parse("RSA", &k), VIGIL_EINVAL);
	assert_int_equal(tpm_ek_kind_parse("", &k), VIGIL_EINVAL);
}

static void
test_open_fails_cleanly_when_no_tpm_listens(void **state)
{
	struct tpm *t = NULL;

	/* Port 1 on loopback: nothing listens there. */
	assert_int_equal(tpm_open("swtpm:host=127.0.0.1,port=1", &t),
	    VIGIL_ETPM);
	assert_null(t);
}

/* Evicts the persistent object at h with tpm2-tools (as an operator, or
 * a TPM that ships without persisted EKs, would leave it). */
static void
t_evict(uint32_t h)
{
	char cmd[512];

	assert_true((size_t)snprintf(cmd, sizeof(cmd), "tpm2_evictcontrol "
	    "-T '%s' -C o -c 0x%08x >/dev/null 2>&1", tcti, h) < sizeof(cmd));
	assert_int_equal(system(cmd), 0);
}

/* swtpm_setup provisions no P-256 EK: the agent creates it from template
 * L-2 at 0x81010002, and it is the same key every time (the endorsement
 * seed and the template fix it), so a certificate made for it once
 * certifies it after an eviction too. swtpm has no NV 0x01c0000a. */
static void
test_p256_ek_is_created_from_template_l2_and_has_no_nv_certificate(
    void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;
	const char *why = NULL;
	TPM2B_PUBLIC p;
	unsigned tmpl = 0;
	struct tpm *t;

	NEED_TPM();
	t = t_open();
	assert_int_equal(tpm_ek_public(t, TPM_EK_P256, &a), 0);
	assert_int_equal(tpm_ek_cert(t, TPM_EK_P256, &c), VIGIL_ENOTFOUND);
	assert_int_equal(tpm_ek_read(t, TPM_EK_P256, &b, &c),
	    VIGIL_ENOTFOUND);
	tpm_close(t);
	t_unmarshal_public(&a, &p);
	assert_int_equal(tpm_ek_template(&p, &tmpl, &why), 0);
	assert_int_equal(tmpl, TPM_EK_L2);
	assert_int_equal(b.len, a.len);
	assert_memory_equal(b.data, a.data, a.len);
	t_evict(TPM_HANDLE_EK_P256);
	t = t_open();
	assert_int_equal(tpm_ek_public(t, TPM_EK_P256, &b), 0);
	tpm_close(t);
	assert_int_equal(b.len, a.len);
	assert_memory_equal(b.data, a.data, a.len);
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
}

/* A TPM whose RSA or P-384 EK is not persisted (TPMs ship so): the
 * agent recreates it from template L-1 / H-3 and it is the key swtpm's
 * NV certificate certifies. */
static void
t_ek_recreated_matches_cert(enum tpm_ek_kind kind, unsigned want_tmpl)
{
	struct buf a = BUF_INIT, b = BUF_INIT, cert = BUF_INIT;
	const char *why = NULL;
	TPM2B_PUBLIC p;
	unsigned tmpl = 0;
	struct tpm *t;

	NEED_TPM();
	t = t_open();
	assert_int_equal(tpm_ek_public(t, kind, &a), 0);
	tpm_close(t);
	t_evict(tpm_ek_handle(kind));
	t = t_open();
	assert_int_equal(tpm_ek_read(t, kind, &b, &cert), 0);
	tpm_close(t);
	assert_int_equal(b.len, a.len);
	assert_memory_equal(b.data, a.data, a.len);
	t_unmarshal_public(&b, &p);
	assert_int_equal(tpm_ek_template(&p, &tmpl, &why), 0);
	assert_int_equal(tmpl, want_tmpl);
	assert_int_equal(tpm_ek_matches_cert(&p, cert.data, cert.len, &why),
	    0);
	buf_free(&a);
	buf_free(&b);
	buf_free(&cert);
}

static void
test_rsa_ek_recreated_from_template_l1_matches_its_certificate(
    void **state)
{
	t_ek_recreated_matches_cert(TPM_EK_RSA, TPM_EK_L1);
}

static void
test_p384_ek_recreated_from_template_h3_matches_its_certificate(
    void **state)
{
	t_ek_recreated_matches_cert(TPM_EK_ECC, TPM_EK_H3);
}

static void
test_ak_ensure_is_idempotent_and_has_ak_attributes(void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	TPM2B_PUBLIC p;
	struct tpm *t;

	NEED_TPM();
	t = t_open();
	assert_int_equal(tpm_ak_ensure(t, TPM_EK_RSA, &a), 0);
	assert_int_equal(tpm_ak_ensure(t, TPM_EK_RSA, &b), 0);
	tpm_close(t);
	/* And across connections. */
	t = t_open();
	assert_int_equal(tpm_ak_ensure(t, TPM_EK_RSA, &b), 0);
	tpm_close(t);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	t_unmarshal_public(&a, &p);
	assert_int_equal(p.publicArea.type, TPM2_ALG_ECC);
	assert_int_equal(p.publicArea.nameAlg, TPM2_ALG_SHA256);
	assert_int_equal(p.publicArea.objectAttributes,
	    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
	    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT);
	assert_int_equal(p.publicArea.parameters.eccDetail.curveID,
	    TPM2_ECC_NIST_P256);
	assert_int_equal(p.publicArea.parameters.eccDetail.scheme.scheme,
	    TPM2_ALG_ECDSA);
	assert_int_equal(
	    p.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg,
	    TPM2_ALG_SHA256);
	buf_free(&a);
	buf_free(&b);
}

static void
test_ak_ensure_recreates_the_ak_under_the_other_ek_kind(void **state)
{
	struct buf r1 = BUF_INIT, e1 = BUF_INIT, e2 = BUF_INIT, r2 = BUF_INIT;
	struct tpm *t;

	NEED_TPM();
	t = t_open();
	assert_int_equal(tpm_ak_ensure(t, TPM_EK_RSA, &r1), 0);
	assert_int_equal(tpm_ak_ensure(t, TPM_EK_ECC, &e1), 0);
	assert_int_equal(tpm_ak_ensure(t, TPM_EK_ECC, &e2), 0);
	assert_int_equal(tpm_ak_ensure(t, TPM_EK_RSA, &r2), 0);
	tpm_close(t);
	/* A new key each time the EK kind changes, the same one otherwise. */
	assert_true(r1.len != e1.len || memcmp(r1.data, e1.data, r1.len) != 0);
	assert_int_equal(e1.len, e2.len);
	assert_memory_equal(e1.data, e2.data, e1.len);
	assert_true(e1.len != r2.len || memcmp(e1.data, r2.data, e1.len) != 0);
	buf_free(&r1);
	buf_free(&e1);
	buf_free(&e2);
	buf_free(&r2);
}

/* Writes n bytes to a fresh file in dir. */
static void
t_write(const char *dir, const char *name, const void *p, size_t n,
    char *path, size_t cap)
{
	FILE *f;

	assert_true((size_t)snprintf(path, cap, "%s/%s", dir, name) < cap);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void
t_ak_name_hex(const struct buf *ak_pub, char hex[2 * 34 + 1])
{
	uint8_t tmp[sizeof(TPMT_PUBLIC)], name[34];
	TPM2B_PUBLIC p;
	unsigned int dl;
	size_t off = 0;

	t_unmarshal_public(ak_pub, &p);
	assert_int_equal(Tss2_MU_TPMT_PUBLIC_Marshal(&p.publicArea, tmp,
	    sizeof(tmp), &off), TSS2_RC_SUCCESS);
	name[0] = 0x00;
	name[1] = 0x0b;
	assert_int_equal(EVP_Digest(tmp, off, name + 2, &dl, EVP_sha256(),
	    NULL), 1);
	hex_encode(name, sizeof(name), hex);
}

/* tpm2_makecredential -T none writes: u32be 0xBADCC0DE, u32be version 1,
 * TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET. */
static void
t_makecredential(const struct buf *ek_pub, const struct buf *ak_pub,
    const uint8_t *secret, size_t secret_len, struct buf *cred,
    struct buf *esec)
{
	char dir[] = "/tmp/vigil-test-tpm.XXXXXX";
	char ekf[256], secf[256], outf[256], cmd[1024], name[69];
	uint8_t *out = NULL;
	size_t len, clen, slen;

	assert_non_null(mkdtemp(dir));
	t_write(dir, "ek.pub", ek_pub->data, ek_pub->len, ekf, sizeof(ekf));
	t_write(dir, "secret", secret, secret_len, secf, sizeof(secf));
	assert_true((size_t)snprintf(outf, sizeof(outf), "%s/cred", dir) <
	    sizeof(outf));
	t_ak_name_hex(ak_pub, name);
	assert_true((size_t)snprintf(cmd, sizeof(cmd),
	    "tpm2_makecredential -T none -u %s -s %s -n %s -o %s "
	    ">/dev/null 2>&1", ekf, secf, name, outf) < sizeof(cmd));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(file_read(outf, 65536, &out, &len), 0);
	assert_true(len > 12);
	assert_memory_equal(out, "\xba\xdc\xc0\xde\x00\x00\x00\x01", 8);
	clen = 2 + ((size_t)out[8] << 8 | out[9]);
	assert_true(8 + clen + 2 <= len);
	slen = 2 + ((size_t)out[8 + clen] << 8 | out[8 + clen + 1]);
	assert_int_equal(8 + clen + slen, len);
	cred->len = esec->len = 0;
	assert_int_equal(buf_add(cred, out + 8, clen), 0);
	assert_int_equal(buf_add(esec, out + 8 + clen, slen), 0);
	free(out);
	assert_true((size_t)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir) <
	    sizeof(cmd));
	assert_int_equal(system(cmd), 0);
}

static void
t_activate(enum tpm_ek_kind kind)
{
	struct buf ek = BUF_INIT, cert = BUF_INIT, ak = BUF_INIT;
	struct buf cred = BUF_INIT, esec = BUF_INIT, got = BUF_INIT;
	uint8_t secret[32];
	struct tpm *t;

	NEED_TPM();
	assert_int_equal(RAND_bytes(secret, sizeof(secret)), 1);
	t = t_open();
	assert_int_equal(tpm_ek_public(t, kind, &ek), 0);
	assert_int_equal(tpm_ak_ensure(t, kind, &ak), 0);
	tpm_close(t);
	t_makecredential(&ek, &ak, secret, sizeof(secret), &cred, &esec);
	t = t_open();
	assert_int_equal(tpm_activate(t, kind, cred.data, cred.len,
	    esec.data, esec.len, &got), 0);
	assert_int_equal(got.len, sizeof(secret));
	assert_memory_equal(got.data, secret, sizeof(secret));
	/* A credential whose integrity HMAC was flipped is refused. */
	cred.data[cred.len - 1] ^= 1;
	assert_int_equal(tpm_activate(t, kind, cred.data, cred.len,
	    esec.data, esec.len, &got), VIGIL_ETPM);
	/* Trailing bytes after the TPM2B are malformed input. */
	cred.data[cred.len - 1] ^= 1;
	assert_int_equal(buf_add_u8(&cred, 0), 0);
	assert_int_equal(tpm_activate(t, kind, cred.data, cred.len,
	    esec.data, esec.len, &got), VIGIL_EINVAL);
	tpm_close(t);
	buf_free(&ek);
	buf_free(&cert);
	buf_free(&ak);
	buf_free(&cred);
	buf_free(&esec);
	buf_free(&got);
}

static void
test_activate_with_rsa_ek_recovers_makecredential_secret(void **state)
{
	t_activate(TPM_EK_RSA);
}

static void
test_activate_with_ecc_p384_ek_recovers_makecredential_secret(void **state)
{
	t_activate(TPM_EK_ECC);
}

static void
test_activate_with_ecc_p256_ek_recovers_makecredential_secret(void **state)
{
	t_activate(TPM_EK_P256);
}

static void
t_sha256_of_pcrs(const struct pcrs *v, uint32_t mask, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int dl;
	int i;

	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	for (i = 0; i < PCR_COUNT; i++)
		if (mask & (1u << i))
			assert_int_equal(EVP_DigestUpdate(md, v->v[i], 32), 1);
	assert_int_equal(EVP_DigestFinal_ex(md, out, &dl), 1);
	EVP_MD_CTX_free(md);
}

static void
test_quote_carries_nonce_and_digest_of_returned_pcrs(void **state)
{
	struct buf ak = BUF_INIT, attest = BUF_INIT, sig = BUF_INIT;
	struct pcrs vals, again;
	uint8_t nonce[32], dig[32];
	TPM2B_ATTEST a2b;
	TPMS_ATTEST a;
	TPMT_SIGNATURE s;
	TPM2B_PUBLIC akp;
	struct quote q;
	const char *why = NULL;
	size_t off;
	struct tpm *t;

	NEED_TPM();
	assert_int_equal(RAND_bytes(nonce, sizeof(nonce)), 1);
	t = t_open();
	assert_int_equal(tpm_ak_ensure(t, TPM_EK_RSA, &ak), 0);
	assert_int_equal(tpm_quote(t, nonce, sizeof(nonce), PCR_POLICY_MASK,
	    &attest, &sig, &vals), 0);
	assert_int_equal(tpm_pcr_read(t, PCR_POLICY_MASK, &again), 0);
	tpm_close(t);
	assert_int_equal(vals.mask, PCR_POLICY_MASK);
	assert_memory_equal(vals.v, again.v, sizeof(vals.v));

	off = 0;
	assert_int_equal(Tss2_MU_TPM2B_ATTEST_Unmarshal(attest.data,
	    attest.len, &off, &a2b), TSS2_RC_SUCCESS);
	assert_int_equal(off, attest.len);
	off = 0;
	memset(&a, 0, sizeof(a));
	assert_int_equal(Tss2_MU_TPMS_ATTEST_Unmarshal(a2b.attestationData,
	    a2b.size, &off, &a), TSS2_RC_SUCCESS);
	assert_int_equal(a.magic, TPM2_GENERATED_VALUE);
	assert_int_equal(a.type, TPM2_ST_ATTEST_QUOTE);
	assert_int_equal(a.extraData.size, sizeof(nonce));
	assert_memory_equal(a.extraData.buffer, nonce, sizeof(nonce));
	assert_int_equal(a.attested.quote.pcrSelect.count, 1);
	assert_int_equal(a.attested.quote.pcrSelect.pcrSelections[0].hash,
	    TPM2_ALG_SHA256);
	t_sha256_of_pcrs(&vals, PCR_POLICY_MASK, dig);
	assert_int_equal(a.attested.quote.pcrDigest.size, 32);
	assert_memory_equal(a.attested.quote.pcrDigest.buffer, dig, 32);

	off = 0;
	assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Unmarshal(sig.data, sig.len,
	    &off, &s), TSS2_RC_SUCCESS);
	assert_int_equal(off, sig.len);
	assert_int_equal(s.sigAlg, TPM2_ALG_ECDSA);
	assert_int_equal(s.signature.ecdsa.hash, TPM2_ALG_SHA256);
	/* The signature verifies with the AK, as the verifier will check
	 * it (common/tpm_parse.c). */
	t_unmarshal_public(&ak, &akp);
	assert_int_equal(quote_parse(attest.data, attest.len, sig.data,
	    sig.len, &q, &why), 0);
	assert_int_equal(quote_verify_sig(&q, &akp, &why), 0);
	attest.data[attest.len - 1] ^= 1;
	assert_int_equal(quote_parse(attest.data, attest.len, sig.data,
	    sig.len, &q, &why), 0);
	assert_int_not_equal(quote_verify_sig(&q, &akp, &why), 0);
	buf_free(&ak);
	buf_free(&attest);
	buf_free(&sig);
}

static void
test_quote_refuses_nonce_over_64_bytes_and_empty_mask(void **state)
{
	struct buf ak = BUF_INIT, attest = BUF_INIT, sig = BUF_INIT;
	uint8_t nonce[65] = { 0 };
	struct pcrs vals;
	struct tpm *t;

	NEED_TPM();
	t = t_open();
	assert_int_equal(tpm_ak_ensure(t, TPM_EK_RSA, &ak), 0);
	assert_int_equal(tpm_quote(t, nonce, sizeof(nonce), PCR_POLICY_MASK,
	    &attest, &sig, &vals), VIGIL_EINVAL);
	assert_int_equal(tpm_quote(t, nonce, 16, 0, &attest, &sig, &vals),
	    VIGIL_EINVAL);
	tpm_close(t);
	buf_free(&ak);
}

static void
test_pcr_extend_chains_sha256_into_the_pcr(void **state)
{
	struct pcrs before, after;
	uint8_t d[32], cat[64], want[32];
	unsigned int dl;
	struct tpm *t;

	NEED_TPM();
	memset(d, 0x5a, sizeof(d));
	t = t_open();
	assert_int_equal(tpm_pcr_read(t, 1u << 16, &before), 0);
	assert_int_equal(tpm_pcr_extend(t, 16, d), 0);
	assert_int_equal(tpm_pcr_read(t, 1u << 16, &after), 0);
	assert_int_equal(tpm_pcr_extend(t, 24, d), VIGIL_EINVAL);
	tpm_close(t);
	memcpy(cat, before.v[16], 32);
	memcpy(cat + 32, d, 32);
	assert_int_equal(EVP_Digest(cat, 64, want, &dl, EVP_sha256(), NULL),
	    1);
	assert_memory_equal(after.v[16], want, 32);
}

static void
test_pcr_read_returns_all_24_pcrs_over_several_calls(void **state)
{
	struct pcrs v;
	uint8_t ff[32];
	struct tpm *t;

	NEED_TPM();
	t = t_open();
	assert_int_equal(tpm_pcr_read(t, 0xffffffu, &v), 0);
	assert_int_equal(tpm_pcr_read(t, 1u << 24, &v), VIGIL_EINVAL);
	assert_int_equal(tpm_pcr_read(t, 0xffffffu, &v), 0);
	tpm_close(t);
	assert_int_equal(v.mask, 0xffffffu);
	/* PCRs 17-22 reset to all ones: only a read past the first 8 PCRs
	 * of a call gets them right. */
	memset(ff, 0xff, sizeof(ff));
	assert_memory_equal(v.v[17], ff, 32);
	assert_memory_equal(v.v[22], ff, 32);
}

static void
test_read_clock_moves_forward_within_one_epoch(void **state)
{
	uint64_t c1, c2;
	uint32_t r1, s1, r2, s2;
	struct tpm *t;

	NEED_TPM();
	t = t_open();
	assert_int_equal(tpm_read_clock(t, &c1, &r1, &s1), 0);
	usleep(20000);
	assert_int_equal(tpm_read_clock(t, &c2, &r2, &s2), 0);
	tpm_close(t);
	assert_true(c2 > c1);
	assert_int_equal(r1, r2);
	assert_int_equal(s1, s2);
}

/* Handles of one type on the TPM, seen on a raw ESAPI connection. */
static uint32_t
t_count_handles(ESYS_CONTEXT *esys, uint32_t first)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	uint32_t n;

	assert_int_equal(Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM2_CAP_HANDLES, first, TPM2_MAX_CAP_HANDLES,
	    &more, &cap), TSS2_RC_SUCCESS);
	n = cap->data.handles.count;
	Esys_Free(cap);
	return n;
}

/* A client that dies: a primary key and a session left on the TPM. */
static void
t_leave_leftovers(void)
{
	const TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
	const TPM2B_SENSITIVE_CREATE sens = { 0 };
	const TPM2B_DATA outside = { 0 };
	const TPML_PCR_SELECTION creation = { 0 };
	TSS2_TCTI_CONTEXT *tc = NULL;
	ESYS_CONTEXT *esys = NULL;
	TPM2B_PUBLIC tmpl, *pub = NULL;
	TPM2B_CREATION_DATA *cd = NULL;
	TPM2B_DIGEST *ch = NULL;
	TPMT_TK_CREATION *tk = NULL;
	ESYS_TR obj, sess;

	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.publicArea.type = TPM2_ALG_ECC;
	tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
	tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;
	tmpl.publicArea.parameters.eccDetail.symmetric.algorithm =
	    TPM2_ALG_NULL;
	tmpl.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	tmpl.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	tmpl.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	assert_int_equal(Tss2_TctiLdr_Initialize(tcti, &tc), TSS2_RC_SUCCESS);
	assert_int_equal(Esys_Initialize(&esys, tc, NULL), TSS2_RC_SUCCESS);
	assert_int_equal(Esys_CreatePrimary(esys, ESYS_TR_RH_OWNER,
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
	    &outside, &creation, &obj, &pub, &cd, &ch, &tk), TSS2_RC_SUCCESS);
	assert_int_equal(Esys_StartAuthSession(esys, ESYS_TR_NONE,
	    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
	    TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256, &sess), TSS2_RC_SUCCESS);
	assert_true(t_count_handles(esys, 0x80000000u) >= 1);
	assert_true(t_count_handles(esys, 0x02000000u) >= 1);
	Esys_Free(pub);
	Esys_Free(cd);
	Esys_Free(ch);
	Esys_Free(tk);
	/* Dies: no flush. */
	Esys_Finalize(&esys);
	Tss2_TctiLdr_Finalize(&tc);
}

static void
test_open_flushes_objects_and_sessions_a_dead_client_left(void **state)
{
	char cmd[512], line[256];
	FILE *p;
	int lines = 0;
	struct tpm *t;

	NEED_TPM();
	t_leave_leftovers();
	t = t_open();
	tpm_close(t);
	/* tpm2-tools sees an empty transient and session list. */
	assert_true((size_t)snprintf(cmd, sizeof(cmd),
	    "tpm2_getcap -T '%s' handles-transient && "
	    "tpm2_getcap -T '%s' handles-loaded-session && "
	    "tpm2_getcap -T '%s' handles-saved-session", tcti, tcti, tcti) <
	    sizeof(cmd));
	assert_non_null(p = popen(cmd, "r"));
	while (fgets(line, sizeof(line), p) != NULL)
		lines++;
	assert_int_equal(pclose(p), 0);
	assert_int_equal(lines, 0);
}

/* A TCP port p on loopback such that p and p + 1 are free now. */
static int
free_port_pair(void)
{
	struct sockaddr_in sa;
	int tries, i, fd[2], port, ok;

	for (tries = 0; tries < 200; tries++) {
		/* Below the kernel's ephemeral range (32768-): no outgoing
		 * connection can take the port before swtpm binds it. */
		port = 10000 + (int)(((unsigned)getpid() * 7919u +
		    (unsigned)tries * 104729u) % 11000u) * 2;
		ok = 1;
		for (i = 0; i < 2; i++) {
			fd[i] = socket(AF_INET, SOCK_STREAM, 0);
			memset(&sa, 0, sizeof(sa));
			sa.sin_family = AF_INET;
			sa.sin_port = htons((uint16_t)(port + i));
			sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if (fd[i] < 0 || bind(fd[i], (struct sockaddr *)&sa,
			    sizeof(sa)) != 0)
				ok = 0;
		}
		for (i = 0; i < 2; i++)
			if (fd[i] >= 0)
				close(fd[i]);
		if (ok)
			return port;
	}
	return -1;
}

/* A TPM that was powered on but never sent TPM2_Startup (swtpm without
 * startup-clear): tpm_open starts it. Runs its own swtpm on a free port. */
static void
test_open_sends_startup_to_a_tpm_that_was_never_started(void **state)
{
	char dir[] = "/tmp/vigil-test-startup.XXXXXX";
	char cmd[1024], spec[128], pidf[256];
	uint8_t *pidtxt = NULL;
	size_t len;
	uint64_t clock;
	uint32_t rc1, rc2;
	struct tpm *t = NULL;
	int port, pid, tries, e = -1;

	NEED_TPM();
	assert_non_null(mkdtemp(dir));
	port = free_port_pair();
	assert_true(port > 0);
	assert_true((size_t)snprintf(pidf, sizeof(pidf), "%s/pid", dir) <
	    sizeof(pidf));
	assert_true((size_t)snprintf(cmd, sizeof(cmd),
	    "swtpm socket --tpm2 --tpmstate dir=%s --flags not-need-init "
	    "--server type=tcp,port=%d,bindaddr=127.0.0.1 "
	    "--ctrl type=tcp,port=%d,bindaddr=127.0.0.1 "
	    "--pid file=%s --daemon", dir, port, port + 1, pidf) <
	    sizeof(cmd));
	assert_int_equal(system(cmd), 0);
	assert_true((size_t)snprintf(spec, sizeof(spec),
	    "swtpm:host=127.0.0.1,port=%d", port) < sizeof(spec));
	for (tries = 0; tries < 50 && e != 0; tries++) {
		if ((e = tpm_open(spec, &t)) != 0)
			usleep(100000);
	}
	if (e == 0) {
		e = tpm_read_clock(t, &clock, &rc1, &rc2);
		tpm_close(t);
	}
	assert_int_equal(file_read(pidf, 64, &pidtxt, &len), 0);
	pid = 0;
	while (len > 0 && pidtxt[0] >= '0' && pidtxt[0] <= '9') {
		pid = pid * 10 + (pidtxt[0] - '0');
		memmove(pidtxt, pidtxt + 1, --len);
	}
	free(pidtxt);
	assert_true(pid > 1);
	kill((pid_t)pid, SIGTERM);
	usleep(200000);
	assert_true((size_t)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir) <
	    sizeof(cmd));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(e, 0);
}

static void
test_tpm2_tools_can_use_the_tpm_after_close(void **state)
{
	char cmd[512];
	struct buf ak = BUF_INIT;
	struct tpm *t;

	NEED_TPM();
	t = t_open();
	assert_int_equal(tpm_ak_ensure(t, TPM_EK_RSA, &ak), 0);
	tpm_close(t);
	assert_true((size_t)snprintf(cmd, sizeof(cmd),
	    "tpm2_pcrread -T '%s' sha256:0 >/dev/null 2>&1", tcti) <
	    sizeof(cmd));
	assert_int_equal(system(cmd), 0);
	buf_free(&ak);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ek_kind_parse_accepts_rsa_p256_p384_and_ecc),
		cmocka_unit_test(test_open_fails_cleanly_when_no_tpm_listens),
		cmocka_unit_test(test_rsa_ek_public_matches_its_nv_certificate),
		cmocka_unit_test(
		    test_ecc_p384_ek_public_matches_its_nv_certificate),
		cmocka_unit_test(
		    test_p256_ek_is_created_from_template_l2_and_has_no_nv_certificate),
		cmocka_unit_test(
		    test_rsa_ek_recreated_from_template_l1_matches_its_certificate),
		cmocka_unit_test(
		    test_p384_ek_recreated_from_template_h3_matches_its_certificate),
		cmocka_unit_test(
		    test_ak_ensure_is_idempotent_and_has_ak_attributes),
		cmocka_unit_test(
		    test_ak_ensure_recreates_the_ak_under_the_other_ek_kind),
		cmocka_unit_test(
		    test_activate_with_rsa_ek_recovers_makecredential_secret),
		cmocka_unit_test(
		    test_activate_with_ecc_p384_ek_recovers_makecredential_secret),
		cmocka_unit_test(
		    test_activate_with_ecc_p256_ek_recovers_makecredential_secret),
		cmocka_unit_test(
		    test_quote_carries_nonce_and_digest_of_returned_pcrs),
		cmocka_unit_test(
		    test_quote_refuses_nonce_over_64_bytes_and_empty_mask),
		cmocka_unit_test(test_pcr_extend_chains_sha256_into_the_pcr),
		cmocka_unit_test(
		    test_pcr_read_returns_all_24_pcrs_over_several_calls),
		cmocka_unit_test(
		    test_read_clock_moves_forward_within_one_epoch),
		cmocka_unit_test(
		    test_open_flushes_objects_and_sessions_a_dead_client_left),
		cmocka_unit_test(test_tpm2_tools_can_use_the_tpm_after_close),
		cmocka_unit_test(
		    test_open_sends_startup_to_a_tpm_that_was_never_started),
	};

	tcti = getenv("VIGIL_TEST_TCTI");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
