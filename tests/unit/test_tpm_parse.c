/* TPM structure parsing and checks: AK attributes, names, EK certificates
 * and quotes, against hand-built structures and a real swtpm (through
 * tpm2-tools, independent of our own TPM code). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <tss2/tss2_mu.h>

#include "buf.h"
#include "err.h"
#include "swquote.h"
#include "tpm_parse.h"

/* ---- tpm2-tools helpers (each test runs in its own temp directory) ---- */

/* Runs a shell command in dir; returns its exit status. */
static int
tt_run(const char *dir, const char *fmt, ...)
{
	char cmd[2048], full[3072];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && { %s ; } >>log 2>&1", dir,
	    cmd);
	st = system(full);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
tt_setup(char *dir, size_t cap)
{
	const char *tcti = getenv("VIGIL_TEST_TCTI");

	if (tcti == NULL)
		return -1;
	setenv("TPM2TOOLS_TCTI", tcti, 1);
	snprintf(dir, cap, "/tmp/vigil-tpmparse.XXXXXX");
	assert_non_null(mkdtemp(dir));
	/* A test that failed earlier may have left objects loaded. */
	tt_run(dir, "tpm2_flushcontext -t; tpm2_flushcontext -l; "
	    "tpm2_flushcontext -s");
	return 0;
}

static void
tt_read(const char *dir, const char *name, uint8_t **p, size_t *len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(file_read(path, 1 << 20, p, len), 0);
}

/* Flushes whatever the tools left loaded and removes the directory. */
static void
tt_cleanup(const char *dir)
{
	char cmd[600];

	tt_run(dir, "tpm2_flushcontext -t; tpm2_flushcontext -l; "
	    "tpm2_flushcontext -s");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
tt_read_public(const char *dir, const char *file, TPM2B_PUBLIC *pub)
{
	uint8_t *p;
	size_t len;

	tt_read(dir, file, &p, &len);
	assert_int_equal(tpm_public_parse(p, len, pub), 0);
	free(p);
}

/* An ECC restricted signing key under the RSA EK, context in ak.ctx,
 * public area (TPM2B_PUBLIC) in ak.pub, name in ak.name. */
static void
tt_createak(const char *dir, const char *prefix)
{
	assert_int_equal(tt_run(dir, "tpm2_createak -C 0x81010001 -c %s.ctx "
	    "-G ecc -g sha256 -s ecdsa -u %s.pub -f tss -n %s.name && "
	    "tpm2_flushcontext -t", prefix, prefix, prefix), 0);
}

/* ---- hand-built public areas ---- */

static TPM2B_PUBLIC
good_ecc_ak(void)
{
	struct swquote *sq;
	TPM2B_PUBLIC pub;

	assert_int_equal(swquote_new(&sq), 0);
	assert_int_equal(swquote_ak_public(sq, &pub), 0);
	swquote_free(sq);
	return pub;
}

static void
test_ak_check_accepts_a_restricted_ecdsa_p256_key(void **state)
{
	TPM2B_PUBLIC ak = good_ecc_ak();
	const char *why = NULL;

	assert_int_equal(tpm_ak_check(&ak, &why), 0);
	assert_null(why);
}

static void
expect_ak_refused(TPM2B_PUBLIC *ak, const char *msg)
{
	const char *why = NULL;

	assert_int_equal(tpm_ak_check(ak, &why), VIGIL_EVERIFY);
	assert_non_null(why);
	assert_string_equal(why, msg);
}

static void
test_ak_check_names_each_bad_attribute(void **state)
{
	static const struct {
		TPMA_OBJECT clear, set;
		const char *why;
	} cases[] = {
		{ TPMA_OBJECT_FIXEDTPM, 0, "AK lacks fixedTPM" },
		{ TPMA_OBJECT_FIXEDPARENT, 0, "AK lacks fixedParent" },
		{ TPMA_OBJECT_SENSITIVEDATAORIGIN, 0,
		    "AK lacks sensitiveDataOrigin" },
		{ TPMA_OBJECT_RESTRICTED, 0, "AK is not restricted" },
		{ 0, TPMA_OBJECT_DECRYPT, "AK may decrypt" },
		{ TPMA_OBJECT_SIGN_ENCRYPT, 0, "AK is not a signing key" },
	};
	TPM2B_PUBLIC ak;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ak = good_ecc_ak();
		ak.publicArea.objectAttributes &= ~cases[i].clear;
		ak.publicArea.objectAttributes |= cases[i].set;
		expect_ak_refused(&ak, cases[i].why);
	}
	/* The first failed attribute is named. */
	ak = good_ecc_ak();
	ak.publicArea.objectAttributes &= ~(TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_RESTRICTED);
	expect_ak_refused(&ak, "AK lacks fixedTPM");
}

