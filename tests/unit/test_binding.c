/* The certified AK binding (enclave/binding.h): a valid binding verifies
 * and names its platform; forgeries are each rejected by the named check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "enclave/binding.h"
#include "enclave/pse_cert.h"
#include "err.h"
#include "log.h"
#include "swek.h"
#include "swquote.h"
#include "tpm_parse.h"

struct fx {
	EVP_PKEY *ca_key, *pkey;
	X509 *ca, *pcert;
	X509_STORE *store;
	struct buf leaf;
	uint8_t ak[1024];
	size_t ak_len;
};

static int
fx_ak(uint8_t *out, size_t cap, size_t *len)
{
	struct swquote *sq = NULL;
	TPM2B_PUBLIC pub;
	int e;

	if ((e = swquote_new(&sq)) == 0 &&
	    (e = swquote_ak_public(sq, &pub)) == 0)
		e = tpm_public_marshal(&pub, out, cap, len);
	swquote_free(sq);
	return e;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(swek_test_ca("Test platform vendor CA", &f->ca_key,
	    &f->ca), 0);
	assert_non_null(f->pkey = EVP_EC_gen("P-256"));
	assert_int_equal(pse_cert_issue(PSE_CERT_PLATFORM, f->pkey,
	    "Vigil platform attestation key test", f->ca_key, f->ca, 30,
	    &f->pcert), 0);
	assert_int_equal(pse_cert_der(f->pcert, &f->leaf), 0);
	assert_non_null(f->store = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(f->store, f->ca), 1);
	assert_int_equal(fx_ak(f->ak, sizeof(f->ak), &f->ak_len), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	EVP_PKEY_free(f->ca_key);
	EVP_PKEY_free(f->pkey);
	X509_free(f->ca);
	X509_free(f->pcert);
	X509_STORE_free(f->store);
	buf_free(&f->leaf);
	free(f);
	return 0;
}

static void
fx_sign(struct fx *f, EVP_PKEY *key, const struct buf *leaf,
    struct binding *b)
{
	const uint8_t *chain[1] = { leaf->data };
	size_t lens[1] = { leaf->len };

	assert_int_equal(binding_sign(key, f->ak, f->ak_len, chain, lens, 1,
	    b), 0);
}

static void
test_binding_valid_verifies_and_names_platform(void **state)
{
	struct fx *f = *state;
	struct binding b;
	uint8_t id[BINDING_ID_LEN], want[BINDING_ID_LEN];
	const char *why = NULL;

	fx_sign(f, f->pkey, &f->leaf, &b);
	assert_int_equal(binding_verify(&b, f->store, id, &why), 0);
	assert_null(why);
	assert_int_equal(binding_platform_id(f->pkey, want), 0);
	assert_memory_equal(id, want, sizeof(id));
	assert_int_equal(binding_check_ak(&b, f->ak, f->ak_len, &why), 0);
	binding_free(&b);
}

static void
test_binding_marshal_parse_round_trip(void **state)
{
	struct fx *f = *state;
	struct binding b, c;
	struct buf m = BUF_INIT, m2 = BUF_INIT;

	fx_sign(f, f->pkey, &f->leaf, &b);
	assert_int_equal(binding_marshal(&b, &m), 0);
	assert_int_equal(binding_parse(m.data, m.len, &c), 0);
	assert_int_equal(binding_marshal(&c, &m2), 0);
	assert_int_equal(m.len, m2.len);
	assert_memory_equal(m.data, m2.data, m.len);
	assert_int_equal(c.time, b.time);
	assert_int_equal(binding_verify(&c, f->store, NULL, NULL), 0);
	binding_free(&b);
	binding_free(&c);
	buf_free(&m);
	buf_free(&m2);
}

static void
test_binding_rejects_self_signed_pse_key(void **state)
{
	struct fx *f = *state;
	struct binding b;
	struct buf leaf = BUF_INIT;
	EVP_PKEY *k;
	X509 *self;
	const char *why = NULL;

	/* The PSE key certifies itself: its own "CA" is not trusted. */
	assert_int_equal(swek_test_ca("Self-made platform", &k, &self), 0);
	assert_int_equal(pse_cert_der(self, &leaf), 0);
	fx_sign(f, k, &leaf, &b);
	assert_int_equal(binding_verify(&b, f->store, NULL, &why),
	    VIGIL_EVERIFY);
	assert_non_null(why);
	assert_non_null(strstr(why, "does not lead to a trusted platform "
	    "vendor CA"));
	binding_free(&b);
	buf_free(&leaf);
	EVP_PKEY_free(k);
	X509_free(self);
}

