/* TCG PC Client event logs: parsing (crypto-agile and legacy SHA-1),
 * replay into PCR values, and writing a crypto-agile SHA-256 log.
 * Layouts from the TCG PC Client Platform Firmware Profile, 10.2 and 10.4:
 * all integers are little-endian. Every byte goes through rd. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "err.h"
#include "evlog.h"
#include "log.h"
#include "rd.h"

#define EVLOG_ALG_SHA1		0x0004u
#define EVLOG_ALG_SHA256	0x000bu
#define EVLOG_SHA1_LEN		20u

static const char evlog_specid_sig[16] = "Spec ID Event03";
static const char evlog_locality_sig[16] = "StartupLocality";

/* One algorithm of the Spec ID event: its id and digest size. */
struct evlog_alg {
	uint16_t id;
	uint16_t size;
};

struct evlog_hdr {
	uint32_t nalgs;
	struct evlog_alg alg[EVLOG_MAX_ALGS];
};

static struct evlog *
evlog_new(void)
{
	return calloc(1, sizeof(struct evlog));
}

void
evlog_free(struct evlog *log)
{
	if (log == NULL)
		return;
	free(log->ev);
	free(log);
}

/* Appends a zeroed event at offset off; *out points at it. */
static int
evlog_push(struct evlog *log, size_t *cap, size_t off,
    struct evlog_event **out)
{
	struct evlog_event *n;
	size_t ncap;

	if (log->n >= EVLOG_MAX_EVENTS) {
		log_warn("evlog: more than %u events (limit EVLOG_MAX_EVENTS)"
		    " at offset=%zu", EVLOG_MAX_EVENTS, off);
		return VIGIL_ETOOBIG;
	}
	if (log->n == *cap) {
		ncap = *cap ? *cap * 2 : 64;
		if (ncap > EVLOG_MAX_EVENTS)
			ncap = EVLOG_MAX_EVENTS;
		if ((n = realloc(log->ev, ncap * sizeof(*n))) == NULL)
			return VIGIL_ENOMEM;
		log->ev = n;
		*cap = ncap;
	}
	*out = &log->ev[log->n++];
	memset(*out, 0, sizeof(**out));
	(*out)->offset = off;
	return 0;
}

/* Reads EventSize and the event data that follows it. */
static int
evlog_read_data(struct rd *r, size_t off, struct evlog_event *ev)
{
	uint32_t len;
	int e;

	if ((e = rd_u32le(r, &len)) != 0) {
		log_warn("evlog: event at offset=%zu truncated in EventSize",
		    off);
		return e;
	}
	if (len > EVLOG_MAX_EVENT_DATA) {
		log_warn("evlog: event at offset=%zu has EventSize=%u over the"
		    " limit %u", off, len, EVLOG_MAX_EVENT_DATA);
		return VIGIL_ETOOBIG;
	}
	if ((e = rd_bytes(r, len, &ev->data)) != 0) {
		log_warn("evlog: event at offset=%zu has EventSize=%u but only"
		    " %zu bytes left", off, len, r->left);
		return e;
	}
	ev->data_len = len;
	return 0;
}

static int
evlog_check_pcr(uint32_t pcr, size_t off)
{
	if (pcr >= PCR_COUNT) {
		log_warn("evlog: event at offset=%zu names PCR %u (>= %u)",
		    off, pcr, PCR_COUNT);
		return VIGIL_EINVAL;
	}
	return 0;
}

/* A StartupLocality EV_NO_ACTION event in PCR 0 sets the locality PCR 0
 * was reset to; an H-CRTM event in PCR 0 means locality 4 (TPM 2.0 Part 1,
 * 34.3), and a StartupLocality after it is ignored, as tpm2_eventlog does. */