static void
test_ak_check_names_bad_algorithms(void **state)
{
	TPM2B_PUBLIC ak;

	ak = good_ecc_ak();
	ak.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
	expect_ak_refused(&ak, "AK uses curve NIST P-384, want NIST P-256");
	ak = good_ecc_ak();
	ak.publicArea.parameters.eccDetail.curveID = TPM2_ECC_BN_P256;
	expect_ak_refused(&ak, "AK uses curve BN P-256, want NIST P-256");
	ak = good_ecc_ak();
	ak.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDAA;
	expect_ak_refused(&ak, "AK's ECC scheme is not ECDSA");
	ak = good_ecc_ak();
	ak.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg =
	    TPM2_ALG_SHA1;
	expect_ak_refused(&ak, "AK's ECDSA hash is not SHA-256");
	ak = good_ecc_ak();
	ak.publicArea.nameAlg = TPM2_ALG_SHA1;
	expect_ak_refused(&ak,
	    "AK name algorithm is not SHA-256, SHA-384 or SHA-512");
	ak = good_ecc_ak();
	ak.publicArea.type = TPM2_ALG_KEYEDHASH;
	expect_ak_refused(&ak, "AK is neither ECC nor RSA");

	/* RSA: 2048 bits, RSASSA or RSAPSS with SHA-256. */
	memset(&ak, 0, sizeof(ak));
	ak.publicArea.type = TPM2_ALG_RSA;
	ak.publicArea.nameAlg = TPM2_ALG_SHA256;
	ak.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
	ak.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	ak.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSAPSS;
	ak.publicArea.parameters.rsaDetail.scheme.details.rsapss.hashAlg =
	    TPM2_ALG_SHA256;
	ak.publicArea.parameters.rsaDetail.keyBits = 2048;
	ak.publicArea.unique.rsa.size = 256;
	assert_int_equal(tpm_ak_check(&ak, NULL), 0);
	ak.publicArea.parameters.rsaDetail.keyBits = 1024;
	expect_ak_refused(&ak, "AK is RSA but not RSA-2048");
	ak.publicArea.parameters.rsaDetail.keyBits = 2048;
	ak.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSAES;
	expect_ak_refused(&ak, "AK's RSA scheme is neither RSASSA nor RSAPSS");
}

static void
test_public_parse_rejects_trailing_bytes(void **state)
{
	TPM2B_PUBLIC ak = good_ecc_ak(), back;
	uint8_t buf[sizeof(TPM2B_PUBLIC) + 1];
	size_t len;

	assert_int_equal(tpm_public_marshal(&ak, buf, sizeof(buf) - 1, &len),
	    0);
	assert_int_equal(tpm_public_parse(buf, len, &back), 0);
	assert_memory_equal(&back.publicArea.unique.ecc.x,
	    &ak.publicArea.unique.ecc.x, sizeof(TPM2B_ECC_PARAMETER));
	buf[len] = 0;
	assert_int_equal(tpm_public_parse(buf, len + 1, &back), VIGIL_EINVAL);
	assert_int_equal(tpm_public_parse(buf, len - 1, &back), VIGIL_EINVAL);
	/* A TPM2B size larger than what follows. */
	buf[1] = (uint8_t)(buf[1] + 1);
	assert_int_equal(tpm_public_parse(buf, len, &back), VIGIL_EINVAL);
	/* ... or padded to match it: slack inside the TPM2B is refused. */
	buf[len] = 0;
	assert_int_equal(tpm_public_parse(buf, len + 1, &back), VIGIL_EINVAL);
	/* An empty TPM2B is not a public area. */
	buf[0] = buf[1] = 0;
	assert_int_equal(tpm_public_parse(buf, 2, &back), VIGIL_EINVAL);
}

