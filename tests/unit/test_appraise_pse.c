/* The PSE's PCR 3 events as the verifier recomputes them
 * (verifier/appraise_pse.h): a well-formed set is recomputed and names the
 * transport key; a repeated event, one after the separator, a wrong digest
 * or a certificate for another key are each refused by the named check.
 * The pins (appraise_pse, store_pse.h): first seen, pinned; a changed
 * image, platform or transport key contraindicates naming it; an image not
 * in the reference values' pse_images is refused; an operator
 * re-enrolment drops the stored pins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
#include "verifier/config.h"
#include "verifier/routes_pse.h"
#include "verifier/ear.h"
#include "verifier/refvals.h"
#include "verifier/store.h"
#include "verifier/store_pse.h"

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
	tagged(log, 23, VIGIL_TAG_PSE_IMAGE, f.image, 32, 0);
	tagged(log, 23, VIGIL_TAG_PSE_PLATFORM_PUB, pub->data, pub->len, 0);
	tagged(log, 23, VIGIL_TAG_PSE_PLATFORM_CERT, cert->data, cert->len, 0);
	tagged(log, 23, VIGIL_TAG_PSE_TRANSPORT_PUB, f.tpub.data, f.tpub.len,
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
	separator(&raw, 23);
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
	separator(&raw, 23);
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
	tagged(&raw, 23, VIGIL_TAG_PSE_TRANSPORT_PUB, f.opub.data, f.opub.len,
	    0);
	assert_int_equal(run(&raw, &b, why, sizeof(why)), VIGIL_EVERIFY);
	assert_string_equal(why, "PSE event 0x56470304 twice in PCR 23");
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
	separator(&raw, 23);
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
	tagged(&raw, 23, VIGIL_TAG_PSE_TRANSPORT_PUB, f.tpub.data, f.tpub.len,
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
	assert_string_equal(why, "PSE certificate in PCR 23 does not certify "
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
	tagged(&raw, 23, 0x12345678u, x, sizeof(x), 0);
	assert_int_equal(run(&raw, &b, why, sizeof(why)), 0);
	assert_int_equal(b.present, 1);
	assert_int_equal(b.only, 0);
	buf_free(&raw);
}

/* ---- pins ---- */

/* Pins as appraise_pse_copy makes them from the fixture's events. */
static void
seen_pins(struct pse_pins *p, const struct buf *pub)
{
	struct buf raw = BUF_INIT;
	struct pse_boot b;
	struct evlog *log = NULL;
	char why[200];

	assert_int_equal(evlog_write_header(&raw), 0);
	pse_events(&raw, &f.cert, pub);
	assert_int_equal(evlog_parse(raw.data, raw.len, &log), 0);
	assert_int_equal(appraise_pse_events(log, &b, why, sizeof(why)), 0);
	assert_int_equal(appraise_pse_copy(&b, p, why, sizeof(why)), 0);
	evlog_free(log);
	buf_free(&raw);
}

static void
test_pse_copy_keeps_image_and_both_keys(void **state)
{
	struct pse_pins p;

	(void)state;
	seen_pins(&p, &f.pub);
	assert_int_equal(p.have, 1);
	assert_memory_equal(p.image, f.image, 32);
	assert_int_equal(p.platform_pub_len, f.pub.len);
	assert_memory_equal(p.platform_pub, f.pub.data, f.pub.len);
	assert_int_equal(p.transport_pub_len, f.tpub.len);
	assert_memory_equal(p.transport_pub, f.tpub.data, f.tpub.len);
}

static int
pin_run(const struct pse_pins *boot, const struct pse_pins *prev,
    const uint8_t (*images)[32], size_t n, struct ear *e,
    struct pse_pins *next)
{
	struct appraise_pse_in in;
	int changed = -1;

	ear_init(e);
	memset(&in, 0, sizeof(in));
	in.boot = boot;
	in.prev = prev;
	in.images = images;
	in.n_images = n;
	assert_int_equal(appraise_pse(&in, e, next, &changed), 0);
	return changed;
}

static void
test_pse_pins_first_seen_are_pinned(void **state)
{
	struct pse_pins b, next;
	struct ear e;

	(void)state;
	seen_pins(&b, &f.pub);
	assert_int_equal(pin_run(&b, NULL, NULL, 0, &e, &next), 1);
	assert_int_equal(next.have, 1);
	assert_memory_equal(&next, &b, sizeof(b));
	assert_int_equal(e.hardware, AR_NONE);
	assert_int_equal(e.n_reasons, 1);
	assert_string_equal(e.reasons[0], "PSE image and keys pinned on "
	    "first use");
}

