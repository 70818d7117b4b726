/* Appraisal of one evidence push's quote (DESIGN.md, trust chain 2), in
 * the order documented in docs/appraisal.md. Pure: no HTTP and no store;
 * the caller hands in what it read and commits what comes out. */
#ifndef VIGIL_APPRAISE_QUOTE_H
#define VIGIL_APPRAISE_QUOTE_H

#include <stddef.h>
#include <stdint.h>

#include "appraise_pse.h"
#include "appraise_smm.h"
#include "ear.h"
#include "nonce.h"
#include "pcrs.h"
#include "refvals.h"
#include "store.h"
#include "vigil.pb-c.h"

/* Returns the stored event log of one boot (malloc'd, *len 0 if none). */
typedef int (*appraise_evlog_fn)(void *ctx, const char *agent_id,
    uint32_t boot_count, uint8_t **out, size_t *len);

struct appraise_in {
	const struct agent_rec *agent;	/* registered and active */
	const Vigil__Evidence *ev;	/* already checked for sizes */
	/* Event-log chunks of this push (item_in with kind ITEM_EVENT_LOG). */
	const struct item_in *items;
	size_t n_items;
	const struct quote_state *prev;	/* NULL: no quote accepted yet */
	const struct refvals *refs;	/* NULL: no reference document */
	struct nonce_table *nonces;	/* NULL: caller consumed the nonce */
	appraise_evlog_fn evlog_get;	/* NULL: no stored log */
	void *evlog_ctx;
	int learn;			/* learn_reference_values */
	int64_t now;			/* unix seconds */
};

struct appraise_out {
	struct ear ear;
	int nonce_err;		/* nonce_consume's refusal, or 0 */
	int quote_ok;		/* signature and nonce held: ack items and
				 * update the quote state */
	struct quote_state qs;	/* the quote's clock info (quote_ok) */
	struct pcrs vals;	/* the reported values */
	uint32_t recomputed;	/* PCRs whose every event was recomputed
				 * from data the verifier holds */
	char *learnt_doc;	/* new reference document to store, or NULL */
	struct smm_boot smm;	/* PCR 2's SMM events (appraise_smm.h) */
	int pse_evaluated;	/* PCR 3's PSE events recomputed: pse holds
				 * them (have 0: none), to pin (appraise_pse) */
	struct pse_pins pse;
};

/* 0 with *out filled (whatever the verdict); a negative code only for an
 * internal failure (memory, OpenSSL) - then out holds nothing to free. */
int appraise_quote(const struct appraise_in *in, struct appraise_out *out);
void appraise_out_free(struct appraise_out *out);

#endif
