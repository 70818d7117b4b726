/* The PSE's measured-boot events in PCR 3 (DESIGN.md "PCRs, events and
 * handles"), written by `vigil-agent boot --pse-image F --pse-pubkey F
 * --pse-cert F [--pse-transport-pubkey F]`, and the "MSR" hand-off of PCR 5
 * (VIGIL_TAG_AK_PUBLIC, common/events.h). Each is an EV_EVENT_TAG event
 * (TCG_PCClientTaggedEvent: u32le tag, u32le size, data) whose digest is
 * SHA-256 over the whole event data, so the verifier recomputes it from
 * what it knows (common/events.h has the same rule). Logged in this order,
 * after the PCR 7 event and before the separators, each exactly once.
 * These belong in common/events.h; they live here until that shared
 * header takes them. */
#ifndef VIGIL_PSE_EVENTS_H
#define VIGIL_PSE_EVENTS_H

/* data: SHA-256 (32 bytes) of the vigil-psed image */
#define VIGIL_TAG_PSE_IMAGE		0x56470301u
/* data: DER SubjectPublicKeyInfo of the platform attestation key */
#define VIGIL_TAG_PSE_PLATFORM_PUB	0x56470302u
/* data: DER X.509 certificate of the platform attestation key */
#define VIGIL_TAG_PSE_PLATFORM_CERT	0x56470303u
/* data: DER SubjectPublicKeyInfo of the MigE transport key */
#define VIGIL_TAG_PSE_TRANSPORT_PUB	0x56470304u

#include <stddef.h>
#include <stdint.h>

#include "evlog.h"

/* What PCR 3 says about the node's PSE; pointers into the parsed log. */
struct pse_boot_events {
	uint8_t image_sha256[32];
	const uint8_t *platform_spki;
	size_t platform_spki_len;
	const uint8_t *cert;		/* DER */
	size_t cert_len;
	const uint8_t *transport_spki;	/* NULL when the boot had none */
	size_t transport_spki_len;
};

/* For the verifier: finds the PSE events in PCR 3 of a parsed log and
 * checks that each appears at most once and before PCR 3's separator; the
 * image, platform key and certificate events are there; each digest is
 * SHA-256 of its event data and each data a well-formed tagged event; the
 * image digest is 32 bytes; the keys are DER EC P-256 public keys; the
 * certificate is one DER X.509 certificate of the platform key.
 * VIGIL_EVERIFY with *why naming the first failed check. The caller then
 * pins platform_spki and transport_spki per node, checks image_sha256
 * against reference values and the binding's leaf against cert. */
int pse_events_extract(const struct evlog *log, struct pse_boot_events *out,
    const char **why);

#endif
