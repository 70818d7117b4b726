/* TCG PC Client event logs: the crypto-agile format (TCG PC Client Platform
 * Firmware Profile, 10.2: a SHA-1 format Spec ID event, then
 * TCG_PCR_EVENT2 records) and the legacy SHA-1-only format (TCG_PCClientPCREvent
 * records). The log is hostile input: every length is checked through rd. */
#ifndef VIGIL_EVLOG_H
#define VIGIL_EVLOG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pcrs.h"

#define EV_POST_CODE		0x00000001u
#define EV_NO_ACTION		0x00000003u
#define EV_SEPARATOR		0x00000004u
#define EV_ACTION		0x00000005u
#define EV_EVENT_TAG		0x00000006u
#define EV_S_CRTM_VERSION	0x00000008u
#define EV_PLATFORM_CONFIG_FLAGS 0x0000000au
#define EV_COMPACT_HASH		0x0000000cu
#define EV_IPL			0x0000000du
#define EV_EFI_PLATFORM_FIRMWARE_BLOB 0x80000008u
#define EV_EFI_HCRTM_EVENT	0x80000010u

/* Limits that keep a hostile log from exhausting memory. */
#define EVLOG_MAX_SIZE		(16u * 1024 * 1024)
#define EVLOG_MAX_EVENTS	65536u
#define EVLOG_MAX_EVENT_DATA	(1u * 1024 * 1024)
/* Algorithms a Spec ID event may list, and the largest digest size it may
 * give one (TPMU_HA: SHA-512). */
#define EVLOG_MAX_ALGS		16u
#define EVLOG_MAX_DIGEST	64u

struct evlog_event {
	size_t offset;		/* of the record in the log buffer */
	uint32_t pcr;
	uint32_t type;
	int has_sha1, has_sha256;
	uint8_t sha1[20];
	uint8_t sha256[SHA256_LEN];
	const uint8_t *data;	/* points into the parsed buffer */
	uint32_t data_len;
};

struct evlog {
	int crypto_agile;	/* 0: legacy SHA-1 log */
	uint8_t startup_locality; /* from a StartupLocality EV_NO_ACTION;
				   * 4 after an EV_EFI_HCRTM_EVENT in PCR 0 */
	size_t n;
	struct evlog_event *ev;	/* n events, the Spec ID header excluded */
};

/* Parses a whole log; events point into buf, which must outlive *out.
 * VIGIL_ETRUNC/VIGIL_EINVAL/VIGIL_ETOOBIG on bad input, with nothing
 * returned (an event naming PCR >= PCR_COUNT is VIGIL_EINVAL). A log that
 * ends exactly at a record boundary is a valid shorter log. In a legacy
 * SHA-1 log every record, the first included, is an event in ev[]. Free
 * with evlog_free (NULL is a no-op). */
int evlog_parse(const uint8_t *buf, size_t len, struct evlog **out);
void evlog_free(struct evlog *log);

enum evlog_bank { EVLOG_SHA1, EVLOG_SHA256 };

/* Replays the events of one bank into pcr[24][] (SHA-1 values use the first
 * 20 bytes). EV_NO_ACTION events are not extended; PCR 0 starts at the
 * startup locality. *touched gets a bit for every PCR extended at least
 * once. VIGIL_EINVAL if an event lacks that bank's digest. */
int evlog_replay(const struct evlog *log, enum evlog_bank bank,
    uint8_t pcr[PCR_COUNT][SHA256_LEN], uint32_t *touched);

/* Writing a log (the emulated node's boot step): a crypto-agile log with
 * the SHA-256 bank only, readable by tpm2_eventlog. Each call appends one
 * whole record to out or, on failure (VIGIL_ENOMEM, VIGIL_EINVAL for
 * pcr >= PCR_COUNT or data_len over EVLOG_MAX_EVENT_DATA), nothing. Start
 * with evlog_write_header once, then one evlog_write_event per extend. */
int evlog_write_header(struct buf *out);
int evlog_write_event(struct buf *out, uint32_t pcr, uint32_t type,
    const uint8_t sha256[SHA256_LEN], const void *data, uint32_t data_len);

#endif
