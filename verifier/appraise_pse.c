/* PCR 3: the PSE's boot events (appraise_pse.h). */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "appraise_pse.h"
#include "enclave/pse_events.h"
#include "err.h"
#include "events.h"
#include "rd.h"

#define PSE_EV_MAX_DATA (16u * 1024)

static int
pse_plain_separator(const struct evlog_event *ev)
{
	static const uint8_t zero4[4];
	uint8_t dg[SHA256_LEN];
	unsigned int dlen;

	return ev->type == EV_SEPARATOR && ev->data_len == 4 &&
	    memcmp(ev->data, zero4, 4) == 0 && ev->has_sha256 &&
	    EVP_Digest(zero4, 4, dg, &dlen, EVP_sha256(), NULL) == 1 &&
	    memcmp(dg, ev->sha256, SHA256_LEN) == 0;
}

/* 1 if the DER certificate certifies exactly the DER SPKI pub. */
static int
pse_cert_certifies(const uint8_t *cert, size_t cert_len, const uint8_t *pub,
    size_t pub_len)
{
	const unsigned char *p = cert;
	unsigned char *spki = NULL;
	X509 *x;
	int n, ok = 0;

	if ((x = d2i_X509(NULL, &p, (long)cert_len)) == NULL ||
	    p != cert + cert_len) {
		X509_free(x);
		return 0;
	}
	n = i2d_PUBKEY(X509_get0_pubkey(x), &spki);
	ok = n > 0 && (size_t)n == pub_len && memcmp(spki, pub, pub_len) == 0;
	OPENSSL_free(spki);
	X509_free(x);
	return ok;
}

int
appraise_pse_events(const struct evlog *log, struct pse_boot *out,
    char *why, size_t whylen)
{
	const struct evlog_event *ev;
	const uint8_t *data;
	uint8_t dg[SHA256_LEN];
	unsigned int dlen;
	uint32_t tag, size, seen = 0, bit;
	int separated = 0, other = 0;
	struct rd r;
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < log->n; i++) {
		ev = &log->ev[i];
		if (ev->pcr != VIGIL_RUNTIME_PCR || ev->type == EV_NO_ACTION)
			continue;
		if (ev->type == EV_SEPARATOR) {
			separated = 1;
			if (!pse_plain_separator(ev))
				other = 1;
			continue;
		}
		rd_init(&r, ev->data, ev->data_len);
		if (ev->type != EV_EVENT_TAG || rd_u32le(&r, &tag) != 0 ||
		    tag < VIGIL_TAG_PSE_IMAGE ||
		    tag > VIGIL_TAG_PSE_TRANSPORT_PUB) {
			other = 1;
			continue;
		}
		bit = 1u << (tag - VIGIL_TAG_PSE_IMAGE);
		if (separated) {
			snprintf(why, whylen, "PSE event 0x%08x in PCR 23 after "
			    "the separator", tag);
			return VIGIL_EVERIFY;
		}
		if (seen & bit) {
			snprintf(why, whylen, "PSE event 0x%08x twice in PCR 23",
			    tag);
			return VIGIL_EVERIFY;
		}
		seen |= bit;
		if (rd_u32le(&r, &size) != 0 || size == 0 ||
		    size > PSE_EV_MAX_DATA || rd_bytes(&r, size, &data) != 0 ||
		    r.left != 0 || (tag == VIGIL_TAG_PSE_IMAGE &&
		    size != SHA256_LEN)) {
			snprintf(why, whylen, "PSE event 0x%08x in PCR 23 is "
			    "not a well-formed tagged event", tag);
			return VIGIL_EVERIFY;
		}
		if (!ev->has_sha256 || EVP_Digest(ev->data, ev->data_len, dg,
		    &dlen, EVP_sha256(), NULL) != 1 ||
		    memcmp(dg, ev->sha256, SHA256_LEN) != 0) {
			snprintf(why, whylen, "PSE event 0x%08x digest is not "
			    "SHA-256 of its data", tag);
			return VIGIL_EVERIFY;
		}
		switch (tag) {
		case VIGIL_TAG_PSE_IMAGE:
			memcpy(out->image, data, SHA256_LEN);
			break;
		case VIGIL_TAG_PSE_PLATFORM_PUB:
			out->platform_pub = data;
			out->platform_pub_len = size;
			break;
		case VIGIL_TAG_PSE_PLATFORM_CERT:
			out->cert = data;
			out->cert_len = size;
			break;
		default:
			out->transport_pub = data;
			out->transport_pub_len = size;
			break;
		}
	}
	out->present = seen != 0;
	if (!out->present)
		return 0;
	if (out->cert != NULL && out->platform_pub != NULL &&
	    !pse_cert_certifies(out->cert, out->cert_len, out->platform_pub,
	    out->platform_pub_len)) {
		snprintf(why, whylen, "PSE certificate in PCR 23 does not "
		    "certify the measured platform key");
		return VIGIL_EVERIFY;
	}
	out->only = seen == 0xfu && !other;
	return 0;
}

