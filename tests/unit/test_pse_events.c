/* The PSE's PCR 3 events (enclave/pse_events.h), as the verifier reads
 * them from a node's event log: what the boot step writes is accepted;
 * a missing, repeated, late, mis-digested or mismatched event is refused
 * by the named check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "enclave/pse_cert.h"
#include "enclave/pse_events.h"
#include "err.h"
#include "evlog.h"
#include "log.h"
#include "swek.h"

struct fx {
	struct buf ppub, tpub, cert, other_pub;
	uint8_t image[32];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	EVP_PKEY *cak, *pk, *tk, *ok;
	X509 *ca, *c;

	assert_non_null(f);
	assert_int_equal(swek_test_ca("vendor", &cak, &ca), 0);
	assert_non_null(pk = EVP_EC_gen("P-256"));
	assert_non_null(tk = EVP_EC_gen("P-256"));
	assert_non_null(ok = EVP_EC_gen("P-256"));
	assert_int_equal(pse_cert_issue(PSE_CERT_PLATFORM, pk, "p", cak, ca,
	    30, &c), 0);
	assert_int_equal(pse_cert_spki(pk, &f->ppub), 0);
	assert_int_equal(pse_cert_spki(tk, &f->tpub), 0);
	assert_int_equal(pse_cert_spki(ok, &f->other_pub), 0);
	assert_int_equal(pse_cert_der(c, &f->cert), 0);
	memset(f->image, 0xab, sizeof(f->image));
	EVP_PKEY_free(cak);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(tk);
	EVP_PKEY_free(ok);
	X509_free(ca);
	X509_free(c);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	buf_free(&f->ppub);
	buf_free(&f->tpub);
	buf_free(&f->cert);
	buf_free(&f->other_pub);
	free(f);
	return 0;
}

/* Appends a tagged PCR 3 event; bad_digest breaks its digest. */
static void
ev(struct buf *log, uint32_t tag, const uint8_t *d, size_t n, int bad_digest)
{
	struct buf data = BUF_INIT;
	uint8_t dg[32];
	unsigned int dl;

	assert_int_equal(buf_add_u32le(&data, tag), 0);
	assert_int_equal(buf_add_u32le(&data, (uint32_t)n), 0);
	assert_int_equal(buf_add(&data, d, n), 0);
	assert_int_equal(EVP_Digest(data.data, data.len, dg, &dl,
	    EVP_sha256(), NULL), 1);
	dg[0] ^= (uint8_t)bad_digest;
	assert_int_equal(evlog_write_event(log, 3, EV_EVENT_TAG, dg,
	    data.data, (uint32_t)data.len), 0);
	buf_free(&data);
}

static void
sep(struct buf *log)
{
	static const uint8_t z[4];
	uint8_t dg[32];
	unsigned int dl;

	assert_int_equal(EVP_Digest(z, 4, dg, &dl, EVP_sha256(), NULL), 1);
	assert_int_equal(evlog_write_event(log, 3, EV_SEPARATOR, dg, z, 4), 0);
}

/* Parses log and runs the check; returns its result and *why. */
static int
check(struct buf *log, struct pse_boot_events *o, const char **why)
{
	struct evlog *l = NULL;
	int e;

	assert_int_equal(evlog_parse(log->data, log->len, &l), 0);
	*why = NULL;
	e = pse_events_extract(l, o, why);
	evlog_free(l);
	return e;
}

static void
good(struct fx *f, struct buf *log)
{
	assert_int_equal(evlog_write_header(log), 0);
	ev(log, VIGIL_TAG_PSE_IMAGE, f->image, 32, 0);
	ev(log, VIGIL_TAG_PSE_PLATFORM_PUB, f->ppub.data, f->ppub.len, 0);
	ev(log, VIGIL_TAG_PSE_PLATFORM_CERT, f->cert.data, f->cert.len, 0);
	ev(log, VIGIL_TAG_PSE_TRANSPORT_PUB, f->tpub.data, f->tpub.len, 0);
}

static void
test_pse_events_boot_log_yields_keys_and_image(void **state)
{
	struct fx *f = *state;
	struct buf log = BUF_INIT;
	struct pse_boot_events o;
	const char *why;

	good(f, &log);
	sep(&log);
	assert_int_equal(check(&log, &o, &why), 0);
	assert_memory_equal(o.image_sha256, f->image, 32);
	assert_int_equal(o.platform_spki_len, f->ppub.len);
	assert_int_equal(o.transport_spki_len, f->tpub.len);
	assert_int_equal(o.cert_len, f->cert.len);
	buf_free(&log);
}

