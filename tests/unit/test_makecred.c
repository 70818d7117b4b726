/* Software TPM2_MakeCredential against a real swtpm: what makecred()
 * protects, tpm2_activatecredential recovers, for the RSA-2048 EK and the
 * ECC P-384 EK, and only for the object it names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include <openssl/core_names.h>

#include "makecred.h"
#include "agent/tpm.h"
#include "swquote.h"
#include "tpm_parse.h"

/* ---- tpm2-tools helpers (each test runs in its own temp directory) ---- */

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
	snprintf(dir, cap, "/tmp/vigil-makecred.XXXXXX");
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

static void
tt_write(const char *dir, const char *name, const void *p, size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(file_write_atomic(path, p, len), 0);
}

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

/* The file tpm2_activatecredential reads: a header (magic 0xBADCC0DE,
 * version 1, both big-endian u32), then the marshaled TPM2B_ID_OBJECT and
 * TPM2B_ENCRYPTED_SECRET. */
static void
write_cred_file(const char *dir, const TPM2B_ID_OBJECT *cred,
    const TPM2B_ENCRYPTED_SECRET *sec)
{
	uint8_t cb[sizeof(TPM2B_ID_OBJECT)], sb[sizeof(TPM2B_ENCRYPTED_SECRET)];
	size_t cl, sl;
	struct buf f = BUF_INIT;

	assert_int_equal(makecred_marshal(cred, sec, cb, sizeof(cb), &cl, sb,
	    sizeof(sb), &sl), 0);
	assert_int_equal(cl, 2u + cred->size);
	assert_int_equal(sl, 2u + sec->size);
	assert_int_equal(buf_add_u32be(&f, 0xBADCC0DEu), 0);
	assert_int_equal(buf_add_u32be(&f, 1), 0);
	assert_int_equal(buf_add(&f, cb, cl), 0);
	assert_int_equal(buf_add(&f, sb, sl), 0);
	tt_write(dir, "cred.bin", f.data, f.len);
	buf_free(&f);
}

/* The ECC P-384 EK (TCG EK Credential Profile, high-range template) has
 * authPolicy = PolicyOR(PolicyA, PolicyC) in SHA-384: PolicyA is
 * PolicySecret(TPM_RH_ENDORSEMENT), PolicyC is PolicyAuthorizeNV of the
 * profile's policy index; both digests are the profile's published values.
 * So activation under it needs PolicySecret then PolicyOR of the two. The
 * RSA-2048 EK (low range) has PolicyA alone, in SHA-256. */
static const uint8_t policy_a_sha384[48] = {
	0x8b, 0xbf, 0x22, 0x66, 0x53, 0x7c, 0x17, 0x1c, 0xb5, 0x6e, 0x40, 0x3c,
	0x4d, 0xc1, 0xd4, 0xb6, 0x4f, 0x43, 0x26, 0x11, 0xdc, 0x38, 0x6e, 0x6f,
	0x53, 0x20, 0x50, 0xc3, 0x27, 0x8c, 0x93, 0x0e, 0x14, 0x3e, 0x8b, 0xb1,
	0x13, 0x38, 0x24, 0xcc, 0xb4, 0x31, 0x05, 0x38, 0x71, 0xc6, 0xdb, 0x53,
};
static const uint8_t policy_c_sha384[48] = {
	0xd6, 0x03, 0x2c, 0xe6, 0x1f, 0x2f, 0xb3, 0xc2, 0x40, 0xeb, 0x3c, 0xf6,
	0xa3, 0x32, 0x37, 0xef, 0x2b, 0x6a, 0x16, 0xf4, 0x29, 0x3c, 0x22, 0xb4,
	0x55, 0xe2, 0x61, 0xcf, 0xfd, 0x21, 0x7a, 0xd5, 0xb4, 0x94, 0x7c, 0x2d,
	0x73, 0xe6, 0x30, 0x05, 0xee, 0xd2, 0xdc, 0x2b, 0x35, 0x93, 0xd1, 0x65,
};

