/* libFuzzer target for the hostile inputs of credential activation:
 *
 *   byte 0 even: the rest is an EK TPM2B_PUBLIC as an agent registers it;
 *     tpm_public_parse, then makecred for it (the verifier's side).
 *   byte 0 odd: a 2-byte big-endian length n, n bytes of marshaled
 *     TPM2B_ID_OBJECT, then the marshaled TPM2B_ENCRYPTED_SECRET (the rest);
 *     makecred_activate_sw with a software EK made at start-up: ECC P-256
 *     (common/swek.h) when bit 1 of byte 0 is clear, RSA-2048 when set.
 *
 * Seeds: see tests/fuzz/README.md. Any crash, sanitizer report or abort()
 * below is a bug. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "makecred.h"
#include "swek.h"
#include "tpm_parse.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MC_SECRET_LEN 16	/* fits every name hash, SHA-1 included */

static const uint8_t fuzz_mc_secret[FUZZ_MC_SECRET_LEN] = "vigil-fuzz-cred";
static TPM2B_NAME fuzz_mc_name;		/* an object name (SHA-256) */
static struct swek *fuzz_mc_swek;	/* ECC P-256 software EK */
static TPM2B_PUBLIC fuzz_mc_rsa_pub;	/* RSA-2048 software EK */
static EVP_PKEY *fuzz_mc_rsa_key;

/* An RSA-2048 EK in the TCG template L-1 shape (AES-128-CFB, restricted
 * decrypt, nameAlg SHA-256), held in software. */
static void
fuzz_mc_rsa_ek(void)
{
	TPMT_PUBLIC *pa = &fuzz_mc_rsa_pub.publicArea;
	BIGNUM *n = NULL;

	if ((fuzz_mc_rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t)2048)) == NULL ||
	    EVP_PKEY_get_bn_param(fuzz_mc_rsa_key, OSSL_PKEY_PARAM_RSA_N,
	    &n) != 1)
		abort();
	memset(&fuzz_mc_rsa_pub, 0, sizeof(fuzz_mc_rsa_pub));
	pa->type = TPM2_ALG_RSA;
	pa->nameAlg = TPM2_ALG_SHA256;
	pa->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
	    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	pa->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
	pa->parameters.rsaDetail.symmetric.keyBits.aes = 128;
	pa->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	pa->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	pa->parameters.rsaDetail.keyBits = 2048;
	pa->unique.rsa.size = 256;
	if (BN_bn2binpad(n, pa->unique.rsa.buffer, 256) != 256)
		abort();
	BN_free(n);
}

static void
fuzz_mc_write(const char *dir, const char *name, const uint8_t *p,
    size_t len)
{
	char path[4096];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path) || (f = fopen(path, "wb")) == NULL)
		abort();
	if (fwrite(p, 1, len, f) != len || fclose(f) != 0)
		abort();
}

/* A credential for ek in the odd-byte input format (mode 1 or 3); it
 * must activate with key (else the harness is wrong). */
static void
fuzz_mc_cred_seed(const TPM2B_PUBLIC *ek, EVP_PKEY *key, uint8_t mode,
    const char *dir, const char *name)
{
	uint8_t c[sizeof(TPM2B_ID_OBJECT)], s[sizeof(TPM2B_ENCRYPTED_SECRET)];
	uint8_t out[64];
	size_t clen, slen, olen = sizeof(out);
	TPM2B_ID_OBJECT cred;
	TPM2B_ENCRYPTED_SECRET sec;
	struct buf in = BUF_INIT;

	if (makecred(ek, &fuzz_mc_name, fuzz_mc_secret, FUZZ_MC_SECRET_LEN,
	    &cred, &sec) != 0 || makecred_marshal(&cred, &sec, c, sizeof(c),
	    &clen, s, sizeof(s), &slen) != 0 ||
	    makecred_activate_sw(ek, key, &fuzz_mc_name, c, clen, s, slen,
	    out, &olen) != 0 || olen != FUZZ_MC_SECRET_LEN ||
	    memcmp(out, fuzz_mc_secret, olen) != 0)
		abort();
	if (dir == NULL)
		return;
	if (buf_add_u8(&in, mode) || buf_add_u16be(&in, (uint16_t)clen) ||
	    buf_add(&in, c, clen) || buf_add(&in, s, slen))
		abort();
	fuzz_mc_write(dir, name, in.data, in.len);
	buf_free(&in);
}

