/* The PSE's PCR 3 events, checked for the verifier (enclave/pse_events.h). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "log.h"
#include "pse_events.h"
#include "rd.h"

static int
pse_events_fail(const char **why, const char *msg)
{
	*why = msg;
	log_warn("pse_events: %s", msg);
	return VIGIL_EVERIFY;
}

/* Is p a DER EC P-256 public key, exactly? */
static int
pse_events_p256(const uint8_t *p, size_t len)
{
	const unsigned char *q = p;
	EVP_PKEY *k;
	char g[32];
	size_t gl;
	int ok;

	if ((k = d2i_PUBKEY(NULL, &q, (long)len)) == NULL)
		return 0;
	ok = q == p + len && EVP_PKEY_is_a(k, "EC") &&
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, g,
	    sizeof(g), &gl) == 1 && strcmp(g, "prime256v1") == 0;
	EVP_PKEY_free(k);
	return ok;
}

/* Is p one DER certificate whose key is the DER SPKI spki? */
static int
pse_events_cert_of(const uint8_t *p, size_t len, const uint8_t *spki,
    size_t spki_len)
{
	const unsigned char *q = p;
	unsigned char *der = NULL;
	X509 *x;
	int n, ok = 0;

	if ((x = d2i_X509(NULL, &q, (long)len)) == NULL)
		return 0;
	if (q == p + len &&
	    (n = i2d_PUBKEY(X509_get0_pubkey(x), &der)) > 0)
		ok = (size_t)n == spki_len && memcmp(der, spki, spki_len) == 0;
	OPENSSL_free(der);
	X509_free(x);
	return ok;
}

/* One tagged event: its tag and data, its digest checked. */
static int
pse_events_tagged(const struct evlog_event *ev, uint32_t *tag,
    const uint8_t **data, uint32_t *size, const char **why)
{
	uint8_t dg[32];
	unsigned int dl;
	struct rd r;

	rd_init(&r, ev->data, ev->data_len);
	if (rd_u32le(&r, tag) != 0 || rd_u32le(&r, size) != 0 ||
	    rd_bytes(&r, *size, data) != 0 || r.left != 0)
		return pse_events_fail(why, "PSE event data is not a "
		    "well-formed tagged event");
	if (!ev->has_sha256 || EVP_Digest(ev->data, ev->data_len, dg, &dl,
	    EVP_sha256(), NULL) != 1 || memcmp(dg, ev->sha256, 32) != 0)
		return pse_events_fail(why, "PSE event digest is not SHA-256 "
		    "of its data");
	return 0;
}

static int
pse_events_take(struct pse_boot_events *o, uint32_t tag, const uint8_t *d,
    uint32_t n, unsigned *seen, const char **why)
{
	unsigned bit = 1u << (tag - VIGIL_TAG_PSE_IMAGE);

	if (*seen & bit)
		return pse_events_fail(why, "a PSE event appears twice in "
		    "PCR 3");
	*seen |= bit;
	switch (tag) {
	case VIGIL_TAG_PSE_IMAGE:
		if (n != 32)
			return pse_events_fail(why, "PSE image event does not "
			    "hold a SHA-256 digest");
		memcpy(o->image_sha256, d, 32);
		return 0;
	case VIGIL_TAG_PSE_PLATFORM_PUB:
		if (!pse_events_p256(d, n))
			return pse_events_fail(why, "PSE platform key event "
			    "does not hold a P-256 public key");
		o->platform_spki = d;
		o->platform_spki_len = n;
		return 0;
	case VIGIL_TAG_PSE_PLATFORM_CERT:
		o->cert = d;
		o->cert_len = n;
		return 0;
	default:
		if (!pse_events_p256(d, n))
			return pse_events_fail(why, "PSE transport key event "
			    "does not hold a P-256 public key");
		o->transport_spki = d;
		o->transport_spki_len = n;
		return 0;
	}
}

int
pse_events_extract(const struct evlog *log, struct pse_boot_events *out,
    const char **why)
{
	const struct evlog_event *ev;
	struct pse_boot_events o;
	const uint8_t *data;
	uint32_t tag, size;
	unsigned seen = 0;
	int separated = 0, e;
	size_t i;

	memset(&o, 0, sizeof(o));
	memset(out, 0, sizeof(*out));
	for (i = 0; i < log->n; i++) {
		ev = &log->ev[i];
		if (ev->pcr != 3 || ev->type == EV_NO_ACTION)
			continue;
		if (ev->type == EV_SEPARATOR) {
			separated = 1;
			continue;
		}
		if (ev->type != EV_EVENT_TAG || ev->data_len < 4)
			continue;
		tag = (uint32_t)ev->data[0] | (uint32_t)ev->data[1] << 8 |
		    (uint32_t)ev->data[2] << 16 | (uint32_t)ev->data[3] << 24;
		if (tag < VIGIL_TAG_PSE_IMAGE ||
		    tag > VIGIL_TAG_PSE_TRANSPORT_PUB)
			continue;
		if (separated)
			return pse_events_fail(why, "PSE event in PCR 3 after "
			    "the separator");
		if ((e = pse_events_tagged(ev, &tag, &data, &size, why)) != 0 ||
		    (e = pse_events_take(&o, tag, data, size, &seen, why)) != 0)
			return e;
	}
	if ((seen & 7u) != 7u)
		return pse_events_fail(why, "PCR 3 lacks a PSE image, platform "
		    "key or certificate event");
	if (!pse_events_cert_of(o.cert, o.cert_len, o.platform_spki,
	    o.platform_spki_len)) {
		ERR_clear_error();
		return pse_events_fail(why, "PSE certificate event does not "
		    "hold a certificate of the measured platform key");
	}
	*out = o;
	return 0;
}
