/* libFuzzer target for TPM2B_PUBLIC from hostile peers (EK and AK public
 * areas at registration): tpm_public_parse and, on success, what is done
 * with a parsed area (tpm_public_name, tpm_agent_id, tpm_ak_check,
 * tpm_public_to_evp). Seeds: see tests/fuzz/README.md. Any crash, sanitizer
 * report or abort() below is a bug. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "log.h"
#include "swek.h"
#include "swquote.h"
#include "tpm_parse.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes pub marshaled to dir/name (seed corpus); aborts on failure. */
static void
fuzz_pub_write_seed(const char *dir, const char *name,
    const TPM2B_PUBLIC *pub)
{
	uint8_t tmp[sizeof(TPM2B_PUBLIC)];
	char path[4096];
	size_t len;
	FILE *f;

	if (tpm_public_marshal(pub, tmp, sizeof(tmp), &len) != 0 ||
	    snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path) || (f = fopen(path, "wb")) == NULL)
		abort();
	if (fwrite(tmp, 1, len, f) != len || fclose(f) != 0)
		abort();
}

/* With VIGIL_FUZZ_SEED_DIR set: a software AK (ECC P-256, ECDSA) and a
 * software EK (ECC P-256, restricted decrypt) as seeds. */
static void
fuzz_pub_seeds(const char *dir)
{
	struct swquote *sq = NULL;
	struct swek *ek = NULL;
	EVP_PKEY *ca_key = NULL;
	X509 *ca_cert = NULL;
	TPM2B_PUBLIC pub;

	if (swquote_new(&sq) != 0 || swquote_ak_public(sq, &pub) != 0)
		abort();
	fuzz_pub_write_seed(dir, "swquote-ak.pub", &pub);
	if (swek_test_ca("fuzz CA", &ca_key, &ca_cert) != 0 ||
	    swek_new(ca_key, ca_cert, &ek) != 0)
		abort();
	fuzz_pub_write_seed(dir, "swek-ek.pub", swek_public(ek));
	swek_free(ek);
	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
	swquote_free(sq);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("VIGIL_FUZZ_SEED_DIR");

	log_init("fuzz_tpm_public", LOG_ERR);	/* rejections are expected */
	if (dir != NULL)
		fuzz_pub_seeds(dir);
	return 0;
}

/* What a parsed area promises: canonical (re-marshals to the input). */
static void
fuzz_pub_check_canonical(const TPM2B_PUBLIC *pub, const uint8_t *data,
    size_t size)
{
	uint8_t tmp[sizeof(TPM2B_PUBLIC)];
	size_t len;

	if (tpm_public_marshal(pub, tmp, sizeof(tmp), &len) != 0 ||
	    len != size || memcmp(tmp, data, size) != 0)
		abort();
}

static void
fuzz_pub_check_name(const TPM2B_PUBLIC *pub)
{
	const EVP_MD *md = tpm_alg_md(pub->publicArea.nameAlg);
	TPM2B_NAME name;
	int e;

	memset(&name, 0, sizeof(name));
	e = tpm_public_name(pub, &name);
	if (e == 0) {
		if (md == NULL ||
		    name.size != 2 + (size_t)EVP_MD_get_size(md) ||
		    name.size > sizeof(name.name) ||
		    name.name[0] != (uint8_t)(pub->publicArea.nameAlg >> 8) ||
		    name.name[1] != (uint8_t)pub->publicArea.nameAlg)
			abort();
	} else if (e != VIGIL_EUNSUPP || md != NULL) {
		abort();
	}
}

static void
fuzz_pub_check_agent_id(const TPM2B_PUBLIC *pub)
{
	char id[65];
	size_t i;

	memset(id, 'X', sizeof(id));
	if (tpm_agent_id(pub, id) != 0 || id[64] != '\0')
		abort();
	for (i = 0; i < 64; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			abort();
}

static void
fuzz_pub_check_ak(const TPM2B_PUBLIC *pub)
{
	const char *why = NULL;
	int e;

	e = tpm_ak_check(pub, &why);
	if (e == 0) {
		/* An accepted AK is a restricted signing key, nothing else. */
		if (why != NULL ||
		    (pub->publicArea.type != TPM2_ALG_ECC &&
		    pub->publicArea.type != TPM2_ALG_RSA) ||
		    !(pub->publicArea.objectAttributes &
		    TPMA_OBJECT_RESTRICTED) ||
		    !(pub->publicArea.objectAttributes &
		    TPMA_OBJECT_SIGN_ENCRYPT) ||
		    (pub->publicArea.objectAttributes & TPMA_OBJECT_DECRYPT))
			abort();
	} else if (e != VIGIL_EVERIFY || why == NULL) {
		abort();
	}
}

static void
fuzz_pub_check_evp(const TPM2B_PUBLIC *pub)
{
	EVP_PKEY *key = NULL;
	int e;

	e = tpm_public_to_evp(pub, &key);
	if (e == 0) {
		if (key == NULL)
			abort();
		/* keyBits is the modulus's byte count times 8; leading
		 * zero bytes make the key itself smaller, never larger. */
		if (pub->publicArea.type == TPM2_ALG_RSA &&
		    (EVP_PKEY_get_bits(key) <= 0 || EVP_PKEY_get_bits(key) >
		    pub->publicArea.parameters.rsaDetail.keyBits))
			abort();
		EVP_PKEY_free(key);
		return;
	}
	if (key != NULL || (e != VIGIL_EINVAL && e != VIGIL_EUNSUPP &&
	    e != VIGIL_ECRYPTO))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	TPM2B_PUBLIC pub;
	int e;

	e = tpm_public_parse(data, size, &pub);
	if (e != 0) {
		if (e != VIGIL_EINVAL)
			abort();
		return 0;
	}
	fuzz_pub_check_canonical(&pub, data, size);
	fuzz_pub_check_name(&pub);
	fuzz_pub_check_agent_id(&pub);
	fuzz_pub_check_ak(&pub);
	fuzz_pub_check_evp(&pub);
	return 0;
}