static int
evlog_note_locality(struct evlog *log, const struct evlog_event *ev,
    int *hcrtm)
{
	if (ev->pcr == 0 && ev->type == EV_EFI_HCRTM_EVENT) {
		*hcrtm = 1;
		log->startup_locality = 4;
		return 0;
	}
	if (ev->type != EV_NO_ACTION || ev->pcr != 0 ||
	    ev->data_len < sizeof(evlog_locality_sig) ||
	    memcmp(ev->data, evlog_locality_sig,
	    sizeof(evlog_locality_sig)) != 0)
		return 0;
	if (ev->data_len != sizeof(evlog_locality_sig) + 1) {
		log_warn("evlog: StartupLocality event at offset=%zu has"
		    " EventSize=%u, want 17", ev->offset, ev->data_len);
		return VIGIL_EINVAL;
	}
	if (!*hcrtm)
		log->startup_locality = ev->data[sizeof(evlog_locality_sig)];
	return 0;
}

/* One TCG_PCClientPCREvent (legacy SHA-1 format) record. */
static int
evlog_parse_legacy_event(struct rd *r, size_t off, struct evlog_event *ev)
{
	int e;

	if ((e = rd_u32le(r, &ev->pcr)) != 0 ||
	    (e = rd_u32le(r, &ev->type)) != 0 ||
	    (e = rd_copy(r, ev->sha1, sizeof(ev->sha1))) != 0) {
		log_warn("evlog: SHA-1 format event at offset=%zu truncated"
		    " in its header", off);
		return e;
	}
	ev->has_sha1 = 1;
	return evlog_read_data(r, off, ev);
}

/* TCG_EfiSpecIDEventStruct: signature, platformClass, versions, uintnSize,
 * numberOfAlgorithms, the algorithms, vendorInfoSize, vendorInfo. Reads it
 * from r and leaves r just after the vendor info; *vlen gets its size. */
static int
evlog_parse_specid(struct rd *r, struct evlog_hdr *hdr, uint8_t *vlen)
{
	uint32_t cls, i, j;
	uint8_t minor, major, errata, uintn;
	int e;

	if ((e = rd_skip(r, sizeof(evlog_specid_sig))) != 0 ||
	    (e = rd_u32le(r, &cls)) != 0 ||
	    (e = rd_u8(r, &minor)) != 0 ||
	    (e = rd_u8(r, &major)) != 0 ||
	    (e = rd_u8(r, &errata)) != 0 ||
	    (e = rd_u8(r, &uintn)) != 0 ||
	    (e = rd_u32le(r, &hdr->nalgs)) != 0) {
		log_warn("evlog: Spec ID event truncated before its"
		    " algorithms");
		return e;
	}
	if (hdr->nalgs == 0 || hdr->nalgs > EVLOG_MAX_ALGS) {
		log_warn("evlog: Spec ID event lists numberOfAlgorithms=%u,"
		    " want 1..%u", hdr->nalgs, EVLOG_MAX_ALGS);
		return VIGIL_EINVAL;
	}
	for (i = 0; i < hdr->nalgs; i++) {
		if ((e = rd_u16le(r, &hdr->alg[i].id)) != 0 ||
		    (e = rd_u16le(r, &hdr->alg[i].size)) != 0) {
			log_warn("evlog: Spec ID event truncated in algorithm"
			    " %u of %u", i, hdr->nalgs);
			return e;
		}
		if (hdr->alg[i].size == 0 ||
		    hdr->alg[i].size > EVLOG_MAX_DIGEST) {
			log_warn("evlog: Spec ID event gives algorithm 0x%04x"
			    " digest size %u, want 1..%u", hdr->alg[i].id,
			    hdr->alg[i].size, EVLOG_MAX_DIGEST);
			return VIGIL_EINVAL;
		}
		if ((hdr->alg[i].id == EVLOG_ALG_SHA1 &&
		    hdr->alg[i].size != EVLOG_SHA1_LEN) ||
		    (hdr->alg[i].id == EVLOG_ALG_SHA256 &&
		    hdr->alg[i].size != SHA256_LEN)) {
			log_warn("evlog: Spec ID event gives algorithm 0x%04x"
			    " the wrong digest size %u", hdr->alg[i].id,
			    hdr->alg[i].size);
			return VIGIL_EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (hdr->alg[j].id == hdr->alg[i].id) {
				log_warn("evlog: Spec ID event lists algorithm"
				    " 0x%04x twice", hdr->alg[i].id);
				return VIGIL_EINVAL;
			}
		}
	}
	if ((e = rd_u8(r, vlen)) != 0 || (e = rd_skip(r, *vlen)) != 0) {
		log_warn("evlog: Spec ID event truncated in its vendor info");
		return e;
	}
	return 0;
}

