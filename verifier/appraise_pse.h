/* The PSE's measured-boot events in PCR 3 (docs/pse.md "PCR 3 events",
 * enclave/pse_events.h), recomputed from their data by the verifier: the
 * vigil-psed image digest, the platform attestation key, its certificate
 * (which must certify that key) and the MigE transport key. */
#ifndef VIGIL_APPRAISE_PSE_H
#define VIGIL_APPRAISE_PSE_H

#include <stddef.h>
#include <stdint.h>

#include "evlog.h"
#include "pcrs.h"

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

#endif