int
appraise_pse_copy(const struct pse_boot *b, struct pse_pins *out,
    char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	if (!b->present)
		return 0;
	if (b->platform_pub_len > PSE_PIN_MAX_PUB ||
	    b->transport_pub_len > PSE_PIN_MAX_PUB) {
		snprintf(why, whylen, "PSE key in PCR 23 over %u bytes",
		    PSE_PIN_MAX_PUB);
		return VIGIL_EVERIFY;
	}
	memcpy(out->image, b->image, SHA256_LEN);
	if (b->platform_pub != NULL) {
		memcpy(out->platform_pub, b->platform_pub,
		    b->platform_pub_len);
		out->platform_pub_len = b->platform_pub_len;
	}
	if (b->transport_pub != NULL) {
		memcpy(out->transport_pub, b->transport_pub,
		    b->transport_pub_len);
		out->transport_pub_len = b->transport_pub_len;
	}
	out->have = 1;
	return 0;
}

static void
pse_contra(struct ear *e)
{
	ear_claim(&e->hardware, AR_CONTRA);
}

int
appraise_pse(const struct appraise_pse_in *in, struct ear *e,
    struct pse_pins *next, int *changed)
{
	const struct pse_pins *b = in->boot, *p = in->prev;
	const char *what = NULL;
	size_t i;

	*changed = 0;
	if (p != NULL && p->have)
		*next = *p;
	else
		memset(next, 0, sizeof(*next));
	if (!b->have) {
		if (next->have) {
			ear_reason(e, "PSE events missing from PCR 23 of a "
			    "node whose PSE keys are pinned");
			pse_contra(e);
		}
		return 0;
	}
	if (in->n_images > 0) {
		for (i = 0; i < in->n_images; i++)
			if (memcmp(in->images[i], b->image, SHA256_LEN) == 0)
				break;
		if (i == in->n_images) {
			ear_reason(e, "PSE image digest in PCR 23 is not among "
			    "the reference values (pse_images)");
			ear_claim(&e->executables, AR_CONTRA);
			pse_contra(e);
			return 0;
		}
	}
	if (!next->have) {
		*next = *b;
		*changed = 1;
		ear_reason(e, "PSE image and keys pinned on first use");
		return 0;
	}
	if (memcmp(next->image, b->image, SHA256_LEN) != 0)
		what = "image digest";
	else if (next->platform_pub_len != b->platform_pub_len ||
	    memcmp(next->platform_pub, b->platform_pub,
	    b->platform_pub_len) != 0)
		what = "platform attestation key";
	else if (next->transport_pub_len != b->transport_pub_len ||
	    memcmp(next->transport_pub, b->transport_pub,
	    b->transport_pub_len) != 0)
		what = "MigE transport key";
	if (what == NULL)
		return 0;
	ear_reason(e, "PSE %s in PCR 23 differs from the one pinned for this "
	    "node", what);
	pse_contra(e);
	return 0;
}