/* The Spec ID header: a TCG_PCClientPCREvent whose data is the Spec ID
 * structure. Its EventSize must cover the structure; one quirk is allowed,
 * as tpm2_eventlog allows it (it ignores EventSize here): an EventSize that
 * leaves out the vendor info, which then still follows in the log. */
static int
evlog_parse_header(struct rd *r, const struct evlog_event *first,
    struct evlog_hdr *hdr)
{
	struct rd s;
	size_t used;
	uint8_t vlen;
	int e;

	/* first->data points into r's buffer; r is just after its data. */
	rd_init(&s, first->data, first->data_len + r->left);
	if ((e = evlog_parse_specid(&s, hdr, &vlen)) != 0)
		return e;
	used = first->data_len + r->left - s.left;
	if (used == first->data_len)
		return 0;
	if (used == (size_t)first->data_len + vlen) {
		log_info("evlog: Spec ID EventSize=%u leaves out its %u bytes"
		    " of vendor info; reading them after it",
		    first->data_len, vlen);
		return rd_skip(r, vlen);
	}
	log_warn("evlog: Spec ID EventSize=%u but its structure is %zu bytes",
	    first->data_len, used);
	return VIGIL_EINVAL;
}

/* TPML_DIGEST_VALUES: count, then (hashAlg, digest) with the digest's size
 * taken from the Spec ID event. */
static int
evlog_parse_digests(struct rd *r, const struct evlog_hdr *hdr, size_t off,
    struct evlog_event *ev)
{
	const struct evlog_alg *a;
	uint32_t count, i, j, seen = 0;
	uint16_t id;
	int e;

	if ((e = rd_u32le(r, &count)) != 0) {
		log_warn("evlog: event at offset=%zu truncated in its digest"
		    " count", off);
		return e;
	}
	if (count == 0 || count > hdr->nalgs) {
		log_warn("evlog: event at offset=%zu has digest count=%u, want"
		    " 1..%u (the Spec ID algorithms)", off, count, hdr->nalgs);
		return VIGIL_EINVAL;
	}
	for (i = 0; i < count; i++) {
		if ((e = rd_u16le(r, &id)) != 0) {
			log_warn("evlog: event at offset=%zu truncated in"
			    " digest %u", off, i);
			return e;
		}
		for (j = 0, a = NULL; j < hdr->nalgs; j++)
			if (hdr->alg[j].id == id)
				a = &hdr->alg[j];
		if (a == NULL) {
			log_warn("evlog: event at offset=%zu has a digest of"
			    " algorithm 0x%04x not in the Spec ID event", off,
			    id);
			return VIGIL_EINVAL;
		}
		j = (uint32_t)(a - hdr->alg);
		if (seen & (1u << j)) {
			log_warn("evlog: event at offset=%zu has two digests"
			    " of algorithm 0x%04x", off, id);
			return VIGIL_EINVAL;
		}
		seen |= 1u << j;
		if (id == EVLOG_ALG_SHA1) {
			e = rd_copy(r, ev->sha1, EVLOG_SHA1_LEN);
			ev->has_sha1 = 1;
		} else if (id == EVLOG_ALG_SHA256) {
			e = rd_copy(r, ev->sha256, SHA256_LEN);
			ev->has_sha256 = 1;
		} else {
			e = rd_skip(r, a->size);
		}
		if (e != 0) {
			log_warn("evlog: event at offset=%zu truncated in the"
			    " digest of algorithm 0x%04x", off, id);
			return e;
		}
	}
	return 0;
}

/* One TCG_PCR_EVENT2 record. */
static int
evlog_parse_event2(struct rd *r, const struct evlog_hdr *hdr, size_t off,
    struct evlog_event *ev)
{
	int e;