static void
test_agent_id_is_sha256_of_the_tpmt_public(void **state)
{
	TPM2B_PUBLIC ek = good_ecc_ak();
	uint8_t buf[sizeof(TPMT_PUBLIC)], d[32];
	char id[65], want[65];
	size_t off = 0;
	unsigned int dl;

	assert_int_equal(Tss2_MU_TPMT_PUBLIC_Marshal(&ek.publicArea, buf,
	    sizeof(buf), &off), TSS2_RC_SUCCESS);
	assert_int_equal(EVP_Digest(buf, off, d, &dl, EVP_sha256(), NULL), 1);
	hex_encode(d, 32, want);
	assert_int_equal(tpm_agent_id(&ek, id), 0);
	assert_string_equal(id, want);
}

/* ---- against the swtpm ---- */

static void
test_name_equals_what_tpm2_readpublic_prints(void **state)
{
	char dir[64];
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;
	uint8_t *want;
	size_t wlen;

	if (tt_setup(dir, sizeof(dir)) != 0)
		skip();
	tt_createak(dir, "ak");
	tt_read_public(dir, "ak.pub", &pub);
	tt_read(dir, "ak.name", &want, &wlen);
	assert_int_equal(tpm_public_name(&pub, &name), 0);
	assert_int_equal(name.size, wlen);
	assert_memory_equal(name.name, want, wlen);
	free(want);
	/* The ECC EK has a SHA-384 name. */
	assert_int_equal(tt_run(dir, "tpm2_readpublic -c 0x81010016 -f tss "
	    "-o ek.pub -n ek.name"), 0);
	tt_read_public(dir, "ek.pub", &pub);
	tt_read(dir, "ek.name", &want, &wlen);
	assert_int_equal(tpm_public_name(&pub, &name), 0);
	assert_int_equal(name.size, 2 + 48);
	assert_int_equal(name.size, wlen);
	assert_memory_equal(name.name, want, wlen);
	free(want);
	tt_cleanup(dir);
}

static void
test_ek_matches_its_own_certificate_only(void **state)
{
	char dir[64];
	TPM2B_PUBLIC rsa, ecc;
	uint8_t *crsa, *cecc;
	size_t lrsa, lecc;
	const char *why = NULL;

	if (tt_setup(dir, sizeof(dir)) != 0)
		skip();
	assert_int_equal(tt_run(dir, "tpm2_readpublic -c 0x81010001 -f tss "
	    "-o rsa.pub && tpm2_readpublic -c 0x81010016 -f tss -o ecc.pub && "
	    "tpm2_nvread -C o 0x01c00002 -o rsa.der && "
	    "tpm2_nvread -C o 0x01c00016 -o ecc.der"), 0);
	tt_read_public(dir, "rsa.pub", &rsa);
	tt_read_public(dir, "ecc.pub", &ecc);
	tt_read(dir, "rsa.der", &crsa, &lrsa);
	tt_read(dir, "ecc.der", &cecc, &lecc);
	assert_int_equal(tpm_ek_matches_cert(&rsa, crsa, lrsa, &why), 0);
	assert_int_equal(tpm_ek_matches_cert(&ecc, cecc, lecc, &why), 0);
	assert_int_equal(tpm_ek_matches_cert(&rsa, cecc, lecc, &why),
	    VIGIL_EVERIFY);
	assert_string_equal(why, "EK certificate does not certify this EK");
	why = NULL;
	assert_int_equal(tpm_ek_matches_cert(&ecc, crsa, lrsa, &why),
	    VIGIL_EVERIFY);
	assert_non_null(why);
	/* A truncated certificate is garbage, not a mismatch. */
	assert_int_equal(tpm_ek_matches_cert(&rsa, crsa, lrsa - 1, &why),
	    VIGIL_EINVAL);
	free(crsa);
	free(cecc);
	tt_cleanup(dir);
}

/* The EKs swtpm_setup provisions are TCG templates L-1 (RSA 2048) and
 * H-3 (ECC P-384); the same keys in any other public area are refused,
 * naming the field, though their key fingerprint stays the same. */