static void
test_binding_rejects_key_certified_by_another_ca(void **state)
{
	struct fx *f = *state;
	struct binding b;
	struct buf leaf = BUF_INIT;
	EVP_PKEY *ok, *pk;
	X509 *oca, *pc;
	const char *why = NULL;

	assert_int_equal(swek_test_ca("Other vendor CA", &ok, &oca), 0);
	assert_non_null(pk = EVP_EC_gen("P-256"));
	assert_int_equal(pse_cert_issue(PSE_CERT_PLATFORM, pk, "other", ok,
	    oca, 30, &pc), 0);
	assert_int_equal(pse_cert_der(pc, &leaf), 0);
	fx_sign(f, pk, &leaf, &b);
	assert_int_equal(binding_verify(&b, f->store, NULL, &why),
	    VIGIL_EVERIFY);
	assert_non_null(strstr(why, "does not lead to a trusted platform "
	    "vendor CA"));
	binding_free(&b);
	buf_free(&leaf);
	EVP_PKEY_free(ok);
	EVP_PKEY_free(pk);
	X509_free(oca);
	X509_free(pc);
}

static void
test_binding_rejects_signature_by_another_key(void **state)
{
	struct fx *f = *state;
	struct binding b;
	EVP_PKEY *k;
	const char *why = NULL;

	/* The right certificate, signed by a key it does not certify. */
	assert_non_null(k = EVP_EC_gen("P-256"));
	fx_sign(f, k, &f->leaf, &b);
	assert_int_equal(binding_verify(&b, f->store, NULL, &why),
	    VIGIL_EVERIFY);
	assert_string_equal(why, "binding platform id does not match the "
	    "certified key");
	/* With the id patched to the certified key's, the signature fails. */
	assert_int_equal(binding_platform_id(f->pkey, b.platform_id), 0);
	assert_int_equal(binding_verify(&b, f->store, NULL, &why),
	    VIGIL_EVERIFY);
	assert_string_equal(why, "binding signature does not verify with "
	    "the certified platform key");
	binding_free(&b);
	EVP_PKEY_free(k);
}

static void
test_binding_check_ak_rejects_binding_over_different_ak(void **state)
{
	struct fx *f = *state;
	struct binding b;
	uint8_t other[1024];
	size_t ol;
	const char *why = NULL;

	fx_sign(f, f->pkey, &f->leaf, &b);
	assert_int_equal(fx_ak(other, sizeof(other), &ol), 0);
	assert_int_equal(binding_verify(&b, f->store, NULL, &why), 0);
	assert_int_equal(binding_check_ak(&b, other, ol, &why),
	    VIGIL_EVERIFY);
	assert_string_equal(why, "binding is over a different AK");
	binding_free(&b);
}

static void
test_binding_rejects_swapped_ak(void **state)
{
	struct fx *f = *state;
	struct binding b;
	uint8_t other[1024];
	size_t ol;
	const char *why = NULL;

	/* Someone replaces the bound AK with theirs: the signature breaks. */
	fx_sign(f, f->pkey, &f->leaf, &b);
	assert_int_equal(fx_ak(other, sizeof(other), &ol), 0);
	b.ak_pub.len = 0;
	assert_int_equal(buf_add(&b.ak_pub, other, ol), 0);
	assert_int_equal(binding_verify(&b, f->store, NULL, &why),
	    VIGIL_EVERIFY);
	assert_string_equal(why, "binding signature does not verify with "
	    "the certified platform key");
	binding_free(&b);
}

static void
test_binding_rejects_tampered_bytes(void **state)
{
	struct fx *f = *state;
	struct binding b, c;
	struct buf m = BUF_INIT;
	const char *why;
	size_t off;
	int e;

	fx_sign(f, f->pkey, &f->leaf, &b);
	assert_int_equal(binding_marshal(&b, &m), 0);
	/* Flip a bit of the time field (after magic, version, AK, id). */
	off = 4 + 2 + 2 + b.ak_pub.len + BINDING_ID_LEN + 7;
	m.data[off] ^= 1;
	assert_int_equal(binding_parse(m.data, m.len, &c), 0);
	why = NULL;
	assert_int_equal(binding_verify(&c, f->store, NULL, &why),
	    VIGIL_EVERIFY);
	assert_string_equal(why, "binding signature does not verify with "
	    "the certified platform key");
	binding_free(&c);
	m.data[off] ^= 1;
	/* A flipped byte inside the AK public area. */
	m.data[4 + 2 + 2 + 10] ^= 0x40;
	if (binding_parse(m.data, m.len, &c) == 0) {
		why = NULL;
		e = binding_verify(&c, f->store, NULL, &why);
		assert_int_equal(e, VIGIL_EVERIFY);
		assert_non_null(why);
		binding_free(&c);
	}
	binding_free(&b);
	buf_free(&m);
}

