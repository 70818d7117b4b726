/* Conflicts and gaps of a push's items (appraise_items.h). */
#include <stdio.h>

#include "appraise_items.h"
#include "vigil.pb-c.h"

const char *
appraise_item_kind_name(uint32_t kind)
{
	switch (kind) {
	case VIGIL__ITEM_KIND__ITEM_EVENT_LOG:
		return "event-log";
	case VIGIL__ITEM_KIND__ITEM_GAP:
		return "gap";
	case VIGIL__ITEM_KIND__ITEM_CHECKPOINT:
		return "checkpoint";
	case VIGIL__ITEM_KIND__ITEM_COMPUTATION_END:
		return "computation-end";
	case VIGIL__ITEM_KIND__ITEM_SMM_LOG:
		return "smm-log";
	case VIGIL__ITEM_KIND__ITEM_VM_ATTESTATION:
		return "vm-attestation";
	default:
		return "unknown";
	}
}

void
appraise_items(const struct item_in *items, size_t n,
    const enum item_outcome *known, struct ear *e)
{
	const struct item_in *it;
	size_t i;

	for (i = 0; i < n; i++) {
		it = &items[i];
		if (known[i] == ITEM_CONFLICT) {
			ear_reason(e, "item epoch %llu seq %llu (%s) resent "
			    "with different content: the first content "
			    "stands, the other is kept as a conflict",
			    (unsigned long long)it->epoch,
			    (unsigned long long)it->seq,
			    appraise_item_kind_name(it->kind));
			ear_claim(&e->configuration, AR_WARN_CONFIG);
		} else if (known[i] == ITEM_NEW &&
		    it->kind == VIGIL__ITEM_KIND__ITEM_GAP) {
			ear_reason(e, "agent spool dropped items %llu-%llu of "
			    "epoch %llu: %.100s", (unsigned long long)
			    it->gap_first, (unsigned long long)it->gap_last,
			    (unsigned long long)it->epoch,
			    it->gap_reason && it->gap_reason[0] ?
			    it->gap_reason : "no reason given");
			ear_claim(&e->configuration, AR_WARN_CONFIG);
		}
	}
}
