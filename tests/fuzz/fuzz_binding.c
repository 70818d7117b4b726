/* libFuzzer target for certified AK bindings (enclave/binding.h), as a
 * hostile agent hands them to the verifier in evidence items: the whole
 * input is a binding's wire form.
 *
 * binding_parse must reject with VIGIL_ETRUNC/EINVAL/ETOOBIG; a parsed
 * binding must hold the format's limits and marshal back to exactly the
 * input. It is then checked against a software platform world made at
 * start-up (a vendor CA in the trust store, a platform attestation key it
 * certified, a vTPM EK certificate issued by that key): binding_verify
 * and binding_verify_ek_cert must accept or give VIGIL_EVERIFY with a
 * reason, and a binding that verifies must name the start-up platform and
 * have its chain accepted for the EK certificate too.
 *
 * With VIGIL_FUZZ_SEED_DIR set, start-up writes seeds there: a valid
 * binding (leaf only, and leaf plus CA), one signed by an uncertified key,
 * one whose AK is not a signing key, and two whose certified leaf is not a
 * P-256 key or lacks digitalSignature usage. Keys are fresh per process, so
 * the valid ones verify only in the run that wrote them. Any crash,
 * sanitizer report or abort() is a bug. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"
#include "enclave/binding.h"
#include "enclave/pse_cert.h"
#include "err.h"
#include "log.h"
#include "swek.h"
#include "swquote.h"
#include "tpm_parse.h"
#include "seed.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *fuzz_bd_ca_key, *fuzz_bd_pkey;
static X509 *fuzz_bd_ca, *fuzz_bd_pcert;
static X509_STORE *fuzz_bd_store;
static struct buf fuzz_bd_leaf, fuzz_bd_ca_der, fuzz_bd_ekcert;
static uint8_t fuzz_bd_ak[1024], fuzz_bd_ekpub[1024];
static size_t fuzz_bd_ak_len, fuzz_bd_ekpub_len;
static uint8_t fuzz_bd_id[BINDING_ID_LEN];

static void
fuzz_bd_write(const char *dir, const char *name, const struct binding *b)
{
	struct buf m = BUF_INIT;

	if (binding_marshal(b, &m) != 0)
		abort();
	fuzz_seed_write(dir, name, FUZZ_SEED_NO_SELECTOR, &m);
	buf_free(&m);
}

/* A binding by a key of curve the CA certified as kind: the leaf checks
 * after the chain, which a mutation cannot reach (it would need the CA's
 * signature), must refuse it with reason want. */
static void
fuzz_bd_leaf_seed(const char *dir, const char *name, const char *curve,
    enum pse_cert_kind kind, const char *want)
{
	struct buf der = BUF_INIT;
	struct binding b;
	const uint8_t *chain[1];
	size_t lens[1];
	const char *why = NULL;
	EVP_PKEY *k;
	X509 *c = NULL;

	if ((k = EVP_EC_gen(curve)) == NULL || pse_cert_issue(kind, k,
	    "Vigil platform attestation key fuzz", fuzz_bd_ca_key, fuzz_bd_ca,
	    30, &c) != 0 || pse_cert_der(c, &der) != 0)
		abort();
	chain[0] = der.data;
	lens[0] = der.len;
	if (binding_sign(k, fuzz_bd_ak, fuzz_bd_ak_len, chain, lens, 1,
	    &b) != 0 || binding_verify(&b, fuzz_bd_store, NULL, &why) !=
	    VIGIL_EVERIFY || why == NULL || strcmp(why, want) != 0)
		abort();
	fuzz_bd_write(dir, name, &b);
	binding_free(&b);
	buf_free(&der);
	X509_free(c);
	EVP_PKEY_free(k);
}

/* The start-up world checks itself: a good binding verifies, and the EK
 * certificate chains through it. */