static void
test_pse_pins_unchanged_add_nothing(void **state)
{
	struct pse_pins b, next;
	struct ear e;

	(void)state;
	seen_pins(&b, &f.pub);
	assert_int_equal(pin_run(&b, &b, NULL, 0, &e, &next), 0);
	assert_memory_equal(&next, &b, sizeof(b));
	assert_int_equal(e.hardware, AR_NONE);
	assert_int_equal(e.n_reasons, 0);
}

static void
test_pse_pins_changed_platform_key_is_named(void **state)
{
	struct pse_pins b, prev, next;
	struct ear e;

	(void)state;
	seen_pins(&prev, &f.pub);
	b = prev;
	memcpy(b.platform_pub, f.opub.data, f.opub.len);
	b.platform_pub_len = f.opub.len;
	assert_int_equal(pin_run(&b, &prev, NULL, 0, &e, &next), 0);
	assert_int_equal(e.hardware, AR_CONTRA);
	assert_int_equal(ear_status(&e), EAR_TIER_CONTRAINDICATED);
	assert_int_equal(e.n_reasons, 1);
	assert_string_equal(e.reasons[0], "PSE platform attestation key in "
	    "PCR 23 differs from the one pinned for this node");
	/* the pin stays the first key */
	assert_memory_equal(&next, &prev, sizeof(prev));
}

static void
test_pse_pins_changed_transport_key_is_named(void **state)
{
	struct pse_pins b, prev, next;
	struct ear e;

	(void)state;
	seen_pins(&prev, &f.pub);
	b = prev;
	memcpy(b.transport_pub, f.opub.data, f.opub.len);
	b.transport_pub_len = f.opub.len;
	assert_int_equal(pin_run(&b, &prev, NULL, 0, &e, &next), 0);
	assert_int_equal(e.hardware, AR_CONTRA);
	assert_string_equal(e.reasons[0], "PSE MigE transport key in PCR 23 "
	    "differs from the one pinned for this node");
	assert_memory_equal(&next, &prev, sizeof(prev));
}

static void
test_pse_pins_changed_image_is_named(void **state)
{
	struct pse_pins b, prev, next;
	struct ear e;

	(void)state;
	seen_pins(&prev, &f.pub);
	b = prev;
	b.image[0] ^= 1;
	assert_int_equal(pin_run(&b, &prev, NULL, 0, &e, &next), 0);
	assert_int_equal(e.hardware, AR_CONTRA);
	assert_string_equal(e.reasons[0], "PSE image digest in PCR 23 differs "
	    "from the one pinned for this node");
}

static void
test_pse_pins_events_gone_from_pinned_node_contraindicate(void **state)
{
	struct pse_pins b, prev, next;
	struct ear e;

	(void)state;
	seen_pins(&prev, &f.pub);
	memset(&b, 0, sizeof(b));
	assert_int_equal(pin_run(&b, &prev, NULL, 0, &e, &next), 0);
	assert_int_equal(e.hardware, AR_CONTRA);
	assert_string_equal(e.reasons[0], "PSE events missing from PCR 23 of "
	    "a node whose PSE keys are pinned");
	assert_memory_equal(&next, &prev, sizeof(prev));
}

static void
test_pse_pins_no_pse_no_pins_no_claim(void **state)
{
	struct pse_pins b, next;
	struct ear e;

	(void)state;
	memset(&b, 0, sizeof(b));
	assert_int_equal(pin_run(&b, NULL, NULL, 0, &e, &next), 0);
	assert_int_equal(next.have, 0);
	assert_int_equal(e.hardware, AR_NONE);
	assert_int_equal(e.n_reasons, 0);
}

static void
test_pse_image_not_in_reference_values_is_refused(void **state)
{
	struct pse_pins b, next;
	struct ear e;
	uint8_t refs[2][32];

	(void)state;
	seen_pins(&b, &f.pub);
	memset(refs[0], 0x11, 32);
	memset(refs[1], 0x22, 32);
	assert_int_equal(pin_run(&b, NULL, (const uint8_t (*)[32])refs, 2,
	    &e, &next), 0);
	assert_int_equal(next.have, 0);
	assert_int_equal(e.hardware, AR_CONTRA);
	assert_int_equal(e.executables, AR_CONTRA);
	assert_string_equal(e.reasons[0], "PSE image digest in PCR 23 is not "
	    "among the reference values (pse_images)");
}

