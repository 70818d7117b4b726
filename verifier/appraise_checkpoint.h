/* Appraisal of one checkpoint of a recorded computation (DESIGN.md,
 * trust chain step 6; docs/computations.md "Verdicts"). Pure: the caller
 * hands in the computation, the previous checkpoint and a lookup of the
 * node's quote history, and stores the row that comes out.
 *
 * Checks, in order; the first that fails names the verdict:
 *   rejected  the quote does not parse, is not signed by the node's AK,
 *             its extraData is not the commitment recomputed from the
 *             record, the computation belongs to another node, or
 *             C_i != SHA-256(C_{i-1} || state_i) (C_0 from the recipe)
 *   flagged   checkpoint i-1 is missing (indexes must be contiguous), or
 *             the quote's TPM clock does not lie between two accepted quotes
 *             of the same (resetCount, restartCount) epoch, both with the
 *             node affirming and at most max_gap_ms apart (the node was
 *             contraindicated, warning, none or stale then)
 * A checkpoint quoted after the latest accepted quote (the agent quoted it
 * after its push's quote) is flagged with pending = 1: its clock check is
 * done again, once and finally, at the node's next accepted quote
 * (appraise_checkpoint_recheck). */
#ifndef VIGIL_APPRAISE_CHECKPOINT_H
#define VIGIL_APPRAISE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "store_comp.h"
#include "vigil.pb-c.h"

/* The node's quote history around a clock value (store_qh_window). */
typedef int (*ackpt_window_fn)(void *ctx, const char *agent_id,
    uint32_t reset_count, uint32_t restart_count, uint64_t clock,
    struct qh_row *lo, int *have_lo, struct qh_row *hi, int *have_hi);

struct ackpt_in {
	const struct agent_rec *agent;	/* the pushing node (its AK) */
	const Vigil__Checkpoint *cp;
	const struct comp_rec *comp;	/* NULL: unknown computation */
	/* C_{i-1}: the recorded checkpoint i-1's cumulative digest, or the
	 * recipe's C_0 when index is 1; NULL when i-1 is not recorded. */
	const uint8_t *prev_cum;
	uint64_t max_gap_ms;		/* freshness window between quotes */
	ackpt_window_fn window;
	void *window_ctx;
	int recheck;			/* a missing later quote is final */
	int64_t now;
};

/* 0 with *out filled (idx, agent, digests, clock, verdict, reason) for a
 * known computation; VIGIL_ENOTFOUND (and out->reason) when the
 * computation is unknown (the checkpoint is rejected, nothing to store);
 * VIGIL_EINVAL (and out->reason) when the record itself is malformed
 * (digests not 32 bytes, index 0); other negative codes for internal
 * failures. */
int appraise_checkpoint(const struct ackpt_in *in, struct ckpt_row *out);
/* The clock check again for a stored pending row (row->clock, reset and
 * restart counts): sets its final verdict and reason, pending 0. Only
 * in->agent, max_gap_ms, window and window_ctx are used. */
int appraise_checkpoint_recheck(const struct ackpt_in *in,
    struct ckpt_row *row);

#endif