static void
test_ek_template_accepts_swtpm_eks_and_names_each_change(void **state)
{
	char dir[64], id0[65], id1[65];
	TPM2B_PUBLIC rsa, ecc, v;
	uint8_t fp0[SHA256_LEN], fp1[SHA256_LEN];
	unsigned t = 0;
	const char *why = NULL;

	if (tt_setup(dir, sizeof(dir)) != 0)
		skip();
	assert_int_equal(tt_run(dir, "tpm2_readpublic -c 0x81010001 -f tss "
	    "-o rsa.pub && tpm2_readpublic -c 0x81010016 -f tss -o ecc.pub"),
	    0);
	tt_read_public(dir, "rsa.pub", &rsa);
	tt_read_public(dir, "ecc.pub", &ecc);
	assert_int_equal(tpm_ek_template(&rsa, &t, &why), 0);
	assert_int_equal(t, TPM_EK_L1);
	assert_string_equal(tpm_ek_template_name(t), "L-1");
	assert_int_equal(tpm_ek_template(&ecc, &t, &why), 0);
	assert_int_equal(t, TPM_EK_H3);
	assert_string_equal(tpm_ek_template_name(t), "H-3");

	/* authPolicy changed */
	v = rsa;
	v.publicArea.authPolicy.buffer[0] ^= 1;
	assert_int_equal(tpm_ek_template(&v, &t, &why), VIGIL_EVERIFY);
	assert_int_equal(t, TPM_EK_L1);
	assert_string_equal(why, "its authPolicy differs");
	v = ecc;
	v.publicArea.authPolicy.size = 0;
	assert_int_equal(tpm_ek_template(&v, &t, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "its authPolicy differs");
	/* attributes changed (and the high range's attributes on L-1's
	 * policy: held against H-1, whose policy differs) */
	v = rsa;
	v.publicArea.objectAttributes |= TPMA_OBJECT_SIGN_ENCRYPT;
	assert_int_equal(tpm_ek_template(&v, &t, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "its objectAttributes differ");
	v = rsa;
	v.publicArea.objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
	assert_int_equal(tpm_ek_template(&v, &t, &why), VIGIL_EVERIFY);
	assert_int_equal(t, TPM_EK_H1);
	assert_string_equal(why, "its authPolicy differs");
	v = ecc;
	v.publicArea.objectAttributes &= ~TPMA_OBJECT_USERWITHAUTH;
	assert_int_equal(tpm_ek_template(&v, &t, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "its objectAttributes differ");
	/* the RSA exponent 65537 written out instead of 0 */
	v = rsa;
	v.publicArea.parameters.rsaDetail.exponent = 65537;
	assert_int_equal(tpm_ek_template(&v, &t, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "its RSA exponent is not encoded as 0 (the "
	    "default 65537)");
	assert_int_equal(tpm_agent_id(&rsa, id0), 0);
	assert_int_equal(tpm_agent_id(&v, id1), 0);
	assert_string_not_equal(id0, id1);
	assert_int_equal(tpm_public_key_fp(&rsa, fp0), 0);
	assert_int_equal(tpm_public_key_fp(&v, fp1), 0);
	assert_memory_equal(fp0, fp1, SHA256_LEN);
	/* other parameters */
	v = ecc;
	v.publicArea.nameAlg = TPM2_ALG_SHA256;
	assert_int_equal(tpm_ek_template(&v, &t, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "its nameAlg differs");
	v = ecc;
	v.publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128;
	assert_int_equal(tpm_ek_template(&v, &t, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "its symmetric algorithm is not AES-256-CFB");
	v = ecc;
	v.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P521;
	assert_int_equal(tpm_ek_template(&v, &t, &why), VIGIL_EVERIFY);
	assert_int_equal(t, 0);
	assert_string_equal(why, "its curve is neither NIST P-256 nor NIST "
	    "P-384");
	v = ecc;
	v.publicArea.unique.ecc.x.size--;
	assert_int_equal(tpm_ek_template(&v, &t, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "its ECC point coordinates are not of the "
	    "curve's size");
	v = rsa;
	v.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_OAEP;
	v.publicArea.parameters.rsaDetail.scheme.details.oaep.hashAlg =
	    TPM2_ALG_SHA256;
	assert_int_equal(tpm_ek_template(&v, &t, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "its RSA scheme is not NULL");
	tt_cleanup(dir);
}

static void
test_ek_template_names_parse(void **state)
{
	unsigned t = 0;

	(void)state;
	assert_int_equal(tpm_ek_template_parse("H-2", &t), 0);
	assert_int_equal(t, TPM_EK_H2);
	assert_string_equal(tpm_ek_template_desc(t), "ECC NIST P-256");
	assert_int_equal(tpm_ek_template_parse("l-1", &t), VIGIL_EINVAL);
	assert_string_equal(tpm_ek_template_name(0), "none");
}

/* The tools write the attest as a bare TPMS_ATTEST; the wire carries it
 * as TPM2B_ATTEST. */
static void
wrap_tpm2b(const uint8_t *p, size_t len, struct buf *out)
{
	assert_int_equal(buf_add_u16be(out, (uint16_t)len), 0);
	assert_int_equal(buf_add(out, p, len), 0);
}

static void
test_swtpm_quote_verifies_and_fails_when_altered(void **state)
{
	static const uint8_t nonce[] = { 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02,
	    0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c };
	char dir[64];
	struct buf att = BUF_INIT, sigx = BUF_INIT;
	TPM2B_PUBLIC ak, other;
	struct quote q;
	struct pcrs vals;
	uint8_t *msg, *sig, *pv, d[32];
	size_t mlen, slen, plen;
	const char *why = NULL;
	uint32_t mask;
	int i, k = 0;

	if (tt_setup(dir, sizeof(dir)) != 0)
		skip();
	tt_createak(dir, "ak");
	tt_createak(dir, "other");
	tt_read_public(dir, "ak.pub", &ak);
	tt_read_public(dir, "other.pub", &other);
	assert_int_equal(tpm_ak_check(&ak, &why), 0);
	assert_int_equal(tt_run(dir, "tpm2_pcrextend "
	    "16:sha256=0101010101010101010101010101010101010101010101010101010101010101"
	    " && tpm2_quote -c ak.ctx -l sha256:0,1,2,3,4,5,6,7,11,16,23 "
	    "-q deadbeef0102030405060708090a0b0c -m q.msg -s q.sig -g sha256 "
	    "&& tpm2_flushcontext -t && "
	    "tpm2_pcrread sha256:0,1,2,3,4,5,6,7,11,16,23 -o pcrs.bin"), 0);
	tt_read(dir, "q.msg", &msg, &mlen);
	tt_read(dir, "q.sig", &sig, &slen);
	tt_read(dir, "pcrs.bin", &pv, &plen);
	wrap_tpm2b(msg, mlen, &att);

	assert_int_equal(quote_parse(att.data, att.len, sig, slen, &q, &why),
	    0);
	assert_int_equal(q.attest_len, mlen);
	assert_memory_equal(q.attest_bytes, msg, mlen);
	assert_int_equal(q.attest.extraData.size, sizeof(nonce));
	assert_memory_equal(q.attest.extraData.buffer, nonce, sizeof(nonce));
	assert_int_equal(quote_verify_sig(&q, &ak, &why), 0);
	assert_int_equal(quote_selected_mask(&q, &mask, &why), 0);
	assert_int_equal(mask, PCR_POLICY_MASK | 1u << 16);

	/* pcrread writes the values in index order, as the TPM digests them. */
	assert_int_equal(plen, 11 * 32);
	memset(&vals, 0, sizeof(vals));
	vals.mask = mask;
	for (i = 0; i < PCR_COUNT; i++)
		if (mask & (1u << i))
			memcpy(vals.v[i], pv + 32 * k++, 32);
	assert_int_equal(quote_pcr_digest(&vals, mask, d), 0);
	assert_int_equal(q.attest.attested.quote.pcrDigest.size, 32);
	assert_memory_equal(q.attest.attested.quote.pcrDigest.buffer, d, 32);

	/* Another AK does not verify it. */
	why = NULL;
	assert_int_equal(quote_verify_sig(&q, &other, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "quote signature does not verify with the AK");

	/* One bit flipped in the signed bytes (the pcrDigest's last byte,
	 * so it still parses). */
	att.data[2 + mlen - 1] ^= 0x01;
	assert_int_equal(quote_parse(att.data, att.len, sig, slen, &q, &why),
	    0);
	assert_int_equal(quote_verify_sig(&q, &ak, &why), VIGIL_EVERIFY);
	att.data[2 + mlen - 1] ^= 0x01;
	/* One bit flipped in the signature's s. */
	sig[slen - 1] ^= 0x80;
	assert_int_equal(quote_parse(att.data, att.len, sig, slen, &q, &why),
	    0);
	assert_int_equal(quote_verify_sig(&q, &ak, &why), VIGIL_EVERIFY);
	sig[slen - 1] ^= 0x80;
	/* A truncated attest, and trailing bytes after either part. */
	assert_int_equal(quote_parse(att.data, att.len - 1, sig, slen, &q,
	    &why), VIGIL_EINVAL);
	assert_int_equal(buf_add_u8(&att, 0), 0);
	assert_int_equal(quote_parse(att.data, att.len, sig, slen, &q, &why),
	    VIGIL_EINVAL);
	assert_string_equal(why, "quote attest is not one TPM2B_ATTEST");
	att.len--;
	assert_int_equal(buf_add(&sigx, sig, slen), 0);
	assert_int_equal(buf_add_u8(&sigx, 0), 0);
	assert_int_equal(quote_parse(att.data, att.len, sigx.data, sigx.len,
	    &q, &why), VIGIL_EINVAL);
	assert_string_equal(why, "quote signature is not one TPMT_SIGNATURE");
	buf_free(&sigx);

	free(msg);
	free(sig);
	free(pv);
	buf_free(&att);
	tt_cleanup(dir);
}

/* RSA AKs: RSASSA and RSAPSS quotes from the swtpm verify; the one scheme
 * is not accepted for a key of the other. */
static void
test_swtpm_rsa_quotes_verify_with_their_scheme_only(void **state)
{
	static const char *schemes[] = { "rsassa", "rsapss" };
	char dir[64], f[32];
	struct buf att[2] = { BUF_INIT, BUF_INIT };
	TPM2B_PUBLIC ak[2];
	struct quote q;
	uint8_t *msg, *sig[2];
	size_t mlen, slen[2];
	const char *why = NULL;
	int i;

	if (tt_setup(dir, sizeof(dir)) != 0)
		skip();
	for (i = 0; i < 2; i++) {
		assert_int_equal(tt_run(dir, "tpm2_createak -C 0x81010001 "
		    "-c ak%d.ctx -G rsa -g sha256 -s %s -u ak%d.pub -f tss && "
		    "tpm2_flushcontext -t && tpm2_quote -c ak%d.ctx "
		    "-l sha256:0,1,2,3,4,5,6,7,11 -q 00112233 -m q%d.msg "
		    "-s q%d.sig -g sha256 --scheme %s; rc=$?; "
		    "tpm2_flushcontext -t; "
		    "exit $rc", i, schemes[i], i, i, i, i, schemes[i]), 0);
		snprintf(f, sizeof(f), "ak%d.pub", i);
		tt_read_public(dir, f, &ak[i]);
		assert_int_equal(tpm_ak_check(&ak[i], &why), 0);
		snprintf(f, sizeof(f), "q%d.msg", i);
		tt_read(dir, f, &msg, &mlen);
		wrap_tpm2b(msg, mlen, &att[i]);
		free(msg);
		snprintf(f, sizeof(f), "q%d.sig", i);
		tt_read(dir, f, &sig[i], &slen[i]);
		assert_int_equal(quote_parse(att[i].data, att[i].len, sig[i],
		    slen[i], &q, &why), 0);
		assert_int_equal(q.sig.sigAlg,
		    i == 0 ? TPM2_ALG_RSASSA : TPM2_ALG_RSAPSS);
		assert_int_equal(quote_verify_sig(&q, &ak[i], &why), 0);
		/* A flipped bit in the signature. */
		sig[i][slen[i] - 1] ^= 0x01;
		assert_int_equal(quote_parse(att[i].data, att[i].len, sig[i],
		    slen[i], &q, &why), 0);
		assert_int_equal(quote_verify_sig(&q, &ak[i], &why),
		    VIGIL_EVERIFY);
		sig[i][slen[i] - 1] ^= 0x01;
	}
	/* The RSASSA quote against the RSAPSS AK: refused by scheme. */
	assert_int_equal(quote_parse(att[0].data, att[0].len, sig[0], slen[0],
	    &q, &why), 0);
	assert_int_equal(quote_verify_sig(&q, &ak[1], &why), VIGIL_EVERIFY);
	assert_string_equal(why, "quote signature algorithm or hash differs "
	    "from the AK's scheme");
	for (i = 0; i < 2; i++) {
		free(sig[i]);
		buf_free(&att[i]);
	}
	tt_cleanup(dir);
}

static void
test_quote_signature_with_another_scheme_is_refused(void **state)
{
	struct swquote *sq;
	struct buf a = BUF_INIT, s = BUF_INIT;
	struct pcrs vals;
	TPM2B_PUBLIC ak;
	struct quote q;
	const char *why = NULL;

	memset(&vals, 0, sizeof(vals));
	vals.mask = PCR_POLICY_MASK;
	assert_int_equal(swquote_new(&sq), 0);
	assert_int_equal(swquote_ak_public(sq, &ak), 0);
	assert_int_equal(swquote_make(sq, (const uint8_t *)"n", 1, &vals,
	    PCR_POLICY_MASK, 1, 0, 0, 1, &a, &s), 0);
	/* The signature's hash: SHA-256 -> SHA-384 (sigAlg, hash: u16 each). */
	s.data[3] = 0x0c;
	assert_int_equal(quote_parse(a.data, a.len, s.data, s.len, &q, &why),
	    0);
	assert_int_equal(quote_verify_sig(&q, &ak, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "quote signature algorithm or hash differs "
	    "from the AK's scheme");
	buf_free(&a);
	buf_free(&s);
	swquote_free(sq);
}

static void
test_quote_selecting_another_bank_is_refused(void **state)
{
	struct quote q;
	const char *why = NULL;
	uint32_t mask = 0;

	memset(&q, 0, sizeof(q));
	q.attest.attested.quote.pcrSelect.count = 2;
	q.attest.attested.quote.pcrSelect.pcrSelections[0].hash =
	    TPM2_ALG_SHA256;
	q.attest.attested.quote.pcrSelect.pcrSelections[0].sizeofSelect = 3;
	q.attest.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[0] = 1;
	q.attest.attested.quote.pcrSelect.pcrSelections[1].hash =
	    TPM2_ALG_SHA1;
	q.attest.attested.quote.pcrSelect.pcrSelections[1].sizeofSelect = 3;
	assert_int_equal(quote_selected_mask(&q, &mask, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "quote selects bank SHA-1");
	q.attest.attested.quote.pcrSelect.count = 1;
	assert_int_equal(quote_selected_mask(&q, &mask, &why), 0);
	assert_int_equal(mask, 1);
}

static void
test_pcr_digest_needs_every_selected_value(void **state)
{
	struct pcrs vals;
	uint8_t d[32];

	memset(&vals, 0, sizeof(vals));
	vals.mask = 0x3;
	assert_int_equal(quote_pcr_digest(&vals, 0x7, d), VIGIL_EINVAL);
	assert_int_equal(quote_pcr_digest(&vals, 0x3, d), 0);
	assert_int_equal(quote_pcr_digest(&vals, 1u << 24, d), VIGIL_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ak_check_accepts_a_restricted_ecdsa_p256_key),
		cmocka_unit_test(test_ak_check_names_each_bad_attribute),
		cmocka_unit_test(test_ak_check_names_bad_algorithms),
		cmocka_unit_test(test_public_parse_rejects_trailing_bytes),
		cmocka_unit_test(test_agent_id_is_sha256_of_the_tpmt_public),
		cmocka_unit_test(test_name_equals_what_tpm2_readpublic_prints),
		cmocka_unit_test(test_ek_matches_its_own_certificate_only),
		cmocka_unit_test(test_ek_template_accepts_swtpm_eks_and_names_each_change),
		cmocka_unit_test(test_ek_template_names_parse),
		cmocka_unit_test(test_swtpm_quote_verifies_and_fails_when_altered),
		cmocka_unit_test(test_swtpm_rsa_quotes_verify_with_their_scheme_only),
		cmocka_unit_test(test_quote_signature_with_another_scheme_is_refused),
		cmocka_unit_test(test_quote_selecting_another_bank_is_refused),
		cmocka_unit_test(test_pcr_digest_needs_every_selected_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
