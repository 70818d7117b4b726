/* The software quote signer (tests and load generation only): its quotes
 * pass the verifier's own parsing and checks, and any altered byte fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "swquote.h"
#include "tpm_parse.h"

static const uint8_t nonce[20] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01, 0x02, 0x03, 0x04,
    0x05 };

static void
fill_pcrs(struct pcrs *vals)
{
	int i;

	memset(vals, 0, sizeof(*vals));
	vals->mask = 0xffffff;
	for (i = 0; i < PCR_COUNT; i++)
		memset(vals->v[i], 0x10 + i, SHA256_LEN);
}

static void
make_quote(struct swquote *sq, struct buf *a, struct buf *s)
{
	struct pcrs vals;

	fill_pcrs(&vals);
	assert_int_equal(swquote_make(sq, nonce, sizeof(nonce), &vals,
	    PCR_POLICY_MASK, 123456789ULL, 7, 3, 1, a, s), 0);
}

static void
test_swquote_ak_passes_the_ak_check(void **state)
{
	struct swquote *sq;
	TPM2B_PUBLIC ak, back;
	uint8_t m[sizeof(TPM2B_PUBLIC)];
	size_t len;
	const char *why = NULL;

	assert_int_equal(swquote_new(&sq), 0);
	assert_int_equal(swquote_ak_public(sq, &ak), 0);
	assert_int_equal(tpm_ak_check(&ak, &why), 0);
	assert_int_equal(tpm_public_marshal(&ak, m, sizeof(m), &len), 0);
	assert_int_equal(tpm_public_parse(m, len, &back), 0);
	assert_int_equal(tpm_ak_check(&back, &why), 0);
	swquote_free(sq);
	swquote_free(NULL);
}

static void
test_swquote_quote_passes_parse_signature_and_pcr_digest(void **state)
{
	struct buf a = BUF_INIT, s = BUF_INIT;
	struct swquote *sq;
	struct pcrs vals;
	TPM2B_PUBLIC ak;
	TPM2B_NAME name;
	struct quote q;
	uint8_t d[SHA256_LEN];
	const char *why = NULL;
	uint32_t mask;

	assert_int_equal(swquote_new(&sq), 0);
	assert_int_equal(swquote_ak_public(sq, &ak), 0);
	make_quote(sq, &a, &s);
	assert_int_equal(quote_parse(a.data, a.len, s.data, s.len, &q, &why),
	    0);
	assert_int_equal(quote_verify_sig(&q, &ak, &why), 0);
	assert_int_equal(quote_selected_mask(&q, &mask, &why), 0);
	assert_int_equal(mask, PCR_POLICY_MASK);
	fill_pcrs(&vals);
	assert_int_equal(quote_pcr_digest(&vals, mask, d), 0);
	assert_int_equal(q.attest.attested.quote.pcrDigest.size, SHA256_LEN);
	assert_memory_equal(q.attest.attested.quote.pcrDigest.buffer, d,
	    SHA256_LEN);
	assert_int_equal(q.attest.extraData.size, sizeof(nonce));
	assert_memory_equal(q.attest.extraData.buffer, nonce, sizeof(nonce));
	assert_true(q.attest.clockInfo.clock == 123456789ULL);
	assert_int_equal(q.attest.clockInfo.resetCount, 7);
	assert_int_equal(q.attest.clockInfo.restartCount, 3);
	assert_int_equal(q.attest.clockInfo.safe, 1);
	assert_int_equal(tpm_public_name(&ak, &name), 0);
	assert_int_equal(q.attest.qualifiedSigner.size, name.size);
	assert_memory_equal(q.attest.qualifiedSigner.name, name.name,
	    name.size);
	/* A PCR value changed after the quote: the digest no longer matches. */
	vals.v[11][0] ^= 1;
	assert_int_equal(quote_pcr_digest(&vals, mask, d), 0);
	assert_memory_not_equal(q.attest.attested.quote.pcrDigest.buffer, d,
	    SHA256_LEN);
	buf_free(&a);
	buf_free(&s);
	swquote_free(sq);
}

/* Every single altered byte of the attest or the signature makes the quote
 * unparseable, wrongly typed or unverifiable: never accepted. */
