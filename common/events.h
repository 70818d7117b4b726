/* Vigil's own measured-boot events (DESIGN.md, "PCRs, events and handles").
 * Each is an EV_EVENT_TAG event whose data is a TCG_PCClientTaggedEvent:
 * u32le taggedEventID, u32le taggedEventDataSize, then the data. The event
 * digest is SHA-256 over the whole event data, so the verifier can
 * recompute it from what it already knows (the registered AK, pinned keys). */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

/* Since issue 10 every Vigil event below is made after boot by Vigil's
 * own services into the runtime log (common/cel.h), never into the
 * firmware log: the measurements into VIGIL_RUNTIME_PCR, the cap into
 * VIGIL_CAP_PCR (docs/real-machines.md says why these two). The PCR
 * numbers in the comments below name the event's former place. */
#define VIGIL_RUNTIME_PCR	23u	/* SMM, PSE, the AK hand-off */
#define VIGIL_CAP_PCR		11u	/* the cap */
#define VIGIL_RUNTIME_MASK	((1u << VIGIL_RUNTIME_PCR) | (1u << VIGIL_CAP_PCR))

/* PCR 0: firmware image digest (EV_EFI_PLATFORM_FIRMWARE_BLOB, digest of the image) */
/* PCR 1: platform configuration (EV_PLATFORM_CONFIG_FLAGS, data = the file) */
/* PCR 2: the SMM service (vigil-smmd, docs/smm.md), in this order, each
 * exactly once before the separator; the verifier pins all three per node */
#define VIGIL_TAG_SMM_IMAGE	0x56470201u	/* data: SHA-256 of the image */
#define VIGIL_TAG_SMM_LOG_PUB	0x56470202u	/* data: DER SPKI, log signing */
#define VIGIL_TAG_SMM_WRAP_PUB	0x56470203u	/* data: DER SPKI, key wrapping */
/* PCR 11: the cap, extended after the services unsealed their keys
 * (DESIGN.md "Sealed keys and the cap"); appended to the event log */
#define VIGIL_TAG_CAP		0x56470b01u	/* data: VIGIL_CAP_DATA */
#define VIGIL_CAP_DATA		"vigil-cap-v1"	/* 12 bytes, no NUL */
/* PCR 4: hypervisor image (EV_IPL, digest of the image, data = its path) */
/* PCR 5: the "MSR": the pTPM AK public area handed over at boot */
#define VIGIL_TAG_AK_PUBLIC	0x56470501u	/* data: marshaled TPM2B_PUBLIC */
/* PCR 7: boot policy (EV_EVENT_TAG, VIGIL_TAG_BOOT_POLICY, data = file) */
#define VIGIL_TAG_BOOT_POLICY	0x56470701u
/* Separator in PCRs 0-7: EV_SEPARATOR, data 00 00 00 00. */

#endif