static void
test_pse_image_in_reference_values_is_pinned(void **state)
{
	static const char doc[] = "{\"pse_images\": [\""
	    "1111111111111111111111111111111111111111111111111111111111111111"
	    "\", \""
	    "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
	    "\"]}";
	const uint8_t (*imgs)[32];
	struct refvals *r = NULL;
	struct pse_pins b, next;
	struct ear e;
	size_t n;

	(void)state;
	assert_int_equal(refvals_parse(doc, strlen(doc), &r, NULL, 0), 0);
	refvals_pse_images(r, &imgs, &n);
	assert_int_equal(n, 2);
	seen_pins(&b, &f.pub);
	assert_int_equal(pin_run(&b, NULL, imgs, n, &e, &next), 1);
	assert_int_equal(next.have, 1);
	assert_int_equal(e.hardware, AR_NONE);
	assert_int_equal(e.executables, AR_NONE);
	refvals_free(r);
}

static void
test_pse_images_reference_malformed_is_refused_naming_it(void **state)
{
	static const char doc[] = "{\"pse_images\": [\"zz\"]}";
	static const char doc2[] = "{\"pse_images\": {}}";
	struct refvals *r = NULL;
	char why[120];

	(void)state;
	assert_int_equal(refvals_parse(doc, strlen(doc), &r, why,
	    sizeof(why)), VIGIL_EINVAL);
	assert_string_equal(why, "pse_images[0]: not 64 lowercase hex digits");
	assert_int_equal(refvals_parse(doc2, strlen(doc2), &r, why,
	    sizeof(why)), VIGIL_EINVAL);
	assert_string_equal(why, "pse_images: not an array");
}

/* ---- pins in the store ---- */

static void
test_pse_pins_stored_and_dropped_by_reenrolment(void **state)
{
	static uint8_t ek[] = { 0, 4, 1, 2, 3, 4 };
	static uint8_t ak[] = { 0, 4, 9, 9, 9, 9 };
	char dir[64], path[96], p[160];
	struct store *s = NULL;
	struct agent_rec a;
	struct pse_pins pins, got;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vigil-pse-pins.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.db", dir);
	assert_int_equal(store_open(path, &s), 0);
	memset(&a, 0, sizeof(a));
	memset(a.id, 'c', 64);
	snprintf(a.hostname, sizeof(a.hostname), "node-c");
	a.ek_pub = ek;
	a.ek_pub_len = sizeof(ek);
	a.ak_pub = ak;
	a.ak_pub_len = sizeof(ak);
	a.ak_name[1] = 0x0b;
	memset(a.ak_name + 2, 'c', 32);
	a.ak_name_len = 34;
	assert_int_equal(store_agent_register(s, &a, NULL), 0);
	assert_int_equal(store_agent_activate(s, a.id, a.secret_hash, NULL, NULL), 0);

	assert_int_equal(store_pse_pins_get(s, a.id, &got), VIGIL_ENOTFOUND);
	seen_pins(&pins, &f.pub);
	assert_int_equal(store_pse_pins_put(s, a.id, &pins), 0);
	assert_int_equal(store_pse_pins_get(s, a.id, &got), 0);
	assert_memory_equal(&got, &pins, sizeof(pins));
	/* another register without approval keeps them */
	assert_int_equal(store_agent_register(s, &a, NULL), 0);
	assert_int_equal(store_pse_pins_get(s, a.id, &got), 0);
	/* the operator's approval drops them */
	assert_int_equal(store_agent_approve_reenrol(s, a.id), 0);
	assert_int_equal(store_pse_pins_get(s, a.id, &got), VIGIL_ENOTFOUND);
	/* pins learnt between approval and the re-enrolment's activation
	 * go too (a registration alone changes nothing) */
	assert_int_equal(store_pse_pins_put(s, a.id, &pins), 0);
	a.secret_hash[0] ^= 1;
	assert_int_equal(store_agent_register(s, &a, NULL), 0);
	assert_int_equal(store_pse_pins_get(s, a.id, &got), 0);
	assert_int_equal(store_agent_activate(s, a.id, a.secret_hash, NULL,
	    NULL), 0);
	assert_int_equal(store_pse_pins_get(s, a.id, &got), VIGIL_ENOTFOUND);

	store_close(s);
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	rmdir(dir);
}

/* 1 if a reason of e starts with part. */
static int
has_platform_reason(const struct ear *e, const char *part)
{
	size_t i;

	for (i = 0; i < e->n_reasons; i++)
		if (strncmp(e->reasons[i], part, strlen(part)) == 0)
			return 1;
	return 0;
}

static void
platform_agent(struct store *s, struct agent_rec *a, char tag)
{
	static uint8_t ek[] = { 0, 4, 1, 2, 3, 4 };
	static uint8_t ak[] = { 0, 4, 9, 9, 9, 9 };

	memset(a, 0, sizeof(*a));
	memset(a->id, tag, 64);
	snprintf(a->hostname, sizeof(a->hostname), "node-%c", tag);
	a->ek_pub = ek;
	a->ek_pub_len = sizeof(ek);
	a->ak_pub = ak;
	a->ak_pub_len = sizeof(ak);
	a->ak_name[1] = 0x0b;
	memset(a->ak_name + 2, tag, 32);
	a->ak_name_len = 34;
	memset(a->secret_hash, tag, SHA256_LEN);
	assert_int_equal(store_agent_register(s, a, NULL), 0);
	assert_int_equal(store_agent_activate(s, a->id, a->secret_hash, NULL,
	    NULL), 0);
}