/* Creates an AK under the EK at ek_handle, protects a secret for it with
 * makecred() and activates it with tpm2-tools in a policy session of the
 * EK's name algorithm (PolicySecret of the endorsement hierarchy). With
 * corrupt_name the credential names a different object. Returns the
 * activation's exit status; on success the recovered secret must equal. */
static int
activate_roundtrip(const char *dir, const char *ek_handle, const char *halg,
    size_t secret_len, int corrupt_name)
{
	TPM2B_PUBLIC ek, ak;
	TPM2B_NAME name;
	TPM2B_ID_OBJECT cred;
	TPM2B_ENCRYPTED_SECRET sec;
	uint8_t secret[64], *got;
	size_t glen, i;
	int st;

	for (i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(0xa5 ^ (i * 7));
	assert_int_equal(tt_run(dir, "tpm2_readpublic -c %s -f tss -o ek.pub "
	    "&& tpm2_createak -C %s -c ak.ctx -G ecc -g sha256 -s ecdsa "
	    "-u ak.pub -f tss -n ak.name && tpm2_flushcontext -t",
	    ek_handle, ek_handle), 0);
	tt_read_public(dir, "ek.pub", &ek);
	tt_read_public(dir, "ak.pub", &ak);
	assert_int_equal(tpm_public_name(&ak, &name), 0);
	if (corrupt_name)
		name.name[name.size - 1] ^= 0x01;
	assert_int_equal(makecred(&ek, &name, secret, secret_len, &cred, &sec),
	    0);
	write_cred_file(dir, &cred, &sec);
	tt_write(dir, "policyA.bin", policy_a_sha384, 48);
	tt_write(dir, "policyC.bin", policy_c_sha384, 48);
	st = tt_run(dir, "tpm2_startauthsession --policy-session -g %s "
	    "-S s.ctx && tpm2_policysecret -S s.ctx -c e && %s "
	    "tpm2_activatecredential -c ak.ctx -C %s -i cred.bin -o got.bin "
	    "-P session:s.ctx; rc=$?; tpm2_flushcontext s.ctx; "
	    "tpm2_flushcontext -t; exit $rc", halg,
	    strcmp(halg, "sha384") == 0 ? "tpm2_policyor -S s.ctx "
	    "-l sha384:policyA.bin,policyC.bin &&" : "", ek_handle);
	if (st == 0) {
		tt_read(dir, "got.bin", &got, &glen);
		assert_int_equal(glen, secret_len);
		assert_memory_equal(got, secret, secret_len);
		free(got);
	}
	return st;
}

static void
test_makecred_rsa_ek_secret_recovered_by_activatecredential(void **state)
{
	char dir[64];

	if (tt_setup(dir, sizeof(dir)) != 0)
		skip();
	assert_int_equal(activate_roundtrip(dir, "0x81010001", "sha256", 32,
	    0), 0);
	tt_cleanup(dir);
}

static void
test_makecred_ecc_p384_ek_secret_recovered_by_activatecredential(
    void **state)
{
	char dir[64];

	if (tt_setup(dir, sizeof(dir)) != 0)
		skip();
	/* A SHA-384 name algorithm: a secret of up to 48 bytes. */
	assert_int_equal(activate_roundtrip(dir, "0x81010016", "sha384", 48,
	    0), 0);
	tt_cleanup(dir);
}

static void
test_makecred_short_secret_recovered(void **state)
{
	char dir[64];

	if (tt_setup(dir, sizeof(dir)) != 0)
		skip();
	assert_int_equal(activate_roundtrip(dir, "0x81010016", "sha384", 5,
	    0), 0);
	tt_cleanup(dir);
}

static void
test_makecred_wrong_object_name_fails_activation(void **state)
{
	char dir[64];

	if (tt_setup(dir, sizeof(dir)) != 0)
		skip();
	assert_int_not_equal(activate_roundtrip(dir, "0x81010001", "sha256",
	    32, 1), 0);
	assert_int_not_equal(activate_roundtrip(dir, "0x81010016", "sha384",
	    32, 1), 0);
	tt_cleanup(dir);
}

/* ---- refusals, no TPM needed ---- */

/* A plausible ECC P-256 EK shape (the key itself is a software key's). */
static TPM2B_PUBLIC
fake_ecc_ek(void)
{
	struct swquote *sq;
	TPM2B_PUBLIC ek;

	assert_int_equal(swquote_new(&sq), 0);
	assert_int_equal(swquote_ak_public(sq, &ek), 0);
	swquote_free(sq);
	ek.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED |
	    TPMA_OBJECT_DECRYPT;
	ek.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	ek.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
	ek.publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128;
	ek.publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	return ek;
}

static void
test_makecred_works_for_a_p256_ek_and_sizes_outputs(void **state)
{
	TPM2B_PUBLIC ek = fake_ecc_ek();
	TPM2B_NAME name = { .size = 34 };
	TPM2B_ID_OBJECT cred;
	TPM2B_ENCRYPTED_SECRET sec;
	uint8_t secret[32] = { 1 };

	name.name[1] = 0x0b;
	assert_int_equal(makecred(&ek, &name, secret, 20, &cred, &sec), 0);
	/* TPM2B_DIGEST(HMAC-SHA-256) || encIdentity(2 + 20). */
	assert_int_equal(cred.size, 2 + 32 + 2 + 20);
	assert_int_equal(cred.credential[0], 0);
	assert_int_equal(cred.credential[1], 32);
	/* TPMS_ECC_POINT of P-256: 2 + 32 + 2 + 32. */
	assert_int_equal(sec.size, 68);
}

static void
test_makecred_refuses_what_it_cannot_protect(void **state)
{
	TPM2B_PUBLIC ek;
	TPM2B_NAME name = { .size = 34 };
	TPM2B_ID_OBJECT cred;
	TPM2B_ENCRYPTED_SECRET sec;
	uint8_t secret[64] = { 0 };

	name.name[1] = 0x0b;
	ek = fake_ecc_ek();
	/* More than the name algorithm's digest. */
	assert_int_equal(makecred(&ek, &name, secret, 33, &cred, &sec),
	    VIGIL_EINVAL);
	assert_int_equal(makecred(&ek, &name, secret, 0, &cred, &sec),
	    VIGIL_EINVAL);
	ek.publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CBC;
	assert_int_equal(makecred(&ek, &name, secret, 16, &cred, &sec),
	    VIGIL_EUNSUPP);
	ek = fake_ecc_ek();
	ek.publicArea.parameters.eccDetail.symmetric.keyBits.aes = 192;
	assert_int_equal(makecred(&ek, &name, secret, 16, &cred, &sec),
	    VIGIL_EUNSUPP);
	ek = fake_ecc_ek();
	ek.publicArea.parameters.eccDetail.symmetric.algorithm =
	    TPM2_ALG_CAMELLIA;
	assert_int_equal(makecred(&ek, &name, secret, 16, &cred, &sec),
	    VIGIL_EUNSUPP);
	ek = fake_ecc_ek();
	ek.publicArea.nameAlg = TPM2_ALG_SM3_256;
	assert_int_equal(makecred(&ek, &name, secret, 16, &cred, &sec),
	    VIGIL_EUNSUPP);
	ek = fake_ecc_ek();
	ek.publicArea.parameters.eccDetail.curveID = TPM2_ECC_BN_P256;
	assert_int_equal(makecred(&ek, &name, secret, 16, &cred, &sec),
	    VIGIL_EUNSUPP);
	/* A point off the curve. */
	ek = fake_ecc_ek();
	ek.publicArea.unique.ecc.y.buffer[31] ^= 1;
	assert_int_equal(makecred(&ek, &name, secret, 16, &cred, &sec),
	    VIGIL_EINVAL);
	ek = fake_ecc_ek();
	name.size = 1;
	assert_int_equal(makecred(&ek, &name, secret, 16, &cred, &sec),
	    VIGIL_EINVAL);
}

/* ---- through the agent's own ESAPI code (agent/tpm.c) ---- */

static void
agent_activate(const char *tcti, enum tpm_ek_kind kind)
{
	struct buf ekb = BUF_INIT, cert = BUF_INIT, akb = BUF_INIT;
	struct buf got = BUF_INIT;
	TPM2B_PUBLIC ek, ak;
	TPM2B_NAME name;
	TPM2B_ID_OBJECT cred;
	TPM2B_ENCRYPTED_SECRET sec;
	uint8_t cb[sizeof(cred)], sb[sizeof(sec)], secret[32];
	size_t cl, sl;
	struct tpm *t;

	memset(secret, 0x5c, sizeof(secret));
	assert_int_equal(tpm_open(tcti, &t), 0);
	assert_int_equal(tpm_ek_read(t, kind, &ekb, &cert), 0);
	assert_int_equal(tpm_ak_ensure(t, kind, &akb), 0);
	assert_int_equal(tpm_public_parse(ekb.data, ekb.len, &ek), 0);
	assert_int_equal(tpm_public_parse(akb.data, akb.len, &ak), 0);
	assert_int_equal(tpm_ak_check(&ak, NULL), 0);
	assert_int_equal(tpm_ek_matches_cert(&ek, cert.data, cert.len, NULL),
	    0);
	assert_int_equal(tpm_public_name(&ak, &name), 0);
	assert_int_equal(makecred(&ek, &name, secret, sizeof(secret), &cred,
	    &sec), 0);
	assert_int_equal(makecred_marshal(&cred, &sec, cb, sizeof(cb), &cl, sb,
	    sizeof(sb), &sl), 0);
	assert_int_equal(tpm_activate(t, kind, cb, cl, sb, sl, &got), 0);
	assert_int_equal(got.len, sizeof(secret));
	assert_memory_equal(got.data, secret, sizeof(secret));
	/* For another name the TPM refuses it. */
	name.name[2] ^= 1;
	assert_int_equal(makecred(&ek, &name, secret, sizeof(secret), &cred,
	    &sec), 0);
	assert_int_equal(makecred_marshal(&cred, &sec, cb, sizeof(cb), &cl, sb,
	    sizeof(sb), &sl), 0);
	got.len = 0;
	assert_int_equal(tpm_activate(t, kind, cb, cl, sb, sl, &got),
	    VIGIL_ETPM);
	tpm_close(t);
	buf_free(&ekb);
	buf_free(&cert);
	buf_free(&akb);
	buf_free(&got);
}

static void
test_makecred_activated_by_agent_tpm_for_both_eks(void **state)
{
	const char *tcti = getenv("VIGIL_TEST_TCTI");
	char dir[64];

	if (tt_setup(dir, sizeof(dir)) != 0)
		skip();
	agent_activate(tcti, TPM_EK_RSA);
	agent_activate(tcti, TPM_EK_ECC);
	/* tpm_ak_ensure persisted the AK: leave the TPM as we found it. */
	assert_int_equal(tt_run(dir, "tpm2_evictcontrol -C o -c 0x81010010"),
	    0);
	tt_cleanup(dir);
}

/* ---- software activation (for software EKs: tests, load generator) ---- */

/* A software EK in the TCG template shapes: RSA-2048 / SHA-256 /
 * AES-128-CFB, or ECC P-256 / SHA-256 / AES-128-CFB, or ECC P-384 /
 * SHA-384 / AES-256-CFB. */
static EVP_PKEY *
sw_ek(TPM2_ALG_ID type, const char *curve, TPM2B_PUBLIC *pub)
{
	TPMT_PUBLIC *pa = &pub->publicArea;
	BIGNUM *a = NULL, *b = NULL;
	EVP_PKEY *k;
	int fl = curve && strcmp(curve, "P-384") == 0 ? 48 : 32;

	memset(pub, 0, sizeof(*pub));
	pa->type = type;
	pa->nameAlg = fl == 48 ? TPM2_ALG_SHA384 : TPM2_ALG_SHA256;
	pa->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
	    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	if (type == TPM2_ALG_RSA) {
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		assert_non_null(k);
		pa->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
		pa->parameters.rsaDetail.symmetric.keyBits.aes = 128;
		pa->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		pa->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		pa->parameters.rsaDetail.keyBits = 2048;
		assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N,
		    &a), 1);
		assert_int_equal(BN_bn2binpad(a, pa->unique.rsa.buffer, 256),
		    256);
		pa->unique.rsa.size = 256;
	} else {
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
		assert_non_null(k);
		pa->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
		pa->parameters.eccDetail.symmetric.keyBits.aes =
		    fl == 48 ? 256 : 128;
		pa->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		pa->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		pa->parameters.eccDetail.curveID =
		    fl == 48 ? TPM2_ECC_NIST_P384 : TPM2_ECC_NIST_P256;
		pa->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		assert_int_equal(EVP_PKEY_get_bn_param(k,
		    OSSL_PKEY_PARAM_EC_PUB_X, &a), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(k,
		    OSSL_PKEY_PARAM_EC_PUB_Y, &b), 1);
		assert_int_equal(BN_bn2binpad(a, pa->unique.ecc.x.buffer, fl),
		    fl);
		assert_int_equal(BN_bn2binpad(b, pa->unique.ecc.y.buffer, fl),
		    fl);
		pa->unique.ecc.x.size = pa->unique.ecc.y.size = (UINT16)fl;
	}
	BN_free(a);
	BN_free(b);
	return k;
}

