/* Appraisal of one checkpoint (see appraise_checkpoint.h). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "appraise_checkpoint.h"
#include "ckpt.h"
#include "err.h"
#include "log.h"
#include "tpm_parse.h"

#define ACKPT_MAX_QUOTE 2048
#define ACKPT_MAX_SIG 1024

static void
ackpt_verdict(struct ckpt_row *out, enum ckpt_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
ackpt_verdict(struct ckpt_row *out, enum ckpt_verdict v, const char *fmt, ...)
{
	va_list ap;

	out->verdict = v;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

/* Signature by the node's AK and extraData == commitment_i. 0 when both
 * hold (clock info in out); otherwise the verdict is set. */
static int
ackpt_quote(const struct ackpt_in *in, struct ckpt_row *out)
{
	const Vigil__Checkpoint *cp = in->cp;
	const struct agent_rec *a = in->agent;
	uint8_t want[CKPT_LEN];
	const TPM2B_DATA *xd;
	const char *why = NULL;
	TPM2B_PUBLIC ak;
	struct quote q;

	if (cp->quote.len == 0 || cp->quote.len > ACKPT_MAX_QUOTE ||
	    cp->signature.len == 0 || cp->signature.len > ACKPT_MAX_SIG ||
	    quote_parse(cp->quote.data, cp->quote.len, cp->signature.data,
	    cp->signature.len, &q, &why) != 0) {
		ackpt_verdict(out, CKPT_REJECTED, "checkpoint quote: %s",
		    why ? why : "empty or over its size limit");
		return VIGIL_EVERIFY;
	}
	why = NULL;
	if (tpm_public_parse(a->ak_pub, a->ak_pub_len, &ak) != 0 ||
	    quote_verify_sig(&q, &ak, &why) != 0) {
		ackpt_verdict(out, CKPT_REJECTED, "checkpoint signature: not "
		    "signed by the node's registered AK (%s)",
		    why ? why : "AK does not parse");
		return VIGIL_EVERIFY;
	}
	out->clock = q.attest.clockInfo.clock;
	out->reset_count = q.attest.clockInfo.resetCount;
	out->restart_count = q.attest.clockInfo.restartCount;
	ckpt_commitment(cp->computation_id, cp->index, cp->state.data,
	    cp->cumulative.data, want);
	xd = &q.attest.extraData;
	if (xd->size != CKPT_LEN ||
	    CRYPTO_memcmp(xd->buffer, want, CKPT_LEN) != 0) {
		ackpt_verdict(out, CKPT_REJECTED, "checkpoint commitment: the "
		    "quote's extraData is not SHA-256(\"vigil-ckpt\" || id || "
		    "index || state || C) of this record");
		return VIGIL_EVERIFY;
	}
	out->commitment_ok = 1;
	return 0;
}

/* The quote's clock lies in a fresh window of affirming quotes. */
static int
ackpt_window(const struct ackpt_in *in, struct ckpt_row *out)
{
	struct qh_row lo, hi;
	int have_lo = 0, have_hi = 0, e;

	if (in->window == NULL) {
		ackpt_verdict(out, CKPT_FLAGGED, "checkpoint clock: no quote "
		    "history to compare with");
		return 0;
	}
	if ((e = in->window(in->window_ctx, in->agent->id, out->reset_count,
	    out->restart_count, out->clock, &lo, &have_lo, &hi, &have_hi)) !=
	    0)
		return e;
	if (!have_lo || (!have_hi && in->recheck)) {
		ackpt_verdict(out, CKPT_FLAGGED, "checkpoint clock: TPM clock "
		    "%" PRIu64 " (reset %" PRIu32 ", restart %" PRIu32 ") has "
		    "no accepted quote %s it in the same epoch", out->clock,
		    out->reset_count, out->restart_count,
		    !have_lo ? "before" : "after");
		return 0;
	}
	if (!have_hi) {
		/* Quoted after the push's own quote: the next one decides. */
		ackpt_verdict(out, CKPT_FLAGGED, "checkpoint clock: TPM clock "
		    "%" PRIu64 " has no accepted quote after it yet (checked "
		    "again at the node's next quote)", out->clock);
		out->pending = 1;
		return 0;
	}
	if (strcmp(lo.status, "affirming") != 0 ||
	    strcmp(hi.status, "affirming") != 0) {
		ackpt_verdict(out, CKPT_FLAGGED, "checkpoint clock: made "
		    "while the node was %s",
		    strcmp(lo.status, "affirming") != 0 ? lo.status :
		    hi.status);
		return 0;
	}
	if (in->max_gap_ms > 0 && hi.clock - lo.clock > in->max_gap_ms) {
		ackpt_verdict(out, CKPT_FLAGGED, "checkpoint clock: made while "
		    "the node was stale (quotes %" PRIu64 " ms apart around "
		    "it, the freshness window is %" PRIu64 " ms)",
		    hi.clock - lo.clock, in->max_gap_ms);
		return 0;
	}
	return 0;
}

int
appraise_checkpoint(const struct ackpt_in *in, struct ckpt_row *out)
{
	const Vigil__Checkpoint *cp = in->cp;
	const struct comp_rec *c = in->comp;
	uint8_t want[CKPT_LEN];

	memset(out, 0, sizeof(*out));
	out->idx = cp->index;
	out->at = in->now;
	snprintf(out->agent_id, sizeof(out->agent_id), "%s", in->agent->id);
	out->verdict = CKPT_VALID;
	if (c == NULL) {
		ackpt_verdict(out, CKPT_REJECTED, "checkpoint: unknown "
		    "computation %.40s", cp->computation_id);
		return VIGIL_ENOTFOUND;
	}
	if (cp->index == 0 || cp->index > INT64_MAX ||
	    cp->state.len != CKPT_LEN || cp->cumulative.len != CKPT_LEN) {
		ackpt_verdict(out, CKPT_REJECTED, "checkpoint: malformed "
		    "record (index from 1, 32-byte digests)");
		return VIGIL_EINVAL;
	}
	memcpy(out->state, cp->state.data, CKPT_LEN);
	memcpy(out->cum, cp->cumulative.data, CKPT_LEN);
	if (ackpt_quote(in, out) != 0)
		return 0;
	if (c->agent_id[0] != '\0' && strcmp(c->agent_id, in->agent->id) !=
	    0) {
		ackpt_verdict(out, CKPT_REJECTED, "checkpoint node: computation "
		    "%s is recorded by node %.64s", c->id, c->agent_id);
		return 0;
	}
	if (in->prev_cum == NULL) {
		ackpt_verdict(out, CKPT_FLAGGED, "checkpoint index: %" PRIu64
		    " arrived but %" PRIu64 " is missing (indexes must be "
		    "contiguous)", cp->index, cp->index - 1);
		return 0;
	}
	ckpt_next(in->prev_cum, out->state, want);
	if (CRYPTO_memcmp(want, out->cum, CKPT_LEN) != 0) {
		ackpt_verdict(out, CKPT_REJECTED, "checkpoint chain: C_%" PRIu64
		    " != SHA-256(C_%" PRIu64 " || state_%" PRIu64 ")%s",
		    cp->index, cp->index - 1, cp->index, cp->index == 1 ?
		    " (C_0 of this computation's recipe)" : "");
		return 0;
	}
	return ackpt_window(in, out);
}

int
appraise_checkpoint_recheck(const struct ackpt_in *in, struct ckpt_row *row)
{
	struct ackpt_in again = *in;

	again.recheck = 1;
	row->verdict = CKPT_VALID;
	row->reason[0] = '\0';
	row->pending = 0;
	return ackpt_window(&again, row);
}