static void
test_pse_events_reject_repeated_event(void **state)
{
	struct fx *f = *state;
	struct buf log = BUF_INIT;
	struct pse_boot_events o;
	const char *why;

	good(f, &log);
	ev(&log, VIGIL_TAG_PSE_PLATFORM_PUB, f->other_pub.data,
	    f->other_pub.len, 0);
	sep(&log);
	assert_int_equal(check(&log, &o, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "a PSE event appears twice in PCR 3");
	buf_free(&log);
}

static void
test_pse_events_reject_event_after_separator(void **state)
{
	struct fx *f = *state;
	struct buf log = BUF_INIT;
	struct pse_boot_events o;
	const char *why;

	assert_int_equal(evlog_write_header(&log), 0);
	ev(&log, VIGIL_TAG_PSE_IMAGE, f->image, 32, 0);
	ev(&log, VIGIL_TAG_PSE_PLATFORM_PUB, f->ppub.data, f->ppub.len, 0);
	sep(&log);
	ev(&log, VIGIL_TAG_PSE_PLATFORM_CERT, f->cert.data, f->cert.len, 0);
	assert_int_equal(check(&log, &o, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "PSE event in PCR 3 after the separator");
	buf_free(&log);
}

static void
test_pse_events_reject_wrong_digest(void **state)
{
	struct fx *f = *state;
	struct buf log = BUF_INIT;
	struct pse_boot_events o;
	const char *why;

	assert_int_equal(evlog_write_header(&log), 0);
	ev(&log, VIGIL_TAG_PSE_IMAGE, f->image, 32, 1);
	assert_int_equal(check(&log, &o, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "PSE event digest is not SHA-256 of its "
	    "data");
	buf_free(&log);
}

static void
test_pse_events_reject_certificate_of_another_key(void **state)
{
	struct fx *f = *state;
	struct buf log = BUF_INIT;
	struct pse_boot_events o;
	const char *why;

	assert_int_equal(evlog_write_header(&log), 0);
	ev(&log, VIGIL_TAG_PSE_IMAGE, f->image, 32, 0);
	ev(&log, VIGIL_TAG_PSE_PLATFORM_PUB, f->other_pub.data,
	    f->other_pub.len, 0);
	ev(&log, VIGIL_TAG_PSE_PLATFORM_CERT, f->cert.data, f->cert.len, 0);
	sep(&log);
	assert_int_equal(check(&log, &o, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "PSE certificate event does not hold a "
	    "certificate of the measured platform key");
	buf_free(&log);
}

static void
test_pse_events_reject_missing_certificate(void **state)
{
	struct fx *f = *state;
	struct buf log = BUF_INIT;
	struct pse_boot_events o;
	const char *why;

	assert_int_equal(evlog_write_header(&log), 0);
	ev(&log, VIGIL_TAG_PSE_IMAGE, f->image, 32, 0);
	ev(&log, VIGIL_TAG_PSE_PLATFORM_PUB, f->ppub.data, f->ppub.len, 0);
	sep(&log);
	assert_int_equal(check(&log, &o, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "PCR 3 lacks a PSE image, platform key or "
	    "certificate event");
	buf_free(&log);
}

static void
test_pse_events_reject_key_that_is_not_p256(void **state)
{
	struct fx *f = *state;
	struct buf log = BUF_INIT;
	struct pse_boot_events o;
	const char *why;

	assert_int_equal(evlog_write_header(&log), 0);
	ev(&log, VIGIL_TAG_PSE_PLATFORM_PUB, f->cert.data, f->cert.len, 0);
	assert_int_equal(check(&log, &o, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "PSE platform key event does not hold a "
	    "P-256 public key");
	buf_free(&log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pse_events_boot_log_yields_keys_and_image),
		cmocka_unit_test(test_pse_events_reject_repeated_event),
		cmocka_unit_test(test_pse_events_reject_event_after_separator),
		cmocka_unit_test(test_pse_events_reject_wrong_digest),
		cmocka_unit_test(test_pse_events_reject_certificate_of_another_key),
		cmocka_unit_test(test_pse_events_reject_missing_certificate),
		cmocka_unit_test(test_pse_events_reject_key_that_is_not_p256),
	};

	log_init("test_pse_events", LOG_ERR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
