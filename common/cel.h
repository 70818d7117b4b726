/* Vigil's runtime log: the measurements Vigil's own services make after
 * boot (DESIGN.md "PCRs, events and handles", docs/real-machines.md), in
 * the TCG Canonical Event Log format, TLV encoding (CEL-TLV, TCG CEL
 * specification v1.0). Every record Vigil writes is, in this order:
 *
 *   T=0 recnum   L=8  u64 big-endian, 0 for the first record, then +1
 *   T=1 pcr      L=4  u32 big-endian PCR index
 *   T=3 digests  L=n  one nested TLV per bank: T=TPM_ALG_ID (0x0b
 *                     SHA-256), L=32, the digest extended
 *   T=5 pcclient_std  nested: T=0 event_type L=4 u32 big-endian,
 *                     T=1 event_data L=len, the bytes
 *
 * T is one byte and L four bytes big-endian. The parser is strict: the
 * records in that shape only, recnums consecutive from 0 (a removed,
 * reordered or inserted record is named), exactly one SHA-256 digest,
 * no trailing bytes. Parsed records become struct evlog events, so the
 * verifier appraises both logs with the same code. */
#ifndef VIGIL_CEL_H
#define VIGIL_CEL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "evlog.h"

#define CEL_T_RECNUM		0u
#define CEL_T_PCR		1u
#define CEL_T_DIGESTS		3u
#define CEL_T_PCCLIENT_STD	5u
#define CEL_T_EVENT_TYPE	0u	/* inside pcclient_std */
#define CEL_T_EVENT_DATA	1u
#define CEL_ALG_SHA256		0x0bu	/* TPM_ALG_SHA256 */

/* Appends one record (the layout above). */
int cel_write_record(struct buf *out, uint64_t recnum, uint32_t pcr,
    const uint8_t sha256[SHA256_LEN], uint32_t event_type, const void *data,
    uint32_t data_len);

/* Parses a whole runtime log into *out (events point into buf, which must
 * outlive it; free with evlog_free). 0, or VIGIL_EVERIFY with the failed
 * check in why ("record 3 has recnum 4: a record before it was removed,
 * or records were reordered"), VIGIL_ENOMEM. An empty buffer is a log of
 * no events. */
int cel_parse(const uint8_t *buf, size_t len, struct evlog **out, char *why,
    size_t whylen);

#endif
