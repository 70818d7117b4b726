/* PCR values of the SHA-256 bank, as quoted and as replayed. */
#ifndef VIGIL_PCRS_H
#define VIGIL_PCRS_H

#include <stdint.h>

#define PCR_COUNT 24
#define SHA256_LEN 32

/* The PCRs every quote must cover: 0-7 (firmware), 11 (the cap) and 23
 * (Vigil's runtime log) (DESIGN.md, docs/real-machines.md). */
#define PCR_POLICY_MASK 0x8008ffu

struct pcrs {
	uint32_t mask;			/* bit i set: v[i] holds PCR i */
	uint8_t v[PCR_COUNT][SHA256_LEN];
};

#endif