	if ((e = rd_u32le(r, &ev->pcr)) != 0 ||
	    (e = rd_u32le(r, &ev->type)) != 0) {
		log_warn("evlog: event at offset=%zu truncated in its header",
		    off);
		return e;
	}
	if ((e = evlog_parse_digests(r, hdr, off, ev)) != 0)
		return e;
	return evlog_read_data(r, off, ev);
}

static int
evlog_is_specid(const struct evlog_event *ev)
{
	static const uint8_t zero[EVLOG_SHA1_LEN];

	return ev->pcr == 0 && ev->type == EV_NO_ACTION &&
	    memcmp(ev->sha1, zero, sizeof(zero)) == 0 &&
	    ev->data_len >= sizeof(evlog_specid_sig) &&
	    memcmp(ev->data, evlog_specid_sig, sizeof(evlog_specid_sig)) == 0;
}

static int
evlog_parse_all(const uint8_t *buf, size_t len, struct evlog *log)
{
	struct evlog_event first, *ev;
	struct evlog_hdr hdr;
	struct rd r;
	size_t cap = 0, off;
	int e, hcrtm = 0;

	rd_init(&r, buf, len);
	memset(&first, 0, sizeof(first));
	if ((e = evlog_parse_legacy_event(&r, 0, &first)) != 0)
		return e;
	if (evlog_is_specid(&first)) {
		log->crypto_agile = 1;
		if ((e = evlog_parse_header(&r, &first, &hdr)) != 0)
			return e;
	} else {
		if ((e = evlog_check_pcr(first.pcr, 0)) != 0 ||
		    (e = evlog_push(log, &cap, 0, &ev)) != 0)
			return e;
		*ev = first;
		if ((e = evlog_note_locality(log, ev, &hcrtm)) != 0)
			return e;
	}
	while (r.left > 0) {
		off = len - r.left;
		if ((e = evlog_push(log, &cap, off, &ev)) != 0)
			return e;
		if (log->crypto_agile)
			e = evlog_parse_event2(&r, &hdr, off, ev);
		else
			e = evlog_parse_legacy_event(&r, off, ev);
		if (e != 0 || (e = evlog_check_pcr(ev->pcr, off)) != 0 ||
		    (e = evlog_note_locality(log, ev, &hcrtm)) != 0)
			return e;
	}
	return 0;
}

int
evlog_parse(const uint8_t *buf, size_t len, struct evlog **out)
{
	struct evlog *log = NULL;
	int e;

	*out = NULL;
	if (len > EVLOG_MAX_SIZE) {
		log_warn("evlog: log of %zu bytes is over the limit %u", len,
		    EVLOG_MAX_SIZE);
		return VIGIL_ETOOBIG;
	}
	if ((log = evlog_new()) == NULL)
		return VIGIL_ENOMEM;
	if ((e = evlog_parse_all(buf, len, log)) != 0)
		goto out;
	*out = log;
	log = NULL;
 out:
	evlog_free(log);
	return e;
}

/* pcr = H(pcr || digest) with n-byte values. */
static int
evlog_extend(const EVP_MD *md, uint8_t *pcr, const uint8_t *digest, size_t n)
{
	EVP_MD_CTX *ctx;
	unsigned int olen = 0;
	int e = VIGIL_ECRYPTO;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return VIGIL_ENOMEM;
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, pcr, n) != 1 ||
	    EVP_DigestUpdate(ctx, digest, n) != 1 ||
	    EVP_DigestFinal_ex(ctx, pcr, &olen) != 1 || olen != n) {
		log_err("evlog: EVP digest failed while extending");
		goto out;
	}
	e = 0;
 out:
	EVP_MD_CTX_free(ctx);
	return e;
}