static void
fuzz_bd_seeds(const char *dir)
{
	const uint8_t *chain[2] = { fuzz_bd_leaf.data, fuzz_bd_ca_der.data };
	size_t lens[2] = { fuzz_bd_leaf.len, fuzz_bd_ca_der.len };
	uint8_t id[BINDING_ID_LEN], ekpub_as_ak[1024];
	struct binding b;
	EVP_PKEY *other;
	const char *why = NULL;

	if (binding_sign(fuzz_bd_pkey, fuzz_bd_ak, fuzz_bd_ak_len, chain,
	    lens, 1, &b) != 0 || binding_verify(&b, fuzz_bd_store, id,
	    &why) != 0 || memcmp(id, fuzz_bd_id, sizeof(id)) != 0 ||
	    binding_verify_ek_cert(&b, fuzz_bd_store, fuzz_bd_ekcert.data,
	    fuzz_bd_ekcert.len, fuzz_bd_ekpub, fuzz_bd_ekpub_len, &why) != 0)
		abort();
	fuzz_bd_write(dir, "valid-leaf", &b);
	binding_free(&b);
	if (binding_sign(fuzz_bd_pkey, fuzz_bd_ak, fuzz_bd_ak_len, chain,
	    lens, 2, &b) != 0 || binding_verify(&b, fuzz_bd_store, NULL,
	    &why) != 0)
		abort();
	fuzz_bd_write(dir, "valid-leaf-ca", &b);
	binding_free(&b);
	if ((other = EVP_EC_gen("P-256")) == NULL ||
	    binding_sign(other, fuzz_bd_ak, fuzz_bd_ak_len, chain, lens, 1,
	    &b) != 0 || binding_verify(&b, fuzz_bd_store, NULL, &why) !=
	    VIGIL_EVERIFY)
		abort();
	fuzz_bd_write(dir, "uncertified-key", &b);
	binding_free(&b);
	EVP_PKEY_free(other);
	memcpy(ekpub_as_ak, fuzz_bd_ekpub, fuzz_bd_ekpub_len);
	if (binding_sign(fuzz_bd_pkey, ekpub_as_ak, fuzz_bd_ekpub_len, chain,
	    lens, 1, &b) != 0 || binding_verify(&b, fuzz_bd_store, NULL,
	    &why) != VIGIL_EVERIFY)
		abort();
	fuzz_bd_write(dir, "ak-not-signing", &b);
	binding_free(&b);
	fuzz_bd_leaf_seed(dir, "leaf-p384", "P-384", PSE_CERT_PLATFORM,
	    "binding leaf certificate is not an EC P-256 key");
	fuzz_bd_leaf_seed(dir, "leaf-no-digitalsignature", "P-256",
	    PSE_CERT_VTPM_EK, "binding leaf certificate lacks "
	    "digitalSignature key usage");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct swquote *sq = NULL;
	struct swek *ek = NULL;
	TPM2B_PUBLIC pub;
	X509 *c = NULL;

	log_init("fuzz_binding", LOG_ERR);	/* rejections are expected */
	if (swek_test_ca("Fuzz platform vendor CA", &fuzz_bd_ca_key,
	    &fuzz_bd_ca) != 0 ||
	    (fuzz_bd_pkey = EVP_EC_gen("P-256")) == NULL ||
	    pse_cert_issue(PSE_CERT_PLATFORM, fuzz_bd_pkey,
	    "Vigil platform attestation key fuzz", fuzz_bd_ca_key, fuzz_bd_ca,
	    30, &fuzz_bd_pcert) != 0 ||
	    pse_cert_der(fuzz_bd_pcert, &fuzz_bd_leaf) != 0 ||
	    pse_cert_der(fuzz_bd_ca, &fuzz_bd_ca_der) != 0 ||
	    binding_platform_id(fuzz_bd_pkey, fuzz_bd_id) != 0 ||
	    (fuzz_bd_store = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(fuzz_bd_store, fuzz_bd_ca) != 1)
		abort();
	if (swquote_new(&sq) != 0 || swquote_ak_public(sq, &pub) != 0 ||
	    tpm_public_marshal(&pub, fuzz_bd_ak, sizeof(fuzz_bd_ak),
	    &fuzz_bd_ak_len) != 0)
		abort();
	swquote_free(sq);
	if (swek_new(fuzz_bd_ca_key, fuzz_bd_ca, &ek) != 0 ||
	    tpm_public_marshal(swek_public(ek), fuzz_bd_ekpub,
	    sizeof(fuzz_bd_ekpub), &fuzz_bd_ekpub_len) != 0 ||
	    pse_cert_issue(PSE_CERT_VTPM_EK, swek_key(ek), "vTPM EK vm-fuzz",
	    fuzz_bd_pkey, fuzz_bd_pcert, 30, &c) != 0 ||
	    pse_cert_der(c, &fuzz_bd_ekcert) != 0)
		abort();
	X509_free(c);
	swek_free(ek);
	fuzz_bd_seeds(getenv("VIGIL_FUZZ_SEED_DIR"));
	return 0;
}

/* What binding.h promises of a parsed binding. */
static void
fuzz_bd_limits(const struct binding *b)
{
	size_t i;

	if (b->ak_pub.len < 1 || b->ak_pub.len > BINDING_MAX_AK ||
	    b->sig.len < 8 || b->sig.len > BINDING_MAX_SIG ||
	    b->n_chain < 1 || b->n_chain > BINDING_MAX_CERTS)
		abort();
	for (i = 0; i < BINDING_MAX_CERTS; i++)
		if ((i < b->n_chain) != (b->chain[i].len > 0) ||
		    b->chain[i].len > BINDING_MAX_CERT)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t id[BINDING_ID_LEN];
	struct buf m = BUF_INIT;
	struct binding b;
	const char *why = NULL, *ekwhy = NULL;
	int rc, ekrc;

	rc = binding_parse(data, size, &b);
	if (rc != 0) {
		if ((rc != VIGIL_ETRUNC && rc != VIGIL_EINVAL &&
		    rc != VIGIL_ETOOBIG) || b.n_chain != 0 || b.ak_pub.len ||
		    b.sig.len)
			abort();
		return 0;
	}
	fuzz_bd_limits(&b);
	/* Canonical: it marshals back to exactly the input. */
	if (binding_marshal(&b, &m) != 0 || m.len != size ||
	    memcmp(m.data, data, size) != 0)
		abort();
	buf_free(&m);

	memset(id, 0, sizeof(id));
	rc = binding_verify(&b, fuzz_bd_store, id, &why);
	if (rc == 0) {
		/* Only the start-up platform key is certified. */
		if (memcmp(id, fuzz_bd_id, sizeof(id)) != 0 ||
		    memcmp(b.platform_id, fuzz_bd_id, sizeof(id)) != 0)
			abort();
	} else if (rc != VIGIL_EVERIFY || why == NULL)
		abort();

	ekrc = binding_verify_ek_cert(&b, fuzz_bd_store, fuzz_bd_ekcert.data,
	    fuzz_bd_ekcert.len, fuzz_bd_ekpub, fuzz_bd_ekpub_len, &ekwhy);
	if ((ekrc != 0 && (ekrc != VIGIL_EVERIFY || ekwhy == NULL)) ||
	    (rc == 0 && ekrc != 0))
		abort();

	/* binding_check_ak compares bytes, nothing else. */
	if (binding_check_ak(&b, b.ak_pub.data, b.ak_pub.len, NULL) != 0 ||
	    (binding_check_ak(&b, fuzz_bd_ak, fuzz_bd_ak_len, NULL) == 0) !=
	    (b.ak_pub.len == fuzz_bd_ak_len &&
	    memcmp(b.ak_pub.data, fuzz_bd_ak, fuzz_bd_ak_len) == 0))
		abort();
	binding_free(&b);
	return 0;
}