/* An EK public area in the even-byte input format. */
static void
fuzz_mc_ek_seed(const TPM2B_PUBLIC *ek, const char *dir, const char *name)
{
	uint8_t tmp[1 + sizeof(TPM2B_PUBLIC)];
	size_t len;

	tmp[0] = 0;
	if (tpm_public_marshal(ek, tmp + 1, sizeof(tmp) - 1, &len) != 0)
		abort();
	fuzz_mc_write(dir, name, tmp, 1 + len);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("VIGIL_FUZZ_SEED_DIR");
	EVP_PKEY *ca_key = NULL;
	X509 *ca_cert = NULL;

	log_init("fuzz_makecred_inputs", LOG_ERR);
	fuzz_mc_name.size = 2 + 32;
	fuzz_mc_name.name[0] = 0x00;
	fuzz_mc_name.name[1] = 0x0b;	/* SHA-256 */
	memset(fuzz_mc_name.name + 2, 0xa5, 32);
	if (swek_test_ca("fuzz CA", &ca_key, &ca_cert) != 0 ||
	    swek_new(ca_key, ca_cert, &fuzz_mc_swek) != 0)
		abort();
	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
	fuzz_mc_rsa_ek();
	fuzz_mc_cred_seed(swek_public(fuzz_mc_swek), swek_key(fuzz_mc_swek),
	    1, dir, "cred-ecc");
	fuzz_mc_cred_seed(&fuzz_mc_rsa_pub, fuzz_mc_rsa_key, 3, dir,
	    "cred-rsa");
	if (dir != NULL) {
		fuzz_mc_ek_seed(swek_public(fuzz_mc_swek), dir, "ek-ecc");
		fuzz_mc_ek_seed(&fuzz_mc_rsa_pub, dir, "ek-rsa");
	}
	return 0;
}

/* makecred for an EK public area from the input. */
static void
fuzz_mc_make(const uint8_t *data, size_t size)
{
	uint8_t c[sizeof(TPM2B_ID_OBJECT)], s[sizeof(TPM2B_ENCRYPTED_SECRET)];
	TPM2B_ENCRYPTED_SECRET sec;
	TPM2B_ID_OBJECT cred;
	TPM2B_PUBLIC ek;
	const EVP_MD *md;
	size_t clen, slen;
	int e;

	if (tpm_public_parse(data, size, &ek) != 0)
		return;
	e = makecred(&ek, &fuzz_mc_name, fuzz_mc_secret, FUZZ_MC_SECRET_LEN,
	    &cred, &sec);
	if (e != 0) {
		if (e != VIGIL_EINVAL && e != VIGIL_EUNSUPP &&
		    e != VIGIL_ECRYPTO)
			abort();
		return;
	}
	/* credentialBlob = TPM2B_DIGEST(HMAC) || AES-CFB(TPM2B_DIGEST). */
	if ((md = tpm_alg_md(ek.publicArea.nameAlg)) == NULL ||
	    cred.size != 2 + (size_t)EVP_MD_get_size(md) + 2 +
	    FUZZ_MC_SECRET_LEN || sec.size == 0 ||
	    sec.size > sizeof(sec.secret) ||
	    makecred_marshal(&cred, &sec, c, sizeof(c), &clen, s, sizeof(s),
	    &slen) != 0 || clen != 2u + cred.size || slen != 2u + sec.size)
		abort();
}

/* makecred_activate_sw with a credential from the input. */
static void
fuzz_mc_activate(const uint8_t *data, size_t size, int rsa)
{
	const TPM2B_PUBLIC *ek = rsa ? &fuzz_mc_rsa_pub :
	    swek_public(fuzz_mc_swek);
	EVP_PKEY *key = rsa ? fuzz_mc_rsa_key : swek_key(fuzz_mc_swek);
	uint8_t out[64];
	size_t clen, olen = sizeof(out);
	int e;

	if (size < 2)
		return;
	clen = (size_t)data[0] << 8 | data[1];
	if (clen > size - 2)
		clen = size - 2;
	e = makecred_activate_sw(ek, key, &fuzz_mc_name, data + 2, clen,
	    data + 2 + clen, size - 2 - clen, out, &olen);
	if (e == 0) {
		if (olen > SHA256_LEN)
			abort();
		return;
	}
	if (e != VIGIL_EINVAL && e != VIGIL_EVERIFY && e != VIGIL_ECRYPTO &&
	    e != VIGIL_ETOOBIG)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0)
		fuzz_mc_make(data + 1, size - 1);
	else
		fuzz_mc_activate(data + 1, size - 1, (data[0] & 2) != 0);
	return 0;
}
