/* The PSE's PCR 3 events as the verifier recomputes them
 * (verifier/appraise_pse.h): a well-formed set is recomputed and names the
 * transport key; a repeated event, one after the separator, a wrong digest
 * or a certificate for another key are each refused by the named check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"
#include "enclave/pse_cert.h"
#include "enclave/pse_events.h"
#include "err.h"
#include "events.h"
#include "evlog.h"
#include "swek.h"
#include "verifier/appraise_pse.h"

#define EV_SEPARATOR_T	0x00000004u
#define EV_EVENT_TAG_T	0x00000006u

struct fx {
	EVP_PKEY *ca_key, *pkey, *tkey, *other;
	X509 *ca;
	struct buf cert, pub, tpub, opub;
	uint8_t image[32];
};

static struct fx f;

static int
setup(void **state)
{
	X509 *c = NULL;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(swek_test_ca("Test platform vendor CA", &f.ca_key,
	    &f.ca), 0);
	assert_non_null(f.pkey = EVP_EC_gen("P-256"));
	assert_non_null(f.tkey = EVP_EC_gen("P-256"));
	assert_non_null(f.other = EVP_EC_gen("P-256"));
	assert_int_equal(pse_cert_issue(PSE_CERT_PLATFORM, f.pkey, "test",
	    f.ca_key, f.ca, 30, &c), 0);
	assert_int_equal(pse_cert_der(c, &f.cert), 0);
	X509_free(c);
	assert_int_equal(pse_cert_spki(f.pkey, &f.pub), 0);
	assert_int_equal(pse_cert_spki(f.tkey, &f.tpub), 0);
	assert_int_equal(pse_cert_spki(f.other, &f.opub), 0);
	memset(f.image, 0x5a, sizeof(f.image));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(f.ca_key);
	EVP_PKEY_free(f.pkey);
	EVP_PKEY_free(f.tkey);
	EVP_PKEY_free(f.other);
	X509_free(f.ca);
	buf_free(&f.cert);
	buf_free(&f.pub);
	buf_free(&f.tpub);
	buf_free(&f.opub);
	return 0;
}

/* Appends a tagged event to log; bad_digest: a digest not over the data. */
static void
tagged(struct buf *log, uint32_t pcr, uint32_t tag, const uint8_t *p,
    size_t n, int bad_digest)
{
	struct buf d = BUF_INIT;
	uint8_t hdr[8], dg[32];
	unsigned int dl;

	hdr[0] = tag & 0xff; hdr[1] = (tag >> 8) & 0xff;
	hdr[2] = (tag >> 16) & 0xff; hdr[3] = tag >> 24;
	hdr[4] = n & 0xff; hdr[5] = (n >> 8) & 0xff;
	hdr[6] = (n >> 16) & 0xff; hdr[7] = (n >> 24) & 0xff;
	assert_int_equal(buf_add(&d, hdr, 8), 0);
	assert_int_equal(buf_add(&d, p, n), 0);
	assert_int_equal(EVP_Digest(d.data, d.len, dg, &dl, EVP_sha256(),
	    NULL), 1);
	if (bad_digest)
		dg[0] ^= 1;
	assert_int_equal(evlog_write_event(log, pcr, EV_EVENT_TAG_T, dg,
	    d.data, (uint32_t)d.len), 0);
	buf_free(&d);
}

static void
separator(struct buf *log, uint32_t pcr)
{
	static const uint8_t zero4[4];
	uint8_t dg[32];
	unsigned int dl;

	assert_int_equal(EVP_Digest(zero4, 4, dg, &dl, EVP_sha256(), NULL), 1);
	assert_int_equal(evlog_write_event(log, pcr, EV_SEPARATOR_T, dg, zero4,
	    4), 0);
}

/* The four PSE events (the platform key's certificate for cert_for). */
static void
pse_events(struct buf *log, const struct buf *cert, const struct buf *pub)
{
	tagged(log, 3, VIGIL_TAG_PSE_IMAGE, f.image, 32, 0);
	tagged(log, 3, VIGIL_TAG_PSE_PLATFORM_PUB, pub->data, pub->len, 0);
	tagged(log, 3, VIGIL_TAG_PSE_PLATFORM_CERT, cert->data, cert->len, 0);
	tagged(log, 3, VIGIL_TAG_PSE_TRANSPORT_PUB, f.tpub.data, f.tpub.len,
	    0);
}

static int
run(struct buf *raw, struct pse_boot *out, char *why, size_t whylen)
{
	struct evlog *log = NULL;
	int e;

	assert_int_equal(evlog_parse(raw->data, raw->len, &log), 0);
	why[0] = '\0';
	e = appraise_pse_events(log, out, why, whylen);
	evlog_free(log);
	return e;
}

