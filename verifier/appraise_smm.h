/* Appraisal of a node's SMM runtime evidence (DESIGN.md trust chain step 4,
 * docs/appraisal.md "SMM runtime measurement"). Pure, like
 * appraise_quote.h: the caller reads the pinned state from the store, hands
 * in this push's signed head and log entries, and stores what comes out.
 *
 * Two parts:
 *  - appraise_smm_events: PCR 2 of this boot's event log. The three
 *    VIGIL_TAG_SMM_* events (common/events.h) must each appear exactly
 *    once, in order, before the separator, each digest SHA-256 of its data
 *    (recomputed here). Their data (image digest, log-signing and
 *    key-wrapping public keys) is what the verifier pins per node.
 *  - appraise_smm: the image digest against the reference values
 *    (smm_images; trust on first use only where the operator opted in),
 *    the pins (first seen: pinned; a change: reported and
 *    contraindicated), the signed head with the pinned log-signing key over
 *    this push's nonce (an old head replayed or a head by another key fails),
 *    the entries continuing the chain accepted before (an altered, removed
 *    or reordered entry fails; a gap counts against the node), each
 *    measurement's verdict and root against the reference set, and REFS
 *    entries against the digests of the sets this verifier signed (a set
 *    the agent forged fails). The outcome is the `runtime-opaque` claim. */
#ifndef VIGIL_APPRAISE_SMM_H
#define VIGIL_APPRAISE_SMM_H

#include <stddef.h>
#include <stdint.h>

#include "ear.h"
#include "evlog.h"
#include "smm-bridge/refs.h"
#include "smm-bridge/smmlog.h"

#define SMM_MAX_PUB	512u	/* a DER SubjectPublicKeyInfo (P-256: 91) */
#define SMM_TAINT_LEN	512u
#define SMM_MAX_TAINTS	64u	/* regions tracked as tainted at once */

/* PCR 2's SMM events of one boot. */
struct smm_boot {
	int evaluated;		/* appraise_smm_events returned 0 */
	int present;		/* 1: all three events found */
	int only;		/* PCR 2 holds them and a plain separator only */
	uint8_t image[SMMLOG_HASH_LEN];
	uint8_t log_pub[SMM_MAX_PUB];
	size_t log_pub_len;
	uint8_t wrap_pub[SMM_MAX_PUB];
	size_t wrap_pub_len;
};

/* 0 with *out filled (present = 0 when PCR 2 has no SMM event at all);
 * VIGIL_EVERIFY with the failed check in why (an event twice, after the
 * separator, out of order, malformed, or its digest not SHA-256 of its
 * data). */
int appraise_smm_events(const struct evlog *log, struct smm_boot *out,
    char *why, size_t whylen);

/* One hypervisor region whose last measurement did not match. */
struct smm_taint {
	char target[SMMLOG_MAX_NAME + 1];
	char region[SMMLOG_MAX_REGION + 1];
	char reason[SMM_TAINT_LEN];
};

/* What the verifier accepted of a node's SMM evidence so far. */
struct smm_pins {
	int have;			/* 0: nothing pinned yet */
	uint8_t image[SMMLOG_HASH_LEN];
	uint8_t log_pub[SMM_MAX_PUB];
	size_t log_pub_len;
	uint8_t wrap_pub[SMM_MAX_PUB];
	size_t wrap_pub_len;
	uint64_t seq;			/* last accepted entry (0: none) */
	uint8_t head[SMMLOG_HASH_LEN];	/* chain head at seq */
	uint64_t gaps;			/* gaps and chain failures seen */
	/* Per (target, region): the last measurement of that region that
	 * did not match, until a later measurement of the same region
	 * matches again (a match elsewhere clears nothing). In the order
	 * they were first tainted. */
	size_t n_taints;
	struct smm_taint taints[SMM_MAX_TAINTS];
	/* A region tainted while SMM_MAX_TAINTS others are: its reason
	 * stands until re-enrolment drops the pins ("" when none). */
	char overflow[SMM_TAINT_LEN];
};

/* An entry the verifier accepted before (to tell a resent entry from a
 * fork): 0 with a malloc'd copy, VIGIL_ENOTFOUND if it has none. */
typedef int (*appraise_smm_entry_fn)(void *ctx, uint64_t seq, uint8_t **out,
    size_t *len);

struct appraise_smm_in {
	const struct smm_boot *boot;	/* this quote's event log */
	const struct smm_pins *prev;	/* NULL: nothing pinned */
	const uint8_t *nonce;		/* this push's nonce */
	size_t nonce_len;
	const uint8_t *head;		/* Evidence.smm_head; NULL/0: none */
	size_t head_len;
	/* This push's entries, in item order, each with the sequence its
	 * SmmLogEntries item gives it. */
	const uint8_t *const *entries;
	const size_t *lens;
	const uint64_t *seqs;
	size_t n;
	appraise_smm_entry_fn get;	/* NULL: resent entries not compared */
	void *get_ctx;
	const struct refs *refs;	/* NULL: no reference set */
	const uint8_t (*issued)[SMMLOG_HASH_LEN];	/* sets we signed */
	size_t n_issued;
	/* The reference document's "smm_images" (refvals_smm_images):
	 * accepted vigil-smmd image digests. With none listed the image is
	 * accepted (and pinned) only when image_tofu is set ([attestation]
	 * smm_image_tofu); otherwise it contraindicates. */
	const uint8_t (*images)[SMMLOG_HASH_LEN];
	size_t n_images;
	int image_tofu;
};

struct appraise_smm_out {
	struct smm_pins next;		/* the state to store */
	int changed;			/* next differs from *prev */
	size_t first_new;		/* in->entries[first_new ..] accepted */
	size_t n_new;			/* (0: none to store) */
	uint64_t last_signed;		/* the head's last_seq (0 if none) */
};

/* Adds reasons and the runtime-opaque claim to e and fills *out. 0
 * whatever the verdict; a negative code only for an internal failure. No
 * claim at all when the node has no SMM service and none was pinned. */
int appraise_smm(const struct appraise_smm_in *in, struct ear *e,
    struct appraise_smm_out *out);

#endif