/* Issue 9, [attestation] ek_kinds = one: a second agent whose PCR 3 shows
 * the platform attestation key pinned to another active agent (the same
 * TPM registered again with its other EK) is contraindicated, naming the
 * first, and pins nothing; the first stays as it is. With ek_kinds = each
 * it is not checked. */
static void
test_pse_one_platform_one_agent(void **state)
{
	char dir[64], path[96], p[160];
	struct store *s = NULL;
	struct agent_rec a, b;
	struct pse_pins pins, got;
	struct vconfig cfg;
	struct vctx vc;
	struct appraise_out ao;
	char want[300];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vigil-pse-one.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.db", dir);
	assert_int_equal(store_open(path, &s), 0);
	config_defaults(&cfg);
	memset(&vc, 0, sizeof(vc));
	vc.cfg = &cfg;
	vc.store = s;
	platform_agent(s, &a, 'a');
	platform_agent(s, &b, 'b');
	seen_pins(&pins, &f.pub);

	memset(&ao, 0, sizeof(ao));
	ear_init(&ao.ear);
	ao.quote_ok = ao.pse_evaluated = 1;
	ao.pse = pins;
	assert_int_equal(routes_pse_appraise(&vc, a.id, NULL, &ao), 0);
	assert_int_equal(ao.ear.instance_identity, 0);
	assert_int_equal(store_pse_pins_get(s, a.id, &got), 0);

	memset(&ao, 0, sizeof(ao));
	ear_init(&ao.ear);
	ao.quote_ok = ao.pse_evaluated = 1;
	ao.pse = pins;
	assert_int_equal(routes_pse_appraise(&vc, b.id, NULL, &ao), 0);
	assert_int_equal(ao.ear.instance_identity, AR_CONTRA);
	snprintf(want, sizeof(want), "platform identity: the PSE platform "
	    "attestation key (PCR 23) is pinned to active agent %s: one TPM "
	    "registered as two agents ([attestation] ek_kinds = one)", a.id);
	assert_true(has_platform_reason(&ao.ear, want));
	assert_int_equal(store_pse_pins_get(s, b.id, &got), VIGIL_ENOTFOUND);
	/* the first agent is not touched by the second */
	memset(&ao, 0, sizeof(ao));
	ear_init(&ao.ear);
	ao.quote_ok = ao.pse_evaluated = 1;
	ao.pse = pins;
	assert_int_equal(routes_pse_appraise(&vc, a.id, NULL, &ao), 0);
	assert_int_equal(ao.ear.instance_identity, 0);
	assert_false(has_platform_reason(&ao.ear, "platform identity"));

	cfg.ek_kinds = EK_KINDS_EACH;
	memset(&ao, 0, sizeof(ao));
	ear_init(&ao.ear);
	ao.quote_ok = ao.pse_evaluated = 1;
	ao.pse = pins;
	assert_int_equal(routes_pse_appraise(&vc, b.id, NULL, &ao), 0);
	assert_int_equal(ao.ear.instance_identity, 0);
	assert_false(has_platform_reason(&ao.ear, "platform identity"));
	assert_int_equal(store_pse_pins_get(s, b.id, &got), 0);

	store_close(s);
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	rmdir(dir);
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
		cmocka_unit_test(test_pse_copy_keeps_image_and_both_keys),
		cmocka_unit_test(test_pse_pins_first_seen_are_pinned),
		cmocka_unit_test(test_pse_pins_unchanged_add_nothing),
		cmocka_unit_test(test_pse_pins_changed_platform_key_is_named),
		cmocka_unit_test(test_pse_pins_changed_transport_key_is_named),
		cmocka_unit_test(test_pse_pins_changed_image_is_named),
		cmocka_unit_test(
		    test_pse_pins_events_gone_from_pinned_node_contraindicate),
		cmocka_unit_test(test_pse_pins_no_pse_no_pins_no_claim),
		cmocka_unit_test(
		    test_pse_image_not_in_reference_values_is_refused),
		cmocka_unit_test(test_pse_image_in_reference_values_is_pinned),
		cmocka_unit_test(
		    test_pse_images_reference_malformed_is_refused_naming_it),
		cmocka_unit_test(
		    test_pse_pins_stored_and_dropped_by_reenrolment),
		cmocka_unit_test(test_pse_one_platform_one_agent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