static void
test_binding_parse_rejects_truncation_and_trailing_bytes(void **state)
{
	struct fx *f = *state;
	struct binding b, c;
	struct buf m = BUF_INIT;
	size_t n;

	fx_sign(f, f->pkey, &f->leaf, &b);
	assert_int_equal(binding_marshal(&b, &m), 0);
	for (n = 0; n < m.len; n += 7)
		assert_int_not_equal(binding_parse(m.data, n, &c), 0);
	assert_int_equal(buf_add_u8(&m, 0), 0);
	assert_int_equal(binding_parse(m.data, m.len, &c), VIGIL_EINVAL);
	m.data[0] ^= 0xff;
	assert_int_equal(binding_parse(m.data, m.len - 1, &c), VIGIL_EINVAL);
	binding_free(&b);
	buf_free(&m);
}

static void
test_binding_vtpm_ek_cert_chains_to_vendor_ca(void **state)
{
	struct fx *f = *state;
	struct binding b;
	struct swek *ek;
	struct buf der = BUF_INIT;
	uint8_t ekpub[1024];
	size_t el;
	X509 *c;
	const char *why = NULL;

	fx_sign(f, f->pkey, &f->leaf, &b);
	assert_int_equal(swek_new(f->ca_key, f->ca, &ek), 0);
	assert_int_equal(tpm_public_marshal(swek_public(ek), ekpub,
	    sizeof(ekpub), &el), 0);
	assert_int_equal(pse_cert_issue(PSE_CERT_VTPM_EK, swek_key(ek),
	    "vTPM EK vm-1", f->pkey, f->pcert, 30, &c), 0);
	assert_int_equal(pse_cert_der(c, &der), 0);
	assert_int_equal(binding_verify_ek_cert(&b, f->store, der.data,
	    der.len, ekpub, el, &why), 0);
	X509_free(c);
	buf_free(&der);
	swek_free(ek);
	binding_free(&b);
}

static void
test_binding_rejects_vtpm_ek_cert_not_from_pse(void **state)
{
	struct fx *f = *state;
	struct binding b;
	struct swek *ek;
	struct buf der = BUF_INIT;
	const char *why = NULL;

	/* An EK certificate from the vendor CA itself, not the PSE key. */
	fx_sign(f, f->pkey, &f->leaf, &b);
	assert_int_equal(swek_new(f->ca_key, f->ca, &ek), 0);
	assert_int_equal(swek_cert_der(ek, &der), 0);
	assert_int_equal(binding_verify_ek_cert(&b, f->store, der.data,
	    der.len, NULL, 0, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "vTPM EK certificate is not signed by the "
	    "platform key");
	buf_free(&der);
	swek_free(ek);
	binding_free(&b);
}

static void
test_binding_deep_quote_data_is_sha256_of_nonce_name_vm(void **state)
{
	uint8_t out[32], want[32];
	unsigned int dl;
	const uint8_t nonce[3] = { 1, 2, 3 }, name[4] = { 0, 0x0b, 9, 9 };
	const uint8_t all[] = { 1, 2, 3, 0, 0x0b, 9, 9, 'v', 'm', '1' };

	(void)state;
	assert_int_equal(binding_deep_quote_data(nonce, 3, name, 4, "vm1",
	    out), 0);
	assert_int_equal(EVP_Digest(all, sizeof(all), want, &dl, EVP_sha256(),
	    NULL), 1);
	assert_memory_equal(out, want, 32);
	assert_int_equal(binding_deep_quote_data(nonce, 0, name, 4, "vm1",
	    out), VIGIL_EINVAL);
	assert_int_equal(binding_deep_quote_data(nonce, 3, name, 4, "", out),
	    VIGIL_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binding_valid_verifies_and_names_platform),
		cmocka_unit_test(test_binding_marshal_parse_round_trip),
		cmocka_unit_test(test_binding_rejects_self_signed_pse_key),
		cmocka_unit_test(test_binding_rejects_key_certified_by_another_ca),
		cmocka_unit_test(test_binding_rejects_signature_by_another_key),
		cmocka_unit_test(test_binding_check_ak_rejects_binding_over_different_ak),
		cmocka_unit_test(test_binding_rejects_swapped_ak),
		cmocka_unit_test(test_binding_rejects_tampered_bytes),
		cmocka_unit_test(test_binding_parse_rejects_truncation_and_trailing_bytes),
		cmocka_unit_test(test_binding_vtpm_ek_cert_chains_to_vendor_ca),
		cmocka_unit_test(test_binding_rejects_vtpm_ek_cert_not_from_pse),
		cmocka_unit_test(test_binding_deep_quote_data_is_sha256_of_nonce_name_vm),
	};

	log_init("test_binding", LOG_ERR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
