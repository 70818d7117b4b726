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

/* Returns one stored log (EventLogId: 0 firmware, 1 runtime) of one boot
 * (malloc'd, *len 0 if none). */
typedef int (*appraise_evlog_fn)(void *ctx, const char *agent_id,
    uint32_t log, uint32_t boot_count, uint8_t **out, size_t *len);

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

/* What becomes of each event-log chunk of the push (appraise_out.fate):
 * only what was appraised is stored (docs/appraisal.md, "Event-log
 * chunks"). */
enum chunk_fate {
	CHUNK_NONE = 0,		/* not an event-log chunk */
	CHUNK_STORE,		/* its boot is the quoted one and the log with
				 * it verified: appended to that log */
	CHUNK_REFUSED,		/* the log with it did not verify, or its boot
				 * is later than the quoted one: not stored and
				 * not acknowledged (the agent sends it again) */
	CHUNK_OLD_BOOT,		/* an earlier boot, which no quote can vouch
				 * for any more: acknowledged and kept as
				 * evidence, appended to no log */
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
	int evlog_ok;		/* the quoted boot's logs (stored and this
				 * push's chunks) replayed and their events held */
	int handoff;		/* the runtime log holds the AK hand-off event
				 * (VIGIL_TAG_AK_PUBLIC) with the registered
				 * AK: the node may claim the PSE binding */
	int capped;		/* the runtime log holds the cap */
	enum chunk_fate *fate;	/* n_items (malloc'd; NULL: no chunks), set
				 * when quote_ok */
};

/* 0 with *out filled (whatever the verdict); a negative code only for an
 * internal failure (memory, OpenSSL) - then out holds nothing to free. */
int appraise_quote(const struct appraise_in *in, struct appraise_out *out);
void appraise_out_free(struct appraise_out *out);

/* The AK hand-off in a parsed runtime log (common/cel.h): *found 1 when
 * it is there once, in PCR 23, its digest SHA-256 of its data and its
 * data agent's registered AK; VIGIL_EVERIFY with why when one is there
 * but wrong; 0 with *found 0 when there is none. */
int appraise_quote_handoff(const struct evlog *rt,
    const struct agent_rec *agent, int *found, char *why, size_t whylen);

#endif