static void
sw_roundtrip(TPM2_ALG_ID type, const char *curve)
{
	TPM2B_PUBLIC ek;
	TPM2B_NAME name = { .size = 34 }, other;
	TPM2B_ID_OBJECT cred;
	TPM2B_ENCRYPTED_SECRET sec;
	uint8_t cb[sizeof(cred)], sb[sizeof(sec)], secret[20], got[64];
	size_t cl, sl, gl = sizeof(got);
	EVP_PKEY *k = sw_ek(type, curve, &ek);

	memset(secret, 0x3c, sizeof(secret));
	memset(name.name, 0x77, name.size);
	name.name[0] = 0x00;
	name.name[1] = 0x0b;
	assert_int_equal(makecred(&ek, &name, secret, sizeof(secret), &cred,
	    &sec), 0);
	assert_int_equal(makecred_marshal(&cred, &sec, cb, sizeof(cb), &cl, sb,
	    sizeof(sb), &sl), 0);
	assert_int_equal(makecred_activate_sw(&ek, k, &name, cb, cl, sb, sl,
	    got, &gl), 0);
	assert_int_equal(gl, sizeof(secret));
	assert_memory_equal(got, secret, sizeof(secret));
	/* Another object name: the integrity check fails. */
	other = name;
	other.name[33] ^= 1;
	gl = sizeof(got);
	assert_int_equal(makecred_activate_sw(&ek, k, &other, cb, cl, sb, sl,
	    got, &gl), VIGIL_EVERIFY);
	/* Any altered credential byte fails too. */
	cb[cl - 1] ^= 1;
	gl = sizeof(got);
	assert_int_equal(makecred_activate_sw(&ek, k, &name, cb, cl, sb, sl,
	    got, &gl), VIGIL_EVERIFY);
	cb[cl - 1] ^= 1;
	/* Trailing bytes. */
	assert_int_equal(makecred_activate_sw(&ek, k, &name, cb, cl + 1, sb,
	    sl, got, &gl), VIGIL_EINVAL);
	EVP_PKEY_free(k);
}

static void
test_makecred_software_activation_round_trips(void **state)
{
	sw_roundtrip(TPM2_ALG_RSA, NULL);
	sw_roundtrip(TPM2_ALG_ECC, "P-256");
	sw_roundtrip(TPM2_ALG_ECC, "P-384");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_makecred_rsa_ek_secret_recovered_by_activatecredential),
		cmocka_unit_test(test_makecred_ecc_p384_ek_secret_recovered_by_activatecredential),
		cmocka_unit_test(test_makecred_short_secret_recovered),
		cmocka_unit_test(test_makecred_wrong_object_name_fails_activation),
		cmocka_unit_test(test_makecred_activated_by_agent_tpm_for_both_eks),
		cmocka_unit_test(test_makecred_software_activation_round_trips),
		cmocka_unit_test(test_makecred_works_for_a_p256_ek_and_sizes_outputs),
		cmocka_unit_test(test_makecred_refuses_what_it_cannot_protect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
