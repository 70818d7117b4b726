/* The PSE's measured-boot events in PCR 3 (docs/pse.md "PCR 3 events",
 * enclave/pse_events.h), recomputed from their data by the verifier: the
 * vigil-psed image digest, the platform attestation key, its certificate
 * (which must certify that key) and the MigE transport key. */
#ifndef VIGIL_APPRAISE_PSE_H
#define VIGIL_APPRAISE_PSE_H

#include <stddef.h>
#include <stdint.h>

#include "ear.h"
#include "evlog.h"
#include "pcrs.h"

#define PSE_PIN_MAX_PUB 512u	/* a DER SubjectPublicKeyInfo (P-256: 91) */

struct pse_boot {
	int present;		/* PCR 3 has at least one PSE event */
	int only;		/* PCR 3 holds all four and plain separators,
				 * nothing else: its value is recomputed */
	uint8_t image[SHA256_LEN];
	/* point into the parsed log's buffer */
	const uint8_t *platform_pub; size_t platform_pub_len;
	const uint8_t *cert; size_t cert_len;
	const uint8_t *transport_pub; size_t transport_pub_len;
};

/* 0 with *out filled (present 0 when PCR 3 has no PSE event);
 * VIGIL_EVERIFY with the failed check in why: an event twice, after the
 * separator, malformed, its digest not SHA-256 of its data, or the
 * certificate not certifying the platform key. */
int appraise_pse_events(const struct evlog *log, struct pse_boot *out,
    char *why, size_t whylen);

/* What the verifier pins per node from PCR 3 (first seen), and a copy of
 * one boot's PSE data that outlives the parsed log. */
struct pse_pins {
	int have;		/* 0: nothing pinned / no PSE event */
	uint8_t image[SHA256_LEN];
	uint8_t platform_pub[PSE_PIN_MAX_PUB];
	size_t platform_pub_len;
	uint8_t transport_pub[PSE_PIN_MAX_PUB];
	size_t transport_pub_len;
};

/* *out = b's image digest and public keys (have = b->present; a key
 * PCR 3 lacks has length 0). 0, or VIGIL_EVERIFY with why when a key is
 * over PSE_PIN_MAX_PUB. */
int appraise_pse_copy(const struct pse_boot *b, struct pse_pins *out,
    char *why, size_t whylen);

struct appraise_pse_in {
	const struct pse_pins *boot;	/* this quote (appraise_pse_copy) */
	const struct pse_pins *prev;	/* NULL: nothing pinned */
	/* The reference document's "pse_images" (refvals_pse_images); n 0:
	 * none listed, the image digest is only pinned. */
	const uint8_t (*images)[SHA256_LEN];
	size_t n_images;
};

/* The image digest against the reference values, then the pins: first
 * seen, pinned; the same, fine; a change, the hardware claim
 * contraindicated with the reason naming what changed ("image digest",
 * "platform attestation key", "MigE transport key"). PSE events gone from a
 * node with pins: contraindicated. *next is the state to store, *changed
 * 1 when it differs from *prev. Always 0 (the verdict is in e). */
int appraise_pse(const struct appraise_pse_in *in, struct ear *e,
    struct pse_pins *next, int *changed);

#endif