static void
test_pse_events_recomputed_and_name_the_transport_key(void **state)
{
	struct buf raw = BUF_INIT;
	struct pse_boot b;
	char why[200];
	struct evlog *log = NULL;

	(void)state;
	assert_int_equal(evlog_write_header(&raw), 0);
	pse_events(&raw, &f.cert, &f.pub);
	separator(&raw, 3);
	assert_int_equal(evlog_parse(raw.data, raw.len, &log), 0);
	assert_int_equal(appraise_pse_events(log, &b, why, sizeof(why)), 0);
	assert_int_equal(b.present, 1);
	assert_int_equal(b.only, 1);
	assert_int_equal(b.transport_pub_len, f.tpub.len);
	assert_memory_equal(b.transport_pub, f.tpub.data, f.tpub.len);
	assert_memory_equal(b.image, f.image, 32);
	evlog_free(log);
	buf_free(&raw);
}

static void
test_pse_events_absent_is_not_present(void **state)
{
	struct buf raw = BUF_INIT;
	struct pse_boot b;
	char why[200];

	(void)state;
	assert_int_equal(evlog_write_header(&raw), 0);
	separator(&raw, 3);
	assert_int_equal(run(&raw, &b, why, sizeof(why)), 0);
	assert_int_equal(b.present, 0);
	assert_int_equal(b.only, 0);
	buf_free(&raw);
}

static void
test_pse_events_refuse_a_repeated_event(void **state)
{
	struct buf raw = BUF_INIT;
	struct pse_boot b;
	char why[200];

	(void)state;
	assert_int_equal(evlog_write_header(&raw), 0);
	pse_events(&raw, &f.cert, &f.pub);
	tagged(&raw, 3, VIGIL_TAG_PSE_TRANSPORT_PUB, f.opub.data, f.opub.len,
	    0);
	assert_int_equal(run(&raw, &b, why, sizeof(why)), VIGIL_EVERIFY);
	assert_string_equal(why, "PSE event 0x56470304 twice in PCR 3");
	buf_free(&raw);
}

static void
test_pse_events_refuse_an_event_after_the_separator(void **state)
{
	struct buf raw = BUF_INIT;
	struct pse_boot b;
	char why[200];

	(void)state;
	assert_int_equal(evlog_write_header(&raw), 0);
	separator(&raw, 3);
	pse_events(&raw, &f.cert, &f.pub);
	assert_int_equal(run(&raw, &b, why, sizeof(why)), VIGIL_EVERIFY);
	assert_non_null(strstr(why, "after the separator"));
	buf_free(&raw);
}

static void
test_pse_events_refuse_a_digest_not_over_the_data(void **state)
{
	struct buf raw = BUF_INIT;
	struct pse_boot b;
	char why[200];

	(void)state;
	assert_int_equal(evlog_write_header(&raw), 0);
	tagged(&raw, 3, VIGIL_TAG_PSE_TRANSPORT_PUB, f.tpub.data, f.tpub.len,
	    1);
	assert_int_equal(run(&raw, &b, why, sizeof(why)), VIGIL_EVERIFY);
	assert_string_equal(why, "PSE event 0x56470304 digest is not SHA-256 "
	    "of its data");
	buf_free(&raw);
}

static void
test_pse_events_refuse_a_certificate_for_another_key(void **state)
{
	struct buf raw = BUF_INIT;
	struct pse_boot b;
	char why[200];

	(void)state;
	assert_int_equal(evlog_write_header(&raw), 0);
	pse_events(&raw, &f.cert, &f.opub);
	assert_int_equal(run(&raw, &b, why, sizeof(why)), VIGIL_EVERIFY);
	assert_string_equal(why, "PSE certificate in PCR 3 does not certify "
	    "the measured platform key");
	buf_free(&raw);
}

static void
test_pse_events_with_another_event_are_not_recomputed(void **state)
{
	struct buf raw = BUF_INIT;
	struct pse_boot b;
	char why[200];
	const uint8_t x[3] = { 1, 2, 3 };

	(void)state;
	assert_int_equal(evlog_write_header(&raw), 0);
	pse_events(&raw, &f.cert, &f.pub);
	tagged(&raw, 3, 0x12345678u, x, sizeof(x), 0);
	assert_int_equal(run(&raw, &b, why, sizeof(why)), 0);
	assert_int_equal(b.present, 1);
	assert_int_equal(b.only, 0);
	buf_free(&raw);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_pse_events_recomputed_and_name_the_transport_key),
		cmocka_unit_test(test_pse_events_absent_is_not_present),
		cmocka_unit_test(test_pse_events_refuse_a_repeated_event),
		cmocka_unit_test(
		    test_pse_events_refuse_an_event_after_the_separator),
		cmocka_unit_test(
		    test_pse_events_refuse_a_digest_not_over_the_data),
		cmocka_unit_test(
		    test_pse_events_refuse_a_certificate_for_another_key),
		cmocka_unit_test(
		    test_pse_events_with_another_event_are_not_recomputed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