static void
test_swquote_any_tampered_byte_fails(void **state)
{
	struct buf a = BUF_INIT, s = BUF_INIT;
	struct swquote *sq;
	TPM2B_PUBLIC ak;
	struct quote q;
	const char *why;
	size_t i;
	int r;

	assert_int_equal(swquote_new(&sq), 0);
	assert_int_equal(swquote_ak_public(sq, &ak), 0);
	make_quote(sq, &a, &s);
	for (i = 0; i < a.len; i++) {
		a.data[i] ^= 0x01;
		r = quote_parse(a.data, a.len, s.data, s.len, &q, &why);
		if (r == 0)
			r = quote_verify_sig(&q, &ak, &why);
		assert_int_not_equal(r, 0);
		a.data[i] ^= 0x01;
	}
	for (i = 0; i < s.len; i++) {
		s.data[i] ^= 0x01;
		r = quote_parse(a.data, a.len, s.data, s.len, &q, &why);
		if (r == 0)
			r = quote_verify_sig(&q, &ak, &why);
		assert_int_not_equal(r, 0);
		s.data[i] ^= 0x01;
	}
	/* Untouched, it still verifies. */
	assert_int_equal(quote_parse(a.data, a.len, s.data, s.len, &q, &why),
	    0);
	assert_int_equal(quote_verify_sig(&q, &ak, &why), 0);
	buf_free(&a);
	buf_free(&s);
	swquote_free(sq);
}

static void
test_swquote_quote_fails_with_another_key(void **state)
{
	struct buf a = BUF_INIT, s = BUF_INIT;
	struct swquote *sq, *other;
	TPM2B_PUBLIC ak;
	struct quote q;
	const char *why = NULL;

	assert_int_equal(swquote_new(&sq), 0);
	assert_int_equal(swquote_new(&other), 0);
	assert_int_equal(swquote_ak_public(other, &ak), 0);
	make_quote(sq, &a, &s);
	assert_int_equal(quote_parse(a.data, a.len, s.data, s.len, &q, &why),
	    0);
	assert_int_equal(quote_verify_sig(&q, &ak, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "quote signature does not verify with the AK");
	buf_free(&a);
	buf_free(&s);
	swquote_free(sq);
	swquote_free(other);
}

static void
test_quote_parse_rejects_wrong_magic_and_type(void **state)
{
	struct buf a = BUF_INIT, s = BUF_INIT;
	struct swquote *sq;
	struct quote q;
	const char *why = NULL;

	assert_int_equal(swquote_new(&sq), 0);
	make_quote(sq, &a, &s);
	/* TPM2B size (2), magic (4), type (2). */
	a.data[2] = 0x00;
	assert_int_equal(quote_parse(a.data, a.len, s.data, s.len, &q, &why),
	    VIGIL_EVERIFY);
	assert_string_equal(why, "quote magic is not TPM_GENERATED_VALUE");
	a.data[2] = 0xff;
	a.data[7] = 0x17;	/* TPM_ST_ATTEST_CERTIFY */
	assert_int_equal(quote_parse(a.data, a.len, s.data, s.len, &q, &why),
	    VIGIL_EINVAL);		/* the union no longer parses */
	buf_free(&a);
	buf_free(&s);
	swquote_free(sq);
}

static void
test_swquote_refuses_oversized_nonce_and_missing_pcrs(void **state)
{
	struct buf a = BUF_INIT, s = BUF_INIT;
	struct swquote *sq;
	struct pcrs vals;
	uint8_t big[65] = { 0 };

	assert_int_equal(swquote_new(&sq), 0);
	fill_pcrs(&vals);
	assert_int_equal(swquote_make(sq, big, sizeof(big), &vals,
	    PCR_POLICY_MASK, 1, 0, 0, 1, &a, &s), VIGIL_EINVAL);
	vals.mask = 0xff;
	assert_int_equal(swquote_make(sq, big, 16, &vals, PCR_POLICY_MASK, 1,
	    0, 0, 1, &a, &s), VIGIL_EINVAL);
	assert_int_equal(a.len, 0);
	assert_int_equal(s.len, 0);
	swquote_free(sq);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_swquote_ak_passes_the_ak_check),
		cmocka_unit_test(test_swquote_quote_passes_parse_signature_and_pcr_digest),
		cmocka_unit_test(test_swquote_any_tampered_byte_fails),
		cmocka_unit_test(test_swquote_quote_fails_with_another_key),
		cmocka_unit_test(test_quote_parse_rejects_wrong_magic_and_type),
		cmocka_unit_test(test_swquote_refuses_oversized_nonce_and_missing_pcrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