int
evlog_replay(const struct evlog *log, enum evlog_bank bank,
    uint8_t pcr[PCR_COUNT][SHA256_LEN], uint32_t *touched)
{
	const struct evlog_event *ev;
	const EVP_MD *md;
	size_t i, n;
	int e;

	md = bank == EVLOG_SHA1 ? EVP_sha1() : EVP_sha256();
	n = bank == EVLOG_SHA1 ? EVLOG_SHA1_LEN : SHA256_LEN;
	memset(pcr, 0, PCR_COUNT * SHA256_LEN);
	*touched = 0;
	pcr[0][n - 1] = log->startup_locality;
	for (i = 0; i < log->n; i++) {
		ev = &log->ev[i];
		if (ev->type == EV_NO_ACTION)
			continue;
		if (ev->pcr >= PCR_COUNT) {
			log_warn("evlog: replay: event %zu names PCR %u", i,
			    ev->pcr);
			return VIGIL_EINVAL;
		}
		if ((bank == EVLOG_SHA1 && !ev->has_sha1) ||
		    (bank == EVLOG_SHA256 && !ev->has_sha256)) {
			log_warn("evlog: replay: event %zu (offset=%zu) has no"
			    " %s digest", i, ev->offset,
			    bank == EVLOG_SHA1 ? "SHA-1" : "SHA-256");
			return VIGIL_EINVAL;
		}
		if ((e = evlog_extend(md, pcr[ev->pcr], bank == EVLOG_SHA1 ?
		    ev->sha1 : ev->sha256, n)) != 0)
			return e;
		*touched |= 1u << ev->pcr;
	}
	return 0;
}

int
evlog_write_header(struct buf *out)
{
	static const uint8_t zero[EVLOG_SHA1_LEN];
	int e;

	/* TCG_PCClientPCREvent in SHA-1 format: PCR 0, EV_NO_ACTION, zero
	 * digest, then TCG_EfiSpecIDEventStruct listing SHA-256 only.
	 * Reserving first makes the adds below unable to fail halfway. */
	if ((e = buf_reserve(out, 32 + 33)) != 0 ||
	    (e = buf_add_u32le(out, 0)) != 0 ||
	    (e = buf_add_u32le(out, EV_NO_ACTION)) != 0 ||
	    (e = buf_add(out, zero, sizeof(zero))) != 0 ||
	    (e = buf_add_u32le(out, 16 + 4 + 4 + 4 + 4 + 1)) != 0 ||
	    (e = buf_add(out, evlog_specid_sig,
	    sizeof(evlog_specid_sig))) != 0 ||
	    (e = buf_add_u32le(out, 0)) != 0 ||	/* platformClass: client */
	    (e = buf_add_u8(out, 0)) != 0 ||	/* specVersionMinor */
	    (e = buf_add_u8(out, 2)) != 0 ||	/* specVersionMajor */
	    (e = buf_add_u8(out, 0)) != 0 ||	/* specErrata */
	    (e = buf_add_u8(out, 2)) != 0 ||	/* uintnSize: UINT64 */
	    (e = buf_add_u32le(out, 1)) != 0 ||	/* numberOfAlgorithms */
	    (e = buf_add_u16le(out, EVLOG_ALG_SHA256)) != 0 ||
	    (e = buf_add_u16le(out, SHA256_LEN)) != 0 ||
	    (e = buf_add_u8(out, 0)) != 0)	/* vendorInfoSize */
		return e;
	return 0;
}

int
evlog_write_event(struct buf *out, uint32_t pcr, uint32_t type,
    const uint8_t sha256[SHA256_LEN], const void *data, uint32_t data_len)
{
	int e;

	if (pcr >= PCR_COUNT || data_len > EVLOG_MAX_EVENT_DATA ||
	    (data == NULL && data_len > 0)) {
		log_err("evlog: write_event: bad pcr=%u or data_len=%u", pcr,
		    data_len);
		return VIGIL_EINVAL;
	}
	if ((e = buf_reserve(out, 4 + 4 + 4 + 2 + SHA256_LEN + 4 +
	    (size_t)data_len)) != 0 ||
	    (e = buf_add_u32le(out, pcr)) != 0 ||
	    (e = buf_add_u32le(out, type)) != 0 ||
	    (e = buf_add_u32le(out, 1)) != 0 ||
	    (e = buf_add_u16le(out, EVLOG_ALG_SHA256)) != 0 ||
	    (e = buf_add(out, sha256, SHA256_LEN)) != 0 ||
	    (e = buf_add_u32le(out, data_len)) != 0 ||
	    (e = buf_add(out, data, data_len)) != 0)
		return e;
	return 0;
}
