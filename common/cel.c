/* TCG Canonical Event Log, TLV encoding (cel.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel.h"
#include "err.h"
#include "rd.h"

static int
cel_tl(struct buf *out, uint8_t t, uint32_t len)
{
	int e;

	if ((e = buf_add_u8(out, t)) != 0)
		return e;
	return buf_add_u32be(out, len);
}

int
cel_write_record(struct buf *out, uint64_t recnum, uint32_t pcr,
    const uint8_t sha256[SHA256_LEN], uint32_t event_type, const void *data,
    uint32_t data_len)
{
	int e;

	if (pcr >= PCR_COUNT || data_len > EVLOG_MAX_EVENT_DATA ||
	    (data_len > 0 && data == NULL))
		return VIGIL_EINVAL;
	if ((e = cel_tl(out, CEL_T_RECNUM, 8)) != 0 ||
	    (e = buf_add_u64be(out, recnum)) != 0 ||
	    (e = cel_tl(out, CEL_T_PCR, 4)) != 0 ||
	    (e = buf_add_u32be(out, pcr)) != 0 ||
	    (e = cel_tl(out, CEL_T_DIGESTS, 5 + SHA256_LEN)) != 0 ||
	    (e = cel_tl(out, CEL_ALG_SHA256, SHA256_LEN)) != 0 ||
	    (e = buf_add(out, sha256, SHA256_LEN)) != 0 ||
	    (e = cel_tl(out, CEL_T_PCCLIENT_STD, 5 + 4 + 5 + data_len)) != 0 ||
	    (e = cel_tl(out, CEL_T_EVENT_TYPE, 4)) != 0 ||
	    (e = buf_add_u32be(out, event_type)) != 0 ||
	    (e = cel_tl(out, CEL_T_EVENT_DATA, data_len)) != 0)
		return e;
	return data_len > 0 ? buf_add(out, data, data_len) : 0;
}

/* One TLV of type want: *v gets its value. */
static int
cel_rd_tlv(struct rd *r, uint8_t want, struct rd *v)
{
	uint8_t t;
	uint32_t l;

	if (rd_u8(r, &t) != 0 || rd_u32be(r, &l) != 0)
		return VIGIL_ETRUNC;
	if (t != want)
		return VIGIL_EINVAL;
	return rd_sub(r, l, v) != 0 ? VIGIL_ETRUNC : 0;
}

static int
cel_parse_digests(struct rd *d, struct evlog_event *ev)
{
	uint8_t t;
	uint32_t l;
	const uint8_t *p;

	while (d->left > 0) {
		if (rd_u8(d, &t) != 0 || rd_u32be(d, &l) != 0 ||
		    rd_bytes(d, l, &p) != 0)
			return VIGIL_ETRUNC;
		if (t != CEL_ALG_SHA256)
			continue;	/* another bank: not replayed */
		if (l != SHA256_LEN || ev->has_sha256)
			return VIGIL_EINVAL;
		memcpy(ev->sha256, p, SHA256_LEN);
		ev->has_sha256 = 1;
	}
	return ev->has_sha256 ? 0 : VIGIL_EINVAL;
}

/* One record at r into ev; why names what failed. */
static int
cel_parse_record(struct rd *r, size_t idx, const uint8_t *base,
    struct evlog_event *ev, char *why, size_t whylen)
{
	struct rd v, c, x;
	uint64_t recnum;
	uint32_t pcr;
	size_t dlen;
	const uint8_t *p;

	memset(ev, 0, sizeof(*ev));
	ev->offset = (size_t)(r->p - base);
	if (cel_rd_tlv(r, CEL_T_RECNUM, &v) != 0 || v.left != 8 ||
	    rd_u64be(&v, &recnum) != 0) {
		snprintf(why, whylen, "record %zu at offset %zu: no recnum "
		    "(truncated or not CEL-TLV)", idx, ev->offset);
		return VIGIL_EVERIFY;
	}
	if (recnum != idx) {
		snprintf(why, whylen, "record %zu has recnum %llu: a record "
		    "was removed, inserted or reordered", idx,
		    (unsigned long long)recnum);
		return VIGIL_EVERIFY;
	}
	if (cel_rd_tlv(r, CEL_T_PCR, &v) != 0 || v.left != 4 ||
	    rd_u32be(&v, &pcr) != 0 || pcr >= PCR_COUNT) {
		snprintf(why, whylen, "record %zu: no PCR index below %d",
		    idx, PCR_COUNT);
		return VIGIL_EVERIFY;
	}
	ev->pcr = pcr;
	if (cel_rd_tlv(r, CEL_T_DIGESTS, &v) != 0 ||
	    cel_parse_digests(&v, ev) != 0) {
		snprintf(why, whylen, "record %zu: its digests are not one "
		    "SHA-256 digest (and other banks)", idx);
		return VIGIL_EVERIFY;
	}
	if (cel_rd_tlv(r, CEL_T_PCCLIENT_STD, &c) != 0 ||
	    cel_rd_tlv(&c, CEL_T_EVENT_TYPE, &x) != 0 || x.left != 4 ||
	    rd_u32be(&x, &ev->type) != 0 ||
	    cel_rd_tlv(&c, CEL_T_EVENT_DATA, &x) != 0 || c.left != 0 ||
	    (dlen = x.left) > EVLOG_MAX_EVENT_DATA ||
	    rd_bytes(&x, dlen, &p) != 0) {
		snprintf(why, whylen, "record %zu: its content is not a "
		    "pcclient_std event (type, then data)", idx);
		return VIGIL_EVERIFY;
	}
	ev->data = p;
	ev->data_len = (uint32_t)dlen;
	return 0;
}

int
cel_parse(const uint8_t *buf, size_t len, struct evlog **out, char *why,
    size_t whylen)
{
	struct evlog *log;
	struct evlog_event *n;
	size_t cap = 0;
	struct rd r;
	int e;

	*out = NULL;
	if ((log = calloc(1, sizeof(*log))) == NULL)
		return VIGIL_ENOMEM;
	log->crypto_agile = 1;
	rd_init(&r, buf, len);
	while (r.left > 0) {
		if (log->n >= EVLOG_MAX_EVENTS) {
			snprintf(why, whylen, "more than %u records",
			    EVLOG_MAX_EVENTS);
			e = VIGIL_EVERIFY;
			goto fail;
		}
		if (log->n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((n = realloc(log->ev, cap * sizeof(*n))) == NULL) {
				e = VIGIL_ENOMEM;
				goto fail;
			}
			log->ev = n;
		}
		if ((e = cel_parse_record(&r, log->n, buf, &log->ev[log->n],
		    why, whylen)) != 0)
			goto fail;
		log->n++;
	}
	*out = log;
	return 0;
 fail:
	evlog_free(log);
	return e;
}
